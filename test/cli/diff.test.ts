// `resnet-studio diff A B [--json] [--batch N]` end to end through the real launcher, and the pure diff behind it.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { buildCliIfStale, runCliSync } from "./harness";
import { join } from "node:path";
import { diffNetworks, type NetworkDiff } from "../../model-core/src/analysis/diff";
import { loadSpec } from "../../model-core/src/load";
import { analyze, analyzeOrThrow } from "../../model-core/src/analysis/analyze";
import { presets } from "../../model-core/src/spec/presets";

const root = join(__dirname, "../..");
before(buildCliIfStale);
const cli = (args: string[]) => runCliSync(args);

test("diff resnet18 resnet34 --json lists exactly the added blocks and the parameter delta", () => {
  const r = cli(["diff", "resnet18", "resnet34", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const diff = JSON.parse(r.stdout) as NetworkDiff;
  assert.equal(diff.a.params, 11_689_512);
  assert.equal(diff.b.params, 21_797_672);
  assert.equal(diff.deltaParams, 21_797_672 - 11_689_512);
  assert.equal(diff.deltaParams, 10_108_160);
  // ResNet-34 has [3, 4, 6, 3] blocks where ResNet-18 has [2, 2, 2, 2] (He et al. 2015, Table 1).
  assert.deepEqual(diff.addedBlocks, [
    "layer1.2",
    "layer2.2",
    "layer2.3",
    "layer3.2",
    "layer3.3",
    "layer3.4",
    "layer3.5",
    "layer4.2",
  ]);
  assert.deepEqual(diff.removedBlocks, []);
  assert.deepEqual(diff.changedBlocks, []);
  assert.ok(diff.nodes.every((n) => n.status === "added" && n.block !== null && diff.addedBlocks.includes(n.block)));
  // Per stage: the Δparams add up to the total, and a stage's delta is its added blocks' parameters.
  assert.equal(
    diff.stages.reduce((sum, s) => sum + s.deltaParams, 0),
    diff.deltaParams,
  );
  assert.equal(
    diff.stages.reduce((sum, s) => sum + s.deltaMacs, 0),
    diff.deltaMacs,
  );
  const layer1 = diff.stages.find((s) => s.id === "layer1")!;
  assert.equal(layer1.deltaParams, 2 * (64 * 64 * 9 + 2 * 64)); // one BasicBlock(64): two 3×3 convs and two BNs
  assert.deepEqual(
    diff.stages.filter((s) => s.status === "same").map((s) => s.id),
    ["stem", "head"],
  );
});

test("diff --batch 32 --json: Δmemory per stage is the added blocks' saved activations, and agrees with summary's layers", () => {
  const r = cli(["diff", "resnet18", "resnet34", "--json", "--batch", "32"]);
  assert.equal(r.code, 0, r.stderr);
  const diff = JSON.parse(r.stdout) as NetworkDiff;
  // An added BasicBlock(C) at H×W keeps four C·H·W float32 tensors per sample (conv1's and bn1's outputs, conv2's
  // and bn2's; the in-place ReLUs share them, its input is the previous block's) plus save_mean/save_invstd of two BNs.
  const block = (c: number, hw: number, batch: number) => 4 * c * hw * hw * 4 * batch + 2 * 2 * c * 4;
  const expected: Record<string, number> = {
    stem: 0,
    layer1: 1 * block(64, 56, 32), // 102,761,472
    layer2: 2 * block(128, 28, 32), // 102,764,544
    layer3: 4 * block(256, 14, 32), // 102,776,832
    layer4: 1 * block(512, 7, 32), // 12,853,248
    head: 0,
  };
  assert.deepEqual(Object.fromEntries(diff.stages.map((s) => [s.id, s.deltaSavedActivationBytes])), expected);
  assert.deepEqual(
    diff.stages.map((s) => s.deltaSavedActivationBytes),
    [0, 102_761_472, 102_764_544, 102_776_832, 12_853_248, 0],
  );
  assert.deepEqual(diff.memory, {
    batch: 32,
    dtype: "float32",
    optimizer: "sgd",
    savedActivationBytesA: 709_793_280,
    savedActivationBytesB: 1_030_949_376,
    deltaSavedActivationBytes: 321_156_096,
    trainPeakBytesA: 824_536_448,
    trainPeakBytesB: 1_232_616_960,
    deltaTrainPeakBytes: 408_080_512,
  });
  // The same figures from `summary --json --batch 32`: per-stage sums of its layers' savedActivationBytes, and its peak.
  const summaries = ["resnet18", "resnet34"].map((name) => {
    const out = cli(["summary", name, "--json", "--batch", "32"]);
    assert.equal(out.code, 0, out.stderr);
    return JSON.parse(out.stdout) as {
      layers: { stage: string | null; savedActivationBytes: number }[];
      memory: { trainPeakBytes: number };
    };
  });
  const byStage = (layers: { stage: string | null; savedActivationBytes: number }[]) => {
    const out = new Map<string, number>();
    for (const l of layers) if (l.stage !== null) out.set(l.stage, (out.get(l.stage) ?? 0) + l.savedActivationBytes);
    return out;
  };
  const [stagesA, stagesB] = summaries.map((x) => byStage(x.layers));
  for (const s of diff.stages) {
    assert.equal(s.savedActivationBytesA, stagesA.get(s.id), `${s.id} A`);
    assert.equal(s.savedActivationBytesB, stagesB.get(s.id), `${s.id} B`);
  }
  assert.equal(diff.memory.trainPeakBytesA, summaries[0].memory.trainPeakBytes);
  assert.equal(diff.memory.trainPeakBytesB, summaries[1].memory.trainPeakBytes);
  // Without --batch the column is at summary's default batch, 1: the fixed BN statistics no longer scale.
  const atOne = diffNetworks(loadSpec("resnet18").graph!, loadSpec("resnet34").graph!);
  assert.equal(atOne.memory.batch, 1);
  assert.equal(atOne.memory.deltaSavedActivationBytes, 10_064_896);
  const bad = cli(["diff", "resnet18", "resnet34", "--batch", "0"]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--batch must be an integer ≥ 1, got "0"/);
});

test("diff prints a per-stage table; a spec file and a preset compare; errors are located", () => {
  const text = cli(["diff", "examples/resnet18.resnet.ts", "resnet34"]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^A: ResNet-18: 11,689,512 params/m);
  assert.match(text.stdout, /^stage +A +B +Δparams +ΔMACs +Δmemory @1$/m);
  assert.match(
    text.stdout,
    /^layer3 \(changed\) +BasicBlock ×2 +BasicBlock ×6 +\+4,722,688 +\+924,844,032 +\+3\.08 MiB$/m,
  );
  assert.match(text.stdout, /^total +11,689,512 +21,797,672 +\+10,108,160 +\+1,849,688,064 +\+9\.60 MiB$/m);
  assert.match(
    text.stdout,
    /^Δmemory: saved activations of a training step at batch 1 \(float32\); training peak 151 MiB → 270 MiB \(\+119 MiB, optimizer sgd\)$/m,
  );
  assert.match(text.stdout, /^added blocks \(8\): layer1\.2, layer2\.2/m);
  const bad = cli([
    "diff",
    "test/fixtures/broken/" + readdirSync(join(root, "test/fixtures/broken")).find((f) => f.endsWith(".resnet.ts"))!,
    "resnet18",
  ]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /\.resnet\.ts:\d+:\d+: /);
  assert.doesNotMatch(bad.stderr, /\n\s+at /);
  const unknown = cli(["diff", "resnet18", "resnet19"]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /unknown preset "resnet19"/);
});

test("the plain twin differs in every block and in no parameter; a changed channel count changes the nodes it reaches", () => {
  const a = loadSpec("examples/cifar-resnet20.resnet.ts").graph!;
  const b = loadSpec("examples/cifar-plain20.resnet.ts").graph!;
  const diff = diffNetworks(a, b);
  assert.equal(diff.deltaParams, 0);
  assert.equal(diff.changedBlocks.length, 9);
  assert.ok(diff.nodes.some((n) => n.status === "removed" && n.kind === "add"));
  const same = diffNetworks(a, a);
  assert.deepEqual([same.addedBlocks, same.removedBlocks, same.changedBlocks, same.nodes], [[], [], [], []]);
  const r18 = loadSpec("resnet18").graph!;
  const wider = analyze({
    ...r18.spec,
    stages: r18.spec.stages.map((s, i) => (i === 3 ? { ...s, channels: 1024 } : s)),
  }).graph!;
  const widened = diffNetworks(r18, wider);
  assert.deepEqual(widened.changedBlocks, ["layer4.0", "layer4.1"]);
  assert.deepEqual(
    widened.nodes.map((n) => n.id).filter((id) => !id.startsWith("layer4.")),
    ["avgpool", "fc"],
  );
  assert.equal(widened.deltaParams, wider.totals.params - r18.totals.params);
});

test("shortcut C against B: blocks that gain or lose a projection are changed, never added or removed, both ways", () => {
  const b = analyzeOrThrow(presets.resnet18({}));
  const c = analyzeOrThrow(presets.resnet18({ shortcut: "C" }));
  // Option B projects only where the shape changes (layer2.0 … layer4.0); C projects in every block.
  const gained = ["layer1.0", "layer1.1", "layer2.1", "layer3.1", "layer4.1"];
  for (const [from, to] of [
    [b, c],
    [c, b],
  ]) {
    const diff = diffNetworks(from, to);
    assert.deepEqual(diff.addedBlocks, []);
    assert.deepEqual(diff.removedBlocks, []);
    // The new nodes lie on one side only: a status read from either side alone misses them.
    assert.deepEqual(diff.changedBlocks, gained);
    assert.deepEqual(
      diff.stages.map((s) => [s.id, s.status]),
      from.stages.map((s) => [s.id, s.id.startsWith("layer") ? "changed" : "same"]),
    );
    assert.equal(diff.nodes.filter((n) => n.status === (from === b ? "added" : "removed")).length, 10);
  }
});

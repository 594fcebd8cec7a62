// `resnet-studio diff A B [--json]` end to end through the real launcher, and the pure diff behind it.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { diffNetworks, type NetworkDiff } from "../model-core/src/analysis/diff";
import { loadSpec } from "../model-core/src/load";
import { analyze } from "../model-core/src/analysis/analyze";

const root = join(__dirname, "..");
const bin = join(root, "model-core/bin/resnet-studio.js");
const builtCli = join(root, "model-core/dist/cli.cjs");

function newest(dir: string): number {
  let latest = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    latest = Math.max(latest, s.isDirectory() ? newest(p) : s.mtimeMs);
  }
  return latest;
}

before(() => {
  let fresh = false;
  try { fresh = statSync(builtCli).mtimeMs >= newest(join(root, "model-core/src")); } catch { fresh = false; }
  if (fresh) return;
  const build = spawnSync(process.execPath, [join(root, "scripts/build.mjs")], { cwd: root, encoding: "utf8" });
  assert.equal(build.status, 0, `npm run build failed:\n${build.stdout}${build.stderr}`);
});

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("diff resnet18 resnet34 --json lists exactly the added blocks and the parameter delta", () => {
  const r = cli(["diff", "resnet18", "resnet34", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const diff = JSON.parse(r.stdout) as NetworkDiff;
  assert.equal(diff.a.params, 11_689_512);
  assert.equal(diff.b.params, 21_797_672);
  assert.equal(diff.deltaParams, 21_797_672 - 11_689_512);
  assert.equal(diff.deltaParams, 10_108_160);
  // ResNet-34 has [3, 4, 6, 3] blocks where ResNet-18 has [2, 2, 2, 2] (He et al. 2015, Table 1).
  assert.deepEqual(diff.addedBlocks, ["layer1.2", "layer2.2", "layer2.3", "layer3.2", "layer3.3", "layer3.4", "layer3.5", "layer4.2"]);
  assert.deepEqual(diff.removedBlocks, []);
  assert.deepEqual(diff.changedBlocks, []);
  assert.ok(diff.nodes.every((n) => n.status === "added" && n.block !== null && diff.addedBlocks.includes(n.block)));
  // Per stage: the Δparams add up to the total, and a stage's delta is its added blocks' parameters.
  assert.equal(diff.stages.reduce((sum, s) => sum + s.deltaParams, 0), diff.deltaParams);
  assert.equal(diff.stages.reduce((sum, s) => sum + s.deltaMacs, 0), diff.deltaMacs);
  const layer1 = diff.stages.find((s) => s.id === "layer1")!;
  assert.equal(layer1.deltaParams, 2 * (64 * 64 * 9 + 2 * 64)); // one BasicBlock(64): two 3×3 convs and two BNs
  assert.deepEqual(diff.stages.filter((s) => s.status === "same").map((s) => s.id), ["stem", "head"]);
});

test("diff prints a per-stage table; a spec file and a preset compare; errors are located", () => {
  const text = cli(["diff", "examples/resnet18.resnet.ts", "resnet34"]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^A: ResNet-18: 11,689,512 params/m);
  assert.match(text.stdout, /^layer3 \(changed\) +BasicBlock ×2 +BasicBlock ×6 +\+4,722,688 /m);
  assert.match(text.stdout, /^total +11,689,512 +21,797,672 +\+10,108,160 /m);
  assert.match(text.stdout, /^added blocks \(8\): layer1\.2, layer2\.2/m);
  const bad = cli(["diff", "test/fixtures/broken/" + readdirSync(join(root, "test/fixtures/broken")).find((f) => f.endsWith(".resnet.ts"))!, "resnet18"]);
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
  const wider = analyze({ ...r18.spec, stages: r18.spec.stages.map((s, i) => (i === 3 ? { ...s, channels: 1024 } : s)) }).graph!;
  const widened = diffNetworks(r18, wider);
  assert.deepEqual(widened.changedBlocks, ["layer4.0", "layer4.1"]);
  assert.deepEqual(widened.nodes.map((n) => n.id).filter((id) => !id.startsWith("layer4.")), ["avgpool", "fc"]);
  assert.equal(widened.deltaParams, wider.totals.params - r18.totals.params);
});

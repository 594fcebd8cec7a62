import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { analyzeOrThrow } from "../src/analysis/analyze";
import { presets, type PresetName } from "../src/spec/presets";
import { resnet, stage } from "../src/spec/builders";
import { loadSpec } from "../src/load";
import type { ModelGraph } from "../src/analysis/graph";
import {
  checkpointWhatIf,
  largestBatch,
  parseByteSize,
  planMemory,
  planPeakBytes,
  trainingMemory,
} from "../src/analysis/memory";
import { summarize } from "../src/cli/summary";
import { exportPytorch } from "../src/export/pytorch";
import { runCliFromSource } from "../../test/cli/harness";
import { testPython } from "../../test/toolSkip";

const PYTHON = testPython();
const REFERENCE = join(__dirname, "..", "..", "test", "reference", "saved_memory.py");
const PEAK_REFERENCE = join(__dirname, "..", "..", "test", "reference", "peak_memory.py");
/** The training peak against the profiler's live-tensor peak: the model agrees within 1 % on these nets (BENCHMARKS.md). */
const PEAK_TOLERANCE = 0.05;
/** The bar for saved activations against autograd's own count (they agree exactly on torch 1.13). */
const SAVED_TOLERANCE = 0.05;

function graphOf(name: PresetName, input: [number, number, number]): ModelGraph {
  return analyzeOrThrow(presets[name]({ input }));
}

function torchAvailable(): boolean {
  const r = spawnSync(PYTHON, ["-c", "import torch, torchvision"], { encoding: "utf8" });
  return r.status === 0;
}

interface Reference {
  savedActivationBytes: number;
  outsideModules: number;
  layers: Record<string, number>;
  parameterBytes: number;
  bufferBytes: number;
  gradientBytes: number;
  optimizerBytes: { sgd: number; adam: number };
}

const cases: [PresetName, [number, number, number]][] = [
  ["resnet18", [3, 64, 64]],
  ["resnet50", [3, 64, 64]],
  ["resnext50_32x4d", [3, 64, 64]],
  ["resnet56", [3, 32, 32]],
];

const haveTorch = torchAvailable();
for (const [name, input] of cases) {
  test(`${name} ${input.join("×")}: saved activations, parameters, gradients and optimiser state equal autograd's at batch 2 and 4`, (t) => {
    if (!haveTorch) {
      if (process.env.CI === "true") assert.fail(`${PYTHON} has no torch/torchvision, and CI=true forbids skipping`);
      t.skip(`${PYTHON} has no torch/torchvision`);
      return;
    }
    const graph = graphOf(name, input);
    for (const batch of [2, 4]) {
      const r = spawnSync(PYTHON, [REFERENCE, name, String(batch), input.join(",")], {
        encoding: "utf8",
        timeout: 300_000,
      });
      assert.equal(r.status, 0, r.stderr);
      const ref = JSON.parse(r.stdout) as Reference;
      const ours = trainingMemory(graph, { batch });
      // Everything autograd saved happened inside a module we model.
      assert.equal(ref.outsideModules, 0);
      const ourLayers = Object.fromEntries(
        ours.nodes.filter((n) => n.savedActivationBytes > 0).map((n) => [n.id, n.savedActivationBytes]),
      );
      assert.deepEqual(ourLayers, ref.layers, `${name} batch ${batch}: per layer`);
      const error = Math.abs(ours.savedActivationBytes - ref.savedActivationBytes) / ref.savedActivationBytes;
      assert.ok(
        error <= SAVED_TOLERANCE,
        `${name} batch ${batch}: total ${ours.savedActivationBytes} vs ${ref.savedActivationBytes}`,
      );
      assert.equal(ours.parameterBytes, ref.parameterBytes);
      assert.equal(ours.bufferBytes, ref.bufferBytes);
      assert.equal(ours.gradientBytes, ref.gradientBytes);
      assert.equal(ours.optimizerBytes, ref.optimizerBytes.sgd);
      assert.equal(trainingMemory(graph, { batch, optimizer: "adam" }).optimizerBytes, ref.optimizerBytes.adam);
    }
  });
}

test("the training peak matches PyTorch's live-tensor peak of a step (profiler allocation events), resnet18 and resnet56", (t) => {
  if (!haveTorch) {
    if (process.env.CI === "true") assert.fail(`${PYTHON} has no torch/torchvision, and CI=true forbids skipping`);
    t.skip(`${PYTHON} has no torch/torchvision`);
    return;
  }
  for (const [name, input, batch] of [
    ["resnet18", [3, 64, 64], 4],
    ["resnet56", [3, 32, 32], 32],
  ] as const) {
    const r = spawnSync(PYTHON, [PEAK_REFERENCE, name, String(batch), input.join(",")], {
      encoding: "utf8",
      timeout: 300_000,
      env: { ...process.env, MALLOC_MMAP_THRESHOLD_: "65536" },
    });
    assert.equal(r.status, 0, r.stderr);
    const measured = JSON.parse(r.stdout) as { tensorPeakBytes: number };
    const ours = trainingMemory(graphOf(name, [...input] as [number, number, number]), { batch });
    const error = Math.abs(ours.trainPeakBytes - measured.tensorPeakBytes) / measured.tensorPeakBytes;
    assert.ok(
      error <= PEAK_TOLERANCE,
      `${name} batch ${batch}: peak ${ours.trainPeakBytes} vs measured ${measured.tensorPeakBytes}`,
    );
  }
});

test("checkpointed stages: what autograd saves under torch.utils.checkpoint equals the what-if, resnet18 and resnet56", (t) => {
  if (!haveTorch) {
    if (process.env.CI === "true") assert.fail(`${PYTHON} has no torch/torchvision, and CI=true forbids skipping`);
    t.skip(`${PYTHON} has no torch/torchvision`);
    return;
  }
  const cases: [PresetName, [number, number, number], number, string[]][] = [
    ["resnet18", [3, 64, 64], 2, ["layer2"]],
    ["resnet56", [3, 32, 32], 4, ["layer1", "layer2", "layer3"]],
  ];
  for (const [name, input, batch, stages] of cases) {
    const r = spawnSync(PYTHON, [REFERENCE, name, String(batch), input.join(","), stages.join(",")], {
      encoding: "utf8",
      timeout: 300_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const ref = JSON.parse(r.stdout) as Reference;
    const graph = graphOf(name, input);
    const ours = trainingMemory(graph, { batch, checkpointStages: stages });
    assert.equal(ours.savedActivationBytes, ref.savedActivationBytes, `${name} with ${stages.join(",")} checkpointed`);
    // The checkpoint keeps each stage's input outside any module; we book it on the stage's first node.
    const firstNodes = new Set(stages.map((id) => graph.stages.find((s) => s.id === id)!.nodeIds[0]));
    const ourStageInputs = ours.nodes
      .filter((n) => firstNodes.has(n.id))
      .reduce((sum, n) => sum + n.savedActivationBytes, 0);
    assert.equal(ourStageInputs, ref.outsideModules);
    const outside = Object.fromEntries(
      ours.nodes
        .filter((n) => n.savedActivationBytes > 0 && !firstNodes.has(n.id))
        .map((n) => [n.id, n.savedActivationBytes]),
    );
    assert.deepEqual(outside, ref.layers);
  }
});

test("the PyTorch export saves what the planner says, layer by layer (resnet56, resnet50 and a pre-activation net)", (t) => {
  if (!haveTorch) {
    if (process.env.CI === "true") assert.fail(`${PYTHON} has no torch/torchvision, and CI=true forbids skipping`);
    t.skip(`${PYTHON} has no torch/torchvision`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "rs-memory-export-"));
  try {
    const cases: [string, [number, number, number], ModelGraph][] = [
      ["resnet56", [3, 32, 32], graphOf("resnet56", [3, 32, 32])],
      ["resnet50", [3, 64, 64], graphOf("resnet50", [3, 64, 64])],
      ["resnet20", [3, 32, 32], analyzeOrThrow(presets.resnet20({ preActivation: true }))],
    ];
    for (const [name, input, graph] of cases) {
      const file = join(dir, `${name}-${graph.spec.preActivation ? "preact" : "post"}.py`);
      writeFileSync(file, exportPytorch(graph));
      const r = spawnSync(PYTHON, [REFERENCE, file, "2", input.join(",")], { encoding: "utf8", timeout: 300_000 });
      assert.equal(r.status, 0, r.stderr);
      const ref = JSON.parse(r.stdout) as Reference;
      const ours = trainingMemory(graph, { batch: 2 });
      assert.equal(ref.outsideModules, 0);
      const ourLayers = Object.fromEntries(
        ours.nodes.filter((n) => n.savedActivationBytes > 0).map((n) => [n.id, n.savedActivationBytes]),
      );
      assert.deepEqual(ourLayers, ref.layers, `${name}${graph.spec.preActivation ? " (pre-activation)" : ""}`);
      assert.equal(ours.parameterBytes, ref.parameterBytes);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("figures measured with saved_tensors_hooks on torch 1.13 (resnet18 and resnet56, batch 2)", () => {
  // test/reference/saved_memory.py resnet18 2 3,64,64 and resnet56 2 3,32,32.
  const r18 = trainingMemory(graphOf("resnet18", [3, 64, 64]), { batch: 2 });
  assert.equal(r18.savedActivationBytes, 3_663_360);
  assert.equal(r18.parameterBytes, 46_758_048);
  assert.equal(r18.bufferBytes, 38_560);
  assert.equal(
    trainingMemory(graphOf("resnet18", [3, 64, 64]), { batch: 2, optimizer: "adam" }).optimizerBytes,
    93_516_344,
  );
  const byId = new Map(r18.nodes.map((n) => [n.id, n.savedActivationBytes]));
  assert.equal(byId.get("conv1"), 98_304); // the 2×3×64×64 input
  assert.equal(byId.get("bn1"), 524_800); // conv1's output + 2·64 float32 statistics
  assert.equal(byId.get("maxpool"), 262_144); // int64 indices of 2×64×16×16
  assert.equal(byId.get("layer1.0.add"), 0);
  assert.equal(byId.get("fc"), 4_096);
  const r56 = trainingMemory(graphOf("resnet56", [3, 32, 32]), { batch: 2 });
  assert.equal(r56.savedActivationBytes, 8_561_024);
  assert.equal(r56.parameterBytes, 3_412_072);
});

test("saved activations grow linearly with the batch; BN statistics and parameters do not", () => {
  const graph = graphOf("resnet56", [3, 32, 32]);
  const [one, two, eight] = [1, 2, 8].map((batch) => trainingMemory(graph, { batch }));
  const bnStatistics = graph.nodes.reduce((sum, n) => sum + (n.op.kind === "batchnorm" ? 2 * n.op.channels * 4 : 0), 0);
  assert.equal(eight.savedActivationBytes - bnStatistics, 8 * (one.savedActivationBytes - bnStatistics));
  assert.equal(two.parameterBytes, eight.parameterBytes);
  assert.ok(one.inferencePeakBytes < one.trainPeakBytes);
  // The peak is at least everything kept at the end of the forward pass.
  for (const m of [one, two, eight]) {
    assert.ok(m.trainPeakBytes >= m.savedActivationBytes + m.parameterBytes + m.bufferBytes + m.optimizerBytes);
  }
});

test("half precision halves activations and parameters but not int64 indices or float32 BN statistics", () => {
  const graph = graphOf("resnet18", [3, 64, 64]);
  const full = trainingMemory(graph, { batch: 4 });
  const half = trainingMemory(graph, { batch: 4, dtype: "float16" });
  assert.equal(half.parameterBytes * 2, full.parameterBytes);
  const indices = 4 * 64 * 16 * 16 * 8;
  const statistics = graph.nodes.reduce((sum, n) => sum + (n.op.kind === "batchnorm" ? 2 * n.op.channels * 4 : 0), 0);
  assert.equal(
    half.savedActivationBytes - indices - statistics,
    (full.savedActivationBytes - indices - statistics) / 2,
  );
});

test("the largest batch fits the budget and the next one does not", () => {
  const graph = graphOf("resnet50", [3, 224, 224]);
  const plan = planMemory(graph);
  const budget = parseByteSize("24GB");
  const b = largestBatch(plan, budget);
  assert.ok(b > 1);
  assert.ok(planPeakBytes(plan, b) <= budget);
  assert.ok(planPeakBytes(plan, b + 1) > budget);
  assert.equal(largestBatch(plan, 1000), 0);
  // A safety factor shrinks the answer.
  assert.ok(largestBatch(plan, budget, 2) < b);
});

test("checkpointing stages keeps only their inputs in the forward pass and lowers the peak of a deep net", () => {
  const graph = graphOf("resnet56", [3, 32, 32]);
  const batch = 64;
  const whatIf = checkpointWhatIf(graph, { batch });
  const all = whatIf.options.find((o) => o.stages.length === 3)!;
  // Saved with every stage checkpointed: the stem's saved tensors, the head's, and each stage input (deduplicated).
  const base = trainingMemory(graph, { batch });
  const outside = base.nodes
    .filter((n) => !graph.nodes.find((g) => g.id === n.id)!.stage?.startsWith("layer"))
    .reduce((s, n) => s + n.savedActivationBytes, 0);
  const stageInputs = ["layer1", "layer2", "layer3"].map((id) => {
    const stage = graph.stages.find((s) => s.id === id)!;
    return batch * stage.inputShape.reduce((a, d) => a * d, 1) * 4;
  });
  // layer1's input is the stem ReLU's output, already saved by that ReLU; layer2's and layer3's are new, and the
  // average pool is now the first to save layer3's output (its last ReLU no longer saves it).
  const lastOutput = batch * 64 * 8 * 8 * 4;
  assert.equal(all.savedActivationBytes, outside + stageInputs[1] + stageInputs[2] + lastOutput);
  assert.ok(all.trainPeakBytes < whatIf.baseline.trainPeakBytes);
  assert.equal(all.peakSavedBytes, whatIf.baseline.trainPeakBytes - all.trainPeakBytes);
  assert.equal(
    all.recomputeMacs,
    batch * graph.stages.filter((s) => s.id.startsWith("layer")).reduce((s, st) => s + st.macs, 0),
  );
  for (const option of whatIf.options)
    assert.ok(option.savedActivationBytes < whatIf.baseline.savedActivationBytes, option.stages.join("+"));
});

test("each single-stage what-if (moved tensors on the plain timeline) equals planning the step with that stage checkpointed", () => {
  const examples = join(__dirname, "..", "..", "examples");
  const graphs: [string, ModelGraph][] = [
    ["resnet18", graphOf("resnet18", [3, 64, 64])],
    ["resnet50", graphOf("resnet50", [3, 64, 64])],
    ["resnet56", graphOf("resnet56", [3, 32, 32])],
    ...["gated-shortcut.resnet.ts", "preact-resnet110.resnet.ts"].map((name): [string, ModelGraph] => [
      name,
      loadSpec(join(examples, name)).graph!,
    ]),
    // Many one-block stages, some downsampling (projection shortcuts at their entries).
    [
      "40 stages",
      analyzeOrThrow(
        resnet({
          input: [3, 32, 32],
          stem: "cifar",
          stages: Array.from({ length: 40 }, (_, i) =>
            stage({ channels: 16 * (1 + (i % 3)), blocks: 1, stride: i % 10 === 5 ? 2 : 1 }),
          ),
        }),
      ),
    ],
  ];
  for (const [name, graph] of graphs) {
    assert.ok(graph, name);
    for (const [batch, optimizer] of [
      [1, "sgd"],
      [48, "adam"],
      [5, "none"],
    ] as const) {
      const whatIf = checkpointWhatIf(graph, { batch, optimizer });
      const singles = whatIf.options.filter((o) => o.stages.length === 1);
      assert.equal(singles.length, graph.stages.filter((s) => /^layer\d+$/.test(s.id)).length, name);
      for (const option of whatIf.options) {
        const planned = trainingMemory(graph, { batch, optimizer, checkpointStages: option.stages });
        const what = `${name} batch ${batch} ${optimizer} ${option.stages.join("+")}`;
        assert.equal(option.trainPeakBytes, planned.trainPeakBytes, what);
        assert.equal(option.savedActivationBytes, planned.savedActivationBytes, what);
        assert.equal(option.peakSavedBytes, whatIf.baseline.trainPeakBytes - planned.trainPeakBytes, what);
      }
    }
  }
});

test("byte sizes: decimal GB/MB, binary GiB/MiB and bare g/m", () => {
  assert.equal(parseByteSize("24GB"), 24e9);
  assert.equal(parseByteSize("16GiB"), 16 * 2 ** 30);
  assert.equal(parseByteSize("1.5 MB"), 1.5e6);
  assert.equal(parseByteSize("8g"), 8 * 2 ** 30);
  assert.equal(parseByteSize("512"), 512);
  assert.throws(() => parseByteSize("lots"), /24GB/);
  assert.throws(() => trainingMemory(graphOf("resnet20", [3, 32, 32]), { batch: 0 }), /batch/);
});

test("summary JSON carries the memory object and each layer's saved bytes", () => {
  const graph = graphOf("resnet18", [3, 64, 64]);
  const summary = summarize(graph, null, [], { batch: 2, budgetBytes: parseByteSize("1GiB") });
  assert.equal(summary.memory.batch, 2);
  assert.equal(summary.memory.savedActivationBytes, 3_663_360);
  assert.equal(summary.memory.gradientBytes, 46_758_048);
  assert.equal(summary.memory.largestBatch, largestBatch(planMemory(graph), 2 ** 30));
  assert.equal(summary.layers.find((l) => l.id === "bn1")!.savedActivationBytes, 524_800);
  assert.equal(
    summary.layers.reduce((s, l) => s + l.savedActivationBytes, 0),
    3_663_360,
  );
  assert.equal(
    summary.stages.reduce((s, l) => s + l.savedActivationBytes, 0),
    3_663_360,
  );
});

const cli = (...args: string[]) => runCliFromSource(args);

test("summary --batch --memory --optimizer: the JSON memory object, the Saved column and the largest batch", () => {
  const graph = graphOf("resnet18", [3, 64, 64]);
  const args = ["summary", "resnet18", "--input", "3,64,64", "--batch", "2", "--memory", "1GiB", "--optimizer", "adam"];
  const json = cli(...args, "--json");
  assert.equal(json.status, 0, json.stderr);
  const memory = (JSON.parse(json.stdout) as { memory: Record<string, unknown> }).memory;
  const expected = trainingMemory(graph, { batch: 2, optimizer: "adam" });
  assert.equal(memory.batch, 2);
  assert.equal(memory.savedActivationBytes, 3_663_360);
  assert.equal(memory.optimizerBytes, 93_516_344);
  assert.equal(memory.trainPeakBytes, expected.trainPeakBytes);
  assert.equal(memory.inferencePeakBytes, expected.inferencePeakBytes);
  assert.equal(memory.largestBatch, largestBatch(planMemory(graph, { optimizer: "adam" }), 2 ** 30));
  const table = cli(...args);
  assert.equal(table.status, 0, table.stderr);
  assert.match(table.stdout, /Saved @2/);
  assert.match(table.stdout, /^ {2}bn1 .* 513 KiB$/m); // 524,800 bytes
  assert.match(table.stdout, new RegExp(`largest batch within 1\\.00 GiB: ${memory.largestBatch}$`, "m"));
  assert.match(table.stdout, /layer1, layer2, layer3, layer4: /);
  for (const [flag, value, message] of [
    ["--batch", "0", /--batch must be an integer ≥ 1/],
    ["--memory", "lots", /expected a size such as 24GB/],
    ["--dtype", "int8", /--dtype must be/],
  ] as const) {
    const bad = cli("summary", "resnet18", flag, value);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, message);
  }
});

/**
 * Weights-only state_dicts (safetensors without metadata or optimiser slots) load wherever a checkpoint does, checked
 * name by name and shape by shape, every mismatch listed with its layer; pickles are refused unread.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { buildModel, torchStateDict } from "../src/runtime/model";
import { CheckpointError, saveCheckpoint } from "../src/runtime/checkpoint";
import {
  MISMATCH_LIST_CAP,
  assertWeightsFit,
  expectedStateDict,
  loadWeightsInto,
  readWeights,
  weightMismatches,
} from "../src/runtime/weightsFile";
import { EvaluationAccumulator } from "../src/analysis/evaluation";
import { responseLayers } from "../src/analysis/layerResponse";
import { microGraph, tinyConfig, tinyGraph, useCpu } from "./trainHelpers";
import { seededWeightsFile, weightsOnlyFile } from "./weightsHelpers";
import { train } from "../src/runtime/train";
import { syntheticDataset } from "../src/data/synthetic";

let dir = "";
before(async () => {
  await useCpu();
  dir = mkdtempSync(join(tmpdir(), "rs-weights-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function stateOf(seed: number) {
  const model = buildModel(microGraph(), { seed });
  const state = torchStateDict(model);
  model.dispose();
  return Object.entries(state).map(([name, t]) => ({ name, shape: t.shape, values: t.data }));
}

test("a weights-only state_dict without metadata or num_batches_tracked loads into the network, value for value", () => {
  const tensors = stateOf(3);
  const file = join(dir, "plain.safetensors");
  writeFileSync(file, weightsOnlyFile(tensors));
  const weights = readWeights(file);
  assert.equal(weights.checkpoint, null);
  const model = buildModel(microGraph(), { seed: 99 });
  try {
    loadWeightsInto(model, weights);
    const loaded = torchStateDict(model);
    for (const t of tensors) assert.deepEqual(Array.from(loaded[t.name].data), Array.from(t.values), t.name);
  } finally {
    model.dispose();
  }
});

test("with num_batches_tracked (torchvision's state_dict) the same file reads, and expectedStateDict names it", () => {
  const graph = microGraph();
  const expected = expectedStateDict(graph);
  const counters = [...expected].filter(([n]) => n.endsWith(".num_batches_tracked"));
  assert.ok(counters.length > 0);
  const file = join(dir, "torchvision.safetensors");
  writeFileSync(
    file,
    weightsOnlyFile([...stateOf(3), ...counters.map(([name]) => ({ name, shape: [], values: [5], i64: true }))]),
  );
  assert.doesNotThrow(() => assertWeightsFit(readWeights(file), graph));
});

test("shapes that don't fit are listed with their layer and both shapes; missing and extra tensors too", () => {
  const tensors = stateOf(3).map((t) =>
    t.name === "conv1.weight"
      ? { ...t, shape: [t.shape[0], 3, t.shape[2], t.shape[3]], values: new Float32Array(t.values.length * 3) }
      : t,
  );
  const file = join(dir, "wrong.safetensors");
  writeFileSync(
    file,
    weightsOnlyFile([
      ...tensors.filter((t) => t.name !== "fc.bias"),
      { name: "classifier.weight", shape: [2, 2], values: [1, 2, 3, 4] },
    ]),
  );
  const weights = readWeights(file);
  const mismatches = weightMismatches(weights.tensors, microGraph());
  assert.deepEqual(
    mismatches.map((m) => [m.layer, m.problem]),
    [
      ["conv1", "shape"],
      ["fc", "missing"],
      ["classifier", "unexpected"],
    ],
  );
  assert.throws(
    () => assertWeightsFit(weights, microGraph()),
    (err: Error) => {
      assert.ok(err instanceof CheckpointError);
      assert.match(err.message, /wrong\.safetensors: the weights do not fit "micro": 3 mismatches/);
      assert.match(err.message, /\n {2}conv1: weight is 2×3×3×3 in the file, 2×1×3×3 in the network/);
      assert.match(err.message, /\n {2}fc: missing from the file: bias 2/);
      assert.match(err.message, /\n {2}classifier: in the file, not in the network: weight 2×2/);
      return true;
    },
  );
});

test("the list stops at the cap and says how many more layers differ", () => {
  const big = tinyGraph({ stages: Array.from({ length: 6 }, () => ({ channels: 4, blocks: 4, stride: 1 })) });
  const file = join(dir, "empty.safetensors");
  writeFileSync(file, weightsOnlyFile([{ name: "unrelated", shape: [1], values: [0] }]));
  assert.throws(
    () => assertWeightsFit(readWeights(file), big),
    (err: Error) => {
      const lines = err.message.split("\n");
      assert.equal(lines.length, 1 + MISMATCH_LIST_CAP + 1);
      assert.match(lines[lines.length - 1], /^ {2}… and \d+ more layers$/);
      return true;
    },
  );
});

test("a pickled .pth is refused without being read", () => {
  const file = join(dir, "model.pth");
  writeFileSync(file, "not read");
  assert.throws(() => readWeights(file), /model\.pth: a pickled PyTorch file; ResNet Studio reads safetensors only/);
});

test("a full checkpoint reads through readWeights with its header, and must be for the same architecture", async () => {
  const graph = microGraph();
  const model = buildModel(graph, { seed: 1 });
  const file = join(dir, "full.safetensors");
  try {
    await saveCheckpoint(file, {
      meta: {
        model: graph.spec.name,
        spec: graph.spec,
        epoch: 0,
        globalStep: 0,
        rngState: 1,
        optimizer: { kind: "adam", step: 0 },
        config: tinyConfig(),
        history: [],
        backend: "cpu",
      },
      params: model.params,
      buffers: model.buffers,
      optimizer: [],
    });
  } finally {
    model.dispose();
  }
  const weights = readWeights(file);
  assert.equal(weights.checkpoint?.header.model, "micro");
  assert.doesNotThrow(() => assertWeightsFit(weights, graph));
  // Same tensors, another architecture (no residual): shapes fit, the spec hash does not.
  assert.throws(
    () => assertWeightsFit(weights, microGraph({ residual: false })),
    /another network named "micro": every tensor has its shape, but residual is true in the checkpoint, false in the spec/,
  );
  tf.disposeVariables();
});

test("evaluation figures: cross-entropy, accuracy, per-class accuracy, confusion matrix and the misclassified", () => {
  const acc = new EvaluationAccumulator(["a", "b", "c"], 1);
  // rows: predicted 0 (label 0), predicted 2 (label 1), predicted 1 (label 1)
  acc.add([2, 0, 0, 0, 1, 3, 0, 5, 1], 3, [0, 1, 1], [10, 11, 12]);
  const r = acc.result({ model: "m", dataset: "d", backend: "cpu", weights: null });
  const ce = (logits: number[], label: number) => Math.log(logits.reduce((s, v) => s + Math.exp(v), 0)) - logits[label];
  const expected = (ce([2, 0, 0], 0) + ce([0, 1, 3], 1) + ce([0, 5, 1], 1)) / 3;
  assert.ok(Math.abs(r.loss - expected) < 1e-12);
  assert.equal(r.accuracy, 2 / 3);
  assert.deepEqual(r.confusion, [
    [1, 0, 0],
    [0, 1, 1],
    [0, 0, 0],
  ]);
  assert.deepEqual(
    r.perClass.map((c) => c.accuracy),
    [1, 0.5, null],
  );
  assert.equal(r.misclassified.length, 1, "kept up to the cap");
  assert.deepEqual([r.misclassified[0].index, r.misclassified[0].label, r.misclassified[0].predicted], [11, 1, 2]);
});

test("Fig. 7's responses: the BN after each 3×3 conv, or the conv itself with pre-activation", () => {
  assert.deepEqual(
    responseLayers(tinyGraph()).map((l) => l.node),
    ["bn1", "layer1.0.bn1", "layer1.0.bn2", "layer2.0.bn1", "layer2.0.bn2"],
  );
  const pre = responseLayers(tinyGraph({ preActivation: true }));
  assert.ok(
    pre.some((l) => l.node === l.conv && l.conv.endsWith("conv2")),
    "pre-activation measures the conv output",
  );
});

test("train resumes from a weights-only state_dict: those weights, epoch 0, a fresh optimiser", async () => {
  const graph = microGraph();
  const file = join(dir, "start.safetensors");
  writeFileSync(file, seededWeightsFile(graph, 11));
  const data = { train: syntheticDataset({ count: 30, classes: 2, shape: [1, 4, 4], seed: 2 }), val: null };
  const config = tinyConfig({ epochs: 1, batchSize: 8 });
  const run = async (seed: number, options: { initialWeights?: string; preload?: boolean }) => {
    const model = buildModel(graph, { seed });
    if (options.preload) loadWeightsInto(model, readWeights(file));
    const starts: number[] = [];
    const result = await train({
      model,
      data,
      config,
      initialWeights: options.initialWeights,
      onEvent: (e) => (e.type === "start" ? starts.push(e.startEpoch) : undefined),
    });
    const state = torchStateDict(model);
    model.dispose();
    return { loss: result.history[0].loss, state, starts };
  };
  const fromFile = await run(1, { initialWeights: file });
  const preloaded = await run(2, { preload: true });
  const fromSeed = await run(1, {});
  assert.deepEqual(fromFile.starts, [0]);
  assert.equal(fromFile.loss, preloaded.loss, "the same run as from a model holding those weights");
  assert.deepEqual(Array.from(fromFile.state["conv1.weight"].data), Array.from(preloaded.state["conv1.weight"].data));
  assert.notEqual(fromFile.loss, fromSeed.loss, "not the seeded initialisation");
});

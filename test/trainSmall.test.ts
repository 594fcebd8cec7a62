// "Train Small Model"'s decisions, without VS Code: which ways to train it offers for a spec and with what estimate,
// when it trains without asking, the progress line (images/s, ETA, the first step's time), and stored calibrations.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { analyzeSpecText } from "../extension/src/pure/specDocument";
import { BUNDLED_SPEC_FILE, BUNDLED_SPEC_TEXT } from "../extension/src/pure/bundledSpec";
import {
  calibrationIsStale,
  calibrationKey,
  isThroughput,
  planTraining,
  torchDeviceOf,
} from "../extension/src/pure/trainChoices";
import { estimateTraining } from "../model-core/src/analysis/estimate";
import { mnistTarget, samplesPerEpochSetting } from "../extension/src/pure/trainEvents";
import { applyTrainingEvent, EMPTY_TRAINING, type TrainingState } from "../model-core/src/protocol";
import { trainingProgress } from "../model-core/src/runtime/progress";
import type { Throughput } from "../model-core/src/analysis/estimate";
import type { ModelGraph } from "../model-core/src/analysis/graph";

const ROOT = join(__dirname, "..");
const THROUGHPUT: Throughput = {
  backend: "wasm",
  workers: 2,
  macsPerSecond: 1.5e10,
  stepOverheadSeconds: 0.05,
  secondsPerParam: 1e-7,
};

function graphOf(file: string): ModelGraph {
  const graph = analyzeSpecText(readFileSync(join(ROOT, "examples", file), "utf8"), file).graph;
  assert.ok(graph, file);
  return graph;
}
const bundled = analyzeSpecText(BUNDLED_SPEC_TEXT, BUNDLED_SPEC_FILE).graph!;

test("ResNet-18 on MNIST: a quick pick of small variant (default), as written and the bundled example, each with its estimate", () => {
  const written = graphOf("resnet18.resnet.ts");
  const plan = planTraining({
    written,
    bundled,
    target: mnistTarget(undefined),
    throughput: THROUGHPUT,
    batchSize: 64,
    epochs: 3,
    budgetSeconds: 60,
  });
  assert.equal(plan.direct, null);
  assert.deepEqual(
    plan.choices.map((c) => c.kind),
    ["variant", "asWritten", "bundled"],
  );
  const [variant, asWritten, example] = plan.choices;
  assert.ok(variant.estimate.secondsPerEpoch <= 60);
  assert.ok(asWritten.estimate.secondsPerEpoch > 60);
  for (const choice of plan.choices) {
    assert.match(choice.description, /^≈ .+ per epoch \(3 epochs ≈ .+\)$/);
    assert.deepEqual(choice.graph.input, [1, 28, 28]);
    assert.deepEqual(choice.graph.output, [10]);
  }
  assert.equal(variant.graph.spec.block, "basic");
  assert.equal(variant.graph.spec.shortcut, "B");
  assert.match(variant.label, /^Small variant of ResNet-18$/);
  assert.match(variant.detail, /stem imagenet → cifar/);
  // As written keeps the ImageNet stem but says how it was fitted to the digits.
  assert.equal(asWritten.graph.spec.stem, "imagenet");
  assert.match(asWritten.detail, /adapted to mnist: input 3×224×224 → 1×28×28 \(mnist's images\); classes 1000 → 10/);
  assert.equal(example.graph.spec.name, "Small ResNet (MNIST)");
  assert.deepEqual(example.changes, []);
});

test("a spec that fits the budget trains as written without a question; with no spec, the bundled example does", () => {
  const written = graphOf("small.resnet.ts");
  const small = planTraining({
    written,
    bundled,
    target: mnistTarget(undefined),
    throughput: THROUGHPUT,
    batchSize: 64,
    epochs: 3,
    budgetSeconds: 60,
  });
  assert.equal(small.direct?.kind, "asWritten");
  assert.deepEqual(small.direct?.changes, []);
  assert.equal(small.direct?.graph, written, "the very graph the diagram shows, so it keeps following the document");
  const none = planTraining({
    written: null,
    bundled,
    target: mnistTarget(undefined),
    throughput: THROUGHPUT,
    batchSize: 64,
    epochs: 3,
    budgetSeconds: 60,
  });
  assert.equal(none.direct?.kind, "bundled");
  assert.equal(none.direct?.graph, bundled);
  // Fewer images per epoch (resnetStudio.trainSamplesPerEpoch) shrink every estimate.
  assert.equal(mnistTarget(samplesPerEpochSetting(640)).trainSamples, 640);
  assert.equal(samplesPerEpochSetting(0), undefined);
  const short = planTraining({
    written: graphOf("resnet18.resnet.ts"),
    bundled,
    target: mnistTarget(640),
    throughput: THROUGHPUT,
    batchSize: 64,
    epochs: 1,
    budgetSeconds: 5,
  });
  assert.equal(short.choices[0].estimate.stepsPerEpoch, 10);
});

test("progress line: fraction, images/s and ETA from the latest step; the first step's time as soon as it is known", () => {
  let state: TrainingState = applyTrainingEvent(EMPTY_TRAINING, {
    kind: "started",
    model: "m",
    dataset: "mnist",
    backend: "wasm",
    epochs: 3,
    batch: 64,
    notes: ["as written: ≈ 20 s per epoch"],
  });
  assert.deepEqual(state.notes, ["as written: ≈ 20 s per epoch"]);
  assert.equal(trainingProgress(state), null);
  const point = {
    epoch: 0,
    step: 0,
    stepsPerEpoch: 100,
    globalStep: 1,
    loss: 2.3,
    accuracy: 0.1,
    lr: 0.01,
    imagesPerSecond: 320,
    epochSeconds: 0.2,
  };
  state = applyTrainingEvent(state, { kind: "step", point });
  assert.equal(state.firstStepSeconds, 0.2);
  const first = trainingProgress(state)!;
  assert.equal(first.fraction, 1 / 300);
  assert.ok(Math.abs(first.etaSeconds - 299 * 0.2) < 1e-9);
  assert.equal(first.text, "epoch 1/3 · step 1/100 · 320 img/s · ETA 60 s · first step 0.20 s");
  state = applyTrainingEvent(state, { kind: "step", point: { ...point, step: 9, globalStep: 10, epochSeconds: 2 } });
  assert.equal(state.firstStepSeconds, 0.2);
  const later = trainingProgress(state)!;
  assert.equal(later.fraction, 10 / 300);
  assert.equal(later.text, "epoch 1/3 · step 10/100 · 320 img/s · ETA 58 s");
});

test("stored calibrations are keyed by backend, replicas and batch, and checked before use", () => {
  assert.equal(calibrationKey("auto", undefined, 64), "resnetStudio.calibration/auto/auto/64");
  assert.equal(calibrationKey("wasm", 1, 32), "resnetStudio.calibration/wasm/1/32");
  // PyTorch: one process, so per device setting and batch.
  assert.equal(calibrationKey("torch", undefined, 64, "cuda"), "resnetStudio.calibration/torch/cuda/64");
  assert.equal(calibrationKey("torch", 2, 64), "resnetStudio.calibration/torch/auto/64");
  assert.ok(isThroughput(THROUGHPUT));
  assert.ok(!isThroughput({ ...THROUGHPUT, macsPerSecond: 0 }));
  assert.ok(!isThroughput({ backend: "wasm", workers: 2, macsPerSecond: 1e10 }));
  assert.ok(!isThroughput(null));
  // A first epoch more than 2× off the estimate forgets the calibration, so the next run measures again.
  const plan = planTraining({
    written: graphOf("small.resnet.ts"),
    bundled,
    target: mnistTarget(undefined),
    throughput: THROUGHPUT,
    batchSize: 64,
    epochs: 3,
    budgetSeconds: 60,
  });
  const estimate = plan.direct!.estimate;
  assert.ok(!calibrationIsStale(estimate, estimate.imagesPerSecond * 1.5));
  assert.ok(!calibrationIsStale(estimate, estimate.imagesPerSecond / 1.9));
  assert.ok(calibrationIsStale(estimate, estimate.imagesPerSecond / 2.5));
  assert.ok(calibrationIsStale(estimate, estimate.imagesPerSecond * 3));
  assert.ok(!calibrationIsStale(estimate, 0));
});

test('with the torch backend: a "Train on PyTorch" row with PyTorch\'s estimate beside the tfjs rows; a spec that fits on PyTorch trains there', () => {
  const written = graphOf("resnet18.resnet.ts");
  const target = mnistTarget(undefined);
  // Slower than the budget for ResNet-18 as written, faster than wasm.
  const slowTorch: Throughput = {
    backend: "torch 1.13.1 (cpu)",
    workers: 1,
    macsPerSecond: 1e10,
    stepOverheadSeconds: 0.3,
    secondsPerParam: 5e-9,
  };
  const plan = planTraining({
    written,
    bundled,
    target,
    throughput: THROUGHPUT,
    torch: slowTorch,
    batchSize: 64,
    epochs: 3,
    budgetSeconds: 60,
  });
  assert.equal(plan.direct, null);
  assert.deepEqual(
    plan.choices.map((c) => c.kind),
    ["variant", "torch", "asWritten", "bundled"],
  );
  const onTorch = plan.choices[1];
  const asWritten = plan.choices[2];
  assert.equal(onTorch.label, "Train on PyTorch (cpu): ResNet-18");
  assert.equal(onTorch.graph, asWritten.graph, "the same network as written, adapted to MNIST");
  assert.deepEqual(onTorch.changes, asWritten.changes);
  assert.deepEqual(
    onTorch.estimate,
    estimateTraining(asWritten.graph, { batchSize: 64, trainSamples: target.trainSamples, throughput: slowTorch }),
  );
  assert.deepEqual(
    asWritten.estimate,
    estimateTraining(asWritten.graph, { batchSize: 64, trainSamples: target.trainSamples, throughput: THROUGHPUT }),
  );
  assert.ok(onTorch.estimate.secondsPerEpoch < asWritten.estimate.secondsPerEpoch);
  assert.match(onTorch.detail, /torch 1\.13\.1 \(cpu\)/);
  // A GPU fast enough for an epoch within the budget: trains on PyTorch without asking.
  const cuda: Throughput = {
    backend: "torch 2.4.0 (cuda)",
    workers: 1,
    macsPerSecond: 2e13,
    stepOverheadSeconds: 0.01,
    secondsPerParam: 1e-10,
  };
  const fast = planTraining({
    written,
    bundled,
    target,
    throughput: THROUGHPUT,
    torch: cuda,
    batchSize: 64,
    epochs: 3,
    budgetSeconds: 60,
  });
  assert.equal(fast.direct?.kind, "torch");
  assert.equal(fast.direct?.label, "Train on PyTorch (cuda): ResNet-18");
  assert.ok(fast.direct.estimate.secondsPerEpoch <= 60);
  // Configured for PyTorch, a spec that fits on wasm but not on a (pathologically slow) PyTorch still asks, PyTorch listed.
  const crawl: Throughput = { ...slowTorch, stepOverheadSeconds: 10 };
  const small = planTraining({
    written: graphOf("small.resnet.ts"),
    bundled,
    target,
    throughput: THROUGHPUT,
    torch: crawl,
    batchSize: 64,
    epochs: 3,
    budgetSeconds: 60,
  });
  assert.equal(small.direct, null);
  assert.ok(small.choices.some((c) => c.kind === "torch") && small.choices.some((c) => c.kind === "asWritten"));
  // No spec open: the bundled example on PyTorch.
  const none = planTraining({
    written: null,
    bundled,
    target,
    throughput: THROUGHPUT,
    torch: slowTorch,
    batchSize: 64,
    epochs: 3,
    budgetSeconds: 60,
  });
  assert.equal(none.direct?.kind, "torch");
  assert.equal(none.direct?.graph, bundled);
  assert.equal(torchDeviceOf(cuda), "cuda");
  assert.equal(torchDeviceOf({ ...cuda, backend: "torch" }), "torch");
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { EMPTY_TRAINING, applyTrainingEvent, type TrainingState } from "../model-core/src/protocol";
import { trainingProgress, trainingStatusLine } from "../model-core/src/runtime/progress";
import { analyzeSpecText } from "../model-core/src/specAnalysis";
import type { EpochMetrics, StepMetrics } from "../model-core/src/runtime/trainTypes";
import { brokenSpecStatus, specStatus, trainingEndedText, trainingStatus } from "../extension/src/pure/statusText";
import { pytorchFileName } from "../extension/src/pure/exportPytorch";

const SPEC = `import { presets } from "resnet-studio";\nexport default presets.resnet20();\n`;

function step(epoch: number, stepIndex: number, stepsPerEpoch = 10): StepMetrics {
  return {
    epoch,
    step: stepIndex,
    stepsPerEpoch,
    globalStep: epoch * stepsPerEpoch + stepIndex,
    loss: 2.1,
    accuracy: 0.2,
    lr: 0.1,
    imagesPerSecond: 120,
    epochSeconds: (stepIndex + 1) * 0.5,
  };
}

function epochPoint(epoch: number, valSamples: number): EpochMetrics {
  return {
    epoch,
    epochs: 2,
    loss: 1.5,
    accuracy: 0.6,
    ...(valSamples > 0 ? { valLoss: 1.4, valAccuracy: 0.65 } : {}),
    lr: 0.1,
    imagesPerSecond: 120,
    seconds: 5,
    trainSamples: 640,
    valSamples,
  };
}

function run(valSamples: number, end: "finished" | "cancelled" | null): TrainingState {
  let state = applyTrainingEvent(EMPTY_TRAINING, {
    kind: "started",
    model: "ResNet-20",
    dataset: "MNIST",
    backend: "wasm",
    epochs: 2,
    batch: 64,
  });
  for (let e = 0; e < 2; e++) {
    for (let s = 0; s < 10; s++) state = applyTrainingEvent(state, { kind: "step", point: step(e, s) });
    state = applyTrainingEvent(state, { kind: "epoch", point: epochPoint(e, valSamples), gradients: null });
  }
  if (end) state = applyTrainingEvent(state, { kind: "finished", cancelled: end === "cancelled", millis: 12_300 });
  return state;
}

test("the status bar shows the active spec's parameters and MACs, or how many problems it has", () => {
  const graph = analyzeSpecText(SPEC, "r20.resnet.ts").graph;
  assert.ok(graph);
  const status = specStatus(graph);
  // He et al. 2015 Table 6: ResNet-20 has 0.27M parameters.
  assert.equal(status.text, "$(circuit-board) 270K params · 40.6M MACs");
  assert.match(status.tooltip, /^resnet20: 270K parameters, 40\.6M multiply-accumulates per image, 20 weighted layers/);
  assert.equal(brokenSpecStatus(1).text, "$(error) ResNet: 1 problem");
  assert.equal(brokenSpecStatus(3).text, "$(error) ResNet: 3 problems");
});

test("while training, the status bar shows the run's progress; after it, nothing (the spec shows again)", () => {
  let state = applyTrainingEvent(EMPTY_TRAINING, {
    kind: "started",
    model: "ResNet-20",
    dataset: "MNIST",
    backend: "wasm",
    epochs: 2,
    batch: 64,
  });
  assert.equal(trainingStatus(state)?.text, "$(sync~spin) ResNet-20: starting");
  state = applyTrainingEvent(state, { kind: "step", point: step(0, 4) });
  const shown = trainingStatus(state);
  assert.equal(shown?.text, "$(sync~spin) ResNet-20: 25%");
  assert.match(shown?.tooltip ?? "", /epoch 1\/2 · step 5\/10 · 120 img\/s · ETA/);
  assert.equal(trainingStatus(run(64, "finished")), null);
});

test("a finished run's status says how it ended, once, and never 'validating'", () => {
  const finished = run(64, "finished");
  assert.equal(trainingStatusLine(finished), "ResNet-20 on MNIST · backend wasm · batch 64 · finished in 12.3 s");
  assert.doesNotMatch(trainingProgress(finished)?.text ?? "", /validating|ETA/);
  const cancelled = run(64, "cancelled");
  assert.equal(trainingStatusLine(cancelled), "ResNet-20 on MNIST · backend wasm · batch 64 · cancelled");
  const failed = applyTrainingEvent(run(64, null), { kind: "failed", message: "loss is NaN at step 3" });
  assert.equal(
    trainingStatusLine(failed),
    "ResNet-20 on MNIST · backend wasm · batch 64 · failed: loss is NaN at step 3",
  );
  assert.equal(trainingStatusLine(EMPTY_TRAINING), null);
});

test("after an epoch's last step: validating only where the run validates", () => {
  const withValidation = applyTrainingEvent(run(64, null), { kind: "step", point: step(1, 9) });
  const atEnd = (state: TrainingState): TrainingState => ({ ...state, history: state.history.slice(0, 1) });
  assert.match(trainingProgress(atEnd(withValidation))?.text ?? "", /validating$/);
  const without = applyTrainingEvent(run(0, null), { kind: "step", point: step(1, 9) });
  assert.match(trainingProgress(atEnd(without))?.text ?? "", /ending the epoch$/);
});

test("the end-of-run notification says how it ended and the last accuracy", () => {
  assert.equal(
    trainingEndedText(run(64, "finished"), 12_300),
    "ResNet Studio: trained ResNet-20 in 12 s (2/2 epochs, validation accuracy 65.0%).",
  );
  assert.equal(
    trainingEndedText(run(0, "cancelled"), null),
    "ResNet Studio: training of ResNet-20 cancelled after 2/2 epochs, training accuracy 60.0%.",
  );
  assert.equal(trainingEndedText(run(64, null), null), null);
});

test("Export as PyTorch Module suggests a Python module name beside the spec", () => {
  assert.equal(pytorchFileName("/w/nets/resnet20.resnet.ts"), "resnet20.py");
  assert.equal(pytorchFileName("C:\\w\\my-net.resnet.ts"), "my_net.py");
  assert.equal(pytorchFileName("/w/20layers.resnet.ts"), "_20layers.py");
});

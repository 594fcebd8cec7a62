import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { buildModel } from "../src/runtime/model";
import { learningRateAt, train, TrainConfigError, validateConfig } from "../src/runtime/train";
import { decayedParameterNames, Optimizer } from "../src/runtime/optim";
import { syntheticDataset } from "../src/data/synthetic";
import type { StepMetrics, TrainEvent } from "../src/runtime/trainTypes";
import { microGraph, tinyConfig, tinyGraph, useCpu } from "./trainHelpers";

before(useCpu);

test("learns a synthetic task: validation accuracy well above chance, events in order", async () => {
  const graph = tinyGraph();
  const model = buildModel(graph, { seed: 1 });
  const data = { train: syntheticDataset({ count: 330, classes: 3, shape: [1, 8, 8], seed: 3, noise: 60 }), val: null };
  const events: TrainEvent["type"][] = [];
  const epochs: number[] = [];
  const result = await train({
    model,
    data,
    config: tinyConfig({ epochs: 2, batchSize: 16, lr: 0.01, logEvery: 5 }),
    onEvent: (e) => events.push(e.type),
    onEpoch: (m) => epochs.push(m.valAccuracy ?? NaN),
  });
  model.dispose();
  assert.equal(result.reason, "completed");
  assert.equal(result.epochsCompleted, 2);
  assert.ok(result.final, "final metrics");
  assert.ok((result.final.valAccuracy ?? NaN) >= 0.8, `val accuracy ${result.final.valAccuracy}`);
  assert.ok(result.history[1].loss < result.history[0].loss, "training loss falls");
  assert.equal(result.final.valSamples, 33);
  assert.ok(result.final.imagesPerSecond > 0);
  assert.equal(events[0], "start");
  assert.equal(events[events.length - 1], "done");
  assert.equal(events.filter((e) => e === "epoch").length, 2);
  assert.ok(events.filter((e) => e === "step").length >= 4);
});

test("tensor count is the same after every one of 60 steps", async () => {
  const model = buildModel(microGraph(), { seed: 2 });
  const data = { train: syntheticDataset({ count: 90, classes: 2, shape: [1, 4, 4], seed: 1 }), val: null };
  const counts: number[] = [];
  const result = await train({
    model,
    data,
    config: tinyConfig({ epochs: 20, batchSize: 4, maxSteps: 60, logEvery: 1, optimizer: "adam" }),
    onStep: () => counts.push(tf.memory().numTensors),
  });
  assert.equal(result.reason, "maxSteps");
  assert.equal(counts.length, 60);
  assert.deepEqual(new Set(counts).size, 1, `tensor counts varied: ${[...new Set(counts)].join(", ")}`);
  // Nothing leaks across epochs (validation) or after the run either (optimiser slots are freed).
  const afterRun = tf.memory().numTensors;
  model.dispose();
  assert.ok(afterRun <= counts[0], `after run ${afterRun}, during ${counts[0]}`);
});

test("abort stops the run between steps, within 100 ms", async () => {
  const model = buildModel(microGraph(), { seed: 3 });
  const data = { train: syntheticDataset({ count: 400, classes: 2, shape: [1, 4, 4], seed: 1 }), val: null };
  const controller = new AbortController();
  let steps = 0;
  let stepsAfterAbort = 0;
  const run = train({
    model,
    data,
    config: tinyConfig({ epochs: 1000, batchSize: 4, logEvery: 1 }),
    signal: controller.signal,
    onStep: () => {
      steps++;
      if (controller.signal.aborted) stepsAfterAbort++;
      // Abort from a timer, as a UI would, not from inside the callback.
      if (steps === 20) setTimeout(() => controller.abort(), 0);
    },
  });
  const result = await run;
  model.dispose();
  assert.equal(result.reason, "aborted");
  assert.ok(controller.signal.aborted);
  // Promptness in steps, not milliseconds: the step running when the abort lands is the last one.
  assert.ok(stepsAfterAbort <= 1, `${stepsAfterAbort} steps after the abort`);
  assert.ok(steps >= 20 && steps < 40, `${steps} steps`);
});

test("a huge learning rate makes the loss non-finite: the run stops with a clear message", async () => {
  const model = buildModel(microGraph({ norm: "none" }), { seed: 4 });
  const data = { train: syntheticDataset({ count: 200, classes: 2, shape: [1, 4, 4], seed: 1 }), val: null };
  const result = await train({
    model,
    data,
    config: tinyConfig({ epochs: 5, batchSize: 8, lr: 1e12, optimizer: "sgd", schedule: { kind: "constant" } }),
  });
  model.dispose();
  assert.equal(result.reason, "diverged");
  assert.match(
    result.message ?? "",
    /training diverged: the loss became (NaN|Infinity|-Infinity) at epoch \d+, step \d+ \(learning rate 1000000000000\); lower the learning rate/,
  );
});

test("same seed, same run: per-step losses are identical; another seed differs", async () => {
  const data = { train: syntheticDataset({ count: 60, classes: 2, shape: [1, 4, 4], seed: 9 }), val: null };
  async function losses(seed: number): Promise<number[]> {
    const model = buildModel(microGraph(), { seed });
    const out: number[] = [];
    await train({
      model,
      data,
      config: tinyConfig({ epochs: 2, batchSize: 8, seed }),
      onStep: (m) => out.push(m.loss),
    });
    model.dispose();
    return out;
  }
  const a = await losses(11);
  const b = await losses(11);
  const c = await losses(12);
  assert.equal(a.length, 12);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test("learning-rate schedules: constant, step (milestones × gamma), cosine with warm-up", () => {
  const base = tinyConfig({ lr: 0.1, epochs: 10 });
  assert.equal(learningRateAt({ ...base, schedule: { kind: "constant" } }, 55, 10), 0.1);
  const step = { ...base, schedule: { kind: "step" as const, milestones: [5, 8], gamma: 0.1 } };
  assert.equal(learningRateAt(step, 49, 10), 0.1);
  assert.ok(Math.abs(learningRateAt(step, 50, 10) - 0.01) < 1e-12);
  assert.ok(Math.abs(learningRateAt(step, 85, 10) - 0.001) < 1e-12);
  const cosine = { ...base, schedule: { kind: "cosine" as const, warmupEpochs: 1, minLr: 0 } };
  assert.ok(Math.abs(learningRateAt(cosine, 0, 10) - 0.01) < 1e-12, "warm-up starts at lr/steps");
  assert.ok(Math.abs(learningRateAt(cosine, 10, 10) - 0.1) < 1e-12, "peak after warm-up");
  assert.ok(Math.abs(learningRateAt(cosine, 55, 10) - 0.05) < 1e-12, "half-way");
  assert.ok(learningRateAt(cosine, 99, 10) < 0.001, "ends near zero");
});

test("weight decay applies to conv and fc weights only, not BN γ/β or biases", () => {
  const graph = microGraph();
  const model = buildModel(graph, { seed: 5 });
  const decayed = decayedParameterNames(graph);
  assert.ok(decayed.has("conv1.weight") && decayed.has("fc.weight"));
  assert.ok(!decayed.has("bn1.weight") && !decayed.has("fc.bias"));
  // With zero gradients, one SGD step moves only decayed weights: w ← w − lr·wd·w.
  const opt = new Optimizer(model.params, { kind: "sgd", momentum: 0, weightDecay: 0.5, decayed });
  const before = new Map([...model.params].map(([n, v]) => [n, v.dataSync().slice()]));
  const zeros = new Map([...model.params].map(([n, v]) => [n, tf.zerosLike(v) as tf.Tensor]));
  opt.apply(zeros, 0.1);
  for (const [name, v] of model.params) {
    const after = v.dataSync();
    const expected = before.get(name)!.map((w) => (decayed.has(name) ? w * 0.95 : w));
    after.forEach((w, i) => assert.ok(Math.abs(w - expected[i]) < 1e-6, `${name}[${i}]: ${w} vs ${expected[i]}`));
  }
  tf.dispose([...zeros.values()]);
  opt.dispose();
  model.dispose();
});

test("Adam matches its closed form on the first step: w ← w − lr·sign(g)", () => {
  const p = tf.variable(tf.tensor1d([1, -2, 3]));
  const opt = new Optimizer(new Map([["w", p]]), { kind: "adam", momentum: 0, weightDecay: 0, decayed: new Set() });
  const g = tf.tensor1d([0.5, -4, 0]);
  opt.apply(new Map([["w", g]]), 0.1);
  const w = p.dataSync();
  assert.ok(Math.abs(w[0] - 0.9) < 1e-5 && Math.abs(w[1] + 1.9) < 1e-5 && Math.abs(w[2] - 3) < 1e-5, [...w].join(","));
  tf.dispose([p, g]);
  opt.dispose();
});

test("bad configs are refused with the reason", async () => {
  const model = buildModel(microGraph(), { seed: 1 });
  const data = { train: syntheticDataset({ count: 20, classes: 2, shape: [1, 4, 4], seed: 1 }), val: null };
  await assert.rejects(
    train({ model, data, config: tinyConfig({ batchSize: 1 }) }),
    (e: Error) => e instanceof TrainConfigError && /batch size must be an integer ≥ 2/.test(e.message),
  );
  await assert.rejects(
    train({ model, data, config: tinyConfig({ lr: -1, epochs: 0 }) }),
    /epochs must be a positive integer, got 0; learning rate must be positive/,
  );
  const tooManyClasses = { train: syntheticDataset({ count: 20, classes: 5, shape: [1, 4, 4], seed: 1 }), val: null };
  await assert.rejects(
    train({ model, data: tooManyClasses, config: tinyConfig() }),
    /has 5 classes but the model "micro" has 2 outputs/,
  );
  model.dispose();
});

test("progress from the first step: step 0 is reported with its time; samplesPerEpoch shortens the epoch", async () => {
  const model = buildModel(microGraph(), { seed: 2 });
  const data = { train: syntheticDataset({ count: 200, classes: 2, shape: [1, 4, 4], seed: 1 }), val: null };
  const steps: StepMetrics[] = [];
  const result = await train({
    model,
    data,
    config: tinyConfig({ epochs: 2, batchSize: 8, logEvery: 100, samplesPerEpoch: 40 }),
    onStep: (m) => steps.push(m),
  });
  model.dispose();
  assert.equal(result.reason, "completed");
  // 40 images per epoch at batch 8: 5 steps; events at the run's first step and each epoch's last.
  assert.deepEqual(
    steps.map((s) => [s.epoch, s.step, s.stepsPerEpoch]),
    [
      [0, 0, 5],
      [0, 4, 5],
      [1, 4, 5],
    ],
  );
  assert.ok(steps[0].epochSeconds > 0 && steps[0].epochSeconds <= steps[1].epochSeconds);
  assert.equal(result.history[0].trainSamples, 40);
  assert.throws(
    () => validateConfig(tinyConfig({ samplesPerEpoch: 0 })),
    /samples per epoch must be a positive integer/,
  );
});

test("--val-fraction 0 trains without validation: no val figures, no false divergence", async () => {
  const model = buildModel(microGraph(), { seed: 1 });
  const data = { train: syntheticDataset({ count: 40, classes: 2, shape: [1, 4, 4], seed: 2 }), val: null };
  const result = await train({ model, data, config: tinyConfig({ epochs: 2, batchSize: 8, valFraction: 0 }) });
  model.dispose();
  assert.equal(result.reason, "completed", result.message);
  assert.equal(result.epochsCompleted, 2);
  for (const epoch of result.history) {
    assert.equal(epoch.valSamples, 0);
    assert.equal(epoch.trainSamples, 40, "every image trains");
    assert.ok(!("valLoss" in epoch) && !("valAccuracy" in epoch), JSON.stringify(epoch));
    assert.ok(Number.isFinite(epoch.loss));
  }
});

/**
 * The data-parallel trainer (runtime/parallel.ts): replica worker threads (run from source via tsx here) that split
 * every batch, average gradients through a SharedArrayBuffer and apply identical updates. On the cpu backend to keep
 * it fast; the worker count is explicit because automatic mode only parallelises wasm.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import * as tf from "@tensorflow/tfjs-core";
import { buildModel, type TfModel } from "../src/runtime/model";
import { train } from "../src/runtime/train";
import { decayedParameterNames, Optimizer } from "../src/runtime/optim";
import { DataParallelStepper, resolveWorkerCount, shareSizes } from "../src/runtime/parallel";
import { LocalBatchStepper } from "../src/runtime/stepper";
import { syntheticDataset } from "../src/data/synthetic";
import type { ModelGraph } from "../src/analysis/graph";
import { microGraph, tinyConfig, tinyGraph, useCpu } from "./trainHelpers";

/**
 * 2 workers vs 1 on the same batch without BN: the averaged gradient (½·g₁ + ½·g₂ of the half-batch means) equals the
 * full-batch mean gradient up to float32 summation order, so losses and updated weights agree to this relative
 * tolerance (scaled by max |w|, at least 1).
 */
const ONE_VS_TWO_REL_TOL = 1e-5;

before(useCpu);

function batchOf(graph: ModelGraph, count: number, seed: number): { pixels: Float32Array; labels: Int32Array } {
  const [c, h, w] = graph.spec.input;
  const data = syntheticDataset({ count, classes: graph.spec.classes, shape: [c, h, w], seed });
  const pixels = Float32Array.from(data.images, (v) => v / 255 - 0.5);
  return { pixels, labels: Int32Array.from(data.labels) };
}

function params(model: TfModel): Float32Array[] {
  return [...model.params.values()].map((v) => (v.dataSync() as Float32Array).slice());
}

test("worker count: explicit wins (≤ batch/2), automatic means one per core on wasm only, 1 elsewhere", () => {
  const saved = process.env.RESNET_STUDIO_WORKERS;
  delete process.env.RESNET_STUDIO_WORKERS;
  try {
    assert.equal(resolveWorkerCount(1, "wasm", 64), 1);
    assert.equal(resolveWorkerCount(3, "cpu", 64), 3);
    assert.equal(resolveWorkerCount(8, "wasm", 6), 3, "every replica keeps two images for BN");
    assert.equal(resolveWorkerCount(undefined, "cpu", 64), 1);
    assert.equal(resolveWorkerCount(undefined, "tensorflow", 64), 1);
    assert.ok(resolveWorkerCount(undefined, "wasm", 64) >= 1 && resolveWorkerCount(undefined, "wasm", 64) <= 4);
    assert.equal(resolveWorkerCount(undefined, "wasm", 16), 1, "shares of at least 16 images in automatic mode");
    process.env.RESNET_STUDIO_WORKERS = "2";
    assert.equal(resolveWorkerCount(undefined, "cpu", 64), 2);
    process.env.RESNET_STUDIO_WORKERS = "two";
    assert.throws(() => resolveWorkerCount(undefined, "wasm", 64), /RESNET_STUDIO_WORKERS must be a positive integer/);
  } finally {
    if (saved === undefined) delete process.env.RESNET_STUDIO_WORKERS;
    else process.env.RESNET_STUDIO_WORKERS = saved;
  }
  assert.deepEqual(shareSizes(7, 2), [4, 3]);
  assert.deepEqual(shareSizes(64, 3), [22, 21, 21]);
});

/** Two SGD steps on one batch with `workers` replicas: losses, updated weights and BN buffers. */
async function stepsWith(graph: ModelGraph, workers: number, batch: number, steps = 2) {
  const { pixels, labels } = batchOf(graph, batch, 5);
  const model = buildModel(graph, { seed: 3 });
  const optimizer = new Optimizer(model.params, {
    kind: "sgd",
    momentum: 0.9,
    weightDecay: 1e-3,
    decayed: decayedParameterNames(graph),
  });
  const stepper =
    workers > 1
      ? await DataParallelStepper.create(model, optimizer, { workers, backend: "cpu" })
      : new LocalBatchStepper(model, optimizer);
  try {
    const losses: number[] = [];
    for (let i = 0; i < steps; i++) losses.push((await stepper.step(pixels, labels, batch, 0.05)).loss);
    const buffers = new Map([...model.buffers].map(([name, v]) => [name, (v.dataSync() as Float32Array).slice()]));
    return { losses, weights: params(model), buffers };
  } finally {
    await stepper.dispose();
    optimizer.dispose();
    model.dispose();
  }
}

/** max |a − b| over max(1, max |a|): the relative difference the tolerances below bound. */
function relativeDifference(a: Float32Array, b: Float32Array): number {
  let scale = 1,
    worst = 0;
  for (let j = 0; j < a.length; j++) {
    scale = Math.max(scale, Math.abs(a[j]));
    worst = Math.max(worst, Math.abs(a[j] - b[j]));
  }
  return worst / scale;
}

async function assertSameAsOneWorker(workers: number, batch: number): Promise<void> {
  const graph = tinyGraph({ norm: "none" });
  const one = await stepsWith(graph, 1, batch);
  const many = await stepsWith(graph, workers, batch);
  one.losses.forEach((l, i) =>
    assert.ok(
      Math.abs(l - many.losses[i]) <= ONE_VS_TWO_REL_TOL * Math.max(1, Math.abs(l)),
      `step ${i}: loss ${l} vs ${many.losses[i]}`,
    ),
  );
  one.weights.forEach((w, i) => {
    const diff = relativeDifference(w, many.weights[i]);
    assert.ok(diff <= ONE_VS_TWO_REL_TOL, `param ${i}: relative difference ${diff}`);
  });
}

test(
  "without BN, a 2-worker step equals the 1-worker step on the same batch (loss and updated weights)",
  { timeout: 60_000 },
  async () => {
    await assertSameAsOneWorker(2, 16);
  },
);

test(
  "without BN, 3 workers with uneven shares (6, 5, 5 of 16) equal 1 worker: gradients are weighted by share size",
  { timeout: 60_000 },
  async () => {
    assert.deepEqual(shareSizes(16, 3), [6, 5, 5]);
    await assertSameAsOneWorker(3, 16);
  },
);

test(
  "with BN, after one step the stem's running mean from 3 uneven replicas equals the full-batch update",
  { timeout: 60_000 },
  async () => {
    // Each replica's mean is over its share; weighted by share size (6, 5, 5) they average to the full batch's mean.
    // Exact for the first BN only: deeper layers see inputs normalised per share (DDP without SyncBatchNorm).
    const graph = tinyGraph();
    const one = await stepsWith(graph, 1, 16, 1);
    const three = await stepsWith(graph, 3, 16, 1);
    const name = "bn1.running_mean";
    const full = one.buffers.get(name)!;
    assert.ok(
      full.some((v) => v !== 0),
      `${name} moved`,
    );
    const diff = relativeDifference(full, three.buffers.get(name)!);
    assert.ok(diff <= ONE_VS_TWO_REL_TOL, `${name}: relative difference ${diff}`);
  },
);

test(
  "replicas stay bit-identical (weights, BN statistics, Adam state) and every replica's tensor count is flat",
  { timeout: 60_000 },
  async () => {
    const graph = tinyGraph();
    const model = buildModel(graph, { seed: 4 });
    const optimizer = new Optimizer(model.params, {
      kind: "adam",
      momentum: 0,
      weightDecay: 1e-4,
      decayed: decayedParameterNames(graph),
    });
    const stepper = await DataParallelStepper.create(model, optimizer, { workers: 3, backend: "cpu" });
    try {
      const ownerCounts: number[] = [];
      for (let i = 0; i < 8; i++) {
        const { pixels, labels } = batchOf(graph, 14, 10 + i); // shares 5, 5, 4
        await stepper.step(pixels, labels, 14, 0.01);
        ownerCounts.push(tf.memory().numTensors);
      }
      assert.equal(new Set(ownerCounts).size, 1, `owner tensor counts ${ownerCounts.join(",")}`);
      for (const counts of stepper.workerTensorCounts) {
        assert.equal(counts.length, 8);
        assert.equal(new Set(counts).size, 1, `worker tensor counts ${counts.join(",")}`);
      }
      const mine = {
        params: params(model),
        buffers: [...model.buffers.values()].map((v) => v.dataSync() as Float32Array),
        optimizerState: optimizer.stateTensors().map(([, v]) => v.dataSync() as Float32Array),
      };
      assert.ok(
        mine.buffers.some((b) => b.some((v) => v !== 0 && v !== 1)),
        "BN running statistics moved",
      );
      for (const snapshot of await stepper.snapshots()) {
        for (const key of ["params", "buffers", "optimizerState"] as const) {
          assert.equal(snapshot[key].length, mine[key].length);
          snapshot[key].forEach((values, i) =>
            assert.deepEqual(values, mine[key][i], `${key}[${i}] differs from the owner's`),
          );
        }
      }
    } finally {
      await stepper.dispose();
      optimizer.dispose();
      model.dispose();
    }
  },
);

test(
  "train() with 2 workers: learns, same seed gives the same run, reports its workers",
  { timeout: 120_000 },
  async () => {
    const data = {
      train: syntheticDataset({ count: 330, classes: 3, shape: [1, 8, 8], seed: 3, noise: 60 }),
      val: null,
    };
    const run = async () => {
      const model = buildModel(tinyGraph(), { seed: 1 });
      const losses: number[] = [];
      const result = await train({
        model,
        data,
        config: tinyConfig({ epochs: 2, batchSize: 16, lr: 0.01, workers: 2 }),
        onStep: (m) => losses.push(m.loss),
      });
      model.dispose();
      return { result, losses };
    };
    const a = await run();
    const b = await run();
    assert.equal(a.result.reason, "completed");
    assert.equal(a.result.workers, 2);
    assert.ok(
      a.result.final && (a.result.final.valAccuracy ?? NaN) >= 0.8,
      `val accuracy ${a.result.final?.valAccuracy}`,
    );
    assert.deepEqual(a.losses, b.losses);
  },
);

test(
  "train() with 2 workers: abort stops within 100 ms; a non-finite loss stops with the message; checkpoint + resume continue",
  { timeout: 120_000 },
  async () => {
    // Abort.
    {
      const model = buildModel(microGraph(), { seed: 3 });
      const data = { train: syntheticDataset({ count: 400, classes: 2, shape: [1, 4, 4], seed: 1 }), val: null };
      const controller = new AbortController();
      let steps = 0;
      let stepsAfterAbort = 0;
      const result = await train({
        model,
        data,
        config: tinyConfig({ epochs: 1000, batchSize: 8, logEvery: 1, workers: 2 }),
        signal: controller.signal,
        onStep: () => {
          if (controller.signal.aborted) stepsAfterAbort++;
          if (++steps === 10) setTimeout(() => controller.abort(), 0);
        },
      });
      model.dispose();
      assert.equal(result.reason, "aborted");
      // Promptness in steps, not milliseconds: the step running when the abort lands is the last one.
      assert.ok(stepsAfterAbort <= 1, `${stepsAfterAbort} steps after the abort`);
    }
    // Divergence.
    {
      const model = buildModel(microGraph({ norm: "none" }), { seed: 4 });
      const data = { train: syntheticDataset({ count: 200, classes: 2, shape: [1, 4, 4], seed: 1 }), val: null };
      const result = await train({
        model,
        data,
        config: tinyConfig({
          epochs: 5,
          batchSize: 8,
          lr: 1e12,
          optimizer: "sgd",
          schedule: { kind: "constant" },
          workers: 2,
        }),
      });
      model.dispose();
      assert.equal(result.reason, "diverged");
      assert.match(result.message ?? "", /training diverged: the loss became/);
    }
    // Resume: 1 epoch + checkpoint, then resume for the 2nd, equals 2 epochs in one go.
    const dir = mkdtempSync(join(tmpdir(), "rs-parallel-"));
    try {
      const data = { train: syntheticDataset({ count: 96, classes: 2, shape: [1, 4, 4], seed: 2 }), val: null };
      // Constant LR: a cosine schedule depends on the run's epoch count, which differs between the two halves.
      const config = tinyConfig({
        epochs: 2,
        batchSize: 8,
        workers: 2,
        optimizer: "adam",
        schedule: { kind: "constant" },
      });
      const straight: number[] = [];
      let model = buildModel(microGraph(), { seed: 5 });
      await train({ model, data, config, onStep: (m) => straight.push(m.loss) });
      model.dispose();
      const resumed: number[] = [];
      model = buildModel(microGraph(), { seed: 5 });
      await train({
        model,
        data,
        config: { ...config, epochs: 1 },
        checkpoint: dir,
        onStep: (m) => resumed.push(m.loss),
      });
      model.dispose();
      model = buildModel(microGraph(), { seed: 6 }); // different init: the checkpoint must overwrite it, in every replica
      const second = await train({ model, data, config, resumeFrom: dir, onStep: (m) => resumed.push(m.loss) });
      model.dispose();
      assert.equal(second.reason, "completed");
      assert.deepEqual(resumed, straight);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

/**
 * Runs `step` against replicas that are stand-in workers (plain JavaScript, `port` = parentPort) answering "init", then
 * doing `onStep` with each "step" request `m`.
 */
async function withFakeReplicas(
  onStep: string,
  check: (stepper: DataParallelStepper, batch: { pixels: Float32Array; labels: Int32Array }) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "rs-fake-replica-"));
  const file = join(dir, "replica.js");
  writeFileSync(
    file,
    `const port = require("node:worker_threads").parentPort;
    port.on("message", (m) => {
      if (m.type !== "request") return;
      if (m.body.kind === "init") port.postMessage({ type: "response", id: m.id, ok: true, kind: "init", body: { numTensors: 0 } });
      else if (m.body.kind === "step") { ${onStep} }
    });`,
  );
  const previous = process.env.RESNET_STUDIO_REPLICA_WORKER;
  process.env.RESNET_STUDIO_REPLICA_WORKER = file;
  const graph = microGraph();
  const model = buildModel(graph, { seed: 1 });
  const optimizer = new Optimizer(model.params, { kind: "sgd", momentum: 0, weightDecay: 0, decayed: new Set() });
  try {
    const stepper = await DataParallelStepper.create(model, optimizer, { workers: 2, backend: "cpu" });
    try {
      await check(stepper, batchOf(graph, 4, 1));
    } finally {
      await stepper.dispose();
    }
  } finally {
    if (previous === undefined) delete process.env.RESNET_STUDIO_REPLICA_WORKER;
    else process.env.RESNET_STUDIO_REPLICA_WORKER = previous;
    optimizer.dispose();
    model.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

test("a replica's unsolicited failure fails the step in flight and every later one", { timeout: 60_000 }, async () => {
  await withFakeReplicas(
    `port.postMessage({ type: "failed", message: "apply: shapes differ" });`,
    async (stepper, b) => {
      await assert.rejects(stepper.step(b.pixels, b.labels, 4, 0.1), /^Error: training worker: apply: shapes differ$/);
      await assert.rejects(stepper.step(b.pixels, b.labels, 4, 0.1), /^Error: training worker: apply: shapes differ$/);
    },
  );
});

test(
  "a replica's error answer, or its exit mid-step, fails the step with the replica's message",
  { timeout: 60_000 },
  async () => {
    await withFakeReplicas(
      `port.postMessage({ type: "response", id: m.id, ok: false, kind: "step", error: "out of memory" });`,
      async (stepper, b) => {
        await assert.rejects(stepper.step(b.pixels, b.labels, 4, 0.1), /^Error: training worker: out of memory$/);
        await assert.rejects(stepper.snapshots(), /training worker: out of memory/);
      },
    );
    await withFakeReplicas(`process.exit(5);`, async (stepper, b) => {
      await assert.rejects(
        stepper.step(b.pixels, b.labels, 4, 0.1),
        /^Error: training worker exited unexpectedly \(code 5\)$/,
      );
    });
  },
);

/**
 * The extension's training / gradient-flow worker thread (extension/src/trainWorker.ts, run from source via tsx)
 * behind TrainWorkerHost: a gradient-flow job answers with the network's and its plain twin's results; a training job
 * pushes events with a gradient snapshot per epoch and answers with how it ended; "cancel" stops a run. A worker that
 * crashes, exits or is stopped fails its job once, with a message naming what happened.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { analyzeSpecText, plainTwin } from "../extension/src/pure/specDocument";
import { TrainWorkerHost } from "../extension/src/trainWorkerHost";
import { BUNDLED_WORKER, spawnBundledWorker, spawnSourceWorker, trainingEvents } from "./workerHarness";
import type { TrainJob, TrainWorkerPush } from "../extension/src/pure/workerProtocol";
import { RpcError } from "../model-core/src/rpc";
import type { GradientPair } from "../model-core/src/protocol";

const root = join(__dirname, "..");

const TINY = `import { resnet, stage } from "resnet-studio";
export default resnet({
  name: "tiny-mnist", input: [1, 28, 28], stem: "cifar", block: "basic",
  stages: [stage({ channels: 4, blocks: 1 }), stage({ channels: 8, blocks: 1, stride: 2 })],
  shortcut: "B", classes: 10,
});
`;

test("gradient-flow job: residual and plain twin results with per-node statistics", { timeout: 120_000 }, async () => {
  const { spec, graph } = analyzeSpecText(TINY, "tiny.resnet.ts");
  assert.ok(spec && graph);
  const plain = plainTwin(spec);
  const host = new TrainWorkerHost(spawnSourceWorker);
  const pushes: TrainWorkerPush[] = [];
  const { residual, plain: plainResult } = await host.run(
    { kind: "gradientFlow", graph, plain, backend: "cpu", batch: 4, seed: 1, wasmDir: "" },
    (m) => pushes.push(m),
  );
  assert.deepEqual(pushes, [], "the result travels once, in the response");
  assert.equal(host.busy, false, "the job ended with its response");
  assert.ok(plainResult);
  assert.equal(residual.batch, 4);
  assert.ok(residual.adds.length === 2, "one split per residual block");
  assert.equal(plainResult.adds.length, 0);
  assert.ok(residual.nodes.find((n) => n.id === "conv1")!.activation.l2 > 0);
  assert.ok(Number.isFinite(residual.ratio.value) && residual.ratio.value > 0);
});

test(
  "training job: pushes start, steps and epochs with a gradient snapshot, then answers; cancel stops it",
  { timeout: 180_000 },
  async () => {
    const { graph } = analyzeSpecText(TINY, "tiny.resnet.ts");
    assert.ok(graph);
    const host = new TrainWorkerHost(spawnSourceWorker);
    const job: Extract<TrainJob, { kind: "train" }> = {
      kind: "train",
      graph,
      backend: "cpu",
      dataset: "synthetic:count=96",
      dataDir: join(root, "dist", "data"),
      wasmDir: "",
      gradientBatch: 4,
      config: { epochs: 2, batchSize: 16, logEvery: 1, valFraction: 0.25 },
    };
    const pushes: TrainWorkerPush[] = [];
    const result = await host.run(job, (m) => pushes.push(m));
    assert.equal(result.cancelled, false);
    assert.ok(result.millis > 0);
    // Every push arrived before the response.
    const events = trainingEvents(pushes);
    const kinds = events.map((e) => e.kind);
    // The data's preview first (the view shows it while the backend starts), then the run.
    assert.deepEqual(kinds.slice(0, 2), ["preview", "started"], kinds.join(","));
    const preview = events[0];
    assert.ok(preview.kind === "preview");
    assert.equal(
      preview.preview.classCounts.reduce((a, b) => a + b, 0),
      96,
      "the counts cover the 96 images",
    );
    assert.ok(preview.preview.samples.length > 0 && preview.preview.samples[0].pixels instanceof Uint8Array);
    assert.ok(kinds.includes("step"));
    assert.equal(events.filter((e) => e.kind === "epoch").length, 2);
    assert.ok(
      events.every((e) => e.kind === "preview" || e.kind === "started" || e.kind === "step" || e.kind === "epoch"),
      "the run's end is the response, never a push",
    );
    const epoch = events.find((e) => e.kind === "epoch");
    assert.ok(epoch && epoch.kind === "epoch", `an epoch event in ${kinds.join(",")}`);
    assert.ok(epoch.gradients && epoch.gradients.nodes.length > 0, "the epoch carries a gradient-flow snapshot");
    const valAccuracy = epoch.point.valAccuracy ?? NaN;
    assert.ok(valAccuracy >= 0 && valAccuracy <= 1);

    // Cancel a longer run once it is streaming steps.
    const after: TrainWorkerPush[] = [];
    const cancelled = await host.run(
      { ...job, dataset: "synthetic:count=2000", config: { epochs: 50, batchSize: 16, logEvery: 1, valFraction: 0.1 } },
      (m) => {
        after.push(m);
        if (m.type === "training" && m.event.kind === "step" && m.event.point.globalStep === 3)
          assert.equal(host.cancel(), true);
      },
    );
    assert.equal(cancelled.cancelled, true);
    assert.equal(host.cancel(), false, "nothing left to cancel");
    // Measured in work, not milliseconds: the run stopped before its 50 epochs.
    const epochsRun = trainingEvents(after).filter((e) => e.kind === "epoch").length;
    assert.ok(epochsRun < 50, `${epochsRun} epochs: the cancel did not stop the run`);
  },
);

test("a job that fails in the worker rejects with the worker's message", { timeout: 120_000 }, async () => {
  const { graph } = analyzeSpecText(TINY, "tiny.resnet.ts");
  assert.ok(graph);
  const host = new TrainWorkerHost(spawnSourceWorker);
  await assert.rejects(
    host.run({
      kind: "train",
      graph,
      backend: "cpu",
      dataset: "no-such-dataset",
      dataDir: "",
      wasmDir: "",
      gradientBatch: 4,
      config: { epochs: 1, batchSize: 16 },
    }),
    (err: unknown) => {
      assert.ok(err instanceof RpcError && err.reason === "failed", String(err));
      assert.match(err.message, /no-such-dataset/);
      return true;
    },
  );
  assert.equal(host.busy, false);
});

/** A stand-in worker: runs `body` (plain JavaScript) in a thread, with `port` bound to parentPort. */
function fakeWorker(body: string): () => Worker {
  return () => new Worker(`const port = require("node:worker_threads").parentPort; ${body}`, { eval: true });
}

test("a worker that crashes or exits mid-job fails the job once, naming what happened", async () => {
  const job: TrainJob = { kind: "calibrate", backend: "cpu", batchSize: 8, wasmDir: "" };
  const crashes = new TrainWorkerHost(fakeWorker(`port.on("message", () => { throw new Error("out of cheese"); });`));
  await assert.rejects(crashes.run(job), (err: unknown) => {
    assert.ok(err instanceof RpcError && err.reason === "closed");
    assert.equal(err.message, "training worker crashed: out of cheese");
    return true;
  });
  assert.equal(crashes.busy, false);
  const exits = new TrainWorkerHost(fakeWorker(`port.on("message", () => process.exit(3));`));
  await assert.rejects(exits.run(job), /^RpcError: training worker exited unexpectedly \(code 3\)$/);
  // Pushes stream until the response; a second answer to the same request is ignored.
  const pushes: TrainWorkerPush[] = [];
  const answers = new TrainWorkerHost(
    fakeWorker(`port.on("message", (m) => {
      if (m.type !== "request") return;
      port.postMessage({ type: "lrRange", result: { model: "m", points: [], suggested: null, diverged: false } });
      const answer = { type: "response", id: m.id, ok: true, kind: m.body.kind, body: { throughput: 1, seconds: 2 } };
      port.postMessage(answer);
      port.postMessage({ ...answer, body: { throughput: 3, seconds: 4 } });
    });`),
  );
  assert.deepEqual(await answers.run(job, (m) => pushes.push(m)), { throughput: 1, seconds: 2 });
  assert.deepEqual(
    pushes.map((m) => m.type),
    ["lrRange"],
  );
});

test("stopping the host fails the running job at once; the next job gets a fresh worker", async () => {
  let spawned = 0;
  const silent = fakeWorker(`port.on("message", () => undefined);`);
  const host = new TrainWorkerHost(() => {
    spawned++;
    return silent();
  });
  const job: TrainJob = { kind: "calibrate", backend: "cpu", batchSize: 8, wasmDir: "" };
  const first = host.run(job);
  assert.equal(host.busy, true);
  assert.equal(host.cancel(), true, "a running job can be asked to stop");
  host.stop();
  await assert.rejects(first, /the training worker was stopped/);
  assert.equal(host.busy, false);
  const second = host.run(job);
  const third = host.run(job); // replaces the second
  await assert.rejects(second, /the training worker was stopped/);
  host.stop();
  await assert.rejects(third, /the training worker was stopped/);
  assert.equal(spawned, 3);
});

test("one warm worker serves consecutive jobs until it is stopped or idle", async () => {
  const job: TrainJob = { kind: "calibrate", backend: "cpu", batchSize: 8, wasmDir: "" };
  const answering = fakeWorker(`let jobs = 0; port.on("message", (m) => {
    if (m.type !== "request") return;
    jobs++;
    port.postMessage({ type: "response", id: m.id, ok: true, kind: m.body.kind, body: { throughput: jobs, seconds: 0 } });
  });`);
  const host = new TrainWorkerHost(answering, 200);
  assert.deepEqual(await host.run(job), { throughput: 1, seconds: 0 });
  assert.deepEqual(await host.run(job), { throughput: 2, seconds: 0 }, "the second job found the first one's worker");
  assert.equal(host.threadsStarted, 1);
  host.stop();
  assert.deepEqual(await host.run(job), { throughput: 1, seconds: 0 }, "a stopped worker is replaced by a fresh one");
  assert.equal(host.threadsStarted, 2);
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.deepEqual(await host.run(job), { throughput: 1, seconds: 0 }, "an idle worker stopped itself");
  assert.equal(host.threadsStarted, 3);
  host.stop();
});

test(
  "the bundled worker (dist/trainWorker.js) keeps every backend: a gradient-flow job runs on cpu and on wasm",
  { timeout: 120_000 },
  async () => {
    const { spec, graph } = analyzeSpecText(TINY, "tiny.resnet.ts");
    assert.ok(spec && graph, BUNDLED_WORKER);
    const host = new TrainWorkerHost(spawnBundledWorker);
    for (const backend of ["cpu", "wasm"] as const) {
      const pair: GradientPair = await host.run({
        kind: "gradientFlow",
        graph,
        plain: null,
        backend,
        batch: 2,
        seed: 1,
        wasmDir: join(root, "dist", "wasm") + "/",
      });
      assert.equal(pair.residual.backend, backend);
      assert.equal(pair.plain, null);
    }
  },
);

test(
  "calibrate job: the worker measures the backend and answers with a fitted throughput",
  { timeout: 300_000 },
  async () => {
    const host = new TrainWorkerHost(spawnSourceWorker);
    // Batch 8 on wasm, one replica: a few seconds even on a loaded machine.
    const { throughput, seconds } = await host.run({
      kind: "calibrate",
      backend: "wasm",
      batchSize: 8,
      workers: 1,
      wasmDir: "",
    });
    assert.equal(throughput.backend, "wasm");
    assert.equal(throughput.workers, 1);
    assert.ok(throughput.macsPerSecond > 0 && Number.isFinite(throughput.macsPerSecond));
    assert.ok(throughput.stepOverheadSeconds >= 0 && throughput.secondsPerParam >= 0);
    assert.ok(seconds > 0);
  },
);

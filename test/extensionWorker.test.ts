/**
 * The extension's training / gradient-flow worker thread (extension/src/trainWorker.ts, run from source via tsx):
 * a gradient-flow job returns the network's and its plain twin's results; a training job streams events with a
 * gradient snapshot per epoch; "cancel" stops a run.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { analyzeSpecText, plainTwin } from "../extension/src/pure/specDocument";
import { collect } from "./workerHarness";
import type { HostToWorker, WorkerToHost } from "../extension/src/pure/workerProtocol";
import type { TrainingEvent } from "../model-core/src/protocol";

const root = join(__dirname, "..");
const WORKER = join(root, "extension", "src", "trainWorker.ts");

const TINY = `import { resnet, stage } from "resnet-studio";
export default resnet({
  name: "tiny-mnist", input: [1, 28, 28], stem: "cifar", block: "basic",
  stages: [stage({ channels: 4, blocks: 1 }), stage({ channels: 8, blocks: 1, stride: 2 })],
  shortcut: "B", classes: 10,
});
`;

function startWorker(): Worker {
  // Worker threads do not take .ts entries: register tsx's require hook, then load the source.
  return new Worker(`require("tsx/cjs"); require(${JSON.stringify(WORKER)});`, {
    eval: true,
    env: { ...process.env, RESNET_STUDIO_BACKEND: "cpu" },
  });
}

/** The worker as the extension ships it (esbuild bundle, every tfjs backend inside). */
const BUNDLED_WORKER = join(root, "dist", "trainWorker.js");

test("gradient-flow job: residual and plain twin results with per-node statistics", { timeout: 120_000 }, async () => {
  const { spec, graph } = analyzeSpecText(TINY, "tiny.resnet.ts");
  assert.ok(spec && graph);
  const plain = plainTwin(spec);
  const worker = startWorker();
  try {
    const done = collect(worker, (m) => m.type === "gradients" || m.type === "error");
    worker.postMessage({
      type: "gradientFlow",
      graph,
      plain,
      backend: "cpu",
      batch: 4,
      seed: 1,
      wasmDir: "",
    } satisfies HostToWorker);
    const messages = await done;
    const last = messages[messages.length - 1]!;
    assert.equal(last.type, "gradients", JSON.stringify(last));
    if (last.type !== "gradients") return;
    const { residual, plain: plainResult } = last.pair;
    assert.ok(plainResult);
    assert.equal(residual.batch, 4);
    assert.ok(residual.adds.length === 2, "one split per residual block");
    assert.equal(plainResult.adds.length, 0);
    assert.ok(residual.nodes.find((n) => n.id === "conv1")!.activation.l2 > 0);
    assert.ok(Number.isFinite(residual.ratio.value) && residual.ratio.value > 0);
  } finally {
    await worker.terminate();
  }
});

test(
  "training job: streams start, steps and epochs with a gradient snapshot, then finishes; cancel stops it",
  { timeout: 180_000 },
  async () => {
    const { graph } = analyzeSpecText(TINY, "tiny.resnet.ts");
    assert.ok(graph);
    const worker = startWorker();
    try {
      const done = collect(
        worker,
        (m) =>
          m.type === "error" || (m.type === "training" && (m.event.kind === "finished" || m.event.kind === "failed")),
      );
      const job: HostToWorker = {
        type: "train",
        graph,
        backend: "cpu",
        dataset: "synthetic:count=96",
        dataDir: join(root, "dist", "data"),
        wasmDir: "",
        gradientBatch: 4,
        config: { epochs: 2, batchSize: 16, logEvery: 1, valFraction: 0.25 },
      };
      worker.postMessage(job);
      const events = (await done).flatMap((m): TrainingEvent[] => (m.type === "training" ? [m.event] : []));
      const kinds = events.map((e) => e.kind);
      assert.equal(kinds[0], "started", kinds.join(","));
      assert.ok(kinds.includes("step"));
      assert.equal(events.filter((e) => e.kind === "epoch").length, 2);
      const epoch = events.find((e) => e.kind === "epoch");
      assert.ok(epoch && epoch.kind === "epoch", `an epoch event in ${kinds.join(",")}`);
      assert.ok(epoch.gradients && epoch.gradients.nodes.length > 0, "the epoch carries a gradient-flow snapshot");
      assert.ok(epoch.point.valAccuracy >= 0 && epoch.point.valAccuracy <= 1);
      const last = events[events.length - 1]!;
      assert.ok(last.kind === "finished" && !last.cancelled, JSON.stringify(last));

      // Cancel a longer run right after it starts.
      const cancelled = collect(
        worker,
        (m) =>
          m.type === "error" || (m.type === "training" && (m.event.kind === "finished" || m.event.kind === "failed")),
      );
      worker.postMessage({
        ...job,
        dataset: "synthetic:count=2000",
        config: { epochs: 50, batchSize: 16, logEvery: 1, valFraction: 0.1 },
      } satisfies HostToWorker);
      await new Promise((r) => setTimeout(r, 1500));
      worker.postMessage({ type: "cancel" } satisfies HostToWorker);
      const after = (await cancelled).filter((m) => m.type === "training");
      const end = after[after.length - 1]!;
      assert.ok(end.type === "training" && end.event.kind === "finished" && end.event.cancelled, JSON.stringify(end));
      // Measured in work, not milliseconds: the run stopped before its 50 epochs.
      const epochsRun = after.filter((m) => m.type === "training" && m.event.kind === "epoch").length;
      assert.ok(epochsRun < 50, `${epochsRun} epochs: the cancel did not stop the run`);
    } finally {
      await worker.terminate();
    }
  },
);

test(
  "the bundled worker (dist/trainWorker.js) keeps every backend: a gradient-flow job runs on cpu and on wasm",
  { timeout: 120_000 },
  async () => {
    const { spec, graph } = analyzeSpecText(TINY, "tiny.resnet.ts");
    assert.ok(spec && graph);
    for (const backend of ["cpu", "wasm"] as const) {
      const worker = new Worker(BUNDLED_WORKER);
      try {
        const done = collect(worker, (m) => m.type === "gradients" || m.type === "error");
        worker.postMessage({
          type: "gradientFlow",
          graph,
          plain: null,
          backend,
          batch: 2,
          seed: 1,
          wasmDir: join(root, "dist", "wasm") + "/",
        } satisfies HostToWorker);
        const messages = await done;
        const last = messages[messages.length - 1]!;
        assert.equal(last.type, "gradients", `${backend}: ${JSON.stringify(last)}`);
        if (last.type === "gradients") assert.equal(last.pair.residual.backend, backend);
      } finally {
        await worker.terminate();
      }
    }
  },
);

test(
  "calibrate job: the worker measures the backend and answers with a fitted throughput",
  { timeout: 300_000 },
  async () => {
    const worker = startWorker();
    try {
      const done = collect(worker, (m) => m.type === "calibration" || m.type === "error");
      // Batch 8 on wasm, one replica: a few seconds even on a loaded machine.
      worker.postMessage({
        type: "calibrate",
        backend: "wasm",
        batchSize: 8,
        workers: 1,
        wasmDir: "",
      } satisfies HostToWorker);
      const messages = await done;
      const last = messages[messages.length - 1]!;
      assert.equal(last.type, "calibration", JSON.stringify(last));
      if (last.type !== "calibration") return;
      assert.equal(last.throughput.backend, "wasm");
      assert.equal(last.throughput.workers, 1);
      assert.ok(last.throughput.macsPerSecond > 0 && Number.isFinite(last.throughput.macsPerSecond));
      assert.ok(last.throughput.stepOverheadSeconds >= 0 && last.throughput.secondsPerParam >= 0);
      assert.ok(last.seconds > 0);
    } finally {
      await worker.terminate();
    }
  },
);

/**
 * The extension's worker (the shipped bundle, dist/trainWorker.js, with dist/resnet_studio_torch.py beside it) on the
 * torch backend: Show Gradient Flow equals the tfjs result node by node, Train Small Model streams the same events
 * with a snapshot per epoch and stops on cancel, and a missing Python fails with the install message. Needs
 * `npm run build` and a Python with torch (RESNET_STUDIO_PYTHON, default /usr/bin/python3); skips without one, and
 * fails under CI=true.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { analyzeSpecText, plainTwin } from "../extension/src/pure/specDocument";
import { collect } from "./workerHarness";
import type { HostToWorker, WorkerToHost } from "../extension/src/pure/workerProtocol";
import type { TrainingEvent } from "../model-core/src/protocol";
import type { GradientFlowResult } from "../model-core/src/analysis/gradflow";

const root = join(__dirname, "..");
const BUNDLED_WORKER = join(root, "dist", "trainWorker.js");
const python = process.env.RESNET_STUDIO_PYTHON ?? "/usr/bin/python3";
const hasTorch = spawnSync(python, ["-c", "import torch"], { encoding: "utf8" }).status === 0;

function ready(t: { skip: (message: string) => void }): boolean {
  const missing = !existsSync(BUNDLED_WORKER)
    ? "dist/trainWorker.js (run npm run build)"
    : !hasTorch
      ? `torch for ${python}`
      : null;
  if (!missing) return true;
  if (process.env.CI === "true") assert.fail(`missing ${missing}`);
  t.skip(`missing ${missing}`);
  return false;
}

const TINY = `import { resnet, stage } from "resnet-studio";
export default resnet({
  name: "tiny-mnist", input: [1, 28, 28], stem: "cifar", block: "basic",
  stages: [stage({ channels: 4, blocks: 1 }), stage({ channels: 8, blocks: 1, stride: 2 })],
  shortcut: "B", classes: 10,
});
`;

const finished = (m: WorkerToHost) =>
  m.type === "error" || (m.type === "training" && (m.event.kind === "finished" || m.event.kind === "failed"));

test(
  "Show Gradient Flow on torch: the residual net and its plain twin equal the tfjs pass within 1e-3 per node",
  { timeout: 300_000 },
  async (t) => {
    if (!ready(t)) return;
    const { spec, graph } = analyzeSpecText(TINY, "tiny.resnet.ts");
    assert.ok(spec && graph);
    const plain = plainTwin(spec);
    const results: Record<string, WorkerToHost> = {};
    for (const backend of ["cpu", "torch"] as const) {
      const worker = new Worker(BUNDLED_WORKER);
      try {
        const done = collect(worker, (m) => m.type === "gradients" || m.type === "error");
        worker.postMessage({
          type: "gradientFlow",
          graph,
          plain,
          backend,
          batch: 4,
          seed: 1,
          wasmDir: "",
          python,
          device: "cpu",
        } satisfies HostToWorker);
        const messages = await done;
        results[backend] = messages[messages.length - 1]!;
      } finally {
        await worker.terminate();
      }
    }
    const a = results.cpu;
    const b = results.torch;
    assert.ok(a.type === "gradients" && b.type === "gradients", JSON.stringify(b));
    assert.match(b.pair.residual.backend, /^torch /);
    for (const key of ["residual", "plain"] as const) {
      const x: GradientFlowResult = a.pair[key]!;
      const y: GradientFlowResult = b.pair[key]!;
      assert.deepEqual(
        y.nodes.map((n) => n.id),
        x.nodes.map((n) => n.id),
      );
      x.nodes.forEach((n, i) => {
        const l2 = y.nodes[i].activation.l2;
        assert.ok(
          Math.abs(l2 - n.activation.l2) <= 1e-3 * Math.max(n.activation.l2, 1e-12),
          `${key} ${n.id}: ${l2} vs ${n.activation.l2}`,
        );
      });
    }
  },
);

test(
  "Train Small Model on torch: events with a gradient snapshot per epoch, then finished; cancel stops it",
  { timeout: 300_000 },
  async (t) => {
    if (!ready(t)) return;
    const { graph } = analyzeSpecText(TINY, "tiny.resnet.ts");
    assert.ok(graph);
    const worker = new Worker(BUNDLED_WORKER);
    try {
      const job: HostToWorker = {
        type: "train",
        graph,
        backend: "torch",
        dataset: "synthetic:count=96",
        dataDir: join(root, "dist", "data"),
        wasmDir: "",
        gradientBatch: 4,
        config: { epochs: 2, batchSize: 16, logEvery: 1, valFraction: 0.25 },
        python,
        device: "cpu",
      };
      const done = collect(worker, finished);
      worker.postMessage(job);
      const events = (await done).flatMap((m): TrainingEvent[] => (m.type === "training" ? [m.event] : []));
      const kinds = events.map((e) => e.kind);
      assert.equal(kinds[0], "started", kinds.join(","));
      const started = events[0];
      assert.ok(started.kind === "started" && /^torch /.test(started.backend), JSON.stringify(started));
      assert.equal(events.filter((e) => e.kind === "step").length, 2 * 4);
      const epochs = events.filter((e) => e.kind === "epoch");
      assert.equal(epochs.length, 2);
      for (const epoch of epochs) {
        assert.ok(
          epoch.kind === "epoch" && epoch.gradients && epoch.gradients.nodes.length === graph.nodes.length,
          "each epoch carries a snapshot of every node",
        );
        assert.equal(epoch.gradients.batch, 4);
      }
      const last = events[events.length - 1]!;
      assert.ok(last.kind === "finished" && !last.cancelled, JSON.stringify(last));

      const cancelled = collect(worker, finished);
      const seen: TrainingEvent[] = [];
      worker.on("message", (m: WorkerToHost) => {
        if (m.type !== "training") return;
        seen.push(m.event);
        // Cancel once the run is streaming steps.
        if (m.event.kind === "step" && m.event.point.globalStep === 3)
          worker.postMessage({ type: "cancel" } satisfies HostToWorker);
      });
      worker.postMessage({
        ...job,
        dataset: "synthetic:count=4000",
        config: { epochs: 50, batchSize: 16, logEvery: 1, valFraction: 0.1 },
      } satisfies HostToWorker);
      const after = (await cancelled).filter((m) => m.type === "training");
      const end = after[after.length - 1]!;
      assert.ok(end.type === "training" && end.event.kind === "finished" && end.event.cancelled, JSON.stringify(end));
      assert.ok(!seen.some((e) => e.kind === "epoch"), "stopped inside the first epoch");
    } finally {
      await worker.terminate();
    }
  },
);

test(
  "Train Small Model on torch with a Python that does not exist fails with the install message",
  { timeout: 120_000 },
  async (t) => {
    if (!ready(t)) return;
    const { graph } = analyzeSpecText(TINY, "tiny.resnet.ts");
    assert.ok(graph);
    const worker = new Worker(BUNDLED_WORKER);
    try {
      const done = collect(worker, finished);
      worker.postMessage({
        type: "train",
        graph,
        backend: "torch",
        dataset: "synthetic:count=32",
        dataDir: join(root, "dist", "data"),
        wasmDir: "",
        gradientBatch: 4,
        config: { epochs: 1, batchSize: 16 },
        python: "/nonexistent/python3",
        device: "cpu",
      } satisfies HostToWorker);
      const messages = await done;
      const last = messages[messages.length - 1]!;
      assert.ok(last.type === "training" && last.event.kind === "failed", JSON.stringify(last));
      assert.match(
        last.event.message,
        /^Python not found: `\/nonexistent\/python3` \(the setting resnetStudio\.python\) does not exist\. .*pip install torch/,
      );
    } finally {
      await worker.terminate();
    }
  },
);

test(
  "the calibrate job on torch measures PyTorch on its device; without Python it answers the install message",
  { timeout: 300_000 },
  async (t) => {
    if (!ready(t)) return;
    const runJob = (job: HostToWorker) => {
      const worker = new Worker(BUNDLED_WORKER);
      const done = collect(worker, (m) => m.type === "calibration" || m.type === "error");
      worker.postMessage(job);
      return done.then((messages) => messages[messages.length - 1]!).finally(() => worker.terminate());
    };
    const measured = await runJob({
      type: "calibrate",
      backend: "torch",
      batchSize: 8,
      wasmDir: "",
      python,
      device: "cpu",
    });
    assert.ok(measured.type === "calibration", JSON.stringify(measured));
    assert.match(measured.throughput.backend, /^torch \S+ \(cpu\)$/);
    assert.equal(measured.throughput.workers, 1);
    assert.ok(measured.throughput.macsPerSecond > 0);
    const missing = await runJob({
      type: "calibrate",
      backend: "torch",
      batchSize: 8,
      wasmDir: "",
      python: "/nonexistent/python3",
      device: "cpu",
    });
    assert.ok(missing.type === "error", JSON.stringify(missing));
    assert.match(
      missing.message,
      /^Python not found: `\/nonexistent\/python3` \(the setting resnetStudio\.python\) does not exist\. .*pip install torch/,
    );
    assert.doesNotMatch(missing.message, /\n\s+at /);
  },
);

/**
 * The extension's worker (the shipped bundle, dist/trainWorker.js, with dist/resnet_studio_torch.py beside it) on the
 * torch backend: Show Gradient Flow equals the tfjs result node by node, Train Small Model pushes the same events
 * with a snapshot per epoch and stops on cancel, and a missing Python fails the job with the install message. Needs
 * `npm run build` and a Python with torch (RESNET_STUDIO_PYTHON, default /usr/bin/python3); skips without one, and
 * fails under CI=true.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { analyzeSpecText, plainTwin } from "../extension/src/pure/specDocument";
import { TrainWorkerHost } from "../extension/src/trainWorkerHost";
import { BUNDLED_WORKER, spawnBundledWorker, trainingEvents } from "./workerHarness";
import { testPython } from "./toolSkip";
import type { TrainJob, TrainWorkerPush } from "../extension/src/pure/workerProtocol";
import type { GradientPair } from "../model-core/src/protocol";
import type { GradientFlowResult } from "../model-core/src/analysis/gradflow";

const root = join(__dirname, "..");
const python = testPython();
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

const INSTALL_MESSAGE =
  /^Python not found: `\/nonexistent\/python3` \(the setting resnetStudio\.python\) does not exist\. .*pip install torch/;

test(
  "Show Gradient Flow on torch: the residual net and its plain twin equal the tfjs pass within 1e-3 per node",
  { timeout: 300_000 },
  async (t) => {
    if (!ready(t)) return;
    const { spec, graph } = analyzeSpecText(TINY, "tiny.resnet.ts");
    assert.ok(spec && graph);
    const plain = plainTwin(spec);
    const results: Partial<Record<"cpu" | "torch", GradientPair>> = {};
    for (const backend of ["cpu", "torch"] as const) {
      results[backend] = await new TrainWorkerHost(spawnBundledWorker).run({
        kind: "gradientFlow",
        graph,
        plain,
        backend,
        batch: 4,
        seed: 1,
        wasmDir: "",
        python,
        device: "cpu",
      });
    }
    const a = results.cpu!;
    const b = results.torch!;
    assert.match(b.residual.backend, /^torch /);
    for (const key of ["residual", "plain"] as const) {
      const x: GradientFlowResult = a[key]!;
      const y: GradientFlowResult = b[key]!;
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
    const host = new TrainWorkerHost(spawnBundledWorker);
    const job: Extract<TrainJob, { kind: "train" }> = {
      kind: "train",
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
    const pushes: TrainWorkerPush[] = [];
    const result = await host.run(job, (m) => pushes.push(m));
    assert.equal(result.cancelled, false);
    const events = trainingEvents(pushes);
    const kinds = events.map((e) => e.kind);
    // The data's preview comes first, on torch as on tfjs: the same loaded dataset.
    assert.deepEqual(kinds.slice(0, 2), ["preview", "started"], kinds.join(","));
    const started = events[1];
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

    const seen: TrainWorkerPush[] = [];
    const cancelled = await host.run(
      { ...job, dataset: "synthetic:count=4000", config: { epochs: 50, batchSize: 16, logEvery: 1, valFraction: 0.1 } },
      (m) => {
        seen.push(m);
        // Cancel once the run is streaming steps.
        if (m.type === "training" && m.event.kind === "step" && m.event.point.globalStep === 3) host.cancel();
      },
    );
    assert.equal(cancelled.cancelled, true);
    assert.ok(!trainingEvents(seen).some((e) => e.kind === "epoch"), "stopped inside the first epoch");
  },
);

test(
  "Train Small Model on torch with a Python that does not exist fails with the install message",
  { timeout: 120_000 },
  async (t) => {
    if (!ready(t)) return;
    const { graph } = analyzeSpecText(TINY, "tiny.resnet.ts");
    assert.ok(graph);
    await assert.rejects(
      new TrainWorkerHost(spawnBundledWorker).run({
        kind: "train",
        graph,
        backend: "torch",
        dataset: "synthetic:count=32",
        dataDir: join(root, "dist", "data"),
        wasmDir: "",
        gradientBatch: 4,
        config: { epochs: 1, batchSize: 16 },
        python: "/nonexistent/python3",
        device: "cpu",
      }),
      (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.match(err.message, INSTALL_MESSAGE);
        return true;
      },
    );
  },
);

test(
  "the calibrate job on torch measures PyTorch on its device; without Python it answers the install message",
  { timeout: 300_000 },
  async (t) => {
    if (!ready(t)) return;
    const host = new TrainWorkerHost(spawnBundledWorker);
    const measured = await host.run({
      kind: "calibrate",
      backend: "torch",
      batchSize: 8,
      wasmDir: "",
      python,
      device: "cpu",
    });
    assert.match(measured.throughput.backend, /^torch \S+ \(cpu\)$/);
    assert.equal(measured.throughput.workers, 1);
    assert.ok(measured.throughput.macsPerSecond > 0);
    await assert.rejects(
      host.run({
        kind: "calibrate",
        backend: "torch",
        batchSize: 8,
        wasmDir: "",
        python: "/nonexistent/python3",
        device: "cpu",
      }),
      (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.match(err.message, INSTALL_MESSAGE);
        assert.doesNotMatch(err.message, /\n\s+at /);
        return true;
      },
    );
  },
);

/**
 * Train Small Model's job records its run (extension/src/trainWorker.ts around resnet-studio/runs/recorder): on tfjs
 * and on torch, run.json and a checkpoint after every epoch in the job's run folder, a resume that continues the same
 * record from its checkpoint, and a cancel that keeps the last complete epoch.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { analyzeSpecText } from "../extension/src/pure/specDocument";
import { TrainWorkerHost } from "../extension/src/trainWorkerHost";
import { BUNDLED_WORKER, spawnBundledWorker, spawnSourceWorker } from "./workerHarness";
import { testPython } from "./toolSkip";
import type { TrainJob } from "../extension/src/pure/workerProtocol";
import { readRunRecord } from "../model-core/src/runs/listing";
import { readCheckpoint } from "../model-core/src/runtime/checkpoint";

const root = join(__dirname, "..");
const python = testPython();
const hasTorch = spawnSync(python, ["-c", "import torch"], { encoding: "utf8" }).status === 0;

const TINY = `import { resnet, stage } from "resnet-studio";
export default resnet({
  name: "tiny-runs", input: [1, 28, 28], stem: "cifar", block: "basic",
  stages: [stage({ channels: 4, blocks: 1 }), stage({ channels: 8, blocks: 1, stride: 2 })],
  classes: 10,
});
`;

async function recordsAndResumes(backend: "cpu" | "torch", spawn: () => import("node:worker_threads").Worker) {
  const { graph } = analyzeSpecText(TINY, "tiny.resnet.ts");
  assert.ok(graph);
  const folder = mkdtempSync(join(tmpdir(), "rs-runs-worker-"));
  const host = new TrainWorkerHost(spawn);
  try {
    const dir = join(folder, "run");
    const job: Extract<TrainJob, { kind: "train" }> = {
      kind: "train",
      graph,
      backend,
      dataset: "synthetic:count=64",
      dataDir: join(root, "dist", "data"),
      wasmDir: "",
      gradientBatch: 4,
      config: { epochs: 2, batchSize: 16, logEvery: 1, valFraction: 0.25 },
      run: { dir, specText: TINY, specFile: null, datasetArg: "synthetic:count=64" },
      ...(backend === "torch" ? { python, device: "cpu" as const } : {}),
    };
    const first = await host.run(job, () => undefined);
    assert.equal(first.cancelled, false);
    const record = readRunRecord(dir)!;
    assert.equal(record.status, "completed");
    assert.equal(record.backend, backend);
    assert.equal(record.device, "cpu");
    assert.equal(record.history.length, 2);
    assert.equal(record.checkpointEpoch, 2);
    assert.equal(record.specText, TINY);
    assert.match(record.dataset.sha256, /^[0-9a-f]{64}$/);
    assert.equal(readCheckpoint(dir).header.specHash, record.architectureHash);

    // Resume to 3 epochs: the same folder and record, one more epoch.
    const resumed = await host.run(
      { ...job, config: { ...job.config, epochs: 3 }, run: { ...job.run!, resume: true }, resumeFrom: dir },
      () => undefined,
    );
    assert.equal(resumed.cancelled, false);
    const after = readRunRecord(dir)!;
    assert.deepEqual(
      after.history.map((e) => e.epoch),
      [1, 2, 3],
    );
    assert.equal(after.startedAt, record.startedAt);
    assert.equal(readCheckpoint(dir).header.epoch, 3);

    // Cancel inside the second epoch: the record says cancelled, the checkpoint holds epoch 1.
    const cancelDir = join(folder, "cancelled");
    const cancelled = await host.run(
      {
        ...job,
        config: { ...job.config, epochs: 20 },
        run: { ...job.run!, dir: cancelDir },
      },
      (m) => {
        if (m.type === "training" && m.event.kind === "step" && m.event.point.epoch === 1) host.cancel();
      },
    );
    assert.equal(cancelled.cancelled, true);
    const stopped = readRunRecord(cancelDir)!;
    assert.equal(stopped.status, "cancelled");
    assert.equal(stopped.history.length, 1);
    assert.equal(readCheckpoint(cancelDir).header.epoch, 1);
  } finally {
    host.stop();
    rmSync(folder, { recursive: true, force: true });
  }
}

test("a train job with a run folder records, resumes and cancels on tfjs", { timeout: 300_000 }, () =>
  recordsAndResumes("cpu", spawnSourceWorker),
);

test("a train job with a run folder records, resumes and cancels on torch", { timeout: 300_000 }, async (t) => {
  const missing = !existsSync(BUNDLED_WORKER)
    ? "dist/trainWorker.js (run npm run build)"
    : !hasTorch
      ? `torch for ${python}`
      : null;
  if (missing) {
    if (process.env.CI === "true") assert.fail(`missing ${missing}`);
    t.skip(`missing ${missing}`);
    return;
  }
  await recordsAndResumes("torch", spawnBundledWorker);
});

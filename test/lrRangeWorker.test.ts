/** Find Learning Rate in the extension's worker: the range test streams its points and ends with a suggestion; cancel stops it. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { analyzeSpecText } from "../extension/src/pure/specDocument";
import type { HostToWorker, WorkerToHost } from "../extension/src/pure/workerProtocol";

const WORKER = join(__dirname, "..", "extension", "src", "trainWorker.ts");
const TINY = `import { resnet, stage } from "resnet-studio";
export default resnet({ name: "tiny", input: [1, 8, 8], stem: "cifar", block: "basic", stages: [stage({ channels: 4, blocks: 1 })], classes: 4 });
`;

test("lrRange job: streamed results grow, the last is done with a suggested rate", { timeout: 180_000 }, async () => {
  const { graph } = analyzeSpecText(TINY, "tiny.resnet.ts");
  assert.ok(graph);
  const worker = new Worker(`require("tsx/cjs"); require(${JSON.stringify(WORKER)});`, {
    eval: true,
    env: { ...process.env, RESNET_STUDIO_BACKEND: "cpu" },
  });
  try {
    const seen: Extract<WorkerToHost, { type: "lrRange" }>[] = [];
    const done = new Promise<void>((resolve, reject) => {
      worker.on("message", (m: WorkerToHost) => {
        if (m.type === "error") reject(new Error(m.message));
        if (m.type === "lrRange") {
          seen.push(m);
          if (m.done) resolve();
        }
      });
      worker.on("error", reject);
    });
    worker.postMessage({
      type: "lrRange",
      graph,
      backend: "cpu",
      dataset: "synthetic:count=64",
      dataDir: "",
      options: { minLr: 1e-4, maxLr: 100, steps: 30, batchSize: 16 },
    } satisfies HostToWorker);
    await done;
    assert.ok(seen.length >= 2, "partial results while it runs");
    for (let i = 1; i < seen.length; i++)
      assert.ok(seen[i]!.result.points.length >= seen[i - 1]!.result.points.length, "points only accumulate");
    assert.ok(
      seen[0]!.result.points.length < seen.at(-1)!.result.points.length,
      "the first report comes before the end",
    );
    const last = seen.at(-1)!.result;
    assert.ok(last.suggested !== null && last.suggested > 1e-4 && last.suggested < 100, `suggested ${last.suggested}`);
  } finally {
    await worker.terminate();
  }
});

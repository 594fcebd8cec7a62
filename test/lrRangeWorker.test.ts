/** Find Learning Rate in the extension's worker: the range test pushes its points and answers with the final result and a suggestion. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { analyzeSpecText } from "../extension/src/pure/specDocument";
import { TrainWorkerHost } from "../extension/src/trainWorkerHost";
import type { LrRangeResult } from "../model-core/src/runtime/lrFinder";
import { spawnSourceWorker } from "./workerHarness";
import { spawnSync } from "node:child_process";
import { skipWithoutTool } from "./toolSkip";

const TINY = `import { resnet, stage } from "resnet-studio";
export default resnet({ name: "tiny", input: [1, 8, 8], stem: "cifar", block: "basic", stages: [stage({ channels: 4, blocks: 1 })], classes: 4 });
`;

test(
  "lrRange job: pushed results grow, the response is the final one with a suggested rate",
  { timeout: 180_000 },
  async () => {
    const { graph } = analyzeSpecText(TINY, "tiny.resnet.ts");
    assert.ok(graph);
    const host = new TrainWorkerHost(spawnSourceWorker);
    const seen: LrRangeResult[] = [];
    const last = await host.run(
      {
        kind: "lrRange",
        graph,
        backend: "cpu",
        dataset: "synthetic:count=64",
        dataDir: "",
        options: { minLr: 1e-4, maxLr: 100, steps: 30, batchSize: 16 },
      },
      (m) => {
        if (m.type === "lrRange") seen.push(m.result);
      },
    );
    assert.ok(seen.length >= 2, "partial results while it runs");
    for (let i = 1; i < seen.length; i++)
      assert.ok(seen[i].points.length >= seen[i - 1].points.length, "points only accumulate");
    assert.ok(seen[0].points.length < last.points.length, "the first push comes before the end");
    assert.ok(last.suggested !== null && last.suggested > 1e-4 && last.suggested < 100, `suggested ${last.suggested}`);
  },
);

test(
  "lrRange job: cancel stops the test between steps and answers with the points so far",
  { timeout: 180_000 },
  async () => {
    const { graph } = analyzeSpecText(TINY, "tiny.resnet.ts");
    assert.ok(graph);
    const host = new TrainWorkerHost(spawnSourceWorker);
    let pushes = 0;
    const result = await host.run(
      {
        kind: "lrRange",
        graph,
        backend: "cpu",
        dataset: "synthetic:count=64",
        dataDir: "",
        // Rates too small to diverge: only the cancel can end it early.
        options: { minLr: 1e-5, maxLr: 1e-3, steps: 400, batchSize: 16 },
      },
      () => {
        if (++pushes === 1) assert.equal(host.cancel(), true);
      },
    );
    assert.equal(result.diverged, false);
    assert.ok(result.points.length >= 5 && result.points.length < 400, `${result.points.length} points`);
    assert.equal(host.busy, false);
  },
);

const python = process.env.RESNET_STUDIO_PYTHON ?? "/usr/bin/python3";
const torchMissing =
  spawnSync(python, ["-c", "import torch"], { timeout: 60_000 }).status === 0 ? false : `${python} cannot import torch`;

test("lrRange job on torch runs on torch: a Python that does not exist fails it, never a silent tfjs run", async () => {
  const { graph } = analyzeSpecText(TINY, "tiny.resnet.ts");
  assert.ok(graph);
  const host = new TrainWorkerHost(spawnSourceWorker);
  await assert.rejects(
    host.run({
      kind: "lrRange",
      graph,
      backend: "torch",
      python: "/nonexistent/python3",
      dataset: "synthetic:count=64",
      dataDir: "",
      options: { minLr: 1e-4, maxLr: 100, steps: 10, batchSize: 16 },
    }),
    /Python not found: `\/nonexistent\/python3`/,
  );
});

test(
  "lrRange job on torch: the points grow live at growing rates, and a rate is suggested",
  { timeout: 300_000, skip: skipWithoutTool(torchMissing) },
  async () => {
    const { graph } = analyzeSpecText(TINY, "tiny.resnet.ts");
    assert.ok(graph);
    const host = new TrainWorkerHost(spawnSourceWorker);
    const seen: LrRangeResult[] = [];
    const last = await host.run(
      {
        kind: "lrRange",
        graph,
        backend: "torch",
        python,
        threads: 1,
        dataset: "synthetic:count=64",
        dataDir: "",
        options: { minLr: 1e-4, maxLr: 100, steps: 30, batchSize: 16 },
      },
      (m) => {
        if (m.type === "lrRange") seen.push(m.result);
      },
    );
    assert.ok(seen.length >= 2, "partial results while it runs");
    assert.ok(seen[0].points.length < last.points.length);
    assert.ok(
      last.points.every((p, i) => i === 0 || p.lr > last.points[i - 1].lr),
      "rates grow",
    );
    assert.ok(last.suggested !== null && last.suggested > 1e-4 && last.suggested < 100, `suggested ${last.suggested}`);
  },
);

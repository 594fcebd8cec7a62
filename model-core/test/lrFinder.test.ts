/** The learning-rate range test (Smith 2017): exponential schedule, smoothing, the suggestion, and a real short run. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { initBackend } from "../src/runtime/backend";
import { analyzeOrThrow } from "../src/analysis/analyze";
import { normalizeSpec } from "../src/spec/builders";
import { buildModel } from "../src/runtime/model";
import { syntheticDataset } from "../src/data/synthetic";
import { lrAt, lrRangeTest, smoothLosses, suggestLearningRate, type LrPoint } from "../src/runtime/lrFinder";

test("schedule, smoothing and suggestion", () => {
  assert.equal(lrAt(0, 5, 1e-4, 1), 1e-4);
  assert.ok(Math.abs(lrAt(4, 5, 1e-4, 1) - 1) < 1e-12);
  assert.ok(Math.abs(lrAt(2, 5, 1e-4, 1) - 1e-2) < 1e-12, "exponential: the middle step is the geometric mean");
  assert.deepEqual(
    smoothLosses([2, 2, 2], 0.9).map((v) => Math.round(v * 1e9) / 1e9),
    [2, 2, 2],
    "bias-corrected: a constant stays constant",
  );
  // Flat, then falling fastest between 1e-3 and 1e-2, then rising: the suggestion is the steepest point before the minimum.
  const curve: [number, number][] = [
    [1e-5, 2.3],
    [1e-4, 2.29],
    [1e-3, 2.1],
    [1e-2, 1.2],
    [1e-1, 0.9],
    [1, 3],
  ];
  const points: LrPoint[] = curve.map(([lr, loss]) => ({ lr, loss, smoothed: loss }));
  assert.equal(suggestLearningRate(points), 1e-2);
  assert.equal(
    suggestLearningRate(points.map((p) => ({ ...p, smoothed: 1 + p.lr }))),
    null,
    "a loss that never falls gives no suggestion",
  );
});

test(
  "a real range test on a tiny net: the rate grows every step, the loss falls then diverges, a rate is suggested",
  { timeout: 180_000 },
  async () => {
    await initBackend("cpu");
    const { spec } = normalizeSpec({
      name: "tiny",
      input: [1, 8, 8],
      stem: "cifar",
      block: "basic",
      stages: [{ channels: 4, blocks: 1 }],
      classes: 4,
    });
    assert.ok(spec);
    const model = buildModel(analyzeOrThrow(spec), { seed: 1 });
    const data = syntheticDataset({ count: 64, classes: 4, shape: [1, 8, 8], seed: 3, noise: 10 });
    try {
      const seen: number[] = [];
      const result = await lrRangeTest(
        model,
        data,
        { minLr: 1e-4, maxLr: 100, steps: 40, batchSize: 16 },
        undefined,
        (p) => seen.push(p.lr),
      );
      assert.equal(seen.length, result.points.length);
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i] > seen[i - 1], "the rate grows");
      assert.ok(result.diverged, `Adam at lr up to 100 diverges (last loss ${result.points.at(-1)?.loss})`);
      assert.ok(
        result.suggested !== null && result.suggested > 1e-4 && result.suggested < 10,
        `suggested ${result.suggested}`,
      );
      const min = Math.min(...result.points.map((p) => p.smoothed));
      assert.ok(min < result.points[0].smoothed, "the loss fell before it diverged");
    } finally {
      model.dispose();
    }
  },
);

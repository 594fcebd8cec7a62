import { test } from "node:test";
import assert from "node:assert/strict";
import { MAX_STEP_POINTS, appendStepPoint, smoothed, type StepCurvePoint } from "../src/runtime/stepCurves";
import { EMPTY_TRAINING, applyTrainingEvent } from "../src/protocol";
import type { StepMetrics } from "../src/runtime/trainTypes";

function step(globalStep: number, loss: number): StepMetrics {
  return {
    epoch: 0,
    step: globalStep,
    stepsPerEpoch: 10_000,
    globalStep,
    loss,
    accuracy: 0.5,
    lr: 0.1,
    imagesPerSecond: 100,
    epochSeconds: 1,
  };
}

test("smoothing is TensorBoard's debiased EMA: the first point is itself, then the weighted average", () => {
  const w = 0.6;
  const values = [2, 1, 1.5, 0.5];
  // TensorBoard: last = last·w + (1−w)·v; smoothed = last / (1 − wⁿ).
  let last = 0;
  const expected = values.map((v, i) => {
    last = last * w + (1 - w) * v;
    return last / (1 - w ** (i + 1));
  });
  const got = smoothed(values, w);
  assert.equal(got[0], 2, "no pull towards 0 at the first point");
  for (const [i, v] of got.entries()) assert.ok(Math.abs(v - expected[i]) < 1e-12, `${i}: ${v} vs ${expected[i]}`);
  // By hand: (0.6·0.4·2 + 0.4·1) / (1 − 0.36) = 0.88 / 0.64.
  assert.ok(Math.abs(got[1] - 0.88 / 0.64) < 1e-12);
  assert.deepEqual(smoothed(values, 0), values, "weight 0 is no smoothing");
  const constant = smoothed([3, 3, 3, 3, 3]);
  for (const v of constant) assert.ok(Math.abs(v - 3) < 1e-12, "a constant stays constant from the first step");
  assert.deepEqual(smoothed([1, NaN, 1]), [1, NaN, 1]);
});

test("every logged step is on the curve from the first, and a long run is thinned, keeping the latest", () => {
  let state = applyTrainingEvent(EMPTY_TRAINING, {
    kind: "started",
    model: "m",
    dataset: "d",
    backend: "wasm",
    epochs: 1,
    batch: 8,
  });
  state = applyTrainingEvent(state, { kind: "step", point: step(0, 2.3) });
  state = applyTrainingEvent(state, { kind: "step", point: step(1, 2.1) });
  assert.deepEqual(state.steps, [
    { step: 0, loss: 2.3, accuracy: 0.5 },
    { step: 1, loss: 2.1, accuracy: 0.5 },
  ]);
  let points: StepCurvePoint[] = [];
  for (let i = 0; i < 3 * MAX_STEP_POINTS; i++) points = appendStepPoint(points, step(i, 1));
  assert.ok(points.length < MAX_STEP_POINTS && points.length >= MAX_STEP_POINTS / 2, String(points.length));
  assert.equal(points.at(-1)?.step, 3 * MAX_STEP_POINTS - 1);
  for (let i = 1; i < points.length; i++) assert.ok(points[i].step > points[i - 1].step);
  // A new run starts a new curve.
  const again = applyTrainingEvent(state, {
    kind: "started",
    model: "m",
    dataset: "d",
    backend: "wasm",
    epochs: 1,
    batch: 8,
  });
  assert.deepEqual(again.steps, []);
});

/**
 * Training curves per logged step: the points kept for the charts (bounded), and TensorBoard's smoothing of them.
 * Pure (no tfjs): the host keeps the points in the training state, the webview draws them.
 */
import type { StepMetrics } from "./trainTypes";

/** One logged step on the curves: x is the run's global step. */
export interface StepCurvePoint {
  step: number;
  loss: number;
  accuracy: number;
}

/**
 * Points kept per run. Past this the series keeps every other point (the curve's shape stays, the state and the
 * snapshot stay small: 2,000 points are ≈ 60 KB of JSON).
 */
export const MAX_STEP_POINTS = 2000;

/** `points` with `step` appended, thinned to every other point when it reaches MAX_STEP_POINTS. */
export function appendStepPoint(points: readonly StepCurvePoint[], step: StepMetrics): StepCurvePoint[] {
  const next = [...points, { step: step.globalStep, loss: step.loss, accuracy: step.accuracy }];
  return next.length < MAX_STEP_POINTS ? next : next.filter((_, i) => i % 2 === 1 || i === next.length - 1);
}

/** TensorBoard's scalar smoothing weight (its dashboard's default, 0.6). */
export const DEFAULT_SMOOTHING = 0.6;

/**
 * TensorBoard's smoothing: an exponential moving average with weight `weight`, debiased by 1 − weightⁿ so the first
 * points are not pulled towards 0 (as Adam debiases its moments, Kingma & Ba 2015 §3). Non-finite values are
 * passed through without entering the average.
 */
export function smoothed(values: readonly number[], weight = DEFAULT_SMOOTHING): number[] {
  let average = 0;
  let count = 0;
  return values.map((v) => {
    if (!Number.isFinite(v)) return v;
    average = average * weight + (1 - weight) * v;
    count++;
    return weight === 0 ? v : average / (1 - weight ** count);
  });
}

/**
 * Training-cost estimate from the graph IR, before anything runs. One training step costs about three forward passes
 * of multiply-accumulates (forward, plus the gradients with respect to inputs and to weights), plus work per parameter
 * (optimiser update, averaging the replicas' gradients), plus a fixed overhead:
 *   seconds per step = stepOverheadSeconds + batch × 3 × MACs per image / macsPerSecond + params × secondsPerParam,
 * where the three constants are measured once per machine and backend (runtime/calibrate.ts) by a least-squares fit
 * through the step times of small probe networks. Pure arithmetic: no tfjs, no timers.
 */
import type { ModelGraph } from "./graph";

/** Forward + backward ≈ 3 forward passes of MACs (backward computes dL/dx and dL/dW, each about one forward). */
export const TRAIN_MACS_FACTOR = 3;

/** A backend's measured speed on this machine. */
export interface Throughput {
  /** The backend that was measured ("wasm", "tensorflow", "cpu", ...). */
  backend: string;
  /** Data-parallel replicas the measurement ran with. */
  workers: number;
  /** Multiply-accumulates per second of training work (forward + backward). */
  macsPerSecond: number;
  /** Fixed cost of one step regardless of its size (kernel dispatch, messages between replicas). */
  stepOverheadSeconds: number;
  /** Cost of one parameter per step (optimiser update, gradient averaging between replicas). */
  secondsPerParam: number;
}

/** One measured step time of a probe network. */
export interface StepSample {
  /** Forward MACs of one image. */
  macsPerImage: number;
  params: number;
  batchSize: number;
  /** Wall seconds of one training step. */
  seconds: number;
}

export interface TrainingEstimate {
  /** Forward MACs of one image (graph.totals.macs). */
  macsPerImage: number;
  /** Training MACs of one step: batch × 3 × MACs per image. */
  macsPerStep: number;
  batchSize: number;
  stepsPerEpoch: number;
  secondsPerStep: number;
  /** Training steps of one epoch (validation excluded). */
  secondsPerEpoch: number;
  imagesPerSecond: number;
}

/** Training MACs of one step of `batchSize` images of a network with `macsPerImage` forward MACs. */
export function trainingMacsPerStep(macsPerImage: number, batchSize: number): number {
  return batchSize * TRAIN_MACS_FACTOR * macsPerImage;
}

/** Seconds of one step on `throughput`. */
export function stepSeconds(
  cost: { macsPerImage: number; params: number },
  batchSize: number,
  throughput: Throughput,
): number {
  return (
    throughput.stepOverheadSeconds +
    trainingMacsPerStep(cost.macsPerImage, batchSize) / throughput.macsPerSecond +
    cost.params * throughput.secondsPerParam
  );
}

/** Steps of one epoch: as train() counts them (full batches only). */
export function stepsPerEpoch(trainSamples: number, batchSize: number): number {
  return Math.max(1, Math.floor(trainSamples / Math.max(1, Math.min(batchSize, trainSamples))));
}

export function estimateTraining(
  graph: Pick<ModelGraph, "totals">,
  options: { batchSize: number; trainSamples: number; throughput: Throughput },
): TrainingEstimate {
  const batchSize = Math.max(1, Math.min(options.batchSize, options.trainSamples));
  const macsPerImage = graph.totals.macs;
  const steps = stepsPerEpoch(options.trainSamples, batchSize);
  const perStep = stepSeconds({ macsPerImage, params: graph.totals.params }, batchSize, options.throughput);
  return {
    macsPerImage,
    macsPerStep: trainingMacsPerStep(macsPerImage, batchSize),
    batchSize,
    stepsPerEpoch: steps,
    secondsPerStep: perStep,
    secondsPerEpoch: perStep * steps,
    imagesPerSecond: batchSize / perStep,
  };
}

/**
 * Least-squares fit of seconds = overhead + work × secondsPerMac + params × secondsPerParam through the samples (work =
 * training MACs of the step). A coefficient that comes out negative (noise, or samples that can't tell two terms
 * apart) is dropped to 0 and the rest refitted, so every estimate grows with the network.
 */
export function fitThroughput(samples: readonly StepSample[], meta: { backend: string; workers: number }): Throughput {
  const rows = samples
    .filter((s) => s.seconds > 0 && s.macsPerImage > 0 && s.batchSize > 0)
    .map((s) => ({ features: [1, trainingMacsPerStep(s.macsPerImage, s.batchSize), s.params], y: s.seconds }));
  if (rows.length === 0) throw new Error("calibration produced no usable step times");
  // The MAC term always stays: without it nothing scales with the network's size.
  let active = [0, 1, 2].slice(0, Math.min(3, rows.length));
  if (!active.includes(1)) active = [1];
  for (;;) {
    const coefficients = leastSquares(
      rows.map((r) => active.map((j) => r.features[j])),
      rows.map((r) => r.y),
    );
    const negative = coefficients
      ? active.filter((j, k) => j !== 1 && coefficients[k] < 0)
      : active.filter((j) => j !== 1);
    if (coefficients && negative.length === 0 && coefficients[active.indexOf(1)] > 0) {
      const value = (j: number) => (active.includes(j) ? coefficients[active.indexOf(j)] : 0);
      return { ...meta, stepOverheadSeconds: value(0), macsPerSecond: 1 / value(1), secondsPerParam: value(2) };
    }
    if (negative.length === 0) {
      // Even the MAC term alone came out non-positive: the samples are noise. Fall back to the mean rate.
      const work = rows.reduce((a, r) => a + r.features[1], 0);
      const seconds = rows.reduce((a, r) => a + r.y, 0);
      return { ...meta, stepOverheadSeconds: 0, macsPerSecond: work / seconds, secondsPerParam: 0 };
    }
    active = active.filter((j) => j !== negative[negative.length - 1]);
  }
}

/** Solves min ‖X·b − y‖² by the normal equations (a few columns); null when they are singular. */
function leastSquares(x: number[][], y: number[]): number[] | null {
  const n = x[0].length;
  // Scale columns to unit size so MACs (≈1e9) and the intercept (1) don't make the system ill-conditioned.
  const scale = Array.from({ length: n }, (_, j) => Math.max(...x.map((row) => Math.abs(row[j]))) || 1);
  const a = Array.from({ length: n }, (_, i) =>
    Array.from({ length: n + 1 }, (_, j) =>
      j < n
        ? x.reduce((s, row) => s + (row[i] / scale[i]) * (row[j] / scale[j]), 0)
        : x.reduce((s, row, r) => s + (row[i] / scale[i]) * y[r], 0),
    ),
  );
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r][col]) > Math.abs(a[pivot][col])) pivot = r;
    if (Math.abs(a[pivot][col]) < 1e-12) return null;
    [a[col], a[pivot]] = [a[pivot], a[col]];
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = a[r][col] / a[col][col];
      for (let c = col; c <= n; c++) a[r][c] -= f * a[col][c];
    }
  }
  return a.map((row, i) => row[n] / row[i] / scale[i]);
}

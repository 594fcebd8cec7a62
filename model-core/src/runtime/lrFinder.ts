/**
 * The learning-rate range test (Smith 2017, "Cyclical Learning Rates for Training Neural Networks", §3.3): train
 * for a short run while the learning rate grows from tiny to large, and watch the loss. Here the rate grows
 * exponentially per step (so every decade gets the same number of steps), the loss is smoothed with an exponential
 * moving average (bias-corrected), and the run stops once the loss diverges. The suggested rate is where the
 * smoothed loss falls fastest against log(lr).
 */
import * as tf from "@tensorflow/tfjs-core";
import { BatchAdapter, type ImageDataset } from "../data/dataset";
import { SeededRng } from "../data/rng";
import { decayedParameterNames, Optimizer } from "./optim";
import { TrainStepper, type TrainableModel } from "./stepper";
import type { TrainConfig } from "./trainTypes";

export interface LrRangeOptions {
  minLr: number;
  maxLr: number;
  steps: number;
  batchSize: number;
  optimizer: TrainConfig["optimizer"];
  momentum: number;
  weightDecay: number;
  seed: number;
  /** EMA factor of the smoothed loss. */
  smoothing: number;
  /** Stop when the smoothed loss exceeds this many times its minimum. */
  divergence: number;
}

export const DEFAULT_LR_RANGE: LrRangeOptions = {
  minLr: 1e-6,
  maxLr: 1,
  steps: 80,
  batchSize: 64,
  optimizer: "adam",
  momentum: 0.9,
  weightDecay: 0,
  seed: 1,
  smoothing: 0.9,
  divergence: 4,
};

export interface LrPoint {
  lr: number;
  loss: number;
  smoothed: number;
}

export interface LrRangeResult {
  model: string;
  points: LrPoint[];
  /** null when the loss never fell. */
  suggested: number | null;
  /** True when the loss diverged before maxLr. */
  diverged: boolean;
}

/** The rate at step `i` of `steps`: minLr · (maxLr/minLr)^(i/(steps−1)). */
export function lrAt(i: number, steps: number, minLr: number, maxLr: number): number {
  return steps <= 1 ? minLr : minLr * (maxLr / minLr) ** (i / (steps - 1));
}

/** Bias-corrected exponential moving average of the losses. */
export function smoothLosses(losses: readonly number[], smoothing: number): number[] {
  let avg = 0;
  return losses.map((loss, i) => {
    avg = smoothing * avg + (1 - smoothing) * loss;
    return avg / (1 - smoothing ** (i + 1));
  });
}

/**
 * Where the smoothed loss falls fastest against log(lr), before its minimum: the largest rate at which the loss
 * still improves quickly. Null when it never falls.
 */
export function suggestLearningRate(points: readonly LrPoint[]): number | null {
  if (points.length < 3) return null;
  let minAt = 0;
  points.forEach((p, i) => {
    if (p.smoothed < points[minAt].smoothed) minAt = i;
  });
  let best: number | null = null;
  let steepest = 0;
  for (let i = 1; i <= minAt; i++) {
    const a = points[i - 1],
      b = points[i];
    const slope = (b.smoothed - a.smoothed) / (Math.log10(b.lr) - Math.log10(a.lr));
    if (Number.isFinite(slope) && slope < steepest) {
      steepest = slope;
      best = b.lr;
    }
  }
  return best;
}

/** Runs the test on `model` (its weights change: use a fresh model). `onPoint` sees every step. */
export async function lrRangeTest(
  model: TrainableModel,
  dataset: ImageDataset,
  options: Partial<LrRangeOptions> = {},
  signal?: AbortSignal,
  onPoint?: (p: LrPoint, i: number) => void,
): Promise<LrRangeResult> {
  const o = { ...DEFAULT_LR_RANGE, ...options };
  if (!(o.minLr > 0 && o.maxLr > o.minLr && o.steps >= 3))
    throw new Error(
      `LR range test: need 0 < minLr < maxLr and at least 3 steps (got ${o.minLr}, ${o.maxLr}, ${o.steps})`,
    );
  const spec = model.graph.spec;
  const adapter = new BatchAdapter(dataset, spec.input);
  const batch = Math.min(o.batchSize, dataset.count);
  const optimizer = new Optimizer(model.params, {
    kind: o.optimizer,
    momentum: o.momentum,
    weightDecay: o.weightDecay,
    decayed: decayedParameterNames(model.graph),
  });
  const stepper = new TrainStepper(model, optimizer);
  const rng = new SeededRng(o.seed);
  const [channels, height, width] = spec.input;
  const pixels = new Float32Array(batch * adapter.sampleSize);
  const labels = new Int32Array(batch);
  const points: LrPoint[] = [];
  const losses: number[] = [];
  let lowest = Infinity;
  let diverged = false;
  try {
    for (let i = 0; i < o.steps; i++) {
      if (signal?.aborted) break;
      const indices = Uint32Array.from({ length: batch }, () => rng.int(dataset.count));
      adapter.fill(indices, 0, batch, pixels);
      adapter.labels(indices, 0, batch, labels);
      const lr = lrAt(i, o.steps, o.minLr, o.maxLr);
      const x = tf.tensor4d(pixels, [batch, height, width, channels]);
      const y = tf.tensor1d(labels, "int32");
      let loss: number;
      try {
        loss = (await stepper.step(x, y, lr)).loss;
      } finally {
        tf.dispose([x, y]);
      }
      losses.push(Number.isFinite(loss) ? loss : Infinity);
      const smoothed = smoothLosses(losses, o.smoothing)[i];
      const point = { lr, loss, smoothed };
      points.push(point);
      onPoint?.(point, i);
      lowest = Math.min(lowest, smoothed);
      if (!Number.isFinite(smoothed) || smoothed > o.divergence * lowest) {
        diverged = true;
        break;
      }
      // Let timers and messages (a worker's "cancel" aborting `signal`) run between steps, as train() does.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  } finally {
    optimizer.dispose();
  }
  return { model: spec.name, points, suggested: suggestLearningRate(points), diverged };
}

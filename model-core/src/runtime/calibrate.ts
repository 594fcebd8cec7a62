/**
 * Measures the current tfjs backend's training speed with a few real steps of two small probe networks (the same
 * stepper, replica count and batch size train() would use), then fits the estimator's line (analysis/estimate.ts)
 * through them. A few seconds on wasm; the extension keeps the result per machine and backend.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import { analyzeOrThrow } from "../analysis/analyze";
import { fitThroughput, type StepSample, type Throughput } from "../analysis/estimate";
import { normalizeSpec } from "../spec/builders";
import type { ResNetOptions, ResNetSpec } from "../spec/types";
import { SeededRng } from "../data/rng";
import { buildModel } from "./model";
import { decayedParameterNames, Optimizer } from "./optim";
import { DataParallelStepper, resolveWorkerCount } from "./parallel";
import { LocalBatchStepper, type BatchStepper } from "./stepper";

/** A three-stage, one-block-per-stage basic net on MNIST-sized input; the last two stages downsample by `stride`. */
function calibrationProbe(channels: readonly [number, number, number], stride: number): ResNetOptions {
  const [first, second, third] = channels;
  return {
    name: `calibration probe ${channels.join("/")}`,
    input: [1, 28, 28],
    stem: "cifar",
    block: "basic",
    classes: 10,
    stages: [
      { channels: first, blocks: 1 },
      { channels: second, blocks: 1, stride },
      { channels: third, blocks: 1, stride },
    ],
  };
}

/**
 * MNIST-sized probes that separate the estimator's three terms: a tiny net (mostly per-step overhead), one with 4× its
 * MACs (≈ 2.4 M → 9.3 M per image, bracketing the small networks the editor trains), and one with a 512-wide last
 * stage at 2×2 pixels, whose ≈ 4.8 M parameters cost more than its ≈ 9.7 M MACs (the optimiser update and the
 * replicas' gradient traffic).
 */
export const CALIBRATION_PROBES: readonly ResNetOptions[] = [
  calibrationProbe([8, 16, 32], 2),
  calibrationProbe([16, 32, 64], 2),
  calibrationProbe([8, 16, 512], 4),
];

export interface CalibrationOptions {
  batchSize: number;
  /** As TrainConfig.workers: undefined = train()'s automatic choice. */
  workers?: number;
  /** Timed steps per probe (their median counts), after one warm-up step (kernel set-up, first allocations); default 5, 1 on cpu. */
  timedSteps?: number;
  signal?: AbortSignal;
}

export interface Calibration {
  throughput: Throughput;
  samples: StepSample[];
  seconds: number;
}

/** Median seconds of `timed` steps of a network at `batchSize`, after one untimed step (the median ignores a step slowed by other work on a shared machine). */
export async function measureStepSeconds(
  options: ResNetOptions | ResNetSpec,
  batchSize: number,
  workers: number | undefined,
  timed: number,
): Promise<StepSample & { workers: number }> {
  const { spec } = normalizeSpec(options);
  if (!spec) throw new Error(`${options.name ?? "probe"}: not a valid spec`);
  const graph = analyzeOrThrow(spec);
  const model = buildModel(graph, { seed: 1 });
  const optimizer = new Optimizer(model.params, {
    kind: "adam",
    momentum: 0.9,
    weightDecay: 0,
    decayed: decayedParameterNames(graph),
  });
  const backend = tf.getBackend();
  const replicas = resolveWorkerCount(workers, backend, batchSize);
  let stepper: BatchStepper | null = null;
  try {
    stepper =
      replicas > 1
        ? await DataParallelStepper.create(model, optimizer, { workers: replicas, backend, seed: 1 })
        : new LocalBatchStepper(model, optimizer);
    const [c, h, w] = spec.input;
    const rng = new SeededRng(7);
    const pixels = Float32Array.from({ length: batchSize * c * h * w }, () => rng.next() * 2 - 1);
    const labels = Int32Array.from({ length: batchSize }, () => Math.floor(rng.next() * spec.classes));
    await stepper.step(pixels, labels, batchSize, 1e-3);
    const times: number[] = [];
    for (let i = 0; i < Math.max(1, timed); i++) {
      const started = performance.now();
      await stepper.step(pixels, labels, batchSize, 1e-3);
      times.push((performance.now() - started) / 1000);
    }
    times.sort((a, b) => a - b);
    const median =
      times.length % 2 ? times[times.length >> 1] : (times[times.length / 2 - 1] + times[times.length / 2]) / 2;
    return {
      macsPerImage: graph.totals.macs,
      params: graph.totals.params,
      batchSize,
      seconds: median,
      workers: stepper.workers,
    };
  } finally {
    await stepper?.dispose();
    optimizer.dispose();
    model.dispose();
  }
}

export async function calibrateThroughput(options: CalibrationOptions): Promise<Calibration> {
  const started = performance.now();
  const samples: StepSample[] = [];
  let workers = 1;
  for (const probe of CALIBRATION_PROBES) {
    if (options.signal?.aborted) throw new Error("calibration cancelled");
    // The pure-JS cpu backend takes seconds per probe step: one timed step each keeps its calibration near a minute.
    const timed = options.timedSteps ?? (tf.getBackend() === "cpu" ? 1 : 5);
    const sample = await measureStepSeconds(probe, options.batchSize, options.workers, timed);
    workers = sample.workers;
    samples.push({
      macsPerImage: sample.macsPerImage,
      params: sample.params,
      batchSize: sample.batchSize,
      seconds: sample.seconds,
    });
  }
  return {
    throughput: fitThroughput(samples, { backend: tf.getBackend(), workers }),
    samples,
    seconds: (performance.now() - started) / 1000,
  };
}

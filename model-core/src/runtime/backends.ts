/**
 * One interface for every way this project computes: the TensorFlow.js backends (wasm, cpu, tensorflow) in process,
 * and PyTorch in a warm Python worker (torchBackend.ts). Training, gradient flow, calibration and the learning-rate
 * range test take the same options and give the same results and events (trainTypes.ts TrainEvent) on both; callers
 * (the CLI, the extension's worker) hold a Backend from `backendFor` and never ask which one it is.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ModelGraph } from "../analysis/graph";
import type { GradientFlowResult } from "../analysis/gradflow";
import { BatchAdapter, type ImageDataset } from "../data/dataset";
import { networkId } from "../spec/identity";
import { initBackend, type BackendChoice, type BackendInfo } from "./backend";
import type { BackendSetting } from "./backendNames";
import { calibrateThroughput, type Calibration } from "./calibrate";
import { loadCheckpointInto } from "./checkpoint";
import { gradientFlow, type PlainFlowBatch } from "./gradflow";
import { lrRangeTest, type LrPoint, type LrRangeOptions, type LrRangeResult } from "./lrFinder";
import { backendLimitBytes, checkPassMemory, passBatch, type PassBatchRequest } from "./memoryGuard";
import { buildModel, type ApplyMode, type TfModel } from "./model";
import { train, type TrainData } from "./train";
import type { TrainConfig, TrainEvent, TrainResult } from "./trainTypes";
import { torchBackend, type TorchSettings } from "./torchBackend";

export type { TorchSettings } from "./torchBackend";

/** Which backend answered and how, for start lines and summaries ("wasm", "torch"; detail: one human line). */
export interface BackendDescription {
  name: string;
  detail: string;
}

export interface BackendTrainOptions {
  graph: ModelGraph;
  data: TrainData;
  config: TrainConfig;
  /**
   * Receives the trained weights (the CLI keeps it for export): tfjs trains it in place, PyTorch loads its last
   * checkpoint into it. Absent: the backend builds what it needs and keeps nothing.
   */
  model?: TfModel;
  signal?: AbortSignal;
  /** Every event in order (start, steps, epochs, checkpoints, done), the same vocabulary on every backend. */
  onEvent?: (event: TrainEvent) => void;
  /** A gradient-flow pass on the first `count` training images after every epoch, delivered before its epoch event. */
  snapshot?: { count: number; onGradients: (epoch: number, result: GradientFlowResult) => void };
  /** Save a checkpoint here after every epoch. */
  checkpoint?: string;
  resumeFrom?: string;
  /** A weights-only state_dict to start from at epoch 0 with a fresh optimiser. */
  initialWeights?: string;
}

export interface BackendGradientFlowOptions {
  graph: ModelGraph;
  batch: PlainFlowBatch;
  /** "train" (default): BN on batch statistics. */
  mode?: ApplyMode;
  /** A checkpoint to measure, or the seeded initialisation. */
  weights: { checkpoint: string } | { seed: number };
}

export interface BackendCalibrateOptions {
  batchSize: number;
  /** Replicas of a tfjs backend (TrainConfig.workers); PyTorch runs one process. */
  workers?: number;
  timedSteps?: number;
  signal?: AbortSignal;
}

export interface BackendLrRangeOptions {
  graph: ModelGraph;
  dataset: ImageDataset;
  options: Partial<LrRangeOptions>;
  signal?: AbortSignal;
  onPoint?: (point: LrPoint, index: number) => void;
}

export interface Backend {
  /** Starts the backend (a tfjs backend's kernels, or the Python worker) and says what it is. Idempotent. */
  ready(): Promise<BackendDescription>;
  /**
   * The batch of a pass: the requested one, or the preferred one lowered until it fits the memory this backend can
   * hold (a tfjs backend's heap); PyTorch reports its own out-of-memory errors, so it keeps the batch it is given.
   */
  fitBatch(request: Omit<PassBatchRequest, "backend">): Promise<{ batch: number; note: string | null }>;
  /** Bytes a tfjs backend can hold, for estimating before allocating; null where the backend guards its own memory. */
  memoryLimitBytes(): Promise<number | null>;
  train(options: BackendTrainOptions): Promise<TrainResult>;
  gradientFlow(options: BackendGradientFlowOptions): Promise<GradientFlowResult>;
  calibrate(options: BackendCalibrateOptions): Promise<Calibration>;
  lrRange(options: BackendLrRangeOptions): Promise<LrRangeResult>;
  // Evaluation of a trained network on a dataset belongs here too, with the same options on both backends.
}

/**
 * The backend a setting names. `torch` settings (Python, device, threads) are read only by the PyTorch backend;
 * RESNET_STUDIO_BACKEND=torch turns "auto" into PyTorch, as --backend torch does.
 */
export function backendFor(setting: BackendSetting, torch: TorchSettings): Backend {
  const chosen = setting === "auto" ? fromEnvironment() : setting;
  if (chosen === "torch") return torchBackend(torch);
  return new TfjsBackend(chosen);
}

function fromEnvironment(): BackendSetting {
  const env = process.env.RESNET_STUDIO_BACKEND?.trim().toLowerCase();
  return env === "torch" || env === "pytorch" ? "torch" : "auto";
}

/** Models built for gradient-flow requests, by network, seed and tfjs backend: a repeated request skips building. */
const MODEL_CACHE_SIZE = 2;
const builtModels = new Map<string, TfModel>();

function cachedModel(graph: ModelGraph, seed: number): TfModel {
  const key = `${networkId(graph.spec)}:${seed}:${tf.getBackend()}`;
  const hit = builtModels.get(key);
  if (hit) {
    builtModels.delete(key);
    builtModels.set(key, hit);
    return hit;
  }
  const model = buildModel(graph, { seed });
  builtModels.set(key, model);
  while (builtModels.size > MODEL_CACHE_SIZE) {
    const [oldest, old] = builtModels.entries().next().value as [string, TfModel];
    builtModels.delete(oldest);
    old.dispose();
  }
  return model;
}

/** The same few real images every epoch, so snapshots are comparable. */
function fixedBatch(dataset: ImageDataset, graph: ModelGraph, count: number): { x: tf.Tensor4D; labels: number[] } {
  const [c, h, w] = graph.input as [number, number, number];
  const adapter = new BatchAdapter(dataset, [c, h, w]);
  const n = Math.min(count, dataset.count);
  const indices = Array.from({ length: n }, (_, i) => i);
  const pixels = new Float32Array(n * adapter.sampleSize);
  adapter.fill(indices, 0, n, pixels);
  const labels = new Int32Array(n);
  adapter.labels(indices, 0, n, labels);
  return { x: tf.tensor4d(pixels, [n, h, w, c]), labels: Array.from(labels) };
}

/** wasm, cpu or tensorflow ("auto": the best that loads), in this thread. */
class TfjsBackend implements Backend {
  constructor(private readonly choice: BackendChoice) {}

  ready(): Promise<BackendInfo> {
    return initBackend(this.choice);
  }

  async fitBatch(request: Omit<PassBatchRequest, "backend">): Promise<{ batch: number; note: string | null }> {
    const info = await this.ready();
    const { batch, note } = passBatch({ ...request, backend: info.name });
    return { batch, note };
  }

  async memoryLimitBytes(): Promise<number> {
    return backendLimitBytes((await this.ready()).name);
  }

  async train(options: BackendTrainOptions): Promise<TrainResult> {
    const info = await this.ready();
    const { graph, snapshot } = options;
    const model = options.model ?? buildModel(graph, { seed: options.config.seed });
    const probe = snapshot ? fixedBatch(options.data.train, graph, snapshot.count) : null;
    // With snapshots, events wait for the epoch's pass (taken between training steps), so they keep their order.
    let chain: Promise<void> = Promise.resolve();
    const onEvent = (event: TrainEvent): void => {
      if (!probe || !snapshot) {
        options.onEvent?.(event);
        return;
      }
      chain = chain.then(async () => {
        if (event.type === "epoch") {
          // Skipped when the pass would not fit the backend (a wasm abort cannot be caught).
          const fits = checkPassMemory({
            graph,
            batch: probe.labels.length,
            kind: "gradflow",
            limitBytes: backendLimitBytes(info.name),
          }).fits;
          try {
            if (fits) snapshot.onGradients(event.epoch, await gradientFlow(model, probe));
          } catch {
            /* a snapshot is optional: the epoch is reported without one */
          }
        }
        options.onEvent?.(event);
      });
    };
    try {
      const result = await train({
        model,
        data: options.data,
        config: options.config,
        signal: options.signal,
        checkpoint: options.checkpoint,
        resumeFrom: options.resumeFrom,
        initialWeights: options.initialWeights,
        onEvent,
      });
      await chain;
      return result;
    } finally {
      probe?.x.dispose();
      if (!options.model) model.dispose();
    }
  }

  async gradientFlow(options: BackendGradientFlowOptions): Promise<GradientFlowResult> {
    await this.ready();
    const { graph, batch, weights } = options;
    // Seeded weights come from the cache; a checkpoint's are loaded into a model of their own.
    const fromCheckpoint = "checkpoint" in weights;
    const model = fromCheckpoint ? buildModel(graph, { seed: 1 }) : cachedModel(graph, weights.seed);
    const x = tf.tensor4d(batch.x, batch.shape);
    try {
      if (fromCheckpoint) loadCheckpointInto(model, weights.checkpoint);
      return await gradientFlow(model, { x, labels: batch.labels }, { mode: options.mode ?? "train" });
    } finally {
      x.dispose();
      if (fromCheckpoint) model.dispose();
    }
  }

  async calibrate(options: BackendCalibrateOptions): Promise<Calibration> {
    await this.ready();
    return calibrateThroughput(options);
  }

  async lrRange(options: BackendLrRangeOptions): Promise<LrRangeResult> {
    await this.ready();
    const model = buildModel(options.graph, { seed: options.options.seed ?? 1 });
    try {
      return await lrRangeTest(model, options.dataset, options.options, options.signal, options.onPoint);
    } finally {
      model.dispose();
    }
  }
}

/** Messages between the extension host and its training / gradient-flow worker thread (plain data). */
import type { ModelGraph } from "resnet-studio/analysis/graph";
import type { GradientPair, TrainingEvent } from "resnet-studio/protocol";
import type { TrainConfig } from "resnet-studio/runtime/trainTypes";
import type { Throughput } from "resnet-studio/analysis/estimate";
import type { LrRangeOptions, LrRangeResult } from "resnet-studio/runtime/lrFinder";

export type BackendSetting = "auto" | "wasm" | "cpu" | "tensorflow" | "torch";

/** With backend "torch": the settings resnetStudio.python ("" = RESNET_STUDIO_PYTHON, then python3 on PATH) and resnetStudio.device. */
export interface TorchSettings {
  python?: string;
  device?: "cpu" | "cuda" | "auto";
}

export type HostToWorker =
  /** One forward/backward pass of `graph` (and `plain`, its twin without shortcuts) on a seeded random batch. */
  | ({
      type: "gradientFlow";
      graph: ModelGraph;
      plain: ModelGraph | null;
      backend: BackendSetting;
      batch: number;
      seed: number;
      wasmDir: string;
    } & TorchSettings)
  /** Train `graph`, streaming events. `dataset` as the CLI's --dataset ("mnist" = the embedded digits, read from `dataDir`). */
  | ({
      type: "train";
      graph: ModelGraph;
      backend: BackendSetting;
      config: Partial<TrainConfig>;
      dataset: string;
      dataDir: string;
      wasmDir: string;
      gradientBatch: number;
    } & TorchSettings)
  /** Measure the backend's training speed (runtime/calibrate.ts; on "torch", PyTorch's on the set device) at this batch size and replica setting. */
  | ({
      type: "calibrate";
      backend: BackendSetting;
      batchSize: number;
      workers?: number;
      wasmDir: string;
    } & TorchSettings)
  /** Stop training between steps. */
  | { type: "cancel" }
  /** Learning-rate range test of a fresh `graph` on `dataset` (as for "train"), streaming results; stops on "cancel". */
  | {
      type: "lrRange";
      graph: ModelGraph;
      backend: BackendSetting;
      dataset: string;
      dataDir: string;
      options: Partial<LrRangeOptions>;
    }
  /** Start the backend now, so the first gradient-flow request finds it ready. No answer. */
  | { type: "warmUp"; backend: BackendSetting; wasmDir: string };

export type WorkerToHost =
  | { type: "gradients"; pair: GradientPair }
  | { type: "training"; event: TrainingEvent }
  | { type: "calibration"; throughput: Throughput; seconds: number }
  /** The range test so far; `done` on the last one. */
  | { type: "lrRange"; result: LrRangeResult; done: boolean }
  | { type: "error"; message: string };

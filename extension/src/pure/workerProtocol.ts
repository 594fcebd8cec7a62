/**
 * The extension host's training / gradient-flow worker (../trainWorker.ts), on resnet-studio/rpc: each job is a request
 * whose response carries its result; what a job streams while it runs (training events, the range test so far) is a
 * push; "cancel" and "warmUp" are notifications. A job has ended exactly when its response (or its failure) arrives.
 */
import type { ModelGraph } from "resnet-studio/analysis/graph";
import type { GradientPair, TrainingEvent } from "resnet-studio/protocol";
import type { RequestMessage, ResponseMessage } from "resnet-studio/rpc";
import type { TrainConfig } from "resnet-studio/runtime/trainTypes";
import type { RunJob } from "resnet-studio/runs/recorder";
import type { Throughput } from "resnet-studio/analysis/estimate";
import type { LrRangeOptions, LrRangeResult } from "resnet-studio/runtime/lrFinder";
import type { ExperimentScale, ExperimentState } from "resnet-studio/experiment/plainVsResidual";

export type { BackendSetting } from "resnet-studio/runtime/backendNames";
import type { BackendSetting } from "resnet-studio/runtime/backendNames";

/** With backend "torch": the settings resnetStudio.python ("" = RESNET_STUDIO_PYTHON, then python3 on PATH) and resnetStudio.device. */
export interface TorchSettings {
  python?: string;
  /** The Python extension's active interpreter, which comes before the setting. */
  pythonExtension?: string;
  /** resnetStudio.torchThreads (0 or absent: one per core). */
  threads?: number;
  device?: "cpu" | "cuda" | "auto";
}

/** Jobs the host asks of the worker; each gets exactly one response. */
export type TrainJob =
  /** One forward/backward pass of `graph` (and `plain`, its twin without shortcuts) on a seeded random batch. */
  | ({
      kind: "gradientFlow";
      graph: ModelGraph;
      plain: ModelGraph | null;
      backend: BackendSetting;
      batch: number;
      seed: number;
      wasmDir: string;
    } & TorchSettings)
  /** Train `graph`, pushing training events. `dataset` as the CLI's --dataset ("mnist" = the embedded digits, read from `dataDir`). */
  | ({
      kind: "train";
      graph: ModelGraph;
      backend: BackendSetting;
      config: Partial<TrainConfig>;
      dataset: string;
      dataDir: string;
      wasmDir: string;
      gradientBatch: number;
      /** Record the run in this folder: run.json and a checkpoint after every epoch (resnet-studio/runs/recorder). */
      run?: RunJob;
      /** Continue from this checkpoint (a run folder or a checkpoint file). */
      resumeFrom?: string;
    } & TorchSettings)
  /** Measure the backend's training speed (runtime/calibrate.ts; on "torch", PyTorch's on the set device) at this batch size and replica setting. */
  | ({
      kind: "calibrate";
      backend: BackendSetting;
      batchSize: number;
      workers?: number;
      wasmDir: string;
    } & TorchSettings)
  /** He et al. Fig. 6: the plain and residual nets at `depths` on `dataset` (as for "train"), one run folder each under `out`; pushes the state after every epoch, stops on "cancel". */
  | ({
      kind: "experiment";
      depths: number[];
      scale: ExperimentScale;
      backend: BackendSetting;
      config: Partial<TrainConfig>;
      dataset: string;
      dataDir: string;
      wasmDir: string;
      out: string;
      /** The image shape of synthetic data (other datasets bring their own); default 3×32×32. */
      input?: [number, number, number];
    } & TorchSettings)
  /** Learning-rate range test of a fresh `graph` on `dataset` (as for "train"), pushing the results so far; stops on "cancel". */
  | ({
      kind: "lrRange";
      graph: ModelGraph;
      backend: BackendSetting;
      dataset: string;
      dataDir: string;
      options: Partial<LrRangeOptions>;
    } & TorchSettings);

/** What each job's successful response carries. */
export interface TrainJobResults {
  /** The network's and its plain twin's gradient flow. */
  gradientFlow: GradientPair;
  /** How the run ended: completed (or stopped by its budget) or cancelled. A diverged or failed run is an error response. */
  train: { cancelled: boolean; millis: number };
  /** The fitted throughput and how long measuring took. */
  calibrate: { throughput: Throughput; seconds: number };
  /** The finished range test (after a cancel: the points so far). */
  lrRange: LrRangeResult;
  /** The experiment as it ended (verdict set), and whether it was cancelled. */
  experiment: { cancelled: boolean; state: ExperimentState };
}

/** A training event that is not the run's end: the end comes in the train job's response, never as a push. */
export type TrainingProgressEvent = Exclude<TrainingEvent, { kind: "finished" } | { kind: "failed" }>;

/** Notifications from the host: no response. */
export type TrainWorkerNote =
  /** Stop the running training or range test between steps; its job then answers (cancelled, or the points so far). */
  | { type: "cancel" }
  /** Start the backend now (on torch, the Python worker), so the first gradient-flow job finds it ready. */
  | ({ type: "warmUp"; backend: BackendSetting; wasmDir: string } & TorchSettings);

/** State the worker streams while a job runs. */
export type TrainWorkerPush =
  /** One event of the running train job. */
  | { type: "training"; event: TrainingProgressEvent }
  /** The range test so far, every few steps. */
  | { type: "lrRange"; result: LrRangeResult }
  /** The running experiment's state, after every epoch. */
  | { type: "experiment"; state: ExperimentState };

/** Messages the host posts to the worker. */
export type HostToWorker = RequestMessage<TrainJob> | TrainWorkerNote;

/** Messages the worker posts to the host. */
export type WorkerToHost = ResponseMessage<TrainJob, TrainJobResults> | TrainWorkerPush;

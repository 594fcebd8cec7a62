/** Maps the trainer's events to the webview protocol's TrainingEvent, and reads the training settings. Pure. */
import type { TrainEvent } from "resnet-studio/runtime/trainTypes";
import type { TrainingEvent } from "resnet-studio/protocol";
import type { GradientFlowResult } from "resnet-studio/analysis/gradflow";
import type { DatasetTarget } from "resnet-studio/analysis/adapt";
import { datasetTarget } from "resnet-studio/data/resolve";
import { DEFAULT_TRAIN_CONFIG } from "resnet-studio/runtime/trainTypes";

export function toTrainingEvent(
  event: TrainEvent,
  ctx: { backend: string; gradients: GradientFlowResult | null; millis: number },
): TrainingEvent | null {
  switch (event.type) {
    case "start":
      return {
        kind: "started",
        model: event.model,
        dataset: event.dataset,
        backend: event.backend || ctx.backend,
        epochs: event.config.epochs,
        batch: event.config.batchSize,
      };
    case "step": {
      const { type: _type, ...point } = event;
      return { kind: "step", point };
    }
    case "epoch": {
      const { type: _type, ...point } = event;
      return { kind: "epoch", point, gradients: ctx.gradients };
    }
    case "done":
      if (event.reason === "diverged") return { kind: "failed", message: event.message ?? "training diverged" };
      return { kind: "finished", cancelled: event.reason === "aborted", millis: event.seconds * 1000 };
    case "error":
      return { kind: "failed", message: event.message };
    case "checkpoint":
      return null;
  }
}

/** `resnetStudio.trainWorkers`: 0 (or anything not a positive integer) lets the trainer choose; n forces n replicas. */
export function workersSetting(value: unknown): { workers?: number } {
  return typeof value === "number" && Number.isInteger(value) && value >= 1 ? { workers: value } : {};
}

/** `resnetStudio.trainSamplesPerEpoch`: 0 (or anything not a positive integer) trains on every image each epoch. */
export function samplesPerEpochSetting(value: unknown): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value >= 1 ? value : undefined;
}

/** The embedded MNIST digits as "Train Small Model" feeds them: the epoch size follows the setting. */
export function mnistTarget(samplesPerEpoch: number | undefined): DatasetTarget {
  const target = datasetTarget("mnist", DEFAULT_TRAIN_CONFIG.valFraction)!;
  return samplesPerEpoch === undefined
    ? target
    : { ...target, trainSamples: Math.min(target.trainSamples, samplesPerEpoch) };
}

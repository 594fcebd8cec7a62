/**
 * Progress of a training run from its latest step event: the fraction done, images per second and an ETA, as one
 * line for the training view and VS Code's progress notification. Pure (no tfjs): the webview imports it too.
 */
import type { TrainingState } from "../protocol";
import type { StepMetrics } from "./trainTypes";
import { formatDuration } from "../presentation/format";

export interface TrainingProgress {
  /** 0..1 over the whole run's training steps. */
  fraction: number;
  /** Seconds left for the remaining steps at the current epoch's pace (validation passes not included). */
  etaSeconds: number;
  imagesPerSecond: number;
  /** "epoch 1/3 · step 12/140 · 85 img/s · ETA 2.3 min" (and the first step's time while it is the latest news). */
  text: string;
}

export function trainingProgress(state: TrainingState): TrainingProgress | null {
  return state.lastStep ? stepProgress(state.lastStep, state.epochs, state.firstStepSeconds) : null;
}

/** Progress after `step` of a run of `epochs` epochs (the CLI's lines and the training view's). */
export function stepProgress(step: StepMetrics, epochs: number, firstStepSeconds: number | null): TrainingProgress {
  const runEpochs = Math.max(1, epochs);
  const total = runEpochs * step.stepsPerEpoch;
  const done = Math.min(total, step.epoch * step.stepsPerEpoch + step.step + 1);
  const secondsPerStep = step.epochSeconds / (step.step + 1);
  const etaSeconds = Math.max(0, total - done) * secondsPerStep;
  const parts = [
    `epoch ${step.epoch + 1}/${runEpochs}`,
    `step ${step.step + 1}/${step.stepsPerEpoch}`,
    `${Math.round(step.imagesPerSecond)} img/s`,
    done < total ? `ETA ${formatDuration(etaSeconds)}` : "validating",
  ];
  if (firstStepSeconds !== null && done === 1) parts.push(`first step ${formatDuration(firstStepSeconds)}`);
  return { fraction: done / total, etaSeconds, imagesPerSecond: step.imagesPerSecond, text: parts.join(" · ") };
}

/**
 * Progress of a training run from its latest step event: the fraction done, images per second and an ETA, as one
 * line for the training view and VS Code's progress notification. Pure (no tfjs): the webview imports it too.
 */
import type { TrainingState } from "../protocol";
import { formatDuration } from "../render/format";

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
  const step = state.lastStep;
  if (!step) return null;
  const epochs = Math.max(1, state.epochs);
  const total = epochs * step.stepsPerEpoch;
  const done = Math.min(total, step.epoch * step.stepsPerEpoch + step.step + 1);
  const secondsPerStep = step.epochSeconds / (step.step + 1);
  const etaSeconds = Math.max(0, total - done) * secondsPerStep;
  const parts = [
    `epoch ${step.epoch + 1}/${epochs}`,
    `step ${step.step + 1}/${step.stepsPerEpoch}`,
    `${Math.round(step.imagesPerSecond)} img/s`,
    done < total ? `ETA ${formatDuration(etaSeconds)}` : "validating",
  ];
  if (state.firstStepSeconds !== null && done === 1) parts.push(`first step ${formatDuration(state.firstStepSeconds)}`);
  return { fraction: done / total, etaSeconds, imagesPerSecond: step.imagesPerSecond, text: parts.join(" · ") };
}

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
  if (!state.lastStep) return null;
  // Once the run has ended, where it stopped, without an ETA or a phase that is over.
  const ending = state.status === "running" ? endOfEpochPhase(state) : null;
  return stepProgress(state.lastStep, state.epochs, state.firstStepSeconds, ending);
}

/** What follows an epoch's last step: validation where the run holds images out (known after its first epoch). */
function endOfEpochPhase(state: TrainingState): string {
  const last = state.history.at(-1);
  return last && last.valSamples > 0 ? "validating" : "ending the epoch";
}

/**
 * The training view's status line: what is trained, and how the run stands or ended, the outcome said once
 * ("cancelled", "finished in 12 s", "failed: …").
 */
export function trainingStatusLine(state: TrainingState): string | null {
  if (state.status === "idle") return null;
  const head = `${state.model ?? "model"} on ${state.dataset ?? "?"} · backend ${state.backend ?? "?"} · batch ${state.batch}`;
  const outcome =
    state.status === "failed"
      ? `failed${state.message ? `: ${state.message}` : ""}`
      : state.status === "finished"
        ? (state.message ?? "finished").replace(/^Finished/, "finished")
        : state.status;
  return `${head} · ${outcome}`;
}

/** Progress after `step` of a run of `epochs` epochs (the CLI's lines and the training view's). */
export function stepProgress(
  step: StepMetrics,
  epochs: number,
  firstStepSeconds: number | null,
  /** Shown after an epoch's last step while the run goes on; null once it has ended (nothing follows). */
  ending: string | null = "validating",
): TrainingProgress {
  const runEpochs = Math.max(1, epochs);
  const total = runEpochs * step.stepsPerEpoch;
  const done = Math.min(total, step.epoch * step.stepsPerEpoch + step.step + 1);
  const secondsPerStep = step.epochSeconds / (step.step + 1);
  const etaSeconds = Math.max(0, total - done) * secondsPerStep;
  const parts = [
    `epoch ${step.epoch + 1}/${runEpochs}`,
    `step ${step.step + 1}/${step.stepsPerEpoch}`,
    `${Math.round(step.imagesPerSecond)} img/s`,
    ending === null ? "" : done < total ? `ETA ${formatDuration(etaSeconds)}` : ending,
  ].filter(Boolean);
  if (firstStepSeconds !== null && done === 1) parts.push(`first step ${formatDuration(firstStepSeconds)}`);
  return { fraction: done / total, etaSeconds, imagesPerSecond: step.imagesPerSecond, text: parts.join(" · ") };
}

/**
 * The status bar item's text: the active spec's size, or the running training's progress. Pure (no vscode): the
 * host's StatusBarItem only shows these strings. Numbers go through model-core's presentation/format.ts.
 */
import type { ModelGraph } from "resnet-studio/analysis/graph";
import type { TrainingState } from "resnet-studio/protocol";
import { formatCount, formatDuration, formatPercent } from "resnet-studio/presentation/format";
import { trainingProgress } from "resnet-studio/runtime/progress";

export interface StatusText {
  /** With a codicon, e.g. `$(circuit-board) 272K params · 41M MACs`. */
  text: string;
  tooltip: string;
}

/** A spec that analyses: its parameters and multiply-accumulates per image. */
export function specStatus(graph: ModelGraph): StatusText {
  const { params, macs, depth } = graph.totals;
  return {
    text: `$(circuit-board) ${formatCount(params)} params · ${formatCount(macs)} MACs`,
    tooltip: `${graph.name}: ${formatCount(params)} parameters, ${formatCount(macs)} multiply-accumulates per image, ${depth} weighted layers. Click to open the diagram.`,
  };
}

/** A spec with errors: how many, so the item never shows a stale network's size. */
export function brokenSpecStatus(errors: number): StatusText {
  return {
    text: `$(error) ResNet: ${errors} ${errors === 1 ? "problem" : "problems"}`,
    tooltip: "The spec does not analyse; see the Problems panel. Click to open the diagram.",
  };
}

/** Training progress, or null when no run is in progress (the spec's status shows instead). */
export function trainingStatus(state: TrainingState): StatusText | null {
  if (state.status !== "running") return null;
  const model = state.model ?? "model";
  const progress = trainingProgress(state);
  if (!progress) return { text: `$(sync~spin) ${model}: starting`, tooltip: `Training ${model}. Click to show it.` };
  return {
    text: `$(sync~spin) ${model}: ${formatPercent(progress.fraction)}`,
    tooltip: `Training ${model} on ${state.dataset ?? "its dataset"}: ${progress.text}. Click to show it.`,
  };
}

/** The notification at the end of a run (null while it runs): what ended, how, and the last accuracy. */
export function trainingEndedText(state: TrainingState, millis: number | null): string | null {
  const model = state.model ?? "the model";
  const last = state.history.at(-1);
  const accuracy = last
    ? last.valAccuracy !== undefined
      ? `, validation accuracy ${formatPercent(last.valAccuracy, 1)}`
      : `, training accuracy ${formatPercent(last.accuracy, 1)}`
    : "";
  const epochs = `${state.history.length}/${state.epochs} epochs`;
  const took = millis === null ? "" : ` in ${formatDuration(millis / 1000)}`;
  switch (state.status) {
    case "finished":
      return `ResNet Studio: trained ${model}${took} (${epochs}${accuracy}).`;
    case "cancelled":
      return `ResNet Studio: training of ${model} cancelled after ${epochs}${accuracy}.`;
    case "failed":
      return `ResNet Studio: training of ${model} failed: ${state.message ?? "unknown error"}`;
    default:
      return null;
  }
}

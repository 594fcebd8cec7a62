/**
 * The evaluation worker (../evaluateWorker.ts), on resnet-studio/rpc: one job kind, "evaluate", answered with the
 * evaluation (and, for Show in Diagram, the overlays at the trained weights). No pushes; a cancel stops the worker.
 * Also the pure part of the commands: which file or folder a command's argument names.
 */
import type { ModelGraph } from "resnet-studio/analysis/graph";
import type { GradientFlowResult } from "resnet-studio/analysis/gradflow";
import type { RequestMessage, ResponseMessage } from "resnet-studio/rpc";
import type { EvaluationEntry } from "resnet-studio/presentation/evaluationReport";
import type { BackendSetting, TorchSettings } from "./workerProtocol";

export type EvaluateJob = {
  kind: "evaluate";
  /** A run folder, a checkpoint folder or a .safetensors file. */
  target: string;
  /** The spec of a weights-only state_dict (file path or preset). */
  spec?: string;
  dataset?: string;
  backend: BackendSetting;
  /** Show in Diagram: also the gradient flow, layer responses, mean |γ| and misclassified images (on tfjs). */
  overlays: boolean;
} & TorchSettings;

export interface EvaluateOutcome {
  /** The network as evaluated (adapted to the dataset). */
  graph: ModelGraph;
  entry: EvaluationEntry;
  /** Gradient flow at the trained weights on a validation batch; null without overlays. */
  gradients: GradientFlowResult | null;
  notes: string[];
}

export interface EvaluateJobResults {
  evaluate: EvaluateOutcome;
}

export type HostToEvaluateWorker = RequestMessage<EvaluateJob>;
export type EvaluateWorkerToHost = ResponseMessage<EvaluateJob, EvaluateJobResults>;

/** A file or folder path from a command's first argument: a Uri-like `{ fsPath }`, or an object with `uri`. */
export function targetPathOf(arg: unknown): string | null {
  const fsPathOf = (v: unknown): string | null =>
    typeof v === "object" && v !== null && typeof (v as { fsPath?: unknown }).fsPath === "string"
      ? (v as { fsPath: string }).fsPath
      : null;
  if (fsPathOf(arg)) return fsPathOf(arg);
  if (typeof arg === "object" && arg !== null && "uri" in arg) return fsPathOf(arg.uri);
  return null;
}

/** The legend label of a target: a run folder's spec and timestamp, else the file name. */
export function targetLabel(target: string): string {
  const parts = target.split(/[\\/]/).filter((p) => p.length > 0);
  const last = parts[parts.length - 1] ?? target;
  if (/\.(safetensors|pt|pth)$/i.test(last) && parts.length >= 3 && last === "checkpoint.safetensors")
    return `${parts[parts.length - 3]}/${parts[parts.length - 2]}`;
  return parts.length >= 2 && !/\./.test(last) ? `${parts[parts.length - 2]}/${last}` : last;
}

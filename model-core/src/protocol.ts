/**
 * The messages between the extension host and the diagram webview, as plain structured-clone-safe data.
 * Both sides import this module; it has no runtime code beyond small constructors and type guards.
 *
 * Flow (as in VS Code's markdown preview and hex editor): the webview posts `ready`; the host answers with a
 * full `snapshot`; later the host pushes partial updates (`layout`, `gradients`, `training`, `diagnostics`) and
 * the webview sends `request`s (each answered by one `response` with the same id) and fire-and-forget events.
 */
import type { Diagnostic, SourceRange } from "./diagnostics";
import type { ModelGraph } from "./analysis/graph";
import type { GradientFlowResult } from "./analysis/gradflow";
import type { ExpansionState } from "./render/view";
import type { LaidOutGraph } from "./render/layout";
import type { OverlayOptions } from "./presentation/overlays";
import type { WebviewCommand } from "./presentation/commands";
import type { EpochMetrics, StepMetrics } from "./runtime/trainTypes";
import type { LrRangeResult } from "./runtime/lrFinder";
import { appendStepPoint, type StepCurvePoint } from "./runtime/stepCurves";
import type { SpecEdit } from "./edit/specEdit";
import type { DatasetPreview } from "./data/preview";
import { isResponseMessage, type RequestMessage, type ResponseMessage } from "./rpc";

/** Which panel of the webview is in front. */
export type ViewTab = "diagram" | "gradients" | "training";

/** Everything about the view that survives hiding, reloading and restarting (vscode.setState + serializer). */
export interface ViewState {
  /** Spec file the panel follows; null for a preset or the bundled example. */
  documentUri: string | null;
  expansion: ExpansionState;
  overlays: OverlayOptions;
  /** Selected node id (a layer, block or stage id). */
  selected: string | null;
  /** Diagram transform: screen = diagram × zoom + pan. */
  zoom: number;
  panX: number;
  panY: number;
  search: string;
  tab: ViewTab;
}

/** One epoch's metrics (the trainer's type, runtime/trainTypes.ts). */
export type EpochPoint = EpochMetrics;
/** Progress within an epoch (the trainer's type, runtime/trainTypes.ts). */
export type StepPoint = StepMetrics;

/** Events streamed from the training worker to the webview. */
export type TrainingEvent =
  /** The run's data is loaded: a few samples per class and the class counts (data/preview.ts previewForView). Comes
   *  before `started`, so the view shows the data while the backend starts. */
  | { kind: "preview"; preview: DatasetPreview }
  /** Training started: what is trained and how. */
  | {
      kind: "started";
      model: string;
      dataset: string;
      backend: string;
      epochs: number;
      batch: number;
      notes?: string[];
    }
  /** One optimisation step finished. */
  | { kind: "step"; point: StepPoint }
  /** One epoch finished (with validation). */
  | { kind: "epoch"; point: EpochPoint; gradients: GradientFlowResult | null }
  /** The run ended normally or by cancellation. */
  | { kind: "finished"; cancelled: boolean; millis: number }
  /** The run failed (e.g. NaN loss); `message` is for people. */
  | { kind: "failed"; message: string };

/** What the training view knows; rebuilt from events by `applyTrainingEvent`. */
export interface TrainingState {
  status: "idle" | "running" | "finished" | "cancelled" | "failed";
  model: string | null;
  dataset: string | null;
  backend: string | null;
  epochs: number;
  batch: number;
  lastStep: StepPoint | null;
  /** Wall seconds of the run's first step, once known. */
  firstStepSeconds: number | null;
  /** Every logged step's loss and batch accuracy since the run began (thinned when long: runtime/stepCurves.ts). */
  steps: StepCurvePoint[];
  /** What the host says about the run before it starts: the adaptation to the dataset, the estimate. */
  notes: string[];
  history: EpochPoint[];
  /** The gradient-flow snapshot taken after each epoch (index = history index). */
  gradientSnapshots: (GradientFlowResult | null)[];
  message: string | null;
  /** The run's data: samples per class and class counts; null until the run has loaded it. */
  preview: DatasetPreview | null;
}

/** The residual network's gradient flow and, for the side-by-side chart, its plain twin's. */
export interface GradientPair {
  residual: GradientFlowResult;
  plain: GradientFlowResult | null;
  /** Why a pass ran on a smaller batch than configured (the memory guard's note), when it did. */
  notes?: string[];
}

/**
 * The full state the host sends after `ready`. For huge graphs the host may send `laid: null` here and the
 * layout in a following `layout` message, so the page never parses one multi-megabyte message in one task.
 */
export interface Snapshot {
  title: string;
  graph: ModelGraph | null;
  laid: LaidOutGraph | null;
  view: ViewState;
  gradients: GradientPair | null;
  training: TrainingState;
  diagnostics: Diagnostic[];
}

/** Webview → host requests; each gets exactly one response. */
export type RequestBody =
  /** Lay the current graph out for a new expansion state. */
  | { kind: "layout"; expansion: ExpansionState }
  /** Run one forward/backward pass (and the plain twin's) in a worker; `withoutBn`: of both without BN, for the
   *  chart only (the response carries it; the diagram's overlay keeps the network's own gradients). */
  | { kind: "gradientFlow"; withoutBn?: boolean }
  /** Save a PNG rendered by the webview (base64 without the data: prefix). */
  | { kind: "savePng"; base64: string; suggestedName: string }
  /** Save the standalone SVG of the current view. */
  | { kind: "saveSvg"; expansion: ExpansionState; overlays: OverlayOptions; suggestedName: string }
  /** Start training the followed spec (or the bundled example). */
  | { kind: "train" }
  /** Choose the dataset (embedded MNIST, a folder, a recent one), then train as `train` does. */
  | { kind: "trainOn" }
  /** Cancel the running training. */
  | { kind: "cancelTraining" }
  /** Change the followed spec's source (one undoable edit); `ask`: let the user type the value, starting from `edit.value`. */
  | { kind: "editSpec"; edit: SpecEdit; ask?: boolean }
  /** Undo (or redo) the followed spec's last change, as Ctrl+Z (Ctrl+Shift+Z) in its editor would. */
  | { kind: "undoRedo"; redo: boolean };

/**
 * What a successful response carries, by request kind. A response carries a result and a push carries state, never
 * both: the new layout and the network's gradients arrive as `layout` and `gradients` pushes, so their responses only
 * say the request was done (a multi-megabyte layout travels once).
 */
export interface ResponseBodies {
  /** Done: the layout itself came as a `layout` push. */
  layout: { expansion: ExpansionState };
  /** `pair`: the without-BN pair a `withoutBn` request asked for (a result, for the chart only); null for the network's
   *  own pair, which came as a `gradients` push. */
  gradientFlow: { pair: GradientPair | null };
  savePng: { saved: string | null };
  saveSvg: { saved: string | null };
  train: { started: boolean };
  trainOn: { started: boolean };
  cancelTraining: { cancelled: boolean };
  /** `message`: what changed, or why the edit was not written. */
  editSpec: { applied: boolean; message: string };
  /** `changed`: whether the spec's text changed (false: nothing to undo or redo). */
  undoRedo: { changed: boolean };
}

export type RequestKind = RequestBody["kind"];

/** Messages the webview posts to the host. */
export type WebviewToHost =
  /** The webview script is running and wants a snapshot. */
  | { type: "ready" }
  /** A request, answered by a `response` with the same id (./rpc.ts). */
  | RequestMessage<RequestBody>
  /** The user clicked a node: open its spec element. */
  | { type: "revealSource"; nodeId: string; range: SourceRange | null }
  /** The view state changed (persisted by the host for the serializer and the next snapshot). */
  | { type: "viewState"; view: ViewState };

/** Messages the host posts to the webview. */
export type HostToWebview =
  /** Replace everything. */
  | { type: "snapshot"; snapshot: Snapshot }
  /** The followed network changed (an edit, another document); a `layout` message follows. */
  | { type: "graph"; graph: ModelGraph; title: string; documentUri: string | null }
  /** A new layout of the current graph (after a `graph` message or for a new expansion). */
  | { type: "layout"; laid: LaidOutGraph; expansion: ExpansionState }
  /** New gradient-flow results of the network with identity `network` (spec/identity.ts networkId). */
  | { type: "gradients"; gradients: GradientPair; network: string }
  /** One training event. */
  | { type: "training"; event: TrainingEvent }
  /** The latest learning-rate range test (Find Learning Rate): loss against rate, as it runs and when done. */
  | { type: "lrRange"; result: LrRangeResult; network: string }
  /** The followed spec's current problems (empty when it is fine). */
  | { type: "diagnostics"; diagnostics: Diagnostic[] }
  /** The answer to a request: its result or an error (./rpc.ts). */
  | ResponseMessage<RequestBody, ResponseBodies>
  /** Host-side command that the webview performs (toolbar-equivalent actions from the command palette). */
  | { type: "command"; command: WebviewCommand };

export const EMPTY_TRAINING: TrainingState = {
  status: "idle",
  model: null,
  dataset: null,
  backend: null,
  epochs: 0,
  batch: 0,
  lastStep: null,
  firstStepSeconds: null,
  steps: [],
  notes: [],
  history: [],
  gradientSnapshots: [],
  message: null,
  preview: null,
};

/** Folds one training event into the training state (pure; used by both host and webview). */
export function applyTrainingEvent(state: TrainingState, event: TrainingEvent): TrainingState {
  switch (event.kind) {
    case "preview":
      // A new run: what came before is gone; the dataset's name shows while the backend starts.
      return { ...EMPTY_TRAINING, status: "running", dataset: event.preview.name, preview: event.preview };
    case "started":
      return {
        ...EMPTY_TRAINING,
        // This run's preview (it came first); a finished run's is not carried into the next.
        preview: state.status === "running" ? state.preview : null,
        status: "running",
        model: event.model,
        dataset: event.dataset,
        backend: event.backend,
        epochs: event.epochs,
        batch: event.batch,
        notes: event.notes ?? [],
      };
    case "step":
      return {
        ...state,
        lastStep: event.point,
        steps: appendStepPoint(state.steps, event.point),
        firstStepSeconds: state.firstStepSeconds ?? (event.point.step === 0 ? event.point.epochSeconds : null),
      };
    case "epoch":
      return {
        ...state,
        history: [...state.history, event.point],
        gradientSnapshots: [...state.gradientSnapshots, event.gradients],
      };
    case "finished":
      return {
        ...state,
        status: event.cancelled ? "cancelled" : "finished",
        message: event.cancelled ? "Cancelled" : `Finished in ${(event.millis / 1000).toFixed(1)} s`,
      };
    case "failed":
      return { ...state, status: "failed", message: event.message };
  }
}

/** The host's pushes; a response is recognised by its envelope (./rpc.ts). */
const HOST_PUSH_TYPES = new Set([
  "snapshot",
  "graph",
  "layout",
  "gradients",
  "training",
  "lrRange",
  "diagnostics",
  "command",
]);

/** Cheap structural check for messages arriving from the other side (they cross a process boundary). */
export function isHostToWebview(value: unknown): value is HostToWebview {
  if (isResponseMessage(value)) return true;
  return (
    typeof value === "object" && value !== null && HOST_PUSH_TYPES.has((value as { type?: unknown }).type as string)
  );
}

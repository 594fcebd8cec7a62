/**
 * The webview's state and how host messages change it. Pure (no DOM), so it is tested under node.
 */
import type { HostToWebview, Snapshot, ViewState } from "resnet-studio/protocol";
import { applyTrainingEvent, EMPTY_TRAINING } from "resnet-studio/protocol";
import { networkId } from "resnet-studio/spec/identity";
import type { ResNetSpec } from "resnet-studio/spec/types";
import type { LaidOutGraph } from "resnet-studio/render/layout";
import type { OverlayKey } from "resnet-studio/presentation/overlays";
import { defaultViewState } from "resnet-studio/presentation/view";
import type { LrRangeResult } from "resnet-studio/runtime/lrFinder";

/** What the page shows: the host's snapshot, kept up to date by its pushes, and what the page adds. */
export interface WebviewModel extends Snapshot {
  /** Bumped whenever `laid` changes, so the view knows to re-render and maybe re-fit. */
  layoutVersion: number;
  /** True when the next render should fit the diagram to the window (zoom 0 = never fitted). */
  needsFit: boolean;
  /** The latest learning-rate range test, if one ran. */
  lrRange: LrRangeResult | null;
  /** The identity of the network `lrRange` was measured on: shown only with that network. */
  lrRangeNetwork: string | null;
}

export function emptyModel(saved?: ViewState | null): WebviewModel {
  const view = saved ?? defaultViewState();
  return {
    title: "ResNet Studio",
    graph: null,
    laid: null,
    view,
    gradients: null,
    training: EMPTY_TRAINING,
    diagnostics: [],
    layoutVersion: 0,
    needsFit: view.zoom <= 0,
    lrRange: null,
    lrRangeNetwork: null,
  };
}

/** A snapshot replaces everything except a view state the webview restored itself (zoom/pan survive reloads). */
function fromSnapshot(model: WebviewModel, snapshot: Snapshot): WebviewModel {
  const restored = model.view.zoom > 0 && model.view.documentUri === snapshot.view.documentUri;
  const view: ViewState = restored
    ? { ...snapshot.view, zoom: model.view.zoom, panX: model.view.panX, panY: model.view.panY }
    : snapshot.view;
  return {
    ...snapshot,
    view,
    layoutVersion: model.layoutVersion + 1,
    needsFit: view.zoom <= 0,
    ...(snapshot.graph && networkId(snapshot.graph.spec) === model.lrRangeNetwork
      ? { lrRange: model.lrRange, lrRangeNetwork: model.lrRangeNetwork }
      : { lrRange: null, lrRangeNetwork: null }),
  };
}

/** Whether `id` still names something in the layout (a node or a group box). */
function present(laid: LaidOutGraph | null, id: string | null): boolean {
  return (
    id !== null && laid !== null && (laid.nodes.some((n) => n.id === id) || laid.containers.some((c) => c.id === id))
  );
}

/** The network the page shows: its identity and spec (null before any graph arrived). */
export function shownNetwork(model: Pick<WebviewModel, "graph">): { network: string; spec: ResNetSpec } | null {
  return model.graph ? { network: networkId(model.graph.spec), spec: model.graph.spec } : null;
}

/** Whether the page shows network `network` (an identity from spec/identity.ts); true before any graph arrived. */
export function showing(model: Pick<WebviewModel, "graph">, network: string): boolean {
  return model.graph === null || networkId(model.graph.spec) === network;
}

export function reduce(model: WebviewModel, message: HostToWebview): WebviewModel {
  switch (message.type) {
    case "snapshot":
      return fromSnapshot(model, message.snapshot);
    case "graph": {
      // A network is its spec: changing a stage's channels makes it another network (its gradients are stale)
      // even with the same name and node count. An edit of the document shown keeps the view where it is (zoom,
      // scroll, selection); another document, or another diagram without one, opens fresh.
      const networkChanged = !model.graph || networkId(model.graph.spec) !== networkId(message.graph.spec);
      const sameDocument = message.documentUri !== null && message.documentUri === model.view.documentUri;
      const diagramChanged =
        model.graph?.name !== message.graph.name || model.graph?.nodes.length !== message.graph.nodes.length;
      return {
        ...model,
        title: message.title,
        graph: message.graph,
        view: sameDocument ? model.view : { ...model.view, documentUri: message.documentUri },
        needsFit: model.needsFit || (!sameDocument && diagramChanged),
        gradients: networkChanged ? null : model.gradients,
        ...(networkChanged ? { lrRange: null, lrRangeNetwork: null } : {}),
      };
    }
    case "layout": {
      const selected = present(message.laid, model.view.selected) ? model.view.selected : null;
      return {
        ...model,
        laid: message.laid,
        view: { ...model.view, expansion: message.expansion, selected },
        layoutVersion: model.layoutVersion + 1,
      };
    }
    case "gradients":
      // Computed for a network no longer shown (the user switched files while it ran): not this network's.
      if (!showing(model, message.network)) return model;
      return {
        ...model,
        gradients: message.gradients,
        view: { ...model.view, overlays: { ...model.view.overlays, gradients: true } },
      };
    case "training":
      return { ...model, training: applyTrainingEvent(model.training, message.event) };
    case "diagnostics":
      return { ...model, diagnostics: message.diagnostics };
    case "lrRange":
      return showing(model, message.network)
        ? { ...model, lrRange: message.result, lrRangeNetwork: message.network }
        : model;
    case "response":
    case "command":
      return model;
  }
}

/** View-state edits made by the user. */
export type ViewAction =
  | { kind: "select"; id: string | null }
  | { kind: "overlay"; key: OverlayKey; on: boolean }
  | { kind: "transform"; zoom: number; panX: number; panY: number }
  | { kind: "search"; text: string }
  | { kind: "tab"; tab: ViewState["tab"] };

export function reduceView(view: ViewState, action: ViewAction): ViewState {
  switch (action.kind) {
    case "select":
      return { ...view, selected: action.id };
    case "overlay":
      return { ...view, overlays: { ...view.overlays, [action.key]: action.on } };
    case "transform":
      return { ...view, zoom: action.zoom, panX: action.panX, panY: action.panY };
    case "search":
      return { ...view, search: action.text };
    case "tab":
      return { ...view, tab: action.tab };
  }
}

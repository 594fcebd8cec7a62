/**
 * The diagram webview: toolbar, pan/zoom diagram with minimap and tooltips, the plain-vs-residual gradient chart
 * and the live training view. Talks to the host only through the typed protocol; never imports vscode. The host
 * lays graphs out (in a worker); this page renders SVG locally so overlay toggles and selection are instant.
 * This file only builds the parts and wires them; each part is one module.
 */
import "@vscode-elements/elements/dist/vscode-button/index.js";
import "@vscode-elements/elements/dist/vscode-checkbox/index.js";
import "@vscode-elements/elements/dist/vscode-textfield/index.js";
import styles from "./styles.css";
import type { GradientPair, ViewState } from "resnet-studio/protocol";
import { formatDiagnostic } from "resnet-studio/diagnostics";
import { ViewActions } from "./actions";
import { Commands } from "./commands";
import { DiagramInput } from "./diagramInput";
import { DiagramView } from "./diagramView";
import { el } from "./dom";
import { SpecEditing } from "./editing";
import { ImageExport } from "./exportImage";
import { GradientsView } from "./gradientsView";
import { HostChannel, type HostMessage } from "./hostChannel";
import { OverlayData } from "./overlayData";
import { Search } from "./search";
import { shownNetwork } from "./state";
import { Store } from "./store";
import { timed } from "./timing";
import { Toolbar } from "./toolbar";
import { Tooltip } from "./tooltip";
import { TrainingView } from "./trainingView";

const api = acquireVsCodeApi<ViewState>();
document.head.appendChild(el("style", {}, styles));

const host = new HostChannel(api, (err) => diagram.showStatus(`${err.kind} failed: ${err.message}`));
const store = new Store(api, (view) => host.post({ type: "viewState", view }));
const overlayData = new OverlayData();

// ---------- the page ----------
const diagram = new DiagramView(store, overlayData);
const tooltip = new Tooltip(diagram.pane);
diagram.pane.append(tooltip.element);
const gradientsPane = el("section", { class: "pane", "data-pane": "gradients" });
const trainingPane = el("section", { class: "pane", "data-pane": "training" });
const gradientsView = new GradientsView(
  gradientsPane,
  () => void actions.computeGradients(),
  () =>
    host.request({ kind: "gradientFlow", withoutBn: true }).then((body): GradientPair => {
      if (!body.pair) throw new Error("the host sent no pair without BN");
      return body.pair;
    }),
  (id) => {
    actions.setTab("diagram");
    void actions.reveal(id);
  },
);
const trainingView = new TrainingView(
  trainingPane,
  () => actions.train(),
  () => actions.cancelTraining(),
  () => actions.trainOn(),
);
const toolbar = new Toolbar({
  tab: (tab) => actions.setTab(tab),
  overlay: (key, on) => actions.setOverlay(key, on),
  action: (action) => commands.runToolbarAction(action),
});
const problems = el("div", { class: "problems", role: "alert" });
const panes = [diagram.pane, gradientsPane, trainingPane];
const app = document.getElementById("app") ?? document.body.appendChild(el("div", { id: "app" }));
app.append(toolbar.element, problems, ...panes);

/** Shows the model in the toolbar, the panes (the active tab's in front) and the problems line. */
function syncChrome(): void {
  const model = store.model;
  toolbar.sync(model);
  for (const pane of panes) pane.classList.toggle("active", pane.dataset.pane === model.view.tab);
  const errors = model.diagnostics.filter((d) => d.severity === "error");
  problems.classList.toggle("visible", errors.length > 0);
  problems.textContent =
    errors.map((d) => formatDiagnostic(d)).join("\n") +
    (errors.length && model.laid ? "\n(showing the last valid diagram)" : "");
  diagram.sync();
}

// ---------- what the user does ----------
const actions = new ViewActions(store, host, diagram, gradientsView, trainingView, syncChrome);
const editing = new SpecEditing(store, host, diagram, () => tooltip.hide());
const commands = new Commands(
  store,
  diagram,
  actions,
  editing,
  new ImageExport(store, host, overlayData, (text) => diagram.showStatus(text)),
  toolbar.searchField,
);
new Search(toolbar.searchField, store, diagram, (id) => actions.reveal(id));
new DiagramInput(diagram, {
  click: (id) => actions.select(id, id !== null),
  toggle: (id) => void actions.toggle(id),
  hover: (id, pointer) =>
    tooltip.show(id ? diagram.findBox(id) : null, store.model.graph, store.model.gradients?.residual ?? null, pointer),
  leave: () => tooltip.hide(),
  contextMenu: (id, pointer) => {
    if (id && id !== store.model.view.selected) actions.select(id, false);
    editing.openAtPointer(id, pointer);
  },
});
window.addEventListener("keydown", (e) => commands.key(e));
window.addEventListener("resize", () => diagram.resized());

// ---------- what the host sends ----------
function receive(message: HostMessage): void {
  if (message.type === "command") {
    commands.runHostCommand(message.command);
    return;
  }
  const before = store.receive(message);
  const model = store.model;
  const newLayout = model.layoutVersion !== before.layoutVersion;
  if (newLayout) diagram.layoutChanged();
  syncChrome();
  if (model.needsFit && model.laid) diagram.openReadable();
  else if (newLayout || model.gradients !== before.gradients || model.view.overlays !== before.view.overlays)
    diagram.render(true);
  // After an edit (or an expansion) the view stays put; the selected box is brought on screen if it moved off.
  if (newLayout && !model.needsFit && model.view.selected) diagram.ensureVisible(model.view.selected);
  if (model.gradients !== before.gradients || model.graph !== before.graph)
    gradientsView.update(model.gradients, shownNetwork(model));
  if (message.type === "training" || message.type === "snapshot") trainingView.update(model.training);
  if (message.type === "lrRange" && model.lrRange !== before.lrRange) {
    if (model.view.tab !== "training") actions.setTab("training");
    trainingView.showLrRange(model.lrRange);
  } else if (model.lrRange === null && before.lrRange !== null) trainingView.showLrRange(null);
}

// ---------- start ----------
syncChrome();
diagram.applyTransform();
host.listen((message) => timed(`receive:${message.type}`, () => receive(message)));
host.post({ type: "ready" });

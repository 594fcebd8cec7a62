/**
 * The diagram webview: toolbar, pan/zoom diagram with minimap and tooltips, the plain-vs-residual gradient
 * chart and the live training view. Talks to the host only through the typed protocol; never imports vscode.
 * The host lays graphs out (in a worker); this page renders SVG locally so overlay toggles and selection are instant.
 */
import "@vscode-elements/elements/dist/vscode-button/index.js";
import "@vscode-elements/elements/dist/vscode-checkbox/index.js";
import "@vscode-elements/elements/dist/vscode-textfield/index.js";
import styles from "./styles.css";
import {
  memoryOverlayData,
  renderLegendSvg,
  renderSvg,
  type MemoryOverlayData,
  type OverlayOptions,
} from "resnet-studio/render/svg";
import { trainingMemory } from "resnet-studio/analysis/memory";
import { DEFAULT_TRAIN_CONFIG } from "resnet-studio/runtime/trainTypes";
import { toggleExpansion, type ExpansionState } from "resnet-studio/render/view";
import type { LaidOutGraph, LaidOutNode } from "resnet-studio/render/layout";
import {
  isHostToWebview,
  type GradientPair,
  type HostToWebview,
  type RequestBody,
  type ResponseBodies,
  type ViewState,
  type WebviewToHost,
} from "resnet-studio/protocol";
import { RpcClient, RpcError } from "resnet-studio/rpc";
import { emptyModel, reduce, reduceView, type ViewAction, type WebviewModel } from "./state";
import {
  centreOn,
  containsRect,
  fitTransform,
  initialTransform,
  neighbour,
  searchNodes,
  visibleRect,
  zoomAt,
  type Direction,
  type Rect,
  type Transform,
} from "./geometry";
import { enclosingGroups, nodeDetails } from "./details";
import { formatDiagnostic } from "resnet-studio/diagnostics";
import { GradientCharts, TrainingCharts } from "./charts";
import { EditMenu } from "./editMenu";
import { editMenuSections, stageIndexOf, type EditItem } from "./editItems";

const vscode = acquireVsCodeApi<ViewState>();

/** Above this many boxes only the visible part of the diagram (plus a margin) is in the DOM. */
const VIRTUALIZE_ABOVE = 250;
/** Beyond this many boxes on screen, boxes are a few pixels big: draw them on a canvas instead of as SVG. */
const SVG_MAX_VISIBLE_BOXES = 400;
/** The minimap appears when the diagram is much larger than the window. */
const MINIMAP_WIDTH = 140;

let model: WebviewModel = emptyModel(vscode.getState() ?? null);

// ---------- DOM ----------
const style = document.createElement("style");
style.textContent = styles;
document.head.appendChild(style);

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}
function custom(tag: string, attrs: Record<string, string> = {}, text?: string): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
}

const app = document.getElementById("app") ?? document.body.appendChild(el("div", { id: "app" }));
const titleEl = el("span", { class: "title" }, "ResNet Studio");
const tabButtons = new Map<ViewState["tab"], HTMLButtonElement>();
const tabs = el("div", { class: "tabs", role: "tablist" });
for (const [tab, label] of [
  ["diagram", "Diagram"],
  ["gradients", "Gradient flow"],
  ["training", "Training"],
] as const) {
  const b = el("button", { role: "tab", "data-tab": tab }, label);
  b.addEventListener("click", () => setTab(tab));
  tabButtons.set(tab, b);
  tabs.append(b);
}
const overlayBoxes = new Map<keyof OverlayOptions, HTMLElement>();
const overlayGroup = el("div", { class: "group", "aria-label": "Overlays" });
for (const [key, label] of [
  ["shapes", "Shapes"],
  ["params", "Params"],
  ["macs", "MACs"],
  ["receptiveField", "RF"],
  ["gradients", "Gradients"],
  ["memory", "Memory"],
] as const) {
  const box = custom("vscode-checkbox", { label, "data-overlay": key, title: `Overlay: ${label}` });
  box.addEventListener("change", () => {
    updateView({ kind: "overlay", key, on: (box as HTMLElement & { checked: boolean }).checked });
    if (key === "gradients" && model.view.overlays.gradients && !model.gradients) void computeGradients();
    renderDiagram(true);
  });
  overlayBoxes.set(key, box);
  overlayGroup.append(box);
}
const searchField = custom("vscode-textfield", {
  placeholder: "Find id or kind (Enter: next)",
  "data-role": "search",
}) as HTMLElement & { value: string };
const button = (label: string, action: string, title: string, secondary = true): HTMLElement => {
  const b = custom("vscode-button", { "data-action": action, title, ...(secondary ? { secondary: "" } : {}) }, label);
  return b;
};
const viewGroup = el(
  "div",
  { class: "group" },
  button("−", "zoomOut", "Zoom out (-)"),
  button("+", "zoomIn", "Zoom in (+)"),
  button("Fit", "fit", "Fit to window (0)"),
  button("Columns", "columns", "Stages side by side, to use the panel's width (toggle)"),
  button("SVG", "exportSvg", "Export the diagram as SVG"),
  button("PNG", "exportPng", "Export the diagram as PNG"),
);
const runGroup = el(
  "div",
  { class: "group" },
  button("Gradient flow", "gradients", "Run one forward/backward pass (and the plain twin's)", false),
  button("Train", "train", "Train a small model on the embedded MNIST digits", false),
  button("Cancel", "cancel", "Cancel training"),
);
const toolbar = el(
  "div",
  { class: "toolbar", role: "toolbar" },
  titleEl,
  tabs,
  overlayGroup,
  searchField,
  viewGroup,
  runGroup,
);
const problems = el("div", { class: "problems", role: "alert" });

const viewport = el("div", {
  id: "viewport",
  tabindex: "0",
  role: "application",
  "aria-label": "Network diagram: arrows move, Enter expands, Escape collapses, E or right-click edits",
});
const layer = el("div", { id: "layer" });
const overview = el("canvas", { id: "overview", class: "hidden" });
const emptyMessage = el(
  "div",
  { class: "empty" },
  "Open a .resnet.ts spec and run “ResNet Studio: Open Diagram to the Side”.",
);
const minimap = el("canvas", { id: "minimap", class: "hidden", title: "Minimap: click to jump" });
const tooltip = el("div", { class: "tooltip", role: "tooltip" });
const status = el("div", { class: "status" });
/** The heat overlay's key, kept on screen (the diagram's own copy sits under the last box). */
const legend = el("div", { class: "legend", "data-role": "legend" });
viewport.append(layer, overview);
const diagramPane = el(
  "section",
  { class: "pane", "data-pane": "diagram" },
  viewport,
  emptyMessage,
  minimap,
  tooltip,
  status,
  legend,
);
const gradientsPane = el("section", { class: "pane", "data-pane": "gradients" });
const trainingPane = el("section", { class: "pane", "data-pane": "training" });
app.append(toolbar, problems, diagramPane, gradientsPane, trainingPane);

const gradientCharts = new GradientCharts(
  gradientsPane,
  () => void computeGradients(),
  () =>
    request({ kind: "gradientFlow", withoutBn: true }).then((body): GradientPair => {
      if (!body.pair) throw new Error("the host sent no pair without BN");
      return body.pair;
    }),
);
const trainingCharts = new TrainingCharts(
  trainingPane,
  () => void request({ kind: "train" }),
  () => void request({ kind: "cancelTraining" }),
);

// ---------- messaging ----------
function post(message: WebviewToHost): void {
  vscode.postMessage(message);
}

/** Requests to the host, typed by kind: `request(body)` resolves with `ResponseBodies[kind]` (resnet-studio/rpc). */
const host = new RpcClient<RequestBody, ResponseBodies>(post);
function request<K extends RequestBody["kind"]>(body: Extract<RequestBody, { kind: K }>): Promise<ResponseBodies[K]> {
  return host.request(body).catch((err: unknown) => {
    if (err instanceof RpcError) showStatus(`${err.kind} failed: ${err.message}`);
    throw err;
  });
}

window.addEventListener("message", (event: MessageEvent<unknown>) => {
  const message = event.data;
  if (!isHostToWebview(message)) return;
  receive(message);
});

const marks: [string, number, number][] = ((window as unknown as { __marks: [string, number, number][] }).__marks = []);
/** Records how long the expensive steps take (read by the browser test); keeps the last few hundred. */
function timed<T>(name: string, f: () => T): T {
  const t = performance.now();
  const r = f();
  marks.push([name, Math.round(t), Math.round(performance.now() - t)]);
  if (marks.length > 400) marks.splice(0, 200);
  return r;
}
function receive(message: HostToWebview): void {
  timed("receive:" + message.type, () => receive2(message));
}
function receive2(message: HostToWebview): void {
  if (message.type === "response") {
    host.accept(message);
    return;
  }
  if (message.type === "command") {
    runCommand(message.command);
    return;
  }
  const before = model;
  model = timed("reduce", () => reduce(model, message));
  const newLayout = model.layoutVersion !== before.layoutVersion;
  if (newLayout) {
    diagramDirty = true;
    timed("minimap", buildMinimap);
  }
  syncChrome();
  if (model.needsFit && model.laid) openReadable();
  else if (newLayout || model.gradients !== before.gradients || model.view.overlays !== before.view.overlays)
    renderDiagram(true);
  if (message.type === "gradients" || message.type === "snapshot") gradientCharts.update(model.gradients, model.graph);
  if (message.type === "training" || message.type === "snapshot") trainingCharts.update(model.training);
  if (message.type === "lrRange") {
    if (model.view.tab !== "training") setTab("training");
    trainingCharts.showLrRange(model.lrRange);
  }
  persist();
}

function runCommand(command: "exportPng" | "exportSvg" | "fit" | "showGradients" | "showTraining"): void {
  switch (command) {
    case "exportPng":
      void exportPng();
      break;
    case "exportSvg":
      exportSvg();
      break;
    case "fit":
      fit();
      break;
    case "showGradients":
      setTab("gradients");
      break;
    case "showTraining":
      setTab("training");
      break;
  }
}

// ---------- view state ----------
let persistTimer: number | undefined;
function persist(): void {
  vscode.setState(model.view);
  if (persistTimer !== undefined) clearTimeout(persistTimer);
  persistTimer = window.setTimeout(() => post({ type: "viewState", view: model.view }), 300);
}

function updateView(action: ViewAction): void {
  model = { ...model, view: reduceView(model.view, action) };
  persist();
}

function setTab(tab: ViewState["tab"]): void {
  updateView({ kind: "tab", tab });
  syncChrome();
  if (tab === "gradients") gradientCharts.update(model.gradients, model.graph);
  if (tab === "training") trainingCharts.update(model.training);
  if (tab === "diagram") renderDiagram(true);
}

function syncChrome(): void {
  titleEl.textContent = model.title;
  for (const [tab, b] of tabButtons) b.setAttribute("aria-selected", String(model.view.tab === tab));
  for (const pane of [diagramPane, gradientsPane, trainingPane])
    pane.classList.toggle("active", pane.dataset.pane === model.view.tab);
  for (const [key, box] of overlayBoxes) {
    const b = box as HTMLElement & { checked: boolean };
    const on = model.view.overlays[key] ?? false;
    if (b.checked !== on) b.checked = on;
  }
  if (searchField.value !== model.view.search) searchField.value = model.view.search;
  const errors = model.diagnostics.filter((d) => d.severity === "error");
  problems.classList.toggle("visible", errors.length > 0);
  problems.textContent =
    errors.map((d) => formatDiagnostic(d)).join("\n") +
    (errors.length && model.laid ? "\n(showing the last valid diagram)" : "");
  emptyMessage.style.display = model.laid ? "none" : "flex";
}

// ---------- diagram rendering ----------
let diagramDirty = true;
let renderedRect: Rect | null = null;
let renderQueued = false;

function viewportSize(): { width: number; height: number } {
  return { width: viewport.clientWidth || window.innerWidth, height: viewport.clientHeight || window.innerHeight - 40 };
}
function transform(): Transform {
  return { zoom: model.view.zoom, panX: model.view.panX, panY: model.view.panY };
}

function isLarge(laid: LaidOutGraph): boolean {
  return laid.nodes.length + laid.containers.length > VIRTUALIZE_ABOVE;
}

let overviewMode = false;

function countVisible(laid: LaidOutGraph, r: Rect): number {
  let n = 0;
  for (const b of laid.nodes)
    if (b.x < r.x + r.width && r.x < b.x + b.width && b.y < r.y + r.height && r.y < b.y + b.height) n++;
  return n;
}

/**
 * Re-render the diagram. Small graphs: the whole SVG once. Large graphs: only the visible part (plus a
 * margin) as SVG, re-rendered when panning leaves it; zoomed out so far that hundreds of boxes are on
 * screen, a canvas overview instead (thousands of SVG elements would block the page). `force` when
 * content, overlays or selection changed.
 */
function renderDiagram(force = false): void {
  const laid = model.laid;
  if (!laid || model.view.tab !== "diagram") {
    if (force) diagramDirty = true;
    return;
  }
  if (model.view.zoom <= 0) {
    openReadable();
    return;
  }
  const large = isLarge(laid);
  const vis = visibleRect(transform(), viewportSize(), 0);
  const wantOverview = large && countVisible(laid, vis) > SVG_MAX_VISIBLE_BOXES;
  if (wantOverview) {
    if (!overviewMode) {
      overviewMode = true;
      layer.replaceChildren();
      renderedRect = null;
      overview.classList.remove("hidden");
    }
    timed("overview", () => drawOverview(laid));
    diagramDirty = false;
    status.textContent = `${laid.name} · ${laid.nodes.length} boxes · ${Math.round(model.view.zoom * 100)}% · zoom in for details`;
    return;
  }
  if (overviewMode) {
    overviewMode = false;
    overview.classList.add("hidden");
    force = true;
  }
  if (!force && !diagramDirty && (!large || (renderedRect && containsRect(renderedRect, vis)))) return;
  const rect = large ? visibleRect(transform(), viewportSize(), 0.3) : null;
  const svg = timed("renderSvg", () =>
    renderSvg(laid, model.view.overlays, model.view.overlays.gradients ? (model.gradients?.residual ?? null) : null, {
      selected: model.view.selected,
      viewport: rect,
      tooltips: false,
      memory: memoryOverlay(),
    }),
  );
  timed("innerHTML", () => {
    layer.innerHTML = svg;
  });
  const key = renderLegendSvg(
    laid,
    model.view.overlays,
    model.view.overlays.gradients ? (model.gradients?.residual ?? null) : null,
    memoryOverlay(),
  );
  legend.innerHTML = key ?? "";
  legend.style.display = key ? "block" : "none";
  renderedRect = rect ?? { x: -Infinity, y: -Infinity, width: Infinity, height: Infinity };
  diagramDirty = false;
  markSearchHits();
  status.textContent = `${laid.name} · ${laid.nodes.length} boxes · ${Math.round(model.view.zoom * 100)}%`;
}

/** The zoomed-out picture: frames, edges and boxes as plain shapes in theme colours. */
function drawOverview(laid: LaidOutGraph): void {
  const { width, height } = viewportSize();
  const dpr = window.devicePixelRatio || 1;
  if (overview.width !== Math.round(width * dpr) || overview.height !== Math.round(height * dpr)) {
    overview.width = Math.round(width * dpr);
    overview.height = Math.round(height * dpr);
    overview.style.width = `${width}px`;
    overview.style.height = `${height}px`;
  }
  const ctx = overview.getContext("2d");
  if (!ctx) return;
  const t = transform();
  const css = getComputedStyle(document.body);
  const color = (name: string, fallback: string): string => css.getPropertyValue(name).trim() || fallback;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, overview.width, overview.height);
  ctx.setTransform(t.zoom * dpr, 0, 0, t.zoom * dpr, t.panX * dpr, t.panY * dpr);
  const vis = visibleRect(t, { width, height }, 0);
  const on = (b: Rect): boolean =>
    b.x < vis.x + vis.width && vis.x < b.x + b.width && b.y < vis.y + vis.height && vis.y < b.y + b.height;
  ctx.lineWidth = 1 / t.zoom;
  ctx.strokeStyle = color("--vscode-panel-border", "#80808080");
  for (const c of laid.containers) if (on(c)) ctx.strokeRect(c.x, c.y, c.width, c.height);
  ctx.beginPath();
  ctx.strokeStyle = color("--vscode-editor-foreground", "#cccccc");
  for (const e of laid.edges) {
    if (e.kind !== "main" || e.points.length === 0) continue;
    ctx.moveTo(e.points[0]!.x, e.points[0]!.y);
    for (let i = 1; i < e.points.length; i++) ctx.lineTo(e.points[i]!.x, e.points[i]!.y);
  }
  ctx.stroke();
  ctx.beginPath();
  ctx.strokeStyle = color("--vscode-charts-orange", "#d18616");
  for (const e of laid.edges) {
    if (e.kind !== "shortcut" || e.points.length === 0) continue;
    ctx.moveTo(e.points[0]!.x, e.points[0]!.y);
    for (let i = 1; i < e.points.length; i++) ctx.lineTo(e.points[i]!.x, e.points[i]!.y);
  }
  ctx.stroke();
  ctx.fillStyle = color("--vscode-editorWidget-background", "#252526");
  ctx.strokeStyle = color("--vscode-editorWidget-border", "#6b6b6b");
  for (const n of laid.nodes)
    if (on(n)) {
      ctx.fillRect(n.x, n.y, n.width, n.height);
      ctx.strokeRect(n.x, n.y, n.width, n.height);
    }
  const selected = model.view.selected ? findBox(model.view.selected) : null;
  if (selected) {
    ctx.lineWidth = 3 / t.zoom;
    ctx.strokeStyle = color("--vscode-focusBorder", "#007fd4");
    ctx.strokeRect(selected.x, selected.y, selected.width, selected.height);
  }
}

/** The box under a screen point, for clicks on the canvas overview. */
function boxAtScreen(clientX: number, clientY: number): string | null {
  const laid = model.laid;
  if (!laid) return null;
  const r = viewport.getBoundingClientRect();
  const t = transform();
  const x = (clientX - r.left - t.panX) / t.zoom,
    y = (clientY - r.top - t.panY) / t.zoom;
  const hit = laid.nodes.find((n) => x >= n.x && x <= n.x + n.width && y >= n.y && y <= n.y + n.height);
  return hit ? hit.id : null;
}

function scheduleRender(): void {
  if (overviewMode) diagramDirty = true;
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    renderDiagram(false);
  });
}

function applyTransform(): void {
  const t = transform();
  layer.style.transform = `translate(${t.panX}px, ${t.panY}px) scale(${t.zoom})`;
  drawMinimapViewport();
  scheduleRender();
}

function setTransform(t: Transform): void {
  updateView({ kind: "transform", ...t });
  applyTransform();
}

function fit(): void {
  const laid = model.laid;
  if (!laid) return;
  model = { ...model, needsFit: false };
  setTransform(fitTransform(laid, viewportSize()));
  renderDiagram(true);
}

/** A new diagram opens at the top of the network, readable (see initialTransform). */
function openReadable(): void {
  const laid = model.laid;
  if (!laid) return;
  model = { ...model, needsFit: false };
  setTransform(initialTransform(laid, viewportSize()));
  renderDiagram(true);
}

/** Side by side as many columns as the panel's width holds, or back to one. */
async function toggleColumns(): Promise<void> {
  const laid = model.laid;
  if (!laid || expansionBusy) return;
  const current = model.view.expansion.columns ?? 1;
  const columns = current > 1 ? 1 : Math.max(2, Math.floor((viewportSize().width - 32) / (laid.width / current)));
  expansionBusy = true;
  try {
    await request({ kind: "layout", expansion: { ...model.view.expansion, columns } });
  } catch {
    /* reported */
  } finally {
    expansionBusy = false;
  }
  openReadable();
}

function zoomBy(factor: number): void {
  const { width, height } = viewportSize();
  setTransform(zoomAt(transform(), factor, width / 2, height / 2));
}

// ---------- minimap ----------
let minimapImage: HTMLCanvasElement | null = null;
let minimapScale = 1;

function buildMinimap(): void {
  const laid = model.laid;
  const { height } = viewportSize();
  if (!laid) {
    minimapImage = null;
    minimap.classList.add("hidden");
    return;
  }
  minimapScale = Math.min(MINIMAP_WIDTH / laid.width, (height * 0.6) / laid.height);
  const w = Math.max(20, Math.round(laid.width * minimapScale)),
    h = Math.max(20, Math.round(laid.height * minimapScale));
  minimap.width = w;
  minimap.height = h;
  const image = document.createElement("canvas");
  image.width = w;
  image.height = h;
  const ctx = image.getContext("2d");
  if (!ctx) return;
  const css = getComputedStyle(document.body);
  ctx.globalAlpha = 0.6;
  ctx.fillStyle = css.getPropertyValue("--vscode-descriptionForeground").trim() || "#9d9d9d";
  for (const n of laid.nodes)
    ctx.fillRect(
      n.x * minimapScale,
      n.y * minimapScale,
      Math.max(1, n.width * minimapScale),
      Math.max(1, n.height * minimapScale),
    );
  minimapImage = image;
  drawMinimapViewport();
}

/** The minimap is only shown while part of the diagram is off screen. */
function drawMinimapViewport(): void {
  const laid = model.laid;
  if (!minimapImage || !laid) return;
  const { width, height } = viewportSize();
  const t = transform();
  const offScreen =
    t.panX < -1 ||
    t.panY < -1 ||
    t.panX + laid.width * t.zoom > width + 1 ||
    t.panY + laid.height * t.zoom > height + 1;
  minimap.classList.toggle("hidden", !offScreen);
  if (!offScreen) return;
  const ctx = minimap.getContext("2d");
  if (!ctx) return;
  ctx.clearRect(0, 0, minimap.width, minimap.height);
  ctx.drawImage(minimapImage, 0, 0);
  // The visible part, clamped to the diagram so all four sides stay inside the minimap.
  const v = visibleRect(t, { width, height }, 0);
  const x0 = Math.max(0, v.x),
    y0 = Math.max(0, v.y);
  const x1 = Math.min(laid.width, v.x + v.width),
    y1 = Math.min(laid.height, v.y + v.height);
  if (x1 <= x0 || y1 <= y0) return;
  ctx.strokeStyle = getComputedStyle(document.body).getPropertyValue("--vscode-focusBorder").trim() || "#007fd4";
  ctx.lineWidth = 2;
  ctx.strokeRect(
    x0 * minimapScale + 1,
    y0 * minimapScale + 1,
    Math.max(2, (x1 - x0) * minimapScale - 2),
    Math.max(2, (y1 - y0) * minimapScale - 2),
  );
}

function minimapJump(e: PointerEvent): void {
  const r = minimap.getBoundingClientRect();
  const x = (e.clientX - r.left) / minimapScale,
    y = (e.clientY - r.top) / minimapScale;
  setTransform(centreOn(transform(), { x, y, width: 0, height: 0 }, viewportSize()));
}
minimap.addEventListener("pointerdown", (e) => {
  e.stopPropagation();
  minimap.setPointerCapture(e.pointerId);
  minimapJump(e);
});
minimap.addEventListener("pointermove", (e) => {
  if (minimap.hasPointerCapture(e.pointerId)) minimapJump(e);
});

// ---------- interaction ----------
function findBox(id: string): LaidOutNode | null {
  const laid = model.laid;
  if (!laid) return null;
  const node = laid.nodes.find((n) => n.id === id);
  if (node) return node;
  const c = laid.containers.find((x) => x.id === id);
  if (!c) return null;
  return {
    id: c.id,
    label: c.label,
    sublabel: c.sublabel,
    kind: c.group,
    x: c.x,
    y: c.y,
    width: c.width,
    height: c.height,
    group: c.group,
    expandable: true,
    expanded: true,
    params: c.params,
    macs: c.macs,
    outputShape: [],
    role: "main",
    source: c.source,
    nodeIds: [],
  };
}

function nodeIdAt(target: EventTarget | null): string | null {
  const g = target instanceof Element ? target.closest("[data-node-id]") : null;
  return g ? g.getAttribute("data-node-id") : null;
}

function select(id: string | null, reveal: boolean): void {
  updateView({ kind: "select", id });
  renderDiagram(true);
  if (id && reveal) {
    const box = findBox(id);
    post({ type: "revealSource", nodeId: id, range: box?.source ?? null });
  }
}

function ensureVisible(id: string): void {
  const box = findBox(id);
  if (!box) return;
  const v = visibleRect(transform(), viewportSize(), -0.05);
  if (!containsRect(v, box)) setTransform(centreOn(transform(), box, viewportSize()));
}

let expansionBusy = false;
async function toggle(id: string): Promise<void> {
  if (expansionBusy) return;
  const expansion: ExpansionState = toggleExpansion(model.view.expansion, id);
  expansionBusy = true;
  showStatus(`Laying out…`);
  try {
    await request({ kind: "layout", expansion });
  } catch {
    // the response handler already reported it
  } finally {
    expansionBusy = false;
  }
  if (findBox(id)) {
    updateView({ kind: "select", id });
    renderDiagram(true);
  }
}

function collapseAround(id: string): void {
  const expanded = new Set(model.view.expansion.expanded);
  if (expanded.has(id)) {
    void toggle(id);
    return;
  }
  const group = enclosingGroups(model.graph, id).find((g) => expanded.has(g));
  if (group) void toggle(group);
}

/** Two clicks on the same node within this many ms expand or collapse it (the common OS default is 500). */
const DOUBLE_CLICK_MS = 500;
let lastClick: { id: string; time: number } | null = null;
let drag: { x: number; y: number; panX: number; panY: number; moved: boolean; pointerId: number } | null = null;
viewport.addEventListener("pointerdown", (e) => {
  if (e.button !== 0) return;
  viewport.focus();
  drag = {
    x: e.clientX,
    y: e.clientY,
    panX: model.view.panX,
    panY: model.view.panY,
    moved: false,
    pointerId: e.pointerId,
  };
});
viewport.addEventListener("pointermove", (e) => {
  if (drag && e.pointerId === drag.pointerId) {
    const dx = e.clientX - drag.x,
      dy = e.clientY - drag.y;
    if (!drag.moved && Math.hypot(dx, dy) > 4) {
      drag.moved = true;
      viewport.classList.add("dragging");
      viewport.setPointerCapture(e.pointerId);
      hideTooltip();
    }
    if (drag.moved) {
      setTransform({ zoom: model.view.zoom, panX: drag.panX + dx, panY: drag.panY + dy });
      return;
    }
  }
  showTooltipFor(overviewMode ? boxAtScreen(e.clientX, e.clientY) : nodeIdAt(e.target), e);
});
viewport.addEventListener("pointerup", (e) => {
  if (e.button !== 0) return; // the right button opens the edit menu (contextmenu below)
  const wasDrag = drag?.moved ?? false;
  drag = null;
  viewport.classList.remove("dragging");
  if (wasDrag) return;
  const id = overviewMode ? boxAtScreen(e.clientX, e.clientY) : nodeIdAt(e.target);
  if (!id) {
    select(null, false);
    return;
  }
  const box = findBox(id);
  // Clicking the ⊟ header of an expanded frame collapses it; clicking a box selects it and reveals its source.
  if (box && box.expanded && e.target instanceof Element && e.target.classList.contains("rs-glyph")) {
    void toggle(id);
    return;
  }
  // A native dblclick never fires here: the first click re-renders the SVG, so the second lands on a new element.
  // Pair the clicks ourselves, by node id, within the usual double-click interval.
  const isDoubleClick = lastClick !== null && lastClick.id === id && e.timeStamp - lastClick.time < DOUBLE_CLICK_MS;
  lastClick = isDoubleClick ? null : { id, time: e.timeStamp };
  if (isDoubleClick) {
    if (box?.expandable) void toggle(id);
    return;
  }
  select(id, true);
});
viewport.addEventListener("pointerleave", hideTooltip);
viewport.addEventListener(
  "wheel",
  (e) => {
    e.preventDefault();
    const r = viewport.getBoundingClientRect();
    const factor = Math.exp(-e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.0015));
    setTransform(zoomAt(transform(), factor, e.clientX - r.left, e.clientY - r.top));
  },
  { passive: false },
);

window.addEventListener("keydown", (e) => {
  const inField = e.composedPath().some((t) => t === searchField);
  if (inField || editMenu.isOpen) return;
  if (model.view.tab === "diagram" && editKey(e)) return;
  if (model.view.tab !== "diagram" || !model.laid) return;
  const arrows: Record<string, Direction> = {
    ArrowUp: "up",
    ArrowDown: "down",
    ArrowLeft: "left",
    ArrowRight: "right",
  };
  const dir = arrows[e.key];
  if (dir) {
    e.preventDefault();
    const next = neighbour(model.laid, model.view.selected, dir);
    if (next) {
      select(next, false);
      ensureVisible(next);
    }
    return;
  }
  const selected = model.view.selected;
  switch (e.key) {
    case "Enter": {
      const box = selected ? findBox(selected) : null;
      if (box?.expandable && !box.expanded) void toggle(box.id);
      else if (selected) select(selected, true);
      break;
    }
    case "Escape":
      if (selected) collapseAround(selected);
      break;
    case "+":
    case "=":
      zoomBy(1.25);
      break;
    case "-":
    case "_":
      zoomBy(0.8);
      break;
    case "0":
      fit();
      break;
    case "/":
      e.preventDefault();
      searchField.focus();
      break;
    default:
      return;
  }
});

// ---------- editing the spec from the diagram ----------
const editMenu = new EditMenu(diagramPane, (item) => void requestEdit(item));

async function requestEdit(item: EditItem): Promise<void> {
  try {
    const result = await request({ kind: "editSpec", edit: item.edit, ask: item.ask });
    showStatus(result.applied ? `Edited: ${result.message}` : `Not changed: ${result.message}`);
  } catch {
    // the response handler already reported it
  }
}

function openEditMenu(nodeId: string | null, x: number, y: number): void {
  const spec = model.graph?.spec;
  if (!spec) return;
  hideTooltip();
  editMenu.open(editMenuSections(spec, nodeId), x, y);
}

viewport.addEventListener("contextmenu", (e) => {
  e.preventDefault();
  const id = overviewMode ? boxAtScreen(e.clientX, e.clientY) : nodeIdAt(e.target);
  if (id && id !== model.view.selected) select(id, false);
  const pane = diagramPane.getBoundingClientRect();
  openEditMenu(id, e.clientX - pane.left, e.clientY - pane.top);
});

/** Keys that edit: the context-menu key, Shift+F10 or `e` open the menu at the selection; `]` / `[` add or remove a block of its stage. */
function editKey(e: KeyboardEvent): boolean {
  const selected = model.view.selected;
  const spec = model.graph?.spec;
  if (!spec || e.ctrlKey || e.metaKey || e.altKey) return false;
  if (e.key === "ContextMenu" || (e.key === "F10" && e.shiftKey) || e.key === "e") {
    e.preventDefault();
    const box = selected ? findBox(selected) : null;
    const t = transform();
    openEditMenu(selected, box ? box.x * t.zoom + t.panX + 8 : 8, box ? (box.y + box.height) * t.zoom + t.panY : 8);
    return true;
  }
  const stage = stageIndexOf(selected);
  const current = stage === null ? undefined : spec.stages[stage];
  if ((e.key === "]" || e.key === "[") && stage !== null && current) {
    e.preventDefault();
    const value = current.blocks + (e.key === "]" ? 1 : -1);
    void requestEdit({ label: `blocks ${value}`, edit: { kind: "stage", stage, key: "blocks", value } });
    return true;
  }
  return false;
}

// ---------- tooltip ----------
let tooltipFor: string | null = null;
function showTooltipFor(id: string | null, e: PointerEvent): void {
  if (!id) {
    hideTooltip();
    return;
  }
  const pane = diagramPane.getBoundingClientRect();
  if (id !== tooltipFor) {
    const box = findBox(id);
    if (!box) {
      hideTooltip();
      return;
    }
    const d = nodeDetails(box, model.graph, model.gradients?.residual ?? null);
    tooltip.replaceChildren(
      el("div", { class: "t-title" }, d.title),
      el("table", {}, ...d.rows.map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", {}, v)))),
    );
    tooltipFor = id;
  }
  tooltip.classList.add("visible");
  const x = Math.min(e.clientX - pane.left + 14, pane.width - tooltip.offsetWidth - 4);
  const y = Math.min(e.clientY - pane.top + 14, pane.height - tooltip.offsetHeight - 4);
  tooltip.style.left = `${Math.max(0, x)}px`;
  tooltip.style.top = `${Math.max(0, y)}px`;
}
function hideTooltip(): void {
  tooltip.classList.remove("visible");
  tooltipFor = null;
}

// ---------- search ----------
let searchIndex = -1;
function markSearchHits(): void {
  const q = model.view.search;
  const hits = q && model.laid ? new Set(searchNodes(model.laid, q).map((n) => n.id)) : new Set<string>();
  for (const g of layer.querySelectorAll<SVGGElement>("g[data-node-id]"))
    g.classList.toggle("search-hit", hits.has(g.getAttribute("data-node-id") ?? ""));
}
searchField.addEventListener("input", () => {
  updateView({ kind: "search", text: searchField.value });
  searchIndex = -1;
  markSearchHits();
  const laid = model.laid;
  const count = laid ? searchNodes(laid, searchField.value).length : 0;
  showStatus(searchField.value ? `${count} match${count === 1 ? "" : "es"}` : "");
});
searchField.addEventListener("keydown", (e) => {
  if (e.key === "Escape") {
    searchField.value = "";
    searchField.dispatchEvent(new Event("input"));
    viewport.focus();
    return;
  }
  if (e.key !== "Enter" || !model.laid) return;
  const hits = searchNodes(model.laid, searchField.value);
  if (hits.length === 0) return;
  searchIndex = (searchIndex + (e.shiftKey ? -1 : 1) + hits.length) % hits.length;
  const hit = hits[searchIndex]!;
  select(hit.id, false);
  setTransform(centreOn(transform(), hit, viewportSize()));
  showStatus(`${searchIndex + 1} / ${hits.length}: ${hit.id}`);
});

function showStatus(text: string): void {
  if (text) status.textContent = text;
}

// ---------- toolbar actions ----------
toolbar.addEventListener("click", (e) => {
  const target = e.target instanceof Element ? e.target.closest("[data-action]") : null;
  switch (target?.getAttribute("data-action")) {
    case "zoomIn":
      zoomBy(1.25);
      break;
    case "zoomOut":
      zoomBy(0.8);
      break;
    case "fit":
      fit();
      break;
    case "columns":
      void toggleColumns();
      break;
    case "exportSvg":
      exportSvg();
      break;
    case "exportPng":
      void exportPng();
      break;
    case "gradients":
      setTab("gradients");
      void computeGradients();
      break;
    case "train":
      setTab("training");
      void request({ kind: "train" }).catch(() => undefined);
      break;
    case "cancel":
      void request({ kind: "cancelTraining" }).catch(() => undefined);
      break;
  }
});

async function computeGradients(): Promise<void> {
  showStatus("Computing gradient flow…");
  gradientCharts.setBusy(true);
  try {
    await request({ kind: "gradientFlow" });
  } catch {
    /* reported */
  } finally {
    gradientCharts.setBusy(false);
  }
}

function exportName(ext: string): string {
  // The host accepts a base name of at most 128 characters (model-core/src/protocolValidate.ts).
  return `${
    (model.laid?.name ?? "resnet")
      .replace(/[^A-Za-z0-9_.-]+/g, "-")
      .replace(/^[.-]+/, "")
      .slice(0, 100) || "resnet"
  }.${ext}`;
}

function exportSvg(): void {
  void request({
    kind: "saveSvg",
    expansion: model.view.expansion,
    overlays: model.view.overlays,
    suggestedName: exportName("svg"),
  }).catch(() => undefined);
}

/** Largest PNG side; canvases beyond ~16k px fail in Chromium. */
/** The memory overlay at the batch of the current training run, else Train Small Model's default; one estimate per graph and batch. */
let memoryCache: { graph: WebviewModel["graph"]; batch: number; data: MemoryOverlayData } | null = null;
function memoryOverlay(): MemoryOverlayData | null {
  if (!model.view.overlays.memory || !model.graph) return null;
  const batch = model.training.batch > 0 ? model.training.batch : DEFAULT_TRAIN_CONFIG.batchSize;
  if (memoryCache?.graph !== model.graph || memoryCache.batch !== batch) {
    memoryCache = { graph: model.graph, batch, data: memoryOverlayData(trainingMemory(model.graph, { batch })) };
  }
  return memoryCache.data;
}

const PNG_MAX_SIDE = 12000;

async function exportPng(): Promise<void> {
  const laid = model.laid;
  if (!laid) return;
  const svg = renderSvg(
    laid,
    model.view.overlays,
    model.view.overlays.gradients ? (model.gradients?.residual ?? null) : null,
    { standalone: true, selected: null, memory: memoryOverlay() },
  );
  const url = URL.createObjectURL(new Blob([svg], { type: "image/svg+xml" }));
  try {
    const img = new Image();
    await new Promise<void>((resolve, reject) => {
      img.onload = () => resolve();
      img.onerror = () => reject(new Error("could not rasterise the SVG"));
      img.src = url;
    });
    const scale = Math.min(2, PNG_MAX_SIDE / Math.max(laid.width, laid.height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(laid.width * scale));
    canvas.height = Math.max(1, Math.round(laid.height * scale));
    const ctx = canvas.getContext("2d");
    if (!ctx) throw new Error("no 2D canvas");
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
    const base64 = canvas.toDataURL("image/png").replace(/^data:image\/png;base64,/, "");
    await request({ kind: "savePng", base64, suggestedName: exportName("png") });
  } catch (err) {
    showStatus(`PNG export failed: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    URL.revokeObjectURL(url);
  }
}

window.addEventListener("resize", () => {
  buildMinimap();
  renderDiagram(false);
});

// ---------- start ----------
syncChrome();
applyTransform();
post({ type: "ready" });

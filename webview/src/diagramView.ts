/**
 * The diagram pane: renders the laid-out graph as SVG, pans and zooms it with a CSS transform, and keeps big graphs
 * fast. Small graphs: the whole SVG once. Large graphs: only the visible part (plus a margin) as SVG, re-rendered
 * when panning leaves it; zoomed out so far that hundreds of boxes are on screen, a canvas overview instead.
 * Selection and search hits change classes on the rendered boxes; only new content (layout, overlays, gradients)
 * renders the SVG again.
 */
import { renderLegendSvg, renderSvg } from "resnet-studio/render/svg";
import type { LaidOutGraph, LaidOutNode } from "resnet-studio/render/layout";
import { formatPercent } from "resnet-studio/presentation/format";
import { el } from "./dom";
import {
  centreOn,
  containsRect,
  fitTransform,
  initialTransform,
  searchNetwork,
  visibleRect,
  zoomAt,
  zoomLimits,
  type Rect,
  type Transform,
} from "./geometry";
import { Minimap } from "./minimap";
import { countVisible, drawOverview } from "./overviewCanvas";
import type { OverlayData } from "./overlayData";
import type { Store } from "./store";
import type { WebviewModel } from "./state";
import { timed } from "./timing";

/** Above this many boxes only the visible part of the diagram (plus a margin) is in the DOM. */
const VIRTUALIZE_ABOVE = 250;
/** Beyond this many boxes on screen, boxes are a few pixels big: draw them on a canvas instead of as SVG. */
const SVG_MAX_VISIBLE_BOXES = 400;

export class DiagramView {
  readonly viewport = el("div", {
    id: "viewport",
    tabindex: "0",
    role: "application",
    "aria-label": "Network diagram: arrows move, Enter expands, Escape collapses, E or right-click edits",
  });
  readonly pane: HTMLElement;
  private readonly layer = el("div", { id: "layer" });
  private readonly overview = el("canvas", { id: "overview", class: "hidden" });
  private readonly emptyMessage = el(
    "div",
    { class: "empty" },
    "Open a .resnet.ts spec and run “ResNet Studio: Open Diagram to the Side”.",
  );
  private readonly status = el("div", { class: "status" });
  /** The zoom in %, updated with every transform (wheel, + and −, Fit), unlike the status line. */
  private readonly zoomLabel = el("span", { class: "zoom-level", "data-role": "zoom", "aria-live": "polite" });
  /** The heat overlay's key, kept on screen (the diagram's own copy sits under the last box). */
  private readonly legend = el("div", { class: "legend", "data-role": "legend" });
  /** Below the diagram, never over it: the legend, the status line and the zoom. */
  private readonly strip = el(
    "div",
    { class: "diagram-strip" },
    this.legend,
    el("div", { class: "footer" }, this.status, this.zoomLabel),
  );
  private readonly minimap: Minimap;
  /** The SVG no longer shows the model: the next render draws it whatever is on screen. */
  private dirty = true;
  /** The part of a large diagram (diagram coordinates) that the SVG holds. */
  private renderedRect: Rect | null = null;
  private renderQueued = false;
  /** The canvas overview is showing instead of the SVG. */
  private overviewMode = false;

  constructor(
    private readonly store: Store,
    private readonly overlays: OverlayData,
  ) {
    this.minimap = new Minimap((point) =>
      this.setTransform(centreOn(this.transform(), { ...point, width: 0, height: 0 }, this.viewportSize())),
    );
    this.viewport.append(this.layer, this.overview);
    this.pane = el(
      "section",
      { class: "pane", "data-pane": "diagram" },
      this.viewport,
      this.emptyMessage,
      this.minimap.canvas,
      this.strip,
    );
  }

  private get model(): WebviewModel {
    return this.store.model;
  }

  viewportSize(): { width: number; height: number } {
    return {
      width: this.viewport.clientWidth || window.innerWidth,
      height: this.viewport.clientHeight || window.innerHeight - 40,
    };
  }

  transform(): Transform {
    const { zoom, panX, panY } = this.model.view;
    return { zoom, panX, panY };
  }

  /** A new layout arrived: the SVG and the minimap are stale. */
  layoutChanged(): void {
    this.dirty = true;
    timed("minimap", () => {
      this.minimap.build(this.model.laid, this.viewportSize().height);
      this.minimap.draw(this.model.laid, this.transform(), this.viewportSize());
    });
  }

  /** The window changed size. */
  resized(): void {
    this.minimap.build(this.model.laid, this.viewportSize().height);
    this.minimap.draw(this.model.laid, this.transform(), this.viewportSize());
    this.render(false);
  }

  /** Shows the empty-page hint while there is no diagram. */
  sync(): void {
    this.emptyMessage.style.display = this.model.laid ? "none" : "flex";
  }

  /** A message in the status line (an empty one keeps the current text). */
  showStatus(text: string): void {
    if (text) this.status.textContent = text;
  }

  /**
   * Re-render what is on screen. `force` when the content changed (layout, overlays, gradients); without it only a
   * large diagram panned beyond its rendered part, or a switch between SVG and canvas, renders.
   */
  render(force = false): void {
    const model = this.model;
    const laid = model.laid;
    if (!laid || model.view.tab !== "diagram") {
      if (force) this.dirty = true;
      return;
    }
    if (model.view.zoom <= 0) {
      this.openReadable();
      return;
    }
    const large = laid.nodes.length + laid.containers.length > VIRTUALIZE_ABOVE;
    const vis = visibleRect(this.transform(), this.viewportSize(), 0);
    if (large && countVisible(laid, vis) > SVG_MAX_VISIBLE_BOXES) {
      if (!this.overviewMode) {
        this.overviewMode = true;
        this.layer.replaceChildren();
        this.renderedRect = null;
        this.overview.classList.remove("hidden");
      }
      timed("overview", () => this.drawOverview(laid));
      this.dirty = false;
      this.status.textContent = `${laid.name} · ${laid.nodes.length} boxes · zoom in for details`;
      return;
    }
    if (this.overviewMode) {
      this.overviewMode = false;
      this.overview.classList.add("hidden");
      force = true;
    }
    if (!force && !this.dirty && (!large || (this.renderedRect && containsRect(this.renderedRect, vis)))) return;
    const rect = large ? visibleRect(this.transform(), this.viewportSize(), 0.3) : null;
    const gradients = this.overlays.gradients(model);
    const memory = this.overlays.memory(model);
    const svg = timed("renderSvg", () =>
      renderSvg(laid, model.view.overlays, gradients, {
        selected: model.view.selected,
        viewport: rect,
        tooltips: false,
        memory,
      }),
    );
    timed("innerHTML", () => {
      this.layer.innerHTML = svg;
    });
    const key = renderLegendSvg(laid, model.view.overlays, gradients, memory);
    this.legend.innerHTML = key ?? "";
    this.legend.style.display = key ? "block" : "none";
    this.fitViewportAboveStrip();
    this.renderedRect = rect ?? { x: -Infinity, y: -Infinity, width: Infinity, height: Infinity };
    this.dirty = false;
    this.markSearchHits();
    this.status.textContent = `${laid.name} · ${laid.nodes.length} boxes`;
  }

  /** The viewport ends where the strip begins, so the legend covers no box and Fit fits above it. */
  private fitViewportAboveStrip(): void {
    if (this.pane.offsetParent === null) return; // hidden: no height to measure
    const height = `${this.strip.offsetHeight}px`;
    if (this.pane.style.getPropertyValue("--strip") === height) return;
    this.pane.style.setProperty("--strip", height);
    this.minimap.draw(this.model.laid, this.transform(), this.viewportSize());
  }

  private drawOverview(laid: LaidOutGraph): void {
    const selected = this.model.view.selected;
    drawOverview(this.overview, laid, this.transform(), this.viewportSize(), selected ? this.findBox(selected) : null);
  }

  /** Outlines the selected box: moves the `rs-selected` class (or redraws the canvas overview); nothing re-renders. */
  showSelection(): void {
    const laid = this.model.laid;
    if (this.overviewMode) {
      if (laid) this.drawOverview(laid);
      return;
    }
    const selected = this.model.view.selected;
    for (const g of this.layer.querySelectorAll<SVGGElement>("g.rs-selected[data-node-id]"))
      if (g.getAttribute("data-node-id") !== selected) g.classList.remove("rs-selected");
    if (selected !== null)
      for (const g of this.layer.querySelectorAll<SVGGElement>(`g[data-node-id="${CSS.escape(selected)}"]`))
        g.classList.add("rs-selected");
  }

  /** Marks the boxes that match the search text, and the folded boxes that hold a match. */
  markSearchHits(): void {
    const { graph, laid, view } = this.model;
    const marked = new Set<string>();
    if (view.search && graph && laid) {
      const folded = new Set(laid.nodes.filter((n) => n.expandable && !n.expanded).map((n) => n.id));
      for (const hit of searchNetwork(graph, view.search)) {
        marked.add(hit.id);
        for (const g of hit.groups) if (folded.has(g)) marked.add(g);
      }
    }
    for (const g of this.layer.querySelectorAll<SVGGElement>("g[data-node-id]"))
      g.classList.toggle("search-hit", marked.has(g.getAttribute("data-node-id") ?? ""));
  }

  /** Renders on the next frame (once, however many transforms arrive before it). */
  private scheduleRender(): void {
    if (this.overviewMode) this.dirty = true;
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      this.render(false);
    });
  }

  /** Moves the rendered diagram to the model's transform; the footer's zoom % follows at once. */
  applyTransform(): void {
    const t = this.transform();
    this.layer.style.transform = `translate(${t.panX}px, ${t.panY}px) scale(${t.zoom})`;
    this.zoomLabel.textContent = t.zoom > 0 ? formatPercent(t.zoom) : "";
    this.minimap.draw(this.model.laid, t, this.viewportSize());
    this.scheduleRender();
  }

  setTransform(t: Transform): void {
    this.store.updateView({ kind: "transform", ...t });
    this.applyTransform();
  }

  zoomBy(factor: number): void {
    const { width, height } = this.viewportSize();
    this.setTransform(zoomAt(this.transform(), factor, width / 2, height / 2, this.zoomLimits()));
  }

  /** Zooms by `factor` keeping the diagram point under the screen point (clientX, clientY) in place. */
  zoomAtScreen(factor: number, clientX: number, clientY: number): void {
    const r = this.viewport.getBoundingClientRect();
    this.setTransform(zoomAt(this.transform(), factor, clientX - r.left, clientY - r.top, this.zoomLimits()));
  }

  private zoomLimits(): { min: number; max: number } {
    return zoomLimits(this.model.laid, this.viewportSize());
  }

  /** The whole diagram in the window. */
  fit(): void {
    this.placeDiagram(fitTransform);
  }

  /** A new diagram opens at the top of the network, readable (see initialTransform). */
  openReadable(): void {
    this.placeDiagram(initialTransform);
  }

  private placeDiagram(place: (laid: LaidOutGraph, viewport: { width: number; height: number }) => Transform): void {
    const laid = this.model.laid;
    if (!laid) return;
    this.store.fitted();
    this.setTransform(place(laid, this.viewportSize()));
    this.render(true);
  }

  /** Pans so that box `id` is on screen, when it is not. */
  ensureVisible(id: string): void {
    const box = this.findBox(id);
    if (!box) return;
    const v = visibleRect(this.transform(), this.viewportSize(), -0.05);
    if (!containsRect(v, box)) this.setTransform(centreOn(this.transform(), box, this.viewportSize()));
  }

  /** Centres box `box` at the current zoom. */
  centreOn(box: Rect): void {
    this.setTransform(centreOn(this.transform(), box, this.viewportSize()));
  }

  /** A node or an expanded group's frame, as a box. */
  findBox(id: string): LaidOutNode | null {
    const laid = this.model.laid;
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

  /** The id of the box under a pointer event: its SVG element's, or on the canvas overview the box at the point. */
  boxIdAt(e: MouseEvent): string | null {
    if (this.overviewMode) return this.boxAtScreen(e.clientX, e.clientY);
    const g = e.target instanceof Element ? e.target.closest("[data-node-id]") : null;
    return g ? g.getAttribute("data-node-id") : null;
  }

  private boxAtScreen(clientX: number, clientY: number): string | null {
    const laid = this.model.laid;
    if (!laid) return null;
    const r = this.viewport.getBoundingClientRect();
    const t = this.transform();
    const x = (clientX - r.left - t.panX) / t.zoom,
      y = (clientY - r.top - t.panY) / t.zoom;
    const hit = laid.nodes.find((n) => x >= n.x && x <= n.x + n.width && y >= n.y && y <= n.y + n.height);
    return hit ? hit.id : null;
  }
}

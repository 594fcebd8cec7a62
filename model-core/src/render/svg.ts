/**
 * The renderer: a pure function from a laid-out graph and overlay switches to an SVG string (no DOM).
 * Themed output uses only VS Code theme variables with fallbacks, so it reads in light, dark and
 * high-contrast webviews; standalone output embeds a light palette for exported files.
 */
import type { AddSplit, GradientFlowResult } from "../analysis/gradflow";
import { formatBytes, formatCount, formatNorm, formatPercent, formatShape } from "../presentation/format";
import type { TrainingMemory } from "../analysis/memory";
import type { LaidOutContainer, LaidOutEdge, LaidOutGraph, LaidOutNode, LaidOutShortcut } from "./layout";
import { ADD_GLYPH, FRAME_TOP, TITLE_OFFSET } from "./sizes";
import { buildGradientIndex, heatLegend, legendWidth, shortcutShare, type GradientIndex } from "./overlays";
import { logHeatScale, logScale, type HeatScale, type LogScale } from "../presentation/colors";
import { shortcutLabel } from "./shortcuts";
import type { OverlayOptions } from "../presentation/overlays";

// Defined with the overlay list (../presentation/overlays.ts); re-exported for renderSvg's callers.
export { NO_OVERLAYS, DEFAULT_OVERLAYS, type OverlayOptions } from "../presentation/overlays";

export interface Viewport {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface RenderOptions {
  /** Embed concrete light-theme colours (for .svg/.html files opened outside VS Code). */
  standalone?: boolean;
  /** Id of the box to outline as selected. */
  selected?: string | null;
  /** Only emit elements that intersect this rectangle (graph coordinates); the SVG keeps the full size,
   *  so a webview can render what is on screen of a huge graph and fill in the rest as it scrolls. */
  viewport?: Viewport | null;
  /** Emit <title> tooltips on boxes (default true). */
  tooltips?: boolean;
  /** For the memory overlay: saved-activation bytes per graph node id at `batch` (analysis/memory.ts). */
  memory?: MemoryOverlayData | null;
}

export interface MemoryOverlayData {
  batch: number;
  savedBytes: ReadonlyMap<string, number>;
}

/** The memory overlay's data from a training-memory estimate. */
export function memoryOverlayData(memory: TrainingMemory): MemoryOverlayData {
  return { batch: memory.batch, savedBytes: new Map(memory.nodes.map((n) => [n.id, n.savedActivationBytes])) };
}

interface Palette {
  background: string;
  nodeFill: string;
  nodeStroke: string;
  groupFill: string;
  frameStroke: string;
  frameFill: string;
  text: string;
  muted: string;
  mainEdge: string;
  shortcutEdge: string;
  selected: string;
  addFill: string;
}

const THEMED: Palette = {
  background: "var(--vscode-editor-background, #1e1e1e)",
  nodeFill: "var(--vscode-editorWidget-background, #252526)",
  nodeStroke: "var(--vscode-editorWidget-border, #6b6b6b)",
  groupFill: "var(--vscode-sideBar-background, #2a2d2e)",
  frameStroke: "var(--vscode-panel-border, #80808080)",
  frameFill: "var(--vscode-editor-background, #1e1e1e)",
  text: "var(--vscode-editor-foreground, #cccccc)",
  muted: "var(--vscode-descriptionForeground, #9d9d9d)",
  mainEdge: "var(--vscode-editor-foreground, #cccccc)",
  shortcutEdge: "var(--vscode-charts-orange, #d18616)",
  selected: "var(--vscode-focusBorder, #007fd4)",
  addFill: "var(--vscode-button-background, #0e639c)",
};

const STANDALONE: Palette = {
  background: "#ffffff",
  nodeFill: "#f7f7f9",
  nodeStroke: "#8a8f98",
  groupFill: "#eef1f6",
  frameStroke: "#b8bec8",
  frameFill: "#fbfbfc",
  text: "#1f2328",
  muted: "#59636e",
  mainEdge: "#3d444d",
  shortcutEdge: "#c2610c",
  selected: "#0969da",
  addFill: "#0969da",
};

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
/** Characters XML 1.0 forbids even as references (§2.2): C0 controls but tab and newlines, lone surrogates, U+FFFE/F. */
const NOT_XML =
  // eslint-disable-next-line no-control-regex -- control characters are what it looks for
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
/** Escape text for element content and attribute values. A forbidden character shows as its control picture (U+2401 for U+0001) or U+FFFD. */
export function escapeXml(text: string): string {
  return text
    .replace(/[&<>"']/g, (c) => ESCAPES[c])
    .replace(NOT_XML, (c) => {
      const code = c.charCodeAt(0);
      return code < 0x20 ? String.fromCharCode(0x2400 + code) : "\ufffd";
    });
}

/** Finite number with at most one decimal, so output never contains NaN or long floats. */
function num(value: number): string {
  if (!Number.isFinite(value)) return "0";
  return String(Math.round(value * 10) / 10);
}

function styleSheet(p: Palette): string {
  return [
    `.rs-diagram{font-family:var(--vscode-font-family, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif)}`,
    `.rs-node rect.rs-box{fill:${p.nodeFill};stroke:${p.nodeStroke};stroke-width:1}`,
    `.rs-node.rs-group rect.rs-box{fill:${p.groupFill};stroke-width:1.5}`,
    `.rs-node.rs-shortcut-lane rect.rs-box{stroke:${p.shortcutEdge}}`,
    `.rs-node.rs-selected rect.rs-box,.rs-frame.rs-selected rect.rs-frame-box{stroke:${p.selected};stroke-width:2.5}`,
    `.rs-expandable{cursor:pointer}`,
    `.rs-label{fill:${p.text};font-size:12px;font-weight:600}`,
    `.rs-sub{fill:${p.muted};font-size:11px}`,
    `.rs-meta{fill:${p.text};font-size:11px}`,
    `.rs-glyph{fill:${p.muted};font-size:12px}`,
    `.rs-add circle{fill:${p.addFill};stroke:${p.nodeStroke}}`,
    `.rs-add .rs-plus{fill:#ffffff;font-size:16px;font-weight:700}`,
    `.rs-frame rect.rs-frame-box{fill:${p.frameFill};fill-opacity:0.35;stroke:${p.frameStroke};stroke-dasharray:5 3}`,
    `.rs-frame.rs-stage rect.rs-frame-box{stroke-dasharray:none}`,
    // A halo keeps frame titles readable where the lane passes behind them.
    `.rs-frame text{paint-order:stroke;stroke:${p.background};stroke-width:4px;stroke-linejoin:round}`,
    `.rs-edge path{fill:none;stroke:${p.mainEdge};stroke-width:1.4}`,
    `.rs-edge.rs-shortcut path,.rs-edge.rs-shortcut-lane path{stroke:${p.shortcutEdge}}`,
    // He et al. 2015 Fig. 3: solid for identity shortcuts, dotted/dashed for projections.
    `.rs-edge.rs-projection path,.rs-arc.rs-projection path{stroke-dasharray:6 3}`,
    `.rs-arc path{fill:none;stroke:${p.shortcutEdge};stroke-width:1.6}`,
    `.rs-arc text{fill:${p.shortcutEdge};font-size:11px;font-weight:600}`,
    `.rs-legend{color:${p.muted}}`,
    `.rs-edge text{fill:${p.muted};font-size:9.5px}`,
    `.rs-arrow{fill:${p.mainEdge}}`,
    `.rs-arrow-shortcut{fill:${p.shortcutEdge}}`,
    `.rs-split-identity{fill:${p.shortcutEdge}}`,
    `.rs-split-residual{fill:${p.selected}}`,
  ].join("");
}

function intersects(v: Viewport | null | undefined, x: number, y: number, w: number, h: number): boolean {
  if (!v) return true;
  return x <= v.x + v.width && x + w >= v.x && y <= v.y + v.height && y + h >= v.y;
}

function edgeBounds(e: LaidOutEdge): { x: number; y: number; w: number; h: number } {
  let minX = Infinity,
    minY = Infinity,
    maxX = -Infinity,
    maxY = -Infinity;
  for (const p of e.points) {
    minX = Math.min(minX, p.x);
    minY = Math.min(minY, p.y);
    maxX = Math.max(maxX, p.x);
    maxY = Math.max(maxY, p.y);
  }
  return Number.isFinite(minX) ? { x: minX, y: minY, w: maxX - minX, h: maxY - minY } : { x: 0, y: 0, w: 0, h: 0 };
}

interface RenderContext {
  overlays: OverlayOptions;
  grads: GradientIndex | null;
  paramScale: HeatScale;
  macScale: HeatScale;
  gradScale: HeatScale;
  /** Add node ids, to tell the one edge of an expanded block's shortcut that enters its Add. */
  adds: Set<string>;
  /** Saved bytes of a box (its graph nodes summed) when the memory overlay is on, else null. */
  memoryOf: ((n: LaidOutNode) => number) | null;
  memoryScale: HeatScale;
  memoryBatch: number;
  selected: string | null;
  tooltips: boolean;
}

/** Render the laid-out graph as an SVG string. */
export function renderSvg(
  laid: LaidOutGraph,
  overlays: OverlayOptions,
  gradients?: GradientFlowResult | null,
  options: RenderOptions = {},
): string {
  const palette = options.standalone ? STANDALONE : THEMED;
  const ctx = renderContext(laid, overlays, gradients, options);
  const grads = ctx.grads;
  const nodeGrad = (n: LaidOutNode) => (grads ? grads.nodeNorm(n.nodeIds) : null);
  const width = Math.max(1, Math.ceil(laid.width));
  const showLegend = grads !== null || ctx.memoryOf !== null || overlays.params || overlays.macs;
  const graphHeight = Math.max(1, Math.ceil(laid.height));
  const height = graphHeight + (showLegend ? LEGEND_HEIGHT : 0);
  const out: string[] = [];
  if (options.standalone) out.push(`<?xml version="1.0" encoding="UTF-8"?>\n`);
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="rs-diagram" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" data-model="${escapeXml(laid.name)}">`,
  );
  out.push(`<title>${escapeXml(laid.name)}</title>`);
  out.push(`<style>${styleSheet(palette)}</style>`);
  out.push(
    `<defs><marker id="rs-arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="8" markerHeight="8" markerUnits="userSpaceOnUse" orient="auto"><path class="rs-arrow" d="M0,0L8,4L0,8z"/></marker>` +
      `<marker id="rs-arrow-shortcut" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="8" markerHeight="8" markerUnits="userSpaceOnUse" orient="auto"><path class="rs-arrow-shortcut" d="M0,0L8,4L0,8z"/></marker></defs>`,
  );
  if (options.standalone) out.push(`<rect width="${width}" height="${height}" fill="${palette.background}"/>`);

  out.push(`<g class="rs-frames">`);
  for (const c of laid.containers) {
    if (intersects(options.viewport, c.x, c.y, c.width, c.height)) out.push(renderFrame(c, ctx));
  }
  out.push(`</g><g class="rs-edges">`);
  const gradEdgeScale = grads ? logScale(laid.edges.map((e) => grads.nodeNorm([e.sourceNodeId]) ?? 0)) : null;
  // Shortcuts first so the main lane draws over them; a tensor's shape is labelled once, on its main edge.
  const labelled = new Set<string>();
  const ordered = [...laid.edges.filter((e) => e.kind === "shortcut"), ...laid.edges.filter((e) => e.kind === "main")];
  const mainFirst = [...ordered].reverse();
  const labelEdge = new Set<LaidOutEdge>();
  for (const e of mainFirst) {
    const key = `${e.sourceNodeId}|${e.shape.join(",")}`;
    if (!labelled.has(key)) {
      labelled.add(key);
      labelEdge.add(e);
    }
  }
  for (const e of ordered) {
    const b = edgeBounds(e);
    if (intersects(options.viewport, b.x - 120, b.y, b.w + 160, b.h + 16))
      out.push(renderEdge(e, ctx, gradEdgeScale, labelEdge.has(e)));
  }
  for (const a of laid.shortcuts ?? []) {
    if (intersects(options.viewport, a.laneX, a.top, a.labelX - a.laneX + 60, a.bottom - a.top))
      out.push(renderArc(a, ctx));
  }
  out.push(`</g><g class="rs-nodes">`);
  for (const n of laid.nodes) {
    if (intersects(options.viewport, n.x, n.y, n.width, n.height)) out.push(renderNode(n, ctx, nodeGrad(n)));
  }
  out.push(`</g>`);
  if (showLegend) out.push(renderLegend(ctx, graphHeight));
  out.push(`</svg>`);
  return out.join("");
}

function renderContext(
  laid: LaidOutGraph,
  overlays: OverlayOptions,
  gradients: GradientFlowResult | null | undefined,
  options: RenderOptions,
): RenderContext {
  const grads = overlays.gradients && gradients ? buildGradientIndex(gradients) : null;
  const memory = overlays.memory && options.memory ? options.memory : null;
  const memoryOf = memory
    ? (n: LaidOutNode) => n.nodeIds.reduce((sum, id) => sum + (memory.savedBytes.get(id) ?? 0), 0)
    : null;
  return {
    overlays,
    grads,
    paramScale: logHeatScale(laid.nodes.map((n) => n.params)),
    macScale: logHeatScale(laid.nodes.map((n) => n.macs)),
    gradScale: logHeatScale(grads ? laid.nodes.map((n) => grads.nodeNorm(n.nodeIds) ?? 0) : []),
    adds: new Set(laid.nodes.filter((n) => n.kind === "add").map((n) => n.id)),
    memoryOf,
    memoryScale: logHeatScale(memoryOf ? laid.nodes.map(memoryOf) : []),
    memoryBatch: memory?.batch ?? 0,
    selected: options.selected ?? null,
    tooltips: options.tooltips ?? true,
  };
}

/**
 * The active heat overlay's key alone, as a small SVG (null when no heat overlay is on), for a view that keeps it
 * on screen while the diagram scrolls. Same scale and colours as the diagram's own legend.
 */
export function renderLegendSvg(
  laid: LaidOutGraph,
  overlays: OverlayOptions,
  gradients?: GradientFlowResult | null,
  memory?: MemoryOverlayData | null,
): string | null {
  const ctx = renderContext(laid, overlays, gradients, { memory: memory ?? null });
  if (!(ctx.grads !== null || ctx.memoryOf !== null || overlays.params || overlays.macs)) return null;
  // As wide as its caption needs: a fixed width cut "bytes saved for backward at batch 64, log scale" off.
  const width = legendWidth(legendTitle(ctx), 16);
  return `<svg xmlns="http://www.w3.org/2000/svg" class="rs-diagram rs-legend-box" width="${width}" height="${LEGEND_HEIGHT}" viewBox="0 0 ${width} ${LEGEND_HEIGHT}"><style>${styleSheet(THEMED)}</style>${renderLegend(ctx, -4)}</svg>`;
}

function renderFrame(c: LaidOutContainer, ctx: RenderContext): string {
  const cls = `rs-frame rs-${c.group} rs-expandable${ctx.selected === c.id ? " rs-selected" : ""}`;
  const title = ctx.tooltips
    ? `<title>${escapeXml(`${c.id}: ${c.label}${c.sublabel ? ` (${c.sublabel})` : ""}\n${formatCount(c.params)} params, ${formatCount(c.macs)} MACs\nclick the header to collapse`)}</title>`
    : "";
  // The title sits right of the lane running through the frame, so no edge crosses it.
  const tx = Math.max(c.x + 24, (c.laneX ?? c.x) + TITLE_OFFSET);
  const split = c.group === "block" ? (ctx.grads?.addSplit(c.id) ?? null) : null;
  return (
    `<g class="${cls}" data-node-id="${escapeXml(c.id)}" data-kind="${c.group}" data-expandable="true" data-expanded="true">${title}` +
    `<rect class="rs-frame-box" x="${num(c.x)}" y="${num(c.y)}" width="${num(c.width)}" height="${num(c.height)}" rx="8"/>` +
    `<text class="rs-glyph" x="${num(c.x + 8)}" y="${num(c.y + 16)}">⊟</text>` +
    `<text class="rs-label rs-frame-title" x="${num(tx)}" y="${num(c.y + 16)}">${escapeXml(`${c.id} · ${c.label}`)}</text>` +
    (c.sublabel
      ? `<text class="rs-sub rs-frame-title" x="${num(tx)}" y="${num(c.y + 29)}">${escapeXml(c.sublabel)}</text>`
      : "") +
    // The split is measured at the block's input, where the shortcut forks off: drawn at the fork, under the title.
    (split ? splitBar(split, tx, c.y + FRAME_TOP.block - 13, 48) : "") +
    `</g>`
  );
}

function renderEdge(e: LaidOutEdge, ctx: RenderContext, gradScale: LogScale | null, showShape: boolean): string {
  if (e.points.length < 2) return "";
  const d = e.points.map((p, i) => `${i === 0 ? "M" : "L"}${num(p.x)},${num(p.y)}`).join("");
  const shortcut = e.kind === "shortcut";
  let widthAttr = "";
  if (ctx.grads && gradScale) {
    const norm = ctx.grads.nodeNorm([e.sourceNodeId]);
    if (norm !== null) widthAttr = ` style="stroke-width:${num(1 + 5 * gradScale(norm))}px"`;
  }
  let label = "";
  if (ctx.overlays.shapes && showShape && e.shape.length) {
    // Left of the lane: shortcuts and frame titles keep to its right.
    const p = e.points[0];
    label = `<text x="${num(p.x - 6)}" y="${num(p.y + 11)}" text-anchor="end">${escapeXml(formatShape(e.shape))}</text>`;
  }
  // The edge of an expanded block's shortcut that enters the Add stands for the whole shortcut.
  const classes = ["rs-edge"];
  if (shortcut) classes.push(ctx.adds.has(e.to) && e.shortcut ? "rs-shortcut" : "rs-shortcut-lane");
  if (shortcut && e.shortcut === "projection") classes.push("rs-projection");
  return (
    `<g class="${classes.join(" ")}" data-from="${escapeXml(e.from)}" data-to="${escapeXml(e.to)}" data-shape="${e.shape.join(",")}" data-kind="${e.kind}">` +
    `<path d="${d}" marker-end="url(#${shortcut ? "rs-arrow-shortcut" : "rs-arrow"})"${widthAttr}/>${label}</g>`
  );
}

function metaLines(n: LaidOutNode, ctx: RenderContext, grad: number | null): string[] {
  const o = ctx.overlays;
  const first: string[] = [];
  const second: string[] = [];
  if (o.params) first.push(`${formatCount(n.params)} params`);
  if (o.macs) first.push(`${formatCount(n.macs)} MACs`);
  if (o.receptiveField && n.receptiveField) second.push(`RF ${n.receptiveField.size} /${n.receptiveField.stride}`);
  if (o.gradients && grad !== null) second.push(`∇ ${formatNorm(grad)}`);
  if (ctx.memoryOf) second.push(`${formatBytes(ctx.memoryOf(n))} saved`);
  return [first.join(" · "), second.join(" · ")].filter((s) => s.length > 0);
}

function heatFill(n: LaidOutNode, ctx: RenderContext, grad: number | null): string | null {
  const o = ctx.overlays;
  if (o.gradients && grad !== null) return ctx.gradScale.color(grad);
  if (ctx.memoryOf) return ctx.memoryScale.color(ctx.memoryOf(n));
  if (o.macs) return ctx.macScale.color(n.macs);
  if (o.params) return ctx.paramScale.color(n.params);
  return null;
}

function tooltip(n: LaidOutNode, grad: number | null, ctx: RenderContext): string {
  const lines = [
    `${n.id}: ${n.label}`,
    `output ${formatShape(n.outputShape)}`,
    `${formatCount(n.params)} params, ${formatCount(n.macs)} MACs`,
  ];
  if (n.receptiveField) lines.push(`receptive field ${n.receptiveField.size}, stride ${n.receptiveField.stride}`);
  if (grad !== null) lines.push(`‖∂L/∂out‖₂ = ${formatNorm(grad)}`);
  if (ctx.memoryOf) lines.push(`saved for backward: ${formatBytes(ctx.memoryOf(n))} at batch ${ctx.memoryBatch}`);
  if (n.expandable) lines.push("click to expand");
  return `<title>${escapeXml(lines.join("\n"))}</title>`;
}

function renderNode(n: LaidOutNode, ctx: RenderContext, grad: number | null): string {
  const classes = ["rs-node", `rs-kind-${n.kind.replace(/[^a-z0-9-]/gi, "")}`];
  if (n.group !== "node") classes.push("rs-group");
  if (n.role === "shortcut") classes.push("rs-shortcut-lane");
  if (n.expandable) classes.push("rs-expandable");
  if (ctx.selected === n.id) classes.push("rs-selected");
  if (n.kind === "add") classes.push("rs-add");
  const head =
    `<g class="${classes.join(" ")}" data-node-id="${escapeXml(n.id)}" data-kind="${escapeXml(n.kind)}" data-expandable="${n.expandable}" data-expanded="${n.expanded}"` +
    ` data-shape="${n.outputShape.join(",")}" transform="translate(${num(n.x)},${num(n.y)})">` +
    (ctx.tooltips ? tooltip(n, grad, ctx) : "");
  const w = n.width;
  const h = n.height;
  const fill = heatFill(n, ctx, grad);
  const meta = metaLines(n, ctx, grad);
  if (n.kind === "add") return head + renderAdd(n, ctx, fill, meta) + `</g>`;
  const parts: string[] = [
    head,
    `<rect class="rs-box" width="${num(w)}" height="${num(h)}" rx="${n.group === "node" ? 4 : 7}"/>`,
  ];
  if (fill)
    parts.push(
      `<rect width="${num(w)}" height="${num(h)}" rx="${n.group === "node" ? 4 : 7}" fill="${fill}" fill-opacity="0.42" pointer-events="none"/>`,
    );
  if (n.group !== "node") {
    // A second outline marks a folded group.
    parts.push(
      `<rect class="rs-box" x="3" y="3" width="${num(w - 6)}" height="${num(h - 6)}" rx="5" fill="none" style="fill:none"/>`,
    );
    parts.push(`<text class="rs-glyph" x="${num(w - 18)}" y="17">⊞</text>`);
    if (n.id !== n.label)
      parts.push(`<text class="rs-sub" x="${num(w - 22)}" y="16" text-anchor="end">${escapeXml(n.id)}</text>`);
  }
  parts.push(`<text class="rs-label" x="10" y="17">${escapeXml(n.label)}</text>`);
  if (n.sublabel) parts.push(`<text class="rs-sub" x="10" y="30">${escapeXml(n.sublabel)}</text>`);
  meta.forEach((line, i) => parts.push(`<text class="rs-meta" x="10" y="${43 + i * 12}">${escapeXml(line)}</text>`));
  const split = n.group === "block" ? (ctx.grads?.addSplit(n.id) ?? null) : null;
  if (split) parts.push(splitBar(split, 10, h - 14, 48));
  parts.push(`</g>`);
  return parts.join("");
}

function renderAdd(n: LaidOutNode, ctx: RenderContext, fill: string | null, meta: string[]): string {
  const cx = n.width / 2;
  const { cy, r } = ADD_GLYPH;
  const parts = [
    `<rect width="${num(n.width)}" height="${num(n.height)}" fill="transparent" stroke="none"/>`,
    `<circle cx="${num(cx)}" cy="${cy}" r="${r}"${fill ? ` style="fill:${fill}"` : ""}/>`,
    `<text class="rs-plus" x="${num(cx)}" y="${cy + 5.5}" text-anchor="middle">+</text>`,
  ];
  if (n.label !== "+")
    parts.push(
      `<text class="rs-sub" x="${num(cx - r - 6)}" y="${cy + 4}" text-anchor="end">${escapeXml(n.label.replace(/^\+\s*/, ""))}</text>`,
    );
  if (meta.length)
    parts.push(
      `<text class="rs-meta" x="${num(cx + r + 6)}" y="${cy + 16}">${escapeXml(meta[meta.length - 1])}</text>`,
    );
  return parts.join("");
}

/**
 * Two-segment bar: the share of ‖dL/dx‖ at a block's input that arrives through the shortcut against the share
 * through the residual branch (see shortcutShare). Nothing when the branch's share was not measured.
 */
function splitBar(split: AddSplit, x: number, y: number, width: number): string {
  const share = shortcutShare(split);
  if (share === null) return "";
  const branch = split.residualAtInput ?? 0;
  const identityWidth = width * share;
  return (
    `<g class="rs-split" data-shortcut-share="${share}" data-identity="${escapeXml(formatNorm(split.identity))}" data-residual-at-input="${escapeXml(formatNorm(branch))}">` +
    `<title>${escapeXml(`gradient at the block's input: through the shortcut ‖∇‖ ${formatNorm(split.identity)} · through the branch ‖∇‖ ${formatNorm(branch)}`)}</title>` +
    `<rect class="rs-split-identity" x="${num(x)}" y="${num(y)}" width="${num(identityWidth)}" height="6"/>` +
    `<rect class="rs-split-residual" x="${num(x + identityWidth)}" y="${num(y)}" width="${num(width - identityWidth)}" height="6"/>` +
    `<text class="rs-meta" x="${num(x + width + 6)}" y="${num(y + 7)}">${escapeXml(`${formatPercent(share)} shortcut`)}</text></g>`
  );
}

/** One shortcut arc beside a folded box: forks off the lane above it, runs down its right side, rejoins below. */
function renderArc(a: LaidOutShortcut, ctx: RenderContext): string {
  const r = Math.min(8, (a.bottom - a.top) / 2, Math.max(1, a.reach - a.laneX));
  const d =
    `M${num(a.laneX)},${num(a.top)}H${num(a.reach - r)}Q${num(a.reach)},${num(a.top)} ${num(a.reach)},${num(a.top + r)}` +
    `V${num(a.bottom - r)}Q${num(a.reach)},${num(a.bottom)} ${num(a.reach - r)},${num(a.bottom)}H${num(a.laneX + 3)}`;
  const what = a.kind === "projection" ? "projection shortcut (1×1 conv)" : "identity shortcut";
  const count = a.blocks.length;
  const title = ctx.tooltips
    ? `<title>${escapeXml(`${count > 1 ? `${count} × ` : ""}${what}, option ${a.option}: ${a.blocks.join(", ")}`)}</title>`
    : "";
  return (
    `<g class="rs-shortcut rs-arc${a.kind === "projection" ? " rs-projection" : ""}" data-unit="${escapeXml(a.unitId)}" data-kind="${a.kind}" data-count="${count}" data-blocks="${escapeXml(a.blocks.join(","))}">${title}` +
    `<path d="${d}" marker-end="url(#rs-arrow-shortcut)"/>` +
    `<text x="${num(a.labelX)}" y="${num(a.labelY)}">${escapeXml(shortcutLabel(a))}</text></g>`
  );
}

const LEGEND_HEIGHT = 40;

/** The key of the active heat overlay under the diagram, with its values. */
/** What the heat legend measures: the gradient, memory, MACs or params overlay, in that order of precedence. */
function legendTitle(ctx: RenderContext): string {
  if (ctx.grads) return "gradient ‖∂L/∂out‖₂";
  if (ctx.memoryOf) return `bytes saved for backward at batch ${ctx.memoryBatch}`;
  return ctx.overlays.macs ? "MACs" : "params";
}

function renderLegend(ctx: RenderContext, top: number): string {
  const title = legendTitle(ctx);
  if (ctx.grads) return heatLegend(ctx.gradScale, title, 16, top + 4, formatNorm);
  if (ctx.memoryOf) return heatLegend(ctx.memoryScale, title, 16, top + 4, formatBytes);
  if (ctx.overlays.macs) return heatLegend(ctx.macScale, title, 16, top + 4, formatCount);
  return heatLegend(ctx.paramScale, title, 16, top + 4, formatCount);
}

/**
 * Geometry of the diagram view: fitting, zooming around a point, culling to the viewport, keyboard
 * navigation and search. Pure functions over the laid-out graph, tested under node.
 */
import type { LaidOutGraph, LaidOutNode } from "resnet-studio/render/layout";
import type { ModelGraph } from "resnet-studio/analysis/graph";

export interface Transform {
  zoom: number;
  panX: number;
  panY: number;
}
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Below this a diagram is dots; zooming out further only helps to see a whole diagram that needs it (see zoomLimits). */
export const MIN_ZOOM = 0.05;
/** Beyond 4× a 12 px label is 48 px: enough to read any detail. */
export const MAX_ZOOM = 4;

/** The zoom of the whole diagram in the viewport (unclamped; capped at 1.5 so a tiny network is not blown up). */
function wholeZoom(
  laid: { width: number; height: number },
  viewport: { width: number; height: number },
  margin: number,
): number {
  const w = Math.max(1, laid.width),
    h = Math.max(1, laid.height);
  return Math.min((viewport.width - 2 * margin) / w, (viewport.height - 2 * margin) / h, 1.5);
}

/**
 * The zoom range: MIN_ZOOM–MAX_ZOOM, reaching lower only as far as the whole diagram needs (ResNet-1202 fully
 * expanded needs far less: Fit always shows every box).
 */
export function zoomLimits(
  laid: { width: number; height: number } | null,
  viewport: { width: number; height: number },
  margin = 16,
): { min: number; max: number } {
  const whole = laid ? wholeZoom(laid, viewport, margin) : MIN_ZOOM;
  return { min: Math.max(1e-4, Math.min(MIN_ZOOM, whole)), max: MAX_ZOOM };
}

/** Every box inside the viewport, centred (however small that makes a tall diagram: that is what Fit is for). */
export function fitTransform(
  laid: { width: number; height: number },
  viewport: { width: number; height: number },
  margin = 16,
): Transform {
  const w = Math.max(1, laid.width),
    h = Math.max(1, laid.height);
  const limits = zoomLimits(laid, viewport, margin);
  const zoom = Math.min(limits.max, Math.max(limits.min, wholeZoom(laid, viewport, margin)));
  const panX = (viewport.width - w * zoom) / 2;
  const panY = (viewport.height - h * zoom) / 2;
  return { zoom, panX, panY };
}

/** At this zoom the diagram's body text (12 px labels, 11 px shapes and figures) is that size in CSS px. */
export const READABLE_ZOOM = 1;

/**
 * How a new panel opens: the whole diagram when it fits at a readable zoom; otherwise the top of the network
 * (where data enters) at READABLE_ZOOM, centred across when it is narrower than the panel. Fit stays an action.
 */
export function initialTransform(
  laid: { width: number; height: number },
  viewport: { width: number; height: number },
  margin = 16,
): Transform {
  const whole = fitTransform(laid, viewport, margin);
  if (whole.zoom >= READABLE_ZOOM) return whole;
  const zoom = READABLE_ZOOM;
  const w = Math.max(1, laid.width) * zoom;
  return { zoom, panX: w <= viewport.width - 2 * margin ? (viewport.width - w) / 2 : margin, panY: margin };
}

/** Zoom by `factor`, within `limits`, keeping the diagram point under (sx, sy) fixed on screen. */
export function zoomAt(
  t: Transform,
  factor: number,
  sx: number,
  sy: number,
  limits: { min: number; max: number } = { min: MIN_ZOOM, max: MAX_ZOOM },
): Transform {
  const zoom = Math.min(limits.max, Math.max(limits.min, t.zoom * factor));
  const k = zoom / t.zoom;
  return { zoom, panX: sx - (sx - t.panX) * k, panY: sy - (sy - t.panY) * k };
}

/** The part of the diagram (in diagram coordinates) that is on screen, grown by `marginFraction` on each side. */
export function visibleRect(t: Transform, viewport: { width: number; height: number }, marginFraction = 0.5): Rect {
  const w = viewport.width / t.zoom,
    h = viewport.height / t.zoom;
  return {
    x: -t.panX / t.zoom - w * marginFraction,
    y: -t.panY / t.zoom - h * marginFraction,
    width: w * (1 + 2 * marginFraction),
    height: h * (1 + 2 * marginFraction),
  };
}

/** Centre of a node. */
function centre(n: LaidOutNode): { x: number; y: number } {
  return { x: n.x + n.width / 2, y: n.y + n.height / 2 };
}

export type Direction = "up" | "down" | "left" | "right";

/**
 * The node an arrow key moves the selection to: the nearest node whose centre lies in that direction,
 * preferring nodes in line (distance along the axis plus twice the sideways offset). Group boxes that are
 * expanded are skipped, since their children are the things to visit.
 */
export function neighbour(laid: LaidOutGraph, fromId: string | null, direction: Direction): string | null {
  const candidates = laid.nodes.filter((n) => !(n.expandable && n.expanded));
  if (candidates.length === 0) return null;
  const from = candidates.find((n) => n.id === fromId) ?? laid.nodes.find((n) => n.id === fromId);
  if (!from) return [...candidates].sort((a, b) => a.y - b.y || a.x - b.x)[0].id;
  const c = centre(from);
  let best: LaidOutNode | null = null,
    bestScore = Infinity;
  for (const n of candidates) {
    if (n.id === from.id) continue;
    const p = centre(n);
    const dx = p.x - c.x,
      dy = p.y - c.y;
    const along = direction === "down" ? dy : direction === "up" ? -dy : direction === "right" ? dx : -dx;
    const side = direction === "down" || direction === "up" ? Math.abs(dx) : Math.abs(dy);
    if (along <= 0.5) continue;
    const score = along + 2 * side;
    if (score < bestScore) {
      bestScore = score;
      best = n;
    }
  }
  return best ? best.id : from.id;
}

/** Nodes whose id, label or kind contains the query (case-insensitive), in reading order. */
export function searchNodes(laid: LaidOutGraph, query: string): LaidOutNode[] {
  const q = query.trim().toLowerCase();
  if (!q) return [];
  return laid.nodes
    .filter(
      (n) => n.id.toLowerCase().includes(q) || n.kind.toLowerCase().includes(q) || n.label.toLowerCase().includes(q),
    )
    .sort((a, b) => a.y - b.y || a.x - b.x);
}

/** A search hit in the network: a node or group, and the groups that fold it (innermost first). */
export interface NetworkHit {
  id: string;
  groups: string[];
}

/**
 * Every node and group of the network whose id or kind (a group's id or label) contains the query, case-insensitive,
 * in data-flow order: folded ones too, so `layer3.1.conv2` is found while its stage is collapsed.
 */
export function searchNetwork(graph: ModelGraph, query: string): NetworkHit[] {
  const q = query.trim().toLowerCase();
  if (!q) return [];
  const matches = (...texts: string[]): boolean => texts.some((t) => t.toLowerCase().includes(q));
  const hits: NetworkHit[] = [];
  const seen = new Set<string>();
  const stageOf = new Map(graph.stages.map((s) => [s.id, s] as const));
  const blockOf = new Map(graph.stages.flatMap((s) => s.blocks.map((b) => [b.id, { block: b, stage: s.id }] as const)));
  for (const node of graph.nodes) {
    // A group comes just before its first node.
    const stage = node.stage ? stageOf.get(node.stage) : undefined;
    if (stage && !seen.has(stage.id)) {
      seen.add(stage.id);
      if (matches(stage.id, stage.label)) hits.push({ id: stage.id, groups: [] });
    }
    const block = node.block ? blockOf.get(node.block) : undefined;
    if (block && !seen.has(block.block.id)) {
      seen.add(block.block.id);
      if (matches(block.block.id, block.block.label)) hits.push({ id: block.block.id, groups: [block.stage] });
    }
    if (matches(node.id, node.op.kind))
      hits.push({ id: node.id, groups: [node.block, node.stage].filter((g): g is string => g !== null) });
  }
  return hits;
}

/** Pan so that node `n` is centred at the current zoom. */
export function centreOn(t: Transform, n: Rect, viewport: { width: number; height: number }): Transform {
  return {
    zoom: t.zoom,
    panX: viewport.width / 2 - (n.x + n.width / 2) * t.zoom,
    panY: viewport.height / 2 - (n.y + n.height / 2) * t.zoom,
  };
}

/** Whether `inner` lies completely inside `outer`. */
export function containsRect(outer: Rect, inner: Rect): boolean {
  return (
    inner.x >= outer.x &&
    inner.y >= outer.y &&
    inner.x + inner.width <= outer.x + outer.width &&
    inner.y + inner.height <= outer.y + outer.height
  );
}

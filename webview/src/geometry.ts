/**
 * Geometry of the diagram view: fitting, zooming around a point, culling to the viewport, keyboard
 * navigation and search. Pure functions over the laid-out graph, tested under node.
 */
import type { LaidOutGraph, LaidOutNode } from "resnet-studio/render/layout";

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

/** Low enough to see all of ResNet-1202 fully expanded (the canvas overview draws it). */
export const MIN_ZOOM = 0.002;
export const MAX_ZOOM = 8;
const clampZoom = (z: number): number => Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, z));

/**
 * The whole diagram in the viewport, centred. A very tall diagram (deep nets fully expanded) would become
 * unreadably small, so the zoom never drops below `minReadable`: the top of the network is shown instead.
 */
export function fitTransform(
  laid: { width: number; height: number },
  viewport: { width: number; height: number },
  margin = 16,
  minReadable = 0.6,
): Transform {
  const w = Math.max(1, laid.width),
    h = Math.max(1, laid.height);
  const fit = Math.min((viewport.width - 2 * margin) / w, (viewport.height - 2 * margin) / h, 1.5);
  const zoom = clampZoom(Math.max(fit, Math.min(minReadable, (viewport.width - 2 * margin) / w)));
  const panX = (viewport.width - w * zoom) / 2;
  const panY = h * zoom <= viewport.height - 2 * margin ? (viewport.height - h * zoom) / 2 : margin;
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
  const whole = fitTransform(laid, viewport, margin, 0);
  if (whole.zoom >= READABLE_ZOOM) return whole;
  const zoom = READABLE_ZOOM;
  const w = Math.max(1, laid.width) * zoom;
  return { zoom, panX: w <= viewport.width - 2 * margin ? (viewport.width - w) / 2 : margin, panY: margin };
}

/** Zoom by `factor` keeping the diagram point under (sx, sy) fixed on screen. */
export function zoomAt(t: Transform, factor: number, sx: number, sy: number): Transform {
  const zoom = clampZoom(t.zoom * factor);
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

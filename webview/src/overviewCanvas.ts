/**
 * The diagram zoomed far out, on a canvas: with hundreds of boxes on screen each is a few pixels big, and as many
 * SVG elements would block the page. Frames, edges and boxes as plain shapes in theme colours.
 */
import type { LaidOutGraph } from "resnet-studio/render/layout";
import { themeColor } from "./dom";
import { visibleRect, type Rect, type Transform } from "./geometry";

function overlaps(a: Rect, b: Rect): boolean {
  return b.x < a.x + a.width && a.x < b.x + b.width && b.y < a.y + a.height && a.y < b.y + b.height;
}

/** How many boxes of `laid` lie (partly) inside `r`. */
export function countVisible(laid: LaidOutGraph, r: Rect): number {
  let n = 0;
  for (const b of laid.nodes) if (overlaps(r, b)) n++;
  return n;
}

/** Draws `laid` at transform `t` on `canvas` (sized to the viewport); `selected` is outlined. */
export function drawOverview(
  canvas: HTMLCanvasElement,
  laid: LaidOutGraph,
  t: Transform,
  size: { width: number; height: number },
  selected: Rect | null,
): void {
  const { width, height } = size;
  const dpr = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
  }
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  const css = getComputedStyle(document.body);
  const color = (name: string, fallback: string): string => themeColor(name, fallback, css);
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.setTransform(t.zoom * dpr, 0, 0, t.zoom * dpr, t.panX * dpr, t.panY * dpr);
  const vis = visibleRect(t, size, 0);
  ctx.lineWidth = 1 / t.zoom;
  ctx.strokeStyle = color("--vscode-panel-border", "#80808080");
  for (const c of laid.containers) if (overlaps(vis, c)) ctx.strokeRect(c.x, c.y, c.width, c.height);
  const strokeEdges = (kind: "main" | "shortcut", stroke: string): void => {
    ctx.beginPath();
    ctx.strokeStyle = stroke;
    for (const e of laid.edges) {
      if (e.kind !== kind || e.points.length === 0) continue;
      ctx.moveTo(e.points[0].x, e.points[0].y);
      for (let i = 1; i < e.points.length; i++) ctx.lineTo(e.points[i].x, e.points[i].y);
    }
    ctx.stroke();
  };
  strokeEdges("main", color("--vscode-editor-foreground", "#cccccc"));
  strokeEdges("shortcut", color("--vscode-charts-orange", "#d18616"));
  ctx.fillStyle = color("--vscode-editorWidget-background", "#252526");
  ctx.strokeStyle = color("--vscode-editorWidget-border", "#6b6b6b");
  for (const n of laid.nodes)
    if (overlaps(vis, n)) {
      ctx.fillRect(n.x, n.y, n.width, n.height);
      ctx.strokeRect(n.x, n.y, n.width, n.height);
    }
  if (selected) {
    ctx.lineWidth = 3 / t.zoom;
    ctx.strokeStyle = color("--vscode-focusBorder", "#007fd4");
    ctx.strokeRect(selected.x, selected.y, selected.width, selected.height);
  }
}

/**
 * The minimap: the whole diagram in miniature with the visible part outlined, shown only while part of the diagram
 * is off screen; clicking or dragging on it jumps there.
 */
import type { LaidOutGraph } from "resnet-studio/render/layout";
import { el, themeColor } from "./dom";
import { visibleRect, type Transform } from "./geometry";

/** Widest the minimap gets, in CSS px. */
const MINIMAP_WIDTH = 140;

export class Minimap {
  readonly canvas = el("canvas", { id: "minimap", class: "hidden", title: "Minimap: click to jump" });
  /** The boxes drawn once per layout; each frame copies it and adds the outline. */
  private image: HTMLCanvasElement | null = null;
  private scale = 1;

  /** `onJump` receives the diagram point under the pointer. */
  constructor(onJump: (point: { x: number; y: number }) => void) {
    const jump = (e: PointerEvent): void => {
      const r = this.canvas.getBoundingClientRect();
      onJump({ x: (e.clientX - r.left) / this.scale, y: (e.clientY - r.top) / this.scale });
    };
    this.canvas.addEventListener("pointerdown", (e) => {
      e.stopPropagation();
      this.canvas.setPointerCapture(e.pointerId);
      jump(e);
    });
    this.canvas.addEventListener("pointermove", (e) => {
      if (this.canvas.hasPointerCapture(e.pointerId)) jump(e);
    });
  }

  /** Draws the boxes of a new layout (or hides the minimap without one). */
  build(laid: LaidOutGraph | null, viewportHeight: number): void {
    if (!laid) {
      this.image = null;
      this.canvas.classList.add("hidden");
      return;
    }
    const scale = Math.min(MINIMAP_WIDTH / laid.width, (viewportHeight * 0.6) / laid.height);
    this.scale = scale;
    const w = Math.max(20, Math.round(laid.width * scale)),
      h = Math.max(20, Math.round(laid.height * scale));
    this.canvas.width = w;
    this.canvas.height = h;
    const image = document.createElement("canvas");
    image.width = w;
    image.height = h;
    const ctx = image.getContext("2d");
    if (!ctx) return;
    ctx.globalAlpha = 0.6;
    ctx.fillStyle = themeColor("--vscode-descriptionForeground", "#9d9d9d");
    for (const n of laid.nodes)
      ctx.fillRect(n.x * scale, n.y * scale, Math.max(1, n.width * scale), Math.max(1, n.height * scale));
    this.image = image;
  }

  /** Shows the minimap with the visible part outlined, or hides it while the whole diagram is on screen. */
  draw(laid: LaidOutGraph | null, t: Transform, size: { width: number; height: number }): void {
    if (!this.image || !laid) return;
    const { width, height } = size;
    const offScreen =
      t.panX < -1 ||
      t.panY < -1 ||
      t.panX + laid.width * t.zoom > width + 1 ||
      t.panY + laid.height * t.zoom > height + 1;
    this.canvas.classList.toggle("hidden", !offScreen);
    if (!offScreen) return;
    const ctx = this.canvas.getContext("2d");
    if (!ctx) return;
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.drawImage(this.image, 0, 0);
    // The visible part, clamped to the diagram so all four sides stay inside the minimap.
    const v = visibleRect(t, size, 0);
    const x0 = Math.max(0, v.x),
      y0 = Math.max(0, v.y);
    const x1 = Math.min(laid.width, v.x + v.width),
      y1 = Math.min(laid.height, v.y + v.height);
    if (x1 <= x0 || y1 <= y0) return;
    const s = this.scale;
    ctx.strokeStyle = themeColor("--vscode-focusBorder", "#007fd4");
    ctx.lineWidth = 2;
    ctx.strokeRect(x0 * s + 1, y0 * s + 1, Math.max(2, (x1 - x0) * s - 2), Math.max(2, (y1 - y0) * s - 2));
  }
}

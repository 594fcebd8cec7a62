/**
 * Pointer and wheel on the diagram: dragging pans, the wheel zooms around the pointer, a click selects, a double
 * click or a click on an expanded frame's ⊟ header expands or collapses, hovering shows the tooltip, and the right
 * button opens the edit menu. What each gesture does to the model is the caller's (the intents).
 */
import type { DiagramView } from "./diagramView";

export interface DiagramIntents {
  /** A click on a box (null: on the background); it selects and reveals the box's source. */
  click(id: string | null): void;
  /** Expand or collapse a group. */
  toggle(id: string): void;
  /** The pointer is over box `id` (null: over no box). */
  hover(id: string | null, pointer: PointerEvent): void;
  /** The pointer left the diagram or started a drag. */
  leave(): void;
  /** The context menu was asked for over box `id` (null: the background). */
  contextMenu(id: string | null, pointer: MouseEvent): void;
}

/** Two clicks on the same node within this many ms expand or collapse it (the common OS default is 500). */
const DOUBLE_CLICK_MS = 500;
/** A press that moves further than this many px is a drag, not a click. */
const DRAG_THRESHOLD_PX = 4;

interface Drag {
  x: number;
  y: number;
  panX: number;
  panY: number;
  moved: boolean;
  pointerId: number;
}

export class DiagramInput {
  private drag: Drag | null = null;
  private lastClick: { id: string; time: number } | null = null;

  constructor(
    private readonly diagram: DiagramView,
    private readonly intents: DiagramIntents,
  ) {
    const viewport = diagram.viewport;
    viewport.addEventListener("pointerdown", (e) => this.down(e));
    viewport.addEventListener("pointermove", (e) => this.move(e));
    viewport.addEventListener("pointerup", (e) => this.up(e));
    viewport.addEventListener("pointerleave", () => intents.leave());
    viewport.addEventListener(
      "wheel",
      (e) => {
        e.preventDefault();
        const factor = Math.exp(-e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.0015));
        diagram.zoomAtScreen(factor, e.clientX, e.clientY);
      },
      { passive: false },
    );
    viewport.addEventListener("contextmenu", (e) => {
      e.preventDefault();
      intents.contextMenu(diagram.boxIdAt(e), e);
    });
  }

  private down(e: PointerEvent): void {
    if (e.button !== 0) return;
    this.diagram.viewport.focus();
    const { panX, panY } = this.diagram.transform();
    this.drag = { x: e.clientX, y: e.clientY, panX, panY, moved: false, pointerId: e.pointerId };
  }

  private move(e: PointerEvent): void {
    const drag = this.drag;
    if (drag && e.pointerId === drag.pointerId) {
      const dx = e.clientX - drag.x,
        dy = e.clientY - drag.y;
      if (!drag.moved && Math.hypot(dx, dy) > DRAG_THRESHOLD_PX) {
        drag.moved = true;
        this.diagram.viewport.classList.add("dragging");
        this.diagram.viewport.setPointerCapture(e.pointerId);
        this.intents.leave();
      }
      if (drag.moved) {
        this.diagram.setTransform({ zoom: this.diagram.transform().zoom, panX: drag.panX + dx, panY: drag.panY + dy });
        return;
      }
    }
    this.intents.hover(this.diagram.boxIdAt(e), e);
  }

  private up(e: PointerEvent): void {
    if (e.button !== 0) return; // the right button opens the edit menu (contextmenu)
    const wasDrag = this.drag?.moved ?? false;
    this.drag = null;
    this.diagram.viewport.classList.remove("dragging");
    if (wasDrag) return;
    const id = this.diagram.boxIdAt(e);
    if (!id) {
      this.intents.click(null);
      return;
    }
    const box = this.diagram.findBox(id);
    // Clicking the ⊟ header of an expanded frame collapses it; clicking a box selects it and reveals its source.
    if (box && box.expanded && e.target instanceof Element && e.target.classList.contains("rs-glyph")) {
      this.intents.toggle(id);
      return;
    }
    // Clicks are paired by node id here rather than by a native dblclick, which a re-render between the two clicks
    // (a large diagram panned, an overlay arriving) would lose: its second click lands on a new element.
    const isDoubleClick =
      this.lastClick !== null && this.lastClick.id === id && e.timeStamp - this.lastClick.time < DOUBLE_CLICK_MS;
    this.lastClick = isDoubleClick ? null : { id, time: e.timeStamp };
    if (isDoubleClick) {
      if (box?.expandable) this.intents.toggle(id);
      return;
    }
    this.intents.click(id);
  }
}

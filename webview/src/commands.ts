/**
 * What keys, toolbar buttons and the host's commands do: each maps to an action (./actions.ts), a view change or an
 * export. The host's commands come from one list (resnet-studio/presentation/commands); each has a handler here.
 */
import { isWebviewCommand, type WebviewCommand } from "resnet-studio/presentation/commands";
import { neighbour, type Direction } from "./geometry";
import type { ViewActions } from "./actions";
import type { DiagramView } from "./diagramView";
import type { SpecEditing } from "./editing";
import type { ImageExport } from "./exportImage";
import type { Store } from "./store";
import type { ToolbarAction } from "./toolbar";

const ARROWS: Record<string, Direction> = { ArrowUp: "up", ArrowDown: "down", ArrowLeft: "left", ArrowRight: "right" };
/** One zoom step of the keys and buttons. */
const ZOOM_STEP = 1.25;

export class Commands {
  private readonly hostCommands: Record<WebviewCommand, () => void>;
  private readonly toolbarActions: Record<ToolbarAction, () => void>;

  constructor(
    private readonly store: Store,
    private readonly diagram: DiagramView,
    private readonly actions: ViewActions,
    private readonly editing: SpecEditing,
    exporter: ImageExport,
    /** The search field: keys typed there are its own. */
    private readonly searchField: HTMLElement,
  ) {
    this.hostCommands = {
      exportPng: () => void exporter.png(),
      exportSvg: () => exporter.svg(),
      fit: () => diagram.fit(),
      showGradients: () => actions.setTab("gradients"),
      showTraining: () => actions.setTab("training"),
    };
    this.toolbarActions = {
      zoomIn: () => diagram.zoomBy(ZOOM_STEP),
      zoomOut: () => diagram.zoomBy(1 / ZOOM_STEP),
      fit: this.hostCommands.fit,
      columns: () => void actions.toggleColumns(),
      exportSvg: this.hostCommands.exportSvg,
      exportPng: this.hostCommands.exportPng,
      gradients: () => {
        actions.setTab("gradients");
        void actions.computeGradients();
      },
      train: () => {
        actions.setTab("training");
        actions.train();
      },
      cancel: () => actions.cancelTraining(),
    };
  }

  /** A command the host sent (from the command palette); unknown names are ignored. */
  runHostCommand(command: unknown): void {
    if (isWebviewCommand(command)) this.hostCommands[command]();
  }

  runToolbarAction(action: ToolbarAction): void {
    this.toolbarActions[action]();
  }

  /**
   * Keys on the diagram: arrows move the selection, Enter expands (or reveals the source), Escape collapses, + - 0
   * zoom and fit, / focuses the search, and the editing keys (./editing.ts).
   */
  key(e: KeyboardEvent): void {
    const inField = e.composedPath().some((t) => t === this.searchField);
    if (inField || this.editing.isOpen) return;
    const model = this.store.model;
    // Ctrl+Z / Ctrl+Shift+Z (Ctrl+Y) undo and redo the spec, as in its editor: diagram edits are edits of the spec.
    const undoKey = (e.ctrlKey || e.metaKey) && !e.altKey && (e.key === "z" || e.key === "Z" || e.key === "y");
    if (model.view.tab === "diagram" && undoKey) {
      e.preventDefault();
      this.actions.undoRedo(e.key === "y" || e.shiftKey);
      return;
    }
    if (model.view.tab === "diagram" && this.editing.key(e)) return;
    if (model.view.tab !== "diagram" || !model.laid) return;
    const dir = ARROWS[e.key];
    if (dir) {
      e.preventDefault();
      const next = neighbour(model.laid, model.view.selected, dir);
      if (next) this.actions.moveSelection(next);
      return;
    }
    const selected = model.view.selected;
    switch (e.key) {
      case "Enter": {
        const box = selected ? this.diagram.findBox(selected) : null;
        if (box?.expandable && !box.expanded) void this.actions.toggle(box.id);
        else if (selected) this.actions.select(selected, true);
        break;
      }
      case "Escape":
        if (selected) this.actions.collapseAround(selected);
        break;
      case "+":
      case "=":
        this.diagram.zoomBy(ZOOM_STEP);
        break;
      case "-":
      case "_":
        this.diagram.zoomBy(1 / ZOOM_STEP);
        break;
      case "0":
        this.diagram.fit();
        break;
      case "/":
        e.preventDefault();
        this.searchField.focus();
        break;
    }
  }
}

/**
 * Editing the spec from the diagram: the edit menu at a box or the background (right-click, the context-menu key,
 * Shift+F10 or E), and `]` / `[` to add or remove a block of the selected stage. Each edit is one request to the
 * host, which writes it as one undoable change of the spec.
 */
import { EditMenu } from "./editMenu";
import { editMenuSections, stageIndexOf, type EditItem } from "./editItems";
import type { DiagramView } from "./diagramView";
import type { HostChannel } from "./hostChannel";
import type { Store } from "./store";

export class SpecEditing {
  private readonly menu: EditMenu;

  constructor(
    private readonly store: Store,
    private readonly host: HostChannel,
    private readonly diagram: DiagramView,
    /** Called before the menu opens (the tooltip would cover it). */
    private readonly beforeOpen: () => void,
  ) {
    this.menu = new EditMenu(diagram.pane, (item) => void this.request(item));
  }

  get isOpen(): boolean {
    return this.menu.isOpen;
  }

  /** Opens the menu for box `nodeId` (null: the network) at (x, y) in the diagram pane. */
  open(nodeId: string | null, x: number, y: number): void {
    const spec = this.store.model.graph?.spec;
    if (!spec) return;
    this.beforeOpen();
    this.menu.open(editMenuSections(spec, nodeId), x, y);
  }

  /** Opens the menu at the pointer. */
  openAtPointer(nodeId: string | null, pointer: MouseEvent): void {
    const pane = this.diagram.pane.getBoundingClientRect();
    this.open(nodeId, pointer.clientX - pane.left, pointer.clientY - pane.top);
  }

  /** Handles the editing keys; returns whether `e` was one. */
  key(e: KeyboardEvent): boolean {
    const selected = this.store.model.view.selected;
    const spec = this.store.model.graph?.spec;
    if (!spec || e.ctrlKey || e.metaKey || e.altKey) return false;
    if (e.key === "ContextMenu" || (e.key === "F10" && e.shiftKey) || e.key === "e") {
      e.preventDefault();
      const box = selected ? this.diagram.findBox(selected) : null;
      const t = this.diagram.transform();
      this.open(selected, box ? box.x * t.zoom + t.panX + 8 : 8, box ? (box.y + box.height) * t.zoom + t.panY : 8);
      return true;
    }
    const stage = stageIndexOf(selected);
    const current = stage === null ? undefined : spec.stages[stage];
    if ((e.key === "]" || e.key === "[") && stage !== null && current) {
      e.preventDefault();
      const value = current.blocks + (e.key === "]" ? 1 : -1);
      void this.request({ label: `blocks ${value}`, edit: { kind: "stage", stage, key: "blocks", value } });
      return true;
    }
    return false;
  }

  private async request(item: EditItem): Promise<void> {
    try {
      const result = await this.host.request({ kind: "editSpec", edit: item.edit, ask: item.ask });
      this.diagram.showStatus(result.applied ? `Edited: ${result.message}` : `Not changed: ${result.message}`);
    } catch {
      // the host channel already reported it
    }
  }
}

/**
 * What the user does to the view, each as a model update, the views it touches and, where the host does the work,
 * a request: select a box, expand or collapse a group, toggle columns, switch tabs or overlays, run gradient flow,
 * train. Keys, toolbar buttons, host commands and pointer gestures all come here.
 */
import { toggleExpansion, type ExpansionState } from "resnet-studio/render/view";
import type { ViewTab } from "resnet-studio/protocol";
import type { OverlayKey } from "resnet-studio/presentation/overlays";
import { enclosingGroups } from "./details";
import type { DiagramView } from "./diagramView";
import type { GradientsView } from "./gradientsView";
import type { HostChannel } from "./hostChannel";
import { shownNetwork } from "./state";
import type { Store } from "./store";
import type { TrainingView } from "./trainingView";

export class ViewActions {
  /** The layout version current when the latest relayout was asked for, until its request settles. */
  private relayoutFrom: number | null = null;

  constructor(
    private readonly store: Store,
    private readonly host: HostChannel,
    private readonly diagram: DiagramView,
    private readonly gradients: GradientsView,
    private readonly training: TrainingView,
    /** Shows the model in the toolbar, panes and problems line. */
    private readonly syncChrome: () => void,
  ) {}

  /** Selects box `id` (null: nothing); `reveal` also asks the host to show its spec element. */
  select(id: string | null, reveal: boolean): void {
    this.store.updateView({ kind: "select", id });
    this.diagram.showSelection();
    if (id && reveal) {
      const box = this.diagram.findBox(id);
      this.host.post({ type: "revealSource", nodeId: id, range: box?.source ?? null });
    }
  }

  /** Moves the selection to box `id` and pans it on screen. */
  moveSelection(id: string): void {
    this.select(id, false);
    this.diagram.ensureVisible(id);
  }

  /** Expands or collapses group `id`; the group stays selected unless another box was selected meanwhile. */
  async toggle(id: string): Promise<void> {
    if (this.relayoutPending()) return;
    const selectedBefore = this.store.model.view.selected;
    this.diagram.showStatus("Laying out…");
    await this.relayout(toggleExpansion(this.store.model.view.expansion, id));
    // The new layout drops a selection that vanished (null); any other change was the user's, made while waiting.
    const selected = this.store.model.view.selected;
    if (this.diagram.findBox(id) && (selected === selectedBefore || selected === null)) this.select(id, false);
  }

  /**
   * Shows box `id` wherever it is: the groups that fold it (its block, its stage, the whole model) are expanded first,
   * then it is selected and centred. Search and the gradient chart's points come here.
   */
  async reveal(id: string): Promise<void> {
    if (!this.diagram.findBox(id)) {
      const { graph, view } = this.store.model;
      const groups = enclosingGroups(graph, id).filter((g) => g !== id);
      const missing = groups.filter((g) => !view.expansion.expanded.includes(g));
      if (this.relayoutPending() || (missing.length === 0 && !view.expansion.modelCollapsed)) return;
      const columns = view.expansion.columns && view.expansion.columns > 1 ? { columns: view.expansion.columns } : {};
      this.diagram.showStatus("Laying out…");
      await this.relayout({ expanded: [...view.expansion.expanded, ...missing], ...columns });
    }
    const box = this.diagram.findBox(id);
    if (!box) return;
    this.select(id, false);
    this.diagram.centreOn(box);
  }

  /** Escape: collapses `id` when it is an expanded group, else the innermost expanded group around it. */
  collapseAround(id: string): void {
    const expanded = new Set(this.store.model.view.expansion.expanded);
    if (expanded.has(id)) {
      void this.toggle(id);
      return;
    }
    const group = enclosingGroups(this.store.model.graph, id).find((g) => expanded.has(g));
    if (group) void this.toggle(group);
  }

  /** Side by side as many columns as the panel's width holds, or back to one. */
  async toggleColumns(): Promise<void> {
    const { laid, view } = this.store.model;
    if (!laid || this.relayoutPending()) return;
    const current = view.expansion.columns ?? 1;
    const columns =
      current > 1 ? 1 : Math.max(2, Math.floor((this.diagram.viewportSize().width - 32) / (laid.width / current)));
    await this.relayout({ ...view.expansion, columns });
    this.diagram.openReadable();
  }

  /**
   * Whether a relayout was asked for and its layout has not arrived: an expansion change now would start from a
   * stale expansion. Once the layout is shown the next change is accepted, though the request's response may lag.
   */
  private relayoutPending(): boolean {
    return this.relayoutFrom !== null && this.relayoutFrom === this.store.model.layoutVersion;
  }

  /** Asks the host for a layout of `expansion`; the layout itself arrives as a push. */
  private async relayout(expansion: ExpansionState): Promise<void> {
    const from = this.store.model.layoutVersion;
    this.relayoutFrom = from;
    try {
      await this.host.request({ kind: "layout", expansion });
    } catch {
      // the host channel already reported it
    } finally {
      if (this.relayoutFrom === from) this.relayoutFrom = null;
    }
  }

  setTab(tab: ViewTab): void {
    this.store.updateView({ kind: "tab", tab });
    this.syncChrome();
    const model = this.store.model;
    if (tab === "gradients") this.gradients.update(model.gradients, shownNetwork(model));
    if (tab === "training") this.training.update(model.training);
    if (tab === "diagram") this.diagram.render(true);
  }

  /** Switches an overlay; the gradient overlay without gradients runs a pass first. */
  setOverlay(key: OverlayKey, on: boolean): void {
    this.store.updateView({ kind: "overlay", key, on });
    const model = this.store.model;
    if (key === "gradients" && on && !model.gradients) void this.computeGradients();
    this.diagram.render(true);
  }

  /** One forward/backward pass of the network and its plain twin; the result arrives as a `gradients` push. */
  async computeGradients(): Promise<void> {
    this.diagram.showStatus("Computing gradient flow…");
    this.gradients.setBusy(true);
    try {
      await this.host.request({ kind: "gradientFlow" });
    } catch {
      // the host channel already reported it
    } finally {
      this.gradients.setBusy(false);
    }
  }

  /** Undo (or redo) the spec's last change; the new graph arrives as pushes, as for any edit of the spec. */
  undoRedo(redo: boolean): void {
    void this.host
      .request({ kind: "undoRedo", redo })
      .then(({ changed }) =>
        this.diagram.showStatus(changed ? (redo ? "Redone" : "Undone") : "Nothing to " + (redo ? "redo" : "undo")),
      )
      .catch(() => undefined);
  }

  train(): void {
    void this.host.request({ kind: "train" }).catch(() => undefined);
  }

  /** Choose the dataset first ("Train on…"), then train. */
  trainOn(): void {
    void this.host.request({ kind: "trainOn" }).catch(() => undefined);
  }

  cancelTraining(): void {
    void this.host.request({ kind: "cancelTraining" }).catch(() => undefined);
  }
}

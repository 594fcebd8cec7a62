/** The hover tooltip: a box's details (./details.ts) next to the pointer, kept inside the diagram pane. */
import type { LaidOutNode } from "resnet-studio/render/layout";
import type { ModelGraph } from "resnet-studio/analysis/graph";
import type { GradientFlowResult } from "resnet-studio/analysis/gradflow";
import { el } from "./dom";
import { nodeDetails } from "./details";

export class Tooltip {
  readonly element = el("div", { class: "tooltip", role: "tooltip" });
  /** The box whose details the tooltip holds; filled once per box, moved on every pointer move. */
  private shownFor: string | null = null;

  constructor(private readonly pane: HTMLElement) {}

  /** Shows `box`'s details near the pointer; `box` null hides the tooltip. */
  show(
    box: LaidOutNode | null,
    graph: ModelGraph | null,
    gradients: GradientFlowResult | null,
    pointer: { clientX: number; clientY: number },
  ): void {
    if (!box) {
      this.hide();
      return;
    }
    if (box.id !== this.shownFor) {
      const d = nodeDetails(box, graph, gradients);
      this.element.replaceChildren(
        el("div", { class: "t-title" }, d.title),
        el("table", {}, ...d.rows.map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", {}, v)))),
      );
      this.shownFor = box.id;
    }
    const pane = this.pane.getBoundingClientRect();
    this.element.classList.add("visible");
    const x = Math.min(pointer.clientX - pane.left + 14, pane.width - this.element.offsetWidth - 4);
    const y = Math.min(pointer.clientY - pane.top + 14, pane.height - this.element.offsetHeight - 4);
    this.element.style.left = `${Math.max(0, x)}px`;
    this.element.style.top = `${Math.max(0, y)}px`;
  }

  hide(): void {
    this.element.classList.remove("visible");
    this.shownFor = null;
  }
}

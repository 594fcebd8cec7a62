/**
 * The toolbar: title, tabs, one checkbox per overlay (from the overlay list, resnet-studio/presentation/overlays),
 * the search field, view and export buttons, and the run buttons. It reports what was clicked; `sync` shows the model.
 */
import type { ViewTab } from "resnet-studio/protocol";
import { OVERLAYS, type OverlayKey } from "resnet-studio/presentation/overlays";
import { custom, el, type CheckboxElement, type TextFieldElement } from "./dom";
import type { WebviewModel } from "./state";

const TABS: readonly { tab: ViewTab; label: string }[] = [
  { tab: "diagram", label: "Diagram" },
  { tab: "gradients", label: "Gradient flow" },
  { tab: "training", label: "Training" },
];

/** The toolbar's buttons, group by group; `primary` ones start something, the others are secondary. */
const BUTTON_GROUPS = [
  [
    { action: "zoomOut", label: "−", title: "Zoom out (-)" },
    { action: "zoomIn", label: "+", title: "Zoom in (+)" },
    { action: "fit", label: "Fit", title: "Fit to window (0)" },
    { action: "columns", label: "Columns", title: "Stages side by side, to use the panel's width (toggle)" },
    { action: "exportSvg", label: "SVG", title: "Export the diagram as SVG" },
    { action: "exportPng", label: "PNG", title: "Export the diagram as PNG" },
  ],
  [
    {
      action: "gradients",
      label: "Gradient flow",
      title: "Run one forward/backward pass (and the plain twin's)",
      primary: true,
    },
    { action: "train", label: "Train", title: "Train a small model on the embedded MNIST digits", primary: true },
    { action: "cancel", label: "Cancel", title: "Cancel training" },
  ],
] as const;

export type ToolbarAction = (typeof BUTTON_GROUPS)[number][number]["action"];

export interface ToolbarEvents {
  tab(tab: ViewTab): void;
  overlay(key: OverlayKey, on: boolean): void;
  action(action: ToolbarAction): void;
}

export class Toolbar {
  readonly element: HTMLElement;
  readonly searchField = custom("vscode-textfield", {
    // Short enough to show whole in the field; the title says the rest.
    placeholder: "Find a node (Enter: next)",
    title: "Find by id or kind, folded boxes too: layer3.1.conv2, downsample, bn (Enter: next, Shift+Enter: previous)",
    "data-role": "search",
  }) as TextFieldElement;
  private readonly title = el("span", { class: "title" }, "ResNet Studio");
  private readonly tabButtons = new Map<ViewTab, HTMLButtonElement>();
  private readonly overlayBoxes = new Map<OverlayKey, CheckboxElement>();

  constructor(events: ToolbarEvents) {
    const tabs = el("div", { class: "tabs", role: "tablist" });
    for (const { tab, label } of TABS) {
      const b = el("button", { role: "tab", "data-tab": tab }, label);
      b.addEventListener("click", () => events.tab(tab));
      this.tabButtons.set(tab, b);
      tabs.append(b);
    }
    const overlays = el("div", { class: "group diagram-only", "aria-label": "Overlays" });
    for (const { key, label, tooltip } of OVERLAYS) {
      const box = custom("vscode-checkbox", { label, "data-overlay": key, title: tooltip }) as CheckboxElement;
      box.addEventListener("change", () => events.overlay(key, box.checked));
      this.overlayBoxes.set(key, box);
      overlays.append(box);
    }
    // The first group (zoom, Fit, Columns, export) acts on the diagram only.
    const groups = BUTTON_GROUPS.map((buttons, i) =>
      el(
        "div",
        { class: i === 0 ? "group diagram-only" : "group" },
        ...buttons.map((b) =>
          custom(
            "vscode-button",
            { "data-action": b.action, title: b.title, ...("primary" in b ? {} : { secondary: "" }) },
            b.label,
          ),
        ),
      ),
    );
    this.element = el(
      "div",
      { class: "toolbar", role: "toolbar" },
      this.title,
      tabs,
      overlays,
      this.searchField,
      ...groups,
    );
    this.element.addEventListener("click", (e) => {
      const target = e.target instanceof Element ? e.target.closest("[data-action]") : null;
      const action = target?.getAttribute("data-action");
      const known = BUTTON_GROUPS.flat().find((b) => b.action === action);
      if (known) events.action(known.action);
    });
  }

  /**
   * Shows the model: title, the tab in front, which overlays are on, the search text; the diagram's controls only on
   * the diagram tab, and Cancel enabled only while a run is going.
   */
  sync(model: WebviewModel): void {
    this.title.textContent = model.title;
    const onDiagram = model.view.tab === "diagram";
    for (const part of this.element.querySelectorAll<HTMLElement>(".diagram-only")) part.hidden = !onDiagram;
    this.searchField.hidden = !onDiagram;
    const cancel = this.element.querySelector<HTMLElement>('[data-action="cancel"]');
    if (cancel) cancel.toggleAttribute("disabled", model.training.status !== "running");
    for (const [tab, b] of this.tabButtons) b.setAttribute("aria-selected", String(model.view.tab === tab));
    for (const [key, box] of this.overlayBoxes) {
      const on = model.view.overlays[key] ?? false;
      if (box.checked !== on) box.checked = on;
    }
    if (this.searchField.value !== model.view.search) this.searchField.value = model.view.search;
  }
}

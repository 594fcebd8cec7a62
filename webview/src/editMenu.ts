/**
 * The diagram's edit menu (right-click, the context-menu key, Shift+F10 or `e` on a selected box): a small
 * keyboard-navigable list of the edits editItems.ts offers. Choosing one asks the host to change the spec.
 */
import type { EditItem, EditMenuSection } from "./editItems";

const CSS = `
.rs-edit-menu {
  position: absolute; z-index: 20; min-width: 220px; max-height: 80%; overflow: auto; padding: 4px 0;
  background: var(--vscode-menu-background, var(--vscode-editorWidget-background, #252526));
  color: var(--vscode-menu-foreground, inherit);
  border: 1px solid var(--vscode-menu-border, var(--vscode-widget-border, #454545));
  box-shadow: 0 2px 8px var(--vscode-widget-shadow, rgba(0, 0, 0, 0.36)); border-radius: 4px;
}
.rs-edit-menu .rs-edit-title { padding: 4px 10px 2px; font-size: 11px; opacity: 0.7; text-transform: uppercase; letter-spacing: 0.04em; }
.rs-edit-menu button {
  display: flex; justify-content: space-between; gap: 16px; width: 100%; border: none; background: transparent;
  color: inherit; font: inherit; text-align: left; padding: 3px 10px; cursor: pointer;
}
.rs-edit-menu button:focus {
  outline: none; background: var(--vscode-menu-selectionBackground, var(--vscode-list-activeSelectionBackground, #04395e));
  color: var(--vscode-menu-selectionForeground, inherit);
}
.rs-edit-menu kbd { opacity: 0.7; font: inherit; }
`;

export class EditMenu {
  private readonly element: HTMLDivElement;
  private restoreFocus: HTMLElement | null = null;

  constructor(
    private readonly container: HTMLElement,
    private readonly onChoose: (item: EditItem) => void,
  ) {
    const style = document.createElement("style");
    style.textContent = CSS;
    document.head.appendChild(style);
    this.element = document.createElement("div");
    this.element.className = "rs-edit-menu";
    this.element.setAttribute("role", "menu");
    this.element.setAttribute("aria-label", "Edit the network");
    this.element.hidden = true;
    container.appendChild(this.element);
    this.element.addEventListener("keydown", (e) => this.onKey(e));
    this.element.addEventListener("pointerdown", (e) => e.stopPropagation());
    window.addEventListener("pointerdown", () => this.close());
  }

  get isOpen(): boolean {
    return !this.element.hidden;
  }

  /** Open at (x, y) in the container's coordinates. */
  open(sections: EditMenuSection[], x: number, y: number): void {
    this.restoreFocus = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    const children: HTMLElement[] = [];
    for (const section of sections) {
      const title = document.createElement("div");
      title.className = "rs-edit-title";
      title.textContent = section.title;
      children.push(title);
      for (const item of section.items) {
        const b = document.createElement("button");
        b.setAttribute("role", "menuitem");
        b.dataset.editLabel = item.label;
        const label = document.createElement("span");
        label.textContent = item.label;
        b.append(label);
        if (item.key) {
          const k = document.createElement("kbd");
          k.textContent = item.key;
          b.append(k);
        }
        // One highlighted item: the pointer moves the focus, and only the focused item is highlighted.
        b.addEventListener("pointerenter", () => b.focus());
        b.addEventListener("click", () => {
          this.close();
          this.onChoose(item);
        });
        children.push(b);
      }
    }
    this.element.replaceChildren(...children);
    this.element.hidden = false;
    const box = this.container.getBoundingClientRect();
    const left = Math.max(0, Math.min(x, box.width - this.element.offsetWidth - 4));
    const top = Math.max(0, Math.min(y, box.height - this.element.offsetHeight - 4));
    this.element.style.left = `${left}px`;
    this.element.style.top = `${top}px`;
    this.buttons()[0]?.focus();
  }

  close(): void {
    if (this.element.hidden) return;
    this.element.hidden = true;
    this.restoreFocus?.focus();
    this.restoreFocus = null;
  }

  private buttons(): HTMLButtonElement[] {
    return [...this.element.querySelectorAll("button")];
  }

  private onKey(e: KeyboardEvent): void {
    e.stopPropagation();
    const buttons = this.buttons();
    const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
    if (e.key === "Escape") {
      e.preventDefault();
      this.close();
      return;
    }
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const next = (at + (e.key === "ArrowDown" ? 1 : -1) + buttons.length) % buttons.length;
      buttons[next]?.focus();
      return;
    }
    if (e.key === "Home") {
      e.preventDefault();
      buttons[0]?.focus();
      return;
    }
    if (e.key === "End") {
      e.preventDefault();
      buttons[buttons.length - 1]?.focus();
    }
  }
}

/**
 * Search: typing marks the matching boxes (by id, label or kind) and counts them; Enter selects and centres the
 * next match (Shift+Enter the previous), Escape clears the search and returns to the diagram.
 */
import { searchNodes } from "./geometry";
import type { DiagramView } from "./diagramView";
import type { TextFieldElement } from "./dom";
import type { Store } from "./store";

export class Search {
  /** The match Enter last moved to; -1 before the first Enter of a new search text. */
  private index = -1;

  constructor(field: TextFieldElement, store: Store, diagram: DiagramView, select: (id: string) => void) {
    field.addEventListener("input", () => {
      store.updateView({ kind: "search", text: field.value });
      this.index = -1;
      diagram.markSearchHits();
      const laid = store.model.laid;
      const count = laid ? searchNodes(laid, field.value).length : 0;
      diagram.showStatus(field.value ? `${count} match${count === 1 ? "" : "es"}` : "");
    });
    field.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        field.value = "";
        field.dispatchEvent(new Event("input"));
        diagram.viewport.focus();
        return;
      }
      const laid = store.model.laid;
      if (e.key !== "Enter" || !laid) return;
      const hits = searchNodes(laid, field.value);
      if (hits.length === 0) return;
      this.index = (this.index + (e.shiftKey ? -1 : 1) + hits.length) % hits.length;
      const hit = hits[this.index];
      select(hit.id);
      diagram.centreOn(hit);
      diagram.showStatus(`${this.index + 1} / ${hits.length}: ${hit.id}`);
    });
  }
}

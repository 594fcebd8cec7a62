/**
 * Search over the whole network, folded parts included: typing marks the matching boxes (and the folded boxes that
 * hold a match) and counts the matches; Enter reveals the next match, expanding what folds it, and selects and
 * centres it (Shift+Enter the previous); Escape clears the search and returns to the diagram.
 */
import { searchNetwork } from "./geometry";
import type { DiagramView } from "./diagramView";
import type { TextFieldElement } from "./dom";
import type { Store } from "./store";

export class Search {
  /** The match Enter last moved to; -1 before the first Enter of a new search text. */
  private index = -1;

  /** `reveal` expands what folds node `id`, then selects and centres it. */
  constructor(field: TextFieldElement, store: Store, diagram: DiagramView, reveal: (id: string) => Promise<void>) {
    field.addEventListener("input", () => {
      store.updateView({ kind: "search", text: field.value });
      this.index = -1;
      diagram.markSearchHits();
      const graph = store.model.graph;
      const count = graph ? searchNetwork(graph, field.value).length : 0;
      diagram.showStatus(field.value ? `${count} match${count === 1 ? "" : "es"}` : " ");
    });
    field.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        field.value = "";
        field.dispatchEvent(new Event("input"));
        diagram.viewport.focus();
        return;
      }
      const graph = store.model.graph;
      if (e.key !== "Enter" || !graph) return;
      const hits = searchNetwork(graph, field.value);
      if (hits.length === 0) return;
      this.index = (this.index + (e.shiftKey ? -1 : 1) + hits.length) % hits.length;
      const hit = hits[this.index];
      const place = `${this.index + 1} / ${hits.length}: ${hit.id}`;
      void reveal(hit.id).then(() => diagram.showStatus(place));
    });
  }
}

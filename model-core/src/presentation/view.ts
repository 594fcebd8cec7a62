/** What a new diagram panel shows, for the host's new panel and the webview's first state alike. */
import type { ViewState } from "../protocol";
import { DEFAULT_OVERLAYS } from "./overlays";

/** No document followed, nothing expanded, the default overlays, and zoom 0: the first layout opens readable. */
export function defaultViewState(): ViewState {
  return {
    documentUri: null,
    expansion: { expanded: [] },
    overlays: { ...DEFAULT_OVERLAYS },
    selected: null,
    zoom: 0,
    panX: 0,
    panY: 0,
    search: "",
    tab: "diagram",
  };
}

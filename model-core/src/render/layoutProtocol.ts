/** The layout worker's protocol (./layoutWorker.ts, on ../rpc.ts): one request kind, answered with the laid-out diagram. */
import type { ModelGraph } from "../analysis/graph";
import type { LaidOutGraph } from "./layout";
import type { ExpansionState } from "./view";

/** Requests to the layout worker. */
export type LayoutRequestBody =
  /** Lay `graph` out as `expansion` shows it (layoutView, off the host's thread). */
  { kind: "layout"; graph: ModelGraph; expansion: ExpansionState };

/** What each request's response carries. */
export interface LayoutResults {
  layout: LaidOutGraph;
}

/** The spec worker's protocol (../specWorker.ts, on resnet-studio/rpc): one request kind, answered with the analysis. */
import type { SpecAnalysis } from "./specDocument";

/** Requests to the spec worker. */
export type SpecRequestBody =
  /** Parse and analyse one spec's text; `file` names it in the diagnostics' ranges. */
  { kind: "analyze"; text: string; file: string };

/** What each request's response carries. */
export interface SpecResults {
  analyze: SpecAnalysis;
}

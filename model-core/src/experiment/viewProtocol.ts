/**
 * The experiment page's messages between the extension host and its webview: the host pushes the experiment's state
 * (after every epoch), the page says when it is ready for it. The webview checks every state field by field on arrival,
 * as the diagram's protocol does (protocolValidate.ts): a page never draws from a message it has not checked.
 */
import type { ErrorPoint, ExperimentSeries, ExperimentState, RunStatus, Verdict } from "./plainVsResidual";

export type ExperimentHostMessage = { type: "state"; state: ExperimentState };
export type ExperimentViewMessage = { type: "ready" };

type Fields = Record<string, unknown>;
const isRecord = (v: unknown): v is Fields => typeof v === "object" && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === "string";
/** Errors may be NaN (a diverged epoch), which JSON and structured clone carry as null or NaN. */
const isNumberish = (v: unknown): v is number => typeof v === "number";
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;
const STATUSES: readonly RunStatus[] = ["pending", "running", "completed", "cancelled", "diverged", "failed"];

function isPoint(v: unknown): v is ErrorPoint {
  return isRecord(v) && isCount(v.epoch) && isNumberish(v.trainError) && isNumberish(v.valError);
}

function isSeries(v: unknown): v is ExperimentSeries {
  return (
    isRecord(v) &&
    isString(v.key) &&
    isString(v.label) &&
    isCount(v.depth) &&
    typeof v.residual === "boolean" &&
    isCount(v.params) &&
    STATUSES.includes(v.status as RunStatus) &&
    (v.message === undefined || isString(v.message)) &&
    Array.isArray(v.points) &&
    v.points.every(isPoint) &&
    isCount(v.trainSamples) &&
    isCount(v.valSamples) &&
    isNumberish(v.seconds)
  );
}

function isVerdict(v: unknown): v is Verdict {
  return isRecord(v) && typeof v.reproduced === "boolean" && Array.isArray(v.lines) && v.lines.every(isString);
}

/** The state when `value` is one, else null. */
export function checkExperimentState(value: unknown): ExperimentState | null {
  if (!isRecord(value)) return null;
  const ok =
    isString(value.dataset) &&
    isString(value.backend) &&
    isCount(value.epochs) &&
    Array.isArray(value.depths) &&
    value.depths.every(isCount) &&
    isCount(value.width) &&
    Array.isArray(value.series) &&
    value.series.every(isSeries) &&
    (value.verdict === null || isVerdict(value.verdict)) &&
    isNumberish(value.seconds);
  return ok ? (value as unknown as ExperimentState) : null;
}

/** A host message the page can act on, else null (unknown types and malformed states are dropped). */
export function checkExperimentHostMessage(value: unknown): ExperimentHostMessage | null {
  if (!isRecord(value) || value.type !== "state") return null;
  const state = checkExperimentState(value.state);
  return state ? { type: "state", state } : null;
}

export function isExperimentViewMessage(value: unknown): value is ExperimentViewMessage {
  return isRecord(value) && value.type === "ready";
}

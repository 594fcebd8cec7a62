/**
 * A training run's record, `run.json` (version 1), beside its `checkpoint.safetensors` in the run folder
 * `<runs root>/<spec file stem>/<UTC timestamp>/`. Plain data and a tolerant, bounded parser: a record written by an
 * older version (or by the plain-vs-residual experiment) reads with its missing optional fields defaulted, and a
 * truncated or invalid one is refused with a message naming the file and the field.
 */
import { createHash } from "node:crypto";
import type { ResolvedDataset } from "../data/resolve";

export const RUN_RECORD_FILE = "run.json";
export const RUN_RECORD_VERSION = 1;
/** The runs root inside a workspace (or the CLI's working folder). */
export const RUNS_FOLDER = [".resnet-studio", "runs"] as const;
/** run.json holds a spec, a config and a bounded history; more than this is not a run record. */
export const MAX_RUN_RECORD_BYTES = 32 * 2 ** 20;

/** What a run's writer records. */
export type RunStatus = "running" | "completed" | "cancelled" | "diverged" | "failed";
/** What a reader reports: "interrupted" is a "running" record whose writer is gone (killed, crashed). */
export type RunState = RunStatus | "interrupted";

export const RUN_STATUSES: readonly RunStatus[] = ["running", "completed", "cancelled", "diverged", "failed"];

/** One completed epoch; `epoch` counts epochs completed (1 after the first). */
export interface RunEpoch {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  valLoss: number | null;
  valAccuracy: number | null;
  seconds: number;
  lr?: number;
  imagesPerSecond?: number;
}

/** A logged training step: `step` counts optimisation steps since the run began. */
export interface RunStep {
  step: number;
  epoch: number;
  loss: number;
}

export interface RunDataset {
  /** As given to the CLI's --dataset or the resnetStudio.dataset setting. */
  arg: string;
  /** sha256 over the training (and separate validation) images and labels, as loaded. */
  sha256: string;
  valFraction: number;
}

export interface RunRecord {
  version: 1;
  status: RunStatus;
  message: string | null;
  /** The network's display name. */
  model: string;
  specText: string;
  specFile: string | null;
  architectureHash: string;
  dataset: RunDataset;
  backend: string;
  device: string;
  /** The trainer's full description of its backend, when it says more than the name (torch's version and threads). */
  backendDetail?: string;
  config: Record<string, unknown>;
  history: RunEpoch[];
  steps: RunStep[];
  /** Steps per epoch, when known: places epochs on an iteration axis. */
  stepsPerEpoch: number | null;
  startedAt: string;
  endedAt: string | null;
  /** The writer's last sign of life, its process and machine: a reader tells a killed run from a running one. */
  heartbeatAt: string | null;
  pid: number | null;
  hostname: string | null;
  /** Epochs completed by the last checkpoint written, null before the first. */
  checkpointEpoch: number | null;
}

/** A run.json that cannot be read: the message names the file and the field. */
export class RunRecordError extends Error {
  constructor(
    readonly file: string,
    readonly field: string | null,
    problem: string,
  ) {
    super(`${file}: ${field ? `field "${field}" ` : ""}${problem}`);
    this.name = "RunRecordError";
  }
}

/** sha256 of the images and labels a run trained and validated on. */
export function datasetSha256(data: ResolvedDataset): string {
  const hash = createHash("sha256");
  for (const set of [data.train, data.val]) {
    if (!set) continue;
    hash.update(set.images);
    hash.update(set.labels);
  }
  return hash.digest("hex");
}

/** "2026-12-07T22-40-05Z": a run folder's name, sortable, valid on every file system. */
export function runFolderName(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d+Z$/, "Z")
    .replace(/:/g, "-");
}

/** The spec group of a run: the spec file's name without `.resnet.ts`, or the preset's name, safe as a folder name. */
export function specStem(specFileOrName: string): string {
  const base = specFileOrName.split(/[\\/]/).pop() ?? "";
  const stem = base.replace(/\.resnet\.ts$/, "").replace(/\.ts$/, "");
  const safe = stem.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^\.+/, "");
  return safe.slice(0, 100) || "untitled";
}

/** Where a truncated JSON text stops: the top-level field it ends inside, if it got that far. */
export function truncatedField(text: string): string | null {
  let depth = 0;
  let inString = false;
  let escaped = false;
  let stringStart = 0;
  let lastKey: string | null = null;
  let pendingString: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === "\\") escaped = true;
      else if (c === '"') {
        inString = false;
        if (depth === 1) pendingString = text.slice(stringStart + 1, i);
      }
      continue;
    }
    if (c === '"') {
      inString = true;
      stringStart = i;
    } else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") depth--;
    else if (c === ":" && depth === 1 && pendingString !== null) {
      lastKey = pendingString;
      pendingString = null;
    } else if (c === ",") pendingString = null;
  }
  return lastKey;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Reads the record's fields one by one; each problem names its field. */
class FieldReader {
  constructor(readonly file: string) {}
  fail(field: string, problem: string): never {
    throw new RunRecordError(this.file, field, problem);
  }
  string(o: Json, key: string, path = key): string {
    const v = o[key];
    if (typeof v !== "string") this.fail(path, v === undefined ? "is missing" : "must be a string");
    return v;
  }
  optionalString(o: Json, key: string, path = key): string | null {
    const v = o[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== "string") this.fail(path, "must be a string or null");
    return v;
  }
  number(o: Json, key: string, path = key): number {
    const v = o[key];
    // NaN and infinities are written as null by JSON; a diverged epoch keeps its row.
    if (v === null) return Number.NaN;
    if (typeof v !== "number") this.fail(path, v === undefined ? "is missing" : "must be a number");
    return v;
  }
  optionalNumber(o: Json, key: string, path = key): number | null {
    const v = o[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== "number") this.fail(path, "must be a number or null");
    return v;
  }
}

function readEpoch(r: FieldReader, row: unknown, index: number): RunEpoch {
  const at = `history[${index}]`;
  if (!isObject(row)) throw new RunRecordError(r.file, at, "must be an object");
  // The experiment's records keep the trainer's own names (0-based epoch, loss, accuracy).
  const trainer = row.trainLoss === undefined && row.loss !== undefined;
  const epoch: RunEpoch = {
    epoch: trainer ? r.number(row, "epoch", `${at}.epoch`) + 1 : r.number(row, "epoch", `${at}.epoch`),
    trainLoss: r.number(row, trainer ? "loss" : "trainLoss", `${at}.trainLoss`),
    trainAccuracy: r.number(row, trainer ? "accuracy" : "trainAccuracy", `${at}.trainAccuracy`),
    valLoss: r.optionalNumber(row, "valLoss", `${at}.valLoss`),
    valAccuracy: r.optionalNumber(row, "valAccuracy", `${at}.valAccuracy`),
    seconds: r.optionalNumber(row, "seconds", `${at}.seconds`) ?? 0,
  };
  const lr = r.optionalNumber(row, "lr", `${at}.lr`);
  if (lr !== null) epoch.lr = lr;
  const ips = r.optionalNumber(row, "imagesPerSecond", `${at}.imagesPerSecond`);
  if (ips !== null) epoch.imagesPerSecond = ips;
  return epoch;
}

function readStep(r: FieldReader, row: unknown, index: number): RunStep {
  const at = `steps[${index}]`;
  if (!isObject(row)) throw new RunRecordError(r.file, at, "must be an object");
  return {
    step: r.number(row, "step", `${at}.step`),
    epoch: r.number(row, "epoch", `${at}.epoch`),
    loss: r.number(row, "loss", `${at}.loss`),
  };
}

/** Parses and checks a run.json's text. Throws RunRecordError naming `file` and the field. */
export function parseRunRecord(text: string, file: string): RunRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    const inside = truncatedField(text);
    const reason = err instanceof Error ? err.message : String(err);
    throw new RunRecordError(
      file,
      inside,
      text.trim() === ""
        ? "is empty"
        : `is cut short or not valid JSON (${reason}); the run's checkpoint, if any, is still usable`,
    );
  }
  const r = new FieldReader(file);
  if (!isObject(raw)) throw new RunRecordError(file, null, "must hold a JSON object");
  if (raw.version !== RUN_RECORD_VERSION)
    r.fail("version", `must be ${RUN_RECORD_VERSION}, got ${JSON.stringify(raw.version) ?? "nothing"}`);
  const status = raw.status;
  if (typeof status !== "string" || !(RUN_STATUSES as readonly string[]).includes(status))
    r.fail("status", `must be one of ${RUN_STATUSES.join(", ")}`);
  const dataset = raw.dataset;
  if (!isObject(dataset))
    throw new RunRecordError(file, "dataset", dataset === undefined ? "is missing" : "must be an object");
  const config = raw.config ?? {};
  if (!isObject(config)) throw new RunRecordError(file, "config", "must be an object");
  const history = raw.history ?? [];
  if (!Array.isArray(history)) throw new RunRecordError(file, "history", "must be an array");
  const steps = raw.steps ?? [];
  if (!Array.isArray(steps)) throw new RunRecordError(file, "steps", "must be an array");
  const specText = r.string(raw, "specText");
  return {
    version: RUN_RECORD_VERSION,
    status: status as RunStatus,
    message: r.optionalString(raw, "message"),
    model: r.optionalString(raw, "model") ?? "",
    specText,
    specFile: r.optionalString(raw, "specFile"),
    architectureHash: r.string(raw, "architectureHash"),
    dataset: {
      // The experiment's records name the dataset `name`.
      arg: r.optionalString(dataset, "arg", "dataset.arg") ?? r.string(dataset, "name", "dataset.arg"),
      sha256: r.optionalString(dataset, "sha256", "dataset.sha256") ?? "",
      valFraction:
        r.optionalNumber(dataset, "valFraction", "dataset.valFraction") ??
        (typeof config.valFraction === "number" ? config.valFraction : 0),
    },
    backend: r.string(raw, "backend"),
    device: r.optionalString(raw, "device") ?? "",
    ...(typeof raw.backendDetail === "string" ? { backendDetail: raw.backendDetail } : {}),
    config,
    history: history.map((row, i) => readEpoch(r, row, i)),
    steps: steps.map((row, i) => readStep(r, row, i)),
    stepsPerEpoch: r.optionalNumber(raw, "stepsPerEpoch"),
    startedAt: r.string(raw, "startedAt"),
    endedAt: r.optionalString(raw, "endedAt") ?? r.optionalString(raw, "finishedAt"),
    heartbeatAt: r.optionalString(raw, "heartbeatAt"),
    pid: r.optionalNumber(raw, "pid"),
    hostname: r.optionalString(raw, "hostname"),
    checkpointEpoch: r.optionalNumber(raw, "checkpointEpoch"),
  };
}

/** Best validation accuracy over the epochs, null without validation. */
export function bestValAccuracy(record: Pick<RunRecord, "history">): number | null {
  let best: number | null = null;
  for (const e of record.history)
    if (e.valAccuracy !== null && Number.isFinite(e.valAccuracy)) best = Math.max(best ?? 0, e.valAccuracy);
  return best;
}

/** Seconds from start to end (or to the last sign of life, for a run still going or killed). */
export function runDurationSeconds(record: Pick<RunRecord, "startedAt" | "endedAt" | "heartbeatAt">): number | null {
  const start = Date.parse(record.startedAt);
  const end = Date.parse(record.endedAt ?? record.heartbeatAt ?? "");
  return Number.isFinite(start) && Number.isFinite(end) ? Math.max(0, (end - start) / 1000) : null;
}

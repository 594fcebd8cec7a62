/**
 * Reading runs: the spec groups of a runs root, a page of one group's runs (newest first), and a run's record with
 * its state as a reader sees it. Work is bounded by what is shown: listing the groups reads one folder; a page of N
 * runs reads one folder listing and at most N run.json files, whatever the number of runs (10,000 in a folder list in
 * one listing and a page of reads). A folder without run.json (another tool's, or an experiment's) is not a run.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { FileError, readRegularFile } from "../safeFiles";
import {
  bestValAccuracy,
  MAX_RUN_RECORD_BYTES,
  parseRunRecord,
  RUN_RECORD_FILE,
  runDurationSeconds,
  RunRecordError,
  type RunRecord,
  type RunState,
} from "./record";

/** A "running" run whose heartbeat is older than this, on another machine or with an unknown pid, is interrupted. */
export const STALE_HEARTBEAT_SECONDS = 10 * 60;
/** Runs per page of a spec group. */
export const RUNS_PAGE_SIZE = 100;

/** The file-system calls a listing makes; tests count them. */
export interface RunsFs {
  /** Names of the sub-folders of `dir` (empty when it does not exist). */
  folders(dir: string): string[];
  /** run.json's text, or null when the folder has none. Throws with a message naming the file otherwise. */
  readRecord(file: string): string | null;
}

export const nodeRunsFs: RunsFs = {
  folders(dir) {
    try {
      return readdirSync(dir, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return [];
      throw err;
    }
  },
  readRecord(file) {
    try {
      statSync(file);
    } catch {
      return null;
    }
    return readRegularFile(file, MAX_RUN_RECORD_BYTES, "run record").toString("utf8");
  },
};

/** How a reader tells whether a run's writer is alive. */
export interface Liveness {
  now: Date;
  hostname: string;
  isAlive(pid: number): boolean;
}

export function processIsAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A "running" record whose writer is gone is "interrupted": a dead pid on this machine, or a stale heartbeat. */
export function runState(record: RunRecord, live: Liveness): RunState {
  if (record.status !== "running") return record.status;
  if (record.pid !== null && record.hostname === live.hostname)
    return live.isAlive(record.pid) ? "running" : "interrupted";
  const beat = Date.parse(record.heartbeatAt ?? record.startedAt);
  if (!Number.isFinite(beat)) return "interrupted";
  return (live.now.getTime() - beat) / 1000 > STALE_HEARTBEAT_SECONDS ? "interrupted" : "running";
}

/** What the Runs view and `runs list` show of a run. */
export interface RunSummary {
  /** The run folder. */
  dir: string;
  group: string;
  name: string;
  state: RunState;
  message: string | null;
  model: string;
  bestValAccuracy: number | null;
  epochs: number;
  plannedEpochs: number | null;
  backend: string;
  device: string;
  dataset: string;
  seconds: number | null;
  startedAt: string;
  checkpointEpoch: number | null;
}

/** A run folder whose run.json cannot be read: shown as such, with the message naming the file and the field. */
export interface BrokenRun {
  dir: string;
  group: string;
  name: string;
  error: string;
}

export type RunEntry = ({ kind: "run" } & RunSummary) | ({ kind: "broken" } & BrokenRun);

export function summarizeRun(dir: string, group: string, name: string, record: RunRecord, live: Liveness): RunSummary {
  const planned = record.config.epochs;
  return {
    dir,
    group,
    name,
    state: runState(record, live),
    message: record.message,
    model: record.model,
    bestValAccuracy: bestValAccuracy(record),
    epochs: record.history.length === 0 ? 0 : Math.max(...record.history.map((e) => e.epoch)),
    plannedEpochs: typeof planned === "number" ? planned : null,
    backend: record.backend,
    device: record.device,
    dataset: record.dataset.arg,
    seconds: runDurationSeconds(record),
    startedAt: record.startedAt,
    checkpointEpoch: record.checkpointEpoch,
  };
}

export function defaultLiveness(hostname: string): Liveness {
  return { now: new Date(), hostname, isAlive: processIsAlive };
}

/** Reads a run folder's record. Throws RunRecordError (naming the file and field) or FileError; null without run.json. */
export function readRunRecord(dir: string, fs: RunsFs = nodeRunsFs): RunRecord | null {
  const file = join(dir, RUN_RECORD_FILE);
  const text = fs.readRecord(file);
  return text === null ? null : parseRunRecord(text, file);
}

/** The spec groups under `root`, sorted by name. One folder listing. */
export function listRunGroups(root: string, fs: RunsFs = nodeRunsFs): string[] {
  return fs.folders(root).sort((a, b) => a.localeCompare(b));
}

export interface RunsPage {
  entries: RunEntry[];
  /** Run folders in the group (including ones without run.json, not yet looked at). */
  total: number;
  /** Where the next page starts, null at the end. */
  next: number | null;
}

/** Runs `offset … offset + limit` of a group, newest first (folder names are UTC timestamps). */
export function listRunsPage(
  root: string,
  group: string,
  live: Liveness,
  page: { offset?: number; limit?: number } = {},
  fs: RunsFs = nodeRunsFs,
): RunsPage {
  const offset = page.offset ?? 0;
  const limit = page.limit ?? RUNS_PAGE_SIZE;
  const groupDir = join(root, group);
  const names = fs.folders(groupDir).sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
  const entries: RunEntry[] = [];
  const add = (dir: string, name: string): boolean => {
    try {
      const record = readRunRecord(dir, fs);
      if (record) entries.push({ kind: "run", ...summarizeRun(dir, group, name, record, live) });
      return record !== null;
    } catch (err) {
      if (!(err instanceof RunRecordError || err instanceof FileError)) throw err;
      entries.push({ kind: "broken", dir, group, name, error: err.message });
      return true;
    }
  };
  for (const name of names.slice(offset, offset + limit)) {
    const dir = join(groupDir, name);
    // An experiment's folder (plain-vs-residual/<UTC time>/<net>/) holds one run per net: listed as `<time>/<net>`.
    if (!add(dir, name)) for (const net of fs.folders(dir).sort()) add(join(dir, net), `${name}/${net}`);
  }
  return { entries, total: names.length, next: offset + limit < names.length ? offset + limit : null };
}

/** Every run under `root` (for `runs list`): groups in order, each group's runs newest first, up to `limit` in all. */
export function listAllRuns(root: string, live: Liveness, limit = Infinity, fs: RunsFs = nodeRunsFs): RunEntry[] {
  const out: RunEntry[] = [];
  for (const group of listRunGroups(root, fs)) {
    let offset: number | null = 0;
    while (offset !== null && out.length < limit) {
      const page = listRunsPage(root, group, live, { offset, limit: Math.min(RUNS_PAGE_SIZE, limit - out.length) }, fs);
      out.push(...page.entries);
      offset = page.next;
    }
  }
  return out;
}

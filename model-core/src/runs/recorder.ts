/**
 * Records a training run in its folder: a layer around any trainer (tfjs or PyTorch), fed the trainer's events. The
 * trainer writes `checkpoint.safetensors` to `checkpointPath` after every epoch (runtime/checkpoint.ts saveCheckpoint,
 * atomically); the recorder rewrites `run.json` atomically at the start, after every epoch and checkpoint, at most
 * every HEARTBEAT_SECONDS while steps run, and at the end. A killed process leaves status "running" with a stale
 * heartbeat and a dead pid, which readers report as interrupted; its last checkpoint is complete.
 */
import { mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "../safeFiles";
import { CHECKPOINT_FILE_NAME, specHash } from "../runtime/checkpoint";
import type { ResNetSpec } from "../spec/types";
import type { ResolvedDataset } from "../data/resolve";
import { readRunRecord } from "./listing";
import type { TrainConfig, TrainEvent, TrainResult } from "../runtime/trainTypes";
import {
  datasetSha256,
  RUN_RECORD_FILE,
  RUN_RECORD_VERSION,
  runFolderName,
  specStem,
  type RunDataset,
  type RunEpoch,
  type RunRecord,
  type RunStatus,
} from "./record";

/** A running record's heartbeat while steps run; readers call a run silent for STALE_HEARTBEAT_SECONDS interrupted. */
export const HEARTBEAT_SECONDS = 30;
/** Per-step losses kept; beyond this every other one is dropped, so a long run's record stays small. */
export const MAX_RECORDED_STEPS = 4000;

export interface RunStartInfo {
  /** The run folder (created if missing). */
  dir: string;
  spec: ResNetSpec;
  specText: string;
  specFile: string | null;
  dataset: RunDataset;
  backend: string;
  device: string;
  config: TrainConfig;
  /** When resuming into this folder: the record so far (its history and start are kept). */
  previous?: RunRecord | null;
  /** For tests: the clock and the writer's identity. */
  now?: () => Date;
  pid?: number;
  hostname?: string;
}

/**
 * Creates `<root>/<stem>/<UTC timestamp>/` for a new run; a second run in the same second gets "-2", "-3"… so no run
 * overwrites another.
 */
export function createRunFolder(root: string, specFileOrName: string, date = new Date()): string {
  const group = join(root, specStem(specFileOrName));
  mkdirSync(group, { recursive: true });
  const name = runFolderName(date);
  for (let n = 1; ; n++) {
    const dir = join(group, n === 1 ? name : `${name}-${n}`);
    try {
      mkdirSync(dir);
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || n > 1000) throw err;
    }
  }
}

/**
 * The contract's short backend name and device from a trainer's backend line: "torch 1.13.1 (cuda, 8 threads), Python
 * …" is torch on cuda (the whole line kept as backendDetail); a tfjs backend ("wasm", "cpu") is its own device.
 */
export function backendOf(line: string, device: string): { backend: string; device: string; backendDetail?: string } {
  const torch = /^torch\b[^(]*\(([^,()]+)/.exec(line);
  if (torch) return { backend: "torch", device: torch[1].trim(), backendDetail: line };
  if (line.startsWith("torch")) return { backend: "torch", device, backendDetail: line };
  return { backend: line, device: line };
}

export class RunRecorder {
  readonly record: RunRecord;
  readonly file: string;
  readonly checkpointPath: string;
  private readonly now: () => Date;
  private lastWrite = 0;
  private ended = false;

  constructor(readonly info: RunStartInfo) {
    this.now = info.now ?? (() => new Date());
    mkdirSync(info.dir, { recursive: true });
    this.file = join(info.dir, RUN_RECORD_FILE);
    this.checkpointPath = join(info.dir, CHECKPOINT_FILE_NAME);
    const previous = info.previous ?? null;
    const started = this.now().toISOString();
    this.record = {
      version: RUN_RECORD_VERSION,
      status: "running",
      message: null,
      model: info.spec.name,
      specText: info.specText,
      specFile: info.specFile,
      architectureHash: specHash(info.spec),
      dataset: info.dataset,
      backend: info.backend,
      device: info.device,
      config: { ...info.config },
      history: previous ? [...previous.history] : [],
      steps: previous ? [...previous.steps] : [],
      stepsPerEpoch: previous?.stepsPerEpoch ?? null,
      startedAt: previous?.startedAt ?? started,
      endedAt: null,
      heartbeatAt: started,
      pid: info.pid ?? process.pid,
      hostname: info.hostname ?? hostname(),
      checkpointEpoch: previous?.checkpointEpoch ?? null,
    };
    this.write();
  }

  /** Feed every event of the trainer here (before or after the caller's own handling). */
  onEvent(event: TrainEvent): void {
    if (this.ended) return;
    switch (event.type) {
      case "start":
        if (event.backend) Object.assign(this.record, backendOf(event.backend, this.record.device));
        // A resumed run's history past its checkpoint did not survive: keep the epochs the checkpoint holds.
        this.record.history = this.record.history.filter((e) => e.epoch <= event.startEpoch);
        this.record.steps = this.record.steps.filter((s) => s.epoch < event.startEpoch);
        this.record.config = { ...event.config };
        this.write();
        break;
      case "step":
        this.record.stepsPerEpoch = event.stepsPerEpoch;
        this.addStep({ step: event.globalStep + 1, epoch: event.epoch, loss: event.loss });
        if ((this.now().getTime() - this.lastWrite) / 1000 >= HEARTBEAT_SECONDS) this.write();
        break;
      case "epoch": {
        const row: RunEpoch = {
          epoch: event.epoch + 1,
          trainLoss: event.loss,
          trainAccuracy: event.accuracy,
          valLoss: event.valLoss ?? null,
          valAccuracy: event.valAccuracy ?? null,
          seconds: event.seconds,
          lr: event.lr,
          imagesPerSecond: event.imagesPerSecond,
        };
        this.record.history = [...this.record.history.filter((e) => e.epoch !== row.epoch), row];
        this.write();
        break;
      }
      case "checkpoint":
        this.record.checkpointEpoch = event.epoch;
        this.write();
        break;
      case "done":
        this.finish(event);
        break;
      case "error":
        this.fail(event.message);
        break;
    }
  }

  /** The trainer's result: completed (or stopped by its step or time budget), cancelled, or diverged with its message. */
  finish(result: Pick<TrainResult, "reason" | "message">): void {
    const status: RunStatus =
      result.reason === "aborted" ? "cancelled" : result.reason === "diverged" ? "diverged" : "completed";
    const message =
      result.reason === "diverged"
        ? (result.message ?? "training diverged")
        : result.reason === "maxSteps"
          ? "stopped at the step limit (--max-steps)"
          : result.reason === "timeBudget"
            ? "stopped at the time budget"
            : null;
    this.end(status, message);
  }

  /** The trainer threw (bad data, out of memory, a dead PyTorch process): the message says what. */
  fail(message: string): void {
    this.end("failed", message);
  }

  private end(status: RunStatus, message: string | null): void {
    if (this.ended) return;
    this.ended = true;
    this.record.status = status;
    this.record.message = message;
    this.record.endedAt = this.now().toISOString();
    this.write();
  }

  private addStep(step: { step: number; epoch: number; loss: number }): void {
    const steps = this.record.steps;
    if (steps.length > 0 && steps[steps.length - 1].step >= step.step) return;
    steps.push(step);
    if (steps.length > MAX_RECORDED_STEPS) this.record.steps = steps.filter((_, i) => i % 2 === 0);
  }

  private write(): void {
    const now = this.now();
    this.record.heartbeatAt = now.toISOString();
    this.lastWrite = now.getTime();
    writeFileAtomic(this.file, JSON.stringify(this.record, null, 1) + "\n");
  }
}

/** What a trainer needs from the recording layer: where to write its checkpoint, and the event sink. */
export interface RecordingHooks {
  checkpoint: string;
  onEvent: (event: TrainEvent) => void;
}

/**
 * Runs `trainer` (train(), trainOnTorch(), or any other entry point that takes a checkpoint path and an event sink)
 * as a recorded run: every event goes to the recorder and then to `onEvent`, the result or the error ends the record.
 * The error is rethrown; the record says "failed" with its message.
 */
export async function recordRun(
  recorder: RunRecorder,
  trainer: (hooks: RecordingHooks) => Promise<TrainResult>,
  onEvent: (event: TrainEvent) => void = () => undefined,
): Promise<TrainResult> {
  try {
    const result = await trainer({
      checkpoint: recorder.checkpointPath,
      onEvent: (event) => {
        recorder.onEvent(event);
        onEvent(event);
      },
    });
    recorder.finish(result);
    return result;
  } catch (err) {
    recorder.fail(err instanceof Error ? err.message : String(err));
    throw err;
  }
}

/** A training job's run: where it records and what it trains (crosses the extension host → worker boundary). */
export interface RunJob {
  /** The run folder, made by the caller (createRunFolder), or the resumed run's folder. */
  dir: string;
  specText: string;
  specFile: string | null;
  /** The dataset as the setting names it. */
  datasetArg: string;
  /** Continue the record already in `dir` (the trainer resumes from its checkpoint). */
  resume?: boolean;
}

/**
 * `trainer` as a recorded run when `run` is given (the checkpoint goes to the run folder), or as it is. `trainer` gets
 * the checkpoint path (undefined without a run) and the event sink.
 */
export function recordedTraining(
  run: RunJob | undefined,
  what: { spec: ResNetSpec; data: ResolvedDataset; config: TrainConfig; backend: string; device: string },
  trainer: (hooks: { checkpoint?: string; onEvent: (event: TrainEvent) => void }) => Promise<TrainResult>,
  onEvent: (event: TrainEvent) => void,
): Promise<TrainResult> {
  if (!run) return trainer({ onEvent });
  const recorder = new RunRecorder({
    dir: run.dir,
    spec: what.spec,
    specText: run.specText,
    specFile: run.specFile,
    dataset: { arg: run.datasetArg, sha256: datasetSha256(what.data), valFraction: what.config.valFraction },
    backend: what.backend,
    device: what.device,
    config: what.config,
    previous: run.resume ? readRunRecord(run.dir) : null,
  });
  return recordRun(recorder, trainer, onEvent);
}

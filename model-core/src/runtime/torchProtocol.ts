/**
 * What crosses the boundary between the torch backend (torchBackend.ts) and its Python child
 * (model-core/python/resnet_studio_torch.py): the job file the parent writes, and the JSON lines the child prints on
 * stdout. Every line is checked field by field before anything uses it; a line that does not fit is a protocol
 * error naming the field. Plain data only (no tfjs, no node APIs).
 */
import type { EpochMetrics, StepMetrics, StopReason, TrainConfig, TrainStart } from "./trainTypes";

/** Bumped when a message changes shape; the child reports its version in "ready". */
export const TORCH_PROTOCOL_VERSION = 1;

export type TorchDevice = "cpu" | "cuda" | "auto";

/** l2, mean|g|, max|g| of one gradient tensor, as runtime/gradflow.ts measures them. */
export type RawStats = [number, number, number];

/** One gradient-flow pass, before it is assembled into a GradientFlowResult (by node id, edge key, parameter name). */
export interface RawGradientFlow {
  loss: number;
  batch: number;
  nodes: Record<string, RawStats>;
  edges: Record<string, RawStats>;
  params: Record<string, RawStats>;
  millis: number;
}

/** An edge whose gradient the child measures: input `index` of node `node`, summed into lane `key`. */
export interface EdgeTap {
  node: string;
  index: number;
  key: string;
}

/** The graph IR as the child interprets it for gradient flow (node ids, ops and inputs only). */
export interface JobGraph {
  nodes: { id: string; op: { kind: string } & Record<string, unknown>; inputs: string[] }[];
}

export interface DatasetFiles {
  images: string;
  labels: string;
  count: number;
  height: number;
  width: number;
  channels: number;
  /** Per model-input channel, the 256 normalised values of pixel values 0..255 (data/dataset.ts BatchAdapter). */
  luts: number[][];
}

interface JobBase {
  moduleFile: string;
  device: TorchDevice;
  threads?: number;
  /** Initial weights (safetensors, PyTorch layout): the same seeded initialisation as the wasm runtime. */
  init?: string;
  graph: JobGraph;
  taps: EdgeTap[];
  input: [number, number, number];
  classes: number;
}

export interface TrainJob extends JobBase {
  kind: "train";
  config: TrainConfig;
  rngState: number;
  data: {
    name: string;
    train: DatasetFiles;
    val: DatasetFiles | null;
    trainIndices: string;
    trainCount: number;
    valIndices: string;
    valCount: number;
  };
  checkpoint?: string;
  resume?: {
    path: string;
    epoch: number;
    globalStep: number;
    rngState: number;
    history: EpochMetrics[];
    optimizerStep: number;
  };
  /** A gradient-flow snapshot on the first `count` training images after every epoch. */
  snapshot?: { count: number };
  meta: { model: string; spec: string; specHash: string };
}

export interface GradflowJob extends JobBase {
  kind: "gradflow";
  /** NHWC float32 input. */
  x: { file: string; shape: [number, number, number, number] };
  labels: number[];
  mode: "train" | "eval";
}

export interface BenchJob extends JobBase {
  kind: "bench";
  reference: string;
  referenceModel: "CifarResNet";
  /** Autocast for every loop (issue 23); fp32 when absent. */
  precision?: "fp32" | "bf16";
  batch: number;
  steps: number;
  rounds: number;
}

/** Times training steps of each probe network (runtime/calibrate.ts CALIBRATION_PROBES) in one process. */
export interface CalibrateJob {
  kind: "calibrate";
  device: TorchDevice;
  threads?: number;
  batch: number;
  /** Untimed steps first (cuDNN autotuning, allocator), then timed ones; their median counts. */
  warmupSteps: number;
  timedSteps: number;
  probes: { moduleFile: string; input: [number, number, number]; classes: number }[];
}

export type TorchJob = TrainJob | GradflowJob | BenchJob | CalibrateJob;

/** Messages from the child, one per stdout line. */
export type RunnerMessage =
  | { type: "ready"; protocol: number; torch: string; device: string }
  | ({ type: "start"; device: string; torch: string } & TrainStart)
  | ({ type: "step" } & StepMetrics)
  | ({ type: "epoch"; gradients?: RawGradientFlow } & EpochMetrics)
  | { type: "checkpoint"; path: string; epoch: number }
  | {
      type: "done";
      reason: StopReason;
      message?: string;
      epochsCompleted: number;
      globalStep: number;
      history: EpochMetrics[];
      seconds: number;
    }
  | ({ type: "gradflow" } & RawGradientFlow)
  | {
      type: "bench";
      device: string;
      torch: string;
      threads: number;
      trainImagesPerSecond: number;
      referenceImagesPerSecond: number;
      /** CUDA only: the reference written with PyTorch's performance guide (channels_last, cudnn.benchmark). */
      tunedImagesPerSecond?: number;
      rounds: number;
      steps: number;
    }
  | { type: "calibration"; device: string; torch: string; seconds: number[] }
  | { type: "error"; message: string };

export class TorchProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TorchProtocolError";
  }
}

type Kind = "number" | "nullableNumber" | "integer" | "string" | "object" | "array" | "stats" | "positiveNumbers";
const STEP_FIELDS: Record<string, Kind> = {
  epoch: "integer",
  step: "integer",
  stepsPerEpoch: "integer",
  globalStep: "integer",
  loss: "number",
  accuracy: "number",
  lr: "number",
  imagesPerSecond: "number",
  epochSeconds: "number",
};
const EPOCH_FIELDS: Record<string, Kind> = {
  epoch: "integer",
  epochs: "integer",
  loss: "nullableNumber",
  accuracy: "nullableNumber",
  valLoss: "nullableNumber",
  valAccuracy: "nullableNumber",
  lr: "number",
  imagesPerSecond: "number",
  seconds: "number",
  trainSamples: "integer",
  valSamples: "integer",
};
const RAW_FLOW_FIELDS: Record<string, Kind> = {
  loss: "number",
  batch: "integer",
  nodes: "object",
  edges: "object",
  params: "object",
  millis: "number",
};
const FIELDS: Record<RunnerMessage["type"], Record<string, Kind>> = {
  ready: { protocol: "integer", torch: "string", device: "string" },
  start: {
    model: "string",
    dataset: "string",
    trainSamples: "integer",
    valSamples: "integer",
    config: "object",
    startEpoch: "integer",
    params: "integer",
    device: "string",
    torch: "string",
  },
  step: STEP_FIELDS,
  epoch: EPOCH_FIELDS,
  checkpoint: { path: "string", epoch: "integer" },
  done: { reason: "string", epochsCompleted: "integer", globalStep: "integer", history: "array", seconds: "number" },
  gradflow: RAW_FLOW_FIELDS,
  bench: {
    device: "string",
    torch: "string",
    threads: "integer",
    trainImagesPerSecond: "number",
    referenceImagesPerSecond: "number",
    rounds: "integer",
    steps: "integer",
  },
  calibration: { device: "string", torch: "string", seconds: "positiveNumbers" },
  error: { message: "string" },
};
const REASONS: StopReason[] = ["completed", "aborted", "diverged", "maxSteps", "timeBudget"];

function check(value: unknown, kind: Kind): boolean {
  switch (kind) {
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "nullableNumber":
      return value === null || (typeof value === "number" && Number.isFinite(value));
    case "integer":
      return Number.isInteger(value) && (value as number) >= 0;
    case "string":
      return typeof value === "string";
    case "object":
      return typeof value === "object" && value !== null && !Array.isArray(value);
    case "array":
      return Array.isArray(value);
    case "positiveNumbers":
      return (
        Array.isArray(value) &&
        value.length > 0 &&
        value.every((v) => typeof v === "number" && Number.isFinite(v) && v > 0)
      );
    case "stats":
      return (
        Array.isArray(value) && value.length === 3 && value.every((v) => typeof v === "number" && Number.isFinite(v))
      );
  }
}

function checkFields(record: Record<string, unknown>, fields: Record<string, Kind>, where: string): void {
  for (const [name, kind] of Object.entries(fields)) {
    if (!check(record[name], kind))
      throw new TorchProtocolError(
        `${where}: field "${name}" must be ${kind === "stats" ? "[l2, meanAbs, maxAbs]" : kind === "positiveNumbers" ? "a non-empty array of positive numbers" : `a finite ${kind}`}, got ${JSON.stringify(record[name])}`,
      );
  }
}

function checkRawFlow(record: Record<string, unknown>, where: string): void {
  checkFields(record, RAW_FLOW_FIELDS, where);
  for (const group of ["nodes", "edges", "params"] as const) {
    for (const [key, stats] of Object.entries(record[group] as Record<string, unknown>)) {
      if (!check(stats, "stats"))
        throw new TorchProtocolError(
          `${where}: ${group}["${key}"] must be [l2, meanAbs, maxAbs] of finite numbers, got ${JSON.stringify(stats)}`,
        );
    }
  }
}

/** Parses and checks one stdout line of the child. NaN travels as null (JSON has none); epoch metrics restore it. */
export function parseRunnerLine(line: string): RunnerMessage {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new TorchProtocolError(`not a JSON line: ${JSON.stringify(line.slice(0, 200))}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new TorchProtocolError(`not a JSON object: ${JSON.stringify(line.slice(0, 200))}`);
  const record = value as Record<string, unknown>;
  const type = record.type;
  if (typeof type !== "string" || !(type in FIELDS))
    throw new TorchProtocolError(`unknown message type ${JSON.stringify(type)}`);
  const where = `"${type}" message`;
  checkFields(record, FIELDS[type as RunnerMessage["type"]], where);
  if (type === "epoch") {
    for (const key of ["loss", "accuracy", "valLoss", "valAccuracy"]) if (record[key] === null) record[key] = NaN;
    if (record.gradients !== undefined) {
      if (!check(record.gradients, "object"))
        throw new TorchProtocolError(`${where}: field "gradients" must be an object`);
      checkRawFlow(record.gradients as Record<string, unknown>, `${where} gradients`);
    }
  }
  if (type === "gradflow") checkRawFlow(record, where);
  if (type === "done") {
    if (!REASONS.includes(record.reason as StopReason))
      throw new TorchProtocolError(
        `${where}: field "reason" must be one of ${REASONS.join(", ")}, got ${JSON.stringify(record.reason)}`,
      );
    if (record.message !== undefined && typeof record.message !== "string")
      throw new TorchProtocolError(`${where}: field "message" must be a string`);
    (record.history as unknown[]).forEach((entry, i) => {
      if (!check(entry, "object")) throw new TorchProtocolError(`${where}: history[${i}] must be an object`);
      const e = entry as Record<string, unknown>;
      checkFields(e, EPOCH_FIELDS, `${where} history[${i}]`);
      for (const key of ["loss", "accuracy", "valLoss", "valAccuracy"]) if (e[key] === null) e[key] = NaN;
    });
  }
  return record as unknown as RunnerMessage;
}

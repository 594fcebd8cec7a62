/**
 * What crosses the boundary between the torch backend (torchBackend.ts, through torchWorker.ts) and its long-lived
 * Python child (model-core/python/resnet_studio_torch.py), as JSON lines on the project's RPC (../rpc.ts): requests
 * are jobs (`TorchJob`, tagged by kind), each answered by one response whose body is the job's final message;
 * progress travels as pushes carrying a `RunnerMessage`; the child says "hello" once torch is imported. Every line is
 * checked field by field before anything uses it; a line that does not fit is a protocol error naming the field.
 * Plain data only (no tfjs, no node APIs).
 */
import type { RequestMessage } from "../rpc";
import type { EpochMetrics, StepMetrics, StopReason, TrainConfig, TrainStart } from "./trainTypes";

/** Bumped when a message changes shape; the child reports its version in "ready". */
export const TORCH_PROTOCOL_VERSION = 2;

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
  /** Spec hash and weights: the worker keeps the network built for it, and then needs no moduleFile nor init. */
  modelKey?: string;
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

/** The learning-rate range test (runtime/lrFinder.ts) on a fresh network; an "lrPoint" push per step. */
export interface LrRangeJob extends JobBase {
  kind: "lrRange";
  model: string;
  data: DatasetFiles;
  options: {
    minLr: number;
    maxLr: number;
    steps: number;
    batchSize: number;
    optimizer: "adam" | "sgd";
    momentum: number;
    weightDecay: number;
    seed: number;
  };
}

/** Logits of the images at `indices` with BN on running statistics, written as float32 [count, classes] to `logits`. */
export interface EvaluateJob extends JobBase {
  kind: "evaluate";
  data: DatasetFiles;
  /** uint32 dataset indices. */
  indices: string;
  count: number;
  logits: string;
}

export type TorchJob = TrainJob | GradflowJob | BenchJob | CalibrateJob | LrRangeJob | EvaluateJob;

/** The message that ends each kind of job: it is the body of the job's response. */
export interface TorchJobResults {
  train: Extract<RunnerMessage, { type: "done" }>;
  gradflow: Extract<RunnerMessage, { type: "gradflow" }>;
  bench: Extract<RunnerMessage, { type: "bench" }>;
  calibrate: Extract<RunnerMessage, { type: "calibration" }>;
  lrRange: Extract<RunnerMessage, { type: "lrRange" }>;
  evaluate: Extract<RunnerMessage, { type: "evaluation" }>;
}

const FINAL_TYPE: { [K in TorchJob["kind"]]: TorchJobResults[K]["type"] } = {
  train: "done",
  gradflow: "gradflow",
  bench: "bench",
  calibrate: "calibration",
  lrRange: "lrRange",
  evaluate: "evaluation",
};

/** What the child says once, when torch is imported: which Python and torch, and whether CUDA is there. */
export interface TorchHello {
  type: "hello";
  protocol: number;
  torch: string;
  cuda: boolean;
  python: string;
  executable: string;
  threads: number;
  pid: number;
}

/** A line from the child: its hello, a job's progress, or a job's response. */
export type WorkerLine =
  | TorchHello
  | { type: "push"; id: number; message: RunnerMessage }
  | { type: "response"; id: number; ok: true; kind: TorchJob["kind"]; body: TorchJobResults[TorchJob["kind"]] }
  | { type: "response"; id: number; ok: false; kind: string; error: string };

/** A line to the child: a job, or a cancel of one (it stops between steps and answers). */
export type WorkerCommand = RequestMessage<TorchJob> | { type: "cancel"; id: number };

/** Messages from the child, one per stdout line. */
export type RunnerMessage =
  | { type: "ready"; protocol: number; torch: string; device: string; threads?: number }
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
  | { type: "lrPoint"; index: number; lr: number; loss: number | null }
  | { type: "lrRange"; model: string }
  | { type: "evaluation"; rows: number; classes: number }
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
  lrPoint: { index: "integer", lr: "number", loss: "nullableNumber" },
  lrRange: { model: "string" },
  evaluation: { rows: "integer", classes: "integer" },
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

function parseObject(line: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new TorchProtocolError(`not a JSON line: ${JSON.stringify(line.slice(0, 200))}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new TorchProtocolError(`not a JSON object: ${JSON.stringify(line.slice(0, 200))}`);
  return value as Record<string, unknown>;
}

const HELLO_FIELDS: Record<string, Kind> = {
  protocol: "integer",
  torch: "string",
  python: "string",
  executable: "string",
  threads: "integer",
  pid: "integer",
};

/** Parses and checks one stdout line of the worker: hello, push or response, each body field by field. */
export function parseWorkerLine(line: string): WorkerLine {
  const record = parseObject(line);
  const type = record.type;
  if (type === "hello") {
    checkFields(record, HELLO_FIELDS, `"hello" message`);
    if (typeof record.cuda !== "boolean")
      throw new TorchProtocolError(`"hello" message: field "cuda" must be a boolean`);
    return record as unknown as TorchHello;
  }
  if (type !== "push" && type !== "response")
    throw new TorchProtocolError(`unknown message type ${JSON.stringify(type)}`);
  if (!check(record.id, "integer")) throw new TorchProtocolError(`"${type}" message: field "id" must be an integer`);
  if (type === "push") {
    if (!check(record.message, "object"))
      throw new TorchProtocolError(`"push" message: field "message" must be an object`);
    return { type, id: record.id as number, message: checkRunnerMessage(record.message as Record<string, unknown>) };
  }
  const kind = record.kind;
  if (typeof kind !== "string") throw new TorchProtocolError(`"response" message: field "kind" must be a string`);
  if (record.ok === false) {
    if (typeof record.error !== "string")
      throw new TorchProtocolError(`"response" message: field "error" must be a string`);
    return { type, id: record.id as number, ok: false, kind, error: record.error };
  }
  if (record.ok !== true) throw new TorchProtocolError(`"response" message: field "ok" must be a boolean`);
  if (!(kind in FINAL_TYPE))
    throw new TorchProtocolError(`"response" message: unknown job kind ${JSON.stringify(kind)}`);
  if (!check(record.body, "object")) throw new TorchProtocolError(`"response" message: field "body" must be an object`);
  const body = checkRunnerMessage(record.body as Record<string, unknown>);
  const expected = FINAL_TYPE[kind as TorchJob["kind"]];
  if (body.type !== expected)
    throw new TorchProtocolError(`"response" to ${kind}: its body must be a "${expected}" message, got "${body.type}"`);
  return {
    type,
    id: record.id as number,
    ok: true,
    kind: kind as TorchJob["kind"],
    body: body,
  };
}

/** Parses and checks one runner message as a JSON line (tests and tools; the worker's lines go through parseWorkerLine). */
export function parseRunnerLine(line: string): RunnerMessage {
  return checkRunnerMessage(parseObject(line));
}

/** Checks one runner message field by field. NaN travels as null (JSON has none); epoch metrics restore it. */
function checkRunnerMessage(record: Record<string, unknown>): RunnerMessage {
  const type = record.type;
  if (typeof type !== "string" || !(type in FIELDS))
    throw new TorchProtocolError(`unknown message type ${JSON.stringify(type)}`);
  const where = `"${type}" message`;
  checkFields(record, FIELDS[type as RunnerMessage["type"]], where);
  if (type === "epoch") {
    epochNulls(record);
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
      epochNulls(e);
    });
  }
  return record as unknown as RunnerMessage;
}

/** JSON's null is a non-finite metric (NaN); validation figures of a run that held nothing out are absent. */
function epochNulls(e: Record<string, unknown>): void {
  for (const key of ["loss", "accuracy", "valLoss", "valAccuracy"]) if (e[key] === null) e[key] = NaN;
  if (e.valSamples === 0) for (const key of ["valLoss", "valAccuracy"]) delete e[key];
}

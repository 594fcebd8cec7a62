/**
 * Before a pass allocates on TensorFlow.js: does it fit? The wasm backend's heap stops at 4 GiB, and a pass past
 * it aborts the process ("Aborted(). Build with -sASSERTIONS" or "memory access out of bounds"). So gradient flow
 * and training estimate first, with the training-memory planner (analysis/memory.ts), and either choose a batch
 * that fits or refuse with the estimate and a batch that would fit.
 *
 * tfjs keeps more than PyTorch: its tape holds every op's inputs and outputs, and gradient flow adds a tap after
 * every node. Measured wasm heap high-water marks (HEAPU8.length after one pass) against the planner's figures at
 * the same batch are in BENCHMARKS.md ("Memory planner"); the factors below cover every ratio measured.
 * Pure: no tfjs import, so the CLI and the extension's worker call it before touching a backend.
 */
import { totalmem } from "node:os";
import type { ModelGraph } from "../analysis/graph";
import { MAX_PLANNED_BATCH, evaluatePlan, planMemory } from "../analysis/memory";
import { formatBytes, formatShape } from "../presentation/format";
import type { OptimizerName } from "./trainTypes";

/** The wasm32 heap limit of @tensorflow/tfjs-backend-wasm (emscripten MAXIMUM_MEMORY = 4 GiB). */
export const WASM_HEAP_LIMIT_BYTES = 4 * 2 ** 30;
/** The heap tfjs-backend-wasm starts with, before any tensor (measured: 16 MiB). */
export const WASM_HEAP_BASE_BYTES = 16 * 2 ** 20;
/**
 * wasm heap bytes per byte the planner counts (BENCHMARKS.md, "Memory planner"). Weights cost 4–6× their size in
 * tfjs (gradients, transposed copies, kernel scratch); the rest of the heap measured 2.6–7.2× the activations PyTorch
 * saves (tfjs's tape keeps every op's inputs and outputs; gradient flow adds a tap per node). With these factors the
 * estimate was 1.10–1.98× every measured high-water mark.
 */
export const TFJS_ACTIVATION_FACTOR = 9;
export const TFJS_PARAMETER_FACTOR = 6;

export type PassKind = "gradflow" | "train";

export interface PassMemoryRequest {
  graph: ModelGraph;
  /** The batch one backend instance runs (a data-parallel replica's share when training with workers). */
  batch: number;
  kind: PassKind;
  /** Training keeps optimiser state; gradient flow keeps none. */
  optimizer?: OptimizerName;
  /** Bytes the backend may use; WASM_HEAP_LIMIT_BYTES on wasm. */
  limitBytes?: number;
}

export interface PassMemoryCheck {
  fits: boolean;
  batch: number;
  /** Estimated backend bytes for the pass at `batch`. */
  estimateBytes: number;
  limitBytes: number;
  /** The largest batch whose estimate fits (0: not even one sample). */
  largestBatch: number;
  /** The estimate at batch 1. */
  oneSampleBytes: number;
}

/**
 * Estimated tfjs bytes of one pass: heap base + weights, buffers and their gradients and copies + optimiser state +
 * saved activations, each times its measured factor. Affine in the batch.
 */
export function tfjsPassEstimate(
  graph: ModelGraph,
  kind: PassKind,
  optimizer: OptimizerName = "sgd",
): (batch: number) => number {
  const plan = planMemory(graph, { optimizer: kind === "train" ? optimizer : "none" });
  const one = evaluatePlan(plan, 1);
  const two = evaluatePlan(plan, 2);
  const perSample = two.savedActivationBytes - one.savedActivationBytes;
  const fixedSaved = one.savedActivationBytes - perSample;
  const fixed =
    WASM_HEAP_BASE_BYTES +
    TFJS_PARAMETER_FACTOR * (one.parameterBytes + one.bufferBytes) +
    one.optimizerBytes +
    TFJS_ACTIVATION_FACTOR * fixedSaved;
  return (batch) => fixed + TFJS_ACTIVATION_FACTOR * perSample * batch;
}

/** Estimated backend bytes of one pass at a batch, and the largest batch that fits the limit. */
export function checkPassMemory(request: PassMemoryRequest): PassMemoryCheck {
  const limitBytes = request.limitBytes ?? WASM_HEAP_LIMIT_BYTES;
  const estimate = tfjsPassEstimate(request.graph, request.kind, request.optimizer);
  const estimateBytes = estimate(request.batch);
  const oneSampleBytes = estimate(1);
  const slope = estimate(2) - oneSampleBytes;
  const largest =
    oneSampleBytes > limitBytes
      ? 0
      : slope <= 0
        ? MAX_PLANNED_BATCH
        : Math.min(MAX_PLANNED_BATCH, 1 + Math.floor((limitBytes - oneSampleBytes) / slope));
  return {
    fits: estimateBytes <= limitBytes,
    batch: request.batch,
    estimateBytes,
    limitBytes,
    largestBatch: largest,
    oneSampleBytes,
  };
}

/** Thrown instead of running a pass that would exhaust the backend's memory. */
export class PassMemoryError extends Error {
  constructor(
    message: string,
    readonly check: PassMemoryCheck,
  ) {
    super(message);
    this.name = "PassMemoryError";
  }
}

/**
 * The refusal: the estimate, the limit, and what to do (a batch that fits, or a smaller input or net). With data-parallel
 * replicas, `check` is one replica's share.
 */
export function passMemoryMessage(
  graph: ModelGraph,
  check: PassMemoryCheck,
  what: string,
  options: { batchFlag?: string; replicas?: number } = {},
): string {
  const replicas = options.replicas ?? 1;
  const shape = formatShape(graph.input);
  const at =
    replicas > 1 ? `a share of ${check.batch} samples on each of ${replicas} replicas` : `batch ${check.batch}`;
  const head =
    `${what} of ${graph.name} at ${at} on ${shape} inputs needs about ${formatBytes(check.estimateBytes)}, ` +
    `more than the ${formatBytes(check.limitBytes)} the backend can hold`;
  // A batch of `largestBatch` fits however many replicas share it.
  if (check.largestBatch > 0) return `${head}; use ${options.batchFlag ?? "--batch"} ${check.largestBatch} or smaller`;
  return `${head}; even one sample needs about ${formatBytes(check.oneSampleBytes)}: use a smaller input (--input) or a smaller network`;
}

/** What a backend can hold: the wasm heap limit, else the machine's memory (tfjs-node, the pure-JS cpu backend). */
export function backendLimitBytes(backend: string): number {
  return backend === "wasm" ? WASM_HEAP_LIMIT_BYTES : totalmem();
}

export interface PassBatchRequest {
  graph: ModelGraph;
  kind: PassKind;
  backend: string;
  /** The batch the user asked for; null to use `preferred` or the largest batch below it that fits. */
  requested: number | null;
  preferred: number;
  optimizer?: OptimizerName;
  /** How the message names the pass, e.g. "a gradient-flow pass". */
  what: string;
  batchFlag?: string;
}

/**
 * The batch to run: the requested one if it fits (else PassMemoryError with the estimate and a batch that fits),
 * or the preferred default, lowered to the largest batch that fits (with a note saying so).
 */
export function passBatch(request: PassBatchRequest): { batch: number; note: string | null; check: PassMemoryCheck } {
  const limitBytes = backendLimitBytes(request.backend);
  const batch = request.requested ?? request.preferred;
  const check = checkPassMemory({
    graph: request.graph,
    batch,
    kind: request.kind,
    optimizer: request.optimizer,
    limitBytes,
  });
  if (check.fits) return { batch, note: null, check };
  if (request.requested !== null || check.largestBatch === 0) {
    throw new PassMemoryError(
      passMemoryMessage(request.graph, check, request.what, { batchFlag: request.batchFlag }),
      check,
    );
  }
  const smaller = checkPassMemory({
    graph: request.graph,
    batch: check.largestBatch,
    kind: request.kind,
    optimizer: request.optimizer,
    limitBytes,
  });
  const note =
    `note: batch ${smaller.batch} instead of ${batch}: at ${batch}, ${request.what} of ${request.graph.name} would need about ` +
    `${formatBytes(check.estimateBytes)}, more than the ${formatBytes(limitBytes)} the ${request.backend} backend can hold`;
  return { batch: smaller.batch, note, check: smaller };
}

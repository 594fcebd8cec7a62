/**
 * Training-memory planner: what one training step costs at batch B, node by node, as PyTorch keeps it.
 *
 * Saved tensors (what autograd keeps for the backward pass), measured on torch 1.13 with
 * torch.autograd.graph.saved_tensors_hooks (test/reference/saved_memory.py):
 *   conv: its input · BN: its input + save_mean and save_invstd (2·C float32) · ReLU, sigmoid: the output ·
 *   max-pool: its input + int64 indices of the output · avg-pool, fc: the input · add, option-A shortcut: nothing ·
 *   dropout: a bool mask · gated adds: the gate, 1 − g and the operands they multiply.
 * A storage is counted once: torchvision's ReLUs and `out += identity` work in place, and the ReLU output a block
 * saves is the next conv's saved input. Each storage is attributed to the first node (in forward order) that saves it.
 * Parameters and buffers that autograd also saves (weights, running statistics) are counted as parameters.
 *
 * The peak walks the step as a timeline: the forward pass (outputs live until their last consumer, or until their
 * saver's backward when saved), then the backward pass in reverse node order (saved tensors freed after their
 * first saver's backward, activation gradients live from their last consumer's backward to their own, parameter
 * gradients allocated as reached, as with zero_grad(set_to_none=True)). Left out: allocator caching and
 * fragmentation, kernel workspaces (im2col, cuDNN), the loss, and the optimiser step's temporaries.
 *
 * Every size is an affine function of the batch (fixed + B · per-sample), so the timeline is built once and
 * evaluated at any batch; the largest batch that fits is a search over that. Pure functions of the graph IR.
 */
import type { ModelGraph } from "./graph";
import { shapeElements } from "./layers";
import type { OptimizerName } from "../runtime/trainTypes";

export type MemoryDtype = "float32" | "bfloat16" | "float16";

/** Bytes per element of activations, parameters and their gradients (pure half training, as `model.half()`). */
export const DTYPE_BYTES: Record<MemoryDtype, number> = { float32: 4, bfloat16: 2, float16: 2 };
const INDEX_BYTES = 8; // max-pool indices and BN's num_batches_tracked are int64
const STAT_BYTES = 4; // BN's save_mean / save_invstd stay float32
const MASK_BYTES = 1; // dropout's bool mask
const ADAM_STEP_BYTES = 4; // torch.optim.Adam keeps a float32 scalar `step` per parameter tensor (torch ≥ 1.12)

export interface MemoryOptions {
  batch: number;
  dtype?: MemoryDtype;
  /** Optimiser state: SGD with momentum keeps 1× the parameters, Adam 2× (plus a step count). Default sgd. */
  optimizer?: OptimizerName | "none";
  /** Stage ids ("layer1" …) run under torch.utils.checkpoint: only the stage input is saved, the stage is recomputed in backward. */
  checkpointStages?: readonly string[];
}

export interface NodeMemory {
  id: string;
  /** Bytes the backward pass keeps that this node is the first to save. */
  savedActivationBytes: number;
  /** Bytes of the node's output at this batch. */
  outputBytes: number;
}

export interface StageMemory {
  id: string;
  savedActivationBytes: number;
}

export interface TrainingMemory {
  batch: number;
  dtype: MemoryDtype;
  optimizer: OptimizerName | "none";
  checkpointStages: string[];
  savedActivationBytes: number;
  parameterBytes: number;
  /** BN running statistics and num_batches_tracked. */
  bufferBytes: number;
  gradientBytes: number;
  optimizerBytes: number;
  /** Highest live total during the step (forward or backward). */
  trainPeakBytes: number;
  /** Where that peak falls: "forward" or "backward", and the node running then. */
  trainPeakPhase: "forward" | "backward";
  trainPeakNode: string;
  /** Highest live total of a forward pass under no_grad (each output freed after its last consumer). */
  inferencePeakBytes: number;
  nodes: NodeMemory[];
  stages: StageMemory[];
}

/** A size that grows with the batch: fixed + batch · perSample bytes. */
interface Affine {
  fixed: number;
  perSample: number;
}

const at = (size: Affine, batch: number) => size.fixed + batch * size.perSample;

/** Live totals over a sequence of time steps, as difference arrays of affine sizes. */
class Timeline {
  private readonly fixed: Float64Array;
  private readonly perSample: Float64Array;
  constructor(readonly length: number) {
    this.fixed = new Float64Array(length + 1);
    this.perSample = new Float64Array(length + 1);
  }
  /** Adds `size` to every step in [from, to]. */
  add(from: number, to: number, size: Affine): void {
    if (to < from) return;
    this.fixed[from] += size.fixed;
    this.perSample[from] += size.perSample;
    this.fixed[to + 1] -= size.fixed;
    this.perSample[to + 1] -= size.perSample;
  }
  /** The running sums: the live total at each step. */
  steps(): Affine[] {
    const out: Affine[] = [];
    let f = 0;
    let p = 0;
    for (let i = 0; i < this.length; i++) {
      f += this.fixed[i];
      p += this.perSample[i];
      out.push({ fixed: f, perSample: p });
    }
    return out;
  }
}

/** The largest step at a batch, and its index. */
function peakOf(steps: readonly Affine[], batch: number): { bytes: number; index: number } {
  let bytes = 0;
  let index = 0;
  steps.forEach((s, i) => {
    const v = at(s, batch);
    if (v > bytes) {
      bytes = v;
      index = i;
    }
  });
  return { bytes, index };
}

/** One tensor autograd may keep: a node's output storage, or a node's own extra (BN statistics, indices, masks). */
interface SavedTensor {
  size: Affine;
  /** Node indices that save it (forward order). */
  savers: number[];
  /** Allocated by this node in the forward pass. */
  producer: number;
  /** Last forward use (for outputs not saved). */
  lastUse: number;
}

/** Everything batch-independent about a step: built once per graph and option set. */
export interface MemoryPlan {
  graph: ModelGraph;
  dtype: MemoryDtype;
  optimizer: OptimizerName | "none";
  checkpointStages: string[];
  /** Per node: saved bytes it is the first to keep (affine in batch). */
  savedByNode: Affine[];
  outputPerSample: number[];
  parameterBytes: number;
  bufferBytes: number;
  optimizerBytes: number;
  forward: Affine[];
  backward: Affine[];
  inference: Affine[];
}

function isLayerStage(id: string | null): boolean {
  return id !== null && /^layer\d+$/.test(id);
}

/** Everything about a step that does not depend on which stages are checkpointed: built once per graph and dtype. */
interface StepStructure {
  graph: ModelGraph;
  n: number;
  index: Map<string, number>;
  consumers: number[][];
  outputPerSample: number[];
  /** The node index of each node's output storage (in-place ops share their input's). */
  storage: number[];
  /** Output storages, by storage root. */
  outputs: Map<number, SavedTensor>;
  /** Per-node extras: BN statistics, max-pool indices, dropout masks, gate temporaries. */
  extras: SavedTensor[];
}

function stepStructure(graph: ModelGraph, bytes: number): StepStructure {
  const nodes = graph.nodes;
  const n = nodes.length;
  const index = new Map<string, number>();
  nodes.forEach((node, i) => index.set(node.id, i));
  const consumers: number[][] = nodes.map(() => []);
  nodes.forEach((node, i) => node.inputs.forEach((id) => consumers[index.get(id)!].push(i)));
  const outputPerSample = nodes.map((node) => shapeElements(node.outputShape) * bytes);

  // Storage of each node's output: torchvision's in-place ReLU after BN or add, and `out += identity`, reuse it.
  const storage: number[] = new Array<number>(n);
  nodes.forEach((node, i) => {
    storage[i] = i;
    const first = node.inputs[0] === undefined ? -1 : index.get(node.inputs[0])!;
    if (node.op.kind === "relu" && first >= 0 && consumers[first].length === 1) {
      const kind = nodes[first].op.kind;
      if (kind === "batchnorm" || kind === "add") storage[i] = storage[first]!;
    } else if (node.op.kind === "add" && node.op.mode === "plain") {
      const branch = index.get(node.inputs[1])!;
      if (consumers[branch].length === 1) storage[i] = storage[branch]!;
    }
  });

  // Saved tensors: output storages (keyed by storage root) and per-node extras.
  const outputs = new Map<number, SavedTensor>();
  const extras: SavedTensor[] = [];
  const storageTensor = (root: number): SavedTensor => {
    let t = outputs.get(root);
    if (!t) {
      t = { size: { fixed: 0, perSample: outputPerSample[root] }, savers: [], producer: root, lastUse: root };
      outputs.set(root, t);
    }
    return t;
  };
  nodes.forEach((_node, i) => storageTensor(storage[i]));
  nodes.forEach((node, i) => {
    for (const c of consumers[i]) {
      const t = storageTensor(storage[i]);
      t.lastUse = Math.max(t.lastUse, c);
    }
    // The input stays held by the caller for the whole step; the output feeds the loss.
    if (i === 0 || i === n - 1) storageTensor(storage[i]).lastUse = n - 1;
    const save = (j: number) => storageTensor(storage[j]).savers.push(i);
    const saveInput = (k: number) => {
      const id = node.inputs[k];
      if (id !== undefined) save(index.get(id)!);
    };
    const extra = (size: Affine) => extras.push({ size, savers: [i], producer: i, lastUse: i });
    const op = node.op;
    switch (op.kind) {
      case "conv":
      case "globalavgpool":
      case "fc":
        saveInput(0);
        break;
      case "batchnorm":
        saveInput(0);
        extra({ fixed: 2 * op.channels * STAT_BYTES, perSample: 0 });
        break;
      case "relu":
      case "sigmoid":
        save(i);
        break;
      case "maxpool":
        saveInput(0);
        extra({ fixed: 0, perSample: shapeElements(node.outputShape) * INDEX_BYTES });
        break;
      case "dropout":
        extra({ fixed: 0, perSample: shapeElements(node.outputShape) * MASK_BYTES });
        break;
      case "add":
        // g⊙F + (1−g)⊙s keeps g, F, 1−g and s; F + (1−g)⊙s keeps 1−g and s. Scalar scales keep nothing.
        if (op.mode !== "plain") {
          saveInput(0);
          extra({ fixed: 0, perSample: outputPerSample[i] });
          if (op.mode === "exclusiveGate") {
            saveInput(1);
            saveInput(2);
          }
        }
        break;
      default:
        break;
    }
  });
  return { graph, n, index, consumers, outputPerSample, storage, outputs, extras };
}

/** Which stages run under torch.utils.checkpoint: each one's [first, last] node index, and who saves its input. */
interface CheckpointSet {
  stages: string[];
  /** Node index → the [first, last] node range of its checkpointed stage, for nodes inside one. */
  rangeOf(node: number): [number, number] | null;
  /** Each checkpointed stage's first node. */
  entries: ReadonlySet<number>;
  /** The stage input's storage → the first nodes of the checkpointed stages that save it (save_for_backward). */
  entrySavers: ReadonlyMap<SavedTensor, number[]>;
}

function checkpointSet(structure: StepStructure, requested: readonly string[]): CheckpointSet {
  const wanted = new Set(requested);
  const layerStages = new Set<string>();
  const stageRange = new Map<string, [number, number]>();
  for (const stage of structure.graph.stages) {
    if (!isLayerStage(stage.id)) continue;
    layerStages.add(stage.id);
    if (wanted.has(stage.id)) addStageRange(structure, stageRange, stage);
  }
  return checkpointOf(
    structure,
    requested.filter((id) => layerStages.has(id)),
    stageRange,
  );
}

function addStageRange(
  structure: StepStructure,
  stageRange: Map<string, [number, number]>,
  stage: ModelGraph["stages"][number],
): void {
  if (stage.nodeIds.length === 0) return;
  const { index } = structure;
  stageRange.set(stage.id, [index.get(stage.nodeIds[0])!, index.get(stage.nodeIds[stage.nodeIds.length - 1])!]);
}

function checkpointOf(
  structure: StepStructure,
  stages: string[],
  stageRange: ReadonlyMap<string, [number, number]>,
): CheckpointSet {
  const { graph, index, storage, outputs } = structure;
  const entrySavers = new Map<SavedTensor, number[]>();
  for (const [first] of stageRange.values()) {
    const stageInput = index.get(graph.nodes[first].inputs[0]);
    if (stageInput === undefined) continue;
    const t = outputs.get(storage[stageInput])!;
    entrySavers.set(t, [...(entrySavers.get(t) ?? []), first]);
  }
  return {
    stages,
    rangeOf: (i) => {
      const stage = graph.nodes[i].stage;
      return stage === null ? null : (stageRange.get(stage) ?? null);
    },
    entries: new Set([...stageRange.values()].map(([first]) => first)),
    entrySavers,
  };
}

type Lane = "forward" | "backward" | "inference";
/** Adds `size` to the lane's steps [from, to]. */
type Emit = (lane: Lane, from: number, to: number, size: Affine) => void;

/**
 * Where one saved tensor lives on the step's timelines under a checkpoint set; returns the node its bytes are booked
 * on (the first forward saver), or -1 when nothing keeps it in the forward pass.
 */
function placeTensor(t: SavedTensor, isExtra: boolean, n: number, checkpoint: CheckpointSet, emit: Emit): number {
  const savers = isExtra ? t.savers : [...t.savers, ...(checkpoint.entrySavers.get(t) ?? [])];
  const producerRange = checkpoint.rangeOf(t.producer);
  const isStageEntry = (s: number) =>
    !isExtra && checkpoint.entries.has(s) && t.producer < s && producerRange !== checkpoint.rangeOf(s);
  // Savers inside a checkpointed stage keep nothing in the forward pass; they re-save during recomputation.
  const forwardSavers = savers.filter((s) => isStageEntry(s) || checkpoint.rangeOf(s) === null);
  const recomputeSavers = savers.filter((s) => !isStageEntry(s) && checkpoint.rangeOf(s) !== null);
  emit("inference", t.producer, t.lastUse, t.size);
  let attributed = -1;
  if (forwardSavers.length > 0) {
    attributed = Math.min(...forwardSavers);
    emit("forward", t.producer, n - 1, t.size);
    emit("backward", attributed, n - 1, t.size);
  } else {
    emit("forward", t.producer, t.lastUse, t.size);
  }
  // Recomputed tensors live from their stage's recomputation (its last node) down to their first saver.
  const byStage = new Map<number, number>();
  for (const s of recomputeSavers) {
    const [, last] = checkpoint.rangeOf(s)!;
    byStage.set(last, Math.min(byStage.get(last) ?? s, s));
  }
  const keptUntil = attributed >= 0 ? attributed : Infinity;
  for (const [last, first] of byStage) emit("backward", first, Math.min(last, keptUntil - 1), t.size);
  return attributed;
}

/** Builds the batch-independent plan of a training step. */
export function planMemory(graph: ModelGraph, options: Omit<MemoryOptions, "batch"> = {}): MemoryPlan {
  const dtype = options.dtype ?? "float32";
  const optimizer = options.optimizer ?? "sgd";
  const bytes = DTYPE_BYTES[dtype];
  const structure = stepStructure(graph, bytes);
  const { n, consumers, outputPerSample } = structure;
  const nodes = graph.nodes;
  const checkpoint = checkpointSet(structure, options.checkpointStages ?? []);

  const savedByNode: Affine[] = nodes.map(() => ({ fixed: 0, perSample: 0 }));
  const timelines = { forward: new Timeline(n), backward: new Timeline(n), inference: new Timeline(n) };
  const emit: Emit = (lane, from, to, size) => timelines[lane].add(from, to, size);
  const book = (t: SavedTensor, isExtra: boolean) => {
    const first = placeTensor(t, isExtra, n, checkpoint, emit);
    if (first < 0) return;
    savedByNode[first].fixed += t.size.fixed;
    savedByNode[first].perSample += t.size.perSample;
  };
  for (const t of structure.outputs.values()) book(t, false);
  for (const t of structure.extras) book(t, true);
  const { forward, backward, inference } = timelines;

  // Activation gradients: ∂L/∂out of node j lives from its last consumer's backward to its own. The input needs none.
  nodes.forEach((_node, j) => {
    if (j === 0) return;
    const lastConsumer = Math.max(j, ...consumers[j]);
    backward.add(j, lastConsumer, { fixed: 0, perSample: outputPerSample[j] });
  });

  // Parameters, buffers, gradients, optimiser state.
  let parameterBytes = 0;
  let bufferBytes = 0;
  let parameterTensors = 0;
  nodes.forEach((node, i) => {
    const paramBytes = node.params * bytes;
    parameterBytes += paramBytes;
    // Gradients are allocated when the node's backward runs and kept to the end of the step.
    backward.add(0, i, { fixed: paramBytes, perSample: 0 });
    if (node.op.kind === "conv") parameterTensors += node.op.bias ? 2 : 1;
    else if (node.op.kind === "fc") parameterTensors += 2;
    else if (node.op.kind === "batchnorm") {
      parameterTensors += 2;
      bufferBytes += 2 * node.op.channels * bytes + INDEX_BYTES;
    }
  });
  const optimizerBytes =
    optimizer === "sgd"
      ? parameterBytes
      : optimizer === "adam"
        ? 2 * parameterBytes + ADAM_STEP_BYTES * parameterTensors
        : 0;
  const persistent = parameterBytes + bufferBytes + optimizerBytes;
  forward.add(0, n - 1, { fixed: persistent, perSample: 0 });
  backward.add(0, n - 1, { fixed: persistent, perSample: 0 });
  inference.add(0, n - 1, { fixed: parameterBytes + bufferBytes, perSample: 0 });

  return {
    graph,
    dtype,
    optimizer,
    checkpointStages: checkpoint.stages,
    savedByNode,
    outputPerSample,
    parameterBytes,
    bufferBytes,
    optimizerBytes,
    forward: forward.steps(),
    backward: backward.steps(),
    inference: inference.steps(),
  };
}

function checkBatch(batch: number): void {
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`batch must be an integer ≥ 1, got ${batch}`);
}

/** The memory of one training step of a plan at `batch`. */
export function evaluatePlan(plan: MemoryPlan, batch: number): TrainingMemory {
  checkBatch(batch);
  const nodes = plan.graph.nodes;
  const nodeMemory: NodeMemory[] = nodes.map((node, i) => ({
    id: node.id,
    savedActivationBytes: at(plan.savedByNode[i], batch),
    outputBytes: batch * plan.outputPerSample[i],
  }));
  const stageOf = new Map<string, number>();
  nodeMemory.forEach((m, i) => {
    const stage = nodes[i].stage;
    if (stage !== null) stageOf.set(stage, (stageOf.get(stage) ?? 0) + m.savedActivationBytes);
  });
  const forward = peakOf(plan.forward, batch);
  const backward = peakOf(plan.backward, batch);
  const peakInBackward = backward.bytes > forward.bytes;
  return {
    batch,
    dtype: plan.dtype,
    optimizer: plan.optimizer,
    checkpointStages: [...plan.checkpointStages],
    savedActivationBytes: nodeMemory.reduce((s, m) => s + m.savedActivationBytes, 0),
    parameterBytes: plan.parameterBytes,
    bufferBytes: plan.bufferBytes,
    gradientBytes: plan.parameterBytes,
    optimizerBytes: plan.optimizerBytes,
    trainPeakBytes: Math.max(forward.bytes, backward.bytes),
    trainPeakPhase: peakInBackward ? "backward" : "forward",
    trainPeakNode: nodes[peakInBackward ? backward.index : forward.index].id,
    inferencePeakBytes: peakOf(plan.inference, batch).bytes,
    nodes: nodeMemory,
    stages: plan.graph.stages.map((s) => ({ id: s.id, savedActivationBytes: stageOf.get(s.id) ?? 0 })),
  };
}

/** Memory of one training step at `options.batch`. */
export function trainingMemory(graph: ModelGraph, options: MemoryOptions): TrainingMemory {
  checkBatch(options.batch);
  return evaluatePlan(planMemory(graph, options), options.batch);
}

/** Peak training bytes of a plan at a batch, without the per-node detail. */
export function planPeakBytes(plan: MemoryPlan, batch: number): number {
  return Math.max(peakOf(plan.forward, batch).bytes, peakOf(plan.backward, batch).bytes);
}

/** The batch limit searched by largestBatch: beyond it no batch is reported. */
export const MAX_PLANNED_BATCH = 2 ** 30;

/**
 * The largest batch whose training peak (times `safety`, for runtimes that keep more than PyTorch) fits in
 * `budgetBytes`; 0 when not even batch 1 fits.
 */
export function largestBatch(plan: MemoryPlan, budgetBytes: number, safety = 1): number {
  const fits = (b: number) => planPeakBytes(plan, b) * safety <= budgetBytes;
  if (!fits(1)) return 0;
  let lo = 1;
  let hi = 2;
  while (hi <= MAX_PLANNED_BATCH && fits(hi)) {
    lo = hi;
    hi *= 2;
  }
  if (hi > MAX_PLANNED_BATCH) return MAX_PLANNED_BATCH;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

export interface CheckpointOption {
  /** The stages run under torch.utils.checkpoint. */
  stages: string[];
  savedActivationBytes: number;
  trainPeakBytes: number;
  /** Peak bytes saved against no checkpointing (negative when recomputation costs more than it frees). */
  peakSavedBytes: number;
  /** Extra multiply-accumulates per step: the stages' forward pass runs again in backward. */
  recomputeMacs: number;
}

/**
 * Range add and maximum over a fixed number of steps (a segment tree whose nodes keep their pending add): one change
 * or one query costs O(log n), so a what-if can change a few tensors' lifetimes and read the new peak.
 */
class RangeAddMax {
  private readonly leaves: number;
  /** Leaves in the tree: `leaves` rounded up to a power of two. */
  private readonly size: number;
  /** Per tree node: the maximum of its range, its own pending add included. */
  private readonly max: Float64Array;
  private readonly pending: Float64Array;

  constructor(values: readonly number[]) {
    this.leaves = Math.max(1, values.length);
    let size = 1;
    while (size < this.leaves) size *= 2;
    this.max = new Float64Array(2 * size).fill(-Infinity);
    this.pending = new Float64Array(2 * size);
    values.forEach((v, i) => (this.max[size + i] = v));
    for (let node = size - 1; node >= 1; node--) this.max[node] = Math.max(this.max[2 * node], this.max[2 * node + 1]);
    this.size = size;
  }

  get top(): number {
    return this.max[1];
  }

  /** Adds `delta` to the steps [from, to]. */
  add(from: number, to: number, delta: number): void {
    if (to < from || delta === 0) return;
    this.addTo(1, 0, this.size - 1, from, Math.min(to, this.leaves - 1), delta);
  }

  private addTo(node: number, lo: number, hi: number, from: number, to: number, delta: number): void {
    if (to < lo || hi < from) return;
    if (from <= lo && hi <= to) {
      this.max[node] += delta;
      this.pending[node] += delta;
      return;
    }
    const mid = (lo + hi) >> 1;
    this.addTo(2 * node, lo, mid, from, to, delta);
    this.addTo(2 * node + 1, mid + 1, hi, from, to, delta);
    this.max[node] = this.pending[node] + Math.max(this.max[2 * node], this.max[2 * node + 1]);
  }
}

/**
 * What-if: checkpoint each residual stage alone, then all of them, against the plain step. Checkpointing one stage
 * changes only the tensors that stage saves and its input, so each single-stage option moves those tensors on the
 * plain step's timelines and reads the peak (O(log n) a change) instead of planning the whole step again: a net of
 * 1,900 one-block stages took 67 s with a plan per stage.
 */
export function checkpointWhatIf(
  graph: ModelGraph,
  options: MemoryOptions,
  /** The plain step's plan with the same dtype and optimiser, when the caller already has it. */
  plan?: MemoryPlan,
): { baseline: TrainingMemory; options: CheckpointOption[] } {
  checkBatch(options.batch);
  const batch = options.batch;
  const plainPlan =
    plan?.graph === graph &&
    plan.checkpointStages.length === 0 &&
    plan.dtype === (options.dtype ?? "float32") &&
    plan.optimizer === (options.optimizer ?? "sgd")
      ? plan
      : planMemory(graph, { ...options, checkpointStages: [] });
  const baseline = evaluatePlan(plainPlan, batch);
  const layerStages = graph.stages.filter((s) => isLayerStage(s.id));
  const recomputeMacs = (stages: ReadonlySet<string>) =>
    batch * layerStages.filter((s) => stages.has(s.id)).reduce((sum, s) => sum + s.macs, 0);

  const structure = stepStructure(graph, DTYPE_BYTES[plainPlan.dtype]);
  const { n, index, storage, outputs } = structure;
  const plain = checkpointOf(structure, [], new Map());
  // The tensors each stage's nodes save, and its input: all that checkpointing that stage alone can move.
  const touched = new Map<string, Map<SavedTensor, boolean>>();
  const touch = (stage: string | null, t: SavedTensor, isExtra: boolean) => {
    if (stage === null || !isLayerStage(stage)) return;
    let set = touched.get(stage);
    if (!set) touched.set(stage, (set = new Map<SavedTensor, boolean>()));
    set.set(t, isExtra);
  };
  for (const t of outputs.values()) for (const s of t.savers) touch(graph.nodes[s].stage, t, false);
  for (const t of structure.extras) for (const s of t.savers) touch(graph.nodes[s].stage, t, true);
  for (const stage of layerStages) {
    if (stage.nodeIds.length === 0) continue;
    const stageInput = index.get(graph.nodes[index.get(stage.nodeIds[0])!].inputs[0]);
    if (stageInput !== undefined) touch(stage.id, outputs.get(storage[stageInput])!, false);
  }

  const trees = {
    forward: new RangeAddMax(plainPlan.forward.map((s) => at(s, batch))),
    backward: new RangeAddMax(plainPlan.backward.map((s) => at(s, batch))),
  };
  const single = layerStages.map((stage): CheckpointOption => {
    const stageRange = new Map<string, [number, number]>();
    addStageRange(structure, stageRange, stage);
    const checkpoint = checkpointOf(structure, [stage.id], stageRange);
    const applied: ["forward" | "backward", number, number, number][] = [];
    const emitScaled =
      (sign: number): Emit =>
      (lane, from, to, size) => {
        if (lane === "inference" || to < from) return;
        const delta = sign * at(size, batch);
        trees[lane].add(from, to, delta);
        applied.push([lane, from, to, delta]);
      };
    let saved = baseline.savedActivationBytes;
    for (const [t, isExtra] of touched.get(stage.id) ?? []) {
      if (placeTensor(t, isExtra, n, plain, emitScaled(-1)) >= 0) saved -= at(t.size, batch);
      if (placeTensor(t, isExtra, n, checkpoint, emitScaled(1)) >= 0) saved += at(t.size, batch);
    }
    const peak = Math.max(0, trees.forward.top, trees.backward.top);
    for (const [lane, from, to, delta] of applied) trees[lane].add(from, to, -delta);
    return {
      stages: [stage.id],
      savedActivationBytes: saved,
      trainPeakBytes: peak,
      peakSavedBytes: baseline.trainPeakBytes - peak,
      recomputeMacs: recomputeMacs(new Set([stage.id])),
    };
  });
  const all = layerStages.map((s) => s.id);
  const together: CheckpointOption[] = [];
  if (layerStages.length > 1) {
    const m = trainingMemory(graph, { ...options, checkpointStages: all });
    together.push({
      stages: all,
      savedActivationBytes: m.savedActivationBytes,
      trainPeakBytes: m.trainPeakBytes,
      peakSavedBytes: baseline.trainPeakBytes - m.trainPeakBytes,
      recomputeMacs: recomputeMacs(new Set(all)),
    });
  }
  return { baseline, options: [...single, ...together] };
}

/** "24GB", "512MiB", "1.5 GB", "8g" → bytes. GB/MB/KB are decimal, GiB/MiB/KiB (and bare g/m/k) binary. */
export function parseByteSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$/i.exec(text);
  if (!match) throw new Error(`expected a size such as 24GB, 512MiB or 8g, got "${text}"`);
  const value = Number(match[1]);
  const unit = (match[2] ?? "b").toLowerCase();
  const power = { b: 0, k: 1, m: 2, g: 3, t: 4 }[unit[0] as "b" | "k" | "m" | "g" | "t"];
  const binary = unit.length === 1 || unit.includes("i");
  const bytes = value * (binary ? 1024 : 1000) ** power;
  return Math.floor(bytes);
}

/** Memory of a node group (a stage or block): the nodes' saved bytes summed. */
export function groupSavedBytes(
  memory: TrainingMemory,
  nodeIds: readonly string[],
  byId?: Map<string, NodeMemory>,
): number {
  const lookup = byId ?? new Map(memory.nodes.map((m) => [m.id, m]));
  let sum = 0;
  for (const id of nodeIds) sum += lookup.get(id)?.savedActivationBytes ?? 0;
  return sum;
}

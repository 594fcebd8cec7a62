/**
 * Builds a TensorFlow.js model straight from the graph IR: the nodes are walked in topological order and each
 * NodeOp is applied, so the runtime can never disagree with the diagram. Tensors are NHWC; every op matches
 * PyTorch's semantics (explicit symmetric padding, floor rounding, BN with biased batch variance for the
 * normalisation and unbiased variance for the running estimate).
 */
import * as tf from "@tensorflow/tfjs-core";
// tfjs-core alone registers no gradients; this side-effect module does (training and gradient flow need them).
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import type { GraphNode, ModelGraph, NodeOp } from "../analysis/graph";
import { groupedConv2d } from "./convKernels";
import { batchNormTrain, registerBatchNormKernels } from "./batchNorm";
import { defaultUniformBound, kaimingNormalStd, normalValues, tensorRng, uniformValues } from "./init";

// Fused BN kernels for wasm and cpu (kernel registration is by name, so before or after the backend starts).
registerBatchNormKernels();

export type ApplyMode = "train" | "eval";

export interface TfModel {
  readonly graph: ModelGraph;
  /**
   * Trainable parameters keyed by torchvision state_dict names: "conv1.weight", "layer1.0.bn1.weight" (γ),
   * "layer1.0.bn1.bias" (β), "fc.weight", "fc.bias". Layouts are tfjs's: conv weights [kh, kw, in/groups, out],
   * fc.weight [in, out] (`torchStateDict` / `loadTorchStateDict` convert to and from PyTorch's layouts).
   */
  readonly params: Map<string, tf.Variable>;
  /** BN running statistics: "layer1.0.bn1.running_mean", "...running_var" (non-trainable). */
  readonly buffers: Map<string, tf.Variable>;
  /**
   * Forward pass on NHWC float32 input [N,H,W,C] → logits [N,classes]. "train": BN uses batch statistics and
   * updates running stats (momentum 0.1, unbiased var as PyTorch), dropout active; "eval": running stats, no dropout.
   */
  apply(x: tf.Tensor4D, mode: ApplyMode): tf.Tensor2D;
  dispose(): void;
}

/** Which role a parameter plays in its node, as gradient-flow reports name them. */
export type ParamRole = "weight" | "bias" | "gamma" | "beta";

/** Hooks for instrumented passes (gradient flow): each may replace the tensor consumers see. */
export interface RunHooks {
  /** Sees every node's output. */
  node?: (id: string, output: tf.Tensor) => tf.Tensor;
  /** Sees every input edge of every node before the node reads it (for an Add: 0 = shortcut, 1 = residual branch, 2 = gate). */
  edge?: (node: GraphNode, index: number, input: tf.Tensor) => tf.Tensor;
}

export interface RunOptions {
  /** Update BN running statistics in train mode (default true; gradient flow measures without touching them). */
  updateStats?: boolean;
  hooks?: RunHooks;
}

interface ConvParams {
  weight: tf.Variable;
  bias: tf.Variable | null;
}
interface BatchNormParams {
  gamma: tf.Variable;
  beta: tf.Variable;
  runningMean: tf.Variable;
  runningVar: tf.Variable;
}
interface FcParams {
  weight: tf.Variable;
  bias: tf.Variable;
}

/** A model built by `buildModel`; `run` is the instrumented forward pass that gradient flow uses. */
export class GraphModel implements TfModel {
  readonly params = new Map<string, tf.Variable>();
  readonly buffers = new Map<string, tf.Variable>();
  /** Parameter name → the node that owns it and its role there. */
  readonly paramOwners = new Map<string, { nodeId: string; role: ParamRole }>();
  private readonly convs = new Map<string, ConvParams>();
  private readonly norms = new Map<string, BatchNormParams>();
  private readonly fcs = new Map<string, FcParams>();
  private disposed = false;

  constructor(
    readonly graph: ModelGraph,
    readonly seed: number,
  ) {
    if (graph.nodes.length === 0 || graph.nodes[0].op.kind !== "input") {
      throw new Error(`model "${graph.name}": the graph must start with its input node`);
    }
    const consumers = new Map<string, GraphNode[]>();
    for (const node of graph.nodes) {
      for (const input of node.inputs) {
        const list = consumers.get(input) ?? [];
        list.push(node);
        consumers.set(input, list);
      }
    }
    try {
      for (const node of graph.nodes) this.createParams(node, consumers.get(node.id) ?? []);
    } catch (err) {
      this.dispose();
      throw err;
    }
  }

  private addParam(nodeId: string, role: ParamRole, name: string, values: Float32Array, shape: number[]): tf.Variable {
    const initial = tf.tensor(values, shape, "float32");
    const v = tf.variable(initial, true, `${this.graph.name}/${name}/${uniqueSuffix()}`);
    initial.dispose();
    this.params.set(name, v);
    this.paramOwners.set(name, { nodeId, role });
    return v;
  }

  private addBuffer(name: string, values: Float32Array, shape: number[]): tf.Variable {
    const initial = tf.tensor(values, shape, "float32");
    const v = tf.variable(initial, false, `${this.graph.name}/${name}/${uniqueSuffix()}`);
    initial.dispose();
    this.buffers.set(name, v);
    return v;
  }

  private createParams(node: GraphNode, consumers: GraphNode[]): void {
    const op = node.op;
    const id = node.id;
    switch (op.kind) {
      case "conv": {
        if (op.inChannels % op.groups !== 0 || op.outChannels % op.groups !== 0) {
          throw new Error(
            `node ${id}: ${op.inChannels}→${op.outChannels} channels do not divide into ${op.groups} groups`,
          );
        }
        const inPerGroup = op.inChannels / op.groups;
        const count = op.kernel * op.kernel * inPerGroup * op.outChannels;
        const weight = this.addParam(
          id,
          "weight",
          `${id}.weight`,
          normalValues(count, kaimingNormalStd(op.outChannels, op.kernel), tensorRng(this.seed, `${id}.weight`)),
          [op.kernel, op.kernel, inPerGroup, op.outChannels],
        );
        let bias: tf.Variable | null = null;
        if (op.bias) {
          const gateBias = gateBiasFor(this.graph, consumers);
          const values =
            gateBias !== null
              ? new Float32Array(op.outChannels).fill(gateBias)
              : uniformValues(
                  op.outChannels,
                  defaultUniformBound(inPerGroup * op.kernel * op.kernel),
                  tensorRng(this.seed, `${id}.bias`),
                );
          bias = this.addParam(id, "bias", `${id}.bias`, values, [op.outChannels]);
        }
        this.convs.set(id, { weight, bias });
        return;
      }
      case "batchnorm": {
        const c = op.channels;
        this.norms.set(id, {
          gamma: this.addParam(id, "gamma", `${id}.weight`, new Float32Array(c).fill(op.zeroInit ? 0 : 1), [c]),
          beta: this.addParam(id, "beta", `${id}.bias`, new Float32Array(c), [c]),
          runningMean: this.addBuffer(`${id}.running_mean`, new Float32Array(c), [c]),
          runningVar: this.addBuffer(`${id}.running_var`, new Float32Array(c).fill(1), [c]),
        });
        return;
      }
      case "fc": {
        const bound = defaultUniformBound(op.inFeatures);
        this.fcs.set(id, {
          weight: this.addParam(
            id,
            "weight",
            `${id}.weight`,
            uniformValues(op.inFeatures * op.outFeatures, bound, tensorRng(this.seed, `${id}.weight`)),
            [op.inFeatures, op.outFeatures],
          ),
          bias: this.addParam(
            id,
            "bias",
            `${id}.bias`,
            uniformValues(op.outFeatures, bound, tensorRng(this.seed, `${id}.bias`)),
            [op.outFeatures],
          ),
        });
        return;
      }
      default:
        return;
    }
  }

  apply(x: tf.Tensor4D, mode: ApplyMode): tf.Tensor2D {
    return tf.tidy(() => this.run(x, mode));
  }

  /** The forward pass, with optional hooks; call inside tf.tidy (or a gradient function) to free intermediates. */
  run(x: tf.Tensor4D, mode: ApplyMode, options: RunOptions = {}): tf.Tensor2D {
    if (this.disposed) throw new Error(`model "${this.graph.name}" has been disposed`);
    this.checkInput(x);
    const updateStats = options.updateStats ?? true;
    const hooks = options.hooks ?? {};
    const values = new Map<string, tf.Tensor>();
    let last: tf.Tensor = x;
    for (const node of this.graph.nodes) {
      const inputs = node.inputs.map((i, index) => {
        const t = values.get(i);
        if (!t)
          throw new Error(`node ${node.id}: input "${i}" is not computed before it (graph not in topological order)`);
        return hooks.edge ? hooks.edge(node, index, t) : t;
      });
      let out = node.op.kind === "input" ? x : this.applyOp(node, inputs, mode, updateStats);
      if (hooks.node) out = hooks.node(node.id, out);
      values.set(node.id, out);
      last = out;
    }
    if (last.rank !== 2)
      throw new Error(`model "${this.graph.name}": the last node must produce [N, classes], got rank ${last.rank}`);
    return last as tf.Tensor2D;
  }

  private checkInput(x: tf.Tensor4D): void {
    const [c, h, w] = this.graph.input;
    if (x.rank !== 4 || x.shape[1] !== h || x.shape[2] !== w || x.shape[3] !== c) {
      throw new Error(
        `model "${this.graph.name}" expects NHWC input [N, ${h}, ${w}, ${c}], got [${x.shape.join(", ")}]`,
      );
    }
  }

  private applyOp(node: GraphNode, inputs: tf.Tensor[], mode: ApplyMode, updateStats: boolean): tf.Tensor {
    const op: NodeOp = node.op;
    const x = inputs[0];
    switch (op.kind) {
      case "input":
        return x;
      case "conv":
        return this.conv(node.id, op, x as tf.Tensor4D);
      case "batchnorm":
        return this.batchNorm(node.id, op, x as tf.Tensor4D, mode, updateStats);
      case "relu":
        return tf.relu(x);
      case "sigmoid":
        return tf.sigmoid(x);
      case "maxpool":
        // Numeric padding is explicit and symmetric, and pooling skips padded cells: PyTorch's -inf padding.
        return tf.maxPool(x as tf.Tensor4D, op.kernel, op.stride, op.padding);
      case "globalavgpool":
        return tf.mean(x, [1, 2]);
      case "fc": {
        const p = this.fcs.get(node.id)!;
        // PyTorch flattens NCHW; transpose first so an fc after an unpooled map sees the same feature order.
        const flat = x.rank === 2 ? x : tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [x.shape[0], -1]);
        return tf.add(tf.matMul(flat as tf.Tensor2D, p.weight as tf.Tensor2D), p.bias);
      }
      case "padshortcut":
        return padShortcut(x as tf.Tensor4D, op.stride, op.padBefore, op.padAfter);
      case "dropout":
        return mode === "train" && op.rate > 0 ? tf.dropout(x, op.rate) : x;
      case "add": {
        const [shortcut, residual, gate] = inputs;
        if (op.mode === "plain") {
          const s = op.shortcutScale === 1 ? shortcut : tf.mul(shortcut, op.shortcutScale);
          const f = op.residualScale === 1 ? residual : tf.mul(residual, op.residualScale);
          return tf.add(s, f);
        }
        if (!gate) throw new Error(`node ${node.id}: a gated add needs its gate as third input`);
        const carry = tf.mul(tf.sub(1, gate), shortcut);
        return op.mode === "exclusiveGate" ? tf.add(tf.mul(gate, residual), carry) : tf.add(residual, carry);
      }
    }
  }

  private conv(id: string, op: Extract<NodeOp, { kind: "conv" }>, x: tf.Tensor4D): tf.Tensor4D {
    const p = this.convs.get(id)!;
    const w = p.weight as tf.Tensor4D;
    const y = groupedConv2d(x, w, op.stride, op.padding, op.groups);
    return p.bias ? tf.add(y, p.bias) : y;
  }

  private batchNorm(
    id: string,
    op: Extract<NodeOp, { kind: "batchnorm" }>,
    x: tf.Tensor4D,
    mode: ApplyMode,
    updateStats: boolean,
  ): tf.Tensor {
    const p = this.norms.get(id)!;
    if (mode === "eval") {
      const scale = tf.mul(p.gamma, tf.rsqrt(tf.add(p.runningVar, op.eps)));
      return tf.add(tf.mul(x, scale), tf.sub(p.beta, tf.mul(p.runningMean, scale)));
    }
    const { output, mean, variance } = batchNormTrain(
      x,
      p.gamma as tf.Tensor as tf.Tensor1D,
      p.beta as tf.Tensor as tf.Tensor1D,
      op.eps,
    );
    if (updateStats) {
      const count = x.shape[0] * x.shape[1] * x.shape[2];
      const m = op.momentum;
      tf.tidy(() => {
        const unbiased = count > 1 ? tf.mul(variance, count / (count - 1)) : variance;
        p.runningMean.assign(tf.add(tf.mul(p.runningMean, 1 - m), tf.mul(mean, m)));
        p.runningVar.assign(tf.add(tf.mul(p.runningVar, 1 - m), tf.mul(unbiased, m)));
      });
    }
    mean.dispose();
    variance.dispose();
    return output;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.params.values()) v.dispose();
    for (const v of this.buffers.values()) v.dispose();
  }
}

/** Structural check (not instanceof: bundlers and loaders may hold two copies of this module). */
export function isGraphModel(model: TfModel): model is GraphModel {
  const candidate = model as Partial<GraphModel>;
  return typeof candidate.run === "function" && candidate.paramOwners instanceof Map;
}

let variableCounter = 0;
/** tfjs variable names are global; a counter keeps two models of the same graph apart. */
function uniqueSuffix(): string {
  variableCounter += 1;
  return String(variableCounter);
}

/** The gate conv (feeding the sigmoid of a gated shortcut) starts at the variant's bias, He et al. 2016 §3.1. */
function gateBiasFor(graph: ModelGraph, consumers: GraphNode[]): number | null {
  const variant = graph.spec.shortcutVariant;
  if (variant.kind !== "exclusiveGating" && variant.kind !== "shortcutOnlyGating") return null;
  return consumers.some((c) => c.op.kind === "sigmoid") ? variant.gateBias : null;
}

/**
 * Option A shortcut (He et al. 2015 §4.2, CIFAR): x[:, ::s, ::s, :] then zero channels before and after.
 * Written with pad + reshape + slice (all differentiable in tfjs, unlike stridedSlice): output size ceil(H/s) as in PyTorch.
 */
function padShortcut(x: tf.Tensor4D, stride: number, padBefore: number, padAfter: number): tf.Tensor4D {
  let y = x;
  if (stride > 1) {
    const [n, h, w, c] = x.shape;
    const ho = Math.ceil(h / stride);
    const wo = Math.ceil(w / stride);
    const padded =
      ho * stride === h && wo * stride === w
        ? x
        : tf.pad(x, [
            [0, 0],
            [0, ho * stride - h],
            [0, wo * stride - w],
            [0, 0],
          ]);
    const grid = tf.reshape(padded, [n, ho, stride, wo, stride, c]);
    y = tf.reshape(tf.slice(grid, [0, 0, 0, 0, 0, 0], [n, ho, 1, wo, 1, c]), [n, ho, wo, c]);
  }
  return padBefore > 0 || padAfter > 0
    ? tf.pad(y, [
        [0, 0],
        [0, 0],
        [0, 0],
        [padBefore, padAfter],
      ])
    : y;
}

/** Builds the tfjs model of a graph with seeded initialisation: the same seed gives identical weights on every backend. */
export function buildModel(graph: ModelGraph, options: { seed: number }): TfModel {
  return new GraphModel(graph, options.seed);
}

/** One tensor of a PyTorch state_dict as plain data (row-major, PyTorch layout). */
export interface StateTensor {
  shape: number[];
  data: number[] | Float32Array;
}

function isConvWeight(model: GraphModel, name: string): boolean {
  const owner = model.paramOwners.get(name);
  if (!owner || owner.role !== "weight") return false;
  return model.graph.nodes.find((n) => n.id === owner.nodeId)?.op.kind === "conv";
}

/** Copies PyTorch-layout tensors (conv [out, in/g, kh, kw], fc [out, in]) into the model's params and buffers. */
export function loadTorchStateDict(model: TfModel, state: Record<string, StateTensor>): void {
  if (!isGraphModel(model)) throw new Error("loadTorchStateDict needs a model made by buildModel");
  for (const [name, entry] of Object.entries(state)) {
    const target = model.params.get(name) ?? model.buffers.get(name);
    if (!target) {
      if (name.endsWith("num_batches_tracked")) continue;
      throw new Error(`state_dict entry "${name}" has no matching parameter in model "${model.graph.name}"`);
    }
    const value = tf.tidy(() => {
      const t = tf.tensor(entry.data, entry.shape, "float32");
      if (isConvWeight(model, name)) return tf.transpose(t, [2, 3, 1, 0]);
      if (name.endsWith(".weight") && t.rank === 2) return tf.transpose(t);
      return t;
    });
    if (value.shape.join(",") !== target.shape.join(",")) {
      value.dispose();
      throw new Error(
        `state_dict entry "${name}": shape [${entry.shape.join(", ")}] does not fit parameter [${target.shape.join(", ")}] (tfjs layout)`,
      );
    }
    target.assign(value);
    value.dispose();
  }
}

/** The model's params and buffers in PyTorch's layouts, keyed by state_dict name. */
export function torchStateDict(model: TfModel): Record<string, StateTensor> {
  if (!isGraphModel(model)) throw new Error("torchStateDict needs a model made by buildModel");
  const out: Record<string, StateTensor> = {};
  for (const [name, v] of [...model.params, ...model.buffers]) {
    const t = tf.tidy(() => {
      if (isConvWeight(model, name)) return tf.transpose(v, [3, 2, 0, 1]);
      if (name.endsWith(".weight") && v.rank === 2) return tf.transpose(v);
      return tf.clone(v);
    });
    out[name] = { shape: t.shape.slice(), data: t.dataSync() as Float32Array };
    t.dispose();
  }
  return out;
}

/**
 * Gradient flow: one forward/backward pass (cross-entropy) that reports, per node, statistics of dL/d(output),
 * of each parameter gradient, and at every residual Add how much gradient goes down the shortcut and the branch.
 *
 * Activation gradients come from "taps": an identity op with a custom gradient after every node (and on every
 * Add argument) that measures the incoming gradient during the single backward pass and passes it on unchanged.
 * So there is one backward pass, no per-node re-runs, and no extra activation-sized tensors kept around.
 */
import { printable } from "../diagnostics";
import * as tf from "@tensorflow/tfjs-core";
import type { GraphNode, ModelGraph } from "../analysis/graph";
import type { AddSplit, GradientFlowResult, NodeGradient, TensorStats } from "../analysis/gradflow";
import { isGraphModel, type ApplyMode, type TfModel } from "./model";
import { formatNorm } from "../presentation/format";
import type { SeededRng } from "../data/rng";

export interface GradientFlowBatch {
  /** NHWC input [N,H,W,C]. */
  x: tf.Tensor4D;
  /** Class indices, one per sample. */
  labels: tf.Tensor1D | number[];
}

/** A batch as plain data: NHWC float32 pixels, their shape [N, H, W, C] and one class index per sample. */
export interface PlainFlowBatch {
  x: Float32Array;
  shape: [number, number, number, number];
  labels: number[];
}

/** `batch` standard-normal inputs shaped as `graph`'s input and uniform random labels, all drawn from `rng` in that order. */
export function seededFlowBatch(graph: ModelGraph, batch: number, rng: SeededRng): PlainFlowBatch {
  const [c, h, w] = graph.input;
  const x = Float32Array.from({ length: batch * h * w * c }, () => rng.normal());
  const labels = Array.from({ length: batch }, () => rng.int(graph.output[0]));
  return { x, shape: [batch, h, w, c], labels };
}

export interface GradientFlowOptions {
  /** "train" (default): BN uses batch statistics, as during training; running statistics are left unchanged. */
  mode?: ApplyMode;
}

/** l2, mean|g|, max|g| as a [3] tensor. The norm is computed on g/max|g| so that huge or tiny gradients neither overflow nor underflow in float32. */
function statsTensor(g: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    const abs = tf.abs(g);
    const maxAbs = tf.max(abs);
    const scaled = tf.div(abs, tf.maximum(maxAbs, 1e-30));
    const l2 = tf.mul(tf.sqrt(tf.sum(tf.square(scaled))), maxAbs);
    return tf.stack([l2, tf.mean(abs), maxAbs]) as tf.Tensor1D;
  });
}

const ZERO_STATS: TensorStats = { l2: 0, meanAbs: 0, maxAbs: 0 };

/** The node feeding a block from outside, and the block node read from outside (its output). */
export function blockEnds(graph: ModelGraph, nodeIds: string[]): { input: string; output: string } | null {
  if (nodeIds.length === 0) return null;
  const inside = new Set(nodeIds);
  let input: string | null = null;
  for (const node of graph.nodes) {
    if (!inside.has(node.id)) continue;
    const outside = node.inputs.find((i) => !inside.has(i));
    if (outside) {
      input = outside;
      break;
    }
  }
  let output = nodeIds[nodeIds.length - 1];
  for (const node of graph.nodes) {
    if (inside.has(node.id)) continue;
    const fromBlock = node.inputs.find((i) => inside.has(i));
    if (fromBlock) {
      output = fromBlock;
      break;
    }
  }
  return input === null ? null : { input, output };
}

/**
 * For every residual Add, the edges leaving its fork node (where the shortcut lane starts: the block input, or
 * the shared pre-activation) into the block, sorted into the shortcut lane ("<add>#identity": shortcut-role
 * nodes and the Add's shortcut argument) and the residual branch ("<add>#branch"). Keys of byEdge: "<consumer>#<input index>".
 */
export function laneEdges(graph: ModelGraph): { byEdge: Map<string, string>; counts: Map<string, number> } {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const byEdge = new Map<string, string>();
  const counts = new Map<string, number>();
  for (const add of graph.nodes) {
    if (add.op.kind !== "add" || add.inputs.length === 0) continue;
    let fork = add.inputs[0];
    for (let n = byId.get(fork); n && n.role === "shortcut" && n.inputs.length > 0; n = byId.get(fork))
      fork = n.inputs[0];
    for (const consumer of graph.nodes) {
      if (consumer.block !== add.block) continue;
      consumer.inputs.forEach((input, index) => {
        if (input !== fork) return;
        const shortcutLane = consumer.role === "shortcut" || (consumer.id === add.id && index === 0);
        const lane = `${add.id}#${shortcutLane ? "identity" : "branch"}`;
        byEdge.set(`${consumer.id}#${index}`, lane);
        counts.set(lane, (counts.get(lane) ?? 0) + 1);
      });
    }
  }
  return { byEdge, counts };
}

/** Where the ratio is measured: the first block's input and the last block's output (input and logits when there are no blocks). */
export function ratioEnds(graph: ModelGraph): { first: string; last: string } {
  const blocks = graph.stages.flatMap((s) => s.blocks);
  const first = blocks.length > 0 ? blockEnds(graph, blocks[0].nodeIds) : null;
  const last = blocks.length > 0 ? blockEnds(graph, blocks[blocks.length - 1].nodeIds) : null;
  return {
    first: first?.input ?? graph.nodes[0].id,
    last: last?.output ?? graph.nodes[graph.nodes.length - 1].id,
  };
}

function labelsTensor(labels: tf.Tensor1D | number[], batch: number, classes: number): tf.Tensor1D {
  if (Array.isArray(labels)) {
    if (labels.length !== batch) throw new Error(`gradient flow: ${labels.length} labels for a batch of ${batch}`);
    const bad = labels.find((l) => !Number.isInteger(l) || l < 0 || l >= classes);
    if (bad !== undefined) throw new Error(`gradient flow: label ${bad} is not a class index in 0..${classes - 1}`);
    return tf.tensor1d(labels, "int32");
  }
  if (labels.shape[0] !== batch) throw new Error(`gradient flow: ${labels.shape[0]} labels for a batch of ${batch}`);
  return labels.dtype === "int32" ? labels : tf.cast<tf.Tensor1D>(labels, "int32");
}

/** Mean softmax cross-entropy over the batch, as PyTorch's nn.CrossEntropyLoss. */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const oneHot = tf.oneHot(labels, logits.shape[1]);
    return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), 1))) as tf.Scalar;
  });
}

/** One forward/backward pass reporting gradient statistics per node, per parameter and at every residual Add. */
export async function gradientFlow(
  model: TfModel,
  batch: GradientFlowBatch,
  options: GradientFlowOptions = {},
): Promise<GradientFlowResult> {
  if (!isGraphModel(model)) throw new Error("gradientFlow needs a model made by buildModel");
  const start = performance.now();
  const graph = model.graph;
  const mode = options.mode ?? "train";
  const n = batch.x.shape[0];
  const classes = graph.output[0];
  const labels = labelsTensor(batch.labels, n, classes);

  // Stats tensors recorded by the taps during the backward pass, kept past its tidy; read once at the end.
  const nodeStats = new Map<string, tf.Tensor1D>();
  const edgeStats = new Map<string, tf.Tensor1D>();
  const tap = (record: Map<string, tf.Tensor1D>, key: string) =>
    tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
      value: tf.clone(args[0] as tf.Tensor),
      gradFunc: (g: tf.Tensor) => {
        record.get(key)?.dispose();
        record.set(key, tf.keep(statsTensor(g)));
        return [tf.clone(g)];
      },
    }));
  // Lane taps sum the gradient of all edges of one lane (shortcut or branch) leaving a block's fork node, and
  // measure the sum once every edge has reported, so at most one partial sum per lane is alive at a time.
  const lanes = laneEdges(graph);
  const laneSums = new Map<string, { sum: tf.Tensor; seen: number }>();
  const laneTap = (key: string, expected: number) =>
    tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
      value: tf.clone(args[0] as tf.Tensor),
      gradFunc: (g: tf.Tensor) => {
        const partial = laneSums.get(key);
        const sum = partial ? tf.add(partial.sum, g) : tf.clone(g);
        partial?.sum.dispose();
        const seen = (partial?.seen ?? 0) + 1;
        if (seen >= expected) {
          laneSums.delete(key);
          edgeStats.get(key)?.dispose();
          edgeStats.set(key, tf.keep(statsTensor(sum)));
          sum.dispose();
        } else {
          laneSums.set(key, { sum: tf.keep(sum), seen });
        }
        return [tf.clone(g)];
      },
    }));
  const edgeHook = (node: GraphNode, index: number, input: tf.Tensor): tf.Tensor => {
    if (node.op.kind === "add" && index === 1) return tap(edgeStats, `${node.id}#residual`)(input);
    const lane = lanes.byEdge.get(`${node.id}#${index}`);
    return lane ? laneTap(lane, lanes.counts.get(lane)!)(input) : input;
  };

  const paramNames = [...model.params.keys()];
  const variables = paramNames.map((name) => model.params.get(name)!);
  let lossTensor: tf.Scalar | null = null;
  let paramStats: tf.Tensor | null = null;
  let readout: Float32Array | Int32Array | Uint8Array;
  const nodeKeys: string[] = [];
  const edgeKeys: string[] = [];
  try {
    const xs: tf.Tensor[] = [batch.x, ...variables];
    const { value, grads } = tf.engine().gradients(
      () =>
        crossEntropy(
          model.run(batch.x, mode, {
            updateStats: false,
            hooks: {
              node: (id, out) => tap(nodeStats, id)(out),
              edge: edgeHook,
            },
          }),
          labels,
        ),
      xs,
      undefined,
      true,
    );
    lossTensor = value;
    // Parameter statistics in one tensor; missing gradients (params not on the loss's path) read as zeros.
    paramStats = tf.tidy(() =>
      tf.stack(
        variables.map((v, i) => {
          const g = grads[i + 1];
          return g ? statsTensor(g) : tf.zeros([3]);
        }),
      ),
    );
    for (const g of grads) g?.dispose();

    for (const key of nodeStats.keys()) nodeKeys.push(key);
    for (const key of edgeStats.keys()) edgeKeys.push(key);
    const all = tf.tidy(() =>
      tf.concat([
        tf.reshape(lossTensor!, [1]),
        tf.reshape(paramStats!, [-1]),
        ...nodeKeys.map((k) => nodeStats.get(k)!),
        ...edgeKeys.map((k) => edgeStats.get(k)!),
      ]),
    );
    readout = await all.data();
    all.dispose();
  } finally {
    lossTensor?.dispose();
    paramStats?.dispose();
    for (const t of nodeStats.values()) t.dispose();
    for (const t of edgeStats.values()) t.dispose();
    for (const partial of laneSums.values()) partial.sum.dispose();
    if (labels !== batch.labels) labels.dispose();
  }

  const at = (offset: number): TensorStats => ({
    l2: readout[offset],
    meanAbs: readout[offset + 1],
    maxAbs: readout[offset + 2],
  });
  const loss = readout[0];
  let offset = 1;
  const paramsByNode = new Map<string, Record<string, TensorStats>>();
  for (const name of paramNames) {
    const owner = model.paramOwners.get(name)!;
    const record = paramsByNode.get(owner.nodeId) ?? {};
    record[owner.role] = at(offset);
    paramsByNode.set(owner.nodeId, record);
    offset += 3;
  }
  const activation = new Map<string, TensorStats>();
  for (const key of nodeKeys) {
    activation.set(key, at(offset));
    offset += 3;
  }
  const edges = new Map<string, TensorStats>();
  for (const key of edgeKeys) {
    edges.set(key, at(offset));
    offset += 3;
  }

  return assembleGradientFlow(graph, {
    loss,
    batch: n,
    backend: tf.getBackend(),
    millis: performance.now() - start,
    activation,
    edges,
    paramsByNode,
  });
}

/** Raw statistics of one pass, by node id, edge key ("<add>#identity|residual|branch") and owning node. */
export interface GradientFlowParts {
  loss: number;
  batch: number;
  backend: string;
  millis: number;
  activation: Map<string, TensorStats>;
  edges: Map<string, TensorStats>;
  paramsByNode: Map<string, Record<string, TensorStats>>;
}

/** Builds the result every backend reports (the torch backend measures the same parts in Python). */
export function assembleGradientFlow(graph: ModelGraph, parts: GradientFlowParts): GradientFlowResult {
  const { activation, edges, paramsByNode } = parts;
  const nodes: NodeGradient[] = graph.nodes.map((node) => ({
    id: node.id,
    activation: activation.get(node.id) ?? ZERO_STATS,
    params: paramsByNode.get(node.id) ?? {},
  }));
  const adds: AddSplit[] = graph.nodes
    .filter((node) => node.op.kind === "add")
    .map((node) => ({
      id: node.id,
      block: node.block ?? "",
      identity: (edges.get(`${node.id}#identity`) ?? ZERO_STATS).l2,
      residual: (edges.get(`${node.id}#residual`) ?? ZERO_STATS).l2,
      residualAtInput: (edges.get(`${node.id}#branch`) ?? ZERO_STATS).l2,
    }));
  const ends = ratioEnds(graph);
  const firstBlockInput = (activation.get(ends.first) ?? ZERO_STATS).l2;
  const lastBlockOutput = (activation.get(ends.last) ?? ZERO_STATS).l2;
  return {
    model: graph.name,
    backend: parts.backend,
    batch: parts.batch,
    loss: parts.loss,
    nodes,
    adds,
    ratio: { firstBlockInput, lastBlockOutput, value: lastBlockOutput > 0 ? firstBlockInput / lastBlockOutput : 0 },
    millis: parts.millis,
  };
}

/**
 * A per-stage, per-block table for terminals: ‖dL/d out‖ at each block's output, the identity/residual split
 * at its Add, and the first-input/last-output ratio. The numbers are measured, not the textbook expectation.
 */
export function gradientFlowTable(result: GradientFlowResult, graph: ModelGraph): string {
  const byId = new Map(result.nodes.map((n) => [n.id, n]));
  const addById = new Map(result.adds.map((a) => [a.id, a]));
  const branchAtInput = (add: AddSplit) => add.residualAtInput ?? add.residual;
  const norm = (id: string | null | undefined) => (id ? formatNorm(byId.get(id)?.activation.l2 ?? 0) : "-");
  const rows: string[][] = [
    ["stage", "block", "‖dL/d in‖", "‖dL/d out‖", "via shortcut", "via branch", "branch/shortcut"],
  ];
  for (const stage of graph.stages) {
    if (stage.blocks.length === 0) {
      const inside = new Set(stage.nodeIds);
      const firstNode = graph.nodes.find((n) => inside.has(n.id));
      const input = firstNode?.inputs.find((i) => !inside.has(i));
      rows.push([stage.id, "-", norm(input), norm(stage.nodeIds[stage.nodeIds.length - 1]), "", "", ""]);
      continue;
    }
    for (const block of stage.blocks) {
      const ends = blockEnds(graph, block.nodeIds);
      const add = block.addId ? addById.get(block.addId) : undefined;
      rows.push([
        stage.id,
        block.id,
        norm(ends?.input),
        norm(ends?.output),
        add ? formatNorm(add.identity) : "-",
        add ? formatNorm(branchAtInput(add)) : "-",
        add ? (add.identity > 0 ? formatNorm(branchAtInput(add) / add.identity) : "inf") : "-",
      ]);
    }
  }
  const widths = rows[0].map((_, c) => rows.reduce((widest, r) => Math.max(widest, r[c].length), 0));
  const lines = rows.map((r) =>
    r
      .map((cell, c) => (c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
      .join("  ")
      .trimEnd(),
  );
  lines.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  const r = result.ratio;
  const trend = r.value > 1 ? "grows toward the input" : r.value < 1 ? "shrinks toward the input" : "flat";
  return [
    `Gradient flow of ${printable(result.model)}: backend ${result.backend}, batch ${result.batch}, loss ${result.loss.toFixed(4)}, ${result.millis.toFixed(0)} ms`,
    "‖dL/dx‖ at each block's input and output; via shortcut / via branch: the two parts of the gradient where the shortcut forks off.",
    ...lines,
    `ratio ‖dL/dx‖ first block input / last block output = ${formatNorm(r.firstBlockInput)} / ${formatNorm(r.lastBlockOutput)} = ${formatNorm(r.value)} (${trend})`,
  ].join("\n");
}

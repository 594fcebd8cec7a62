/**
 * What the webview says about nodes: tooltip rows, gradient statistics of groups, the per-layer series of the
 * plain-vs-residual chart, and which groups Escape collapses. Pure, tested under node.
 */
import type { ModelGraph, GraphNode } from "resnet-studio/analysis/graph";
import type { GradientFlowResult, NodeGradient } from "resnet-studio/analysis/gradflow";
import type { LaidOutNode } from "resnet-studio/render/layout";
import { shortcutShare } from "resnet-studio/render/overlays";
import {
  formatCount,
  formatExactCount,
  formatNorm,
  formatPercent,
  formatShape,
} from "resnet-studio/presentation/format";

export interface Details {
  title: string;
  rows: [label: string, value: string][];
}

/** The graph node ids a box stands for: itself for a layer, all members for a block or stage. */
export function memberIds(graph: ModelGraph | null, id: string): string[] {
  if (!graph) return [id];
  for (const stage of graph.stages) {
    if (stage.id === id) return stage.nodeIds;
    for (const block of stage.blocks) if (block.id === id) return block.nodeIds;
  }
  return [id];
}

/** A group's gradient is the one leaving it: the gradient at its last member that has one. */
export function gradientOf(
  graph: ModelGraph | null,
  gradients: GradientFlowResult | null,
  id: string,
): NodeGradient | null {
  if (!gradients) return null;
  const byId = new Map(gradients.nodes.map((n) => [n.id, n]));
  const ids = memberIds(graph, id);
  for (let i = ids.length - 1; i >= 0; i--) {
    const g = byId.get(ids[i]);
    if (g) return g;
  }
  return null;
}

export function nodeDetails(
  node: LaidOutNode,
  graph: ModelGraph | null,
  gradients: GradientFlowResult | null,
): Details {
  const rows: [string, string][] = [];
  rows.push(["kind", node.group === "node" ? node.kind : `${node.group}${node.sublabel ? ` · ${node.sublabel}` : ""}`]);
  const graphNode: GraphNode | undefined = graph?.nodes.find((n) => n.id === node.id);
  if (graphNode) rows.push(["shape", `${formatShape(graphNode.inputShape)} → ${formatShape(graphNode.outputShape)}`]);
  else rows.push(["output", formatShape(node.outputShape)]);
  rows.push([
    "params",
    `${formatCount(node.params)}${node.params >= 1000 ? ` (${formatExactCount(node.params)})` : ""}`,
  ]);
  rows.push(["MACs", formatCount(node.macs)]);
  if (node.receptiveField)
    rows.push([
      "receptive field",
      `${node.receptiveField.size}×${node.receptiveField.size}, stride ${node.receptiveField.stride}`,
    ]);
  if (node.role === "shortcut") rows.push(["path", "shortcut"]);
  const g = gradientOf(graph, gradients, node.id);
  if (g) {
    rows.push(["‖dL/dout‖₂", formatNorm(g.activation.l2)]);
    rows.push(["mean |g| / max |g|", `${formatNorm(g.activation.meanAbs)} / ${formatNorm(g.activation.maxAbs)}`]);
    for (const [name, s] of Object.entries(g.params)) rows.push([`‖d${name}‖₂`, formatNorm(s.l2)]);
  }
  const split = gradients?.adds.find((a) => a.id === node.id || a.block === node.id);
  const share = split ? shortcutShare(split) : null;
  if (split && share !== null) {
    // Measured at the block's input, where the shortcut forks off (at the Add both inputs get the same gradient).
    rows.push([
      "‖∇‖ at input: shortcut / branch",
      `${formatNorm(split.identity)} / ${formatNorm(split.residualAtInput ?? 0)}`,
    ]);
    rows.push(["shortcut share at input", formatPercent(share)]);
  }
  return { title: `${node.label} — ${node.id}`, rows };
}

export interface LayerSeries {
  labels: string[];
  values: number[];
}

/**
 * ‖dL/d output‖₂ of each weight layer on the main path, input side first: the curve that shows whether the
 * gradient reaching early layers vanishes or explodes (He et al. 2015 Fig. 1 discusses plain nets' training).
 * Kinds come from the graph when the id is in it; the plain twin shares torchvision ids with the residual net.
 */
export function layerGradientSeries(gradients: GradientFlowResult, graph: ModelGraph | null): LayerSeries {
  const kinds = new Map(graph?.nodes.map((n) => [n.id, n]) ?? []);
  const labels: string[] = [],
    values: number[] = [];
  for (const g of gradients.nodes) {
    const n = kinds.get(g.id);
    const isWeightLayer = n
      ? (n.op.kind === "conv" || n.op.kind === "fc") && n.role === "main"
      : /(^|\.)(conv\d*|fc)$/.test(g.id);
    if (!isWeightLayer) continue;
    labels.push(g.id);
    values.push(g.activation.l2);
  }
  return { labels, values };
}

/** The expanded groups enclosing `id`, innermost first (what Escape collapses). */
export function enclosingGroups(graph: ModelGraph | null, id: string): string[] {
  if (!graph) return [];
  const node = graph.nodes.find((n) => n.id === id);
  if (node) return [node.block, node.stage].filter((x): x is string => x !== null);
  for (const stage of graph.stages) {
    if (stage.blocks.some((b) => b.id === id)) return [stage.id];
  }
  return [];
}

/**
 * Which tensor is a layer's "response" in He et al. 2015 Fig. 7: the output of each 3×3 conv after its BN and
 * before the nonlinearity or the addition. With pre-activation (He et al. 2016) the BN comes before the conv, so
 * the conv's own output is the response. Plain data: graph in, node list out.
 */
import type { ModelGraph } from "./graph";

export interface ResponseLayer {
  /** The 3×3 conv, e.g. `layer2.0.conv1`. */
  conv: string;
  /** The node whose output is measured: the BN right after the conv, else the conv. */
  node: string;
  /** 1-based position among the network's 3×3 layers, the x axis of Fig. 7. */
  index: number;
}

export function responseLayers(graph: ModelGraph): ResponseLayer[] {
  const bnAfter = new Map<string, string>();
  for (const node of graph.nodes)
    if (node.op.kind === "batchnorm" && node.inputs.length === 1) bnAfter.set(node.inputs[0], node.id);
  const out: ResponseLayer[] = [];
  for (const node of graph.nodes) {
    if (node.op.kind !== "conv" || node.op.kernel !== 3) continue;
    out.push({ conv: node.id, node: bnAfter.get(node.id) ?? node.id, index: out.length + 1 });
  }
  return out;
}

/** The std of each layer's response (population std over batch, channels and pixels), in network order. */
export interface LayerResponsePoint extends ResponseLayer {
  std: number;
}

/** One line of Fig. 7: a network's layer responses, labelled for the legend. */
export interface LayerResponseSeries {
  label: string;
  points: LayerResponsePoint[];
}

/** Fig. 7's lower panel: the same stds sorted in descending order, so nets of different depth compare by rank. */
export function sortedResponses(series: LayerResponseSeries): number[] {
  return series.points.map((p) => p.std).sort((a, b) => b - a);
}

/** Mean |γ| of one BN layer: how much of the normalised signal a trained layer lets through. */
export interface GammaPoint {
  node: string;
  meanAbsGamma: number;
}

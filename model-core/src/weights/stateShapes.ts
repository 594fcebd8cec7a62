/**
 * The state_dict a spec's network has, from its graph alone: every tensor's torchvision name and PyTorch shape
 * (conv OIHW, fc [out, in]), in module order. No tensor is allocated, so a spec can be checked against a weights
 * file's header before anything is read or built.
 */
import type { ModelGraph } from "../analysis/graph";
import { formatTensorShape } from "../presentation/format";

export interface TensorShape {
  name: string;
  shape: number[];
}

/** Parameters and buffers of each conv, BN and fc node, as torchvision's `state_dict()` lists them. */
export function expectedStateShapes(graph: ModelGraph): TensorShape[] {
  const out: TensorShape[] = [];
  for (const node of graph.nodes) {
    const op = node.op;
    if (op.kind === "conv") {
      out.push({
        name: `${node.id}.weight`,
        shape: [op.outChannels, op.inChannels / op.groups, op.kernel, op.kernel],
      });
      if (op.bias) out.push({ name: `${node.id}.bias`, shape: [op.outChannels] });
    } else if (op.kind === "batchnorm") {
      for (const field of ["weight", "bias", "running_mean", "running_var"])
        out.push({ name: `${node.id}.${field}`, shape: [op.channels] });
      out.push({ name: `${node.id}.num_batches_tracked`, shape: [] });
    } else if (op.kind === "fc") {
      out.push({ name: `${node.id}.weight`, shape: [op.outFeatures, op.inFeatures] });
      out.push({ name: `${node.id}.bias`, shape: [op.outFeatures] });
    }
  }
  return out;
}

/** The layer a tensor belongs to: `layer2.0.conv1.weight` → `layer2.0.conv1`. */
export const layerOf = (tensor: string): string => tensor.replace(/\.[^.]+$/, "");

export type StateDifference =
  | { kind: "shape"; name: string; expected: number[]; actual: number[] }
  | { kind: "missing"; name: string; expected: number[] }
  | { kind: "extra"; name: string; actual: number[] };

/**
 * Every way `actual` differs from `expected`, in `expected`'s order (then the extra tensors in `actual`'s order):
 * a tensor of another shape, one missing, one the network does not have.
 */
export function stateDifferences(expected: readonly TensorShape[], actual: readonly TensorShape[]): StateDifference[] {
  const byName = new Map(actual.map((t) => [t.name, t.shape]));
  const known = new Set(expected.map((t) => t.name));
  const out: StateDifference[] = [];
  for (const t of expected) {
    const shape = byName.get(t.name);
    if (shape === undefined) out.push({ kind: "missing", name: t.name, expected: t.shape });
    else if (shape.join(",") !== t.shape.join(","))
      out.push({ kind: "shape", name: t.name, expected: t.shape, actual: shape });
  }
  for (const t of actual) if (!known.has(t.name)) out.push({ kind: "extra", name: t.name, actual: t.shape });
  return out;
}

/** One line for a difference, `expectedLabel`/`actualLabel` naming the two sides ("the spec", "the file"). */
export function describeDifference(d: StateDifference, expectedLabel: string, actualLabel: string): string {
  if (d.kind === "shape")
    return `layer ${layerOf(d.name)}: ${d.name} is ${formatTensorShape(d.actual)} in ${actualLabel}, ${formatTensorShape(d.expected)} in ${expectedLabel}`;
  if (d.kind === "missing")
    return `layer ${layerOf(d.name)}: ${d.name} ${formatTensorShape(d.expected)} is in ${expectedLabel}, not in ${actualLabel}`;
  return `layer ${layerOf(d.name)}: ${d.name} ${formatTensorShape(d.actual)} is in ${actualLabel}, not in ${expectedLabel}`;
}

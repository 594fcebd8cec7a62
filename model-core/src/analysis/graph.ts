/**
 * The graph IR: what every consumer (CLI, diagnostics, hovers, diagram, tfjs runtime) reads.
 * Nodes keep their op and inputs, so the graph can draw itself and be built into a model.
 * Node ids follow torchvision's module paths: `conv1`, `layer2.0.conv1`, `layer2.0.downsample.0`, `fc`.
 * Parameter-free ops get their block's path plus a descriptive name: `layer1.0.relu1`, `layer1.0.add`.
 */
import type { SourceRange } from "../diagnostics";
import type { ResNetSpec } from "../spec/types";

/** [C,H,W] for feature maps, [features] after flattening. */
export type Shape = number[];

/** The operation a node performs, with its attributes. */
export type NodeOp =
  | { kind: "input" }
  | {
      kind: "conv";
      inChannels: number;
      outChannels: number;
      kernel: number;
      stride: number;
      padding: number;
      groups: number;
      bias: boolean;
    }
  | { kind: "batchnorm"; channels: number; eps: number; momentum: number; zeroInit: boolean }
  | { kind: "relu" }
  | { kind: "sigmoid" }
  | { kind: "maxpool"; kernel: number; stride: number; padding: number }
  | { kind: "globalavgpool" }
  | { kind: "fc"; inFeatures: number; outFeatures: number }
  /** Option A shortcut: take every `stride`-th pixel, then zero-pad channels (half before, half after as in the paper's CIFAR code). */
  | { kind: "padshortcut"; stride: number; padBefore: number; padAfter: number }
  | { kind: "dropout"; rate: number }
  /** Residual merge. inputs[0] is the shortcut (identity path), inputs[1] the residual branch, inputs[2] (gated only) the gate g.
   *  plain: shortcutScale·s + residualScale·F; exclusiveGate: g⊙F + (1−g)⊙s; shortcutGate: F + (1−g)⊙s. */
  | { kind: "add"; mode: "plain" | "exclusiveGate" | "shortcutGate"; shortcutScale: number; residualScale: number };

export type NodeKind = NodeOp["kind"];

/** Which lane a node sits in: the main path, or the shortcut beside a residual branch. */
export type NodeRole = "main" | "shortcut";

export interface ReceptiveField {
  /** Side of the input window that one output pixel sees. */
  size: number;
  /** Effective stride: input pixels between neighbouring output pixels (jump). */
  stride: number;
}

export interface GraphNode {
  id: string;
  op: NodeOp;
  /** Ids of the nodes feeding this one, in the op's argument order. */
  inputs: string[];
  /** Shape of inputs[0] (the input shape for `input`). */
  inputShape: Shape;
  outputShape: Shape;
  params: number;
  /** Multiply-accumulates of one forward pass on one sample (conv and fc; 0 for elementwise ops). */
  macs: number;
  receptiveField: ReceptiveField;
  role: NodeRole;
  /** "stem" | "layer1".. | "head"; null for the input. */
  stage: string | null;
  /** "layer1.0" etc.; null outside blocks. */
  block: string | null;
  /** The spec element that produced this node. */
  source: SourceRange | null;
}

export interface BlockGroup {
  id: string;
  /** "BasicBlock" | "Bottleneck" | "PlainBasicBlock" ... */
  label: string;
  nodeIds: string[];
  inputShape: Shape;
  outputShape: Shape;
  params: number;
  macs: number;
  /** The Add node's id, null for the plain twin. */
  addId: string | null;
  source: SourceRange | null;
}

export interface StageGroup {
  /** "stem" | "layer1" .. "layerN" | "head" */
  id: string;
  /** For layers, e.g. "BasicBlock ×2". */
  label: string;
  blocks: BlockGroup[];
  /** All node ids of the stage in topological order, including those inside blocks. */
  nodeIds: string[];
  inputShape: Shape;
  outputShape: Shape;
  params: number;
  macs: number;
  source: SourceRange | null;
}

export interface GraphTotals {
  params: number;
  macs: number;
  /** Sum of all output elements of all nodes, for one sample. */
  activations: number;
  /** Layers with weights (conv + fc) on the longest path, the number in a ResNet's name. */
  depth: number;
}

export interface ModelGraph {
  name: string;
  spec: ResNetSpec;
  input: Shape;
  output: Shape;
  /** In topological order; nodes[0] is the input. */
  nodes: GraphNode[];
  stages: StageGroup[];
  totals: GraphTotals;
}

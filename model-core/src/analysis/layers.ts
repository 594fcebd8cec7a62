/**
 * Shape, parameter, MAC and receptive-field arithmetic of one graph node, following PyTorch's rules.
 * Pure functions of the op and its input shapes, shared by the analysis and its size pre-check.
 */
import type { NodeOp, ReceptiveField, Shape } from "./graph";

/** PyTorch's conv/pool output size: floor((in + 2·padding − kernel) / stride) + 1. */
export function convOutputSize(size: number, kernel: number, stride: number, padding: number): number {
  return Math.floor((size + 2 * padding - kernel) / stride) + 1;
}

export function shapeElements(shape: Shape): number {
  return shape.reduce((n, d) => n * d, 1);
}

function spatial(shape: Shape): [number, number, number] {
  if (shape.length !== 3) throw new Error(`internal: expected a [C,H,W] feature map, got [${shape.join(",")}]`);
  return [shape[0], shape[1], shape[2]];
}

/** The output shape of `op` given the shapes of its inputs (inputs[0] is the main argument). */
export function outputShapeOf(op: NodeOp, inputs: Shape[]): Shape {
  const first = inputs[0] ?? [];
  switch (op.kind) {
    case "input":
      return first;
    case "conv": {
      const [, h, w] = spatial(first);
      return [
        op.outChannels,
        convOutputSize(h, op.kernel, op.stride, op.padding),
        convOutputSize(w, op.kernel, op.stride, op.padding),
      ];
    }
    case "maxpool": {
      const [c, h, w] = spatial(first);
      return [
        c,
        convOutputSize(h, op.kernel, op.stride, op.padding),
        convOutputSize(w, op.kernel, op.stride, op.padding),
      ];
    }
    case "padshortcut": {
      // x[:, ::s, ::s] keeps ceil(size / s) pixels, the same count a 1×1 conv with stride s keeps.
      const [c, h, w] = spatial(first);
      return [c + op.padBefore + op.padAfter, convOutputSize(h, 1, op.stride, 0), convOutputSize(w, 1, op.stride, 0)];
    }
    case "globalavgpool":
      return [spatial(first)[0]];
    case "fc":
      return [op.outFeatures];
    case "batchnorm":
    case "relu":
    case "sigmoid":
    case "dropout":
      return [...first];
    case "add": {
      for (const other of inputs.slice(1)) {
        if (other.join("x") !== first.join("x")) {
          throw new Error(`internal: add of mismatched shapes [${first.join(",")}] and [${other.join(",")}]`);
        }
      }
      return [...first];
    }
  }
}

/** Learned parameters: conv outC·(inC/groups)·k² (+outC bias); BN γ and β, 2·C; fc in·out + out. */
export function paramsOf(op: NodeOp): number {
  switch (op.kind) {
    case "conv":
      return op.outChannels * (op.inChannels / op.groups) * op.kernel * op.kernel + (op.bias ? op.outChannels : 0);
    case "batchnorm":
      return 2 * op.channels;
    case "fc":
      return op.inFeatures * op.outFeatures + op.outFeatures;
    default:
      return 0;
  }
}

/** Multiply-accumulates for one sample: conv outC·outH·outW·(inC/groups)·k²; fc in·out; 0 otherwise. */
export function macsOf(op: NodeOp, outputShape: Shape): number {
  switch (op.kind) {
    case "conv":
      return shapeElements(outputShape) * (op.inChannels / op.groups) * op.kernel * op.kernel;
    case "fc":
      return op.inFeatures * op.outFeatures;
    default:
      return 0;
  }
}

/**
 * Receptive field after `op`: r_out = r_in + (k − 1)·j_in, j_out = j_in·s (Araujo et al. 2019, "Computing
 * receptive fields"). A merge sees the union of what its inputs see, so it takes the maximum.
 */
export function receptiveFieldOf(op: NodeOp, inputs: ReceptiveField[], inputShape: Shape): ReceptiveField {
  const first = inputs[0] ?? { size: 1, stride: 1 };
  const grow = (kernel: number, stride: number): ReceptiveField => ({
    size: first.size + (kernel - 1) * first.stride,
    stride: first.stride * stride,
  });
  switch (op.kind) {
    case "input":
      return { size: 1, stride: 1 };
    case "conv":
    case "maxpool":
      return grow(op.kernel, op.stride);
    case "padshortcut":
      return grow(1, op.stride);
    case "globalavgpool": {
      // Averaging a whole H×W map is a window as large as the map.
      const side = Math.max(inputShape[1] ?? 1, inputShape[2] ?? 1);
      return grow(side, side);
    }
    case "add":
      return {
        size: Math.max(...inputs.map((r) => r.size)),
        stride: Math.max(...inputs.map((r) => r.stride)),
      };
    default:
      return { ...first };
  }
}

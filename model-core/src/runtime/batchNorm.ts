/**
 * Training-mode BatchNorm (per-channel batch statistics of an NHWC tensor) as one fused kernel per direction.
 * Composed of tfjs ops, one BN costs ~8 elementwise passes plus reductions forward and as many backward, each
 * allocating a full-size tensor; on wasm that was ~20% of a ResNet-20 step (BENCHMARKS.md). The fused kernels are
 * plain loops over the tensors' memory (wasm heap views, cpu backend arrays, no copies): 2 passes forward
 * (shifted sums, normalise) and 2 backward. Statistics accumulate in float64.
 *
 * Backward (the standard closed form, Ioffe & Szegedy 2015), per channel over the M = N·H·W positions:
 *   x̂ = (x − μ)·s, s = 1/√(σ² + ε);  dβ = Σ dy;  dγ = Σ dy·x̂;  dx = γ·s·(dy − dβ/M − x̂·dγ/M).
 * Backends without the kernels (tfjs-node) use the same math written with tfjs ops (`batchNormTrainComposed`).
 */
import * as tf from "@tensorflow/tfjs-core";
import type { KernelConfig, NamedTensorInfoMap, TensorInfo } from "@tensorflow/tfjs-core";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";

export const BATCH_NORM_TRAIN_KERNEL = "ResNetStudioBatchNormTrain";
export const BATCH_NORM_GRAD_KERNEL = "ResNetStudioBatchNormGrad";

export interface BatchNormTrainResult {
  output: tf.Tensor4D;
  /** Batch mean and biased batch variance per channel (the caller disposes them). */
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

/** Float32 storage of a backend, read and written in place. */
interface TensorMemory {
  alloc(shape: number[]): TensorInfo;
  view(t: TensorInfo): Float32Array;
}

function wasmMemory(backend: unknown): TensorMemory {
  const wasm = backend as BackendWasm;
  return {
    alloc: (shape) => wasm.makeOutput(shape, "float32"),
    view: (t) => wasm.typedArrayFromHeap(t) as Float32Array,
  };
}

interface CpuBackendLike {
  makeTensorInfo(shape: number[], dtype: "float32", values: Float32Array): TensorInfo;
  data: { get(dataId: object): { values?: unknown } };
}

function cpuMemory(backend: unknown): TensorMemory {
  const cpu = backend as CpuBackendLike;
  return {
    alloc: (shape) => cpu.makeTensorInfo(shape, "float32", new Float32Array(tf.util.sizeFromShape(shape))),
    view: (t) => {
      const values = cpu.data.get(t.dataId).values;
      if (!(values instanceof Float32Array)) throw new Error("BatchNorm kernel: expected float32 data");
      return values;
    },
  };
}

function named(inputs: NamedTensorInfoMap, name: string): TensorInfo {
  const t = inputs[name];
  if (!t) throw new Error(`BatchNorm kernel: missing input "${name}"`);
  if (t.dtype !== "float32") throw new Error(`BatchNorm kernel: input "${name}" must be float32, got ${t.dtype}`);
  return t;
}

/**
 * Views of a kernel's float32 inputs (`x` [..., C] among them) and of its outputs: one shaped like x, then
 * `statistics` per-channel vectors. All outputs are allocated before any view is taken: growing wasm memory
 * detaches earlier views.
 */
function kernelData(mem: TensorMemory, inputs: NamedTensorInfoMap, names: readonly string[], statistics: number) {
  const infos = names.map((name) => named(inputs, name));
  const x = named(inputs, "x");
  const channels = x.shape[x.shape.length - 1];
  const size = tf.util.sizeFromShape(x.shape);
  const outputs = [x.shape, ...Array.from({ length: statistics }, () => [channels])].map((shape) => mem.alloc(shape));
  return {
    channels,
    size,
    /** Positions per channel (N·H·W). */
    count: size / channels,
    outputs,
    outputViews: outputs.map((t) => mem.view(t)),
    inputViews: infos.map((t) => mem.view(t)),
  };
}

/** Forward: x [..., C], gamma [C], beta [C] → y, mean, biased variance, 1/√(var + eps). */
function forward(mem: TensorMemory, inputs: NamedTensorInfoMap, eps: number): TensorInfo[] {
  const { channels, size, count, outputs, outputViews, inputViews } = kernelData(
    mem,
    inputs,
    ["x", "gamma", "beta"],
    3,
  );
  const [y, meanOut, varOut, invOut] = outputViews;
  const [xs, g, b] = inputViews;
  const scale = new Float32Array(channels),
    shift = new Float32Array(channels);
  // Shifted sums: the shift (the channel's first value, xs[k]) avoids E[x²] − μ² cancellation.
  const { sums, products: squares } = channelSums(xs, xs, xs, xs, size, channels);
  for (let k = 0; k < channels; k++) {
    const centred = sums[k] / count;
    const variance = Math.max(0, squares[k] / count - centred * centred);
    const inv = 1 / Math.sqrt(variance + eps);
    const mean = xs[k] + centred;
    meanOut[k] = mean;
    varOut[k] = variance;
    invOut[k] = inv;
    scale[k] = g[k] * inv;
    shift[k] = b[k] - mean * g[k] * inv;
  }
  affine(xs, y, scale, shift, size, channels);
  return outputs;
}

/**
 * Per channel k, in float64: sums = Σ (p − pOrigin[k]) and products = Σ (p − pOrigin[k])·(q − qOrigin[k]) over
 * the positions of NHWC data. Loops run channel-outer inside L1-sized blocks of positions: the per-channel constants
 * and sums stay in registers (position-outer loops over per-channel arrays measured 2–3× slower in V8; a callback per
 * block and channel, 25–50% slower).
 */
function channelSums(
  p: Float32Array,
  pOrigin: Float32Array,
  q: Float32Array,
  qOrigin: Float32Array,
  size: number,
  channels: number,
): { sums: Float64Array; products: Float64Array } {
  const sums = new Float64Array(channels),
    products = new Float64Array(channels);
  for (const [start, end] of blockRanges(size, channels)) {
    for (let k = 0; k < channels; k++) {
      const po = pOrigin[k],
        qo = qOrigin[k];
      let s = 0,
        sq = 0;
      for (let i = start + k; i < end; i += channels) {
        const d = p[i] - po;
        s += d;
        sq += d * (q[i] - qo);
      }
      sums[k] += s;
      products[k] += sq;
    }
  }
  return { sums, products };
}

/** [start, end) index ranges of blocks of whole positions, about 16 KiB of float32 each. */
function blockRanges(size: number, channels: number): [number, number][] {
  const block = channels * Math.max(1, Math.floor(4096 / channels));
  const ranges: [number, number][] = [];
  for (let start = 0; start < size; start += block) ranges.push([start, Math.min(size, start + block)]);
  return ranges;
}

/** y = x·scale + shift per channel. */
function affine(
  xs: Float32Array,
  y: Float32Array,
  scale: Float32Array,
  shift: Float32Array,
  size: number,
  channels: number,
): void {
  for (const [start, end] of blockRanges(size, channels)) {
    for (let k = 0; k < channels; k++) {
      const sk = scale[k],
        tk = shift[k];
      for (let i = start + k; i < end; i += channels) y[i] = xs[i] * sk + tk;
    }
  }
}

/** Backward: dy, x, gamma, mean, invStd → dx, dgamma, dbeta. */
function backward(mem: TensorMemory, inputs: NamedTensorInfoMap): TensorInfo[] {
  const { channels, size, count, outputs, outputViews, inputViews } = kernelData(
    mem,
    inputs,
    ["dy", "x", "gamma", "mean", "invStd"],
    2,
  );
  const [dx, dGammaOut, dBetaOut] = outputViews;
  const [dy, xs, g, mean, inv] = inputViews;
  // dx = a·dy + b·x + c per channel, from dx = γs·(dy − dβ/M − x̂·dγ/M) with x̂ = (x − μ)s.
  const { sums: dBeta, products: dyCentred } = channelSums(dy, new Float32Array(channels), xs, mean, size, channels);
  const a = new Float32Array(channels),
    bx = new Float32Array(channels),
    c = new Float32Array(channels);
  for (let k = 0; k < channels; k++) {
    const dGamma = dyCentred[k] * inv[k];
    dGammaOut[k] = dGamma;
    dBetaOut[k] = dBeta[k];
    const gs = g[k] * inv[k];
    a[k] = gs;
    bx[k] = (-gs * inv[k] * dGamma) / count;
    c[k] = (-gs * dBeta[k]) / count + (gs * inv[k] * dGamma * mean[k]) / count;
  }
  for (const [start, end] of blockRanges(size, channels)) {
    for (let k = 0; k < channels; k++) {
      const ak = a[k],
        bk = bx[k],
        ck = c[k];
      for (let i = start + k; i < end; i += channels) dx[i] = ak * dy[i] + bk * xs[i] + ck;
    }
  }
  return outputs;
}

function kernels(backendName: "wasm" | "cpu", memoryOf: (backend: unknown) => TensorMemory): KernelConfig[] {
  return [
    {
      kernelName: BATCH_NORM_TRAIN_KERNEL,
      backendName,
      kernelFunc: ({ inputs, backend, attrs }) =>
        forward(memoryOf(backend), inputs, (attrs as unknown as { eps: number }).eps),
    },
    {
      kernelName: BATCH_NORM_GRAD_KERNEL,
      backendName,
      kernelFunc: ({ inputs, backend }) => backward(memoryOf(backend), inputs),
    },
  ];
}

/** Registers the fused kernels on wasm and cpu (idempotent); called by initBackend. */
export function registerBatchNormKernels(): void {
  for (const config of [...kernels("wasm", wasmMemory), ...kernels("cpu", cpuMemory)]) {
    if (tf.getKernel(config.kernelName, config.backendName)) continue;
    tf.registerKernel(config);
  }
}

/** True when the active backend has the fused kernels. */
export function hasFusedBatchNorm(): boolean {
  return tf.getKernel(BATCH_NORM_TRAIN_KERNEL, tf.getBackend()) !== undefined;
}

/**
 * BN with batch statistics over all axes but the last, with its own gradient. Uses the fused kernels when the
 * backend has them (wasm, cpu), else the composed version; `fused: false` forces the composed one.
 */
export function batchNormTrain(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  eps: number,
  options: { fused?: boolean } = {},
): BatchNormTrainResult {
  if (options.fused === false || !hasFusedBatchNorm()) return batchNormTrainComposed(x, gamma, beta, eps);
  let stats: tf.Tensor1D[] = [];
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, g, b] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const [y, mean, variance, invStd] = tf
      .engine()
      .runKernel<tf.Tensor[]>(BATCH_NORM_TRAIN_KERNEL, { x: input, gamma: g, beta: b }, { eps });
    // mean and variance outlive the custom op for the running-statistics update; the caller disposes them.
    stats = [tf.keep(mean as tf.Tensor1D), tf.keep(variance as tf.Tensor1D)];
    save([input, g, mean, invStd]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xSaved, gSaved, meanSaved, invSaved] = saved;
        return tf.engine().runKernel<tf.Tensor[]>(BATCH_NORM_GRAD_KERNEL, {
          dy,
          x: xSaved,
          gamma: gSaved,
          mean: meanSaved,
          invStd: invSaved,
        });
      },
    };
  });
  const output = op(x, gamma, beta) as tf.Tensor4D;
  return { output, mean: stats[0], variance: stats[1] };
}

/**
 * The same BN from tfjs ops (moments, then the closed-form backward); the path for backends without the fused
 * kernels and the reference the fused kernels are tested against.
 */
export function batchNormTrainComposed(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  eps: number,
): BatchNormTrainResult {
  let mean: tf.Tensor1D | null = null;
  let variance: tf.Tensor1D | null = null;
  const count = x.shape[0] * x.shape[1] * x.shape[2];
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, g, b] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const moments = tf.moments(input, [0, 1, 2]);
    mean = tf.keep(moments.mean as tf.Tensor1D);
    variance = tf.keep(moments.variance as tf.Tensor1D);
    const invStd = tf.rsqrt(tf.add(moments.variance, eps));
    const normalized = tf.mul(tf.sub(input, moments.mean), invStd);
    save([normalized, invStd, g]);
    return {
      value: tf.add(tf.mul(normalized, g), b),
      gradFunc: (grad: tf.Tensor, saved: tf.Tensor[]) => {
        const [xHat, inv, scale] = saved;
        const dBeta = tf.sum(grad, [0, 1, 2]);
        const dGamma = tf.sum(tf.mul(grad, xHat), [0, 1, 2]);
        const centered = tf.sub(tf.sub(grad, tf.div(dBeta, count)), tf.mul(xHat, tf.div(dGamma, count)));
        return [tf.mul(centered, tf.mul(scale, inv)), dGamma, dBeta];
      },
    };
  });
  const output = op(x, gamma, beta) as tf.Tensor4D;
  return { output, mean: mean!, variance: variance! };
}

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

/** Forward: x [..., C], gamma [C], beta [C] → y, mean, biased variance, 1/√(var + eps). */
function forward(mem: TensorMemory, inputs: NamedTensorInfoMap, eps: number): TensorInfo[] {
  const x = named(inputs, "x"),
    gamma = named(inputs, "gamma"),
    beta = named(inputs, "beta");
  const channels = x.shape[x.shape.length - 1];
  const size = tf.util.sizeFromShape(x.shape);
  const count = size / channels;
  // Allocate every output before taking views: growing wasm memory detaches earlier views.
  const outputs = [mem.alloc(x.shape), mem.alloc([channels]), mem.alloc([channels]), mem.alloc([channels])];
  const [y, meanOut, varOut, invOut] = outputs.map((t) => mem.view(t));
  const xs = mem.view(x),
    g = mem.view(gamma),
    b = mem.view(beta);
  const scale = new Float32Array(channels),
    shift = new Float32Array(channels);
  // One pass of shifted sums (shift = the channel's first value avoids E[x²] − μ² cancellation), in float64.
  // Loops run channel-outer inside L1-sized blocks of positions: the per-channel constants and sums stay in
  // registers (position-outer loops over per-channel arrays measured 2–3× slower in V8).
  const sums = new Float64Array(channels),
    squares = new Float64Array(channels);
  const block = blockSize(channels);
  for (let start = 0; start < size; start += block) {
    const end = Math.min(size, start + block);
    for (let k = 0; k < channels; k++) {
      const origin = xs[k];
      let s = 0,
        q = 0;
      for (let i = start + k; i < end; i += channels) {
        const d = xs[i] - origin;
        s += d;
        q += d * d;
      }
      sums[k] += s;
      squares[k] += q;
    }
  }
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

/** Positions × channels per block: about 16 KiB of float32, whole positions. */
function blockSize(channels: number): number {
  return channels * Math.max(1, Math.floor(4096 / channels));
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
  const block = blockSize(channels);
  for (let start = 0; start < size; start += block) {
    const end = Math.min(size, start + block);
    for (let k = 0; k < channels; k++) {
      const sk = scale[k],
        tk = shift[k];
      for (let i = start + k; i < end; i += channels) y[i] = xs[i] * sk + tk;
    }
  }
}

/** Backward: dy, x, gamma, mean, invStd → dx, dgamma, dbeta. */
function backward(mem: TensorMemory, inputs: NamedTensorInfoMap): TensorInfo[] {
  const dyInfo = named(inputs, "dy"),
    x = named(inputs, "x");
  const gammaInfo = named(inputs, "gamma"),
    meanInfo = named(inputs, "mean"),
    invInfo = named(inputs, "invStd");
  const channels = x.shape[x.shape.length - 1];
  const size = tf.util.sizeFromShape(x.shape);
  const count = size / channels;
  const outputs = [mem.alloc(x.shape), mem.alloc([channels]), mem.alloc([channels])];
  const [dx, dGammaOut, dBetaOut] = outputs.map((t) => mem.view(t));
  const dy = mem.view(dyInfo),
    xs = mem.view(x),
    g = mem.view(gammaInfo),
    mean = mem.view(meanInfo),
    inv = mem.view(invInfo);
  // dx = a·dy + b·x + c per channel, from dx = γs·(dy − dβ/M − x̂·dγ/M) with x̂ = (x − μ)s.
  const dBeta = new Float64Array(channels),
    dyCentred = new Float64Array(channels);
  const block = blockSize(channels);
  for (let start = 0; start < size; start += block) {
    const end = Math.min(size, start + block);
    for (let k = 0; k < channels; k++) {
      const mu = mean[k];
      let sb = 0,
        sx = 0;
      for (let i = start + k; i < end; i += channels) {
        const d = dy[i];
        sb += d;
        sx += d * (xs[i] - mu);
      }
      dBeta[k] += sb;
      dyCentred[k] += sx;
    }
  }
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
  for (let start = 0; start < size; start += block) {
    const end = Math.min(size, start + block);
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
      .runKernel(BATCH_NORM_TRAIN_KERNEL, { x: input, gamma: g, beta: b }, {
        eps,
      } as unknown as tf.NamedAttrMap) as tf.Tensor[];
    // mean and variance outlive the custom op for the running-statistics update; the caller disposes them.
    stats = [tf.keep(mean as tf.Tensor1D), tf.keep(variance as tf.Tensor1D)];
    save([input, g, mean, invStd]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xSaved, gSaved, meanSaved, invSaved] = saved;
        return tf.engine().runKernel(BATCH_NORM_GRAD_KERNEL, {
          dy,
          x: xSaved,
          gamma: gSaved,
          mean: meanSaved,
          invStd: invSaved,
        }) as tf.Tensor[];
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

/**
 * Convolution gradients for the tfjs wasm backend, built from wasm's own fast kernels (XNNPACK Conv2D,
 * DepthwiseConv2dNative, Transpose, PadV2) plus plain loops over wasm memory. tfjs-backend-wasm 4.22 ships no
 * Conv2DBackpropFilter and no depthwise backprop kernels (training a conv net fails with "Kernel
 * 'Conv2DBackpropFilter' not registered for backend 'wasm'"), and its Conv2DBackpropInput took 7–24× the time of
 * ours on ResNet-20 shapes (BENCHMARKS.md). We (re)register all four.
 *
 * These kernels reach into the wasm backend's private internals (`dataIdMap`, `wasm.tfjs.disposeData`), which can
 * change in any release: model-core/package.json pins tfjs-core, -backend-wasm and -backend-cpu to exactly 4.22.0.
 *
 * Math (1-D per spatial axis; forward y[o] = Σ_t x[o·s + t − p]·w[t], s = stride, p = leading pad, k = kernel):
 *  - dx ("sub-pixel" transposed conv): for input position i, let u = i + p = s·q + r (r = u mod s). Only taps
 *    t ≡ r (mod s) reach it: t = r + s·m, from output o = q − m. So each phase r is a stride-1 correlation of dy with
 *    the sub-filter w_r[m] = w[r + s·m] (m < M = ⌈k/s⌉, zero beyond k), flipped. All s² phases are computed by ONE
 *    stride-1 conv whose output channels are (r_h, r_w, c_in), then interleaved. Multiplies: s²·⌈k/s⌉² taps per
 *    output pixel of the forward instead of k² (16 vs 9 for k = 3, s = 2; equal for s = 1), where zero-stuffing dy
 *    would cost s²·k² (36).
 *  - dW: dW[t, ci, co] = Σ_{n,o} x[n, o·s + t − p, ci]·dy[n, o, co]. Stride 1: one MatMul per tap t of x in
 *    channel-major layout, shifted by t (a view into one padded buffer, no im2col copy), with dy framed on the padded
 *    grid (conv2dBackpropFilterByTaps). Other strides: a stride-1 conv with dilation s of x viewed as
 *    [C_in, H, W, N] (channels become the batch, the batch becomes channels) by the filter dy viewed as
 *    [H_o, W_o, N, C_out]; its [C_in, k, k, C_out] output is transposed back to [k, k, C_in, C_out].
 *  - depthwise: dx by zero-stuffing dy and a depthwise conv with the flipped filter (cheap: one MAC per tap and
 *    channel), dW as one strided window × dy product summed per tap.
 */
import * as tf from "@tensorflow/tfjs-core";
// tfjs-core's main entry registers no gradients; training (and groupedConv2d's autodiff) needs them all.
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import type { NamedAttrMap, NamedTensorInfoMap, TensorInfo, KernelConfig } from "@tensorflow/tfjs-core";

type Pad = "valid" | "same" | number | [[number, number], [number, number], [number, number], [number, number]];
type RoundingMode = "floor" | "round" | "ceil" | undefined;
type Shape4 = [number, number, number, number];

/** Runs wasm kernels directly (no engine bookkeeping) and frees every intermediate at the end. */
class KernelScope {
  private readonly temps: TensorInfo[] = [];
  private readonly views: TensorInfo[] = [];
  constructor(readonly backend: BackendWasm) {}

  /** Pack and Concat take their inputs as an array, every other kernel as a named map. */
  run(kernelName: string, inputs: NamedTensorInfoMap | TensorInfo[], attrs: object = {}): TensorInfo {
    const config = tf.getKernel(kernelName, "wasm");
    if (!config) throw new Error(`wasm kernel ${kernelName} is not registered`);
    const out = config.kernelFunc({
      inputs: inputs as NamedTensorInfoMap,
      backend: this.backend,
      attrs: attrs as NamedAttrMap,
    }) as TensorInfo;
    this.temps.push(out);
    return out;
  }

  /** A new float32 tensor in wasm memory filled with `values`. */
  make(shape: number[], values: Float32Array): TensorInfo {
    const out = this.backend.makeOutput(shape, "float32");
    (this.backend.typedArrayFromHeap(out) as Float32Array).set(values);
    this.temps.push(out);
    return out;
  }

  /**
   * A float32 tensor over memory another tensor owns (no copy), from a byte address inside it; released with the
   * scope without freeing that memory. The caller keeps the owner alive and in bounds.
   */
  view(shape: number[], byteOffset: number): TensorInfo {
    const t = this.backend.makeOutput(shape, "float32", byteOffset);
    this.views.push(t);
    return t;
  }

  /** Frees `t` with the scope (for outputs made directly with backend.makeOutput). */
  track(t: TensorInfo): TensorInfo {
    this.temps.push(t);
    return t;
  }

  read(t: TensorInfo): Float32Array {
    return this.backend.typedArrayFromHeap(t) as Float32Array;
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run("Reshape", { x }, { shape });
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run("Transpose", { x }, { perm });
  }

  slice(x: TensorInfo, begin: number[], size: number[]): TensorInfo {
    return this.run("Slice", { x }, { begin, size });
  }

  /** Pads (positive) or crops (negative) the two spatial axes of an NHWC tensor. */
  padOrCrop(x: TensorInfo, top: number, bottom: number, left: number, right: number): TensorInfo {
    let t = x;
    const [n, h, w, c] = t.shape;
    const cropTop = Math.max(0, -top),
      cropBottom = Math.max(0, -bottom);
    const cropLeft = Math.max(0, -left),
      cropRight = Math.max(0, -right);
    if (cropTop || cropBottom || cropLeft || cropRight) {
      t = this.slice(t, [0, cropTop, cropLeft, 0], [n, h - cropTop - cropBottom, w - cropLeft - cropRight, c]);
    }
    const pt = Math.max(0, top),
      pb = Math.max(0, bottom),
      pl = Math.max(0, left),
      pr = Math.max(0, right);
    if (pt || pb || pl || pr) {
      t = this.run(
        "PadV2",
        { x: t },
        {
          paddings: [
            [0, 0],
            [pt, pb],
            [pl, pr],
            [0, 0],
          ],
          constantValue: 0,
        },
      );
    }
    return t;
  }

  /** Hands `t` to the caller: it will not be freed by dispose(). */
  keep(t: TensorInfo): TensorInfo {
    const i = this.temps.lastIndexOf(t);
    if (i >= 0) this.temps.splice(i, 1);
    return t;
  }

  dispose(): void {
    // Views first: unregister them without free() (their memory belongs to a tensor released below or kept).
    for (const t of this.views) {
      const data = this.backend.dataIdMap.get(t.dataId);
      if (!data) continue;
      this.backend.wasm.tfjs.disposeData(data.id);
      this.backend.dataIdMap.delete(t.dataId);
    }
    this.views.length = 0;
    for (const t of this.temps) this.backend.disposeData(t.dataId);
    this.temps.length = 0;
  }
}

function withScope(backend: unknown, body: (scope: KernelScope) => TensorInfo): TensorInfo {
  const scope = new KernelScope(backend as BackendWasm);
  try {
    return scope.keep(body(scope));
  } finally {
    scope.dispose();
  }
}

/** The forward conv's attributes, which every gradient below inverts. */
interface ForwardConv {
  strides: [number, number] | number;
  pad: Pad;
  rounding: RoundingMode;
}

/** What the four gradients share: two input tensors, the shape of the result and the forward conv. */
type ConvGradient = (
  scope: KernelScope,
  first: TensorInfo,
  second: TensorInfo,
  resultShape: Shape4,
  forward: ForwardConv,
) => TensorInfo;

function convInfo(xShape: Shape4, filterShape: Shape4, forward: ForwardConv, depthwise: boolean) {
  const { strides, pad, rounding } = forward;
  const info = tf.backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    strides,
    1,
    pad,
    rounding,
    depthwise,
    "channelsLast",
  );
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1)
    throw new Error("conv gradients with dilation > 1 are not supported");
  return info;
}

function assertNhwc(dataFormat: string | undefined, kernelName: string): void {
  if (dataFormat !== undefined && dataFormat !== "NHWC")
    throw new Error(`${kernelName} on wasm supports NHWC only, got ${dataFormat}`);
}

/**
 * dx of a dense conv. filter [kh, kw, ci, co], dy [n, ho, wo, co] → dx inputShape [n, h, w, ci].
 * See the file comment for the sub-pixel decomposition.
 */
const conv2dBackpropInputWasm: ConvGradient = (scope, dy, filter, inputShape, forward) => {
  const [kh, kw, ci, co] = filter.shape as Shape4;
  const info = convInfo(inputShape, filter.shape as Shape4, forward, false);
  const { strideHeight: sh, strideWidth: sw, outHeight: ho, outWidth: wo } = info;
  const [n, h, w] = inputShape;
  const pt = info.padInfo.top,
    pl = info.padInfo.left;
  const mh = Math.ceil(kh / sh),
    mw = Math.ceil(kw / sw);
  // Phase rows q cover u = s·q + r. Whole rows below ⌊p/s⌋ only feed the padding, so the grid starts there; the
  // remaining p mod s leading positions are dropped when the phases are interleaved.
  const q0h = Math.floor(pt / sh),
    q0w = Math.floor(pl / sw);
  const qh = Math.ceil((h + pt) / sh) - q0h,
    qw = Math.ceil((w + pl) / sw) - q0w;

  // Sub-pixel filter F[jh, jw, co, (rh·sw + rw)·ci + c] = w[rh + sh·(mh−1−jh), rw + sw·(mw−1−jw), c, co] (0 past the kernel).
  const src = scope.read(filter);
  const outC = sh * sw * ci;
  const sub = new Float32Array(mh * mw * co * outC);
  for (let jh = 0; jh < mh; jh++) {
    for (let rh = 0; rh < sh; rh++) {
      const th = rh + sh * (mh - 1 - jh);
      if (th >= kh) continue;
      for (let jw = 0; jw < mw; jw++) {
        for (let rw = 0; rw < sw; rw++) {
          const tw = rw + sw * (mw - 1 - jw);
          if (tw >= kw) continue;
          const phaseBase = (rh * sw + rw) * ci;
          const srcTap = (th * kw + tw) * ci * co;
          const dstTap = (jh * mw + jw) * co * outC;
          for (let c = 0; c < ci; c++) {
            const srcRow = srcTap + c * co;
            const dstCol = dstTap + phaseBase + c;
            for (let o = 0; o < co; o++) sub[dstCol + o * outC] = src[srcRow + o];
          }
        }
      }
    }
  }
  const subFilter = scope.make([mh, mw, co, outC], sub);
  // Output q reads dy[q0 + q − m] for m < M: dy framed by M−1−q0 before and up to the grid after.
  const phases = convWithPadding(
    scope,
    dy,
    subFilter,
    mh - 1 - q0h,
    q0h + qh - ho,
    mw - 1 - q0w,
    q0w + qw - wo,
    [1, 1],
  );
  if (sh === 1 && sw === 1 && phases.shape[1] === h && phases.shape[2] === w) return phases;
  return interleavePhases(scope, phases, [n, h, w, ci], sh, sw, pt - q0h * sh, pl - q0w * sw);
};

/** Conv2D (valid) of x framed by the given spatial padding; non-negative padding goes to XNNPACK, negative crops x. */
function convWithPadding(
  scope: KernelScope,
  x: TensorInfo,
  filter: TensorInfo,
  top: number,
  bottom: number,
  left: number,
  right: number,
  dilations: [number, number],
): TensorInfo {
  const framed = scope.padOrCrop(x, Math.min(0, top), Math.min(0, bottom), Math.min(0, left), Math.min(0, right));
  const pad = [
    [0, 0],
    [Math.max(0, top), Math.max(0, bottom)],
    [Math.max(0, left), Math.max(0, right)],
    [0, 0],
  ];
  return scope.run("Conv2D", { x: framed, filter }, { strides: [1, 1], pad, dataFormat: "NHWC", dilations });
}

/**
 * dx[n, i, j, c] = phases[n, ⌊(i+offH)/sh⌋, ⌊(j+offW)/sw⌋, (((i+offH) mod sh)·sw + (j+offW) mod sw)·ci + c].
 * A plain loop over wasm memory that also drops the leading p mod s rows (no extra Slice): wasm's DepthToSpace took
 * 34 ms on a [64,16,16,64] tensor here, a Transpose-based interleave 5.5 ms plus a Slice.
 */
function interleavePhases(
  scope: KernelScope,
  phases: TensorInfo,
  outShape: Shape4,
  sh: number,
  sw: number,
  offH: number,
  offW: number,
): TensorInfo {
  const [n, h, w, ci] = outShape;
  const [, qh, qw, outC] = phases.shape;
  const out = scope.backend.makeOutput(outShape, "float32");
  // Views after makeOutput: allocating may grow wasm memory and detach earlier views.
  const dst = scope.read(out);
  const src = scope.read(phases);
  let d = 0;
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < h; i++) {
      const u = i + offH;
      const rowBase = (b * qh + Math.floor(u / sh)) * qw;
      const rh = u % sh;
      for (let j = 0; j < w; j++) {
        const v = j + offW;
        let s = (rowBase + Math.floor(v / sw)) * outC + (rh * sw + (v % sw)) * ci;
        for (let c = 0; c < ci; c++) dst[d++] = src[s++];
      }
    }
  }
  return scope.track(out);
}

/** dW of a dense conv: x [n, h, w, ci], dy [n, ho, wo, co] → [kh, kw, ci, co]. */
const conv2dBackpropFilterWasm: ConvGradient = (scope, x, dy, filterShape, forward) => {
  const [kh, kw, ci, co] = filterShape;
  const info = convInfo(x.shape as Shape4, filterShape, forward, false);
  if (
    info.strideHeight === 1 &&
    info.strideWidth === 1 &&
    paddedGridOverhead(x.shape as Shape4, info) <= MAX_TAPS_GRID_OVERHEAD
  ) {
    return conv2dBackpropFilterByTaps(scope, x, dy, filterShape, info);
  }
  const xt = scope.transpose(x, [3, 1, 2, 0]); // [ci, h, w, n]
  const dyt = scope.transpose(dy, [1, 2, 0, 3]); // [ho, wo, n, co]
  const p = info.padInfo;
  // [ci, ≥kh, ≥kw, co]: rows past kh come from padding that no output window reaches.
  const corr = convWithPadding(scope, xt, dyt, p.top, p.bottom, p.left, p.right, [info.strideHeight, info.strideWidth]);
  const cropped =
    corr.shape[1] === kh && corr.shape[2] === kw ? corr : scope.slice(corr, [0, 0, 0, 0], [ci, kh, kw, co]);
  return scope.transpose(cropped, [1, 2, 0, 3]);
};

/**
 * The per-tap dW multiplies over the whole padded grid, (h + pads)·(w + pads) positions instead of ho·wo. Measured
 * against the transposed conv (interleaved A/B, batch 32 and 64): it wins at 32² (grid +13%) and 16² (+27%) maps and
 * loses at 8² (+56%, 64 channels), so beyond this ratio the transposed conv is used.
 */
const MAX_TAPS_GRID_OVERHEAD = 1.3;

function paddedGridOverhead(xShape: Shape4, info: tf.backend_util.Conv2DInfo): number {
  const p = info.padInfo;
  return (
    ((xShape[1] + p.top + p.bottom) * (xShape[2] + p.left + p.right)) / Math.max(1, info.outHeight * info.outWidth)
  );
}

/**
 * dW of a stride-1 conv as one MatMul per kernel tap, with no im2col: dW[t] = X_tᵀ·dY, where X_tᵀ [ci, M] is x in
 * channel-major layout shifted by the tap. On the padded grid (Hp × Wp per image, M = n·Hp·Wp) that shift is a
 * constant flat offset t_h·Wp + t_w, so every X_tᵀ is a view into ONE padded [ci, n, Hp, Wp] buffer; dY is framed on
 * the same grid with zeros outside [ho, wo], which cancels the positions whose shifted read wraps into the next row,
 * image or channel. A trailing zero channel keeps the last view's overrun inside the buffer (and finite).
 * Interleaved A/B on ResNet-20 shapes at batch 32: 16→16 @32 9.2 ms vs 12.0 (transposed conv), stem 3→16 5.0 vs 7.0.
 */
function conv2dBackpropFilterByTaps(
  scope: KernelScope,
  x: TensorInfo,
  dy: TensorInfo,
  filterShape: Shape4,
  info: tf.backend_util.Conv2DInfo,
): TensorInfo {
  const [kh, kw, ci, co] = filterShape;
  const [n, h, w] = x.shape;
  const ho = info.outHeight,
    wo = info.outWidth;
  const p = info.padInfo;
  const hp = h + p.top + p.bottom,
    wp = w + p.left + p.right;
  const grid = n * hp * wp;
  const channelMajor = scope.transpose(x, [3, 0, 1, 2]); // [ci, n, h, w]
  const padded = scope.run(
    "PadV2",
    { x: channelMajor },
    {
      paddings: [
        [0, 1],
        [0, 0],
        [p.top, p.bottom],
        [p.left, p.right],
      ],
      constantValue: 0,
    },
  );
  // dY on the padded grid: (oh, ow) sits where the window starting at padded (oh, ow) is; the rest is zero.
  const framedDy = scope.reshape(
    scope.run(
      "PadV2",
      { x: dy },
      {
        paddings: [
          [0, 0],
          [0, hp - ho],
          [0, wp - wo],
          [0, 0],
        ],
        constantValue: 0,
      },
    ),
    [1, grid, co],
  );
  const base = scope.backend.dataIdMap.get(padded.dataId).memoryOffset;
  const taps: TensorInfo[] = [];
  for (let th = 0; th < kh; th++) {
    for (let tw = 0; tw < kw; tw++) {
      const view = scope.view([1, ci, grid], base + (th * wp + tw) * Float32Array.BYTES_PER_ELEMENT);
      taps.push(scope.run("BatchMatMul", { a: view, b: framedDy }, { transposeA: false, transposeB: false })); // [1, ci, co]
    }
  }
  return scope.reshape(scope.run("Concat", taps, { axis: 0 }), [kh, kw, ci, co]);
}

/** dx of a depthwise conv: filter [kh, kw, c, mult], dy [n, ho, wo, c·mult] → [n, h, w, c]. */
const depthwiseBackpropInputWasm: ConvGradient = (scope, dy, filter, inputShape, forward) => {
  const [kh, kw, c, mult] = filter.shape as Shape4;
  const info = convInfo(inputShape, filter.shape as Shape4, forward, true);
  const { strideHeight: sh, strideWidth: sw, outHeight: ho, outWidth: wo } = info;
  const [n, h, w] = inputShape;
  let stuffed = dy;
  if (sh > 1 || sw > 1) {
    // Insert s−1 zeros after every dy pixel (the trailing ones are trimmed by the padding below).
    const six = scope.reshape(dy, [n, ho, 1, wo, 1, c * mult]);
    const padded = scope.run(
      "PadV2",
      { x: six },
      {
        paddings: [
          [0, 0],
          [0, 0],
          [0, sh - 1],
          [0, 0],
          [0, sw - 1],
          [0, 0],
        ],
        constantValue: 0,
      },
    );
    stuffed = scope.reshape(padded, [n, ho * sh, wo * sw, c * mult]);
  }
  const top = kh - 1 - info.padInfo.top,
    left = kw - 1 - info.padInfo.left;
  const bottom = h + kh - 1 - top - stuffed.shape[1];
  const right = w + kw - 1 - left - stuffed.shape[2];
  const framed = scope.padOrCrop(stuffed, top, bottom, left, right);
  // Flipped filter, one output per (c, m) channel: [kh, kw, c·mult, 1] has the same memory order as [kh, kw, c, mult].
  const flipped = scope.run("Reverse", { x: filter }, { dims: [0, 1] });
  const perChannel = scope.reshape(flipped, [kh, kw, c * mult, 1]);
  const out = scope.run(
    "DepthwiseConv2dNative",
    { x: framed, filter: perChannel },
    { strides: [1, 1], pad: "valid", dilations: [1, 1] },
  );
  if (mult === 1) return out;
  const grouped = scope.reshape(out, [n, h, w, c, mult]);
  return scope.run("Sum", { x: grouped }, { axis: [4], keepDims: false });
};

/** dW of a depthwise conv: x [n, h, w, c], dy [n, ho, wo, c·mult] → [kh, kw, c, mult]. */
const depthwiseBackpropFilterWasm: ConvGradient = (scope, x, dy, filterShape, forward) => {
  const [kh, kw, c, mult] = filterShape;
  const info = convInfo(x.shape as Shape4, filterShape, forward, true);
  const { strideHeight: sh, strideWidth: sw, outHeight: ho, outWidth: wo } = info;
  const n = x.shape[0];
  const p = info.padInfo;
  const paddedX = scope.padOrCrop(x, p.top, p.bottom, p.left, p.right);
  const dyGrouped = mult === 1 ? dy : scope.reshape(dy, [n, ho, wo, c, mult]);
  const taps: TensorInfo[] = [];
  for (let th = 0; th < kh; th++) {
    for (let tw = 0; tw < kw; tw++) {
      let window = scope.run(
        "StridedSlice",
        { x: paddedX },
        {
          begin: [0, th, tw, 0],
          end: [n, th + (ho - 1) * sh + 1, tw + (wo - 1) * sw + 1, c],
          strides: [1, sh, sw, 1],
          beginMask: 0,
          endMask: 0,
          ellipsisMask: 0,
          newAxisMask: 0,
          shrinkAxisMask: 0,
        },
      );
      if (mult > 1) window = scope.reshape(window, [n, ho, wo, c, 1]);
      const product = scope.run("Multiply", { a: window, b: dyGrouped });
      taps.push(scope.run("Sum", { x: product }, { axis: [0, 1, 2], keepDims: false })); // [c] or [c, mult]
    }
  }
  const stacked = scope.run("Pack", taps, { axis: 0 });
  return scope.reshape(stacked, [kh, kw, c, mult]);
};

interface BackpropAttrs {
  strides: [number, number] | number;
  pad: Pad;
  dimRoundingMode?: "floor" | "round" | "ceil";
  dataFormat?: "NHWC" | "NCHW";
  dilations?: [number, number] | number;
  inputShape?: Shape4;
  filterShape?: Shape4;
}

function assertNoDilation(dilations: [number, number] | number | undefined, kernelName: string): void {
  const d = dilations === undefined ? [1, 1] : typeof dilations === "number" ? [dilations, dilations] : dilations;
  if (d[0] !== 1 || d[1] !== 1) throw new Error(`${kernelName} on wasm: dilation > 1 is not supported`);
}

const attrsOf = (attrs: NamedAttrMap | undefined): BackpropAttrs => attrs as unknown as BackpropAttrs;

function input(inputs: NamedTensorInfoMap, name: string, kernelName: string): TensorInfo {
  const t = inputs[name];
  if (!t) throw new Error(`${kernelName}: missing input "${name}"`);
  return t;
}

function gradientKernel(
  kernelName: string,
  inputNames: [string, string],
  resultShape: "inputShape" | "filterShape",
  checkAttrs: (a: BackpropAttrs, kernelName: string) => void,
  gradient: ConvGradient,
): KernelConfig {
  return {
    kernelName,
    backendName: "wasm",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const a = attrsOf(attrs);
      checkAttrs(a, kernelName);
      const first = input(inputs, inputNames[0], kernelName);
      const second = input(inputs, inputNames[1], kernelName);
      return withScope(backend, (s) =>
        gradient(s, first, second, a[resultShape] as Shape4, {
          strides: a.strides,
          pad: a.pad,
          rounding: a.dimRoundingMode,
        }),
      );
    },
  };
}

const denseAttrs = (a: BackpropAttrs, kernelName: string) => assertNhwc(a.dataFormat, kernelName);
const depthwiseAttrs = (a: BackpropAttrs, kernelName: string) => assertNoDilation(a.dilations, kernelName);

export const WASM_CONV_GRADIENT_KERNELS: KernelConfig[] = [
  gradientKernel("Conv2DBackpropInput", ["dy", "filter"], "inputShape", denseAttrs, conv2dBackpropInputWasm),
  gradientKernel("Conv2DBackpropFilter", ["x", "dy"], "filterShape", denseAttrs, conv2dBackpropFilterWasm),
  gradientKernel(
    "DepthwiseConv2dNativeBackpropInput",
    ["dy", "filter"],
    "inputShape",
    depthwiseAttrs,
    depthwiseBackpropInputWasm,
  ),
  gradientKernel(
    "DepthwiseConv2dNativeBackpropFilter",
    ["x", "dy"],
    "filterShape",
    depthwiseAttrs,
    depthwiseBackpropFilterWasm,
  ),
];

/**
 * Slice for any rank in one pass: wasm's shipped Slice handles rank ≤ 4 row by row but sends rank 5+ (e.g. the
 * [n, h/2, 2, w/2, 2, c] view an option-A shortcut subsamples through) to a per-element generic loop that took
 * ~80 ms per call on a ResNet-20 batch of 64. Copies the innermost contiguous run per outer index.
 */
function sliceAnyRank(shipped: KernelConfig): KernelConfig {
  return {
    kernelName: "Slice",
    backendName: "wasm",
    kernelFunc: (args) => {
      const { inputs, backend, attrs } = args;
      const x = input(inputs, "x", "Slice");
      if (x.dtype === "string" || x.shape.length === 0) return shipped.kernelFunc(args);
      const { begin, size } = attrs as unknown as { begin: number | number[]; size?: number | number[] };
      const [begin_, size_] = tf.slice_util.parseSliceParams(x, begin, size);
      const wasm = backend as BackendWasm;
      const out = wasm.makeOutput(size_, x.dtype);
      if (size_.some((d) => d === 0)) return out;
      const shape = x.shape;
      const rank = shape.length;
      const strides = tf.util.computeStrides(shape);
      // Innermost run: trailing dims taken whole, times the first partially taken dim.
      let d = rank - 1;
      let run = 1;
      while (d > 0 && size_[d] === shape[d]) run *= shape[d--];
      run *= size_[d];
      const innerOffset = begin_[d] * (d === rank - 1 ? 1 : strides[d]);
      const dst = wasm.typedArrayFromHeap(out);
      const src = wasm.typedArrayFromHeap(x);
      const outer = size_.slice(0, d);
      const index = new Array<number>(d).fill(0);
      const total = outer.reduce((a, b) => a * b, 1);
      let offset = innerOffset;
      for (let k = 0; k < d; k++) offset += begin_[k] * strides[k];
      let o = 0;
      for (let r = 0; r < total; r++) {
        if (run >= 32) dst.set(src.subarray(offset, offset + run), o);
        else for (let i = 0; i < run; i++) dst[o + i] = src[offset + i];
        o += run;
        // Odometer over the outer dims.
        for (let k = d - 1; k >= 0; k--) {
          offset += strides[k];
          if (++index[k] < outer[k]) break;
          offset -= strides[k] * outer[k];
          index[k] = 0;
        }
      }
      return out;
    },
  };
}

let shippedBackpropInput: KernelConfig | null = null;
let sliceReplaced = false;

/** wasm's own Conv2DBackpropInput as shipped (before we replaced it), kept for benchmarks; null before registration. */
export function shippedWasmConv2DBackpropInput(): KernelConfig | null {
  return shippedBackpropInput;
}

/** Registers (or replaces) the conv gradient kernels on the wasm backend. Idempotent. */
export function registerWasmConvKernels(): void {
  for (const config of WASM_CONV_GRADIENT_KERNELS) {
    const existing = tf.getKernel(config.kernelName, "wasm");
    if (existing === config) continue;
    if (existing) {
      if (config.kernelName === "Conv2DBackpropInput") shippedBackpropInput = existing;
      tf.unregisterKernel(config.kernelName, "wasm");
    }
    tf.registerKernel(config);
  }
  if (!sliceReplaced) {
    const shippedSlice = tf.getKernel("Slice", "wasm");
    if (shippedSlice) {
      tf.unregisterKernel("Slice", "wasm");
      tf.registerKernel(sliceAnyRank(shippedSlice));
      sliceReplaced = true;
    }
  }
}

/**
 * Convolution with PyTorch-style groups on NHWC tensors. filter is [k, k, inC/groups, outC] (PyTorch's
 * [outC, inC/groups, k, k] transposed), output channel o belongs to group ⌊o / (outC/groups)⌋ as in PyTorch.
 * groups = 1: dense conv; groups = inC: depthwise (channel multiplier outC/inC); otherwise one conv per group
 * (ResNeXt, Xie et al. 2017, uses 32). Differentiable on every backend (wasm via the kernels above).
 */
export function groupedConv2d(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  stride: number,
  padding: number,
  groups: number,
): tf.Tensor4D {
  const inC = x.shape[3];
  const [kh, kw, groupIn, outC] = filter.shape;
  if (groups < 1 || inC % groups !== 0 || outC % groups !== 0 || groupIn !== inC / groups) {
    throw new Error(
      `groupedConv2d: input channels ${inC}, filter ${JSON.stringify(filter.shape)} and groups ${groups} do not match`,
    );
  }
  const pad: Pad = [
    [0, 0],
    [padding, padding],
    [padding, padding],
    [0, 0],
  ];
  if (groups === 1) return tf.conv2d<tf.Tensor4D>(x, filter, stride, pad);
  if (groups === inC) {
    return tf.tidy(() =>
      tf.depthwiseConv2d<tf.Tensor4D>(x, tf.reshape<tf.Rank.R4>(filter, [kh, kw, inC, outC / inC]), stride, pad),
    );
  }
  return tf.tidy(() => {
    const xs = tf.split<tf.Tensor4D>(x, groups, 3);
    const ws = tf.split<tf.Tensor4D>(filter, groups, 3);
    return tf.concat4d(
      xs.map((xi, g) => tf.conv2d<tf.Tensor4D>(xi, ws[g], stride, pad)),
      3,
    );
  });
}

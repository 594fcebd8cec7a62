/**
 * Conv gradients on wasm (our kernels) against the cpu backend's reference kernels and against central finite
 * differences, for every stride / padding / kernel / group count a spec can produce; plus leak checks.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/runtime/backend";
import { groupedConv2d, WASM_CONV_GRADIENT_KERNELS } from "../src/runtime/convKernels";

/** Relative tolerance vs cpu: both are float32; differences come from summation order only. */
const CPU_REL_TOL = 1e-4;
/** Finite differences: conv is linear in x and in w, so a central difference is exact up to float32 rounding. */
const FD_EPS = 0.25;
const FD_TOL = 2e-3;

function seededValues(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}

/** Shape first, then values: |a − b| ≤ rel·max(1, max|b|) element-wise (scale-aware relative tolerance). */
function expectArraysClose(
  actual: { shape: number[]; values: Float32Array },
  expected: { shape: number[]; values: Float32Array },
  rel: number,
  what: string,
): void {
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  let scale = 1;
  for (const v of expected.values) scale = Math.max(scale, Math.abs(v));
  let worst = 0,
    worstAt = -1;
  for (let i = 0; i < expected.values.length; i++) {
    const d = Math.abs(actual.values[i] - expected.values[i]);
    if (!(d <= worst)) {
      worst = d;
      worstAt = i;
    }
  }
  assert.ok(worst <= rel * scale, `${what}: max |diff| ${worst} at ${worstAt} exceeds ${rel}·${scale.toFixed(3)}`);
}

interface Case {
  n: number;
  h: number;
  w: number;
  inC: number;
  outC: number;
  k: number;
  stride: number;
  pad: number;
  groups: number;
}

const CASES: Case[] = [];
// Dense: kernel/padding pairs a spec produces (1/0 projection shortcuts, 3/1 blocks, 7/3 ImageNet stem, 3/0 valid).
for (const stride of [1, 2]) {
  for (const [k, pad] of [
    [1, 0],
    [3, 1],
    [7, 3],
    [3, 0],
  ]) {
    for (const h of [8, 9]) CASES.push({ n: 2, h, w: h + 1, inC: 3, outC: 5, k, stride, pad, groups: 1 });
  }
}
// ResNeXt cardinality 32 (Xie et al. 2017) with group width 2, and depthwise (multiplier 1 and 2).
for (const stride of [1, 2]) {
  CASES.push({ n: 2, h: 6, w: 6, inC: 64, outC: 64, k: 3, stride, pad: 1, groups: 32 });
  CASES.push({ n: 2, h: 7, w: 8, inC: 6, outC: 6, k: 3, stride, pad: 1, groups: 6 });
  CASES.push({ n: 2, h: 7, w: 8, inC: 4, outC: 8, k: 3, stride, pad: 1, groups: 4 });
  CASES.push({ n: 2, h: 9, w: 9, inC: 4, outC: 4, k: 7, stride, pad: 3, groups: 4 });
}
// A realistic ResNet-20 layer shape (batch trimmed).
CASES.push({ n: 4, h: 16, w: 16, inC: 16, outC: 32, k: 3, stride: 2, pad: 1, groups: 1 });
CASES.push({ n: 4, h: 16, w: 16, inC: 16, outC: 16, k: 3, stride: 1, pad: 1, groups: 1 });

function describe(c: Case): string {
  return `${c.n}x${c.h}x${c.w}x${c.inC}→${c.outC} k${c.k} s${c.stride} p${c.pad} g${c.groups}`;
}

function outSize(size: number, c: Case): number {
  return Math.floor((size + 2 * c.pad - c.k) / c.stride) + 1;
}

interface Grads {
  dx: { shape: number[]; values: Float32Array };
  dw: { shape: number[]; values: Float32Array };
}

/** Gradients of sum(conv(x, w) ⊙ r) w.r.t. x and w on the current backend; r makes dy non-uniform. */
function gradients(c: Case): Grads {
  const xShape = [c.n, c.h, c.w, c.inC];
  const wShape = [c.k, c.k, c.inC / c.groups, c.outC];
  const yShape = [c.n, outSize(c.h, c), outSize(c.w, c), c.outC];
  return tf.tidy(() => {
    const x = tf.tensor4d(
      seededValues(
        xShape.reduce((a, b) => a * b),
        1,
      ),
      xShape as [number, number, number, number],
    );
    const w = tf.tensor4d(
      seededValues(
        wShape.reduce((a, b) => a * b),
        2,
      ),
      wShape as [number, number, number, number],
    );
    const r = tf.tensor4d(
      seededValues(
        yShape.reduce((a, b) => a * b),
        3,
      ),
      yShape as [number, number, number, number],
    );
    const [dx, dw] = tf.grads((xi: tf.Tensor, wi: tf.Tensor) =>
      tf.sum(tf.mul(groupedConv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, c.stride, c.pad, c.groups), r)),
    )([x, w]);
    return {
      dx: { shape: dx.shape, values: dx.dataSync() as Float32Array },
      dw: { shape: dw.shape, values: dw.dataSync() as Float32Array },
    };
  });
}

before(async () => {
  await initBackend("wasm");
});

test("wasm conv gradients match the cpu backend for every stride / padding / kernel / groups", async () => {
  for (const c of CASES) {
    await tf.setBackend("cpu");
    const reference = gradients(c);
    await tf.setBackend("wasm");
    const ours = gradients(c);
    expectArraysClose(ours.dx, reference.dx, CPU_REL_TOL, `dx ${describe(c)}`);
    expectArraysClose(ours.dw, reference.dw, CPU_REL_TOL, `dW ${describe(c)}`);
  }
});

test("wasm conv gradients match central finite differences", async () => {
  await tf.setBackend("wasm");
  const picks: Case[] = [
    { n: 2, h: 9, w: 8, inC: 3, outC: 4, k: 3, stride: 2, pad: 1, groups: 1 },
    { n: 1, h: 11, w: 11, inC: 2, outC: 3, k: 7, stride: 2, pad: 3, groups: 1 },
    { n: 2, h: 6, w: 6, inC: 4, outC: 8, k: 3, stride: 2, pad: 1, groups: 4 },
    { n: 2, h: 6, w: 6, inC: 8, outC: 8, k: 3, stride: 1, pad: 1, groups: 2 },
    // Large enough a map for the per-tap dW (padded grid ≤ 1.3× the output).
    { n: 1, h: 14, w: 16, inC: 3, outC: 4, k: 3, stride: 1, pad: 1, groups: 1 },
  ];
  for (const c of picks) {
    const g = gradients(c);
    const xShape = [c.n, c.h, c.w, c.inC] as [number, number, number, number];
    const wShape = [c.k, c.k, c.inC / c.groups, c.outC] as [number, number, number, number];
    const yShape = [c.n, outSize(c.h, c), outSize(c.w, c), c.outC] as [number, number, number, number];
    const xv = seededValues(
      xShape.reduce((a, b) => a * b),
      1,
    );
    const wv = seededValues(
      wShape.reduce((a, b) => a * b),
      2,
    );
    const rv = seededValues(
      yShape.reduce((a, b) => a * b),
      3,
    );
    const f = (xa: Float32Array, wa: Float32Array): number =>
      tf.tidy(
        () =>
          tf
            .sum(
              tf.mul(
                groupedConv2d(tf.tensor4d(xa, xShape), tf.tensor4d(wa, wShape), c.stride, c.pad, c.groups),
                tf.tensor4d(rv, yShape),
              ),
            )
            .dataSync()[0],
      );
    const check = (which: "x" | "w", analytic: Float32Array, base: Float32Array) => {
      const step = Math.max(1, Math.floor(base.length / 25));
      for (let i = 0; i < base.length; i += step) {
        const plus = Float32Array.from(base),
          minus = Float32Array.from(base);
        plus[i] += FD_EPS;
        minus[i] -= FD_EPS;
        const numeric =
          which === "x" ? (f(plus, wv) - f(minus, wv)) / (2 * FD_EPS) : (f(xv, plus) - f(xv, minus)) / (2 * FD_EPS);
        assert.ok(
          Math.abs(numeric - analytic[i]) <= FD_TOL * Math.max(1, Math.abs(numeric)),
          `d${which}[${i}] ${describe(c)}: analytic ${analytic[i]} vs finite difference ${numeric}`,
        );
      }
    };
    check("x", g.dx.values, xv);
    check("w", g.dw.values, wv);
  }
});

test("conv gradients on wasm leak no tensors and no wasm buffers", async () => {
  await tf.setBackend("wasm");
  const c: Case = { n: 2, h: 8, w: 8, inC: 8, outC: 8, k: 3, stride: 2, pad: 1, groups: 1 };
  const dw: Case = { ...c, groups: 8, outC: 16 };
  const s1: Case = { ...c, h: 16, w: 16, stride: 1 }; // per-tap dW with views into one buffer
  const warm = () => {
    gradients(c);
    gradients(dw);
    gradients(s1);
  };
  warm(); // warm-up (first calls may allocate kernel caches)
  const tensorsBefore = tf.memory().numTensors;
  const buffersBefore = tf.engine().backend.numDataIds();
  for (let i = 0; i < 3; i++) warm();
  assert.equal(tf.memory().numTensors, tensorsBefore, "engine tensors");
  assert.equal(tf.engine().backend.numDataIds(), buffersBefore, "wasm data buffers");
});

test("the wasm backend runs our conv gradient kernels, not the shipped ones", async () => {
  await tf.setBackend("wasm");
  // wasm ships Conv2DBackpropInput itself, so existence proves nothing: the registered function must be ours.
  assert.deepEqual(WASM_CONV_GRADIENT_KERNELS.map((k) => k.kernelName).sort(), [
    "Conv2DBackpropFilter",
    "Conv2DBackpropInput",
    "DepthwiseConv2dNativeBackpropFilter",
    "DepthwiseConv2dNativeBackpropInput",
  ]);
  for (const ours of WASM_CONV_GRADIENT_KERNELS) {
    assert.equal(
      tf.getKernel(ours.kernelName, "wasm")?.kernelFunc,
      ours.kernelFunc,
      `${ours.kernelName} on wasm is ours`,
    );
  }
});

// The stride-1 cases on 24×22 maps go through the per-tap dW (one MatMul per kernel tap over a shifted view of
// padded x); on 8×7 maps through the transposed conv (the padded grid would be > 1.3× the output).
for (const [label, strides, pad, k, mapH, mapW] of [
  ["asymmetric 'same' padding (stride 2, even size)", 2, "same", 3, 8, 7],
  ["unequal strides [2, 1], 'valid'", [2, 1], "valid", 3, 8, 7],
  ["stride 1, asymmetric 'same' padding (even kernel)", 1, "same", 4, 24, 22],
  ["stride 1, 'valid', non-square kernel", 1, "valid", [2, 3], 24, 22],
  ["stride 1, 'same', small map", 1, "same", 3, 8, 7],
] as const) {
  test(`${label} matches cpu`, async () => {
    const [kh, kw] = typeof k === "number" ? [k, k] : k;
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor4d(seededValues(2 * mapH * mapW * 3, 5), [2, mapH, mapW, 3]);
        const w = tf.tensor4d(seededValues(kh * kw * 3 * 4, 6), [kh, kw, 3, 4]);
        const y = (a: tf.Tensor, b: tf.Tensor) =>
          tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, strides as number | [number, number], pad);
        const r = tf.tensor(seededValues(y(x, w).size, 7), y(x, w).shape);
        const [dx, dwt] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(y(a, b), r)))([x, w]);
        return [
          { shape: dx.shape, values: dx.dataSync() as Float32Array },
          { shape: dwt.shape, values: dwt.dataSync() as Float32Array },
        ];
      });
    await tf.setBackend("cpu");
    const [rx, rw] = run();
    await tf.setBackend("wasm");
    const [ox, ow] = run();
    expectArraysClose(ox, rx, CPU_REL_TOL, `dx ${label}`);
    expectArraysClose(ow, rw, CPU_REL_TOL, `dW ${label}`);
  });
}

/**
 * The fused training-mode BatchNorm kernels (runtime/batchNorm.ts) against the composed tfjs-op version: forward
 * output, batch statistics and all three gradients, on cpu and on wasm, including channels whose mean is far from 0
 * (where a naive E[x²] − μ² variance loses precision); plus leak checks.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/runtime/backend";
import {
  batchNormTrain,
  batchNormTrainComposed,
  hasFusedBatchNorm,
  registerBatchNormKernels,
} from "../src/runtime/batchNorm";

/**
 * Relative tolerance (scaled by max |expected|, at least 1): both sides are float32 at the outputs; the fused
 * kernel sums in float64, the composed one in float32, so they differ by float32 summation error only.
 */
const REL_TOL = 2e-4;

function seeded(n: number, seed: number, offset = 0, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = offset + scale * (s / 4294967296 - 0.5);
  }
  return out;
}

function close(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 1;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  assert.ok(worst <= REL_TOL * scale, `${what}: max |diff| ${worst} > ${REL_TOL}·${scale}`);
}

interface BnOutputs {
  y: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  dx: Float32Array;
  dGamma: Float32Array;
  dBeta: Float32Array;
}

function runBn(shape: [number, number, number, number], fused: boolean, offset: number): BnOutputs {
  return tf.tidy(() => {
    const size = shape.reduce((a, b) => a * b, 1);
    const c = shape[3];
    const x = tf.tensor4d(seeded(size, 1, offset, 4), shape);
    const gamma = tf.tensor1d(seeded(c, 2, 1, 1));
    const beta = tf.tensor1d(seeded(c, 3));
    const dy = tf.tensor4d(seeded(size, 4), shape);
    let stats: tf.Tensor[] = [];
    let y: tf.Tensor | null = null;
    const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const r = fused
        ? batchNormTrain(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5)
        : batchNormTrainComposed(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5);
      stats = [r.mean, r.variance];
      y = tf.keep(r.output.clone());
      return r.output;
    })([x, gamma, beta], dy);
    const read = (t: tf.Tensor) => t.dataSync() as Float32Array;
    const out = {
      y: read(y!),
      mean: read(stats[0]),
      variance: read(stats[1]),
      dx: read(grads[0]),
      dGamma: read(grads[1]),
      dBeta: read(grads[2]),
    };
    tf.dispose([...stats, y!]);
    return out;
  });
}

function compare(a: BnOutputs, b: BnOutputs, what: string): void {
  for (const key of ["y", "mean", "variance", "dx", "dGamma", "dBeta"] as const)
    close(a[key], b[key], `${what} ${key}`);
}

const SHAPES: [number, number, number, number][] = [
  [2, 5, 3, 3],
  [4, 8, 8, 16],
  [3, 4, 4, 64],
  [2, 3, 3, 7],
];

before(async () => {
  registerBatchNormKernels();
  await initBackend("wasm");
});

test("fused BN on cpu matches the composed tfjs-op BN: output, batch statistics, dx, dγ, dβ", async () => {
  await tf.setBackend("cpu");
  assert.ok(hasFusedBatchNorm(), "fused kernels registered on cpu");
  for (const shape of SHAPES) {
    for (const offset of [0, 50])
      compare(runBn(shape, true, offset), runBn(shape, false, offset), `cpu [${shape.join(",")}] offset ${offset}`);
  }
});

test("fused BN on wasm matches the composed BN on cpu", async () => {
  for (const shape of SHAPES) {
    for (const offset of [0, 50]) {
      await tf.setBackend("cpu");
      const reference = runBn(shape, false, offset);
      await tf.setBackend("wasm");
      assert.ok(hasFusedBatchNorm(), "fused kernels registered on wasm");
      compare(runBn(shape, true, offset), reference, `wasm [${shape.join(",")}] offset ${offset}`);
    }
  }
});

test("fused BN leaks no tensors and no backend buffers", async () => {
  for (const backend of ["cpu", "wasm"]) {
    await tf.setBackend(backend);
    runBn([2, 4, 4, 8], true, 0);
    const tensors = tf.memory().numTensors;
    const buffers = tf.engine().backend.numDataIds();
    for (let i = 0; i < 3; i++) runBn([2, 4, 4, 8], true, 0);
    assert.equal(tf.memory().numTensors, tensors, `${backend} tensors`);
    assert.equal(tf.engine().backend.numDataIds(), buffers, `${backend} data buffers`);
  }
});

/** Backend selection, and the wasm kernels we replace besides conv (Slice) against the cpu backend. */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend, parseBackendChoice, currentBackend } from "../src/runtime/backend";

test("auto picks tfjs-node when present, else wasm, and reports why", async () => {
  const saved = process.env.RESNET_STUDIO_BACKEND;
  delete process.env.RESNET_STUDIO_BACKEND;
  try {
    const info = await initBackend("auto");
    let nodeInstalled = true;
    try {
      require.resolve("@tensorflow/tfjs-node");
    } catch {
      nodeInstalled = false;
    }
    assert.equal(info.name, nodeInstalled ? "tensorflow" : "wasm");
    if (!nodeInstalled) assert.match(info.detail, /tfjs-node not installed/);
    assert.equal(tf.getBackend(), info.name);
    assert.deepEqual(currentBackend(), info);
    assert.equal(await initBackend(), info, "idempotent");
  } finally {
    if (saved !== undefined) process.env.RESNET_STUDIO_BACKEND = saved;
  }
});

test("explicit choices switch backends; an unavailable explicit choice is an error, not a silent fallback", async () => {
  assert.equal((await initBackend("cpu")).name, "cpu");
  assert.equal(tf.getBackend(), "cpu");
  assert.equal((await initBackend("wasm")).name, "wasm");
  assert.equal(tf.getBackend(), "wasm");
  let nodeInstalled = true;
  try {
    require.resolve("@tensorflow/tfjs-node");
  } catch {
    nodeInstalled = false;
  }
  if (!nodeInstalled) await assert.rejects(initBackend("tensorflow"), /backend "tensorflow" unavailable/);
  assert.equal(tf.getBackend(), "wasm", "a failed explicit choice leaves the working backend in place");
});

test("RESNET_STUDIO_BACKEND overrides auto; bad names give a readable error", async () => {
  const saved = process.env.RESNET_STUDIO_BACKEND;
  try {
    process.env.RESNET_STUDIO_BACKEND = "cpu";
    assert.equal((await initBackend("auto")).name, "cpu");
    process.env.RESNET_STUDIO_BACKEND = "gpu";
    await assert.rejects(
      initBackend("auto"),
      /RESNET_STUDIO_BACKEND: unknown backend "gpu" \(expected one of: auto, wasm, cpu, tensorflow\)/,
    );
  } finally {
    if (saved === undefined) delete process.env.RESNET_STUDIO_BACKEND;
    else process.env.RESNET_STUDIO_BACKEND = saved;
  }
  assert.equal(parseBackendChoice(" WASM "), "wasm");
  assert.equal(parseBackendChoice("tfjs-node"), "tensorflow");
  assert.throws(() => parseBackendChoice("webgl", "--backend"), /--backend: unknown backend "webgl"/);
  await initBackend("wasm");
});

test("wasm Slice (replaced for every rank) matches cpu, and leaks nothing", async () => {
  const cases: { shape: number[]; begin: number[]; size: number[] }[] = [
    { shape: [7], begin: [2], size: [4] },
    { shape: [3, 5], begin: [1, 2], size: [2, 3] },
    { shape: [4, 6, 6, 5], begin: [0, 1, 1, 0], size: [4, 4, 5, 5] },
    { shape: [4, 6, 6, 5], begin: [1, 0, 0, 2], size: [2, 6, 6, 3] },
    { shape: [2, 3, 2, 3, 2, 40], begin: [0, 0, 0, 0, 0, 0], size: [2, 3, 1, 3, 1, 40] },
    { shape: [2, 3, 2, 3, 2, 4], begin: [0, 1, 1, 0, 1, 1], size: [2, 2, 1, 3, 1, 2] },
    { shape: [2, 3, 4, 5, 6], begin: [1, 1, 1, 1, 1], size: [-1, 2, 3, 4, 5] },
  ];
  for (const c of cases) {
    const n = c.shape.reduce((a, b) => a * b, 1);
    const values = Float32Array.from({ length: n }, (_, i) => i * 0.5 - 3);
    const run = () =>
      tf.tidy(() => {
        const t = tf.slice(tf.tensor(values, c.shape), c.begin, c.size);
        return { shape: t.shape, values: Array.from(t.dataSync()) };
      });
    await tf.setBackend("cpu");
    const expected = run();
    await tf.setBackend("wasm");
    const before = tf.memory().numTensors;
    const actual = run();
    assert.equal(tf.memory().numTensors, before);
    assert.deepEqual(actual.shape, expected.shape, `shape of slice ${JSON.stringify(c)}`);
    assert.deepEqual(actual.values, expected.values, `values of slice ${JSON.stringify(c)}`);
  }
  const ints = tf.tidy(() =>
    Array.from(tf.slice(tf.tensor([1, 2, 3, 4, 5, 6], [2, 3], "int32"), [0, 1], [2, 2]).dataSync()),
  );
  assert.deepEqual(ints, [2, 3, 5, 6]);
});

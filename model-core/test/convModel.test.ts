/**
 * End to end: every parameter gradient of small networks on wasm (our conv kernels: 7×7/2 stem, 1×1/2 projections,
 * grouped and depthwise 3×3) equals the cpu backend's, through the real graph → model path.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/runtime/backend";
import { buildModel } from "../src/runtime/model";
import { analyzeOrThrow } from "../src/analysis/analyze";
import { resnet } from "../src/spec/builders";
import type { ResNetOptions } from "../src/spec/types";

/** Relative to each gradient tensor's largest magnitude; float32 through ~10 layers of conv + BN. */
const REL_TOL = 2e-3;
/** Plus this fraction of the network's largest gradient: some tensors (e.g. a BN γ whose gradient nearly cancels,
 *  |dγ| ~ 1e-6) are pure rounding noise relative to themselves. */
const GLOBAL_TOL = 1e-5;

function gradsOf(
  options: ResNetOptions,
  x: Float32Array,
  labels: number[],
): Map<string, { shape: number[]; values: Float32Array }> {
  const graph = analyzeOrThrow(resnet(options));
  const model = buildModel(graph, { seed: 7 });
  try {
    const [c, h, w] = options.input!;
    const out = new Map<string, { shape: number[]; values: Float32Array }>();
    tf.tidy(() => {
      const input = tf.tensor4d(x, [labels.length, h, w, c]);
      const oneHot = tf.oneHot(tf.tensor1d(labels, "int32"), options.classes!);
      const names = [...model.params.keys()];
      const { grads } = tf.variableGrads(
        () => tf.losses.softmaxCrossEntropy<tf.Tensor, tf.Scalar>(oneHot, model.apply(input, "train")),
        names.map((n) => model.params.get(n)!),
      );
      for (const n of names) {
        const g = grads[model.params.get(n)!.name];
        out.set(n, { shape: g.shape, values: g.dataSync() as Float32Array });
      }
    });
    return out;
  } finally {
    model.dispose();
  }
}

const NETS: ResNetOptions[] = [
  {
    name: "tiny-resnext",
    input: [3, 32, 32],
    stem: "imagenet",
    block: "bottleneck",
    stages: [
      { channels: 8, blocks: 1, stride: 1 },
      { channels: 16, blocks: 1, stride: 2 },
    ],
    shortcut: "B",
    classes: 5,
    groups: 4,
    widthPerGroup: 16,
  },
  // width = channels · widthPerGroup/64 · groups = 16 = groups: depthwise 3×3 (stride 1, then 2).
  {
    name: "tiny-depthwise",
    input: [3, 16, 16],
    stem: "cifar",
    block: "bottleneck",
    stages: [
      { channels: 16, blocks: 1, stride: 1 },
      { channels: 16, blocks: 1, stride: 2 },
    ],
    shortcut: "B",
    classes: 3,
    groups: 16,
    widthPerGroup: 4,
  },
];

for (const options of NETS) {
  test(`all parameter gradients of ${options.name} on wasm match cpu`, async () => {
    const [c, h, w] = options.input!;
    const n = 2;
    let s = 11;
    const x = Float32Array.from(
      { length: n * c * h * w },
      () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296 - 0.5,
    );
    const labels = [1, 2];
    await initBackend("cpu");
    const reference = gradsOf(options, x, labels);
    await initBackend("wasm");
    const ours = gradsOf(options, x, labels);
    assert.deepEqual([...ours.keys()], [...reference.keys()]);
    let globalScale = 0;
    for (const ref of reference.values()) for (const v of ref.values) globalScale = Math.max(globalScale, Math.abs(v));
    assert.ok(globalScale > 0, "gradients are not all zero");
    for (const [name, ref] of reference) {
      const got = ours.get(name)!;
      assert.deepEqual(got.shape, ref.shape, `${name}: shape`);
      let scale = 1e-6;
      for (const v of ref.values) scale = Math.max(scale, Math.abs(v));
      for (let i = 0; i < ref.values.length; i++) {
        assert.ok(
          Math.abs(got.values[i] - ref.values[i]) <= REL_TOL * scale + GLOBAL_TOL * globalScale,
          `${name}[${i}]: wasm ${got.values[i]} vs cpu ${ref.values[i]} (scale ${scale})`,
        );
      }
    }
  });
}

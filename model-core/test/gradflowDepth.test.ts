/**
 * Gradient flow at initialisation: plain vs residual CIFAR nets of depth 20, 56 and 110, with and without BN,
 * against the figures PyTorch gives for the same setting (He et al. 2015's CIFAR nets with option-B projections,
 * Kaiming normal fan_out init, PyTorch default conv biases without BN, BN in training mode, a batch of 32
 * standard-normal 3×32×32 inputs, cross-entropy on random labels). Figure: ‖dL/dx‖ at the first block's input over
 * ‖dL/dx‖ at the last block's output.
 *
 * With BN the PyTorch figures move < 2× across seeds, so ours must land within an order of magnitude of each.
 * Without BN they move ~10×, so only the direction is tested: deep plain nets below 1 (vanishing), deep residual
 * nets above 10³ (growing toward the input). Measured here (wasm, seeds 1 and 2): with BN resnet20 11.6/11.3,
 * plain20 25/23, resnet56 89/90, plain56 1.2e4/1.5e4, resnet110 406/431, plain110 2.2e7/5.1e7; without BN
 * resnet20 12/13, plain20 0.36/0.51, resnet56 1.2e4/1.1e4, plain56 0.17/0.31, resnet110 1.8e9/4.0e8, plain110 0.08/0.14.
 * Runs on wasm with engineer C's conv-gradient kernels (~5 s for each 110-layer net at batch 32).
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/runtime/backend";
import { analyze } from "../src/analysis/analyze";
import { normalizeSpec } from "../src/spec/builders";
import { presetOptions } from "../src/spec/presets";
import type { NormKind } from "../src/spec/types";
import { buildModel } from "../src/runtime/model";
import { gradientFlow } from "../src/runtime/gradflow";
import { SeededRng } from "../src/data/rng";

const BATCH = 32;
const SEED = 1;

/** PyTorch's ratios with BN (training mode), from the brief's measurement. */
const PYTORCH_WITH_BN: Record<string, number> = {
  resnet20: 12,
  resnet56: 100,
  resnet110: 500,
  plain20: 26,
  plain56: 9e3,
  plain110: 2e7,
};

async function ratioOf(name: string, norm: NormKind): Promise<number> {
  const options = presetOptions(name, { shortcut: "B", norm });
  assert.ok(options, name);
  const { spec, issues } = normalizeSpec(options);
  assert.ok(spec, JSON.stringify(issues));
  const { graph } = analyze(spec);
  assert.ok(graph, name);
  const model = buildModel(graph, { seed: SEED });
  const rng = new SeededRng(SEED + 100);
  const [c, h, w] = graph.input;
  const x = tf.tensor4d(
    new Float32Array(BATCH * h * w * c).map(() => rng.normal()),
    [BATCH, h, w, c],
  );
  const labels = Array.from({ length: BATCH }, () => rng.int(graph.output[0]));
  try {
    const result = await gradientFlow(model, { x, labels });
    assert.ok(
      Number.isFinite(result.ratio.value) && result.ratio.value > 0,
      `${name} ${norm}: ratio ${result.ratio.value}`,
    );
    return result.ratio.value;
  } finally {
    x.dispose();
    model.dispose();
  }
}

describe("gradient flow at init: plain vs residual (wasm, batch 32)", () => {
  before(async () => {
    await initBackend("wasm");
  });

  test("with BN: every ratio within an order of magnitude of PyTorch's, and deep plain nets explode toward the input", async (t) => {
    const ours: Record<string, number> = {};
    for (const [name, reference] of Object.entries(PYTORCH_WITH_BN)) {
      ours[name] = await ratioOf(name, "batchnorm");
      t.diagnostic(`${name} with BN: ${ours[name].toExponential(2)} (PyTorch ≈ ${reference.toExponential(0)})`);
      assert.ok(
        ours[name] > reference / 10 && ours[name] < reference * 10,
        `${name} with BN: ${ours[name]} vs PyTorch ≈ ${reference}`,
      );
    }
    assert.ok(ours.plain56 > ours.resnet56 * 10);
    assert.ok(ours.plain110 > ours.resnet110 * 1e3);
  });

  test("without BN: deep plain nets vanish (< 1), deep residual nets grow toward the input (> 10³)", async (t) => {
    const ratio: Record<string, number> = {};
    for (const name of ["plain56", "plain110", "resnet56", "resnet110"]) {
      ratio[name] = await ratioOf(name, "none");
      t.diagnostic(`${name} without BN: ${ratio[name].toExponential(2)}`);
    }
    assert.ok(ratio.plain56 < 1, `plain56 ${ratio.plain56}`);
    assert.ok(ratio.plain110 < 1, `plain110 ${ratio.plain110}`);
    assert.ok(ratio.resnet56 > 1e3, `resnet56 ${ratio.resnet56}`);
    assert.ok(ratio.resnet110 > 1e3, `resnet110 ${ratio.resnet110}`);
    assert.ok(ratio.resnet110 > ratio.resnet56, "deeper residual nets grow more");
  });
});

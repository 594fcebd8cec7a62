/**
 * The tfjs model built from the graph IR: forward passes against PyTorch, seeded initialisation, every op kind,
 * running statistics, memory hygiene and errors. cpu backend.
 *
 * The PyTorch reference is test/reference/torch-forward.fixture.json, made by test/reference/torch_forward.py
 * (float64 PyTorch, weights from a closed formula mirrored below). Tolerance: our pass is float32, so logits
 * (magnitudes up to ~10) must agree within 1e-4 + 1e-4·|reference|; running statistics within 1e-5 + 1e-5·|reference|.
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import { analyzeOrThrow } from "../src/analysis/analyze";
import { resnet } from "../src/spec/builders";
import { presetOptions } from "../src/spec/presets";
import type { ModelGraph } from "../src/analysis/graph";
import type { ResNetOptions } from "../src/spec/types";
import {
  buildModel,
  GraphModel,
  loadTorchStateDict,
  torchStateDict,
  type StateTensor,
  type TfModel,
} from "../src/runtime/model";
import { kaimingNormalStd } from "../src/runtime/init";

const LOGIT_ATOL = 1e-4;
const LOGIT_RTOL = 1e-4;
const STATS_TOL = 1e-5;

interface PlainTensor {
  shape: number[];
  data: number[];
}
interface FixtureCase {
  graph: ModelGraph;
  evalLogits: PlainTensor;
  trainLogits: PlainTensor;
  runningAfterTrain: Record<string, PlainTensor>;
}

const fixture = JSON.parse(
  readFileSync(join(__dirname, "../../test/reference/torch-forward.fixture.json"), "utf8"),
) as { cases: FixtureCase[] };

function nameCode(name: string): number {
  let code = 0;
  for (let k = 0; k < name.length; k++) code += (k + 1) * name.charCodeAt(k);
  return code % 997;
}

/** Mirror of `formula` in torch_forward.py. */
function formula(name: string, shape: number[], rms: number, offset = 0): StateTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  const phase = 0.1 * nameCode(name);
  for (let i = 0; i < n; i++) data[i] = offset + rms * Math.SQRT2 * Math.sin(0.61803 * i + phase);
  return { shape, data };
}

/** Mirror of `make_state` in torch_forward.py (PyTorch layouts). */
function formulaState(graph: ModelGraph): Record<string, StateTensor> {
  const state: Record<string, StateTensor> = {};
  for (const node of graph.nodes) {
    const op = node.op;
    const id = node.id;
    if (op.kind === "conv") {
      const fanIn = (op.inChannels / op.groups) * op.kernel * op.kernel;
      state[`${id}.weight`] = formula(
        `${id}.weight`,
        [op.outChannels, op.inChannels / op.groups, op.kernel, op.kernel],
        Math.sqrt(2 / fanIn),
      );
      if (op.bias) state[`${id}.bias`] = formula(`${id}.bias`, [op.outChannels], 0.3);
    } else if (op.kind === "batchnorm") {
      const c = [op.channels];
      state[`${id}.weight`] = formula(`${id}.weight`, c, 0.3, 1);
      state[`${id}.bias`] = formula(`${id}.bias`, c, 0.3);
      state[`${id}.running_mean`] = formula(`${id}.running_mean`, c, 0.3);
      state[`${id}.running_var`] = formula(`${id}.running_var`, c, 0.3, 1);
    } else if (op.kind === "fc") {
      state[`${id}.weight`] = formula(`${id}.weight`, [op.outFeatures, op.inFeatures], 1 / Math.sqrt(op.inFeatures));
      state[`${id}.bias`] = formula(`${id}.bias`, [op.outFeatures], 0.1);
    }
  }
  return state;
}

/** The fixture's NCHW input as NHWC. */
function formulaInput(graph: ModelGraph): tf.Tensor4D {
  const [c, h, w] = graph.input;
  const nchw = formula("input", [2, c, h, w], 1);
  return tf.tidy(() => tf.transpose(tf.tensor4d(nchw.data, [2, c, h, w]), [0, 2, 3, 1]));
}

function assertClose(actual: ArrayLike<number>, expected: number[], atol: number, rtol: number, what: string): number {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    worst = Math.max(worst, err);
    assert.ok(err <= atol + rtol * Math.abs(expected[i]), `${what}[${i}]: ${actual[i]} vs PyTorch ${expected[i]}`);
  }
  return worst;
}

function graphOf(options: ResNetOptions): ModelGraph {
  return analyzeOrThrow(resnet(options));
}

function preset(name: string, overrides: Parameters<typeof presetOptions>[1] = {}): ModelGraph {
  const options = presetOptions(name, overrides);
  assert.ok(options, `preset ${name}`);
  return graphOf(options);
}

function values(model: TfModel, name: string): Float32Array {
  const v = model.params.get(name) ?? model.buffers.get(name);
  assert.ok(v, `tensor ${name}`);
  return v.dataSync() as Float32Array;
}

function std(xs: ArrayLike<number>): number {
  let mean = 0;
  for (let i = 0; i < xs.length; i++) mean += xs[i];
  mean /= xs.length;
  let sq = 0;
  for (let i = 0; i < xs.length; i++) sq += (xs[i] - mean) ** 2;
  return Math.sqrt(sq / xs.length);
}

describe("tfjs model from the graph IR", () => {
  before(async () => {
    await tf.setBackend("cpu");
    await tf.ready();
  });

  test("the fixture's frozen graphs are what today's analyser makes of their specs", () => {
    // The torch reference ran on these graphs; if the analyser drifts from them, the comparison below proves nothing
    // about today's graphs: regenerate the fixture (test/reference/makeGraphs.ts).
    for (const c of fixture.cases) {
      const frozen = c.graph as unknown as Record<string, unknown>;
      const today = JSON.parse(JSON.stringify(analyzeOrThrow(c.graph.spec))) as Record<string, unknown>;
      for (const key of Object.keys(frozen)) assert.deepEqual(today[key], frozen[key], `${c.graph.name}: ${key}`);
    }
  });

  test("matches PyTorch forward passes (eval and train mode) and running-statistics updates", () => {
    const kinds = new Set<string>();
    for (const c of fixture.cases) {
      const graph = c.graph;
      for (const n of graph.nodes) kinds.add(n.op.kind);
      const model = buildModel(graph, { seed: 1 });
      loadTorchStateDict(model, formulaState(graph));
      const x = formulaInput(graph);
      const evalLogits = model.apply(x, "eval");
      assert.deepEqual(evalLogits.shape, c.evalLogits.shape);
      assertClose(evalLogits.dataSync(), c.evalLogits.data, LOGIT_ATOL, LOGIT_RTOL, `${graph.name} eval logits`);
      const trainLogits = model.apply(x, "train");
      assertClose(trainLogits.dataSync(), c.trainLogits.data, LOGIT_ATOL, LOGIT_RTOL, `${graph.name} train logits`);
      for (const [name, expected] of Object.entries(c.runningAfterTrain)) {
        assertClose(values(model, name), expected.data, STATS_TOL, STATS_TOL, `${graph.name} ${name}`);
      }
      tf.dispose([x, evalLogits, trainLogits]);
      model.dispose();
    }
    // The fixture covers every op but dropout (random in train mode; tested below).
    for (const kind of [
      "input",
      "conv",
      "batchnorm",
      "relu",
      "sigmoid",
      "maxpool",
      "globalavgpool",
      "fc",
      "padshortcut",
      "add",
    ]) {
      assert.ok(kinds.has(kind), `fixture covers ${kind}`);
    }
  });

  // A second check of option A's padding side, on the runtime alone: the paper's CIFAR shortcut keeps every
  // stride-th pixel and pads the new channels with zeros, half before and half after (4 → 8 channels: 2 and 2).
  test("option A's shortcut: every other pixel, the old channels in the middle, zeros on both sides", () => {
    const graph = analyzeOrThrow(
      resnet({
        input: [3, 8, 8],
        stem: "cifar",
        stages: [
          { channels: 4, blocks: 1 },
          { channels: 8, blocks: 1, stride: 2 },
        ],
        shortcut: "A",
        classes: 3,
      }),
    );
    const shortcut = graph.nodes.find((n) => n.id === "layer2.0.shortcut")!;
    const model = buildModel(graph, { seed: 2 }) as GraphModel;
    const seen = new Map<string, tf.Tensor>();
    const x = tf.randomNormal<tf.Rank.R4>([2, 8, 8, 3], 0, 1, "float32", 9);
    const logits = model.run(x, "eval", {
      hooks: {
        node: (id, output) => {
          if (id === shortcut.id || id === shortcut.inputs[0]) seen.set(id, tf.keep(output.clone()));
          return output;
        },
      },
    });
    const input = seen.get(shortcut.inputs[0])!.arraySync() as number[][][][];
    const output = seen.get(shortcut.id)!.arraySync() as number[][][][];
    assert.deepEqual([output.length, output[0].length, output[0][0].length, output[0][0][0].length], [2, 4, 4, 8]);
    for (let n = 0; n < 2; n++)
      for (let i = 0; i < 4; i++)
        for (let j = 0; j < 4; j++) {
          const expected = [0, 0, ...input[n][2 * i][2 * j], 0, 0];
          assert.deepEqual(output[n][i][j], expected, `sample ${n}, pixel (${i}, ${j})`);
        }
    tf.dispose([x, logits, ...seen.values()]);
    model.dispose();
  });

  test("state_dict round trip in PyTorch layouts", () => {
    const graph = fixture.cases[1].graph;
    const model = buildModel(graph, { seed: 1 });
    const state = formulaState(graph);
    loadTorchStateDict(model, state);
    const back = torchStateDict(model);
    for (const [name, t] of Object.entries(state)) {
      assert.deepEqual(back[name].shape, t.shape, name);
      assert.deepEqual(Array.from(back[name].data), Array.from(t.data), name);
    }
    assert.throws(
      () => loadTorchStateDict(model, { "nope.weight": { shape: [1], data: [0] } }),
      /"nope\.weight" has no matching parameter/,
    );
    assert.throws(
      () => loadTorchStateDict(model, { "fc.bias": { shape: [7], data: new Float32Array(7) } }),
      /does not fit parameter/,
    );
    model.dispose();
  });

  test("seeded initialisation: reproducible, Kaiming fan_out for convs, PyTorch defaults for fc, BN γ=1 β=0", () => {
    const graph = preset("resnet20", { classes: 10 });
    const a = buildModel(graph, { seed: 7 });
    const b = buildModel(graph, { seed: 7 });
    const c = buildModel(graph, { seed: 8 });
    for (const name of a.params.keys()) assert.deepEqual(values(a, name), values(b, name), name);
    assert.notDeepEqual(values(a, "layer1.0.conv1.weight"), values(c, "layer1.0.conv1.weight"));

    let total = 0;
    for (const v of a.params.values()) total += v.size;
    assert.equal(total, graph.totals.params, "parameter count equals the graph's");

    // layer3 convs: 64 out channels, 3×3 → std √(2/576) ≈ 0.0589; 36864 samples, so ±3%.
    const w = values(a, "layer3.1.conv2.weight");
    assert.ok(Math.abs(std(w) / kaimingNormalStd(64, 3) - 1) < 0.03, `conv std ${std(w)}`);
    // fc: U(±1/√64).
    const fc = values(a, "fc.weight");
    const bound = 1 / 8;
    assert.ok(fc.every((v) => Math.abs(v) <= bound));
    assert.ok(Math.abs(std(fc) - bound / Math.sqrt(3)) < (0.15 * bound) / Math.sqrt(3));
    assert.ok(values(a, "layer1.0.bn1.weight").every((v) => v === 1));
    assert.ok(values(a, "layer1.0.bn1.bias").every((v) => v === 0));
    assert.ok(values(a, "layer1.0.bn1.running_var").every((v) => v === 1));
    [a, b, c].forEach((m) => m.dispose());

    // Zero-init residual: the last BN of each branch starts with γ = 0.
    const zero = buildModel(preset("resnet20", { zeroInitResidual: true }), { seed: 1 });
    assert.ok(values(zero, "layer2.1.bn2.weight").every((v) => v === 0));
    assert.ok(values(zero, "layer2.1.bn1.weight").every((v) => v === 1));
    zero.dispose();

    // Without BN, convs have biases with PyTorch's default U(±1/√fan_in); gate convs start at the variant's bias.
    const noBn = buildModel(
      graphOf({ input: [3, 8, 8], stem: "cifar", norm: "none", stages: [{ channels: 4, blocks: 1 }] }),
      { seed: 1 },
    );
    const convBias = values(noBn, "layer1.0.conv1.bias");
    assert.ok(convBias.every((v) => Math.abs(v) <= 1 / Math.sqrt(4 * 9)) && std(convBias) > 0);
    noBn.dispose();
    const gated = buildModel(
      graphOf({
        input: [3, 8, 8],
        stem: "cifar",
        shortcutVariant: { kind: "exclusiveGating", gateBias: -6 },
        stages: [{ channels: 4, blocks: 1 }],
      }),
      { seed: 1 },
    );
    assert.ok(values(gated, "layer1.0.gate.bias").every((v) => v === -6));
    gated.dispose();
  });

  test("every preset family and shortcut variant builds and runs with the graph's output shape", () => {
    const graphs: ModelGraph[] = [
      preset("resnet18", { input: [3, 32, 32], classes: 7 }),
      // Bottleneck + grouped 3×3 (ResNeXt-style) after the ImageNet stem, kept small for the cpu backend.
      graphOf({
        input: [3, 32, 32],
        stem: "imagenet",
        block: "bottleneck",
        groups: 4,
        widthPerGroup: 32,
        stages: [
          { channels: 8, blocks: 1 },
          { channels: 16, blocks: 1, stride: 2 },
        ],
      }),
      preset("resnet20", { shortcut: "A" }),
      preset("resnet20", { shortcut: "C", preActivation: true }),
      preset("plain20", { norm: "none" }),
      ...(["identity", "constantScaling", "exclusiveGating", "shortcutOnlyGating", "conv1x1", "dropout"] as const).map(
        (kind) =>
          graphOf({
            input: [3, 8, 8],
            stem: "cifar",
            shortcutVariant: kind,
            stages: [
              { channels: 4, blocks: 1 },
              { channels: 8, blocks: 1, stride: 2 },
            ],
          }),
      ),
    ];
    for (const graph of graphs) {
      const model = buildModel(graph, { seed: 1 });
      const [c, h, w] = graph.input;
      const x = tf.randomNormal<tf.Rank.R4>([2, h, w, c], 0, 1, "float32", 3);
      const before = tf.memory().numTensors;
      for (const mode of ["train", "eval"] as const) {
        const y = model.apply(x, mode);
        assert.deepEqual(y.shape, [2, ...graph.output], `${graph.name} ${mode}`);
        assert.ok(Array.from(y.dataSync()).every(Number.isFinite), `${graph.name} ${mode} finite`);
        y.dispose();
      }
      assert.equal(tf.memory().numTensors, before, `${graph.name}: apply leaks nothing`);
      x.dispose();
      model.dispose();
    }
  });

  test("train mode updates BN running statistics with momentum 0.1 and unbiased variance; eval mode does not", () => {
    const graph = graphOf({ input: [2, 4, 4], stem: "cifar", stages: [{ channels: 4, blocks: 1 }] });
    const model = buildModel(graph, { seed: 2 });
    const x = tf.randomNormal<tf.Rank.R4>([3, 4, 4, 2], 0, 1, "float32", 9);
    tf.dispose(model.apply(x, "eval"));
    assert.ok(
      values(model, "bn1.running_mean").every((v) => v === 0),
      "eval leaves stats",
    );
    // The stem BN's input is conv1(x); compute its batch moments independently.
    const conv = tf.conv2d(x, model.params.get("conv1.weight") as tf.Tensor4D, 1, 1);
    const { mean, variance } = tf.moments(conv, [0, 1, 2]);
    const n = 3 * 4 * 4;
    tf.dispose(model.apply(x, "train"));
    assertClose(
      values(model, "bn1.running_mean"),
      Array.from(mean.dataSync()).map((m) => 0.1 * m),
      1e-6,
      1e-5,
      "running_mean",
    );
    assertClose(
      values(model, "bn1.running_var"),
      Array.from(variance.dataSync()).map((v) => 0.9 + 0.1 * v * (n / (n - 1))),
      1e-6,
      1e-5,
      "running_var",
    );
    tf.dispose([x, conv, mean, variance]);
    model.dispose();
  });

  test("dropout on the shortcut: identity in eval mode, drops and rescales in train mode", () => {
    const graph = graphOf({
      input: [3, 8, 8],
      stem: "cifar",
      shortcutVariant: { kind: "dropout", rate: 0.5 },
      stages: [{ channels: 4, blocks: 1 }],
    });
    const model = buildModel(graph, { seed: 1 });
    const x = tf.randomNormal<tf.Rank.R4>([4, 8, 8, 3], 0, 1, "float32", 1);
    const gm = model as unknown as { run(x: tf.Tensor4D, mode: "train" | "eval", o: object): tf.Tensor2D };
    const seen: Record<string, tf.Tensor> = {};
    const capture = (mode: "train" | "eval") =>
      tf.tidy(() => {
        gm.run(x, mode, {
          updateStats: false,
          hooks: {
            node: (id: string, out: tf.Tensor) => {
              if (id === "relu" || id === "layer1.0.shortcut_dropout") seen[id + mode] = tf.keep(out.clone());
              return out;
            },
          },
        });
      });
    capture("eval");
    capture("train");
    assert.deepEqual(seen["layer1.0.shortcut_dropouteval"].dataSync(), seen["relueval"].dataSync());
    const kept = seen["layer1.0.shortcut_dropouttrain"].dataSync();
    const input = seen["relutrain"].dataSync();
    let positive = 0;
    let dropped = 0;
    for (let i = 0; i < input.length; i++) {
      if (input[i] <= 0) continue;
      positive++;
      if (kept[i] === 0) dropped++;
      else assert.ok(Math.abs(kept[i] - 2 * input[i]) < 1e-5, "kept values scaled by 1/(1−rate)");
    }
    assert.ok(Math.abs(dropped / positive - 0.5) < 0.1, `dropped fraction ${dropped / positive}`);
    tf.dispose(Object.values(seen));
    x.dispose();
    model.dispose();
  });

  test("clear errors for a wrong input shape and a disposed model; dispose frees every variable", () => {
    const graph = graphOf({ input: [3, 8, 8], stem: "cifar", stages: [{ channels: 4, blocks: 1 }] });
    const before = tf.memory().numTensors;
    const model = buildModel(graph, { seed: 1 });
    const wrong = tf.zeros<tf.Rank.R4>([1, 8, 8, 1]);
    assert.throws(() => model.apply(wrong, "eval"), /expects NHWC input \[N, 8, 8, 3\], got \[1, 8, 8, 1\]/);
    model.dispose();
    assert.throws(() => model.apply(wrong, "eval"), /has been disposed/);
    wrong.dispose();
    assert.equal(tf.memory().numTensors, before);
  });
});

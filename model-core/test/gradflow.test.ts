/**
 * Gradient flow checked against central finite differences on a tiny net (cpu backend, float32).
 *
 * Tolerance: float32 losses near 2 carry ~2e-7 rounding, so a central difference with step h has an absolute error of
 * ~2e-7/h per element, plus O(h²) truncation, plus a large error whenever the step pushes a pre-activation across a
 * ReLU kink (a parameter step moves a whole channel, so that happens; measured: a BN β element at h = 1e-3 read
 * 0.00286 against 0.00636 at h = 3e-4 and autodiff 0.00641). So every element is differenced at up to three step sizes
 * and the estimate nearest to autodiff is kept: a wrong gradient does not agree at any step by accident, a kink
 * spoils only the larger steps. Per element: |autodiff − fd| ≤ 1e-3 + 5e-2·|fd|; statistics (l2, mean|g|, max|g|) of the tensor then match with
 * relative tolerance 2e-2. Activations try h = 3e-3, 1e-3, 3e-4 (BN after a conv divides by the channel's small σ,
 * so an output step is amplified), parameters h = 1e-3, 3e-4, 1e-4; the next step is only tried on disagreement. The batch is 2 so every element can be probed.
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import { analyzeOrThrow } from "../src/analysis/analyze";
import { resnet } from "../src/spec/builders";
import type { ModelGraph } from "../src/analysis/graph";
import type { TensorStats } from "../src/analysis/gradflow";
import type { ResNetOptions } from "../src/spec/types";
import { buildModel, GraphModel } from "../src/runtime/model";
import { crossEntropy, gradientFlow, gradientFlowTable, laneEdges, ratioEnds } from "../src/runtime/gradflow";
import { SeededRng } from "../src/data/rng";

const ACTIVATION_STEPS = [3e-3, 1e-3, 3e-4];
const PARAM_STEPS = [1e-3, 3e-4, 1e-4];
const STATS_RTOL = 2e-2;

function graphOf(options: ResNetOptions): ModelGraph {
  return analyzeOrThrow(resnet(options));
}

/** Two blocks: an identity one and a stride-2 projection one, so both shortcut kinds are measured. */
function tinyOptions(extra: Partial<ResNetOptions> = {}): ResNetOptions {
  return {
    name: "tiny",
    input: [3, 8, 8],
    stem: "cifar",
    stages: [
      { channels: 4, blocks: 1 },
      { channels: 8, blocks: 1, stride: 2 },
    ],
    shortcut: "B",
    classes: 5,
    ...extra,
  };
}

function seededInput(shape: [number, number, number, number], seed: number): tf.Tensor4D {
  const rng = new SeededRng(seed);
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < values.length; i++) values[i] = rng.normal();
  return tf.tensor4d(values, shape);
}

function statsOf(values: ArrayLike<number>): TensorStats {
  let sq = 0;
  let abs = 0;
  let max = 0;
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i]);
    sq += a * a;
    abs += a;
    max = Math.max(max, a);
  }
  return { l2: Math.sqrt(sq), meanAbs: abs / values.length, maxAbs: max };
}

function assertStatsClose(actual: TensorStats, expected: TensorStats, what: string): void {
  for (const key of ["l2", "meanAbs", "maxAbs"] as const) {
    const err = Math.abs(actual[key] - expected[key]);
    assert.ok(
      err <= STATS_RTOL * Math.abs(expected[key]) + 1e-6,
      `${what} ${key}: autodiff ${actual[key]} vs finite differences ${expected[key]}`,
    );
  }
}

interface Perturbation {
  /** "node:<id>" perturbs a node's output, "edge:<consumer>#<index>" one input edge. */
  target: string;
  shape: number[];
}

/** Loss with `delta` added to element `index` of the target tensor (or no perturbation). */
function perturbedLoss(
  model: GraphModel,
  x: tf.Tensor4D,
  labels: tf.Tensor1D,
  p: Perturbation | null,
  index: number,
  delta: number,
): number {
  return tf.tidy(() => {
    const bump = (t: tf.Tensor) => {
      const buffer = tf.buffer(t.shape);
      buffer.values[index] = delta;
      return tf.add(t, buffer.toTensor());
    };
    const logits = model.run(x, "train", {
      updateStats: false,
      hooks: {
        node: (id, out) => (p && p.target === `node:${id}` ? bump(out) : out),
        edge: (node, i, input) => (p && p.target === `edge:${node.id}#${i}` ? bump(input) : input),
      },
    });
    return crossEntropy(logits, labels).dataSync()[0];
  });
}

/** dL/d(target) by autodiff through a zero probe added to the target: the per-element reference the differences check. */
function probeGradient(model: GraphModel, x: tf.Tensor4D, labels: tf.Tensor1D, p: Perturbation): Float32Array {
  const probe = tf.zeros(p.shape);
  const add = (t: tf.Tensor) => tf.add(t, probe);
  const { value, grads } = tf.engine().gradients(
    () =>
      crossEntropy(
        model.run(x, "train", {
          updateStats: false,
          hooks: {
            node: (id, out) => (p.target === `node:${id}` ? add(out) : out),
            edge: (node, i, input) => (p.target === `edge:${node.id}#${i}` ? add(input) : input),
          },
        }),
        labels,
      ),
    [probe],
  );
  const out = grads[0].dataSync() as Float32Array;
  value.dispose();
  grads[0].dispose();
  probe.dispose();
  return out;
}

/**
 * Central differences at each step size; per element the estimate nearest to `reference` (see the file comment),
 * after checking that element against it.
 */
function checkedDifferences(
  reference: ArrayLike<number>,
  steps: number[],
  lossAt: (i: number, delta: number) => number,
  what: string,
): Float64Array {
  const out = new Float64Array(reference.length);
  const disagreements: string[] = [];
  for (let i = 0; i < reference.length; i++) {
    const agrees = (fd: number) => Math.abs(fd - reference[i]) <= 1e-3 + 5e-2 * Math.abs(fd);
    let best = Number.POSITIVE_INFINITY;
    for (const h of steps) {
      const fd = (lossAt(i, h) - lossAt(i, -h)) / (2 * h);
      if (Math.abs(fd - reference[i]) < Math.abs(best - reference[i])) best = fd;
      if (agrees(best)) break;
    }
    if (!agrees(best)) disagreements.push(`${what}[${i}]: autodiff ${reference[i]} vs finite differences ${best}`);
    out[i] = best;
  }
  // A kink close enough to spoil even the smallest step (where rounding, ~2e-7/h, takes over) is rare but happens.
  assert.ok(disagreements.length <= Math.max(1, 0.02 * reference.length), disagreements.join("\n"));
  return out;
}

function finiteDifference(model: GraphModel, x: tf.Tensor4D, labels: tf.Tensor1D, p: Perturbation): Float64Array {
  const reference = probeGradient(model, x, labels, p);
  return checkedDifferences(
    reference,
    ACTIVATION_STEPS,
    (i, delta) => perturbedLoss(model, x, labels, p, i, delta),
    p.target,
  );
}

function paramFiniteDifference(model: GraphModel, x: tf.Tensor4D, labels: tf.Tensor1D, name: string): Float64Array {
  const v = model.params.get(name)!;
  const { value, grads } = tf
    .engine()
    .gradients(() => crossEntropy(model.run(x, "train", { updateStats: false }), labels), [v]);
  const reference = grads[0].dataSync().slice();
  value.dispose();
  grads[0].dispose();
  const original = v.dataSync().slice();
  const lossAt = (i: number, delta: number) => {
    const copy = original.slice();
    copy[i] += delta;
    tf.tidy(() => v.assign(tf.tensor(copy, v.shape)));
    return perturbedLoss(model, x, labels, null, 0, 0);
  };
  const out = checkedDifferences(reference, PARAM_STEPS, lossAt, name);
  tf.tidy(() => v.assign(tf.tensor(original, v.shape)));
  return out;
}

describe("gradient flow vs finite differences (cpu, float32)", () => {
  before(async () => {
    await tf.setBackend("cpu");
    await tf.ready();
  });

  test("activation, parameter and lane gradients match central differences", async () => {
    const graph = graphOf(tinyOptions());
    const model = buildModel(graph, { seed: 3 }) as GraphModel;
    const x = seededInput([2, 8, 8, 3], 11);
    const labels = tf.tensor1d([1, 4], "int32");
    const result = await gradientFlow(model, { x, labels });
    const byId = new Map(result.nodes.map((n) => [n.id, n]));
    const nhwc = (id: string) => {
      const s = graph.nodes.find((n) => n.id === id)!.outputShape;
      return s.length === 3 ? [2, s[1], s[2], s[0]] : [2, ...s];
    };

    // The loss itself.
    assert.ok(Math.abs(result.loss - perturbedLoss(model, x, labels, null, 0, 0)) < 1e-5);

    // Activation gradients at the input, inside a block, at block outputs, in the head.
    for (const id of ["input", "layer1.0.conv1", "layer2.0.bn2", "layer2.0.downsample.1", "avgpool", "fc"]) {
      const fd = finiteDifference(model, x, labels, { target: `node:${id}`, shape: nhwc(id) });
      assertStatsClose(byId.get(id)!.activation, statsOf(fd), `dL/d ${id}`);
    }

    // Parameter gradients: a conv weight, BN γ and β, the fc bias.
    const checks: [string, string, string][] = [
      ["layer2.0.conv1.weight", "layer2.0.conv1", "weight"],
      ["layer1.0.bn2.weight", "layer1.0.bn2", "gamma"],
      ["layer1.0.bn2.bias", "layer1.0.bn2", "beta"],
      ["fc.bias", "fc", "bias"],
    ];
    for (const [name, nodeId, role] of checks) {
      const fd = paramFiniteDifference(model, x, labels, name);
      assertStatsClose(byId.get(nodeId)!.params[role], statsOf(fd), `dL/d ${name}`);
    }

    // The identity/branch split at both Adds: each lane is one edge leaving the fork node here.
    const lanes = laneEdges(graph);
    for (const add of result.adds) {
      const edgesOf = (lane: string) =>
        [...lanes.byEdge].filter(([, l]) => l === `${add.id}#${lane}`).map(([edge]) => edge);
      const [identityEdge] = edgesOf("identity");
      const [branchEdge] = edgesOf("branch");
      assert.equal(edgesOf("identity").length, 1, `${add.id}: one shortcut edge`);
      assert.equal(edgesOf("branch").length, 1, `${add.id}: one branch edge`);
      const [consumer, index] = branchEdge.split("#");
      const forkShape = nhwc(graph.nodes.find((n) => n.id === consumer)!.inputs[Number(index)]);
      const fdIdentity = statsOf(
        finiteDifference(model, x, labels, { target: `edge:${identityEdge}`, shape: forkShape }),
      );
      const fdBranch = statsOf(finiteDifference(model, x, labels, { target: `edge:${branchEdge}`, shape: forkShape }));
      assert.ok(
        Math.abs(add.identity - fdIdentity.l2) <= STATS_RTOL * fdIdentity.l2,
        `${add.id} identity ${add.identity} vs ${fdIdentity.l2}`,
      );
      assert.ok(
        Math.abs(add.residualAtInput! - fdBranch.l2) <= STATS_RTOL * fdBranch.l2,
        `${add.id} branch ${add.residualAtInput} vs ${fdBranch.l2}`,
      );
      const residualOut = statsOf(
        finiteDifference(model, x, labels, { target: `edge:${add.id}#1`, shape: nhwc(add.id) }),
      );
      assert.ok(
        Math.abs(add.residual - residualOut.l2) <= STATS_RTOL * residualOut.l2,
        `${add.id} residual ${add.residual} vs ${residualOut.l2}`,
      );
    }

    // The ratio against central differences at its two ends (the stem's ReLU output, the last block's output),
    // measured independently of the result's own per-node norms.
    const ends = ratioEnds(graph);
    assert.equal(ends.first, "relu");
    assert.equal(ends.last, "layer2.0.relu_out");
    const fdFirst = statsOf(finiteDifference(model, x, labels, { target: "node:relu", shape: nhwc("relu") })).l2;
    const fdLast = statsOf(
      finiteDifference(model, x, labels, { target: "node:layer2.0.relu_out", shape: nhwc("layer2.0.relu_out") }),
    ).l2;
    assert.ok(
      Math.abs(result.ratio.firstBlockInput - fdFirst) <= STATS_RTOL * fdFirst,
      `first ${result.ratio.firstBlockInput} vs ${fdFirst}`,
    );
    assert.ok(
      Math.abs(result.ratio.lastBlockOutput - fdLast) <= STATS_RTOL * fdLast,
      `last ${result.ratio.lastBlockOutput} vs ${fdLast}`,
    );
    const fdRatio = fdFirst / fdLast;
    assert.ok(
      Math.abs(result.ratio.value - fdRatio) <= 2 * STATS_RTOL * fdRatio,
      `ratio ${result.ratio.value} vs ${fdRatio}`,
    );

    x.dispose();
    labels.dispose();
    model.dispose();
  });

  test("one pass leaks no tensors, leaves BN running statistics alone, and reports every node", async () => {
    const graph = graphOf(tinyOptions({ shortcutVariant: "exclusiveGating" }));
    const model = buildModel(graph, { seed: 5 });
    const x = seededInput([3, 8, 8, 3], 2);
    const runningBefore = model.buffers.get("layer1.0.bn1.running_mean")!.dataSync().slice();
    const before = tf.memory().numTensors;
    const result = await gradientFlow(model, { x, labels: [0, 1, 2] });
    assert.equal(tf.memory().numTensors, before, "tensor count unchanged");
    assert.deepEqual(model.buffers.get("layer1.0.bn1.running_mean")!.dataSync(), runningBefore);
    assert.deepEqual(
      result.nodes.map((n) => n.id),
      graph.nodes.map((n) => n.id),
    );
    assert.equal(result.batch, 3);
    assert.equal(result.backend, "cpu");
    assert.equal(result.adds.length, 2);
    for (const n of result.nodes) {
      assert.ok(Number.isFinite(n.activation.l2) && n.activation.l2 > 0, `${n.id} has a gradient`);
    }
    // Gated shortcut: the gate conv's bias and weight get gradients, and the gate is part of the shortcut lane.
    assert.ok(result.nodes.find((n) => n.id === "layer1.0.gate")!.params.bias.l2 > 0);
    const lanes = laneEdges(graph);
    assert.equal(lanes.byEdge.get("layer1.0.gate#0"), "layer1.0.add#identity");
    assert.equal(lanes.byEdge.get("layer1.0.conv1#0"), "layer1.0.add#branch");
    const table = gradientFlowTable(result, graph);
    assert.match(table, /layer2\.0/);
    assert.match(table, /ratio/);
    x.dispose();
    model.dispose();
  });

  // A second check of the split at the fork, by algebra rather than finite differences: an Add passes its output
  // gradient unchanged to both inputs, an identity shortcut passes it on unchanged to the fork, and the fork's
  // gradient is the vector sum of its two lanes, so its norm obeys the triangle inequality.
  test("the split at the fork obeys the Add's and the identity's algebra and the triangle inequality", async () => {
    const graph = graphOf(
      tinyOptions({
        stages: [
          { channels: 4, blocks: 2 },
          { channels: 8, blocks: 2, stride: 2 },
        ],
      }),
    );
    const model = buildModel(graph, { seed: 5 }) as GraphModel;
    const x = seededInput([3, 8, 8, 3], 17);
    const result = await gradientFlow(model, { x, labels: [0, 2, 4] });
    const byId = new Map(result.nodes.map((n) => [n.id, n]));
    const nodeOf = (id: string) => graph.nodes.find((n) => n.id === id)!;
    const close = (a: number, b: number, what: string) =>
      assert.ok(Math.abs(a - b) <= 1e-5 * Math.max(a, b), `${what}: ${a} vs ${b}`);
    let identityBlocks = 0;
    for (const add of result.adds) {
      const atAdd = byId.get(add.id)!.activation.l2;
      close(add.residual, atAdd, `${add.id}: the branch output gets the Add's gradient`);
      const projected = graph.nodes.some((n) => n.id === `${add.block}.downsample.0`);
      if (!projected) {
        identityBlocks++;
        close(add.identity, atAdd, `${add.id}: the identity passes the Add's gradient to the fork`);
      }
      const fork = nodeOf(`${add.block}.conv1`).inputs[0];
      const atFork = byId.get(fork)!.activation.l2;
      const branch = add.residualAtInput!;
      assert.ok(atFork <= (add.identity + branch) * (1 + 1e-5), `${add.id}: ‖fork‖ ${atFork} ≤ sum of the lanes`);
      assert.ok(atFork >= Math.abs(add.identity - branch) * (1 - 1e-5), `${add.id}: ‖fork‖ ≥ their difference`);
    }
    assert.equal(result.adds.length, 4);
    assert.equal(identityBlocks, 3, "layer1.0, layer1.1 and layer2.1 keep the identity under option B");
  });

  test("lanes of pre-activation blocks fork at the shared pre-activation; eval mode runs on running statistics", async () => {
    const graph = graphOf(tinyOptions({ preActivation: true }));
    const lanes = laneEdges(graph);
    // layer1.0 (first block: shares its pre-activation, He et al. 2016): the identity reads relu1, like conv1.
    assert.equal(lanes.byEdge.get("layer1.0.add#0"), "layer1.0.add#identity");
    assert.equal(lanes.byEdge.get("layer1.0.conv1#0"), "layer1.0.add#branch");
    assert.equal(lanes.byEdge.get("layer1.0.bn1#0"), undefined);
    // layer2.0: projection reads the shared pre-activation relu1, like conv1.
    assert.equal(lanes.byEdge.get("layer2.0.downsample.0#0"), "layer2.0.add#identity");
    assert.equal(lanes.byEdge.get("layer2.0.conv1#0"), "layer2.0.add#branch");
    assert.equal(lanes.byEdge.get("layer2.0.bn1#0"), undefined);

    const model = buildModel(graph, { seed: 4 });
    const x = seededInput([2, 8, 8, 3], 5);
    const train = await gradientFlow(model, { x, labels: [0, 1] });
    const evaluated = await gradientFlow(model, { x, labels: [0, 1] }, { mode: "eval" });
    assert.notEqual(train.loss, evaluated.loss, "eval uses running statistics, not batch statistics");
    for (const r of [train, evaluated]) {
      for (const add of r.adds) assert.ok(add.identity > 0 && add.residual > 0 && add.residualAtInput! > 0, add.id);
    }
    x.dispose();
    model.dispose();
  });

  test("bad labels give a clear error and free what was allocated", async () => {
    const graph = graphOf(tinyOptions());
    const model = buildModel(graph, { seed: 1 });
    const x = seededInput([2, 8, 8, 3], 1);
    const before = tf.memory().numTensors;
    await assert.rejects(gradientFlow(model, { x, labels: [0, 7] }), /label 7 is not a class index in 0\.\.4/);
    await assert.rejects(gradientFlow(model, { x, labels: [0] }), /1 labels for a batch of 2/);
    assert.equal(tf.memory().numTensors, before);
    x.dispose();
    model.dispose();
  });
});

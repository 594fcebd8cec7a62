// The learning-rate schedule of the Python runner against the TypeScript trainer (issue 18): the same short runs
// (cosine with warm-up and a floor, step with milestones, and an epoch capped by samplesPerEpoch) through train() on
// tfjs and trainOnTorch(), comparing the rate of every step. A cosine one epoch short in the runner fails here.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { initBackend } from "../src/runtime/backend";
import { buildModel } from "../src/runtime/model";
import { train } from "../src/runtime/train";
import { stopTorchWorkers } from "../src/runtime/torchWorker";
import { trainOnTorch } from "../src/runtime/torchBackend";
import { syntheticDataset } from "../src/data/synthetic";
import type { TrainConfig } from "../src/runtime/trainTypes";
import { tinyConfig, tinyGraph } from "./trainHelpers";
import { needsTorch, python } from "./torchHelpers";

before(async () => {
  await initBackend("cpu");
});
after(() => stopTorchWorkers("tests done"));

const graph = tinyGraph();
const data = { train: syntheticDataset({ count: 40, classes: 3, seed: 1, shape: [1, 8, 8] }), val: null };

/** The rate of every step by global step, as the step events report it. */
async function ratesOnTfjs(config: TrainConfig): Promise<number[]> {
  const model = buildModel(graph, { seed: config.seed });
  const rates: number[] = [];
  try {
    await train({
      model,
      data,
      config,
      onEvent: (e) => (e.type === "step" ? (rates[e.globalStep - 1] = e.lr) : undefined),
    });
  } finally {
    model.dispose();
  }
  return rates;
}

async function ratesOnTorch(config: TrainConfig): Promise<number[]> {
  const rates: number[] = [];
  await trainOnTorch({
    graph,
    data,
    config,
    python,
    device: "cpu",
    threads: 1,
    onEvent: (e) => (e.type === "step" ? (rates[e.globalStep - 1] = e.lr) : undefined),
  });
  return rates;
}

const schedules: [string, Partial<TrainConfig>][] = [
  ["cosine with a warm-up epoch and a floor", { schedule: { kind: "cosine", warmupEpochs: 1, minLr: 1e-3 } }],
  ["step at epochs 1 and 2", { schedule: { kind: "step", milestones: [1, 2], gamma: 0.1 } }],
  ["cosine, epochs capped by samplesPerEpoch", { schedule: { kind: "cosine" }, samplesPerEpoch: 16 }],
];

for (const [name, overrides] of schedules) {
  test(`the runner's learning rate equals the trainer's at every step: ${name}`, async (t) => {
    if (!needsTorch(t)) return;
    const config = tinyConfig({ epochs: 3, batchSize: 8, lr: 0.1, optimizer: "sgd", valFraction: 0.2, ...overrides });
    const ours = await ratesOnTfjs(config);
    const theirs = await ratesOnTorch(config);
    assert.ok(ours.length >= 6, `${ours.length} steps`);
    assert.equal(theirs.length, ours.length);
    ours.forEach((lr, i) => {
      assert.ok(
        Math.abs(lr - theirs[i]) <= 1e-12 * Math.max(1, lr),
        `step ${i + 1}: ${lr} (tfjs) vs ${theirs[i]} (torch)`,
      );
    });
    // The schedule moves: a constant rate would pass the comparison without testing it.
    assert.ok(new Set(ours).size >= 3, `rates ${ours.join(", ")}`);
  });
}

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "../src/runtime/backend";
import { trainOnTorch, writeDataset } from "../src/runtime/torchBackend";
import { train } from "../src/runtime/train";
import { buildModel } from "../src/runtime/model";
import { BatchAdapter } from "../src/data/dataset";
import { resolveDataset } from "../src/data/resolve";
import { writeTree, type ImageSpec } from "./datasetFixtures";
import { tinyConfig, tinyGraph } from "./trainHelpers";
import { needsTorch, python } from "./torchHelpers";

/** 3 classes × 8 images, PNG and JPEG at assorted sizes: an RGB ImageFolder with a val/ split. */
function writeColourFolder(root: string): void {
  const files: Record<string, ImageSpec> = {};
  ["red", "green", "blue"].forEach((name, c) => {
    for (let i = 0; i < 8; i++) {
      const set = i < 6 ? "train" : "val";
      files[`${set}/${name}/${i}.${i % 2 ? "jpg" : "png"}`] = {
        format: i % 2 ? "jpeg" : "png",
        width: 10 + i,
        height: 12,
        seed: c * 20 + i,
      };
    }
  });
  writeTree(root, files);
}

test("imagefolder on both backends: the runner's image file is the cache's bytes, and an epoch trains on each", async (t) => {
  if (!needsTorch(t)) return;
  const root = mkdtempSync(join(tmpdir(), "rs-torch-data-"));
  try {
    writeColourFolder(root);
    const graph = tinyGraph({ input: [3, 8, 8], classes: 3 });
    const data = await resolveDataset(`imagefolder:${root}`, { input: [3, 8, 8], classes: 3, seed: 1 });
    assert.equal(data.train.count, 18);
    assert.equal(data.val?.count, 6);

    // What the torch runner reads is byte for byte what the cache holds after its header (train images first).
    const cache = readFileSync(join(root, ".resnet-studio-3x8x8.cache"));
    const body = cache.subarray(12 + cache.readUInt32LE(8));
    const files = writeDataset(data.train, new BatchAdapter(data.train, graph.spec.input), root, "train");
    assert.deepEqual(readFileSync(files.images), body.subarray(0, 18 * 3 * 8 * 8));
    assert.deepEqual(Buffer.from(data.train.images), body.subarray(0, 18 * 3 * 8 * 8));

    const config = tinyConfig({ epochs: 1, batchSize: 6, workers: 1 });
    const onTorch = await trainOnTorch({ graph, data, config, python, device: "cpu" });
    await initBackend("cpu");
    const model = buildModel(graph, { seed: config.seed });
    const onWasm = await train({ model, data, config });
    model.dispose();
    for (const result of [onTorch, onWasm]) {
      assert.equal(result.reason, "completed");
      assert.equal(result.history.length, 1);
      assert.equal(result.history[0].valSamples, 6);
    }
    // Same weights, data, order and normalisation: the first epoch's training loss agrees across backends.
    assert.ok(
      Math.abs(onTorch.history[0].loss - onWasm.history[0].loss) < 1e-3 * Math.max(1, onWasm.history[0].loss),
      `torch ${onTorch.history[0].loss} vs wasm ${onWasm.history[0].loss}`,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

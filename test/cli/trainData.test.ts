import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeIdxFolder } from "../../model-core/test/datasetFixtures";
import { runCliFromSource } from "./harness";

test("train --dataset idx:<dir>: the spec takes the folder's shape and classes, t10k validates, an epoch finishes", () => {
  const root = mkdtempSync(join(tmpdir(), "rs-cli-idx-"));
  try {
    const labels = Array.from({ length: 48 }, (_, i) => i % 4);
    const { dir } = writeIdxFolder(root, "tiny-idx", { gzip: true, side: 8, train: labels, t10k: labels.slice(0, 12) });
    const run = runCliFromSource([
      "train",
      "examples/small.resnet.ts",
      "--dataset",
      `idx:${dir}`,
      "--epochs",
      "1",
      "--batch",
      "16",
      "--backend",
      "cpu",
    ]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /input 1×28×28 → 1×8×8 \(tiny-idx's images\)/);
    assert.match(run.stderr, /classes 10 → 4 \(tiny-idx's labels\)/);
    assert.match(run.stderr, /on tiny-idx: 48 train \/ 12 val images/);
    assert.match(run.stderr, /epoch 1\/1: loss [\d.]+ acc [\d.]+% \| val loss [\d.]+ val acc [\d.]+%/);
    assert.match(run.stdout, /Small ResNet \(MNIST\) on tiny-idx \(cpu\): done after 1 epoch/);

    const bad = runCliFromSource(["train", "examples/small.resnet.ts", "--dataset", `idx:${join(root, "none")}`]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /none: no such folder \(idx:<dir>\)/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /, "no stack trace");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

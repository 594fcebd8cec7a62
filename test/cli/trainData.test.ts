import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeIdxFolder, writeTree, type ImageSpec } from "../../model-core/test/datasetFixtures";
import { runCliFromSource } from "./harness";

const tempRoot = () => mkdtempSync(join(tmpdir(), "rs-cli-data-"));

test("train --dataset idx:<dir>: the spec takes the folder's shape and classes, t10k validates, an epoch finishes", () => {
  const root = tempRoot();
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

test("train --dataset imagefolder:<dir>: decoded once to the spec's channels at size=, cached for the next run", () => {
  const root = tempRoot();
  try {
    const files: Record<string, ImageSpec> = {};
    for (let i = 0; i < 12; i++) {
      files[`photos/apple/${i}.png`] = { format: "png", width: 20 + i, height: 16, seed: i };
      files[`photos/pear/${i}.jpg`] = { format: "jpeg", width: 16, height: 18 + i, seed: 40 + i };
    }
    writeTree(root, files);
    writeTree(root, { "photos/pear/notes.txt": "skipped" });
    const dir = join(root, "photos");
    const args = ["train", "examples/small.resnet.ts", "--dataset", `imagefolder:${dir}:size=8`, "--epochs", "1"];
    const first = runCliFromSource([...args, "--batch", "8", "--val-fraction", "0.25", "--backend", "cpu"]);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stderr, /input 1×28×28 → 1×8×8 \(photos's images\)/);
    assert.match(first.stderr, /classes 10 → 2 \(photos's labels\)/);
    assert.match(first.stderr, /skipped 1 file that is not \.png, \.jpg or \.jpeg \(pear\/notes\.txt\)/);
    assert.match(first.stderr, /decoded the images into .*photos\/\.resnet-studio-1x8x8\.cache/);
    assert.match(first.stderr, /on photos: 18 train \/ 6 val images/);
    assert.match(first.stdout, /done after 1 epoch/);
    const second = runCliFromSource([...args, "--batch", "8", "--val-fraction", "0.25", "--backend", "cpu"]);
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stderr, /read the decoded images from .*\.resnet-studio-1x8x8\.cache/);
    assert.doesNotMatch(second.stderr, /decoding images/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/**
 * The training view's dataset preview: its bounds (classes shown, thumbnail size), the nearest-neighbour shrink, and
 * how the `preview` training event folds into the training state (before `started`, not carried into the next run).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ImageDataset } from "../src/data/dataset";
import { previewForView, previewSamples, shrinkImage, shrunkSize, VIEW_PREVIEW } from "../src/data/preview";
import { applyTrainingEvent, EMPTY_TRAINING } from "../src/protocol";

/** `count` images of `height` × `width` × `channels`, image i filled with the value i, labels i mod `classes`. */
function dataset(count: number, classes: number, height: number, width: number, channels: number): ImageDataset {
  const size = height * width * channels;
  const images = new Uint8Array(count * size);
  for (let i = 0; i < count; i++) images.fill(i % 256, i * size, (i + 1) * size);
  return {
    name: "made",
    images,
    labels: Uint8Array.from({ length: count }, (_, i) => i % classes),
    count,
    height,
    width,
    channels,
    classes,
    classNames: Array.from({ length: classes }, (_, i) => `class${i}`),
    mean: new Array<number>(channels).fill(0.5),
    std: new Array<number>(channels).fill(0.25),
  };
}

test("previewSamples with maxClasses: samples of the first classes only, counts of every class", () => {
  const data = dataset(60, 20, 2, 2, 1);
  const preview = previewSamples(data, 2, 3);
  assert.deepEqual(
    preview.samples.map((s) => [s.index, s.label]),
    [
      [0, 0],
      [20, 0],
      [1, 1],
      [21, 1],
      [2, 2],
      [22, 2],
    ],
  );
  assert.equal(preview.classCounts.length, 20);
  assert.ok(preview.classCounts.every((c) => c === 3));
  assert.deepEqual(Array.from(preview.samples[1].pixels), [20, 20, 20, 20]);
});

test("shrinkImage: nearest neighbour to at most maxSide, aspect kept; an image that fits is returned as it is", () => {
  // 4 × 6 RGB, pixel (y, x) = [10y + x, 100 + 10y + x, 200].
  const pixels = new Uint8Array(4 * 6 * 3);
  for (let y = 0; y < 4; y++)
    for (let x = 0; x < 6; x++) pixels.set([10 * y + x, 100 + 10 * y + x, 200], (y * 6 + x) * 3);
  const small = shrinkImage(pixels, 4, 6, 3, 3);
  assert.deepEqual([small.height, small.width], [2, 3]);
  assert.deepEqual(shrunkSize(4, 6, 3), { height: 2, width: 3 });
  // Rows 1 and 3, columns 1, 3, 5: the pixel under each output pixel's centre.
  assert.deepEqual(
    Array.from(small.pixels),
    [11, 111, 200, 13, 113, 200, 15, 115, 200, 31, 131, 200, 33, 133, 200, 35, 135, 200],
  );
  assert.equal(shrinkImage(pixels, 4, 6, 3, 6).pixels, pixels);
  assert.deepEqual(shrunkSize(1, 1000, 64), { height: 1, width: 64 });
});

test("previewForView: at most VIEW_PREVIEW's classes and samples, thumbnails no larger than its side, notes kept", () => {
  const big = dataset(100, 50, 128, 96, 3);
  const preview = previewForView(big, ["skipped 2 files"]);
  const shownClasses = new Set(preview.samples.map((s) => s.label));
  assert.equal(shownClasses.size, VIEW_PREVIEW.maxClasses);
  assert.equal(preview.samples.length, VIEW_PREVIEW.maxClasses * 2, "each class has 2 images");
  assert.deepEqual(preview.thumbnail, { height: 64, width: 48 });
  for (const s of preview.samples) {
    assert.equal(s.pixels.length, 64 * 48 * 3);
    assert.ok(
      s.pixels.every((v) => v === s.index),
      "a sample's thumbnail is its own image",
    );
  }
  assert.equal(preview.classCounts.length, 50);
  assert.deepEqual([preview.height, preview.width, preview.channels], [128, 96, 3]);
  assert.deepEqual(preview.notes, ["skipped 2 files"]);

  const digits = previewForView(dataset(40, 10, 28, 28, 1));
  assert.equal(digits.thumbnail, undefined, "28×28 is shown as stored");
  assert.equal(digits.notes, undefined);
  assert.equal(digits.samples.length, 40);
});

test("the preview event starts a run's state; started keeps it; the next run does not inherit it", () => {
  const preview = previewForView(dataset(8, 2, 2, 2, 1));
  const finished = applyTrainingEvent(
    { ...EMPTY_TRAINING, status: "finished", model: "old", history: [] },
    { kind: "finished", cancelled: false, millis: 10 },
  );
  const loaded = applyTrainingEvent(finished, { kind: "preview", preview });
  assert.equal(loaded.status, "running");
  assert.equal(loaded.model, null, "the old run's fields are gone");
  assert.equal(loaded.dataset, "made");
  assert.equal(loaded.preview, preview);
  const started = applyTrainingEvent(loaded, {
    kind: "started",
    model: "m",
    dataset: "made",
    backend: "cpu",
    epochs: 1,
    batch: 4,
  });
  assert.equal(started.preview, preview);
  assert.equal(started.model, "m");
  const done = applyTrainingEvent(started, { kind: "finished", cancelled: false, millis: 5 });
  assert.equal(done.preview, preview, "the finished run still shows its data");
  const next = applyTrainingEvent(done, {
    kind: "started",
    model: "m",
    dataset: "other",
    backend: "cpu",
    epochs: 1,
    batch: 4,
  });
  assert.equal(next.preview, null);
});

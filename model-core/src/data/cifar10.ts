/**
 * CIFAR-10 in its official binary format (Krizhevsky 2009): data_batch_1.bin … data_batch_5.bin and test_batch.bin,
 * each a run of 3073-byte records: 1 label byte, then 1024 red, 1024 green, 1024 blue bytes (CHW, row-major 32×32).
 * Optionally downloads the official archive, checking its md5.
 */
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { DatasetError, type ImageDataset } from "./dataset";

export const CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
export const CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530";
export const CIFAR10_CLASSES = [
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
];
export const CIFAR10_TRAIN_FILES = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);
export const CIFAR10_TEST_FILE = "test_batch.bin";
/** Per-channel mean/std of the CIFAR-10 training set (pixel/255), the usual normalisation constants. */
const CIFAR10_MEAN = [0.4914, 0.4822, 0.4465];
const CIFAR10_STD = [0.247, 0.2435, 0.2616];
const SIDE = 32;
const RECORD_BYTES = 1 + 3 * SIDE * SIDE;

/** The folder that holds the .bin files: `dir` itself or the archive's `cifar-10-batches-bin` inside it. */
export function findCifar10Folder(dir: string): string | null {
  for (const candidate of [dir, join(dir, "cifar-10-batches-bin")]) {
    if (
      existsSync(candidate) &&
      [...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE].some((f) => existsSync(join(candidate, f)))
    )
      return candidate;
  }
  return null;
}

/** Decodes record files into one NHWC dataset. */
export function parseCifar10Files(files: string[], name: string): ImageDataset {
  const buffers = files.map((file) => {
    const bytes = readFileSync(file);
    if (bytes.length === 0 || bytes.length % RECORD_BYTES !== 0) {
      throw new DatasetError(
        `${file}: ${bytes.length} bytes is not a whole number of CIFAR-10 records (${RECORD_BYTES} bytes each)`,
      );
    }
    return { file, bytes };
  });
  const count = buffers.reduce((n, b) => n + b.bytes.length / RECORD_BYTES, 0);
  const images = new Uint8Array(count * SIDE * SIDE * 3);
  const labels = new Uint8Array(count);
  let image = 0;
  for (const { file, bytes } of buffers) {
    for (let r = 0; r < bytes.length; r += RECORD_BYTES, image++) {
      const label = bytes[r];
      if (label > 9)
        throw new DatasetError(`${file}: record ${r / RECORD_BYTES} has label ${label}, CIFAR-10 labels are 0..9`);
      labels[image] = label;
      const out = image * SIDE * SIDE * 3;
      for (let p = 0; p < SIDE * SIDE; p++) {
        images[out + p * 3] = bytes[r + 1 + p];
        images[out + p * 3 + 1] = bytes[r + 1 + SIDE * SIDE + p];
        images[out + p * 3 + 2] = bytes[r + 1 + 2 * SIDE * SIDE + p];
      }
    }
  }
  return {
    name,
    images,
    labels,
    count,
    height: SIDE,
    width: SIDE,
    channels: 3,
    classes: 10,
    classNames: [...CIFAR10_CLASSES],
    mean: [...CIFAR10_MEAN],
    std: [...CIFAR10_STD],
  };
}

/** The training batches (whichever of the five exist) and the test batch, if present. */
export function loadCifar10(dir: string): { train: ImageDataset; test: ImageDataset | null } {
  const folder = findCifar10Folder(dir);
  if (!folder) {
    throw new DatasetError(
      `${dir}: no CIFAR-10 binary files (expected ${CIFAR10_TRAIN_FILES[0]} … ${CIFAR10_TEST_FILE}); ` +
        `download ${CIFAR10_URL} and extract it there, or pass --download`,
    );
  }
  const trainFiles = CIFAR10_TRAIN_FILES.map((f) => join(folder, f)).filter((f) => existsSync(f));
  const testFile = join(folder, CIFAR10_TEST_FILE);
  const hasTest = existsSync(testFile);
  if (trainFiles.length === 0)
    throw new DatasetError(`${folder}: no training batch (${CIFAR10_TRAIN_FILES.join(", ")})`);
  return {
    train: parseCifar10Files(trainFiles, "cifar10"),
    test: hasTest ? parseCifar10Files([testFile], "cifar10-test") : null,
  };
}

export interface DownloadOptions {
  url?: string;
  md5?: string;
  onProgress?: (receivedBytes: number, totalBytes: number | null) => void;
  /** Injected in tests; defaults to the global fetch. */
  fetchImpl?: (url: string) => Promise<Response>;
}

/** Downloads and extracts the official archive into `dir`; a wrong checksum or no network gives a DatasetError, never a partial folder. */
export async function downloadCifar10(dir: string, options: DownloadOptions = {}): Promise<string> {
  const url = options.url ?? CIFAR10_URL;
  const expectedMd5 = options.md5 ?? CIFAR10_MD5;
  const fetchImpl = options.fetchImpl ?? ((u: string) => fetch(u));
  let response: Response;
  try {
    response = await fetchImpl(url);
  } catch (err) {
    const cause = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    throw new DatasetError(
      `could not download CIFAR-10 from ${url} (${cause}); are you offline? Download it elsewhere and extract it into ${dir}`,
    );
  }
  if (!response.ok || !response.body)
    throw new DatasetError(`could not download CIFAR-10 from ${url}: HTTP ${response.status}`);
  const total = Number(response.headers.get("content-length")) || null;
  const chunks: Uint8Array[] = [];
  const md5 = createHash("md5");
  let received = 0;
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      chunks.push(chunk);
      md5.update(chunk);
      received += chunk.length;
      options.onProgress?.(received, total);
    }
  } catch (err) {
    throw new DatasetError(
      `download of ${url} broke off after ${received} bytes (${err instanceof Error ? err.message : String(err)})`,
    );
  }
  const digest = md5.digest("hex");
  if (digest !== expectedMd5)
    throw new DatasetError(`${url}: md5 ${digest} does not match the expected ${expectedMd5}; not extracting`);
  const staging = join(dir, `.cifar10-staging-${process.pid}`);
  mkdirSync(staging, { recursive: true });
  try {
    for (const entry of readTar(gunzipSync(Buffer.concat(chunks)))) {
      const base = entry.name.split("/").pop() ?? "";
      if (!base.endsWith(".bin")) continue;
      const fd = openSync(join(staging, base), "w");
      writeSync(fd, entry.data);
      fsyncSync(fd);
      closeSync(fd);
    }
    const target = join(dir, "cifar-10-batches-bin");
    mkdirSync(target, { recursive: true });
    for (const f of readdirSync(staging)) renameSync(join(staging, f), join(target, f));
    return target;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Minimal ustar reader: regular files only, which is all the CIFAR archive holds. */
function* readTar(archive: Uint8Array): Generator<{ name: string; data: Uint8Array }> {
  let offset = 0;
  while (offset + 512 <= archive.length) {
    const header = archive.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) return;
    const text = (from: number, length: number) =>
      Buffer.from(header.subarray(from, from + length))
        .toString("ascii")
        .replace(/\0.*$/s, "");
    const prefix = text(345, 155);
    const name = (prefix ? prefix + "/" : "") + text(0, 100);
    const size = parseInt(text(124, 12).trim() || "0", 8);
    const type = String.fromCharCode(header[156] || 0x30);
    const dataStart = offset + 512;
    if (type === "0") yield { name, data: archive.subarray(dataStart, dataStart + size) };
    offset = dataStart + Math.ceil(size / 512) * 512;
  }
}

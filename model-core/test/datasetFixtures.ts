/** Generated dataset folders for the loader tests: MNIST-format IDX files and (below) ImageFolder trees. */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { PNG, type ColorType } from "pngjs";
import { encode as encodeJpeg } from "jpeg-js";

/** Images that pngjs/jpeg-js can't write, made by Pillow (test/fixtures/images/README.md). */
export const IMAGE_FIXTURES = join(__dirname, "..", "..", "test", "fixtures", "images");

/** An IDX file: magic 0,0,0x08,ndims, big-endian dims, data. */
export function idxBytes(dims: number[], data: Uint8Array, magic = [0, 0, 8, dims.length]): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  Buffer.from(magic).copy(header, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, data]);
}

/** Image i of a split has every pixel = (i·37 + label·5 + y + x) mod 256: distinct per image, known in tests. */
export function pixels(count: number, side: number, labels: number[], salt: number): Uint8Array {
  const out = new Uint8Array(count * side * side);
  for (let i = 0; i < count; i++)
    for (let y = 0; y < side; y++)
      for (let x = 0; x < side; x++) out[(i * side + y) * side + x] = (i * 37 + labels[i] * 5 + y + x + salt) % 256;
  return out;
}

export interface IdxFolder {
  dir: string;
  trainLabels: number[];
  testLabels: number[];
}

export function writeIdxFolder(
  root: string,
  name: string,
  options: { gzip: boolean; test?: boolean; side?: number; train?: number[]; t10k?: number[] },
): IdxFolder {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const side = options.side ?? 6;
  const trainLabels = options.train ?? Array.from({ length: 30 }, (_, i) => i % 3);
  const testLabels = options.t10k ?? Array.from({ length: 9 }, (_, i) => (i * 2) % 3);
  const ext = options.gzip ? ".gz" : "";
  const write = (file: string, bytes: Buffer) =>
    writeFileSync(join(dir, file + ext), options.gzip ? gzipSync(bytes) : bytes);
  write(
    "train-images-idx3-ubyte",
    idxBytes([trainLabels.length, side, side], pixels(trainLabels.length, side, trainLabels, 0)),
  );
  write("train-labels-idx1-ubyte", idxBytes([trainLabels.length], Uint8Array.from(trainLabels)));
  if (options.test !== false) {
    write(
      "t10k-images-idx3-ubyte",
      idxBytes([testLabels.length, side, side], pixels(testLabels.length, side, testLabels, 100)),
    );
    write("t10k-labels-idx1-ubyte", idxBytes([testLabels.length], Uint8Array.from(testLabels)));
  }
  return { dir, trainLabels, testLabels };
}

/** RGBA pixels of a width × height image: smooth gradients seeded by `seed`, opaque. */
export function gradientRgba(width: number, height: number, seed: number): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      data[o] = (x * 7 + seed * 31) % 256;
      data[o + 1] = (y * 11 + seed * 17) % 256;
      data[o + 2] = ((x + y) * 5 + seed * 53) % 256;
      data[o + 3] = 255;
    }
  return data;
}

export interface ImageSpec {
  width: number;
  height: number;
  seed: number;
  /** png: grey (0), RGB (2), grey + alpha (4), RGBA (6), at 8 or 16 bits; jpeg: baseline RGB. */
  format: "png" | "jpeg";
  colorType?: ColorType;
  bitDepth?: 8 | 16;
  /** Alpha of every pixel (RGBA / grey + alpha PNGs). */
  alpha?: number;
}

export function imageBytes(spec: ImageSpec): Buffer {
  const rgba = gradientRgba(spec.width, spec.height, spec.seed);
  if (spec.alpha !== undefined) for (let i = 3; i < rgba.length; i += 4) rgba[i] = spec.alpha;
  if (spec.format === "jpeg") return encodeJpeg({ data: rgba, width: spec.width, height: spec.height }, 92).data;
  const bitDepth = spec.bitDepth ?? 8;
  const png = new PNG({ width: spec.width, height: spec.height, bitDepth });
  if (bitDepth === 16) {
    // pngjs packs 16-bit images from 16-bit samples: each 8-bit value v becomes v·257.
    const wide = new Uint16Array(rgba.length);
    for (let i = 0; i < rgba.length; i++) wide[i] = rgba[i] * 257;
    (png as unknown as { data: Uint16Array }).data = wide;
  } else png.data = Buffer.from(rgba);
  return PNG.sync.write(png, { colorType: spec.colorType ?? 2, bitDepth, inputColorType: 6 });
}

/** Writes `files` (path relative to root → bytes or an image spec) under root. */
export function writeTree(root: string, files: Record<string, Buffer | string | ImageSpec>): void {
  for (const [path, content] of Object.entries(files)) {
    const file = join(root, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, typeof content === "string" || Buffer.isBuffer(content) ? content : imageBytes(content));
  }
}

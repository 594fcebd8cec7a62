// The torch backend's cost (issues 7 and 18): `resnet-studio bench --backend torch` trains CIFAR ResNet-20 at batch 64
// through the Python worker (a JSON event line every step) and bench/pytorch_reference.py's hand-written loop in the
// same process, alternating rounds; once with 1 torch thread and once with one per core. Prints
// {bench, metric, value, unit, backend, bar, pass} lines; each ratio must be ≥ 0.95.
// The Python is RESNET_STUDIO_PYTHON or BENCH_PYTHON (default /usr/bin/python3). Exits 1 when a bar is missed or
// torch cannot run, because then the bar was not checked. Runs the built CLI (`npm run build` first).
// Smoke mode (BENCH_SMOKE=1): one round of 5 steps at batch 8 on 1 thread, bar not enforced.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { SMOKE } from "./smoke";

const root = join(__dirname, "..");
const cli = join(root, "model-core/bin/resnet-studio.js");
if (!existsSync(join(root, "model-core/dist/cli.cjs"))) {
  console.error("torchBackend.bench: model-core/dist/cli.cjs missing; run `npm run build`");
  process.exit(1);
}
const python = process.env.RESNET_STUDIO_PYTHON ?? process.env.BENCH_PYTHON ?? "/usr/bin/python3";

interface TorchBench {
  backendDetail: string;
  trainImagesPerSecond: number;
  torchReference: { referenceImagesPerSecond: number; ratio: number; bar: number };
}

function run(threads: number): TorchBench | null {
  const sizing = SMOKE ? ["--rounds", "1", "--batch", "8"] : ["--seconds", "20"];
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
      "--threads",
      String(threads),
      "--json",
      ...sizing,
    ],
    { cwd: root, encoding: "utf8", timeout: 900_000 },
  );
  const line = r.stdout
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .pop();
  if (!line) {
    process.stderr.write(`torchBackend.bench (${threads} threads): no result (${r.stderr.trim()})\n`);
    return null;
  }
  return JSON.parse(line) as TorchBench;
}

let failed = false;
const cores = availableParallelism();
for (const threads of SMOKE ? [1] : [...new Set([1, cores])]) {
  const result = run(threads);
  if (!result) {
    failed = true;
    continue;
  }
  const bench = `ResNet-20 b${SMOKE ? 8 : 64} torch backend, ${threads} thread${threads === 1 ? "" : "s"}`;
  const emit = (metric: string, value: number, unit: string, extra: Record<string, unknown> = {}) =>
    console.log(JSON.stringify({ bench, metric, value, unit, backend: "torch", note: result.backendDetail, ...extra }));
  emit("runnerTrainImagesPerSecond", result.trainImagesPerSecond, "img/s");
  emit("handWrittenTrainImagesPerSecond", result.torchReference.referenceImagesPerSecond, "img/s");
  const pass = result.torchReference.ratio >= result.torchReference.bar;
  if (SMOKE) emit("ratioToHandWrittenLoop", result.torchReference.ratio, "×", { note: "smoke: one round, no bar" });
  else emit("ratioToHandWrittenLoop", result.torchReference.ratio, "×", { bar: result.torchReference.bar, pass });
  if (!pass && !SMOKE) failed = true;
}
process.exit(failed ? 1 : 0);

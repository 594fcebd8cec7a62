// Training benchmarks. Prints JSON lines {bench, metric, value, unit, backend, bar?, pass?}:
//  - trainImagesPerSecond / forwardImagesPerSecond of CIFAR ResNet-20 at batch 64 (`resnet-studio bench --json`, the
//    path `train` uses: data-parallel worker threads on wasm when ≥ 2 cores), which scripts/bench.mjs compares with
//    PyTorch; plus the same training figure single-threaded (`--workers 1`) for reference (no bar);
//  - the MNIST bar: `resnet-studio train examples/small.resnet.ts --dataset mnist` with its default settings must
//    reach ≥ 97% validation accuracy within 120 s for the whole process.
// Both run the built CLI (model-core/dist/cli.cjs), so `npm run build` first. BENCH_SKIP_MNIST=1 skips the bar.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { SMOKE } from "./smoke";

const root = join(__dirname, "..");
const cli = join(root, "model-core/bin/resnet-studio.js");
if (!existsSync(join(root, "model-core/dist/cli.cjs"))) {
  console.error("train.bench: model-core/dist/cli.cjs missing; run `npm run build`");
  process.exit(1);
}

function runCli(args: string[], timeoutMs: number): { stdout: string; seconds: number; status: number | null } {
  const start = performance.now();
  const r = spawnSync(process.execPath, [cli, ...args], {
    cwd: root,
    encoding: "utf8",
    timeout: timeoutMs,
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) process.stderr.write(r.stderr);
  return { stdout: r.stdout, seconds: (performance.now() - start) / 1000, status: r.status };
}

function lastJson(stdout: string): Record<string, unknown> | null {
  const lines = stdout
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"));
  return lines.length > 0 ? (JSON.parse(lines[lines.length - 1]) as Record<string, unknown>) : null;
}

function emit(line: Record<string, unknown>): void {
  console.log(JSON.stringify(line));
}

const seconds = SMOKE ? "1" : (process.env.BENCH_TRAIN_SECONDS ?? "16");
const throughput = runCli(
  ["bench", "--model", "resnet20", "--batch", "64", "--seconds", seconds, "--json"],
  10 * 60_000,
);
const bench = lastJson(throughput.stdout);
if (bench) {
  const workers = Number(bench.workers);
  const note = `${workers} worker${workers === 1 ? "" : "s"} (the default of \`train\` here)`;
  emit({
    bench: "resnet20-cifar-b64",
    metric: "trainImagesPerSecond",
    value: bench.trainImagesPerSecond,
    unit: "images/s",
    backend: bench.backend,
    workers: bench.workers,
    note,
  });
  // Inference is not split between workers: one thread.
  emit({
    bench: "resnet20-cifar-b64",
    metric: "forwardImagesPerSecond",
    value: bench.forwardImagesPerSecond,
    unit: "images/s",
    backend: bench.backend,
    workers: 1,
    note: "eval mode, one thread",
  });
} else {
  emit({
    bench: "resnet20-cifar-b64",
    metric: "trainImagesPerSecond",
    value: 0,
    unit: "images/s",
    backend: "?",
    pass: false,
    note: "bench failed",
  });
}
if (bench && bench.workers !== 1 && !process.env.BENCH_SKIP_ONE_WORKER && !SMOKE) {
  const single = lastJson(
    runCli(
      ["bench", "--model", "resnet20", "--batch", "64", "--seconds", seconds, "--workers", "1", "--json"],
      10 * 60_000,
    ).stdout,
  );
  if (single) {
    emit({
      bench: "resnet20-cifar-b64 (1 worker)",
      metric: "trainImagesPerSecond",
      value: single.trainImagesPerSecond,
      unit: "images/s",
      backend: single.backend,
      workers: 1,
      reference: true,
      note: "single-threaded, for reference",
    });
  }
}

if (!process.env.BENCH_SKIP_MNIST) {
  // Smoke mode: a few steps and no estimate, only to see the command and its summary line work.
  const short = SMOKE ? ["--max-steps", "3", "--epochs", "1", "--no-estimate"] : [];
  const mnist = runCli(["train", "examples/small.resnet.ts", "--dataset", "mnist", "--json", ...short], 10 * 60_000);
  const summary = lastJson(mnist.stdout);
  const accuracy = typeof summary?.valAccuracy === "number" ? summary.valAccuracy : 0;
  const backend = typeof summary?.backend === "string" ? summary.backend : "?";
  const pass = mnist.status === 0 && accuracy >= 0.97 && mnist.seconds <= 120;
  emit({
    bench: "mnist-small-default",
    metric: "valAccuracy",
    value: accuracy,
    unit: "fraction",
    backend,
    bar: "≥ 0.97 within 120 s",
    pass,
  });
  emit({
    bench: "mnist-small-default",
    metric: "wallSeconds",
    value: Math.round(mnist.seconds * 10) / 10,
    unit: "s",
    backend,
    bar: "≤ 120 s",
    pass: mnist.seconds <= 120,
  });
  if (typeof summary?.imagesPerSecond === "number") {
    emit({
      bench: "mnist-small-default",
      metric: "mnistTrainImagesPerSecond",
      value: summary.imagesPerSecond,
      unit: "images/s",
      backend,
    });
  }
}

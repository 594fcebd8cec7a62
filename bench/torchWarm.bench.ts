// The warm torch worker (issue 18): how long the Python worker takes to start (import torch, say hello), and the
// first training step of a run once the worker is warm, from trainOnTorch() to the first step event (bar ≤ 1 s).
// CIFAR ResNet-20, batch 64, synthetic data, one torch thread per core (RESNET_STUDIO_TORCH_THREADS overrides).
// The Python is RESNET_STUDIO_PYTHON or BENCH_PYTHON (default /usr/bin/python3). Median of BENCH_REPEATS (5) runs.
import { loadavg } from "node:os";
import { analyzeOrThrow } from "../model-core/src/analysis/analyze";
import { presets } from "../model-core/src/spec/presets";
import { syntheticDataset } from "../model-core/src/data/synthetic";
import { DEFAULT_TRAIN_CONFIG } from "../model-core/src/runtime/trainTypes";
import { torchThreads, torchWorker, trainOnTorch } from "../model-core/src/runtime/torchBackend";
import { stopTorchWorkers } from "../model-core/src/runtime/torchWorker";
import { repeats } from "./smoke";

const BAR_MS = 1000;
const REPEATS = repeats(Number(process.env.BENCH_REPEATS ?? 5));
const python = {
  command: process.env.RESNET_STUDIO_PYTHON ?? process.env.BENCH_PYTHON ?? "/usr/bin/python3",
  origin: "bench",
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const graph = analyzeOrThrow(presets.resnet20());
  const data = { train: syntheticDataset({ count: 256, classes: 10, seed: 1, shape: [3, 32, 32] }), val: null };
  const config = { ...DEFAULT_TRAIN_CONFIG, epochs: 1, batchSize: 64, maxSteps: 1, logEvery: 1, valFraction: 0.1 };
  const t0 = performance.now();
  const hello = await torchWorker(python).start();
  const startMs = performance.now() - t0;
  const firstSteps: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const started = performance.now();
    let first = NaN;
    await trainOnTorch({
      graph,
      data,
      config,
      python,
      device: "cpu",
      onEvent: (e) => {
        if (e.type === "step" && Number.isNaN(first)) first = performance.now() - started;
      },
    });
    firstSteps.push(first);
  }
  const threads = torchThreads();
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
  const bench = "torch worker, resnet20 batch 64";
  const emit = (o: Record<string, unknown> & { note: string }) =>
    console.log(
      JSON.stringify({
        bench,
        backend: "torch",
        ...o,
        note: `torch ${hello.torch}, ${threads} threads, load ${load}; ${o.note}`,
      }),
    );
  emit({
    metric: "workerStartMs",
    value: Math.round(startMs),
    unit: "ms",
    note: "spawn to hello: Python start and import torch",
  });
  const warm = median(firstSteps);
  emit({
    metric: "firstStepWarmMs",
    value: Math.round(warm),
    unit: "ms",
    bar: `≤ ${BAR_MS} ms`,
    pass: warm <= BAR_MS,
    note: `median of ${REPEATS} (${firstSteps.map(Math.round).join(", ")} ms): trainOnTorch() to the first step event, worker warm`,
  });
}

void main()
  .then(
    () => 0,
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      return 1;
    },
  )
  .then((code) => {
    stopTorchWorkers("bench done");
    process.exit(code);
  });

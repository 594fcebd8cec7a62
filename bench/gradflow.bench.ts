/**
 * Gradient flow timings: one forward/backward pass with every activation, parameter and lane gradient measured.
 * Bar: CIFAR ResNet-56 (He et al. 2015 §4.2, option A as in the paper) at batch 8 in ≤ 1 s after warm-up.
 * Also ResNet-110 at batch 32 (the depth/width of the plain-vs-residual comparison) and a plain forward+backward of
 * ResNet-56 without taps, to show what the instrumentation costs.
 * Run: node --import tsx bench/gradflow.bench.ts  (one JSON object per line). BENCH_BACKEND=cpu|wasm|auto (default wasm).
 */
import * as tf from "@tensorflow/tfjs-core";
import { initBackend, type BackendChoice } from "../model-core/src/runtime/backend";
import { analyzeOrThrow } from "../model-core/src/analysis/analyze";
import { presets } from "../model-core/src/spec/presets";
import { buildModel, type GraphModel } from "../model-core/src/runtime/model";
import { crossEntropy, gradientFlow } from "../model-core/src/runtime/gradflow";
import { SeededRng } from "../model-core/src/data/rng";
import { SMOKE, repeats } from "./smoke";

const REPEATS = repeats(Number(process.env.BENCH_REPEATS ?? 5));
const BAR_MS = 1000;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function batchOf(n: number, seed: number): { x: tf.Tensor4D; labels: number[] } {
  const rng = new SeededRng(seed);
  const values = new Float32Array(n * 32 * 32 * 3);
  for (let i = 0; i < values.length; i++) values[i] = rng.normal();
  return { x: tf.tensor4d(values, [n, 32, 32, 3]), labels: Array.from({ length: n }, () => rng.int(10)) };
}

async function timeGradflow(
  name: "resnet56" | "resnet110",
  batch: number,
  repeats: number,
): Promise<{ ms: number; leaked: number }> {
  const model = buildModel(analyzeOrThrow(presets[name]()), { seed: 1 });
  const data = batchOf(batch, 2);
  await gradientFlow(model, data); // warm-up: kernel setup, first allocations
  const before = tf.memory().numTensors;
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await gradientFlow(model, data);
    times.push(performance.now() - t0);
  }
  const leaked = tf.memory().numTensors - before;
  data.x.dispose();
  model.dispose();
  return { ms: median(times), leaked };
}

/** The same pass without taps: tf.variableGrads of the loss only. */
async function timePlainBackward(batch: number, repeats: number): Promise<number> {
  const model = buildModel(analyzeOrThrow(presets.resnet56()), { seed: 1 }) as GraphModel;
  const data = batchOf(batch, 2);
  const labels = tf.tensor1d(data.labels, "int32");
  const step = async () => {
    const { value, grads } = tf.variableGrads(() =>
      crossEntropy(model.run(data.x, "train", { updateStats: false }), labels),
    );
    await value.data();
    value.dispose();
    tf.dispose(Object.values(grads));
  };
  await step();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await step();
    times.push(performance.now() - t0);
  }
  tf.dispose([data.x, labels]);
  model.dispose();
  return median(times);
}

async function main(): Promise<void> {
  const backend = await initBackend((process.env.BENCH_BACKEND ?? "wasm") as BackendChoice);
  const emit = (o: Record<string, unknown>) =>
    process.stdout.write(JSON.stringify({ ...o, backend: backend.name }) + "\n");

  const r56 = await timeGradflow("resnet56", 8, REPEATS);
  emit({
    bench: "gradflow resnet56 batch 8",
    metric: "gradflowMs",
    value: Math.round(r56.ms),
    unit: "ms",
    bar: `≤ ${BAR_MS} ms after warm-up`,
    pass: r56.ms <= BAR_MS,
  });
  emit({
    bench: "gradflow resnet56 batch 8",
    metric: "leakedTensors",
    value: r56.leaked,
    unit: "tensors",
    bar: "0",
    pass: r56.leaked === 0,
  });
  const plain = await timePlainBackward(8, REPEATS);
  emit({
    bench: "resnet56 batch 8 forward+backward, no taps",
    metric: "backwardMs",
    value: Math.round(plain),
    unit: "ms",
    note: `taps cost ${Math.round(r56.ms - plain)} ms`,
  });
  const r110 = await timeGradflow("resnet110", SMOKE ? 2 : 32, Math.max(1, Math.floor(REPEATS / 2)));
  emit({ bench: "gradflow resnet110 batch 32", metric: "gradflowMs", value: Math.round(r110.ms), unit: "ms" });
}

main().catch((err) => {
  process.stderr.write(`gradflow bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

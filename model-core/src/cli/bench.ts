/**
 * `resnet-studio bench`: training and forward throughput (images/s, after warm-up) of a preset, CIFAR ResNet-20 at
 * batch 64 by default, on random data. Training runs the stepper `train` uses, with the same worker count rule
 * (data-parallel replicas on wasm when ≥ 2 cores; --workers overrides): forward, cross-entropy, backward, averaged
 * gradients, SGD update. Forward runs eval mode on this thread.
 */
import { printable } from "../diagnostics";
import * as tf from "@tensorflow/tfjs-core";
import type { Command } from "commander";
import { loadSpec } from "../load";
import { reportDiagnostics, writeStdout } from "./summary";
import { initBackend, parseBackendChoice } from "../runtime/backend";
import { buildModel } from "../runtime/model";
import { LocalBatchStepper, type BatchStepper } from "../runtime/stepper";
import { DataParallelStepper, resolveWorkerCount } from "../runtime/parallel";
import { decayedParameterNames, Optimizer } from "../runtime/optim";
import { SeededRng } from "../data/rng";
import { parseWorkers, UsageError } from "./train";

export interface BenchCliOptions {
  model?: string;
  batch?: string;
  backend?: string;
  seconds?: string;
  workers?: string;
  json?: boolean;
}

export interface BenchResult {
  model: string;
  batch: number;
  backend: string;
  backendDetail: string;
  /** Data-parallel replicas (threads) of the training measurement: what `train` uses with the same options. */
  workers: number;
  trainImagesPerSecond: number;
  forwardImagesPerSecond: number;
  trainStepMs: number;
  forwardMs: number;
  trainSteps: number;
  forwardPasses: number;
  params: number;
}

/** Runs `fn` once or more until `seconds` have passed (at least `minRuns` times); returns runs and mean ms per run. */
async function timeRuns(fn: () => Promise<void>, seconds: number, minRuns: number): Promise<{ runs: number; meanMs: number }> {
  const start = performance.now();
  let runs = 0;
  while (runs < minRuns || performance.now() - start < seconds * 1000) {
    await fn();
    runs++;
  }
  return { runs, meanMs: (performance.now() - start) / runs };
}

export async function runBench(options: BenchCliOptions): Promise<BenchResult | null> {
  const modelArg = options.model ?? "resnet20";
  const batch = options.batch === undefined ? 64 : Number(options.batch);
  if (!Number.isInteger(batch) || batch < 2) throw new UsageError(`--batch must be an integer ≥ 2, got "${options.batch}"`);
  const seconds = options.seconds === undefined ? 10 : Number(options.seconds);
  if (!(seconds > 0)) throw new UsageError(`--seconds must be a positive number, got "${options.seconds}"`);
  const backendChoice = parseBackendChoice(options.backend ?? "auto", "--backend");
  const requestedWorkers = options.workers === undefined ? undefined : parseWorkers(options.workers);
  const loaded = loadSpec(modelArg);
  const failed = reportDiagnostics({ ...loaded, diagnostics: loaded.diagnostics.filter((d) => d.severity === "error") }, modelArg);
  if (failed || !loaded.graph) {
    process.exitCode = 1;
    return null;
  }
  const graph = loaded.graph;
  const backend = await initBackend(backendChoice);
  const model = buildModel(graph, { seed: 1 });
  const [channels, height, width] = graph.spec.input;
  const rng = new SeededRng(1);
  const pixels = new Float32Array(batch * channels * height * width).map(() => rng.normal());
  const labelValues = Int32Array.from({ length: batch }, () => rng.int(graph.spec.classes));
  const x = tf.tensor4d(pixels, [batch, height, width, channels]);
  const optimizer = new Optimizer(model.params, { kind: "sgd", momentum: 0.9, weightDecay: 1e-4, decayed: decayedParameterNames(graph) });
  const workers = resolveWorkerCount(requestedWorkers, backend.name, batch);
  let stepper: BatchStepper | null = null;
  try {
    stepper = workers > 1 ? await DataParallelStepper.create(model, optimizer, { workers, backend: backend.name, seed: 1 }) : new LocalBatchStepper(model, optimizer);
    const active = stepper;
    const trainStep = async () => {
      await active.step(pixels, labelValues, batch, 1e-3);
    };
    const forward = async () => {
      const logits = tf.tidy(() => model.apply(x, "eval"));
      await logits.data();
      logits.dispose();
    };
    // Warm-up: first calls compile wasm paths and allocate buffers.
    await trainStep();
    await trainStep();
    await forward();
    await forward();
    const trained = await timeRuns(trainStep, seconds / 2, 3);
    const forwarded = await timeRuns(forward, seconds / 2, 3);
    const result: BenchResult = {
      model: graph.spec.name,
      batch,
      backend: backend.name,
      backendDetail: backend.detail,
      workers: active.workers,
      trainImagesPerSecond: Math.round(((batch * 1000) / trained.meanMs) * 10) / 10,
      forwardImagesPerSecond: Math.round(((batch * 1000) / forwarded.meanMs) * 10) / 10,
      trainStepMs: Math.round(trained.meanMs * 10) / 10,
      forwardMs: Math.round(forwarded.meanMs * 10) / 10,
      trainSteps: trained.runs,
      forwardPasses: forwarded.runs,
      params: graph.totals.params,
    };
    if (options.json) await writeStdout(JSON.stringify(result) + "\n");
    else {
      await writeStdout(
        `${printable(result.model)}, batch ${batch}, ${result.backend} (${result.backendDetail})\n` +
          `  training: ${result.trainImagesPerSecond} images/s (${result.trainStepMs} ms/step over ${result.trainSteps} steps, ${result.workers} worker${result.workers === 1 ? "" : "s"})\n` +
          `  forward:  ${result.forwardImagesPerSecond} images/s (${result.forwardMs} ms/pass over ${result.forwardPasses} passes)\n`,
      );
    }
    return result;
  } finally {
    await stepper?.dispose();
    optimizer.dispose();
    x.dispose();
    model.dispose();
  }
}

export function registerBench(program: Command): void {
  program
    .command("bench")
    .description("training and forward throughput of a preset (default CIFAR ResNet-20, batch 64) after warm-up")
    .option("--model <preset>", "preset name or .resnet.ts file", "resnet20")
    .option("--batch <n>", "batch size", "64")
    .option("--backend <name>", "auto | wasm | cpu | tensorflow", "auto")
    .option("--seconds <s>", "measuring time, split between training and forward", "10")
    .option("--workers <n>", "training threads as `train` would use them: auto (one per core on wasm) or N")
    .option("--json", "print one JSON object")
    .action(async (options: BenchCliOptions) => {
      await runBench(options);
    });
}

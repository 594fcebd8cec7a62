/**
 * worker_threads entry (dist/trainWorker.js): runs tfjs off the extension host's thread. Five jobs
 * (./pure/workerProtocol.ts), each answered with its result: one gradient-flow pass of a network and its plain twin, a
 * calibration of the backend's speed, a learning-rate range test, a training run on the embedded MNIST digits that
 * pushes events (with a gradient-flow snapshot after every epoch) and stops on "cancel", or the plain-vs-residual
 * experiment (experiment/run.ts), which pushes its state after every epoch.
 */
import { parentPort } from "node:worker_threads";
import { availableParallelism } from "node:os";
import { existsSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend, type BackendChoice } from "resnet-studio/runtime/backend";
import { buildModel, type TfModel } from "resnet-studio/runtime/model";
import { gradientFlow } from "resnet-studio/runtime/gradflow";
import { backendLimitBytes, checkPassMemory, passBatch } from "resnet-studio/runtime/memoryGuard";
import { train } from "resnet-studio/runtime/train";
import { calibrateThroughput } from "resnet-studio/runtime/calibrate";
import { lrRangeTest, suggestLearningRate, type LrPoint, type LrRangeResult } from "resnet-studio/runtime/lrFinder";
import {
  DEFAULT_TRAIN_CONFIG,
  type TrainConfig,
  type TrainEvent,
  type TrainResult,
} from "resnet-studio/runtime/trainTypes";
import { loadMnist, MNIST_FILE_NAME } from "resnet-studio/data/mnist";
import { BatchAdapter, type ImageDataset } from "resnet-studio/data/dataset";
import { datasetTarget, resolveDataset } from "resnet-studio/data/resolve";
import { previewForView } from "resnet-studio/data/preview";
import { experimentTarget, runExperiment } from "resnet-studio/experiment/run";
import { SeededRng } from "resnet-studio/data/rng";
import type { ModelGraph } from "resnet-studio/analysis/graph";
import { networkId } from "resnet-studio/spec/identity";
import type { GradientFlowResult } from "resnet-studio/analysis/gradflow";
import type { GradientPair, TrainingEvent } from "resnet-studio/protocol";
import { serveRequests } from "resnet-studio/rpcWorker";
import type {
  BackendSetting,
  TrainJob,
  TrainJobResults,
  TrainWorkerNote,
  TrainWorkerPush,
} from "./pure/workerProtocol";
import { toTrainingEvent } from "./pure/trainEvents";
import { recordedTraining } from "resnet-studio/runs/recorder";
import {
  calibrateOnTorch,
  gradientFlowOnTorch,
  lrRangeOnTorch,
  resolvePython,
  trainOnTorch,
} from "resnet-studio/runtime/torchBackend";

const port = parentPort;

/** The tfjs backend a job initialises: on torch, tfjs only draws the seeded weights and inputs, on cpu. */
function tfjsBackendOf(setting: BackendSetting): BackendChoice {
  return setting === "torch" ? "cpu" : setting;
}
let abort: AbortController | null = null;

function push(message: TrainWorkerPush): void {
  port?.postMessage(message);
}

/** Pushes one training event; the run's end is not pushed: the train job's response carries it. */
function pushProgress(event: TrainingEvent | null): void {
  if (event && event.kind !== "finished" && event.kind !== "failed") push({ type: "training", event });
}

/** The train job's result from the trainer's: a diverged run is an error response, with the trainer's message. */
function trainOutcome(result: TrainResult): TrainJobResults["train"] {
  if (result.reason === "diverged") throw new Error(result.message ?? "training diverged");
  return { cancelled: result.reason === "aborted", millis: result.seconds * 1000 };
}

/**
 * Built models by network identity (spec hash) and seed, so a repeated gradient-flow request skips building and
 * initialising them. A gradient pass changes no weights and, in training mode, no BN running statistics. The last
 * request's pair (network and plain twin) is kept; older models are disposed.
 */
const MODEL_CACHE_SIZE = 2;
const builtModels = new Map<string, TfModel>();
function cachedModel(graph: ModelGraph, seed: number, backend: string): TfModel {
  const key = `${networkId(graph.spec)}:${seed}:${backend}`;
  const hit = builtModels.get(key);
  if (hit) {
    builtModels.delete(key);
    builtModels.set(key, hit);
    return hit;
  }
  const model = buildModel(graph, { seed });
  builtModels.set(key, model);
  while (builtModels.size > MODEL_CACHE_SIZE) {
    const [oldest, old] = builtModels.entries().next().value as [string, TfModel];
    builtModels.delete(oldest);
    old.dispose();
  }
  return model;
}

/** He et al.'s comparison setting: a seeded standard-normal batch with random labels, BN in training mode. */
async function flowOnRandomBatch(graph: ModelGraph, batch: number, seed: number): Promise<GradientFlowResult> {
  const [c, h, w] = graph.input as [number, number, number];
  const rng = new SeededRng(seed);
  const labels = Array.from({ length: batch }, () => Math.floor(rng.next() * graph.output[0]));
  const x = tf.randomNormal<tf.Rank.R4>([batch, h, w, c], 0, 1, "float32", seed);
  try {
    return await gradientFlow(cachedModel(graph, seed, tf.getBackend()), { x, labels });
  } finally {
    x.dispose();
  }
}

/** The same few real images every epoch, so snapshots are comparable. */
function fixedBatch(dataset: ImageDataset, graph: ModelGraph, count: number): { x: tf.Tensor4D; labels: number[] } {
  const [c, h, w] = graph.input as [number, number, number];
  const adapter = new BatchAdapter(dataset, [c, h, w]);
  const n = Math.min(count, dataset.count);
  const indices = Array.from({ length: n }, (_, i) => i);
  const pixels = new Float32Array(n * adapter.sampleSize);
  adapter.fill(indices, 0, n, pixels);
  const labels = new Int32Array(n);
  adapter.labels(indices, 0, n, labels);
  return { x: tf.tensor4d(pixels, [n, h, w, c]), labels: Array.from(labels) };
}

/** The same seeded batch as flowOnRandomBatch, measured by PyTorch (tfjs only draws the inputs and the initial weights). */
async function flowOnTorch(
  job: Extract<TrainJob, { kind: "gradientFlow" }>,
  graph: ModelGraph,
): Promise<GradientFlowResult> {
  await initBackend("cpu");
  const [c, h, w] = graph.input as [number, number, number];
  const rng = new SeededRng(job.seed);
  const labels = Array.from({ length: job.batch }, () => Math.floor(rng.next() * graph.output[0]));
  const x = tf.randomNormal([job.batch, h, w, c], 0, 1, "float32", job.seed);
  const values = (await x.data()) as Float32Array;
  x.dispose();
  return gradientFlowOnTorch({
    graph,
    x: values,
    shape: [job.batch, h, w, c],
    labels,
    mode: "train",
    weights: { seed: job.seed },
    python: resolvePython(undefined, job.python, job.pythonExtension),
    device: job.device ?? "auto",
    // The network and its twin run at once, one worker each: half the cores each, or their OpenMP threads spin
    // against each other (warm ResNet-56 pair at load 10-13 on 2 cores: 11.2 s with 2 threads each, 483 ms with 1).
    threads: job.threads ?? Math.max(1, Math.floor(availableParallelism() / 2)),
  });
}

/**
 * The job's config over the defaults, and its data: the downloaded MNIST file when there is one, else the named
 * dataset. Pushes the data's preview (samples per class, class counts, the loading's notes) before training starts.
 */
async function trainingConfigAndData(job: Extract<TrainJob, { kind: "train" }>) {
  const config: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, ...job.config };
  const file = join(job.dataDir, MNIST_FILE_NAME);
  const [c, h, w] = job.graph.input as [number, number, number];
  const data =
    job.dataset === "mnist" && existsSync(file)
      ? { train: loadMnist(file), val: null }
      : await resolveDataset(job.dataset, {
          input: [c, h, w],
          classes: job.graph.output[0],
          seed: config.seed,
          valFraction: config.valFraction,
        });
  pushProgress({ kind: "preview", preview: previewForView(data.train, "notes" in data ? (data.notes ?? []) : []) });
  return { config, data };
}

/** Train Small Model on PyTorch: the runner streams the events and a gradient snapshot per epoch. */
async function runTrainingOnTorch(job: Extract<TrainJob, { kind: "train" }>): Promise<TrainJobResults["train"]> {
  await initBackend("cpu");
  const { config, data } = await trainingConfigAndData(job);
  // Another job may have started on this worker meanwhile: clear `abort` only if it is still this run's.
  const controller = new AbortController();
  abort = controller;
  const started = performance.now();
  let gradients: GradientFlowResult | null = null;
  try {
    const onEvent = (event: TrainEvent) =>
      pushProgress(
        toTrainingEvent(event, {
          backend: "torch",
          gradients: event.type === "epoch" ? gradients : null,
          millis: performance.now() - started,
        }),
      );
    const what = { spec: job.graph.spec, data, config, backend: "torch", device: job.device ?? "auto" };
    const result = await recordedTraining(
      job.run,
      what,
      (hooks) =>
        trainOnTorch({
          graph: job.graph,
          data,
          config,
          python: resolvePython(undefined, job.python, job.pythonExtension),
          device: job.device ?? "auto",
          signal: controller.signal,
          checkpoint: hooks.checkpoint,
          resumeFrom: job.resumeFrom,
          snapshot: {
            count: job.gradientBatch,
            onGradients: (_, result) => {
              gradients = result;
            },
          },
          onEvent: hooks.onEvent,
        }),
      onEvent,
    );
    return trainOutcome(result);
  } finally {
    if (abort === controller) abort = null;
  }
}

async function runTraining(job: Extract<TrainJob, { kind: "train" }>): Promise<TrainJobResults["train"]> {
  const backend = await initBackend(tfjsBackendOf(job.backend));
  const { config, data } = await trainingConfigAndData(job);
  const dataset = data.train;
  const model: TfModel = buildModel(job.graph, { seed: config.seed });
  const probe = fixedBatch(dataset, job.graph, job.gradientBatch);
  const controller = new AbortController();
  abort = controller;
  const started = performance.now();
  // Snapshots are taken as each epoch ends, between training steps; events keep their order.
  let chain: Promise<void> = Promise.resolve();
  try {
    const what = { spec: job.graph.spec, data, config, backend: backend.name, device: backend.name };
    const trainer = (hooks: { checkpoint?: string; onEvent: (event: TrainEvent) => void }) =>
      train({
        model,
        data,
        config,
        signal: controller.signal,
        checkpoint: hooks.checkpoint,
        resumeFrom: job.resumeFrom,
        onEvent: hooks.onEvent,
      });
    const result = await recordedTraining(job.run, what, trainer, (event: TrainEvent) => {
      if (event.type === "epoch") {
        chain = chain.then(async () => {
          let gradients: GradientFlowResult | null = null;
          // The snapshot is skipped when its pass would not fit the backend (a wasm abort cannot be caught).
          const fits = checkPassMemory({
            graph: job.graph,
            batch: probe.labels.length,
            kind: "gradflow",
            limitBytes: backendLimitBytes(backend.name),
          }).fits;
          try {
            gradients = fits ? await gradientFlow(model, probe) : null;
          } catch {
            gradients = null;
          }
          pushProgress(
            toTrainingEvent(event, { backend: backend.name, gradients, millis: performance.now() - started }),
          );
        });
      } else {
        chain = chain.then(() =>
          pushProgress(
            toTrainingEvent(event, { backend: backend.name, gradients: null, millis: performance.now() - started }),
          ),
        );
      }
    });
    await chain;
    return trainOutcome(result);
  } finally {
    probe.x.dispose();
    model.dispose();
    if (abort === controller) abort = null;
  }
}

/** Find Learning Rate: the range test on a fresh model, pushing every few steps so the chart fills in live. */
async function runLrRange(job: Extract<TrainJob, { kind: "lrRange" }>): Promise<LrRangeResult> {
  await initBackend(tfjsBackendOf(job.backend));
  const [c, h, w] = job.graph.input as [number, number, number];
  const file = join(job.dataDir, MNIST_FILE_NAME);
  const dataset =
    job.dataset === "mnist" && existsSync(file)
      ? loadMnist(file)
      : (await resolveDataset(job.dataset, { input: [c, h, w], classes: job.graph.output[0], seed: 1 })).train;
  abort = new AbortController();
  const points: LrPoint[] = [];
  const onPoint = (p: LrPoint, i: number) => {
    points.push(p);
    if (i % 5 === 4)
      push({
        type: "lrRange",
        result: { model: job.graph.name, points: [...points], suggested: suggestLearningRate(points), diverged: false },
      });
  };
  if (job.backend === "torch") {
    try {
      return await lrRangeOnTorch({
        graph: job.graph,
        dataset,
        options: job.options,
        python: resolvePython(undefined, job.python, job.pythonExtension),
        device: job.device ?? "auto",
        threads: job.threads,
        signal: abort.signal,
        onPoint,
      });
    } finally {
      abort = null;
    }
  }
  const model: TfModel = buildModel(job.graph, { seed: job.options.seed ?? 1 });
  try {
    return await lrRangeTest(model, dataset, job.options, abort.signal, onPoint);
  } finally {
    model.dispose();
    abort = null;
  }
}

/** Show Gradient Flow: the network's pass and its plain twin's, on the job's backend. */
async function runGradientFlow(job: Extract<TrainJob, { kind: "gradientFlow" }>): Promise<GradientPair> {
  if (job.backend === "torch") {
    const residual = await flowOnTorch(job, job.graph);
    const plain = job.plain ? await flowOnTorch(job, job.plain) : null;
    return { residual, plain };
  }
  const backend = await initBackend(job.backend);
  // Estimate first: the configured batch shrinks to one that fits, or the pass is refused with the estimate.
  // The view says why, beside the batch it shows.
  const notes: string[] = [];
  const batchFor = (graph: ModelGraph) => {
    const chosen = passBatch({
      graph,
      kind: "gradflow",
      backend: backend.name,
      requested: null,
      preferred: job.batch,
      what: "a gradient-flow pass",
    });
    if (chosen.note) notes.push(chosen.note);
    return chosen.batch;
  };
  const residual = await flowOnRandomBatch(job.graph, batchFor(job.graph), job.seed);
  const plain = job.plain ? await flowOnRandomBatch(job.plain, batchFor(job.plain), job.seed) : null;
  return notes.length ? { residual, plain, notes } : { residual, plain };
}

/** Run Experiment: Plain vs Residual. The data loads as for "train"; the nets take its shape and class count. */
async function runExperimentJob(
  job: Extract<TrainJob, { kind: "experiment" }>,
): Promise<TrainJobResults["experiment"]> {
  const onTorch = job.backend === "torch";
  const backend = await initBackend(onTorch ? "cpu" : (job.backend as BackendChoice));
  const config: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, ...job.config };
  const known = datasetTarget(job.dataset, config.valFraction);
  const file = join(job.dataDir, MNIST_FILE_NAME);
  const data =
    job.dataset === "mnist" && existsSync(file)
      ? { train: loadMnist(file), val: null }
      : await resolveDataset(job.dataset, {
          input: known?.input ?? job.input ?? [3, 32, 32],
          classes: known?.classes ?? 10,
          seed: config.seed,
        });
  const controller = new AbortController();
  abort = controller;
  try {
    const state = await runExperiment({
      depths: job.depths,
      scale: job.scale,
      target: experimentTarget(known?.name ?? null, data),
      datasetArg: job.dataset,
      data,
      config,
      out: job.out,
      torch: onTorch ? { python: resolvePython(undefined, job.python), device: job.device ?? "auto" } : null,
      backendName: onTorch ? "torch" : backend.name,
      signal: controller.signal,
      onState: (state) => push({ type: "experiment", state }),
    });
    return { cancelled: controller.signal.aborted, state };
  } finally {
    if (abort === controller) abort = null;
  }
}

async function runCalibration(job: Extract<TrainJob, { kind: "calibrate" }>): Promise<TrainJobResults["calibrate"]> {
  if (job.backend !== "torch") await initBackend(job.backend);
  const calibration =
    job.backend === "torch"
      ? await calibrateOnTorch({
          python: resolvePython(undefined, job.python, job.pythonExtension),
          device: job.device ?? "auto",
          batchSize: job.batchSize,
        })
      : await calibrateThroughput({ batchSize: job.batchSize, workers: job.workers });
  return { throughput: calibration.throughput, seconds: calibration.seconds };
}

// Jobs run as they arrive (a "cancel" must reach a running one); the host sends one job at a time.
if (port)
  serveRequests<TrainJob, TrainJobResults, TrainWorkerNote>(
    port,
    {
      gradientFlow: runGradientFlow,
      train: (job) => (job.backend === "torch" ? runTrainingOnTorch(job) : runTraining(job)),
      calibrate: runCalibration,
      lrRange: runLrRange,
      experiment: runExperimentJob,
    },
    {
      onNote: (note) => {
        if (note.type === "cancel") abort?.abort();
        else void initBackend(tfjsBackendOf(note.backend)).catch(() => undefined);
      },
    },
  );

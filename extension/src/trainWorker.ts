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
import { backendFor, type Backend } from "resnet-studio/runtime/backends";
import type { PlainFlowBatch } from "resnet-studio/runtime/gradflow";
import { suggestLearningRate, type LrPoint, type LrRangeResult } from "resnet-studio/runtime/lrFinder";
import {
  DEFAULT_TRAIN_CONFIG,
  type TrainConfig,
  type TrainEvent,
  type TrainResult,
} from "resnet-studio/runtime/trainTypes";
import { loadMnist, MNIST_FILE_NAME } from "resnet-studio/data/mnist";
import { datasetTarget, resolveDataset } from "resnet-studio/data/resolve";
import { previewForView } from "resnet-studio/data/preview";
import { experimentTarget, runExperiment } from "resnet-studio/experiment/run";
import { SeededRng } from "resnet-studio/data/rng";
import type { ModelGraph } from "resnet-studio/analysis/graph";
import type { GradientFlowResult } from "resnet-studio/analysis/gradflow";
import type { GradientPair, TrainingEvent } from "resnet-studio/protocol";
import { serveRequests } from "resnet-studio/rpcWorker";
import type {
  BackendSetting,
  TorchSettings,
  TrainJob,
  TrainJobResults,
  TrainWorkerNote,
  TrainWorkerPush,
} from "./pure/workerProtocol";
import { toTrainingEvent } from "./pure/trainEvents";
import { recordedTraining } from "resnet-studio/runs/recorder";
import { resolvePython } from "resnet-studio/runtime/torchBackend";

const port = parentPort;

/** The job's backend, with its Python settings (read only by the PyTorch backend). */
function backendOf(job: { backend: BackendSetting } & TorchSettings, threads = job.threads): Backend {
  return backendFor(job.backend, {
    python: resolvePython(undefined, job.python, job.pythonExtension),
    device: job.device ?? "auto",
    threads,
  });
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

/** He et al.'s comparison setting: a seeded standard-normal batch with random labels (BN in training mode). */
async function randomBatch(graph: ModelGraph, batch: number, seed: number): Promise<PlainFlowBatch> {
  const [c, h, w] = graph.input as [number, number, number];
  const rng = new SeededRng(seed);
  const labels = Array.from({ length: batch }, () => Math.floor(rng.next() * graph.output[0]));
  const x = tf.randomNormal<tf.Rank.R4>([batch, h, w, c], 0, 1, "float32", seed);
  try {
    return { x: (await x.data()) as Float32Array, shape: [batch, h, w, c], labels };
  } finally {
    x.dispose();
  }
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

/** Train Small Model: the backend streams the events, with a gradient snapshot on a few fixed images per epoch. */
async function runTraining(job: Extract<TrainJob, { kind: "train" }>): Promise<TrainJobResults["train"]> {
  const backend = backendOf(job);
  const { name } = await backend.ready();
  const { config, data } = await trainingConfigAndData(job);
  // Another job may have started on this worker meanwhile: clear `abort` only if it is still this run's.
  const controller = new AbortController();
  abort = controller;
  const started = performance.now();
  let gradients: GradientFlowResult | null = null;
  try {
    const what = { spec: job.graph.spec, data, config, backend: name, device: name };
    const result = await recordedTraining(
      job.run,
      what,
      (hooks) =>
        backend.train({
          graph: job.graph,
          data,
          config,
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
      (event: TrainEvent) => {
        const epochGradients = event.type === "epoch" ? gradients : null;
        if (event.type === "epoch") gradients = null;
        pushProgress(
          toTrainingEvent(event, { backend: name, gradients: epochGradients, millis: performance.now() - started }),
        );
      },
    );
    return trainOutcome(result);
  } finally {
    if (abort === controller) abort = null;
  }
}

/** Find Learning Rate: the range test on a fresh model, pushing every few steps so the chart fills in live. */
async function runLrRange(job: Extract<TrainJob, { kind: "lrRange" }>): Promise<LrRangeResult> {
  const backend = backendOf(job);
  await backend.ready();
  const [c, h, w] = job.graph.input as [number, number, number];
  const file = join(job.dataDir, MNIST_FILE_NAME);
  const dataset =
    job.dataset === "mnist" && existsSync(file)
      ? loadMnist(file)
      : (await resolveDataset(job.dataset, { input: [c, h, w], classes: job.graph.output[0], seed: 1 })).train;
  const controller = new AbortController();
  abort = controller;
  const points: LrPoint[] = [];
  const onPoint = (p: LrPoint, i: number) => {
    points.push(p);
    if (i % 5 === 4)
      push({
        type: "lrRange",
        result: { model: job.graph.name, points: [...points], suggested: suggestLearningRate(points), diverged: false },
      });
  };
  try {
    return await backend.lrRange({
      graph: job.graph,
      dataset,
      options: job.options,
      signal: controller.signal,
      onPoint,
    });
  } finally {
    if (abort === controller) abort = null;
  }
}

/** Show Gradient Flow: the network's pass and its plain twin's, on the job's backend. */
async function runGradientFlow(job: Extract<TrainJob, { kind: "gradientFlow" }>): Promise<GradientPair> {
  // The host runs the network and its twin at once, one worker each: half the cores each for torch's threads, or
  // their OpenMP threads spin against each other (warm ResNet-56 pair at load 10-13 on 2 cores: 11.2 s with 2
  // threads each, 483 ms with 1).
  const backend = backendOf(job, job.threads ?? Math.max(1, Math.floor(availableParallelism() / 2)));
  await backend.ready();
  // Estimate first: the configured batch shrinks to one that fits, or the pass is refused with the estimate.
  // The view says why, beside the batch it shows.
  const notes: string[] = [];
  const flow = async (graph: ModelGraph): Promise<GradientFlowResult> => {
    const { batch, note } = await backend.fitBatch({
      graph,
      kind: "gradflow",
      requested: null,
      preferred: job.batch,
      what: "a gradient-flow pass",
    });
    if (note) notes.push(note);
    return backend.gradientFlow({
      graph,
      batch: await randomBatch(graph, batch, job.seed),
      weights: { seed: job.seed },
    });
  };
  const residual = await flow(job.graph);
  const plain = job.plain ? await flow(job.plain) : null;
  return notes.length ? { residual, plain, notes } : { residual, plain };
}

/** Run Experiment: Plain vs Residual. The data loads as for "train"; the nets take its shape and class count. */
async function runExperimentJob(
  job: Extract<TrainJob, { kind: "experiment" }>,
): Promise<TrainJobResults["experiment"]> {
  const backend = backendOf(job);
  const { name } = await backend.ready();
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
      backend,
      backendName: name,
      signal: controller.signal,
      onState: (state) => push({ type: "experiment", state }),
    });
    return { cancelled: controller.signal.aborted, state };
  } finally {
    if (abort === controller) abort = null;
  }
}

async function runCalibration(job: Extract<TrainJob, { kind: "calibrate" }>): Promise<TrainJobResults["calibrate"]> {
  const calibration = await backendOf(job).calibrate({ batchSize: job.batchSize, workers: job.workers });
  return { throughput: calibration.throughput, seconds: calibration.seconds };
}

// Jobs run as they arrive (a "cancel" must reach a running one); the host sends one job at a time.
if (port)
  serveRequests<TrainJob, TrainJobResults, TrainWorkerNote>(
    port,
    {
      gradientFlow: runGradientFlow,
      train: runTraining,
      calibrate: runCalibration,
      lrRange: runLrRange,
      experiment: runExperimentJob,
    },
    {
      onNote: (note) => {
        if (note.type === "cancel") abort?.abort();
        // Starts the backend ahead of the first job: a tfjs backend's kernels, or the warm Python worker.
        else
          void backendOf(note)
            .ready()
            .catch(() => undefined);
      },
    },
  );

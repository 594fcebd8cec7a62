/**
 * `resnet-studio train <spec|preset>`: trains a network on the embedded MNIST digits, CIFAR-10 binaries or synthetic
 * data, with a progress bar on a terminal or JSON lines (--json), and resume (--resume). Every run is recorded
 * (runs/recorder.ts: run.json and a checkpoint after every epoch) in --out, or in a new folder under
 * .resnet-studio/runs/ of the working folder; --no-save records nothing.
 */
import { printable, printableJson } from "../diagnostics";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { writeFileAtomic } from "../safeFiles";
import { join, resolve } from "node:path";
import { RunRecorder, createRunFolder } from "../runs/recorder";
import { datasetSha256, RUN_RECORD_FILE, RUNS_FOLDER } from "../runs/record";
import { readRunRecord } from "../runs/listing";
import type { Command } from "commander";
import { SingleBar } from "cli-progress";
import { parseShapeArg } from "../load";
import type { ModelGraph } from "../analysis/graph";
import { loadAnalyzed, writeStdout } from "./summary";
import type { Backend, BackendDescription } from "../runtime/backends";
import { backendChoicesText, parseBackendSetting } from "../runtime/backendNames";
import { buildModel, type TfModel } from "../runtime/model";
import { resolveWorkerCount } from "../runtime/parallel";
import { checkPassMemory, passMemoryMessage } from "../runtime/memoryGuard";
import { formatBytes, formatCount, formatDuration, formatPercent } from "../presentation/format";
import { assertResumable, CHECKPOINT_FILE_NAME, specHash } from "../runtime/checkpoint";
import { readWeights } from "../runtime/weightsFile";
import { datasetTarget, resolveDataset, type ResolvedDataset } from "../data/resolve";
import { splitDataset } from "../data/dataset";
import { adaptToDataset, smallVariant, specSourceText, type DatasetTarget } from "../analysis/adapt";
import { estimateTraining, type Throughput, type TrainingEstimate } from "../analysis/estimate";
import { backendFromOptions } from "./backendOption";
import { stepProgress } from "../runtime/progress";
import {
  DEFAULT_TRAIN_CONFIG,
  MAX_WORKERS,
  type LrSchedule,
  type TrainConfig,
  type TrainEvent,
  type TrainResult,
} from "../runtime/trainTypes";

export interface TrainCliOptions {
  dataset?: string;
  epochs?: string;
  batch?: string;
  optimizer?: string;
  lr?: string;
  momentum?: string;
  weightDecay?: string;
  schedule?: string;
  valFraction?: string;
  maxSteps?: string;
  logEvery?: string;
  /** The run folder (run.json and the checkpoint); default: a new one under .resnet-studio/runs/ here. */
  out?: string;
  /** false (--no-save): record no run and write no checkpoint. */
  save?: boolean;
  resume?: string;
  backend?: string;
  seed?: string;
  workers?: string;
  /** --backend torch: the Python to run (default: RESNET_STUDIO_PYTHON, then python3 on PATH) and the device. */
  python?: string;
  device?: string;
  /** --backend torch: torch threads (default one per core). */
  threads?: string;
  input?: string;
  samplesPerEpoch?: string;
  /** Train the small variant of the spec (analysis/adapt.ts) instead of the spec as written. */
  small?: boolean;
  /** false (--no-estimate): skip the calibration and the estimate. */
  estimate?: boolean;
  json?: boolean;
  download?: boolean;
  /** Print nothing but errors (used by `start`, which prints its own lines). */
  quiet?: boolean;
}

/** Bad command-line values: printed as `resnet-studio: error: …`, no stack. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Per-dataset defaults. MNIST: small Adam run sized for examples/small.resnet.ts to pass 97% validation accuracy
 * in under two minutes on two cores. CIFAR-10: the paper's recipe (SGD, momentum 0.9, weight decay 1e-4, lr 0.1
 * divided by 10 at 50% and 75% of training; He et al. 2015 §4.2), shortened.
 */
export function datasetDefaults(dataset: string): Partial<TrainConfig> {
  const kind = dataset.split(":")[0];
  // Measured on 2 cores (wasm, 2 data-parallel workers, 550–860 img/s): 5 epochs reach 97.8–97.9% in 48–85 s, whole
  // process (BENCHMARKS.md); single-threaded (~510 img/s) 4 epochs reached 97.2% in 73 s.
  // MNIST-format folders (Fashion-MNIST, KMNIST …) and a user's own ImageFolder take the MNIST recipe.
  if (kind === "mnist" || kind === "idx" || kind === "imagefolder")
    return { epochs: 5, batchSize: 64, optimizer: "adam", lr: 1e-2, weightDecay: 0, schedule: { kind: "cosine" } };
  if (kind === "cifar10") {
    return {
      epochs: 12,
      batchSize: 128,
      optimizer: "sgd",
      lr: 0.1,
      momentum: 0.9,
      weightDecay: 1e-4,
      schedule: { kind: "step", milestones: [6, 9], gamma: 0.1 },
    };
  }
  return { epochs: 3, batchSize: 32, optimizer: "adam", lr: 3e-3, weightDecay: 5e-4, schedule: { kind: "cosine" } };
}

function parseNumber(
  value: string,
  flag: string,
  rule: { integer?: boolean; min?: number; minExclusive?: number; max?: number },
): number {
  const n = Number(value);
  const bad =
    value.trim() === "" ||
    !Number.isFinite(n) ||
    (rule.integer && !Number.isInteger(n)) ||
    (rule.min !== undefined && n < rule.min) ||
    (rule.minExclusive !== undefined && n <= rule.minExclusive) ||
    (rule.max !== undefined && n > rule.max);
  if (bad) {
    const kind = rule.integer ? "an integer" : "a number";
    const range = [
      rule.min !== undefined ? `≥ ${rule.min}` : rule.minExclusive !== undefined ? `> ${rule.minExclusive}` : "",
      rule.max !== undefined ? `≤ ${rule.max}` : "",
    ]
      .filter(Boolean)
      .join(" and ");
    throw new UsageError(`${flag} must be ${kind}${range ? " " + range : ""}, got "${value}"`);
  }
  return n;
}

function parseSchedule(value: string, epochs: number): LrSchedule {
  if (value === "constant") return { kind: "constant" };
  if (value === "cosine") return { kind: "cosine" };
  if (value === "step")
    return { kind: "step", milestones: [Math.round(epochs * 0.5), Math.round(epochs * 0.75)], gamma: 0.1 };
  throw new UsageError(`--schedule must be constant, step or cosine, got "${value}"`);
}

/** `--threads N`: torch's intra-op threads (default: one per core). */
export function parseThreads(value: string): number {
  return parseNumber(value, "--threads", { integer: true, min: 1, max: 1024 });
}

/** `--workers auto | N`: data-parallel replicas (threads); auto = one per core on wasm. */
export function parseWorkers(value: string): number | undefined {
  if (value.trim().toLowerCase() === "auto") return undefined;
  return parseNumber(value, "--workers", { integer: true, min: 1, max: MAX_WORKERS });
}

/** The run's config: built-in defaults < dataset defaults < the resumed checkpoint's config < explicit flags. */
export function buildTrainConfig(options: TrainCliOptions, resumed: TrainConfig | null): TrainConfig {
  const config: TrainConfig = {
    ...DEFAULT_TRAIN_CONFIG,
    ...datasetDefaults(options.dataset ?? "mnist"),
    ...(resumed ?? {}),
  };
  if (options.epochs !== undefined) config.epochs = parseNumber(options.epochs, "--epochs", { integer: true, min: 1 });
  if (options.batch !== undefined) config.batchSize = parseNumber(options.batch, "--batch", { integer: true, min: 2 });
  if (options.optimizer !== undefined) {
    if (options.optimizer !== "adam" && options.optimizer !== "sgd")
      throw new UsageError(`--optimizer must be adam or sgd, got "${options.optimizer}"`);
    config.optimizer = options.optimizer;
    if (options.lr === undefined && !resumed) config.lr = options.optimizer === "sgd" ? 0.1 : 3e-3;
  }
  if (options.lr !== undefined) config.lr = parseNumber(options.lr, "--lr", { minExclusive: 0 });
  if (options.momentum !== undefined)
    config.momentum = parseNumber(options.momentum, "--momentum", { min: 0, max: 0.999 });
  if (options.weightDecay !== undefined)
    config.weightDecay = parseNumber(options.weightDecay, "--weight-decay", { min: 0 });
  if (options.schedule !== undefined) config.schedule = parseSchedule(options.schedule, config.epochs);
  if (options.valFraction !== undefined)
    config.valFraction = parseNumber(options.valFraction, "--val-fraction", { min: 0, max: 0.9 });
  if (options.maxSteps !== undefined)
    config.maxSteps = parseNumber(options.maxSteps, "--max-steps", { integer: true, min: 1 });
  if (options.logEvery !== undefined)
    config.logEvery = parseNumber(options.logEvery, "--log-every", { integer: true, min: 1 });
  if (options.seed !== undefined) config.seed = parseNumber(options.seed, "--seed", { integer: true, min: 0 });
  if (options.workers !== undefined) config.workers = parseWorkers(options.workers);
  if (options.samplesPerEpoch !== undefined)
    config.samplesPerEpoch = parseNumber(options.samplesPerEpoch, "--samples-per-epoch", { integer: true, min: 1 });
  return config;
}

/** What the last --json line (and `start`) reports. */
export interface TrainSummary {
  type: "summary";
  model: string;
  dataset: string;
  backend: string;
  /** Data-parallel replicas (threads) that trained. */
  workers: number;
  reason: TrainResult["reason"];
  message?: string;
  epochs: number;
  valAccuracy: number | null;
  valLoss: number | null;
  accuracy: number | null;
  /** Training images per second over the whole run (validation excluded). */
  imagesPerSecond: number | null;
  /** Seconds of training (train()), and of the whole command including loading. */
  trainSeconds: number;
  totalSeconds: number;
  checkpoint: string | null;
  /** The run folder (run.json beside the checkpoint), null with --no-save. */
  run: string | null;
}

export interface TrainRun {
  result: TrainResult;
  summary: TrainSummary;
  model: TfModel;
  graph: ModelGraph;
  data: ResolvedDataset;
  backend: BackendDescription;
}

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * Loads the spec, picks the backend, resolves the dataset, trains, reports. Returns null when the spec has errors
 * (already printed, exit code set). The caller owns the returned model (dispose it).
 */
export async function runTrain(specArg: string, options: TrainCliOptions): Promise<TrainRun | null> {
  const started = performance.now();
  const dataset = options.dataset ?? "mnist";
  const input = options.input === undefined ? undefined : parseShapeArg(options.input);
  const backend = backendFromOptions(options);
  // Fail fast, before the dataset loads (on PyTorch: with what to install).
  const described = await backend.ready();
  if (options.small && options.resume) {
    throw new UsageError(
      "--small picks its variant by this machine's measured speed, so it can't resume; train the variant's saved spec (small-variant.resnet.ts in the --out folder) with --resume instead",
    );
  }
  // A weights-only state_dict has no optimiser state or counters: it starts the run at epoch 0 with a fresh optimiser.
  const resumedWeights = options.resume ? readWeights(options.resume) : null;
  const resumed = resumedWeights?.checkpoint ?? null;
  const initialWeights = resumedWeights && !resumed ? resumedWeights.path : undefined;
  if (initialWeights)
    process.stderr.write(
      `${printable(initialWeights)}: weights only (no optimiser state): starting at epoch 0 with a fresh optimiser\n`,
    );
  const config = buildTrainConfig(options, resumed?.header.config ?? null);

  const loaded = loadAnalyzed(specArg, input, { errorsOnly: true });
  if (!loaded) return null;
  const adapted = adaptForDataset(loaded.graph, dataset, config, options);
  if (!adapted) {
    process.exitCode = 1;
    return null;
  }
  const limitBytes = await backend.memoryLimitBytes();
  if (limitBytes !== null) {
    // Estimate before allocating anything big (the dataset included): the dataset's default batch gives way to the
    // largest one that fits the backend; an explicit or resumed batch that doesn't fit is refused with the estimate.
    const workers = resolveWorkerCount(config.workers, described.name, config.batchSize);
    const memory = checkPassMemory({
      graph: adapted.graph,
      batch: Math.ceil(config.batchSize / workers),
      kind: "train",
      optimizer: config.optimizer,
      limitBytes,
    });
    if (!memory.fits) {
      if (options.batch !== undefined || resumed || memory.largestBatch < 2) {
        throw new UsageError(passMemoryMessage(adapted.graph, memory, "a training step", { replicas: workers }));
      }
      if (!options.quiet) {
        process.stderr.write(
          `note: batch ${memory.largestBatch} instead of ${config.batchSize}: a training step would need about ` +
            `${formatBytes(memory.estimateBytes)}, more than the ${formatBytes(memory.limitBytes)} the ${described.name} backend can hold\n`,
        );
      }
      config.batchSize = memory.largestBatch;
    }
  }
  const data = await resolveDataset(dataset, {
    input: loaded.graph.spec.input,
    classes: loaded.graph.spec.classes,
    seed: config.seed,
    valFraction: config.valFraction,
    download: options.download,
    onDecodeProgress: (decoded, total) => {
      if (!options.json && !options.quiet)
        process.stderr.write(`\rdecoding images: ${decoded} / ${total}${decoded === total ? "\n" : ""}`);
    },
    onDownloadProgress: (received, total) => {
      if (!options.json && !options.quiet)
        process.stderr.write(
          `\rdownloading CIFAR-10: ${(received / 1e6).toFixed(1)}${total ? ` / ${(total / 1e6).toFixed(1)}` : ""} MB`,
        );
    },
  });
  if (!options.json && !options.quiet) for (const note of data.notes ?? []) process.stderr.write(`${note}\n`);
  const held = data.val ? 0 : splitDataset(data.train, config.valFraction).val.length;
  const plan = await planTraining(
    loaded.graph,
    adapted,
    dataset,
    data.train.count - held,
    config,
    backend,
    described,
    options,
  );
  if (!plan) {
    process.exitCode = 1;
    return null;
  }
  const graph = plan.graph;

  // A checkpoint that can't resume this network is refused before any run folder is made.
  if (resumed) assertResumable(resumed, graph.spec, config);
  let checkpointPath: string | undefined;
  const runDir = options.save === false ? null : runFolderFor(specArg, options);
  if (runDir) {
    mkdirSync(runDir, { recursive: true });
    checkpointPath = join(runDir, CHECKPOINT_FILE_NAME);
    if (options.small) {
      const file = join(runDir, SMALL_VARIANT_FILE);
      writeFileAtomic(
        file,
        specSourceText(
          graph.spec,
          `The small variant of ${loaded.graph.spec.name} that \`resnet-studio train --small\` trained on ${dataset}.`,
        ),
      );
      if (!options.json && !options.quiet) process.stderr.write(`small variant saved as ${printable(file)}\n`);
    }
  }
  const model = buildModel(graph, { seed: config.seed });
  const controller = new AbortController();
  // The first Ctrl-C stops between steps; a second one exits now (the exit hook kills a torch worker's process
  // group and removes its temp folders, so nothing is orphaned).
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  };
  process.on("SIGINT", onSigint);
  // On a terminal, a step event at least every second keeps the bar and the ETA moving on slow networks.
  if (!options.json) config.logEverySeconds = 1;
  const reporter = options.json
    ? jsonReporter(options.logEvery !== undefined)
    : options.quiet
      ? () => undefined
      : terminalReporter();
  const recorder = runDir
    ? new RunRecorder({
        dir: runDir,
        spec: graph.spec,
        specText: trainedSpecText(options.input === undefined ? loaded.file : null, graph, loaded.graph, dataset),
        specFile: loaded.file ? resolve(loaded.file) : null,
        dataset: { arg: dataset, sha256: datasetSha256(data), valFraction: config.valFraction },
        // Refined from the started event's backend line (the device PyTorch chose).
        backend: described.name,
        device: described.name,
        config,
        previous: options.resume && resolve(options.resume) === resolve(runDir) ? readRunRecord(runDir) : null,
      })
    : null;
  if (recorder && !options.json && !options.quiet) process.stderr.write(`run: ${printable(runDir!)}\n`);
  const record = (event: TrainEvent) => recorder?.onEvent(event);
  let result: TrainResult;
  try {
    result = await backend.train({
      graph,
      model,
      data,
      config,
      signal: controller.signal,
      checkpoint: checkpointPath,
      resumeFrom: resumed ? resumed.path : undefined,
      initialWeights,
      onEvent: (event) => {
        record(event);
        reporter(event);
      },
    });
    recorder?.finish(result);
  } catch (err) {
    recorder?.fail(err instanceof Error ? err.message : String(err));
    model.dispose();
    throw err;
  } finally {
    process.removeListener("SIGINT", onSigint);
  }
  const trainSeconds = result.history.reduce((s, e) => s + e.trainSamples / Math.max(1e-9, e.imagesPerSecond), 0);
  const trainImages = result.history.reduce((s, e) => s + e.trainSamples, 0);
  const summary: TrainSummary = {
    type: "summary",
    model: graph.spec.name,
    dataset: data.train.name,
    backend: described.name,
    workers: result.workers ?? 1,
    reason: result.reason,
    ...(result.message ? { message: result.message } : {}),
    epochs: result.epochsCompleted,
    valAccuracy: result.final?.valAccuracy === undefined ? null : round(result.final.valAccuracy, 5),
    valLoss: result.final?.valLoss === undefined ? null : round(result.final.valLoss, 5),
    accuracy: result.final ? round(result.final.accuracy, 5) : null,
    imagesPerSecond: trainSeconds > 0 ? round(trainImages / trainSeconds, 1) : null,
    trainSeconds: round(result.seconds, 2),
    totalSeconds: round((performance.now() - started) / 1000, 2),
    checkpoint: checkpointPath && existsSync(checkpointPath) ? checkpointPath : null,
    run: runDir,
  };
  if (options.json) await writeStdout(printableJson(summary) + "\n");
  else if (!options.quiet) await writeStdout(formatSummary(summary));
  if (result.reason === "diverged") {
    process.stderr.write(`resnet-studio: error: ${result.message ?? "training diverged"}\n`);
    process.exitCode = 1;
  } else if (result.reason === "aborted") {
    process.exitCode = 130;
  }
  return { result, summary, model, graph, data, backend: described };
}

/**
 * The run folder: --out as given; else the resumed run's own folder (resuming continues its run.json); else a new
 * `.resnet-studio/runs/<spec stem>/<UTC timestamp>/` in the working folder.
 */
function runFolderFor(specArg: string, options: TrainCliOptions): string {
  if (options.out) return options.out;
  if (options.resume) {
    const dir = resolve(options.resume);
    if (existsSync(join(dir, RUN_RECORD_FILE)) && statSync(dir).isDirectory()) return dir;
  }
  return createRunFolder(join(process.cwd(), ...RUNS_FOLDER), specArg);
}

/** The spec as it trained: the file's own text when it trained as written, else the adapted network's source. */
function trainedSpecText(file: string | null, trained: ModelGraph, written: ModelGraph, dataset: string): string {
  if (file && specHash(trained.spec) === specHash(written.spec)) {
    try {
      return readFileSync(file, "utf8");
    } catch {
      // Fall through to the generated source: the network is the same.
    }
  }
  return specSourceText(trained.spec, `${trained.spec.name} as \`resnet-studio train\` trained it on ${dataset}.`);
}

/** File name of the small variant's spec written next to the checkpoint (`--small --out DIR`). */
export const SMALL_VARIANT_FILE = "small-variant.resnet.ts";
/** "Train Small Model"'s budget: an epoch of about a minute. */
export const SMALL_EPOCH_SECONDS = 60;

/** What `train` prints before training: the adaptation to the dataset and the time estimate (also a JSON line). */
export interface TrainEstimateLine {
  type: "estimate";
  model: string;
  dataset: string;
  /** How the spec was changed to fit the dataset (and, with --small, to fit the budget). */
  changes: string[];
  backend: string;
  workers: number;
  macsPerImage: number;
  params: number;
  secondsPerStep: number;
  stepsPerEpoch: number;
  secondsPerEpoch: number;
  epochs: number;
  calibration: { macsPerSecond: number; stepOverheadSeconds: number; secondsPerParam: number; seconds: number };
}

/** The spec with the dataset's input shape (unless --input gave one) and class count, and what changed. */
function adaptForDataset(
  written: ModelGraph,
  dataset: string,
  config: TrainConfig,
  options: TrainCliOptions,
): { graph: ModelGraph; changes: string[]; target: DatasetTarget | null } | null {
  // --input keeps the given shape (the images are padded or cropped to it); the class count still follows the dataset.
  const known = datasetTarget(dataset, config.valFraction, written.spec.input);
  const target = known && options.input !== undefined ? { ...known, input: written.spec.input } : known;
  if (!target) return { graph: written, changes: [], target: null };
  const adapted = adaptToDataset(written.spec, target);
  return adapted ? { graph: adapted.graph, changes: adapted.changes, target } : null;
}

/**
 * The network `train` runs: the spec adapted to the dataset, or its small variant with --small; and, unless
 * --no-estimate or --quiet, the estimate from a short calibration of the backend (a tfjs backend in process, or PyTorch
 * through its runner on the chosen device; skipped on the pure-JS cpu backend, which is far too slow to calibrate in
 * seconds).
 */
async function planTraining(
  written: ModelGraph,
  adapted: { graph: ModelGraph; changes: string[]; target: DatasetTarget | null },
  dataset: string,
  datasetSamples: number,
  config: TrainConfig,
  backend: Backend,
  described: BackendDescription,
  options: TrainCliOptions,
): Promise<{ graph: ModelGraph; estimate: TrainingEstimate | null } | null> {
  const calibrate = (options.small || (options.estimate !== false && !options.quiet)) && described.name !== "cpu";
  if (options.small && !calibrate) {
    throw new UsageError(
      `--small needs a measured speed, and the ${described.name} backend can't be calibrated here: use --backend wasm`,
    );
  }
  let throughput: Throughput | null = null;
  let calibrationSeconds = 0;
  if (calibrate) {
    if (!options.json && !options.quiet)
      process.stderr.write(
        `measuring ${described.name}'s speed for the estimate (a few seconds; --no-estimate skips it)…\n`,
      );
    const calibration = await backend.calibrate({ batchSize: config.batchSize, workers: config.workers });
    throughput = calibration.throughput;
    calibrationSeconds = calibration.seconds;
  }
  const spec = written.spec;
  const trainSamples = Math.min(datasetSamples, config.samplesPerEpoch ?? Infinity);
  let { graph, changes } = adapted;
  if (options.small && throughput) {
    const small = smallVariant(
      spec,
      { ...(adapted.target ?? { name: dataset, input: spec.input, classes: spec.classes }), trainSamples },
      {
        throughput,
        batchSize: config.batchSize,
        budgetSeconds: SMALL_EPOCH_SECONDS,
      },
    );
    if (!small) return null;
    ({ graph, changes } = small);
  }
  if (!throughput) {
    if (changes.length > 0 && !options.json && !options.quiet)
      process.stderr.write(
        [`${printable(graph.spec.name)}: the spec, changed for ${dataset}:`, ...changes.map((c) => `  ${c}`)].join(
          "\n",
        ) + "\n",
      );
    return { graph, estimate: null };
  }
  const estimate = estimateTraining(graph, { batchSize: config.batchSize, trainSamples, throughput });
  const line: TrainEstimateLine = {
    type: "estimate",
    model: graph.spec.name,
    dataset,
    changes,
    backend: throughput.backend,
    workers: throughput.workers,
    macsPerImage: graph.totals.macs,
    params: graph.totals.params,
    secondsPerStep: round(estimate.secondsPerStep, 4),
    stepsPerEpoch: estimate.stepsPerEpoch,
    secondsPerEpoch: round(estimate.secondsPerEpoch, 2),
    epochs: config.epochs,
    calibration: {
      macsPerSecond: Math.round(throughput.macsPerSecond),
      stepOverheadSeconds: round(throughput.stepOverheadSeconds, 4),
      secondsPerParam: throughput.secondsPerParam,
      seconds: round(calibrationSeconds, 2),
    },
  };
  if (options.json) process.stdout.write(printableJson(line) + "\n");
  else if (!options.quiet) process.stderr.write(formatEstimate(line));
  return { graph, estimate };
}

export function formatEstimate(e: TrainEstimateLine): string {
  const lines: string[] = [];
  if (e.changes.length > 0)
    lines.push(`${printable(e.model)}: the spec, changed for ${e.dataset}:`, ...e.changes.map((c) => `  ${c}`));
  lines.push(
    `estimate: ${formatCount(e.macsPerImage)} MACs/image, ${formatCount(e.params)} params → ${formatDuration(e.secondsPerStep)}/step, ` +
      `${e.stepsPerEpoch} steps → ${formatDuration(e.secondsPerEpoch)}/epoch, ${formatDuration(e.secondsPerEpoch * e.epochs)} for ${e.epochs} epoch${e.epochs === 1 ? "" : "s"}`,
    `  (${e.backend}${e.workers > 1 ? ` × ${e.workers} workers` : ""} calibrated in ${formatDuration(e.calibration.seconds)}: ` +
      `${(e.calibration.macsPerSecond / 1e9).toFixed(1)} GMAC/s, ${formatDuration(e.calibration.stepOverheadSeconds)} per step` +
      `${e.calibration.secondsPerParam > 0 ? `, ${(e.calibration.secondsPerParam * 1e9).toFixed(0)} ns per param` : ""})`,
  );
  if (e.secondsPerEpoch > SMALL_EPOCH_SECONDS && !e.model.includes("(small,"))
    lines.push(`  over a minute per epoch: --small trains a smaller variant of the same design`);
  return lines.join("\n") + "\n";
}

/** `--backend torch` (or RESNET_STUDIO_BACKEND=torch with --backend auto): run on PyTorch instead of tfjs. */
export function isTorchBackend(value: string | undefined): boolean {
  const flag = parseBackendSetting(value ?? "auto", "--backend");
  const env = process.env.RESNET_STUDIO_BACKEND;
  const chosen = flag === "auto" && env?.trim() ? parseBackendSetting(env, "RESNET_STUDIO_BACKEND") : flag;
  return chosen === "torch";
}

export function formatSummary(s: TrainSummary): string {
  const pct = (v: number | null) => (v === null ? "n/a" : formatPercent(v, 2));
  const lines = [
    `${printable(s.model)} on ${s.dataset} (${s.backend}${s.workers > 1 ? `, ${s.workers} workers` : ""}): ${s.reason === "completed" ? "done" : s.reason} after ${s.epochs} epoch${s.epochs === 1 ? "" : "s"}`,
    `  validation accuracy ${pct(s.valAccuracy)}  (loss ${s.valLoss?.toFixed(4) ?? "n/a"}; training accuracy ${pct(s.accuracy)})`,
    `  ${s.imagesPerSecond?.toFixed(0) ?? "n/a"} training images/s; ${s.trainSeconds.toFixed(1)} s training, ${s.totalSeconds.toFixed(1)} s in all`,
  ];
  if (s.checkpoint) lines.push(`  checkpoint: ${s.checkpoint}`);
  return lines.join("\n") + "\n";
}

/** JSON lines on stdout: start, (steps with --log-every), epochs, checkpoints. The summary line comes last. */
function jsonReporter(withSteps: boolean): (event: TrainEvent) => void {
  return (event) => {
    if (event.type === "step" && !withSteps) return;
    if (event.type === "done") return;
    process.stdout.write(printableJson(event) + "\n");
  };
}

/** Seconds between plain progress lines when stderr is not a terminal. */
const PLAIN_PROGRESS_SECONDS = 30;

/** A cli-progress bar per epoch on a terminal (plain progress lines otherwise), the first step's time, one line per epoch. */
function terminalReporter(): (event: TrainEvent) => void {
  const interactive = Boolean(process.stderr.isTTY);
  let bar: SingleBar | null = null;
  let epochs = 0;
  let sawStep = false;
  let lastPlainLine = performance.now();
  return (event) => {
    switch (event.type) {
      case "start":
        epochs = event.config.epochs;
        process.stderr.write(
          `training ${printable(event.model)} (${event.params.toLocaleString("en-US")} params) on ${event.dataset}: ${event.trainSamples} train / ${event.valSamples} val images` +
            (event.config.samplesPerEpoch !== undefined && event.config.samplesPerEpoch < event.trainSamples
              ? ` (${event.config.samplesPerEpoch} per epoch)`
              : "") +
            ", " +
            `${event.config.optimizer} lr ${event.config.lr}, batch ${event.config.batchSize}, ${event.backend}` +
            ((event.workers ?? 1) > 1 ? ` × ${event.workers} workers (batch split between them)` : "") +
            (event.startEpoch > 0 ? `, resuming at epoch ${event.startEpoch + 1}` : "") +
            "\n",
        );
        break;
      case "step":
        if (!sawStep) {
          // train() reports the run's first step: its time, as soon as it is known (it includes the backend's warm-up).
          sawStep = true;
          process.stderr.write(
            `first step: ${formatDuration(event.epochSeconds)}; ${stepProgress(event, epochs, null).text}\n`,
          );
        }
        if (!interactive) {
          // Logs and pipes get a plain progress line every 30 s instead of a bar.
          if ((performance.now() - lastPlainLine) / 1000 >= PLAIN_PROGRESS_SECONDS) {
            lastPlainLine = performance.now();
            process.stderr.write(`${stepProgress(event, epochs, null).text}\n`);
          }
          break;
        }
        if (!bar) {
          bar = new SingleBar({
            format: `epoch {epoch}/${epochs} [{bar}] {value}/{total} steps | loss {loss} | acc {acc} | {ips} img/s | eta {eta_formatted}`,
            barsize: 24,
            hideCursor: true,
            clearOnComplete: true,
            stream: process.stderr,
          });
          bar.start(event.stepsPerEpoch, 0, { epoch: event.epoch + 1, loss: "-", acc: "-", ips: "-" });
        }
        bar.update(event.step + 1, {
          epoch: event.epoch + 1,
          loss: event.loss.toFixed(4),
          acc: formatPercent(event.accuracy, 1),
          ips: event.imagesPerSecond.toFixed(0),
        });
        break;
      case "epoch":
        bar?.stop();
        bar = null;
        process.stderr.write(
          `epoch ${event.epoch + 1}/${event.epochs}: loss ${event.loss.toFixed(4)} acc ${formatPercent(event.accuracy, 2)} | ` +
            (event.valLoss === undefined || event.valAccuracy === undefined
              ? "no validation | "
              : `val loss ${event.valLoss.toFixed(4)} val acc ${formatPercent(event.valAccuracy, 2)} | `) +
            `lr ${event.lr.toPrecision(3)} | ` +
            `${event.imagesPerSecond.toFixed(0)} img/s | ${event.seconds.toFixed(1)} s\n`,
        );
        break;
      case "done":
        bar?.stop();
        bar = null;
        if (event.reason === "aborted")
          process.stderr.write("stopped (cancelled); the last completed epoch's checkpoint, if any, is kept\n");
        break;
      default:
        break;
    }
  };
}

export function registerTrain(program: Command): void {
  program
    .command("train")
    .description("train a .resnet.ts spec or preset on MNIST (embedded), CIFAR-10 binaries or synthetic data")
    .argument("<spec>", "path to a .resnet.ts file, or a preset name such as resnet20")
    .option(
      "--dataset <name>",
      "mnist | idx:<dir> | imagefolder:<dir>[:size=N][:mode=rgb|grey] | cifar10:<dir>[:classes=0,2] | synthetic[:count=N]",
      "mnist",
    )
    .option("--epochs <n>", "epochs (default per dataset: mnist, idx and imagefolder 5, cifar10 12, synthetic 3)")
    .option("--batch <n>", "batch size (default: mnist 64, cifar10 128, synthetic 32)")
    .option("--optimizer <name>", "adam | sgd (default: adam; sgd for cifar10)")
    .option("--lr <x>", "peak learning rate (default: mnist 1e-2, other adam 3e-3, sgd 0.1)")
    .option("--momentum <x>", "SGD momentum (default 0.9)")
    .option("--weight-decay <x>", "L2 on conv/fc weights (default: mnist 0, cifar10 1e-4, synthetic 5e-4)")
    .option("--schedule <kind>", "constant | step | cosine (default: cosine; step for cifar10)")
    .option("--val-fraction <x>", "fraction held out for validation when the dataset has no test split (default 0.1)")
    .option("--max-steps <n>", "stop after this many steps")
    .option("--log-every <n>", "with --json, also print a line every n steps")
    .option(
      "--out <dir>",
      `the run folder: run.json and ${CHECKPOINT_FILE_NAME} after every epoch (default: a new folder under .resnet-studio/runs/)`,
    )
    .option("--no-save", "record no run and write no checkpoint")
    .option("--resume <dir|file>", "continue from a checkpoint (same spec)")
    .option("--backend <name>", backendChoicesText(), "auto")
    .option(
      "--python <path>",
      "with --backend torch: the Python with PyTorch (default: RESNET_STUDIO_PYTHON, then python3 on PATH)",
    )
    .option("--device <name>", "with --backend torch: cpu | cuda | auto", "auto")
    .option("--threads <n>", "with --backend torch: torch threads (default: one per core)")
    .option("--seed <n>", "seed for weight init and shuffling (default 1)")
    .option(
      "--workers <n>",
      "data-parallel training threads, each on a share of every batch: auto (one per core on wasm) or N; 1 = single-threaded",
    )
    .option(
      "--input <C,H,W>",
      "override the spec's input shape (otherwise mnist and cifar10 set it, and the class count)",
    )
    .option(
      "--small",
      `train a small variant of the spec: same design, the dataset's shape, scaled until an epoch fits ${SMALL_EPOCH_SECONDS} s`,
    )
    .option("--samples-per-epoch <n>", "train on at most n images per epoch (a fresh random subset each epoch)")
    .option("--no-estimate", "skip the speed calibration and the time estimate printed before training")
    .option("--download", "download CIFAR-10 into the cifar10:<dir> folder if it is missing")
    .option("--json", "JSON lines instead of a progress bar; the last line is the summary")
    .action(async (spec: string, options: TrainCliOptions) => {
      const run = await runTrain(spec, options);
      run?.model.dispose();
    });
}

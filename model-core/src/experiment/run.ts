/**
 * Runs the plain-vs-residual experiment on the project's one trainer (runtime/train.ts on tfjs, or the same loop on
 * PyTorch through runtime/torchBackend.ts): every net with the same recipe, seed, data order and validation images,
 * each in its own run folder (checkpoint.safetensors after every epoch, run.json with the spec, dataset, config,
 * history, timings and status), and the chart, the page and experiment.json beside them, rewritten after every epoch so
 * that a stopped experiment leaves what it measured.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { specSourceText } from "../analysis/adapt";
import { DatasetError, SPLIT_SEED, splitDataset, type ImageDataset } from "../data/dataset";
import { SeededRng, shuffledIndices } from "../data/rng";
import type { ResolvedDataset } from "../data/resolve";
import { errorCurvesSvg } from "../render/errorCurves";
import { datasetSha256 } from "../runs/record";
import { writeFileAtomic } from "../safeFiles";
import type { Backend } from "../runtime/backends";
import type { TrainConfig, TrainEvent, TrainResult } from "../runtime/trainTypes";
import { networkId } from "../spec/identity";
import {
  experimentNets,
  initialExperimentState,
  plainVsResidualVerdict,
  type ExperimentScale,
  type ExperimentSeries,
  type ExperimentState,
  type ExperimentTarget,
  type RunStatus,
} from "./plainVsResidual";
import { experimentReportHtml } from "./report";

/** The files an experiment folder holds besides one folder per net. */
export const EXPERIMENT_FILES = {
  chart: "chart.svg",
  page: "chart.html",
  record: "experiment.json",
} as const;
export const RUN_RECORD_FILE = "run.json";
export const RUN_SPEC_FILE = "spec.resnet.ts";

/** One net's run record, the JSON a Runs view can list (issue 17's run.json). */
export interface RunRecord {
  format: "resnet-studio-run";
  version: 1;
  model: string;
  specText: string;
  architectureHash: string;
  dataset: { name: string; sha256: string; trainSamples: number; valSamples: number };
  backend: string;
  config: TrainConfig;
  history: TrainResult["history"];
  status: RunStatus;
  message?: string;
  startedAt: string;
  finishedAt: string | null;
  seconds: number;
  experiment: { name: "plain-vs-residual"; net: string };
}

export interface ExperimentRunOptions {
  depths: readonly number[];
  scale: ExperimentScale;
  target: ExperimentTarget;
  /** The dataset argument, for the records ("mnist", "idx:/usr/share/datasets/fashion-mnist"). */
  datasetArg: string;
  data: ResolvedDataset;
  /** The recipe every net trains with (epochs, batch, optimiser, schedule, seed, workers). */
  config: TrainConfig;
  /** The experiment's folder: created, one sub-folder per net. */
  out: string;
  /** Trains every net (a tfjs backend, or PyTorch in its worker); `backendName` is its name. */
  backend: Backend;
  backendName: string;
  signal?: AbortSignal;
  /** The state after every change (a net started, an epoch finished, a net ended). */
  onState?: (state: ExperimentState) => void;
  /** Every training event, with the net it came from. */
  onEvent?: (net: string, event: TrainEvent) => void;
}

/** What the nets are scaled to: the loaded dataset's image shape and class count, under the dataset's usual name. */
export function experimentTarget(knownName: string | null, data: ResolvedDataset): ExperimentTarget {
  return {
    name: knownName ?? data.train.name,
    input: [data.train.channels, data.train.height, data.train.width],
    classes: Math.max(data.train.classes, data.val?.classes ?? 0),
  };
}

/** Images `indices` of `dataset` as a dataset of their own (the pixels copied; mean/std kept: normalisation is the training set's). */
export function subsetDataset(dataset: ImageDataset, indices: ArrayLike<number>, name = dataset.name): ImageDataset {
  const size = dataset.height * dataset.width * dataset.channels;
  const images = new Uint8Array(indices.length * size);
  const labels = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const src = indices[i];
    images.set(dataset.images.subarray(src * size, (src + 1) * size), i * size);
    labels[i] = dataset.labels[src];
  }
  return { ...dataset, name, images, labels, count: indices.length };
}

/**
 * The training and validation sets every net sees: the dataset's own validation split (or the usual fixed hold-out of
 * `valFraction`), cut to `valSamples` images by a fixed seeded choice, so that every net validates on the same images.
 */
export function experimentData(
  data: ResolvedDataset,
  valFraction: number,
  valSamples: number,
): ResolvedDataset & { val: ImageDataset } {
  let train = data.train;
  let val = data.val;
  if (!val) {
    const split = splitDataset(data.train, valFraction > 0 ? valFraction : 0.1);
    train = subsetDataset(data.train, split.train);
    val = subsetDataset(data.train, split.val, `${data.train.name} (held out)`);
  }
  if (valSamples < val.count) {
    const chosen = shuffledIndices(val.count, new SeededRng(SPLIT_SEED)).slice(0, valSamples).sort();
    val = subsetDataset(val, chosen, val.name);
  }
  if (val.count < 1) throw new DatasetError(`dataset ${data.train.name}: no validation images`);
  return { train, val };
}

function writeJsonAtomically(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + "\n");
}

const statusOf = (reason: TrainResult["reason"]): RunStatus =>
  reason === "aborted" ? "cancelled" : reason === "diverged" ? "diverged" : "completed";

/** Writes chart.svg, chart.html and experiment.json for `state` into `out`. */
export function writeExperimentFiles(out: string, state: ExperimentState): void {
  writeFileAtomic(join(out, EXPERIMENT_FILES.chart), errorCurvesSvg(state) + "\n");
  writeFileAtomic(join(out, EXPERIMENT_FILES.page), experimentReportHtml(state));
  writeJsonAtomically(join(out, EXPERIMENT_FILES.record), { format: "resnet-studio-experiment", version: 1, ...state });
}

/** Trains every net in turn; resolves with the final state (verdict set) once all have ended or the signal stopped them. */
export async function runExperiment(options: ExperimentRunOptions): Promise<ExperimentState> {
  const started = performance.now();
  const data = experimentData(options.data, options.config.valFraction, options.scale.valSamples);
  const nets = experimentNets(options.depths, options.scale.width, options.target);
  const config: TrainConfig = {
    ...options.config,
    samplesPerEpoch: options.scale.samplesPerEpoch < data.train.count ? options.scale.samplesPerEpoch : undefined,
  };
  const state = initialExperimentState(nets, {
    dataset: options.target.name,
    backend: options.backendName,
    epochs: config.epochs,
    width: options.scale.width,
    trainSamples: Math.min(options.scale.samplesPerEpoch, data.train.count),
    valSamples: data.val.count,
  });
  const sha256 = datasetSha256(data);
  mkdirSync(options.out, { recursive: true });
  const publish = () => {
    state.seconds = (performance.now() - started) / 1000;
    writeExperimentFiles(options.out, state);
    options.onState?.(state);
  };
  publish();
  for (const [index, net] of nets.entries()) {
    const series: ExperimentSeries = state.series[index];
    if (options.signal?.aborted) {
      series.status = "cancelled";
      continue;
    }
    const dir = join(options.out, net.key);
    mkdirSync(dir, { recursive: true });
    const specText = specSourceText(
      net.graph.spec,
      `${net.label} of resnet-studio experiment plain-vs-residual on ${options.datasetArg}.`,
    );
    writeFileSync(join(dir, RUN_SPEC_FILE), specText);
    const record: RunRecord = {
      format: "resnet-studio-run",
      version: 1,
      model: net.graph.spec.name,
      specText,
      architectureHash: networkId(net.graph.spec),
      dataset: { name: options.datasetArg, sha256, trainSamples: data.train.count, valSamples: data.val.count },
      backend: options.backendName,
      config,
      history: [],
      status: "running",
      startedAt: new Date().toISOString(),
      finishedAt: null,
      seconds: 0,
      experiment: { name: "plain-vs-residual", net: net.key },
    };
    const netStarted = performance.now();
    const save = () => {
      record.seconds = (performance.now() - netStarted) / 1000;
      writeJsonAtomically(join(dir, RUN_RECORD_FILE), record);
    };
    save();
    series.status = "running";
    publish();
    const onEvent = (event: TrainEvent) => {
      options.onEvent?.(net.key, event);
      if (event.type === "start") record.backend = event.backend;
      if (event.type !== "epoch") return;
      const { type: _, ...metrics } = event;
      record.history.push(metrics);
      series.points.push({
        epoch: event.epoch + 1,
        trainError: 1 - event.accuracy,
        valError: 1 - (event.valAccuracy ?? Number.NaN),
      });
      // Every net validates (experimentData always holds images out), so NaN marks a trainer bug, never data.
      series.seconds = (performance.now() - netStarted) / 1000;
      save();
      publish();
    };
    try {
      const result: TrainResult = await options.backend.train({
        graph: net.graph,
        data,
        config,
        signal: options.signal,
        checkpoint: dir,
        onEvent,
      });
      series.status = record.status = statusOf(result.reason);
      if (result.message) series.message = record.message = result.message;
    } catch (err) {
      // A failure of the data or the setup fails every net alike: stop rather than repeat it.
      const message = err instanceof Error ? err.message : String(err);
      series.status = record.status = "failed";
      series.message = record.message = message;
      record.finishedAt = new Date().toISOString();
      save();
      if (err instanceof DatasetError) throw err;
    }
    record.finishedAt ??= new Date().toISOString();
    series.seconds = (performance.now() - netStarted) / 1000;
    save();
    publish();
  }
  state.verdict = plainVsResidualVerdict(state.series);
  publish();
  return state;
}

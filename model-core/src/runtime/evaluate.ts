/**
 * Evaluation of trained weights on a dataset's validation images: what `resnet-studio eval`, the Evaluate command and
 * Show in Diagram measure. The target is a spec (seeded initialisation), a run folder (its run.json's spec and
 * dataset, and its checkpoint) or a weights file (a checkpoint, or a weights-only state_dict with --spec). The
 * images are the ones training validated on: the dataset's own validation split, else the fixed held-out split
 * (data/dataset.ts splitDataset), normalised as training normalised them. One function per backend computes logits;
 * the figures come from analysis/evaluation.ts, so both backends report the same arithmetic.
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import type { ModelGraph } from "../analysis/graph";
import { adaptToDataset } from "../analysis/adapt";
import { EvaluationAccumulator, type EvaluationResult } from "../analysis/evaluation";
import { BatchAdapter, DatasetError, splitDataset, type ImageDataset } from "../data/dataset";
import { datasetTarget, resolveDataset } from "../data/resolve";
import { SpecError } from "../diagnostics";
import { loadSpec, loadSpecText, type LoadedSpec } from "../load";
import { analyze } from "../analysis/analyze";
import { CHECKPOINT_FILE_NAME, CheckpointError } from "./checkpoint";
import type { TfModel } from "./model";
import { DEFAULT_TRAIN_CONFIG } from "./trainTypes";
import { readWeights, type LoadedWeights } from "./weightsFile";
import { readRunRecord } from "../runs/listing";
import type { RunRecord } from "../runs/record";

/** The images an evaluation runs on. */
export interface EvaluationSet {
  dataset: ImageDataset;
  indices: Uint32Array;
}

/** What to evaluate: the network, its weights, and the data it was trained on. */
export interface EvaluationTarget {
  graph: ModelGraph;
  /** Null: the seeded initialisation. */
  weights: LoadedWeights | null;
  datasetArg: string;
  valFraction: number;
  /** The run folder, when the target is one. */
  runDir: string | null;
  /** What people should know (the spec adapted to the dataset, where the weights came from), one line each. */
  notes: string[];
}

export interface TargetOptions {
  /** A spec (file or preset) for a weights-only state_dict, or to override a checkpoint's own. */
  spec?: string;
  /** Overrides the run's or checkpoint's dataset (default mnist). */
  dataset?: string;
}

/** Images per forward pass: no gradients are kept, so larger than a training batch. */
const EVAL_BATCH = 256;
const RUN_FILE = "run.json";

/** The fields of a run folder's run.json that evaluation reads; every other field is the run recorder's. */
export interface RunSource {
  specText: string;
  specFile: string | null;
  datasetArg: string;
  valFraction: number;
}

/** Reads the spec and dataset of a run folder's run.json through the run recorder's reader, which names a bad field. */
export function readRunSource(runDir: string): RunSource {
  let record: RunRecord | null;
  try {
    record = readRunRecord(runDir);
  } catch (err) {
    throw new CheckpointError(err instanceof Error ? err.message : String(err));
  }
  if (!record) throw new CheckpointError(`${join(runDir, RUN_FILE)}: no run record in this folder`);
  return {
    specText: record.specText,
    specFile: record.specFile,
    datasetArg: record.dataset.arg,
    valFraction: record.dataset.valFraction ?? DEFAULT_TRAIN_CONFIG.valFraction,
  };
}

function graphOrThrow(loaded: LoadedSpec): ModelGraph {
  const errors = loaded.diagnostics.filter((d) => d.severity === "error");
  if (!loaded.graph || errors.length > 0)
    throw new SpecError(
      errors.length > 0
        ? errors
        : [{ severity: "error", code: "analysis-failed", message: "the network could not be analyzed", range: null }],
    );
  return loaded.graph;
}

/** The spec as training ran it: its input shape and class count follow the dataset, as `train` adapts them. */
function adaptedTo(graph: ModelGraph, datasetArg: string, valFraction: number, notes: string[]): ModelGraph {
  const target = datasetTarget(datasetArg, valFraction, graph.spec.input);
  if (!target) return graph;
  const adapted = adaptToDataset(graph.spec, target);
  if (!adapted) return graph;
  for (const change of adapted.changes) notes.push(`adapted to ${target.name}: ${change}`);
  return adapted.graph;
}

/** Resolves `eval`'s argument: a run folder, a checkpoint folder or file, or a spec (file or preset). */
export function resolveEvaluationTarget(arg: string, options: TargetOptions = {}): EvaluationTarget {
  const notes: string[] = [];
  const isDir = existsSync(arg) && statSync(arg).isDirectory();
  if (isDir && existsSync(join(arg, RUN_FILE))) {
    const run = readRunSource(arg);
    const datasetArg = options.dataset ?? run.datasetArg;
    const written = options.spec
      ? graphOrThrow(loadSpec(options.spec))
      : graphOrThrow(loadSpecText(run.specText, run.specFile ?? join(arg, RUN_FILE)));
    const graph = adaptedTo(written, datasetArg, run.valFraction, notes);
    const weights = readWeights(join(arg, CHECKPOINT_FILE_NAME));
    return { graph, weights, datasetArg, valFraction: run.valFraction, runDir: arg, notes };
  }
  const weightsFile = isDir || /\.(safetensors|pt|pth)$/i.test(arg);
  if (weightsFile) {
    const weights = readWeights(arg);
    const datasetArg = options.dataset ?? "mnist";
    const valFraction = weights.checkpoint?.header.config.valFraction ?? DEFAULT_TRAIN_CONFIG.valFraction;
    let written: ModelGraph;
    if (options.spec) written = graphOrThrow(loadSpec(options.spec));
    else if (weights.checkpoint) {
      const analysis = analyze(weights.checkpoint.header.spec);
      if (!analysis.graph) throw new CheckpointError(`${weights.path}: metadata field "spec": does not analyse`);
      written = analysis.graph;
    } else
      throw new CheckpointError(
        `${weights.path}: a weights-only state_dict has no spec; pass --spec <file|preset> (for example --spec resnet18)`,
      );
    const graph = adaptedTo(written, datasetArg, valFraction, notes);
    return { graph, weights, datasetArg, valFraction, runDir: null, notes };
  }
  const datasetArg = options.dataset ?? "mnist";
  const valFraction = DEFAULT_TRAIN_CONFIG.valFraction;
  const graph = adaptedTo(graphOrThrow(loadSpec(arg)), datasetArg, valFraction, notes);
  notes.push("no weights given: the seeded initialisation (seed 1) is evaluated");
  return { graph, weights: null, datasetArg, valFraction, runDir: null, notes };
}

/** The validation images of `datasetArg` as training held them out, for `graph`'s input and classes. */
export async function evaluationSet(
  datasetArg: string,
  graph: ModelGraph,
  valFraction: number,
  options: { cacheDir?: string } = {},
): Promise<EvaluationSet> {
  const resolved = await resolveDataset(datasetArg, {
    input: graph.spec.input,
    classes: graph.spec.classes,
    seed: 1,
    valFraction,
    cacheDir: options.cacheDir,
  });
  const dataset = resolved.val ?? resolved.train;
  const indices = resolved.val
    ? Uint32Array.from({ length: resolved.val.count }, (_, i) => i)
    : splitDataset(resolved.train, valFraction > 0 ? valFraction : DEFAULT_TRAIN_CONFIG.valFraction).val;
  if (dataset.classes > graph.spec.classes)
    throw new DatasetError(
      `dataset ${dataset.name} has ${dataset.classes} classes but the model "${graph.name}" has ${graph.spec.classes} outputs`,
    );
  return { dataset, indices };
}

/** Class names for the network's outputs: the dataset's, then the output numbers. */
export function outputClassNames(graph: ModelGraph, dataset: ImageDataset): string[] {
  return Array.from({ length: graph.spec.classes }, (_, c) => dataset.classNames[c] ?? String(c));
}

/** Evaluates a tfjs model (BN on running statistics, no dropout) on the set. */
export async function evaluateOnTfjs(
  model: TfModel,
  set: EvaluationSet,
  info: { backend: string; weights: string | null },
): Promise<EvaluationResult> {
  const adapter = new BatchAdapter(set.dataset, model.graph.spec.input);
  const accumulator = new EvaluationAccumulator(outputClassNames(model.graph, set.dataset));
  const [c, h, w] = model.graph.spec.input;
  const buffer = new Float32Array(EVAL_BATCH * adapter.sampleSize);
  const labels = new Int32Array(EVAL_BATCH);
  for (let start = 0; start < set.indices.length; start += EVAL_BATCH) {
    const count = Math.min(EVAL_BATCH, set.indices.length - start);
    adapter.fill(set.indices, start, count, buffer);
    adapter.labels(set.indices, start, count, labels);
    const logits = tf.tidy(() =>
      model.apply(tf.tensor4d(buffer.subarray(0, count * adapter.sampleSize), [count, h, w, c]), "eval"),
    );
    const values = await logits.data();
    logits.dispose();
    accumulator.add(values, count, labels, set.indices.subarray(start, start + count));
  }
  return accumulator.result({ model: model.graph.name, dataset: set.dataset.name, ...info });
}

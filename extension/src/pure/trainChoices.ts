/**
 * What "Train Small Model" offers for a spec: the estimate of each way to train it on the dataset, and whether to ask
 * at all (an epoch of the spec as written, adapted to the dataset, within the budget trains without a question).
 * Pure: graphs, a measured throughput and settings in; quick-pick rows out.
 */
import type { ModelGraph } from "resnet-studio/analysis/graph";
import { adaptToDataset, smallVariant, type DatasetTarget } from "resnet-studio/analysis/adapt";
import { estimateTraining, type Throughput, type TrainingEstimate } from "resnet-studio/analysis/estimate";
import { formatCount, formatDuration } from "resnet-studio/presentation/format";

/** "torch": the spec as written (adapted to the dataset) on PyTorch; the others train on tfjs. */
export type TrainChoiceKind = "variant" | "asWritten" | "bundled" | "torch";

export interface TrainChoice {
  kind: TrainChoiceKind;
  /** The network that trains (already adapted to the dataset). */
  graph: ModelGraph;
  /** How it differs from the spec as written, for people. */
  changes: string[];
  estimate: TrainingEstimate;
  label: string;
  description: string;
  detail: string;
}

export interface TrainPlan {
  /** Train this without asking: the spec as written fits the budget. */
  direct: TrainChoice | null;
  /** Otherwise the rows of the quick pick, the default first. */
  choices: TrainChoice[];
}

export interface PlanInput {
  /** The followed spec's graph (null when no spec is open). */
  written: ModelGraph | null;
  /** The bundled small example (examples/small.resnet.ts). */
  bundled: ModelGraph;
  target: DatasetTarget;
  throughput: Throughput;
  /** PyTorch's measured speed, when the torch backend is configured: adds a "Train on PyTorch" row with its own estimate. */
  torch?: Throughput;
  batchSize: number;
  epochs: number;
  /** Seconds an epoch may take before the command asks (resnetStudio.trainEpochSeconds). */
  budgetSeconds: number;
}

/** "≈ 35 s per epoch (3 epochs ≈ 1.8 min)". */
export function estimateText(estimate: TrainingEstimate, epochs: number): string {
  return `≈ ${formatDuration(estimate.secondsPerEpoch)} per epoch (${epochs} epoch${epochs === 1 ? "" : "s"} ≈ ${formatDuration(estimate.secondsPerEpoch * epochs)})`;
}

function networkText(graph: ModelGraph): string {
  const widths = graph.spec.stages.map((s) => s.channels).join("/");
  const blocks = graph.spec.stages.map((s) => s.blocks).join("/");
  return `${graph.spec.block} blocks ${blocks}, widths ${widths}, ${graph.spec.stem} stem · ${formatCount(graph.totals.params)} params, ${formatCount(graph.totals.macs)} MACs per image`;
}

/** The device of a torch throughput ("torch 1.13.1 (cuda)" → "cuda"), named by runtime/torchBackend.ts torchCalibrationFrom. */
export function torchDeviceOf(throughput: Throughput): string {
  return /\(([^()]+)\)$/.exec(throughput.backend)?.[1] ?? "torch";
}

function torchChoice(graph: ModelGraph, changes: string[], throughput: Throughput, input: PlanInput): TrainChoice {
  const estimate = estimateTraining(graph, {
    batchSize: input.batchSize,
    trainSamples: input.target.trainSamples,
    throughput,
  });
  return {
    kind: "torch",
    graph,
    changes,
    estimate,
    label: `Train on PyTorch (${torchDeviceOf(throughput)}): ${graph.spec.name}`,
    description: estimateText(estimate, input.epochs),
    detail: [
      ...(changes.length ? [`adapted to ${input.target.name}: ${changes.join("; ")}`] : []),
      `${throughput.backend} · ${networkText(graph)}`,
    ].join(" · "),
  };
}

/**
 * With the torch backend configured, a network whose epoch fits the budget on PyTorch trains there without a question;
 * otherwise the pick offers PyTorch beside the tfjs rows, each with its own backend's estimate.
 */
export function planTraining(input: PlanInput): TrainPlan {
  const { target, throughput, batchSize, epochs } = input;
  const estimateOf = (graph: ModelGraph) =>
    estimateTraining(graph, { batchSize, trainSamples: target.trainSamples, throughput });
  const bundled = adaptToDataset(input.bundled.spec, target);
  const bundledChoice = (graph: ModelGraph, changes: string[]): TrainChoice => {
    const estimate = estimateOf(graph);
    return {
      kind: "bundled",
      graph,
      changes,
      estimate,
      label: `Bundled small example: ${graph.spec.name}`,
      description: estimateText(estimate, epochs),
      detail: networkText(graph),
    };
  };
  if (!input.written) {
    // No spec open: the bundled example, asked about only when even it is over the budget.
    const graph = bundled && bundled.changes.length > 0 ? bundled.graph : input.bundled;
    const choice = bundledChoice(graph, bundled?.changes ?? []);
    if (input.torch) {
      const onTorch = torchChoice(graph, bundled?.changes ?? [], input.torch, input);
      return onTorch.estimate.secondsPerEpoch <= input.budgetSeconds
        ? { direct: onTorch, choices: [] }
        : { direct: null, choices: [onTorch, choice] };
    }
    return choice.estimate.secondsPerEpoch <= input.budgetSeconds
      ? { direct: choice, choices: [] }
      : { direct: null, choices: [choice] };
  }
  const written = input.written;
  const choices: TrainChoice[] = [];
  const adapted = adaptToDataset(written.spec, target);
  // Unchanged by the adaptation: the same graph object, so the diagram keeps following the spec's document.
  const asWrittenGraph = adapted && adapted.changes.length > 0 ? adapted.graph : written;
  const asWrittenEstimate = estimateOf(asWrittenGraph);
  const asWritten: TrainChoice = {
    kind: "asWritten",
    graph: asWrittenGraph,
    changes: adapted?.changes ?? [],
    estimate: asWrittenEstimate,
    label: `As written: ${written.spec.name}`,
    description: estimateText(asWrittenEstimate, epochs),
    detail: [
      ...(adapted?.changes.length ? [`adapted to ${target.name}: ${adapted.changes.join("; ")}`] : []),
      networkText(asWrittenGraph),
    ].join(" · "),
  };
  const onTorch = input.torch ? torchChoice(asWrittenGraph, adapted?.changes ?? [], input.torch, input) : null;
  if (onTorch && onTorch.estimate.secondsPerEpoch <= input.budgetSeconds) return { direct: onTorch, choices: [] };
  if (!onTorch && asWrittenEstimate.secondsPerEpoch <= input.budgetSeconds) return { direct: asWritten, choices: [] };
  const variant = smallVariant(written.spec, target, { throughput, batchSize, budgetSeconds: input.budgetSeconds });
  if (variant) {
    choices.push({
      kind: "variant",
      graph: variant.graph,
      changes: variant.changes,
      estimate: variant.estimate,
      label: `Small variant of ${written.spec.name}`,
      description: estimateText(variant.estimate, epochs),
      detail: `same blocks, shortcuts and pre-activation, scaled for ${target.name}: ${variant.changes.join("; ")}`,
    });
  }
  if (onTorch) choices.push(onTorch);
  choices.push(asWritten);
  if (bundled) choices.push(bundledChoice(bundled.graph, bundled.changes));
  return { direct: null, choices };
}

/**
 * Key of a calibration in the extension's global storage: one per backend setting, replica setting and batch size; on
 * torch (one process, no replicas) per device setting and batch size.
 */
export function calibrationKey(
  backend: string,
  workers: number | undefined,
  batchSize: number,
  device?: string,
): string {
  if (backend === "torch") return `resnetStudio.calibration/torch/${device ?? "auto"}/${batchSize}`;
  return `resnetStudio.calibration/${backend}/${workers ?? "auto"}/${batchSize}`;
}

/** A stored calibration, checked field by field (global storage outlives versions of this extension). */
export function isThroughput(value: unknown): value is Throughput {
  if (typeof value !== "object" || value === null) return false;
  const t = value as Partial<Throughput>;
  return (
    typeof t.backend === "string" &&
    typeof t.workers === "number" &&
    typeof t.macsPerSecond === "number" &&
    t.macsPerSecond > 0 &&
    typeof t.stepOverheadSeconds === "number" &&
    t.stepOverheadSeconds >= 0 &&
    typeof t.secondsPerParam === "number" &&
    t.secondsPerParam >= 0
  );
}

/** Beyond this factor between estimated and measured step time, a stored calibration is forgotten (measured again next run). */
export const STALE_CALIBRATION_FACTOR = 2;

/**
 * Whether a run's first epoch says the stored calibration is off (measured while the machine was busy, or before a
 * hardware or settings change): its training images/s against the estimate's.
 */
export function calibrationIsStale(estimate: TrainingEstimate, measuredImagesPerSecond: number): boolean {
  if (!(measuredImagesPerSecond > 0)) return false;
  const ratio = estimate.imagesPerSecond / measuredImagesPerSecond;
  return ratio > STALE_CALIBRATION_FACTOR || ratio < 1 / STALE_CALIBRATION_FACTOR;
}

/**
 * He et al. 2015 Fig. 6 as an experiment: plain and residual CIFAR-style nets (depth 6n+2, three stages of n basic
 * blocks, widths w/2w/4w, option-A shortcuts) trained with one recipe and seed, and an honest verdict on what the
 * curves show. Pure: specs, plans, verdicts and the shared state the CLI, the worker and the webview pass around.
 * No tfjs, no node APIs.
 */
import type { Shape3 } from "../spec/types";
import { normalizeSpec } from "../spec/builders";
import { analyze } from "../analysis/analyze";
import type { ModelGraph } from "../analysis/graph";
import { estimateTraining, type Throughput } from "../analysis/estimate";
import { formatDuration, formatPercent } from "../presentation/format";

/** The paper's depths on CIFAR-10 are 20, 32, 44 and 56; Fig. 1 shows 20 against 56. */
export const DEFAULT_DEPTHS: readonly number[] = [20, 56];
/** He et al. 2015 §4.2: the first stage has 16 filters. */
export const PAPER_WIDTH = 16;
/** The narrowest first-stage width a shorter variant goes down to (4/8/16 channels). */
export const MIN_VARIANT_WIDTH = 4;

export class ExperimentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ExperimentError";
  }
}

/** "20,56" → [20, 56]: each depth 6n+2 (n ≥ 1), sorted, no repeats, at least two. */
export function parseDepths(text: string): number[] {
  const parts = text.split(",").map((s) => s.trim());
  const depths: number[] = [];
  for (const part of parts) {
    const depth = Number(part);
    if (part === "" || !Number.isInteger(depth) || depth < 8 || (depth - 2) % 6 !== 0)
      throw new ExperimentError(
        `--depths: "${part}" is not a CIFAR-style depth 6n+2 (8, 14, 20, 26, 32, 44, 56, 110, …)`,
      );
    if (depth > 1202) throw new ExperimentError(`--depths: ${depth} is deeper than the paper's deepest net, 1202`);
    if (depths.includes(depth)) throw new ExperimentError(`--depths: ${depth} is listed twice`);
    depths.push(depth);
  }
  if (depths.length < 2) throw new ExperimentError(`--depths needs at least two depths to compare, got "${text}"`);
  return depths.sort((a, b) => a - b);
}

export interface ExperimentNet {
  /** "plain-20", "resnet-20": file-name safe, the run folder's name. */
  key: string;
  /** "plain-20", "ResNet-20": as the paper labels them. */
  label: string;
  depth: number;
  residual: boolean;
  graph: ModelGraph;
}

/** What the nets are scaled to: the dataset's images and labels. */
export interface ExperimentTarget {
  name: string;
  input: Shape3;
  classes: number;
}

/** The plain and the residual net of `depth`, CIFAR-style, with first-stage width `width`, for the dataset. */
export function experimentNet(
  depth: number,
  residual: boolean,
  width: number,
  target: ExperimentTarget,
): ExperimentNet {
  const n = (depth - 2) / 6;
  const key = `${residual ? "resnet" : "plain"}-${depth}`;
  const label = `${residual ? "ResNet" : "plain"}-${depth}`;
  const { spec, issues } = normalizeSpec({
    name: width === PAPER_WIDTH ? label : `${label} (width ${width})`,
    input: [...target.input],
    stem: "cifar",
    block: "basic",
    stages: [width, 2 * width, 4 * width].map((channels, i) => ({ channels, blocks: n, stride: i === 0 ? 1 : 2 })),
    // The paper's CIFAR nets use option A, so the residual and plain nets have exactly the same parameters.
    shortcut: "A",
    residual,
    classes: target.classes,
  });
  if (!spec) throw new ExperimentError(`${label}: ${issues.map((i) => i.message).join("; ")}`);
  const { graph, diagnostics } = analyze(spec);
  if (!graph)
    throw new ExperimentError(
      `${label} on ${target.name}'s ${target.input.join("×")} images: ${diagnostics.map((d) => d.message).join("; ")}`,
    );
  return { key, label, depth, residual, graph };
}

/** Plain then residual at each depth, shallow to deep. */
export function experimentNets(depths: readonly number[], width: number, target: ExperimentTarget): ExperimentNet[] {
  return depths.flatMap((depth) => [false, true].map((residual) => experimentNet(depth, residual, width, target)));
}

/** How much of the data a variant trains and validates on, and how wide its nets are. */
export interface ExperimentScale {
  width: number;
  /** Training images per epoch (a fresh random subset each epoch). */
  samplesPerEpoch: number;
  /** Validation images (a fixed subset, the same for every net). */
  valSamples: number;
}

export interface ExperimentPlan extends ExperimentScale {
  epochs: number;
  /** Per net: its estimated seconds for all epochs (training steps plus validation passes). */
  nets: { key: string; label: string; params: number; macs: number; seconds: number }[];
  seconds: number;
  /** What this variant changed from the experiment as asked, for people; empty for the full one. */
  changes: string[];
}

/** Training steps plus validation of one net for `epochs` epochs, by the estimator (analysis/estimate.ts). */
export function estimateNetSeconds(
  graph: Pick<ModelGraph, "totals">,
  scale: Pick<ExperimentScale, "samplesPerEpoch" | "valSamples">,
  options: { epochs: number; batchSize: number; throughput: Throughput },
): number {
  const training = estimateTraining(graph, {
    batchSize: options.batchSize,
    trainSamples: scale.samplesPerEpoch,
    throughput: options.throughput,
  });
  // A validation image costs one forward pass: a third of a training image's MACs (TRAIN_MACS_FACTOR).
  const validation = (scale.valSamples * graph.totals.macs) / options.throughput.macsPerSecond;
  return options.epochs * (training.secondsPerEpoch + validation);
}

export interface PlanOptions {
  depths: readonly number[];
  target: ExperimentTarget;
  epochs: number;
  batchSize: number;
  throughput: Throughput;
}

/** The experiment at `scale`, estimated. */
export function planAt(scale: ExperimentScale, options: PlanOptions, asked: ExperimentScale): ExperimentPlan {
  const nets = experimentNets(options.depths, scale.width, options.target).map((net) => ({
    key: net.key,
    label: net.label,
    params: net.graph.totals.params,
    macs: net.graph.totals.macs,
    seconds: estimateNetSeconds(net.graph, scale, options),
  }));
  const changes: string[] = [];
  if (scale.width !== asked.width)
    changes.push(
      `widths ${asked.width}/${2 * asked.width}/${4 * asked.width} → ${scale.width}/${2 * scale.width}/${4 * scale.width}`,
    );
  if (scale.samplesPerEpoch !== asked.samplesPerEpoch)
    changes.push(
      `${scale.samplesPerEpoch} of ${asked.samplesPerEpoch} training images per epoch (a fresh subset each epoch)`,
    );
  if (scale.valSamples !== asked.valSamples)
    changes.push(`${scale.valSamples} of ${asked.valSamples} validation images`);
  return {
    ...scale,
    epochs: options.epochs,
    nets,
    seconds: nets.reduce((sum, n) => sum + n.seconds, 0),
    changes,
  };
}

/** Fewer training images than this many batches per epoch would make an epoch mostly noise. */
const MIN_STEPS_PER_EPOCH = 20;
/** A shorter variant validates on at least this many images (binomial standard error ≤ 1.6 points at 50% error). */
const MIN_VAL_SAMPLES = 1000;

/**
 * The largest variant of the experiment that the estimate fits in `budgetSeconds`: depths, epochs and recipe stay as
 * asked (they are what the experiment compares); first the widths halve (down to 4/8/16), then the training images per
 * epoch halve (down to 20 batches), and the validation set shrinks with them (to a third of an epoch's images, at
 * least 1000). Returns the smallest variant, over budget, when none fits.
 */
export function fitToBudget(asked: ExperimentScale, options: PlanOptions, budgetSeconds: number): ExperimentPlan {
  let scale = { ...asked };
  const minSamples = Math.min(asked.samplesPerEpoch, MIN_STEPS_PER_EPOCH * options.batchSize);
  for (;;) {
    const plan = planAt(scale, options, asked);
    if (plan.seconds <= budgetSeconds) return plan;
    if (scale.width > Math.max(MIN_VARIANT_WIDTH, Math.min(asked.width, 8))) {
      scale = { ...scale, width: Math.max(MIN_VARIANT_WIDTH, Math.floor(scale.width / 2)) };
      continue;
    }
    if (scale.samplesPerEpoch > minSamples) {
      const samplesPerEpoch = Math.max(minSamples, Math.floor(scale.samplesPerEpoch / 2));
      scale = {
        ...scale,
        samplesPerEpoch,
        valSamples: Math.min(asked.valSamples, Math.max(MIN_VAL_SAMPLES, Math.round(samplesPerEpoch / 3))),
      };
      continue;
    }
    if (scale.width > MIN_VARIANT_WIDTH) {
      scale = { ...scale, width: Math.max(MIN_VARIANT_WIDTH, Math.floor(scale.width / 2)) };
      continue;
    }
    return plan;
  }
}

/** `--quick`: a variant that fits about five minutes of this machine's measured speed. */
export const QUICK_BUDGET_SECONDS = 5 * 60;

export type RunStatus = "pending" | "running" | "completed" | "cancelled" | "diverged" | "failed";

/** One epoch of one net: errors are fractions (1 − accuracy). */
export interface ErrorPoint {
  /** 1-based: the point is at the end of this epoch. */
  epoch: number;
  trainError: number;
  valError: number;
}

/** One net's curves so far. */
export interface ExperimentSeries {
  key: string;
  label: string;
  depth: number;
  residual: boolean;
  params: number;
  status: RunStatus;
  message?: string;
  points: ErrorPoint[];
  /** Images behind each point's errors (for the noise margin of the verdict). */
  trainSamples: number;
  valSamples: number;
  seconds: number;
}

/** The experiment as it stands: what the chart, the table and the verdict are drawn from. */
export interface ExperimentState {
  dataset: string;
  backend: string;
  epochs: number;
  depths: number[];
  width: number;
  series: ExperimentSeries[];
  /** Set once every net has finished (or the experiment stopped). */
  verdict: Verdict | null;
  seconds: number;
}

/** A deep net's final error against a shallow one's: "worse", "better", or "same" within the noise margin. */
export type Outcome = "worse" | "better" | "same";

export interface Comparison {
  deep: string;
  shallow: string;
  /** deep − shallow, in error fraction. */
  trainDelta: number;
  valDelta: number;
  /** Twice the standard error of the difference of two binomial error rates (the noise margin). */
  trainMargin: number;
  valMargin: number;
  train: Outcome;
  val: Outcome;
}

export interface Verdict {
  /** True only when the deep plain net trained worse than the shallow one, the deep ResNet not worse than the shallow one, and better than the deep plain net. */
  reproduced: boolean;
  /** The deepest plain net against the shallowest (the paper's degradation problem). */
  plain: Comparison | null;
  /** The deepest ResNet against the shallowest. */
  residual: Comparison | null;
  /** The deepest ResNet against the deepest plain net. */
  atDepth: Comparison | null;
  /** What the run showed, in sentences. */
  lines: string[];
}

function binomialMargin(a: number, n: number, b: number, m: number): number {
  const variance = (a * (1 - a)) / Math.max(1, n) + (b * (1 - b)) / Math.max(1, m);
  return 2 * Math.sqrt(variance);
}

function outcome(delta: number, margin: number): Outcome {
  return delta > margin ? "worse" : delta < -margin ? "better" : "same";
}

function compare(deep: ExperimentSeries, shallow: ExperimentSeries): Comparison | null {
  const a = deep.points[deep.points.length - 1];
  const b = shallow.points[shallow.points.length - 1];
  if (!a || !b) return null;
  const trainMargin = binomialMargin(a.trainError, deep.trainSamples, b.trainError, shallow.trainSamples);
  const valMargin = binomialMargin(a.valError, deep.valSamples, b.valError, shallow.valSamples);
  const trainDelta = a.trainError - b.trainError;
  const valDelta = a.valError - b.valError;
  return {
    deep: deep.label,
    shallow: shallow.label,
    trainDelta,
    valDelta,
    trainMargin,
    valMargin,
    train: outcome(trainDelta, trainMargin),
    val: outcome(valDelta, valMargin),
  };
}

const points = (fraction: number) => `${(Math.abs(fraction) * 100).toFixed(1)} points`;

function describe(c: Comparison, which: "train" | "val"): string {
  const delta = which === "train" ? c.trainDelta : c.valDelta;
  const margin = which === "train" ? c.trainMargin : c.valMargin;
  const o = which === "train" ? c.train : c.val;
  const name = which === "train" ? "training" : "validation";
  if (o === "same")
    return `${name} error within noise of ${c.shallow}'s (${delta >= 0 ? "+" : "−"}${points(delta)}, margin ±${points(margin)})`;
  return `${name} error ${points(delta)} ${o === "worse" ? "higher" : "lower"} than ${c.shallow}'s`;
}

/**
 * What the final epoch shows, judged on training error as the paper does (the degradation problem is an optimisation
 * difficulty: He et al. 2015 §4.1, "plain-56 has higher training error throughout"), with validation error reported
 * beside it. Differences within two standard errors of binomial noise count as no difference.
 */
export function plainVsResidualVerdict(series: readonly ExperimentSeries[]): Verdict {
  const finished = series.filter((s) => s.points.length > 0);
  const plains = finished.filter((s) => !s.residual).sort((a, b) => a.depth - b.depth);
  const residuals = finished.filter((s) => s.residual).sort((a, b) => a.depth - b.depth);
  const lines: string[] = [];
  const deepPlain = plains[plains.length - 1];
  const deepResidual = residuals[residuals.length - 1];
  const plain = plains.length >= 2 ? compare(deepPlain, plains[0]) : null;
  const residual = residuals.length >= 2 ? compare(deepResidual, residuals[0]) : null;
  const atDepth =
    deepPlain && deepResidual && deepPlain.depth === deepResidual.depth ? compare(deepPlain, deepResidual) : null;
  const incomplete = series.filter((s) => s.status !== "completed");
  if (incomplete.length > 0)
    lines.push(
      `Not every run completed (${incomplete.map((s) => `${s.label}: ${s.status}`).join(", ")}); the comparison uses each run's last finished epoch.`,
    );
  if (plain) {
    lines.push(
      plain.train === "worse"
        ? `${plain.deep} trained worse than ${plain.shallow}: ${describe(plain, "train")}; ${describe(plain, "val")}. This is the degradation He et al. 2015 report.`
        : `${plain.deep} was not worse than ${plain.shallow} on this data and budget: ${describe(plain, "train")}; ${describe(plain, "val")}. The deeper plain net did not degrade here.`,
    );
  } else lines.push("Fewer than two plain nets finished an epoch: no comparison of plain depths.");
  if (residual) {
    lines.push(
      residual.train === "worse"
        ? `${residual.deep} trained worse than ${residual.shallow}: ${describe(residual, "train")}; ${describe(residual, "val")}. The paper's deeper ResNets are better; this one was not.`
        : `${residual.deep} ${residual.train === "better" ? "trained better than" : "was not worse than"} ${residual.shallow}: ${describe(residual, "train")}; ${describe(residual, "val")}.`,
    );
  } else lines.push("Fewer than two residual nets finished an epoch: no comparison of residual depths.");
  if (atDepth) {
    // Here "deep" is the plain net and "shallow" the ResNet of the same depth: worse = the shortcuts helped.
    lines.push(
      atDepth.train === "worse"
        ? `At depth ${deepPlain.depth} the shortcuts helped: ${deepResidual.label}'s training error is ${points(atDepth.trainDelta)} lower than ${deepPlain.label}'s (validation: ${atDepth.val === "same" ? "within noise" : `${points(atDepth.valDelta)} ${atDepth.val === "worse" ? "lower" : "higher"}`}).`
        : `At depth ${deepPlain.depth} the shortcuts did not lower the training error beyond noise (${deepResidual.label} ${(deepResidual.points.at(-1)!.trainError * 100).toFixed(1)}% vs ${deepPlain.label} ${(deepPlain.points.at(-1)!.trainError * 100).toFixed(1)}%).`,
    );
  }
  const reproduced =
    plain?.train === "worse" && residual !== null && residual.train !== "worse" && atDepth?.train === "worse";
  lines.unshift(
    reproduced
      ? "Reproduced on this data and budget: the deep plain net trained worse than the shallow one, and the ResNets did not degrade (He et al. 2015 Fig. 6)."
      : "Not reproduced on this data and budget: this run does not show the paper's result (He et al. 2015 Fig. 6); what it measured is below.",
  );
  return { reproduced, plain, residual, atDepth, lines };
}

/** The final errors as a fixed-width table (stdout, the HTML report's text fallback). */
export function formatResultTable(state: ExperimentState): string {
  const rows = [["net", "params", "epochs", "train error", "val error", "status", "time"]];
  for (const s of state.series) {
    const last = s.points[s.points.length - 1];
    rows.push([
      s.label,
      s.params.toLocaleString("en-US"),
      String(s.points.length),
      last ? formatPercent(last.trainError, 2) : "–",
      last ? formatPercent(last.valError, 2) : "–",
      s.status,
      s.seconds > 0 ? formatDuration(s.seconds) : "–",
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows
    .map((r) => r.map((cell, c) => (c === 0 || c === 5 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  "))
    .join("\n");
}

/** The state before anything trained: every net pending. */
export function initialExperimentState(
  nets: readonly ExperimentNet[],
  info: { dataset: string; backend: string; epochs: number; width: number; trainSamples: number; valSamples: number },
): ExperimentState {
  return {
    dataset: info.dataset,
    backend: info.backend,
    epochs: info.epochs,
    depths: [...new Set(nets.map((n) => n.depth))],
    width: info.width,
    series: nets.map((n) => ({
      key: n.key,
      label: n.label,
      depth: n.depth,
      residual: n.residual,
      params: n.graph.totals.params,
      status: "pending",
      points: [],
      trainSamples: info.trainSamples,
      valSamples: info.valSamples,
      seconds: 0,
    })),
    verdict: null,
    seconds: 0,
  };
}

/**
 * What "Run Experiment: Plain vs Residual" offers: sets of depths, and the experiment as asked or fitted to a shorter
 * budget, each with its estimate from this machine's measured speed. Pure (no vscode): tested under node.
 */
import type { DatasetTarget } from "resnet-studio/analysis/adapt";
import type { Throughput } from "resnet-studio/analysis/estimate";
import {
  PAPER_WIDTH,
  QUICK_BUDGET_SECONDS,
  fitToBudget,
  planAt,
  type ExperimentPlan,
  type ExperimentScale,
  type ExperimentState,
} from "resnet-studio/experiment/plainVsResidual";
import { formatDuration } from "resnet-studio/presentation/format";

export interface DepthChoice {
  label: string;
  description: string;
  depths: number[];
}

/** Fig. 1's pair first (the default), the whole of Fig. 6, and a pair small enough for a first look. */
export const DEPTH_CHOICES: readonly DepthChoice[] = [
  { label: "20 and 56 layers", description: "He et al. 2015 Fig. 1", depths: [20, 56] },
  { label: "20, 32, 44 and 56 layers", description: "He et al. 2015 Fig. 6", depths: [20, 32, 44, 56] },
  { label: "8 and 20 layers", description: "shallow: a first look in little time", depths: [8, 20] },
];

/** A shorter variant the user may pick instead of the experiment as asked. */
export const SHORTER_BUDGETS_SECONDS: readonly number[] = [20 * 60, QUICK_BUDGET_SECONDS];

export interface ExperimentChoice {
  label: string;
  description: string;
  detail: string;
  plan: ExperimentPlan;
}

/**
 * Validation images the dataset will give, known before loading it: the held-out tenth of the embedded MNIST digits,
 * else a test split about a sixth of the training set's size (Fashion-MNIST 10k/60k, CIFAR-10 10k/50k).
 */
export function expectedValSamples(target: DatasetTarget): number {
  if (target.name === "mnist") return 1000;
  return Math.max(1, Math.round(target.trainSamples / 6));
}

/** The experiment as asked, then each shorter budget it is over (variants that come out the same are listed once). */
export function experimentChoices(options: {
  depths: number[];
  target: DatasetTarget;
  epochs: number;
  batchSize: number;
  throughput: Throughput;
}): ExperimentChoice[] {
  const asked: ExperimentScale = {
    width: PAPER_WIDTH,
    samplesPerEpoch: options.target.trainSamples,
    valSamples: expectedValSamples(options.target),
  };
  const planOptions = { ...options, target: options.target };
  const full = planAt(asked, planOptions, asked);
  const choices: ExperimentChoice[] = [
    {
      label: `As in the paper's setup: about ${formatDuration(full.seconds)}`,
      description: `widths 16/32/64, all ${asked.samplesPerEpoch} training images per epoch`,
      detail: full.nets.map((n) => `${n.label} ~${formatDuration(n.seconds)}`).join(" · "),
      plan: full,
    },
  ];
  for (const budget of SHORTER_BUDGETS_SECONDS) {
    if (full.seconds <= budget) continue;
    const plan = fitToBudget(asked, planOptions, budget);
    if (choices.some((c) => JSON.stringify(c.plan.changes) === JSON.stringify(plan.changes))) continue;
    choices.push({
      label: `Shorter: about ${formatDuration(plan.seconds)}${plan.seconds > budget ? ` (the smallest variant; over ${formatDuration(budget)})` : ""}`,
      description: plan.changes.join("; "),
      detail: plan.nets.map((n) => `${n.label} ~${formatDuration(n.seconds)}`).join(" · "),
      plan,
    });
  }
  return choices;
}

/** The progress line of the running experiment: which net, which epoch, and how many nets are done. */
export function experimentProgressText(state: ExperimentState): string {
  const running = state.series.find((s) => s.status === "running");
  const done = state.series.filter((s) => s.status !== "pending" && s.status !== "running").length;
  const where = running
    ? `${running.label}, epoch ${Math.min(state.epochs, running.points.length + 1)}/${state.epochs}`
    : "";
  return `${where}${where ? " · " : ""}${done}/${state.series.length} nets done · ${formatDuration(state.seconds)}`;
}

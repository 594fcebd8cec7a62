/**
 * `resnet-studio experiment plain-vs-residual`: He et al. 2015 Fig. 6 on a dataset of the user's choice. Estimates the
 * whole experiment from this machine's measured speed first (and fits it to --budget or --quick), then trains the plain
 * and the residual net at each depth with one recipe, writes the chart, the page, the table and a run folder per net,
 * and says what the curves showed.
 */
import { join } from "node:path";
import type { Command } from "commander";
import { parseShapeArg } from "../load";
import { printable } from "../diagnostics";
import { datasetTarget, resolveDataset } from "../data/resolve";
import { backendFromOptions } from "./backendOption";
import type { Throughput } from "../analysis/estimate";
import { formatCount, formatDuration, formatPercent } from "../presentation/format";
import {
  DEFAULT_DEPTHS,
  PAPER_WIDTH,
  QUICK_BUDGET_SECONDS,
  fitToBudget,
  formatResultTable,
  parseDepths,
  planAt,
  type ExperimentPlan,
  type ExperimentScale,
  type ExperimentState,
} from "../experiment/plainVsResidual";
import { EXPERIMENT_FILES, experimentData, experimentTarget, runExperiment } from "../experiment/run";
import { buildTrainConfig, UsageError, type TrainCliOptions } from "./train";
import { writeStdout } from "./summary";

export interface ExperimentCliOptions {
  depths?: string;
  dataset?: string;
  epochs?: string;
  batch?: string;
  optimizer?: string;
  lr?: string;
  seed?: string;
  workers?: string;
  backend?: string;
  python?: string;
  device?: string;
  width?: string;
  samplesPerEpoch?: string;
  valSamples?: string;
  input?: string;
  budget?: string;
  quick?: boolean;
  out?: string;
  json?: boolean;
}

/** Default experiment folder: beside the Runs view's runs (issue 17), one per start. */
export function defaultExperimentFolder(now = new Date()): string {
  return join(".resnet-studio", "runs", "plain-vs-residual", now.toISOString().replace(/[:.]/g, "-"));
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n < 1)
    throw new UsageError(`${flag} must be a positive integer, got "${value}"`);
  return n;
}

/** --budget in minutes (a number > 0), or --quick's five minutes; null = run as asked. */
export function parseBudgetSeconds(options: Pick<ExperimentCliOptions, "budget" | "quick">): number | null {
  if (options.budget !== undefined && options.quick)
    throw new UsageError("--budget and --quick both set a budget: give one");
  if (options.quick) return QUICK_BUDGET_SECONDS;
  if (options.budget === undefined) return null;
  const minutes = Number(options.budget);
  if (options.budget.trim() === "" || !Number.isFinite(minutes) || minutes <= 0)
    throw new UsageError(`--budget must be a number of minutes > 0, got "${options.budget}"`);
  return minutes * 60;
}

/** What --json prints before training: the plan and how it was estimated. */
export interface ExperimentEstimateLine extends ExperimentPlan {
  type: "estimate";
  dataset: string;
  depths: number[];
  backend: string;
  /** Seconds the experiment as asked would take (before fitting to the budget). */
  askedSeconds: number;
  budgetSeconds: number | null;
}

export function formatPlan(line: ExperimentEstimateLine): string {
  const lines = [
    `plain vs residual on ${line.dataset}, depths ${line.depths.join(", ")}, ${line.epochs} epoch${line.epochs === 1 ? "" : "s"} each, on ${line.backend}:`,
  ];
  if (line.changes.length > 0) {
    lines.push(
      `  as asked it would take about ${formatDuration(line.askedSeconds)}; to fit ${formatDuration(line.budgetSeconds ?? 0)}:`,
      ...line.changes.map((c) => `    ${c}`),
    );
  }
  for (const net of line.nets)
    lines.push(
      `  ${net.label.padEnd(10)} ${formatCount(net.params).padStart(6)} params ${formatCount(net.macs).padStart(6)} MACs/image  ~${formatDuration(net.seconds)}`,
    );
  lines.push(
    `  estimate: about ${formatDuration(line.seconds)} in all (${line.samplesPerEpoch} training images per epoch, ${line.valSamples} validation images)`,
  );
  if (line.budgetSeconds !== null && line.seconds > line.budgetSeconds)
    lines.push(
      `  even the smallest variant is over the ${formatDuration(line.budgetSeconds)} budget: fewer depths or epochs would fit`,
    );
  else if (line.budgetSeconds === null && line.seconds > QUICK_BUDGET_SECONDS)
    lines.push(`  shorter: --quick (about ${formatDuration(QUICK_BUDGET_SECONDS)}) or --budget <minutes>`);
  return lines.join("\n") + "\n";
}

/** One line per finished epoch on stderr. */
function epochLine(
  net: string,
  event: { epoch: number; epochs: number; accuracy: number; valAccuracy?: number; seconds: number },
): string {
  return `${net} epoch ${event.epoch + 1}/${event.epochs}: training error ${formatPercent(1 - event.accuracy, 2)}, validation error ${formatPercent(1 - (event.valAccuracy ?? Number.NaN), 2)} (${formatDuration(event.seconds)})\n`;
}

export async function runPlainVsResidual(options: ExperimentCliOptions): Promise<ExperimentState> {
  const depths = parseDepths(options.depths ?? DEFAULT_DEPTHS.join(","));
  const dataset = options.dataset ?? "mnist";
  const budgetSeconds = parseBudgetSeconds(options);
  const width = options.width === undefined ? PAPER_WIDTH : positiveInt(options.width, "--width");
  if (width < 4) throw new UsageError(`--width must be at least 4, got ${width}`);
  const trainOptions: TrainCliOptions = {
    dataset,
    epochs: options.epochs,
    batch: options.batch,
    optimizer: options.optimizer,
    lr: options.lr,
    seed: options.seed,
    workers: options.workers,
  };
  const config = buildTrainConfig(trainOptions, null);
  const backend = backendFromOptions(options);
  const backendName = (await backend.ready()).name;

  // The nets take the dataset's image shape and class count (synthetic data takes --input, default CIFAR's 3×32×32).
  const known = datasetTarget(dataset, config.valFraction);
  const input = options.input !== undefined ? parseShapeArg(options.input) : (known?.input ?? [3, 32, 32]);
  const loaded = await resolveDataset(dataset, { input, classes: known?.classes ?? 10, seed: config.seed });
  const target = experimentTarget(known?.name ?? null, loaded);
  // The full sets as the experiment would see them, to size the asked scale.
  const full = experimentData(loaded, config.valFraction, Infinity);
  const asked: ExperimentScale = {
    width,
    samplesPerEpoch:
      options.samplesPerEpoch === undefined
        ? full.train.count
        : Math.min(full.train.count, positiveInt(options.samplesPerEpoch, "--samples-per-epoch")),
    valSamples:
      options.valSamples === undefined
        ? full.val.count
        : Math.min(full.val.count, positiveInt(options.valSamples, "--val-samples")),
  };

  const say = (text: string) => {
    if (!options.json) process.stderr.write(text);
  };
  let throughput: Throughput | null = null;
  if (backendName === "cpu") {
    if (budgetSeconds !== null)
      throw new UsageError(
        "--budget and --quick need a measured speed, and the cpu backend can't be calibrated here: use --backend wasm",
      );
    say("no estimate on the cpu backend (too slow to calibrate in seconds)\n");
  } else {
    say(`measuring ${backendName}'s speed for the estimate (a few seconds)…\n`);
    throughput = (await backend.calibrate({ batchSize: config.batchSize, workers: config.workers })).throughput;
  }
  let scale = asked;
  if (throughput) {
    const planOptions = { depths, target, epochs: config.epochs, batchSize: config.batchSize, throughput };
    const askedPlan = planAt(asked, planOptions, asked);
    const plan = budgetSeconds === null ? askedPlan : fitToBudget(asked, planOptions, budgetSeconds);
    scale = { width: plan.width, samplesPerEpoch: plan.samplesPerEpoch, valSamples: plan.valSamples };
    const line: ExperimentEstimateLine = {
      type: "estimate",
      dataset: target.name,
      depths,
      backend: throughput.backend + (throughput.workers > 1 ? ` × ${throughput.workers} workers` : ""),
      askedSeconds: askedPlan.seconds,
      budgetSeconds,
      ...plan,
    };
    if (options.json) await writeStdout(JSON.stringify(line) + "\n");
    else say(formatPlan(line));
  }

  const out = options.out ?? defaultExperimentFolder();
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once("SIGINT", onSigint);
  let state: ExperimentState;
  try {
    state = await runExperiment({
      depths,
      scale,
      target,
      datasetArg: dataset,
      data: loaded,
      config,
      out,
      backend,
      backendName,
      signal: controller.signal,
      onEvent: (net, event) => {
        if (event.type !== "epoch") return;
        if (options.json)
          process.stdout.write(
            JSON.stringify({
              type: "epoch",
              net,
              epoch: event.epoch + 1,
              trainError: 1 - event.accuracy,
              valError: 1 - (event.valAccuracy ?? Number.NaN),
              seconds: event.seconds,
            }) + "\n",
          );
        else say(epochLine(net, event));
      },
    });
  } finally {
    process.off("SIGINT", onSigint);
  }
  const files = {
    folder: out,
    chart: join(out, EXPERIMENT_FILES.chart),
    page: join(out, EXPERIMENT_FILES.page),
    record: join(out, EXPERIMENT_FILES.record),
  };
  if (options.json) await writeStdout(JSON.stringify({ type: "experiment", ...state, files }) + "\n");
  else {
    await writeStdout(
      [
        formatResultTable(state),
        "",
        ...(state.verdict?.lines ?? []),
        "",
        `chart: ${printable(files.chart)} (and ${printable(files.page)}); runs: ${printable(out)}/<net>/`,
        "",
      ].join("\n"),
    );
  }
  if (controller.signal.aborted) process.exitCode = 130;
  else if (state.series.some((s) => s.status === "failed" || s.status === "diverged")) process.exitCode = 1;
  return state;
}

export function registerExperiment(program: Command): void {
  const experiment = program
    .command("experiment")
    .description("run one of the paper's experiments and chart what it shows");
  experiment
    .command("plain-vs-residual")
    .description(
      "He et al. 2015 Fig. 6: plain and residual CIFAR-style nets (depth 6n+2) trained alike; training (dashed) and validation (bold) error per epoch, a table of final errors and an honest verdict",
    )
    .option(
      "--depths <list>",
      "depths 6n+2 to compare, e.g. 20,56 (the paper's: 20,32,44,56)",
      DEFAULT_DEPTHS.join(","),
    )
    .option("--dataset <name>", "mnist | cifar10:<dir> | synthetic[:count=N] | any --dataset of train", "mnist")
    .option("--epochs <n>", "epochs per net (default per dataset, as train)")
    .option("--batch <n>", "batch size (default per dataset, as train)")
    .option("--optimizer <name>", "adam | sgd (default per dataset, as train)")
    .option("--lr <x>", "peak learning rate (default per dataset, as train)")
    .option("--seed <n>", "one seed for every net's weights and data order (default 1)")
    .option("--workers <n>", "data-parallel training threads: auto or N")
    .option("--backend <name>", "auto | wasm | cpu | tensorflow | torch", "auto")
    .option("--python <path>", "with --backend torch: the Python with PyTorch")
    .option("--device <name>", "with --backend torch: cpu | cuda | auto", "auto")
    .option("--width <n>", `first-stage width (the paper's: ${PAPER_WIDTH}; stages are w, 2w, 4w)`)
    .option("--samples-per-epoch <n>", "training images per epoch (a fresh random subset each epoch)")
    .option("--val-samples <n>", "validation images (a fixed subset, the same for every net)")
    .option("--input <C,H,W>", "image shape of synthetic data (default 3,32,32)")
    .option("--budget <minutes>", "fit the experiment to this many minutes: narrower nets, then fewer images per epoch")
    .option(
      "--quick",
      `a variant of about ${QUICK_BUDGET_SECONDS / 60} minutes (same as --budget ${QUICK_BUDGET_SECONDS / 60})`,
    )
    .option("--out <dir>", "the experiment's folder (default .resnet-studio/runs/plain-vs-residual/<UTC time>)")
    .option("--json", "JSON lines: the estimate, every epoch, the experiment last")
    .action(async (options: ExperimentCliOptions) => {
      await runPlainVsResidual(options);
    });
}

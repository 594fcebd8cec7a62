/**
 * `resnet-studio runs list|show|compare`: the training runs recorded under `.resnet-studio/runs/` (runs/listing.ts),
 * one run's record, and the final numbers of several side by side (with --svg, their curves as He et al. Fig. 1/6).
 */
import { hostname } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { existsSync, statSync } from "node:fs";
import type { Command } from "commander";
import { printable, printableJson } from "../diagnostics";
import { formatDuration, formatPercent } from "../presentation/format";
import { writeFileAtomic } from "../safeFiles";
import { RUN_RECORD_FILE, RUNS_FOLDER, type RunRecord } from "../runs/record";
import { defaultLiveness, listAllRuns, readRunRecord, runState, type RunEntry } from "../runs/listing";
import { compareRunsSvg, finalNumbers, finalNumbersTable, type CompareAxis, type ComparedRun } from "../runs/compare";
import { writeStdout } from "./summary";
import { UsageError } from "./train";

interface RunsOptions {
  dir?: string;
  json?: boolean;
  limit?: string;
  svg?: string;
  axis?: string;
}

const pct = (v: number | null) => (v === null ? "–" : formatPercent(v, 2));

function runsRoot(options: RunsOptions): string {
  return resolve(options.dir ?? join(process.cwd(), ...RUNS_FOLDER));
}

/** A run folder, or its run.json, as given on the command line. */
function runFolderArg(arg: string): string {
  const path = resolve(arg);
  return existsSync(path) && statSync(path).isFile() && basename(path) === RUN_RECORD_FILE ? dirname(path) : path;
}

function loadRun(arg: string): { dir: string; record: RunRecord } {
  const dir = runFolderArg(arg);
  const record = readRunRecord(dir);
  if (!record) throw new UsageError(`${dir}: not a run folder (no ${RUN_RECORD_FILE})`);
  return { dir, record };
}

function listLine(entry: RunEntry): string {
  if (entry.kind === "broken") return `  ${entry.name}  unreadable: ${entry.error}`;
  const epochs = entry.plannedEpochs === null ? `${entry.epochs}` : `${entry.epochs}/${entry.plannedEpochs}`;
  return [
    `  ${entry.name}`,
    entry.state,
    `best val ${pct(entry.bestValAccuracy)}`,
    `${epochs} epochs`,
    entry.backend + (entry.device && entry.device !== entry.backend ? ` (${entry.device})` : ""),
    entry.seconds === null ? "" : formatDuration(entry.seconds),
    entry.message ? `: ${entry.message}` : "",
  ]
    .filter(Boolean)
    .join("  ");
}

async function runsList(options: RunsOptions): Promise<void> {
  const root = runsRoot(options);
  const limit = options.limit === undefined ? Infinity : Number(options.limit);
  if (!(limit >= 1) || (Number.isFinite(limit) && !Number.isInteger(limit)))
    throw new UsageError(`--limit must be an integer ≥ 1, got "${options.limit}"`);
  const entries = listAllRuns(root, defaultLiveness(hostname()), limit);
  if (options.json) {
    await writeStdout(printableJson({ root, runs: entries }) + "\n");
    return;
  }
  if (entries.length === 0) {
    await writeStdout(`no runs in ${printable(root)} (resnet-studio train records one there)\n`);
    return;
  }
  const lines: string[] = [];
  let group: string | null = null;
  for (const entry of entries) {
    if (entry.group !== group) {
      group = entry.group;
      lines.push(printable(group));
    }
    lines.push(printable(listLine(entry)));
  }
  await writeStdout(lines.join("\n") + "\n");
}

async function runsShow(arg: string, options: RunsOptions): Promise<void> {
  const { dir, record } = loadRun(arg);
  const state = runState(record, defaultLiveness(hostname()));
  if (options.json) {
    await writeStdout(printableJson({ dir, state, ...record }) + "\n");
    return;
  }
  const summary = finalNumbers({ label: basename(dir), dir, state, record });
  const lines = [
    `${record.model} on ${record.dataset.arg} (${record.backend}${record.device && record.device !== record.backend ? `, ${record.device}` : ""}): ${state}${record.message ? `: ${record.message}` : ""}`,
    `  run: ${dir}`,
    `  spec: ${record.specFile ?? "(inline, in run.json)"}; architecture ${record.architectureHash.slice(0, 16)}`,
    `  started ${record.startedAt}${record.endedAt ? `, ended ${record.endedAt}` : ""}${summary.seconds === null ? "" : ` (${formatDuration(summary.seconds)})`}`,
    `  best validation accuracy ${pct(summary.bestValAccuracy)}; checkpoint after epoch ${record.checkpointEpoch ?? "–"}`,
    "  epoch  train loss  train err  val loss  val err     time",
    ...record.history.map(
      (e) =>
        `  ${String(e.epoch).padStart(5)}  ${e.trainLoss.toFixed(4).padStart(10)}  ${pct(1 - e.trainAccuracy).padStart(9)}  ${(e.valLoss === null ? "–" : e.valLoss.toFixed(4)).padStart(8)}  ${pct(e.valAccuracy === null ? null : 1 - e.valAccuracy).padStart(7)}  ${formatDuration(e.seconds).padStart(7)}`,
    ),
  ];
  await writeStdout(lines.map(printable).join("\n") + "\n");
}

async function runsCompare(args: string[], options: RunsOptions): Promise<void> {
  if (args.length < 2) throw new UsageError("runs compare needs two or more run folders");
  const axis = (options.axis ?? "epoch") as CompareAxis;
  if (axis !== "epoch" && axis !== "iteration")
    throw new UsageError(`--axis must be epoch or iteration, got "${options.axis}"`);
  const live = defaultLiveness(hostname());
  const runs: ComparedRun[] = args.map((arg) => {
    const { dir, record } = loadRun(arg);
    return { label: `${basename(dirname(dir))}/${basename(dir)}`, dir, state: runState(record, live), record };
  });
  const rows = runs.map(finalNumbers);
  if (options.svg) writeFileAtomic(options.svg, compareRunsSvg(runs, axis) + "\n");
  if (options.json)
    await writeStdout(printableJson({ runs: rows, ...(options.svg ? { svg: options.svg } : {}) }) + "\n");
  else
    await writeStdout(
      finalNumbersTable(rows).split("\n").map(printable).join("\n") +
        (options.svg ? `chart: ${printable(options.svg)}\n` : ""),
    );
}

export function registerRuns(program: Command): void {
  const runs = program.command("runs").description("list, show and compare recorded training runs");
  runs
    .command("list")
    .description("the runs under .resnet-studio/runs/, grouped by spec, newest first")
    .option("--dir <root>", "the runs root (default: .resnet-studio/runs in this folder)")
    .option("--limit <n>", "list at most n runs")
    .option("--json", "machine-readable output")
    .action((options: RunsOptions) => runsList(options));
  runs
    .command("show")
    .description("one run: status, spec, dataset, backend and its per-epoch history")
    .argument("<run>", "a run folder (or its run.json)")
    .option("--json", "the whole record, with the state a reader sees")
    .action((run: string, options: RunsOptions) => runsShow(run, options));
  runs
    .command("compare")
    .description("final numbers of two or more runs; --svg draws their curves (dashed training, bold validation error)")
    .argument("<runs...>", "run folders")
    .option("--svg <file>", "write the overlaid error curves there")
    .option("--axis <x>", "epoch | iteration", "epoch")
    .option("--json", "machine-readable output")
    .action((args: string[], options: RunsOptions) => runsCompare(args, options));
}

/**
 * What the Runs view shows, decided without VS Code: where runs live (resnetStudio.runsDirectory, the workspace, or
 * global storage), each run's row, the Training tab's events restored from a run.json, and the Compare Runs page.
 */
import * as path from "node:path";
import type { TrainingEvent } from "resnet-studio/protocol";
import type { RunRecord, RunState } from "resnet-studio/runs/record";
import type { BrokenRun, RunSummary } from "resnet-studio/runs/listing";
import { RUNS_FOLDER } from "resnet-studio/runs/record";
import { compareRunsSvg, finalNumbers, type ComparedRun } from "resnet-studio/runs/compare";
import { formatDuration, formatPercent } from "resnet-studio/presentation/format";

export interface RunsLocationInput {
  /** resnetStudio.runsDirectory: "" = `.resnet-studio/runs` in the workspace; relative = to the workspace folder. */
  setting: string;
  /** The first workspace folder's path when it is on the local file system, else null (virtual or none). */
  workspaceFolder: string | null;
  trusted: boolean;
  /** The extension's global storage folder. */
  globalStorage: string;
}

/** The runs root: an untrusted or virtual (or absent) workspace keeps its runs in global storage. */
export function runsRootFor(input: RunsLocationInput): string {
  if (!input.trusted || input.workspaceFolder === null) return path.join(input.globalStorage, ...RUNS_FOLDER);
  const setting = input.setting.trim();
  if (setting === "") return path.join(input.workspaceFolder, ...RUNS_FOLDER);
  return path.isAbsolute(setting) ? setting : path.join(input.workspaceFolder, setting);
}

const STATE_ICONS: Record<RunState, string> = {
  running: "sync~spin",
  completed: "pass",
  cancelled: "circle-slash",
  diverged: "warning",
  failed: "error",
  interrupted: "debug-disconnect",
};

/** The codicon of a run's state. */
export function runStateIcon(state: RunState): string {
  return STATE_ICONS[state];
}

/** "2026-12-07T22-40-05Z" → "2026-12-07 22:40:05"; other folder names as they are. */
export function runLabel(name: string): string {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d)-(\d\d)-(\d\d)Z(-\d+)?$/.exec(name);
  return m ? `${m[1]} ${m[2]}:${m[3]}:${m[4]}${m[5] ?? ""}` : name;
}

/** A run row's description: state, best validation accuracy, epochs, backend and duration. */
export function runDescription(run: RunSummary): string {
  const epochs = run.plannedEpochs === null ? `${run.epochs}` : `${run.epochs}/${run.plannedEpochs}`;
  return [
    run.state,
    run.bestValAccuracy === null ? "no val" : `best ${formatPercent(run.bestValAccuracy, 2)}`,
    `${epochs} ep`,
    run.device && run.device !== run.backend ? `${run.backend} (${run.device})` : run.backend,
    run.seconds === null ? null : formatDuration(run.seconds),
  ]
    .filter((p): p is string => p !== null)
    .join(" · ");
}

export function runTooltip(run: RunSummary): string {
  return [
    `${run.model} on ${run.dataset}`,
    runDescription(run),
    ...(run.message ? [run.message] : []),
    run.checkpointEpoch === null ? "no checkpoint yet" : `checkpoint after epoch ${run.checkpointEpoch}`,
    run.dir,
  ].join("\n");
}

export function brokenTooltip(run: BrokenRun): string {
  return run.error;
}

/** The tree item's contextValue: menus show Open, Resume, Compare and Reveal on runs, Reveal and Delete on broken ones. */
export function runContextValue(run: RunSummary): string {
  return `run.${run.state}${run.checkpointEpoch !== null ? ".checkpoint" : ""}`;
}

/**
 * The Training tab's events for a recorded run: started, every epoch, then how it ended (a run still going or
 * interrupted ends with no event, so its status stays as it was).
 */
export function trainingEventsFromRecord(record: RunRecord, state: RunState): TrainingEvent[] {
  const epochs = typeof record.config.epochs === "number" ? record.config.epochs : record.history.length;
  const batch = typeof record.config.batchSize === "number" ? record.config.batchSize : 0;
  const events: TrainingEvent[] = [
    {
      kind: "started",
      model: record.model,
      dataset: record.dataset.arg,
      backend: record.backend,
      epochs,
      batch,
      notes: [`recorded run, ${state}${record.message ? `: ${record.message}` : ""}`],
    },
  ];
  for (const e of record.history) {
    events.push({
      kind: "epoch",
      gradients: null,
      point: {
        epoch: e.epoch - 1,
        epochs,
        loss: e.trainLoss,
        accuracy: e.trainAccuracy,
        ...(e.valLoss !== null ? { valLoss: e.valLoss } : {}),
        ...(e.valAccuracy !== null ? { valAccuracy: e.valAccuracy } : {}),
        lr: e.lr ?? Number.NaN,
        imagesPerSecond: e.imagesPerSecond ?? 0,
        seconds: e.seconds,
        trainSamples: 0,
        valSamples: 0,
      },
    });
  }
  const millis = record.history.reduce((s, e) => s + e.seconds, 0) * 1000;
  if (state === "completed" || state === "cancelled")
    events.push({ kind: "finished", cancelled: state === "cancelled", millis });
  else if (state === "diverged" || state === "failed")
    events.push({ kind: "failed", message: record.message ?? state });
  else if (state === "interrupted")
    events.push({ kind: "failed", message: "interrupted: the process recording this run stopped" });
  return events;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/**
 * The Compare Runs page: the overlaid curves against epochs (and iterations, when every run knows its steps per
 * epoch) and the table of final numbers. Static HTML, no script: `default-src 'none'` with inline styles only.
 */
export function compareRunsHtml(runs: readonly ComparedRun[]): string {
  const rows = runs.map(finalNumbers);
  const pct = (v: number | null) => (v === null ? "–" : formatPercent(v, 2));
  const byIteration = runs.every((r) => r.record.stepsPerEpoch !== null);
  const table = [
    "<table><thead><tr><th>run</th><th>model</th><th>dataset</th><th>backend</th><th>status</th><th>epochs</th><th>train error</th><th>val error</th><th>best val acc</th><th>time</th></tr></thead><tbody>",
    ...rows.map(
      (r) =>
        `<tr><td>${esc(r.label)}</td><td>${esc(r.model)}</td><td>${esc(r.dataset)}</td><td>${esc(r.backend)}</td><td>${r.state}</td><td class="n">${r.epochs}</td><td class="n">${pct(r.finalTrainError)}</td><td class="n">${pct(r.finalValError)}</td><td class="n">${pct(r.bestValAccuracy)}</td><td class="n">${r.seconds === null ? "–" : esc(formatDuration(r.seconds))}</td></tr>`,
    ),
    "</tbody></table>",
  ].join("\n");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Compare Runs</title>
<style>
body { font-family: var(--vscode-font-family, sans-serif); color: var(--vscode-foreground); padding: 12px; }
figure { margin: 0 0 16px 0; } svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; } th, td { padding: 3px 10px; border-bottom: 1px solid var(--vscode-panel-border, #8884); text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
</style>
</head>
<body>
<h2>Compare Runs</h2>
<figure data-axis="epoch">${compareRunsSvg(runs, "epoch")}</figure>
${byIteration ? `<figure data-axis="iteration">${compareRunsSvg(runs, "iteration")}</figure>` : ""}
${table}
</body>
</html>`;
}

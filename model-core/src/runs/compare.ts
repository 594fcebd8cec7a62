/**
 * Comparing runs: their curves overlaid as in He et al. 2015 Fig. 1 and Fig. 6 (training error thin dashed, validation
 * error bold, one colour per run, against epoch or iteration) and a table of final numbers. Pure: records in, a
 * standalone SVG string and rows out, for the Compare Runs page and `resnet-studio runs compare`.
 */
import { seriesColor } from "../presentation/colors";
import { formatDuration, formatPercent } from "../presentation/format";
import { epochTicks, errorTicks } from "../render/errorCurves";
import { bestValAccuracy, runDurationSeconds, type RunRecord, type RunState } from "./record";

export interface ComparedRun {
  /** Shown in the legend and the table: the spec group and the run folder's name. */
  label: string;
  dir: string;
  state: RunState;
  record: RunRecord;
}

/** The final numbers of a run, one table row. Errors and accuracies are fractions. */
export interface FinalNumbers {
  label: string;
  dir: string;
  model: string;
  state: RunState;
  dataset: string;
  backend: string;
  epochs: number;
  steps: number | null;
  finalTrainError: number | null;
  finalValError: number | null;
  bestValAccuracy: number | null;
  seconds: number | null;
}

export type CompareAxis = "epoch" | "iteration";

const finite = (v: number | null): v is number => v !== null && Number.isFinite(v);

export function finalNumbers(run: ComparedRun): FinalNumbers {
  const { record } = run;
  const last = record.history[record.history.length - 1];
  return {
    label: run.label,
    dir: run.dir,
    model: record.model,
    state: run.state,
    dataset: record.dataset.arg,
    backend: record.backend,
    epochs: last?.epoch ?? 0,
    steps: last && record.stepsPerEpoch !== null ? last.epoch * record.stepsPerEpoch : null,
    finalTrainError: last && Number.isFinite(last.trainAccuracy) ? 1 - last.trainAccuracy : null,
    finalValError: last && finite(last.valAccuracy) ? 1 - last.valAccuracy : null,
    bestValAccuracy: bestValAccuracy(record),
    seconds: runDurationSeconds(record),
  };
}

const TABLE_HEADERS = ["run", "model", "status", "epochs", "train error", "val error", "best val acc", "time"];

/** The final numbers as an aligned text table (`runs compare`). */
export function finalNumbersTable(rows: readonly FinalNumbers[]): string {
  const pct = (v: number | null) => (v === null ? "–" : formatPercent(v, 2));
  const cells = rows.map((r) => [
    r.label,
    r.model,
    r.state,
    String(r.epochs),
    pct(r.finalTrainError),
    pct(r.finalValError),
    pct(r.bestValAccuracy),
    r.seconds === null ? "–" : formatDuration(r.seconds),
  ]);
  const widths = TABLE_HEADERS.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) =>
    c
      .map((v, i) => (i >= 3 ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(TABLE_HEADERS), ...cells.map(line)].join("\n") + "\n";
}

/** The x axis: iterations when every run knows its steps per epoch, else epochs. */
export function compareAxis(runs: readonly ComparedRun[], wanted: CompareAxis): CompareAxis {
  return wanted === "iteration" && runs.every((r) => r.record.stepsPerEpoch !== null) ? "iteration" : "epoch";
}

const WIDTH = 760;
const HEIGHT = 420;
const MARGIN = { top: 40, right: 20, bottom: 64, left: 60 };
const TEXT = "#222";
const GRID = "#ddd";

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Axis ticks of an iteration axis: round numbers, about 6 of them. */
function iterationTicks(max: number): number[] {
  const raw = max / 6;
  const magnitude = 10 ** Math.floor(Math.log10(Math.max(1, raw)));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? magnitude * 10;
  const ticks: number[] = [];
  for (let v = 0; v <= max; v += step) ticks.push(v);
  return ticks;
}

/** Overlaid error curves of `runs`: one colour each, training error dashed and thin, validation error bold. */
export function compareRunsSvg(runs: readonly ComparedRun[], wantedAxis: CompareAxis = "epoch"): string {
  const axis = compareAxis(runs, wantedAxis);
  const xOf = (run: ComparedRun, epoch: number) =>
    axis === "iteration" ? epoch * (run.record.stepsPerEpoch ?? 0) : epoch;
  let xMax = 1;
  let yMaxRaw = 0;
  for (const run of runs)
    for (const e of run.record.history) {
      xMax = Math.max(xMax, xOf(run, e.epoch));
      if (Number.isFinite(e.trainAccuracy)) yMaxRaw = Math.max(yMaxRaw, 1 - e.trainAccuracy);
      if (finite(e.valAccuracy)) yMaxRaw = Math.max(yMaxRaw, 1 - e.valAccuracy);
    }
  const yMax = Math.min(1, Math.max(0.05, Math.ceil((yMaxRaw * 100) / 5) * 0.05));
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (x: number) => MARGIN.left + (x / xMax) * plotWidth;
  const sy = (error: number) => MARGIN.top + plotHeight - (Math.min(error, yMax) / yMax) * plotHeight;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="Helvetica, Arial, sans-serif" font-size="12" role="img" aria-label="Training and validation error of ${runs.length} runs">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${WIDTH / 2}" y="20" text-anchor="middle" font-size="14" fill="${TEXT}">dashed: training error, bold: validation error</text>`,
  ];
  for (const t of errorTicks(yMax)) {
    const y = sy(t).toFixed(1);
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${y}" y2="${y}" stroke="${GRID}"/>`,
      `<text x="${MARGIN.left - 6}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end" fill="${TEXT}">${formatPercent(t)}</text>`,
    );
  }
  const xTicks = axis === "iteration" ? iterationTicks(xMax) : epochTicks(xMax);
  for (const t of xTicks) {
    const x = sx(t).toFixed(1);
    const bottom = MARGIN.top + plotHeight;
    parts.push(
      `<line x1="${x}" x2="${x}" y1="${bottom}" y2="${bottom + 4}" stroke="${TEXT}"/>`,
      `<text x="${x}" y="${bottom + 17}" text-anchor="middle" fill="${TEXT}">${axis === "iteration" && t >= 1000 ? `${t / 1000}k` : t}</text>`,
    );
  }
  parts.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="${TEXT}"/>`,
    `<text x="${MARGIN.left + plotWidth / 2}" y="${MARGIN.top + plotHeight + 34}" text-anchor="middle" fill="${TEXT}">${axis === "iteration" ? "iteration" : "epoch"}</text>`,
    `<text transform="translate(16 ${MARGIN.top + plotHeight / 2}) rotate(-90)" text-anchor="middle" fill="${TEXT}">error (%)</text>`,
  );
  runs.forEach((run, index) => {
    const color = seriesColor(index);
    const history = run.record.history;
    const path = (pick: (e: (typeof history)[number]) => number | null) =>
      history
        .filter((e) => finite(pick(e)))
        .map((e, i) => `${i === 0 ? "M" : "L"}${sx(xOf(run, e.epoch)).toFixed(1)},${sy(pick(e)!).toFixed(1)}`)
        .join(" ");
    const trainError = (e: (typeof history)[number]) => 1 - e.trainAccuracy;
    const valError = (e: (typeof history)[number]) => (e.valAccuracy === null ? null : 1 - e.valAccuracy);
    // Markers keep a one-epoch run visible: hollow for training, filled for validation.
    parts.push(`<g class="run" data-run="${esc(run.label)}" data-state="${run.state}">`);
    parts.push(
      `<path class="train" d="${path(trainError)}" fill="none" stroke="${color}" stroke-width="1.2" stroke-dasharray="5 3"/>`,
      `<path class="val" d="${path(valError)}" fill="none" stroke="${color}" stroke-width="2.8"/>`,
    );
    for (const e of history) {
      const x = sx(xOf(run, e.epoch)).toFixed(1);
      if (Number.isFinite(e.trainAccuracy))
        parts.push(`<circle cx="${x}" cy="${sy(trainError(e)).toFixed(1)}" r="2.5" fill="#fff" stroke="${color}"/>`);
      const v = valError(e);
      if (finite(v)) parts.push(`<circle cx="${x}" cy="${sy(v).toFixed(1)}" r="3.5" fill="${color}"/>`);
    }
    parts.push(`</g>`);
  });
  let legendX = MARGIN.left;
  const legendY = HEIGHT - 12;
  runs.forEach((run, index) => {
    parts.push(
      `<line x1="${legendX}" x2="${legendX + 22}" y1="${legendY - 4}" y2="${legendY - 4}" stroke="${seriesColor(index)}" stroke-width="2.8"/>`,
      `<text x="${legendX + 28}" y="${legendY}" fill="${TEXT}">${esc(run.label)}</text>`,
    );
    legendX += 40 + Math.min(220, run.label.length * 6.5);
  });
  parts.push(`</svg>`);
  return parts.join("\n");
}

/**
 * The evaluation page (Evaluate and Show in Diagram): the layer responses of He et al. 2015 Fig. 7 (std of each 3×3
 * layer's response against its depth, one line per run, so a plain and a residual run compare on one chart, and the
 * same stds sorted in descending order), mean |γ| of each BN, the latest evaluation's totals, per-class accuracy,
 * confusion matrix, and a grid of misclassified images with true and predicted labels. HTML from checked plain data;
 * the host's messages are checked field by field before anything is drawn. Pure.
 */
import type { EvaluationResult } from "../analysis/evaluation";
import type { GammaPoint, LayerResponsePoint } from "../analysis/layerResponse";
import { formatExactCount, formatNorm, formatPercent } from "./format";

/** One misclassified image, as a PNG data URI made on the host. */
export interface MisclassifiedTile {
  png: string;
  label: string;
  predicted: string;
  confidence: number;
}

/** What the page shows of one run or weights file. */
export interface EvaluationEntry {
  /** The run folder's or file's name: the legend. */
  label: string;
  evaluation: EvaluationResult;
  /** Show in Diagram's measurements; null for a plain Evaluate. */
  layerResponse: LayerResponsePoint[] | null;
  gamma: GammaPoint[] | null;
  misclassified: MisclassifiedTile[];
}

export type EvaluationHostMessage = { type: "entries"; entries: EvaluationEntry[] };
export type EvaluationViewMessage = { type: "ready" };

// Okabe–Ito, as the experiment chart: distinguishable with colour-vision deficiencies.
const LINE_COLORS = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#f0e442", "#000000"];

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

interface Line {
  label: string;
  values: number[];
}

/** A line chart of `lines` against their 1-based index (Fig. 7's axes: layer index, std). */
function lineChartSvg(lines: Line[], title: string, xLabel: string, yLabel: string): string {
  const width = 520;
  const height = 260;
  const left = 52;
  const right = 12;
  const top = 24;
  const bottom = 36;
  const maxX = Math.max(2, ...lines.map((l) => l.values.length));
  const finite = lines.flatMap((l) => l.values).filter((v) => Number.isFinite(v));
  const maxY = Math.max(1e-12, ...finite) * 1.05;
  const x = (i: number) => left + ((i - 1) / (maxX - 1)) * (width - left - right);
  const y = (v: number) => top + (1 - v / maxY) * (height - top - bottom);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * maxY);
  const grid = ticks
    .map(
      (t) =>
        `<line x1="${left}" x2="${width - right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#8884"/><text x="${left - 4}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end" font-size="10">${esc(formatNorm(t))}</text>`,
    )
    .join("");
  const paths = lines
    .map((line, k) => {
      const color = LINE_COLORS[k % LINE_COLORS.length];
      const d = line.values
        .map((v, i) => (Number.isFinite(v) ? `${i === 0 ? "M" : "L"}${x(i + 1).toFixed(1)},${y(v).toFixed(1)}` : ""))
        .join("");
      return `<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5"><title>${esc(line.label)}</title></path>`;
    })
    .join("");
  const legend = lines
    .map(
      (line, k) =>
        `<text x="${left + 8}" y="${top + 12 + 14 * k}" font-size="11" fill="${LINE_COLORS[k % LINE_COLORS.length]}">${esc(line.label)}</text>`,
    )
    .join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${esc(title)}" fill="currentColor"><text x="${left}" y="14" font-size="12" font-weight="bold">${esc(title)}</text>${grid}<line x1="${left}" x2="${width - right}" y1="${height - bottom}" y2="${height - bottom}" stroke="currentColor"/><text x="${(left + width - right) / 2}" y="${height - 6}" text-anchor="middle" font-size="11">${esc(xLabel)}</text><text x="12" y="${(top + height - bottom) / 2}" font-size="11" transform="rotate(-90 12 ${(top + height - bottom) / 2})" text-anchor="middle">${esc(yLabel)}</text><text x="${left}" y="${height - bottom + 14}" font-size="10">1</text><text x="${width - right}" y="${height - bottom + 14}" font-size="10" text-anchor="end">${maxX}</text>${paths}${legend}</svg>`;
}

/** Fig. 7 (top): std of each 3×3 layer's response in network order; (bottom): the same stds sorted, largest first. */
export function layerResponseSvg(entries: EvaluationEntry[]): string {
  const measured = entries.filter((e) => e.layerResponse && e.layerResponse.length > 0);
  if (measured.length === 0) return "";
  const lines = measured.map((e) => ({ label: e.label, values: e.layerResponse!.map((p) => p.std) }));
  const sorted = lines.map((l) => ({ label: l.label, values: [...l.values].sort((a, b) => b - a) }));
  return (
    lineChartSvg(lines, "Layer responses (He et al. 2015, Fig. 7)", "layer index (original)", "std") +
    lineChartSvg(sorted, "Layer responses, sorted by magnitude", "layer index (sorted by magnitude)", "std")
  );
}

function gammaSvg(entries: EvaluationEntry[]): string {
  const measured = entries.filter((e) => e.gamma && e.gamma.length > 0);
  if (measured.length === 0) return "";
  return lineChartSvg(
    measured.map((e) => ({ label: e.label, values: e.gamma!.map((g) => g.meanAbsGamma) })),
    "Mean |γ| of each BN",
    "BN layer (network order)",
    "mean |γ|",
  );
}

function perClassHtml(result: EvaluationResult): string {
  const rows = result.perClass
    .map((c) => {
      const share = c.accuracy ?? 0;
      return `<tr><td>${esc(c.name)}</td><td class="num">${c.accuracy === null ? "–" : formatPercent(c.accuracy, 1)}</td><td class="num">${formatExactCount(c.correct)}/${formatExactCount(c.total)}</td><td><span class="bar" style="width:${(share * 160).toFixed(0)}px"></span></td></tr>`;
    })
    .join("");
  return `<table class="per-class"><thead><tr><th>class</th><th class="num">accuracy</th><th class="num">correct</th><th></th></tr></thead><tbody>${rows}</tbody></table>`;
}

function confusionHtml(result: EvaluationResult): string {
  const names = result.perClass.map((c) => c.name);
  const head = `<tr><th>true \\ predicted</th>${names.map((n) => `<th class="num">${esc(n)}</th>`).join("")}</tr>`;
  const rows = result.confusion
    .map((row, i) => {
      const total = row.reduce((a, b) => a + b, 0);
      const cells = row
        .map((v, j) => {
          const share = total > 0 ? v / total : 0;
          const hue = i === j ? "0,158,115" : "213,94,0";
          return `<td class="num" style="background: rgba(${hue},${(share * 0.8).toFixed(3)})" title="${esc(names[i])} → ${esc(names[j])}: ${v}">${v}</td>`;
        })
        .join("");
      return `<tr><th>${esc(names[i])}</th>${cells}</tr>`;
    })
    .join("");
  return `<table class="confusion"><thead>${head}</thead><tbody>${rows}</tbody></table>`;
}

const isPngDataUri = (s: string) => /^data:image\/png;base64,[A-Za-z0-9+/=]+$/.test(s);

function misclassifiedHtml(tiles: MisclassifiedTile[]): string {
  if (tiles.length === 0) return "";
  const cells = tiles
    .filter((t) => isPngDataUri(t.png))
    .map(
      (t) =>
        `<figure class="tile"><img src="${t.png}" alt="true ${esc(t.label)}, predicted ${esc(t.predicted)}"><figcaption>${esc(t.label)} → <b>${esc(t.predicted)}</b> <span class="meta">${formatPercent(t.confidence, 0)}</span></figcaption></figure>`,
    )
    .join("");
  return `<h3>Misclassified (true → predicted, confidence)</h3><div class="grid">${cells}</div>`;
}

/** The whole page body: the charts over every entry, then the latest entry's evaluation. */
export function evaluationBodyHtml(entries: EvaluationEntry[]): string {
  const latest = entries[entries.length - 1];
  if (!latest) return `<p>No evaluation yet.</p>`;
  const r = latest.evaluation;
  const summary = `<h2>${esc(latest.label)}</h2><p class="totals">loss <b>${r.loss.toFixed(4)}</b> · accuracy <b>${formatPercent(r.accuracy, 2)}</b> on ${formatExactCount(r.samples)} validation images of ${esc(r.dataset)}</p><p class="meta">${esc(r.model)} · ${esc(r.backend)} · ${esc(r.weights ?? "seeded initialisation")}</p>`;
  const charts = layerResponseSvg(entries) + gammaSvg(entries);
  return `${summary}${charts ? `<figure class="charts">${charts}</figure>` : ""}<div class="columns"><section><h3>Per-class accuracy</h3>${perClassHtml(r)}</section><section><h3>Confusion matrix</h3>${confusionHtml(r)}</section></div>${misclassifiedHtml(latest.misclassified)}`;
}

export const EVALUATION_STYLE = `body { font-family: var(--vscode-font-family, Helvetica, Arial, sans-serif); font-size: var(--vscode-font-size, 13px); color: var(--vscode-editor-foreground, #222); background: var(--vscode-editor-background, #fff); padding: 8px 16px; }
figure { margin: 0; } .charts svg { max-width: 100%; height: auto; margin: 4px 16px 4px 0; }
table { border-collapse: collapse; margin: 8px 0; } td, th { padding: 2px 8px; text-align: left; border-bottom: 1px solid #8884; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.bar { display: inline-block; height: 10px; background: #0072b2; }
.columns { display: flex; flex-wrap: wrap; gap: 24px; }
.grid { display: flex; flex-wrap: wrap; gap: 8px; } .tile { text-align: center; font-size: 11px; } .tile img { width: 56px; height: 56px; image-rendering: pixelated; display: block; margin: 0 auto; }
.meta { opacity: 0.8; }`;

type Fields = Record<string, unknown>;
const isRecord = (v: unknown): v is Fields => typeof v === "object" && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === "string";
const isNumber = (v: unknown): v is number => typeof v === "number";
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;
const listOf = <T>(v: unknown, check: (x: unknown) => x is T): v is T[] => Array.isArray(v) && v.every(check);

function isEvaluation(v: unknown): v is EvaluationResult {
  if (!isRecord(v)) return false;
  const classes = Array.isArray(v.perClass) ? v.perClass.length : -1;
  return (
    isString(v.model) &&
    isString(v.dataset) &&
    isString(v.backend) &&
    (v.weights === null || isString(v.weights)) &&
    isCount(v.samples) &&
    isNumber(v.loss) &&
    isNumber(v.accuracy) &&
    listOf(
      v.perClass,
      (c): c is EvaluationResult["perClass"][number] =>
        isRecord(c) &&
        isString(c.name) &&
        isCount(c.total) &&
        isCount(c.correct) &&
        (c.accuracy === null || isNumber(c.accuracy)),
    ) &&
    Array.isArray(v.confusion) &&
    v.confusion.length === classes &&
    v.confusion.every((row) => listOf(row, isCount) && row.length === classes) &&
    Array.isArray(v.misclassified)
  );
}

function isEntry(v: unknown): v is EvaluationEntry {
  return (
    isRecord(v) &&
    isString(v.label) &&
    isEvaluation(v.evaluation) &&
    (v.layerResponse === null ||
      listOf(
        v.layerResponse,
        (p): p is LayerResponsePoint =>
          isRecord(p) && isString(p.node) && isString(p.conv) && isCount(p.index) && isNumber(p.std),
      )) &&
    (v.gamma === null ||
      listOf(v.gamma, (g): g is GammaPoint => isRecord(g) && isString(g.node) && isNumber(g.meanAbsGamma))) &&
    listOf(
      v.misclassified,
      (t): t is MisclassifiedTile =>
        isRecord(t) && isString(t.png) && isString(t.label) && isString(t.predicted) && isNumber(t.confidence),
    )
  );
}

/** A host message the page can draw, else null. */
export function checkEvaluationHostMessage(value: unknown): EvaluationHostMessage | null {
  if (!isRecord(value) || value.type !== "entries" || !listOf(value.entries, isEntry)) return null;
  return { type: "entries", entries: value.entries };
}

export function isEvaluationViewMessage(value: unknown): value is EvaluationViewMessage {
  return isRecord(value) && value.type === "ready";
}

/**
 * The experiment's page: the Fig. 6 chart, the table of final errors and the verdict, as HTML. The CLI writes it as a
 * file (no script at all); the editor's webview shows the same body, redrawn as epochs arrive. Pure.
 */
import { errorCurvesSvg } from "../render/errorCurves";
import { formatDuration, formatPercent } from "../presentation/format";
import type { ExperimentState } from "./plainVsResidual";

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** The table of final errors (one row per net) as HTML. */
export function resultTableHtml(state: ExperimentState): string {
  const rows = state.series
    .map((s) => {
      const last = s.points[s.points.length - 1];
      return `<tr data-series="${esc(s.key)}"><td>${esc(s.label)}</td><td class="num">${s.params.toLocaleString("en-US")}</td><td class="num">${s.points.length}/${state.epochs}</td><td class="num">${last ? formatPercent(last.trainError, 2) : "–"}</td><td class="num">${last ? formatPercent(last.valError, 2) : "–"}</td><td>${esc(s.status)}${s.message ? `: ${esc(s.message)}` : ""}</td><td class="num">${s.seconds > 0 ? formatDuration(s.seconds) : "–"}</td></tr>`;
    })
    .join("");
  return `<table class="results"><thead><tr><th>net</th><th class="num">params</th><th class="num">epochs</th><th class="num">training error</th><th class="num">validation error</th><th>status</th><th class="num">time</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** Chart, table and verdict: the part of the page the webview replaces on every update. */
export function experimentBodyHtml(state: ExperimentState): string {
  const verdict = state.verdict
    ? `<section class="verdict ${state.verdict.reproduced ? "reproduced" : "not-reproduced"}">${state.verdict.lines.map((l) => `<p>${esc(l)}</p>`).join("")}</section>`
    : `<section class="verdict pending"><p>Running: the verdict comes when every net has finished.</p></section>`;
  return `<figure>${errorCurvesSvg(state)}</figure>${verdict}${resultTableHtml(state)}<p class="meta">${esc(state.dataset)} · ${esc(state.backend)} · first-stage width ${state.width} · ${state.epochs} epoch${state.epochs === 1 ? "" : "s"}${state.seconds > 0 ? ` · ${formatDuration(state.seconds)} in all` : ""}</p>`;
}

export const EXPERIMENT_STYLE = `body { font-family: var(--vscode-font-family, Helvetica, Arial, sans-serif); font-size: var(--vscode-font-size, 13px); color: var(--vscode-editor-foreground, #222); background: var(--vscode-editor-background, #fff); padding: 8px 16px; }
figure { margin: 0; } figure svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; margin: 8px 0; } td, th { padding: 2px 10px; text-align: left; border-bottom: 1px solid #8884; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.verdict { border-left: 4px solid #8888; padding: 2px 10px; } .verdict.reproduced { border-left-color: #009e73; } .verdict.not-reproduced { border-left-color: #d55e00; }
.meta { opacity: 0.8; }`;

/** A standalone page (the CLI's chart.html): no script, styles inline, everything else refused by its CSP. */
export function experimentReportHtml(state: ExperimentState): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Plain vs residual on ${esc(state.dataset)}</title>
<style>${EXPERIMENT_STYLE}</style>
</head>
<body>
<h1>Plain vs residual (He et al. 2015 Fig. 6) on ${esc(state.dataset)}</h1>
${experimentBodyHtml(state)}
</body>
</html>
`;
}

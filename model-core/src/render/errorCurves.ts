/**
 * The plain-vs-residual chart drawn as He et al. 2015 Fig. 6: two panels (plain nets left, ResNets right) on one
 * error axis, training error as thin dashed lines, validation error as bold lines, one colour per depth. A standalone
 * SVG string with its own light background (it reads as a figure on any theme); pure, so the CLI writes it to a file
 * and the webview draws the same string as the experiment runs.
 */
import { seriesColor } from "../presentation/colors";
import { formatPercent } from "../presentation/format";
import type { ExperimentState, ExperimentSeries } from "../experiment/plainVsResidual";

const WIDTH = 880;
const HEIGHT = 380;
const MARGIN = { top: 44, right: 16, bottom: 78, left: 56 };
const GAP = 36;
const TEXT = "#222";
const GRID = "#ddd";

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** The top of the error axis: the largest error drawn, rounded up to a multiple of 5 points (at least 5%). */
export function errorAxisMax(series: readonly ExperimentSeries[]): number {
  let max = 0;
  for (const s of series)
    for (const p of s.points)
      max = Math.max(
        max,
        Number.isFinite(p.trainError) ? p.trainError : 0,
        Number.isFinite(p.valError) ? p.valError : 0,
      );
  return Math.max(0.05, Math.ceil((max * 100) / 5) * 0.05);
}

/** Tick values from 0 to `max` (error fractions), 4 to 10 of them. */
export function errorTicks(max: number): number[] {
  const stepPoints = [1, 2, 5, 10, 20, 25].find((s) => (max * 100) / s <= 8) ?? 25;
  const ticks: number[] = [];
  for (let v = 0; v <= max * 100 + 1e-9; v += stepPoints) ticks.push(v / 100);
  return ticks;
}

export function epochTicks(epochs: number): number[] {
  const step = Math.max(1, Math.ceil(epochs / 10));
  const ticks: number[] = [];
  for (let e = 0; e <= epochs; e += step) ticks.push(e);
  if (ticks[ticks.length - 1] !== epochs) ticks.push(epochs);
  return ticks;
}

export function errorCurvesSvg(state: ExperimentState): string {
  const panelWidth = (WIDTH - MARGIN.left - MARGIN.right - GAP) / 2;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const yMax = errorAxisMax(state.series);
  const epochs = Math.max(1, state.epochs);
  const colorOf = (depth: number) => seriesColor(state.depths.indexOf(depth));
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="Helvetica, Arial, sans-serif" font-size="12" role="img" aria-label="${esc(`Training and validation error of plain and residual nets on ${state.dataset}`)}">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${WIDTH / 2}" y="18" text-anchor="middle" font-size="14" fill="${TEXT}">${esc(`Plain vs residual on ${state.dataset} (${state.backend}): dashed = training error, bold = validation error`)}</text>`,
  );
  const panels: { title: string; residual: boolean }[] = [
    { title: "plain", residual: false },
    { title: "ResNet", residual: true },
  ];
  panels.forEach((panel, index) => {
    const x0 = MARGIN.left + index * (panelWidth + GAP);
    const y0 = MARGIN.top;
    const sx = (epoch: number) => x0 + (epoch / epochs) * panelWidth;
    const sy = (error: number) => y0 + plotHeight - (Math.min(error, yMax) / yMax) * plotHeight;
    parts.push(`<g class="panel" data-panel="${panel.residual ? "residual" : "plain"}">`);
    parts.push(
      `<text x="${x0 + panelWidth / 2}" y="${y0 - 8}" text-anchor="middle" font-size="13" font-weight="bold" fill="${TEXT}">${panel.title}</text>`,
    );
    for (const t of errorTicks(yMax)) {
      const y = sy(t);
      parts.push(
        `<line x1="${x0}" x2="${x0 + panelWidth}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="${GRID}"/>`,
      );
      if (index === 0)
        parts.push(
          `<text x="${x0 - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" fill="${TEXT}">${formatPercent(t)}</text>`,
        );
    }
    for (const e of epochTicks(epochs)) {
      const x = sx(e);
      parts.push(
        `<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${y0 + plotHeight}" y2="${y0 + plotHeight + 4}" stroke="${TEXT}"/>`,
      );
      parts.push(
        `<text x="${x.toFixed(1)}" y="${y0 + plotHeight + 17}" text-anchor="middle" fill="${TEXT}">${e}</text>`,
      );
    }
    parts.push(
      `<rect x="${x0}" y="${y0}" width="${panelWidth}" height="${plotHeight}" fill="none" stroke="${TEXT}"/>`,
      `<text x="${x0 + panelWidth / 2}" y="${y0 + plotHeight + 34}" text-anchor="middle" fill="${TEXT}">epoch</text>`,
    );
    for (const s of state.series.filter((x) => x.residual === panel.residual)) {
      const color = colorOf(s.depth);
      const finite = s.points.filter((p) => Number.isFinite(p.trainError) && Number.isFinite(p.valError));
      const path = (pick: (p: (typeof finite)[number]) => number) =>
        finite.map((p, i) => `${i === 0 ? "M" : "L"}${sx(p.epoch).toFixed(1)},${sy(pick(p)).toFixed(1)}`).join(" ");
      parts.push(`<g class="series" data-series="${esc(s.key)}" data-status="${s.status}">`);
      if (finite.length > 1) {
        parts.push(
          `<path class="train" d="${path((p) => p.trainError)}" fill="none" stroke="${color}" stroke-width="1.2" stroke-dasharray="5 3"/>`,
          `<path class="val" d="${path((p) => p.valError)}" fill="none" stroke="${color}" stroke-width="2.8"/>`,
        );
      }
      // Markers keep a one-epoch run visible: hollow for training, filled for validation.
      for (const p of finite) {
        parts.push(
          `<circle class="train" cx="${sx(p.epoch).toFixed(1)}" cy="${sy(p.trainError).toFixed(1)}" r="2.5" fill="#fff" stroke="${color}"/>`,
          `<circle class="val" cx="${sx(p.epoch).toFixed(1)}" cy="${sy(p.valError).toFixed(1)}" r="3.5" fill="${color}"/>`,
        );
      }
      const last = finite[finite.length - 1];
      if (last)
        parts.push(
          `<text x="${(sx(last.epoch) - 4).toFixed(1)}" y="${(sy(last.valError) - 7).toFixed(1)}" text-anchor="end" font-size="11" fill="${color}">${esc(s.label)}</text>`,
        );
      parts.push(`</g>`);
    }
    parts.push(`</g>`);
  });
  parts.push(
    `<text transform="translate(16 ${MARGIN.top + plotHeight / 2}) rotate(-90)" text-anchor="middle" fill="${TEXT}">error (%)</text>`,
  );
  // Legend: a colour per depth, then the two line styles.
  const legendY = HEIGHT - 18;
  let x = MARGIN.left;
  for (const depth of state.depths) {
    const color = colorOf(depth);
    parts.push(
      `<line x1="${x}" x2="${x + 22}" y1="${legendY - 4}" y2="${legendY - 4}" stroke="${color}" stroke-width="2.8"/>`,
      `<text x="${x + 28}" y="${legendY}" fill="${TEXT}">${depth} layers</text>`,
    );
    x += 100;
  }
  parts.push(
    `<line x1="${x + 10}" x2="${x + 32}" y1="${legendY - 4}" y2="${legendY - 4}" stroke="${TEXT}" stroke-width="1.2" stroke-dasharray="5 3"/>`,
    `<text x="${x + 38}" y="${legendY}" fill="${TEXT}">training error</text>`,
    `<line x1="${x + 140}" x2="${x + 162}" y1="${legendY - 4}" y2="${legendY - 4}" stroke="${TEXT}" stroke-width="2.8"/>`,
    `<text x="${x + 168}" y="${legendY}" fill="${TEXT}">validation error</text>`,
    `</svg>`,
  );
  return parts.join("\n");
}

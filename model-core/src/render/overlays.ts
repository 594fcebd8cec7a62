/**
 * Overlay helpers: log-scale normalisation, the heat ramp (viridis: perceptually uniform and readable with
 * colour-blindness, so colour order is magnitude order), its legend, and gradient look-ups by node id.
 */
import type { AddSplit, GradientFlowResult } from "../analysis/gradflow";

/** Maps a value to [0,1] on a log scale spanning the positive values it was built from. */
export type LogScale = (value: number) => number;

/** The smallest and largest positive finite value; null when there is none. */
function positiveRange(values: readonly number[]): { min: number; max: number } | null {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (Number.isFinite(v) && v > 0) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
  }
  return Number.isFinite(min) ? { min, max } : null;
}

function logScaleOver(range: { min: number; max: number } | null): LogScale {
  if (!range) return () => 0;
  const lo = Math.log10(range.min);
  const span = Math.log10(range.max) - lo;
  return (value: number) => {
    if (!Number.isFinite(value) || value <= 0) return 0;
    if (span <= 0) return 1;
    return Math.min(1, Math.max(0, (Math.log10(value) - lo) / span));
  };
}

/** A log scale over the positive finite values; zero/negative map to 0, a constant set maps to 1. */
export function logScale(values: readonly number[]): LogScale {
  return logScaleOver(positiveRange(values));
}

/** Viridis (van der Walt & Smith, matplotlib) sampled at t = 0, 0.1, …, 1; linear RGB interpolation between stops. */
const VIRIDIS = [
  "#440154",
  "#482475",
  "#414487",
  "#355f8d",
  "#2a788e",
  "#21918c",
  "#22a884",
  "#44bf70",
  "#7ad151",
  "#bddf26",
  "#fde725",
];
const VIRIDIS_RGB = VIRIDIS.map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));

/** The heat ramp: viridis from dark violet (t=0, low) to yellow (t=1, high). */
export function heatColor(t: number): string {
  const clamped = Number.isFinite(t) ? Math.min(1, Math.max(0, t)) : 0;
  const pos = clamped * (VIRIDIS_RGB.length - 1);
  const i = Math.min(VIRIDIS_RGB.length - 2, Math.floor(pos));
  const f = pos - i;
  const a = VIRIDIS_RGB[i],
    b = VIRIDIS_RGB[i + 1];
  const channel = (k: number) =>
    Math.round(a[k] + (b[k] - a[k]) * f)
      .toString(16)
      .padStart(2, "0");
  return `#${channel(0)}${channel(1)}${channel(2)}`;
}

/** A log-scale heat overlay: the one way every heat overlay (gradients, params, MACs, memory) maps values to colours. */
export interface HeatScale {
  /** Position on the ramp in [0,1]. */
  t(value: number): number;
  color(value: number): string;
  /** The positive range the scale spans; null when there is no positive value. */
  range: { min: number; max: number } | null;
}

export function logHeatScale(values: readonly number[]): HeatScale {
  const range = positiveRange(values);
  const t = logScaleOver(range);
  return { t, color: (value) => heatColor(t(value)), range };
}

const LEGEND_STEPS = 24;
const LEGEND_WIDTH = 192;

/**
 * The key of a heat overlay as SVG: the ramp with its values at both ends and three log-spaced ticks between,
 * and what it measures. `format` writes a value the way the diagram's labels do.
 */
export function heatLegend(
  scale: HeatScale,
  title: string,
  x: number,
  y: number,
  format: (value: number) => string,
): string {
  const step = LEGEND_WIDTH / LEGEND_STEPS;
  const cells: string[] = [];
  for (let i = 0; i < LEGEND_STEPS; i++) {
    cells.push(
      `<rect x="${r1(x + i * step)}" y="${r1(y)}" width="${r1(step + 0.5)}" height="10" fill="${heatColor((i + 0.5) / LEGEND_STEPS)}"/>`,
    );
  }
  const ticks: string[] = [];
  const range = scale.range;
  if (range) {
    const lo = Math.log10(range.min),
      hi = Math.log10(range.max);
    const count = hi > lo ? 5 : 1;
    for (let i = 0; i < count; i++) {
      const f = count === 1 ? 1 : i / (count - 1);
      const value = 10 ** (lo + (hi - lo) * f);
      const tx = x + LEGEND_WIDTH * f;
      const anchor = f === 0 ? "start" : f === 1 ? "end" : "middle";
      ticks.push(`<line x1="${r1(tx)}" x2="${r1(tx)}" y1="${r1(y + 10)}" y2="${r1(y + 13)}" stroke="currentColor"/>`);
      ticks.push(
        `<text class="rs-sub rs-legend-tick" x="${r1(tx)}" y="${r1(y + 24)}" text-anchor="${anchor}" data-value="${value}">${escapeText(format(value))}</text>`,
      );
    }
  }
  const label = `<text class="rs-sub" x="${r1(x + LEGEND_WIDTH + 10)}" y="${r1(y + 9)}">${escapeText(`${title}, log scale (viridis)`)}</text>`;
  return `<g class="rs-legend" pointer-events="none">${cells.join("")}${ticks.join("")}${label}</g>`;
}

function r1(v: number): string {
  return String(Math.round(v * 10) / 10);
}

function escapeText(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * The gradient split at a block's input, where the shortcut forks off: the share of ‖dL/dx‖ that arrives
 * through the shortcut, identity / (identity + residualAtInput). Both are measured at the same tensor; at the
 * Add both inputs receive the same gradient, so a share taken there is always ½. Null without a branch measurement.
 */
export function shortcutShare(split: AddSplit): number | null {
  const branch = split.residualAtInput;
  if (branch === undefined || !Number.isFinite(branch) || !Number.isFinite(split.identity)) return null;
  const total = split.identity + branch;
  return total > 0 ? split.identity / total : null;
}

export interface GradientIndex {
  /** Largest ‖∂L/∂out‖₂ over the given graph nodes (a folded group shows its strongest member); null if none known. */
  nodeNorm(nodeIds: readonly string[]): number | null;
  /** The identity/residual split at an Add node (by the Add's id or its block's id). */
  addSplit(id: string): AddSplit | null;
}

export function buildGradientIndex(result: GradientFlowResult): GradientIndex {
  const norms = new Map<string, number>();
  for (const n of result.nodes) {
    const l2 = n.activation?.l2;
    if (typeof l2 === "number" && Number.isFinite(l2)) norms.set(n.id, l2);
  }
  const splits = new Map<string, AddSplit>();
  for (const a of result.adds) {
    splits.set(a.id, a);
    if (a.block && !splits.has(a.block)) splits.set(a.block, a);
  }
  return {
    nodeNorm(nodeIds) {
      let best: number | null = null;
      for (const id of nodeIds) {
        const v = norms.get(id);
        if (v !== undefined && (best === null || v > best)) best = v;
      }
      return best;
    },
    addSplit(id) {
      return splits.get(id) ?? null;
    },
  };
}

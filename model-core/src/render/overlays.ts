/**
 * Overlay helpers: the heat legend as SVG and gradient look-ups by node id. The colour scales they draw with live in
 * ../presentation/colors.ts.
 */
import type { AddSplit, GradientFlowResult } from "../analysis/gradflow";
import { heatColor, type HeatScale } from "../presentation/colors";

/** The legend's ramp: this many cells over this many pixels (fine enough that the steps do not show at 1×). */
const LEGEND_RAMP = { cells: 24, width: 192 } as const;

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
  const step = LEGEND_RAMP.width / LEGEND_RAMP.cells;
  const cells: string[] = [];
  for (let i = 0; i < LEGEND_RAMP.cells; i++) {
    cells.push(
      `<rect x="${r1(x + i * step)}" y="${r1(y)}" width="${r1(step + 0.5)}" height="10" fill="${heatColor((i + 0.5) / LEGEND_RAMP.cells)}"/>`,
    );
  }
  const ticks: string[] = [];
  for (const tick of legendTicks(scale, format)) {
    const tx = x + LEGEND_RAMP.width * tick.at;
    const anchor = tick.at === 0 ? "start" : tick.at === 1 ? "end" : "middle";
    ticks.push(`<line x1="${r1(tx)}" x2="${r1(tx)}" y1="${r1(y + 10)}" y2="${r1(y + 13)}" stroke="currentColor"/>`);
    ticks.push(
      `<text class="rs-sub rs-legend-tick" x="${r1(tx)}" y="${r1(y + 24)}" text-anchor="${anchor}" data-value="${tick.value}">${escapeText(tick.label)}</text>`,
    );
  }
  const label = `<text class="rs-sub" x="${r1(x + LEGEND_RAMP.width + 10)}" y="${r1(y + 9)}">${escapeText(`${title}, log scale (viridis)`)}</text>`;
  return `<g class="rs-legend" pointer-events="none">${cells.join("")}${ticks.join("")}${label}</g>`;
}

/** Width of one character of the 11 px legend text, generously (digits and unit letters of system sans fonts). */
export const LEGEND_CHAR_PX = 6.5;
/** Space kept between two neighbouring tick labels. */
const TICK_GAP_PX = 6;

/**
 * The legend's ticks: 5 log-spaced values when their labels fit side by side under the ramp, else 3, else the two
 * ends; labels that would read the same twice are dropped (a narrow range formats to repeats).
 */
export function legendTicks(
  scale: Pick<HeatScale, "range">,
  format: (value: number) => string,
): { at: number; value: number; label: string }[] {
  const range = scale.range;
  if (!range) return [];
  const lo = Math.log10(range.min),
    hi = Math.log10(range.max);
  if (!(hi > lo)) return [{ at: 1, value: range.max, label: format(range.max) }];
  for (const count of [5, 3, 2]) {
    const ticks = Array.from({ length: count }, (_, i) => {
      const at = i / (count - 1);
      const value = 10 ** (lo + (hi - lo) * at);
      return { at, value, label: format(value) };
    });
    const distinct = new Set(ticks.map((t) => t.label)).size === ticks.length;
    // Start-anchored at the left end, end-anchored at the right, centred between.
    const fits = ticks.every((t, i) => {
      if (i === 0) return true;
      const prev = ticks[i - 1];
      const prevRight = prev.label.length * LEGEND_CHAR_PX * (prev.at === 0 ? 1 : 0.5);
      const left = t.label.length * LEGEND_CHAR_PX * (t.at === 1 ? 1 : 0.5);
      return prevRight + left + TICK_GAP_PX <= LEGEND_RAMP.width * (t.at - prev.at);
    });
    if (distinct && fits) return ticks;
  }
  const ends = [
    { at: 0, value: range.min, label: format(range.min) },
    { at: 1, value: range.max, label: format(range.max) },
  ];
  return ends[0].label === ends[1].label ? [ends[1]] : ends;
}

/** How wide a legend drawn at x = `x` is: the ramp, then its caption. */
export function legendWidth(title: string, x: number): number {
  return Math.ceil(x + LEGEND_RAMP.width + 10 + `${title}, log scale (viridis)`.length * LEGEND_CHAR_PX + 8);
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

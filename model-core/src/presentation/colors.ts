/**
 * Colour scales: log-scale normalisation and the heat ramp (viridis: perceptually uniform and readable with
 * colour-blindness, so colour order is magnitude order). Every heat overlay, legend and chart colours through these.
 */

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

/**
 * Categorical colours for curves that must be told apart (one per network depth): Okabe & Ito's palette, chosen to stay
 * distinct under the common colour-vision deficiencies. Cycles past seven.
 */
const SERIES_COLORS = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000"];

export function seriesColor(index: number): string {
  return SERIES_COLORS[((index % SERIES_COLORS.length) + SERIES_COLORS.length) % SERIES_COLORS.length];
}

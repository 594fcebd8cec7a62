/**
 * The one home for number, shape and norm formatting: SVG labels, webview tooltips, hovers, inlay hints,
 * the CLI tables and charts all use these, so one fact reads the same on every surface.
 */
import type { Shape } from "../analysis/graph";

/** [256,56,56] → "256×56×56". */
export function formatShape(shape: readonly number[]): string {
  return shape.length ? shape.join("×") : "scalar";
}

/** A tensor's shape as PyTorch prints it: [64,3,7,7] → "[64, 3, 7, 7]", a scalar → "[]". */
export function formatTensorShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** 11689512 → "11.7M", 1800 → "1.8K". */
export function formatCount(value: number): string {
  if (!Number.isFinite(value)) return "–";
  const abs = Math.abs(value);
  const units: [number, string][] = [
    [1e12, "T"],
    [1e9, "G"],
    [1e6, "M"],
    [1e3, "K"],
  ];
  for (const [scale, suffix] of units) {
    if (abs >= scale) return `${trim(value / scale)}${suffix}`;
  }
  return trim(value);
}

/** 11689512 → "11,689,512": the exact count for columns that must add up (torchinfo's params column). */
export function formatExactCount(value: number): string {
  return value.toLocaleString("en-US");
}

/** A fraction as a percentage with `digits` decimals: 0.9312 → "93.12%" (digits 2), 0.5 → "50%" (digits 0). */
export function formatPercent(fraction: number, digits = 0): string {
  return `${(fraction * 100).toFixed(digits)}%`;
}

/** A gradient norm in compact scientific form: 3.2e-4. */
export function formatNorm(value: number): string {
  if (!Number.isFinite(value)) return "–";
  if (value === 0) return "0";
  const abs = Math.abs(value);
  if (abs >= 0.01 && abs < 1000) return trim(value);
  return value.toExponential(1);
}

/**
 * The labels of one log axis, given all its tick values: only 1, 2 and 5 × 10ᵏ are labelled (chart.js puts a tick at
 * every minor step, and near a decade they overlap), each exactly once, and all in one format: plain decimals when
 * every label lies in [0.01, 1000), else m·10ᵏ as "5e-4" (never "1e+3, 5e+2, 5, 1" on one axis).
 */
export function formatLogTicks(values: readonly number[]): string[] {
  const labelled = values.map((v) => {
    if (!(v > 0) || !Number.isFinite(v)) return null;
    const exponent = Math.floor(Math.log10(v) + 1e-9);
    const mantissa = v / 10 ** exponent;
    const nearest = Math.round(mantissa);
    // Only a tick that IS 1, 2 or 5 × 10ᵏ: rounding 1.5 to 2 labelled 0.15 as "0.2" beside the real 0.2.
    if (![1, 2, 5].includes(nearest) || Math.abs(mantissa - nearest) > 1e-6 * nearest) return null;
    return { mantissa: nearest, exponent };
  });
  const plain = labelled.every((l) => l === null || (l.exponent >= -2 && l.exponent < 3));
  const seen = new Set<string>();
  return labelled.map((l) => {
    if (!l) return "";
    const text = plain
      ? String(Number((l.mantissa * 10 ** l.exponent).toFixed(Math.max(0, -l.exponent))))
      : `${l.mantissa}e${l.exponent}`;
    if (seen.has(text)) return "";
    seen.add(text);
    return text;
  });
}

/** "0.25 s", "2.4 s", "45 s", "3.2 min", "1.4 h": a duration for estimates and ETAs. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "–";
  if (seconds < 1) return `${Math.max(0, seconds).toFixed(2)} s`;
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 90 * 60) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function trim(value: number): string {
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return String(Number(value.toFixed(digits)));
}

/** Shape equality, used to tell where a stage changes resolution. */
export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Bytes in binary units: 512 → "512 B", 3663360 → "3.49 MiB", 25769803776 → "24.0 GiB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "–";
  const units: [number, string][] = [
    [2 ** 40, "TiB"],
    [2 ** 30, "GiB"],
    [2 ** 20, "MiB"],
    [2 ** 10, "KiB"],
  ];
  for (const [scale, suffix] of units) {
    if (Math.abs(bytes) >= scale) {
      const v = bytes / scale;
      return `${v.toFixed(Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2)} ${suffix}`;
    }
  }
  return `${Math.round(bytes)} B`;
}

/** A signed change in bytes: `+1.50 MiB` / `−512 B` / `0`. */
export function formatByteDelta(bytes: number): string {
  if (bytes === 0) return "0";
  return `${bytes > 0 ? "+" : "−"}${formatBytes(Math.abs(bytes))}`;
}

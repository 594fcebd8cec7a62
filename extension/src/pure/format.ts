/** Number and shape formatting shared by hovers, inlay hints and the webview tooltip. */

/** 11689512 → "11.7M", 1817 → "1.8K", 0 → "0". */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  const units: [number, string][] = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "K"]];
  for (const [size, suffix] of units) {
    if (abs >= size) return `${trimZeros((n / size).toFixed(abs / size >= 100 ? 0 : 1))}${suffix}`;
  }
  return String(n);
}

function trimZeros(s: string): string {
  return s.includes(".") ? s.replace(/\.0$/, "") : s;
}

/** [128, 28, 28] → "[128,28,28]". */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}

/** A gradient norm, readable across many orders of magnitude. */
export function formatNorm(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return "0";
  const abs = Math.abs(x);
  return abs >= 1e4 || abs < 1e-3 ? x.toExponential(2) : x.toPrecision(3);
}

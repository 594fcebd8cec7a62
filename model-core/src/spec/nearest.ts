/** Nearest valid numbers, the values a quick fix offers (see diagnostics.ts `Suggestion`). */

/** The positive multiple of `factor` nearest to `n` (the larger on a tie); `factor` itself below it. */
export function nearestMultiple(n: number, factor: number): number {
  const below = Math.floor(n / factor) * factor;
  const above = below + factor;
  if (below < factor) return factor;
  return n - below < above - n ? below : above;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * The number nearest to `target` that divides every one of `values` (the smaller on a tie): a divisor of their
 * greatest common divisor. Trial division up to √gcd, so bounded by the channel limit's square root.
 */
export function nearestCommonDivisor(values: readonly number[], target: number): number {
  const common = values.reduce(gcd, 0);
  let best = 1;
  for (let d = 1; d * d <= common; d++) {
    if (common % d !== 0) continue;
    for (const candidate of [d, common / d])
      if (
        Math.abs(candidate - target) < Math.abs(best - target) ||
        (Math.abs(candidate - target) === Math.abs(best - target) && candidate < best)
      )
        best = candidate;
  }
  return best;
}

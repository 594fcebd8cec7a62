/**
 * Smoke mode (BENCH_SMOKE=1), as test/benchSmoke.test.ts runs every benchmark inside `npm test`: one short round each,
 * bars not enforced (one round says nothing about speed), so that a benchmark that no longer runs, or no longer prints
 * its JSON lines, fails the suite instead of the next `npm run bench`.
 */
export const SMOKE = process.env.BENCH_SMOKE === "1";

/** `n` repeats, or one in smoke mode. */
export function repeats(n: number): number {
  return SMOKE ? 1 : n;
}

// One tick formatter for every log axis: 1, 2 and 5 × 10ᵏ labelled once each, in one format per axis.
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatLogTicks } from "../src/presentation/format";

/** chart.js's log ticks between two values: every integer multiple of each power of ten. */
function chartJsTicks(min: number, max: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++)
    for (let m = 1; m <= 9; m++) {
      const v = Number((m * 10 ** e).toPrecision(12));
      if (v >= min && v <= max) out.push(v);
    }
  return out;
}

test("a log axis from 0.01 to 1 reads 0.01 0.02 0.05 0.1 0.2 0.5 1, without repeats", () => {
  const labels = formatLogTicks([...chartJsTicks(0.01, 1), 0.15]).filter(Boolean);
  assert.deepEqual(labels, ["0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1"]);
});

test("an axis that needs exponents writes every label as one: no 1e+3 beside 5", () => {
  const labels = formatLogTicks(chartJsTicks(1, 500)).filter(Boolean);
  assert.deepEqual(labels, ["1", "2", "5", "10", "20", "50", "100", "200", "500"]);
  const wide = formatLogTicks(chartJsTicks(1e-4, 1e4)).filter(Boolean);
  assert.ok(
    wide.every((l) => /^[125]e-?\d+$/.test(l)),
    wide.join(" "),
  );
  assert.equal(new Set(wide).size, wide.length, "no label twice");
  assert.deepEqual(wide.slice(0, 4), ["1e-4", "2e-4", "5e-4", "1e-3"]);
});

test("the same value twice (chart.js may repeat a bound) is labelled once; non-positive values are not labelled", () => {
  assert.deepEqual(formatLogTicks([0.1, 0.1, 0, -1, Number.NaN, 0.2]), ["0.1", "", "", "", "", "0.2"]);
});

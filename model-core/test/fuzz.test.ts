// A seeded, bounded fuzz run of the spec reader (the long run: `npm run fuzz -- --cases 10000`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { corpus, fuzzCase, MUTATOR_NAMES, runFuzz } from "./fuzz/specFuzz";
import { runTorchFuzz, torchFuzzCase } from "./fuzz/torchChildFuzz";

test("cases are deterministic and every mutator is used", () => {
  const specs = corpus();
  assert.deepEqual(fuzzCase(7, 3, specs), fuzzCase(7, 3, specs));
  const used = new Set(Array.from({ length: 200 }, (_, i) => fuzzCase(1, i, specs).mutators).flat());
  assert.deepEqual([...used].sort(), [...MUTATOR_NAMES].sort());
});

test("300 fuzzed specs: no exception, none over the budget, every error located", () => {
  const report = runFuzz(20261129, 300);
  assert.deepEqual(report.failures, []);
  assert.equal(report.crashes + report.overBudget + report.unlocated, 0);
  // The mutations are mild enough that some specs still analyze and most get an error.
  assert.ok(report.withGraph >= 3, `${report.withGraph} graphs`);
  assert.ok(report.withErrors > 100, `${report.withErrors} with errors`);
});

test("16 fuzzed fake Pythons: each answers in time, names the script, leaves no process and no temp folder", async () => {
  assert.deepEqual(torchFuzzCase(3, 5), torchFuzzCase(3, 5));
  const report = await runTorchFuzz(20261207, 16);
  assert.deepEqual(report.failures, []);
  assert.equal(report.cases, 16);
});

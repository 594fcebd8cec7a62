/**
 * `resnet-studio eval`: a run folder (run.json's spec and dataset, its checkpoint) evaluated on the embedded MNIST
 * validation split, as JSON and as a table; a weights-only file without --spec, and a truncated run.json, are one
 * clear line each.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EvaluationResult } from "../../model-core/src/analysis/evaluation";
import { loadSpec } from "../../model-core/src/load";
import { CHECKPOINT_FILE_NAME } from "../../model-core/src/runtime/checkpoint";
import { initBackend } from "../../model-core/src/runtime/backend";
import { seededWeightsFile } from "../../model-core/test/weightsHelpers";
import { runCliFromSource } from "./harness";

const SPEC = join(__dirname, "../../examples/small.resnet.ts");
let dir = "";
let runDir = "";

before(async () => {
  await initBackend("cpu");
  dir = mkdtempSync(join(tmpdir(), "rs-cli-eval-"));
  runDir = join(dir, "runs", "small", "2026-12-07T22-40-05Z");
  mkdirSync(runDir, { recursive: true });
  const graph = loadSpec(SPEC).graph!;
  writeFileSync(join(runDir, CHECKPOINT_FILE_NAME), seededWeightsFile(graph, 4));
  writeFileSync(
    join(runDir, "run.json"),
    JSON.stringify({
      version: 1,
      status: "completed",
      message: null,
      specText: readFileSync(SPEC, "utf8"),
      specFile: SPEC,
      architectureHash: "",
      dataset: { arg: "mnist", sha256: "", valFraction: 0.1 },
      backend: "wasm",
      device: "cpu",
      config: {},
      history: [],
      startedAt: "2026-12-07T22:40:05Z",
      endedAt: null,
    }),
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("eval <run dir> --json: loss, accuracy, per-class accuracy and the confusion matrix on the held-out digits", () => {
  const run = runCliFromSource(["eval", runDir, "--json", "--backend", "wasm"]);
  assert.equal(run.status, 0, run.stderr);
  const result = JSON.parse(run.stdout) as EvaluationResult;
  assert.equal(result.samples, 1000);
  assert.equal(result.dataset, "mnist");
  assert.equal(result.weights, join(runDir, CHECKPOINT_FILE_NAME));
  assert.equal(result.confusion.length, 10);
  assert.equal(
    result.confusion.flat().reduce((a, b) => a + b, 0),
    1000,
  );
  const correct = result.perClass.reduce((a, c) => a + c.correct, 0);
  assert.equal(
    correct,
    result.confusion.reduce((a, row, i) => a + row[i], 0),
  );
  assert.equal(result.accuracy, correct / 1000);
  assert.ok(Number.isFinite(result.loss) && result.loss > 0);
});

test("eval prints a table, and the same weights as a file need --spec", () => {
  const table = runCliFromSource(["eval", runDir, "--backend", "wasm"]);
  assert.equal(table.status, 0, table.stderr);
  assert.match(table.stdout, /^loss \d+\.\d{4} {3}accuracy \d+\.\d{2}%$/m);
  assert.match(table.stdout, /confusion matrix \(rows: true class, columns: predicted\):/);
  const file = join(runDir, CHECKPOINT_FILE_NAME);
  const bare = runCliFromSource(["eval", file]);
  assert.equal(bare.status, 1);
  assert.match(bare.stderr, /a weights-only state_dict has no spec; pass --spec <file\|preset>/);
  assert.doesNotMatch(bare.stderr, /\n\s+at /, "no stack trace");
  const withSpec = runCliFromSource(["eval", file, "--spec", SPEC, "--json", "--backend", "wasm"]);
  assert.equal(withSpec.status, 0, withSpec.stderr);
  assert.equal((JSON.parse(withSpec.stdout) as EvaluationResult).samples, 1000);
});

test("a truncated run.json is named with the problem, never a stack trace", () => {
  const broken = join(dir, "broken");
  mkdirSync(broken);
  writeFileSync(join(broken, "run.json"), '{"version": 1, "specText": "x", "dat');
  const run = runCliFromSource(["eval", broken]);
  assert.equal(run.status, 1);
  assert.match(run.stderr, /broken[\\/]run\.json: .*cut short or not valid JSON/);
  writeFileSync(join(broken, "run.json"), JSON.stringify({ version: 1, specText: "x" }));
  assert.match(
    runCliFromSource(["eval", broken]).stderr,
    /run\.json: field "status" must be one of running, completed/,
  );
});

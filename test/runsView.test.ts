import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { applyTrainingEvent, EMPTY_TRAINING } from "../model-core/src/protocol";
import type { RunRecord } from "../model-core/src/runs/record";
import {
  compareRunsHtml,
  runContextValue,
  runLabel,
  runsRootFor,
  trainingEventsFromRecord,
} from "../extension/src/pure/runsView";

const record = (overrides: Partial<RunRecord> = {}): RunRecord => ({
  version: 1,
  status: "cancelled",
  message: null,
  model: "Small ResNet",
  specText: "",
  specFile: null,
  architectureHash: "00",
  dataset: { arg: "mnist", sha256: "", valFraction: 0.1 },
  backend: "wasm",
  device: "wasm",
  config: { epochs: 3, batchSize: 64 },
  history: [
    { epoch: 1, trainLoss: 0.5, trainAccuracy: 0.85, valLoss: 0.3, valAccuracy: 0.9, seconds: 10, lr: 0.01 },
    { epoch: 2, trainLoss: 0.2, trainAccuracy: 0.94, valLoss: 0.15, valAccuracy: 0.95, seconds: 9 },
  ],
  steps: [],
  stepsPerEpoch: 100,
  startedAt: "2026-12-07T22:40:05.000Z",
  endedAt: "2026-12-07T22:40:30.000Z",
  heartbeatAt: null,
  pid: null,
  hostname: null,
  checkpointEpoch: 2,
  ...overrides,
});

test("runs root: the setting in a trusted file workspace, global storage otherwise", () => {
  const base = { setting: "", workspaceFolder: "/w", trusted: true, globalStorage: "/g" };
  assert.equal(runsRootFor(base), join("/w", ".resnet-studio", "runs"));
  assert.equal(runsRootFor({ ...base, setting: "out/runs" }), join("/w", "out/runs"));
  assert.equal(runsRootFor({ ...base, setting: "/data/runs" }), "/data/runs");
  assert.equal(runsRootFor({ ...base, trusted: false, setting: "/data/runs" }), join("/g", ".resnet-studio", "runs"));
  assert.equal(runsRootFor({ ...base, workspaceFolder: null }), join("/g", ".resnet-studio", "runs"));
});

test("Open restores the Training tab's curves from run.json, ending as the run ended", () => {
  const events = trainingEventsFromRecord(record(), "cancelled");
  const state = events.reduce(applyTrainingEvent, EMPTY_TRAINING);
  assert.equal(state.status, "cancelled");
  assert.equal(state.epochs, 3);
  assert.deepEqual(
    state.history.map((e) => [e.epoch, e.accuracy, e.valAccuracy]),
    [
      [0, 0.85, 0.9],
      [1, 0.94, 0.95],
    ],
  );
  const diverged = trainingEventsFromRecord(record({ status: "diverged", message: "loss became NaN" }), "diverged");
  assert.deepEqual(diverged[diverged.length - 1], { kind: "failed", message: "loss became NaN" });
  const interrupted = trainingEventsFromRecord(record({ status: "running" }), "interrupted");
  assert.match(JSON.stringify(interrupted[interrupted.length - 1]), /interrupted/);
});

test("run rows: a readable label, a context value menus can match", () => {
  assert.equal(runLabel("2026-12-07T22-40-05Z-2"), "2026-12-07 22:40:05-2");
  assert.equal(runLabel("my-run"), "my-run");
  const summary = {
    dir: "/r",
    group: "g",
    name: "n",
    state: "completed" as const,
    message: null,
    model: "m",
    bestValAccuracy: 0.9,
    epochs: 1,
    plannedEpochs: 1,
    backend: "wasm",
    device: "wasm",
    dataset: "mnist",
    seconds: 1,
    startedAt: "",
    checkpointEpoch: 1,
  };
  assert.equal(runContextValue(summary), "run.completed.checkpoint");
  assert.equal(runContextValue({ ...summary, state: "running", checkpointEpoch: null }), "run.running");
});

test("Compare Runs page: both curves by epoch and by iteration, the final numbers, no script", () => {
  const runs = [
    { label: "a", dir: "/a", state: "completed" as const, record: record({ status: "completed" }) },
    { label: "b<x>", dir: "/b", state: "cancelled" as const, record: record({ stepsPerEpoch: 50 }) },
  ];
  const html = compareRunsHtml(runs);
  assert.match(html, /default-src 'none'; style-src 'unsafe-inline'/);
  assert.doesNotMatch(html, /<script/);
  assert.equal((html.match(/<figure data-axis="(epoch|iteration)">/g) ?? []).length, 2);
  assert.equal((html.match(/<g class="run"/g) ?? []).length, 4, "two runs in each chart");
  assert.match(html, /<td>b&lt;x&gt;<\/td>/);
  assert.match(html, /<td class="n">5\.00%<\/td>/, "validation error after the last epoch");
  const noSteps = compareRunsHtml([runs[0], { ...runs[1], record: record({ stepsPerEpoch: null }) }]);
  assert.equal((noSteps.match(/<figure data-axis=/g) ?? []).length, 1, "iterations only when every run knows them");
});

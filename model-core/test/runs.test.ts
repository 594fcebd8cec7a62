import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { analyze } from "../src/analysis/analyze";
import { buildModel } from "../src/runtime/model";
import { train } from "../src/runtime/train";
import { readCheckpoint, specHash } from "../src/runtime/checkpoint";
import type { TrainEvent, TrainResult } from "../src/runtime/trainTypes";
import { syntheticDataset } from "../src/data/synthetic";
import {
  parseRunRecord,
  runFolderName,
  specStem,
  truncatedField,
  RunRecordError,
  type RunRecord,
} from "../src/runs/record";
import { RunRecorder, createRunFolder, recordRun, backendOf, HEARTBEAT_SECONDS } from "../src/runs/recorder";
import {
  listRunGroups,
  listRunsPage,
  readRunRecord,
  runState,
  STALE_HEARTBEAT_SECONDS,
  type Liveness,
  type RunsFs,
} from "../src/runs/listing";
import { compareRunsSvg, finalNumbers, finalNumbersTable } from "../src/runs/compare";
import { tinyConfig, tinySpec, useCpu } from "./trainHelpers";

const tmp = () => mkdtempSync(join(tmpdir(), "rs-runs-"));

/** A clock the test moves by hand. */
function fakeClock(start = Date.parse("2026-12-07T22:40:05.123Z")) {
  let t = start;
  return { now: () => new Date(t), advance: (seconds: number) => (t += seconds * 1000) };
}

function recorderIn(dir: string, clock = fakeClock(), previous: RunRecord | null = null): RunRecorder {
  return new RunRecorder({
    dir,
    spec: tinySpec(),
    specText: "export default resnet({});",
    specFile: "/w/tiny.resnet.ts",
    dataset: { arg: "synthetic:count=40", sha256: "ab".repeat(32), valFraction: 0.1 },
    backend: "cpu",
    device: "cpu",
    config: tinyConfig({ epochs: 3 }),
    previous,
    now: clock.now,
    pid: 4242,
    hostname: "box",
  });
}

const epochEvent = (epoch: number, accuracy: number, valAccuracy: number): TrainEvent => ({
  type: "epoch",
  epoch,
  epochs: 3,
  loss: 1 - accuracy,
  accuracy,
  valLoss: 1 - valAccuracy,
  valAccuracy,
  lr: 0.01,
  imagesPerSecond: 100,
  seconds: 2,
  trainSamples: 36,
  valSamples: 4,
});

const result = (reason: TrainResult["reason"], message?: string): TrainResult => ({
  reason,
  ...(message ? { message } : {}),
  epochsCompleted: 1,
  globalStep: 5,
  history: [],
  final: null,
  backend: "cpu",
  seconds: 1,
});

test("run folder names: UTC timestamps, one folder per run even in the same second, safe spec stems", () => {
  const root = tmp();
  try {
    const date = new Date("2026-12-07T22:40:05.999Z");
    assert.equal(runFolderName(date), "2026-12-07T22-40-05Z");
    const a = createRunFolder(root, "/w/nets/My Net.resnet.ts", date);
    const b = createRunFolder(root, "/w/nets/My Net.resnet.ts", date);
    assert.equal(a, join(root, "My_Net", "2026-12-07T22-40-05Z"));
    assert.equal(b, join(root, "My_Net", "2026-12-07T22-40-05Z-2"));
    assert.equal(specStem("resnet20"), "resnet20");
    assert.equal(specStem("../.."), "untitled");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("the recorder writes run.json at start, per epoch and checkpoint, on a heartbeat, and at the end", () => {
  const dir = join(tmp(), "run");
  const clock = fakeClock();
  try {
    const recorder = recorderIn(dir, clock);
    let record = parseRunRecord(readFileSync(join(dir, "run.json"), "utf8"), "run.json");
    assert.equal(record.status, "running");
    assert.equal(record.architectureHash, specHash(tinySpec()));
    assert.equal(record.pid, 4242);
    assert.equal(record.startedAt, "2026-12-07T22:40:05.123Z");
    const step = (globalStep: number): TrainEvent => ({
      type: "step",
      epoch: 0,
      step: globalStep,
      stepsPerEpoch: 5,
      globalStep,
      loss: 2 - globalStep / 10,
      accuracy: 0.5,
      lr: 0.01,
      imagesPerSecond: 100,
      epochSeconds: 1,
    });
    recorder.onEvent(step(0));
    clock.advance(HEARTBEAT_SECONDS - 1);
    recorder.onEvent(step(1));
    record = readRunRecord(dir)!;
    assert.equal(record.steps.length, 0, "no write before the heartbeat is due");
    clock.advance(2);
    recorder.onEvent(step(2));
    record = readRunRecord(dir)!;
    assert.deepEqual(
      record.steps.map((s) => s.step),
      [1, 2, 3],
    );
    assert.equal(record.heartbeatAt, clock.now().toISOString());
    recorder.onEvent(epochEvent(0, 0.6, 0.55));
    recorder.onEvent({ type: "checkpoint", path: join(dir, "checkpoint.safetensors"), epoch: 1 });
    record = readRunRecord(dir)!;
    assert.deepEqual(record.history[0], {
      epoch: 1,
      trainLoss: 0.4,
      trainAccuracy: 0.6,
      valLoss: 0.44999999999999996,
      valAccuracy: 0.55,
      seconds: 2,
      lr: 0.01,
      imagesPerSecond: 100,
    });
    assert.equal(record.checkpointEpoch, 1);
    assert.equal(record.stepsPerEpoch, 5);
    clock.advance(10);
    recorder.finish(result("aborted"));
    record = readRunRecord(dir)!;
    assert.equal(record.status, "cancelled");
    assert.equal(record.endedAt, clock.now().toISOString());
    // Once ended, later events change nothing.
    recorder.onEvent(epochEvent(1, 0.7, 0.6));
    assert.equal(readRunRecord(dir)!.history.length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("diverged and failed runs keep their message; a resumed run keeps the epochs its checkpoint holds", async () => {
  const root = tmp();
  try {
    const diverged = recorderIn(join(root, "d"));
    diverged.onEvent({ type: "done", ...result("diverged", "loss became NaN at step 12; try a lower --lr") });
    const d = readRunRecord(join(root, "d"))!;
    assert.equal(d.status, "diverged");
    assert.equal(d.message, "loss became NaN at step 12; try a lower --lr");

    const failing = recorderIn(join(root, "f"));
    await assert.rejects(
      recordRun(failing, () => Promise.reject(new Error("torch backend: the PyTorch process exited (signal SIGKILL)"))),
      /SIGKILL/,
    );
    const f = readRunRecord(join(root, "f"))!;
    assert.equal(f.status, "failed");
    assert.match(f.message ?? "", /PyTorch process exited/);

    const first = recorderIn(join(root, "r"));
    first.onEvent(epochEvent(0, 0.6, 0.55));
    first.onEvent(epochEvent(1, 0.7, 0.6));
    // Killed after epoch 2's record but before its checkpoint: resuming from epoch 1 drops epoch 2's row.
    const previous = readRunRecord(join(root, "r"))!;
    const resumed = recorderIn(join(root, "r"), fakeClock(), previous);
    resumed.onEvent({
      type: "start",
      backend: "cpu",
      model: "tiny",
      dataset: "synthetic",
      trainSamples: 36,
      valSamples: 4,
      config: tinyConfig({ epochs: 3 }),
      startEpoch: 1,
      params: 100,
    });
    resumed.onEvent(epochEvent(1, 0.75, 0.65));
    const r = readRunRecord(join(root, "r"))!;
    assert.deepEqual(
      r.history.map((e) => [e.epoch, e.trainAccuracy]),
      [
        [1, 0.6],
        [2, 0.75],
      ],
    );
    assert.equal(r.startedAt, previous.startedAt);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("torch's backend line gives the contract's backend and device", () => {
  assert.deepEqual(backendOf("torch 1.13.1 (cuda, 8 threads), Python 3.10 at /usr/bin/python3", "auto"), {
    backend: "torch",
    device: "cuda",
    backendDetail: "torch 1.13.1 (cuda, 8 threads), Python 3.10 at /usr/bin/python3",
  });
  assert.deepEqual(backendOf("wasm", "wasm"), { backend: "wasm", device: "wasm" });
});

test("a truncated or invalid run.json is refused naming the file and the field", () => {
  const dir = join(tmp(), "run");
  try {
    recorderIn(dir).onEvent(epochEvent(0, 0.6, 0.55));
    const file = join(dir, "run.json");
    const text = readFileSync(file, "utf8");
    const cut = text.slice(0, text.indexOf('"history"') + 40);
    assert.equal(truncatedField(cut), "history");
    assert.throws(
      () => parseRunRecord(cut, file),
      (err: unknown) =>
        err instanceof RunRecordError &&
        err.message.startsWith(`${file}: field "history" is cut short or not valid JSON`) &&
        err.field === "history",
    );
    assert.throws(
      () => parseRunRecord("", file),
      (err: unknown) => err instanceof RunRecordError && err.message === `${file}: is empty`,
    );
    const bad = JSON.parse(text) as { history: { trainLoss: unknown }[]; status: string };
    bad.history[0].trainLoss = "low";
    assert.throws(() => parseRunRecord(JSON.stringify(bad), file), /field "history\[0\]\.trainLoss" must be a number/);
    bad.status = "paused";
    assert.throws(() => parseRunRecord(JSON.stringify(bad), file), /field "status" must be one of running, completed/);
    assert.throws(() => parseRunRecord("[1]", file), /must hold a JSON object/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a running record whose writer is gone reads as interrupted", () => {
  const dir = join(tmp(), "run");
  const clock = fakeClock();
  try {
    recorderIn(dir, clock);
    const record = readRunRecord(dir)!;
    const here = (alive: boolean, now = clock.now()): Liveness => ({ now, hostname: "box", isAlive: () => alive });
    assert.equal(runState(record, here(true)), "running");
    assert.equal(runState(record, here(false)), "interrupted", "a dead pid on the same machine");
    const elsewhere = (seconds: number): Liveness => ({
      now: new Date(clock.now().getTime() + seconds * 1000),
      hostname: "other",
      isAlive: () => true,
    });
    assert.equal(runState(record, elsewhere(STALE_HEARTBEAT_SECONDS - 1)), "running");
    assert.equal(runState(record, elsewhere(STALE_HEARTBEAT_SECONDS + 1)), "interrupted", "a stale heartbeat");
    assert.equal(runState({ ...record, status: "completed" }, here(false)), "completed");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("10,000 runs in a spec group: groups list in one folder read, a page reads only its own run.json files", () => {
  const root = tmp();
  try {
    const template = (() => {
      const dir = join(root, "template");
      recorderIn(dir).onEvent(epochEvent(0, 0.6, 0.55));
      return readFileSync(join(dir, "run.json"), "utf8");
    })();
    // The folders as a file system would list them (in no particular order); reads and listings are counted.
    const N = 10_000;
    const runNames = Array.from(
      { length: N },
      (_, i) => `2026-01-01T00-00-00Z-${String((i * 7919) % N).padStart(5, "0")}`,
    );
    let folderCalls = 0;
    let recordReads = 0;
    const counting: RunsFs = {
      folders: (dir) => {
        folderCalls++;
        if (dir === "/runs") return ["small", "other"];
        return dir === join("/runs", "small") ? runNames : [];
      },
      readRecord: (file) => {
        recordReads++;
        return file.startsWith(join("/runs", "small")) ? template : null;
      },
    };
    const live: Liveness = { now: new Date(), hostname: "box", isAlive: () => false };
    assert.deepEqual(listRunGroups("/runs", counting), ["other", "small"]);
    assert.equal(folderCalls, 1);
    assert.equal(recordReads, 0, "listing groups reads no run.json");
    const page = listRunsPage("/runs", "small", live, { limit: 50 }, counting);
    assert.equal(page.total, N);
    assert.equal(page.entries.length, 50);
    assert.equal(page.next, 50);
    assert.equal(page.entries[0].name, "2026-01-01T00-00-00Z-09999", "newest first");
    assert.equal(page.entries[49].name, "2026-01-01T00-00-00Z-09950");
    assert.equal(recordReads, 50, "one read per run shown");
    assert.equal(folderCalls, 2);
    const last = listRunsPage("/runs", "small", live, { offset: N - 20, limit: 50 }, counting);
    assert.equal(last.entries.length, 20);
    assert.equal(last.next, null);
    assert.equal(recordReads, 70);
    const entry = page.entries[0];
    assert.equal(entry.kind, "run");
    if (entry.kind === "run") {
      assert.equal(entry.state, "interrupted");
      assert.equal(entry.bestValAccuracy, 0.55);
      assert.equal(entry.epochs, 1);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a broken run.json is listed as such beside good runs; a folder without run.json is not a run", () => {
  const root = tmp();
  try {
    recorderIn(join(root, "small", "2026-01-01T00-00-00Z")).onEvent(epochEvent(0, 0.6, 0.55));
    const broken = join(root, "small", "2026-01-02T00-00-00Z");
    mkdirSync(broken);
    writeFileSync(join(broken, "run.json"), '{"version": 1, "status": "completed", "history": [{"epoch": 1, "trai');
    mkdirSync(join(root, "small", "2026-01-03T00-00-00Z"));
    const live: Liveness = { now: new Date(), hostname: "box", isAlive: () => true };
    const page = listRunsPage(root, "small", live);
    assert.deepEqual(
      page.entries.map((e) => [e.name, e.kind]),
      [
        ["2026-01-02T00-00-00Z", "broken"],
        ["2026-01-01T00-00-00Z", "run"],
      ],
    );
    const bad = page.entries[0];
    assert.ok(
      bad.kind === "broken" && bad.error.startsWith(`${join(broken, "run.json")}: field "history"`),
      bad.kind === "broken" ? bad.error : "",
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("compare: final numbers and overlaid curves, dashed training and bold validation error per run", () => {
  const root = tmp();
  try {
    const a = recorderIn(join(root, "a"));
    a.onEvent(epochEvent(0, 0.6, 0.55));
    a.onEvent(epochEvent(1, 0.8, 0.7));
    a.finish(result("completed"));
    const b = recorderIn(join(root, "b"));
    b.onEvent(epochEvent(0, 0.5, 0.45));
    const live: Liveness = { now: new Date(), hostname: "box", isAlive: () => false };
    const runs = ["a", "b"].map((name) => {
      const record = readRunRecord(join(root, name))!;
      return { label: name, dir: join(root, name), state: runState(record, live), record };
    });
    const rows = runs.map(finalNumbers);
    assert.equal(rows[0].epochs, 2);
    assert.ok(Math.abs(rows[0].finalValError! - 0.3) < 1e-12);
    assert.equal(rows[0].bestValAccuracy, 0.7);
    assert.equal(rows[1].state, "interrupted");
    const table = finalNumbersTable(rows);
    assert.match(table, /^run\s+model\s+status\s+epochs\s+train error\s+val error\s+best val acc\s+time$/m);
    assert.match(table, /^a\s+tiny\s+completed\s+2\s+20\.00%\s+30\.00%\s+70\.00%/m);
    const svg = compareRunsSvg(runs);
    assert.equal((svg.match(/<g class="run"/g) ?? []).length, 2);
    assert.equal((svg.match(/<path class="train" [^>]*stroke-dasharray="5 3"/g) ?? []).length, 2);
    assert.equal((svg.match(/<path class="val" [^>]*stroke-width="2.8"/g) ?? []).length, 2);
    // Epoch axis: run a's validation curve goes from epoch 1 to epoch 2 (the full width).
    assert.match(svg, /<path class="val" d="M\d+\.\d,\d+\.\d L740\.0,/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a real run recorded around train(): cancel keeps the last complete epoch, and its checkpoint loads", async () => {
  await useCpu();
  const root = tmp();
  try {
    const { graph } = analyze(tinySpec());
    const model = buildModel(graph!, { seed: 1 });
    const data = { train: syntheticDataset({ count: 48, shape: [1, 8, 8], classes: 3, seed: 1 }), val: null };
    const config = tinyConfig({ epochs: 5, batchSize: 8 });
    const recorder = new RunRecorder({
      dir: join(root, "run"),
      spec: graph!.spec,
      specText: "tiny",
      specFile: null,
      dataset: { arg: "synthetic", sha256: "", valFraction: config.valFraction },
      backend: "cpu",
      device: "cpu",
      config,
    });
    const controller = new AbortController();
    const res = await recordRun(
      recorder,
      (hooks) =>
        train({ model, data, config, signal: controller.signal, checkpoint: hooks.checkpoint, onEvent: hooks.onEvent }),
      (event) => {
        // Cancel during the second epoch.
        if (event.type === "step" && event.epoch === 1) controller.abort();
      },
    );
    model.dispose();
    assert.equal(res.reason, "aborted");
    const record = readRunRecord(join(root, "run"))!;
    assert.equal(record.status, "cancelled");
    assert.equal(record.history.length, 1);
    assert.equal(record.checkpointEpoch, 1);
    const checkpoint = readCheckpoint(join(root, "run"));
    assert.equal(checkpoint.header.epoch, 1);
    assert.equal(checkpoint.header.specHash, record.architectureHash);
    assert.ok(existsSync(join(root, "run", "checkpoint.safetensors")));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

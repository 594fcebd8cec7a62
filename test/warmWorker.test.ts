/**
 * The warm gradient-flow worker: repeated requests reuse the worker and its models (same numbers), cancel stops a
 * pass and the next request still answers (from a fresh worker); an error answer, a crash or an exit fails only the
 * request in flight, once.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { analyzeSpecText, plainTwin } from "../extension/src/pure/specDocument";
import { CancelledError, WarmGradientPair, WarmGradientWorker, type GradientJob } from "../extension/src/warmWorker";

const WORKER = join(__dirname, "..", "extension", "src", "trainWorker.ts");
const TINY = `import { resnet, stage } from "resnet-studio";
export default resnet({
  name: "tiny", input: [3, 16, 16], stem: "cifar", block: "basic",
  stages: [stage({ channels: 4, blocks: 2 }), stage({ channels: 8, blocks: 1, stride: 2 })],
  shortcut: "B", classes: 10,
});
`;

let spawned = 0;
function spawn(): Worker {
  spawned++;
  return new Worker(`require("tsx/cjs"); require(${JSON.stringify(WORKER)});`, {
    eval: true,
    env: { ...process.env, RESNET_STUDIO_BACKEND: "cpu" },
  });
}

test(
  "warm worker: one worker for repeated requests, identical results; cancel, then a fresh worker answers",
  { timeout: 180_000 },
  async () => {
    const { spec, graph } = analyzeSpecText(TINY, "tiny.resnet.ts");
    assert.ok(spec && graph);
    const job: GradientJob = {
      kind: "gradientFlow",
      graph,
      plain: plainTwin(spec),
      backend: "cpu",
      batch: 2,
      seed: 1,
      wasmDir: "",
    };
    const warm = new WarmGradientWorker(spawn);
    try {
      warm.warmUp("cpu", "");
      const first = await warm.run(job);
      const second = await warm.run(job);
      assert.equal(spawned, 1, "the second request reuses the worker");
      const strip = (r: typeof first.residual) => ({ ...r, millis: 0 });
      assert.deepEqual(strip(second.residual), strip(first.residual), "a reused model gives the same gradients");
      assert.ok(first.plain && second.plain);
      assert.equal(first.residual.adds.length, 3);

      // Cancelled before it started: dropped, the worker stays.
      const queued = warm.run(job);
      assert.equal(warm.cancel(), true);
      await assert.rejects(queued, CancelledError);
      assert.equal(spawned, 1);
      // Cancelled while running: the worker is terminated.
      const running = warm.run(job);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(warm.busy, true);
      assert.equal(warm.cancel(), true);
      await assert.rejects(running, CancelledError);
      assert.equal(warm.cancel(), false, "nothing left to cancel");
      const after = await warm.run(job);
      assert.equal(spawned, 2, "a cancelled worker is replaced");
      assert.deepEqual(strip(after.residual), strip(first.residual));
    } finally {
      warm.dispose();
    }
  },
);

test(
  "warm pair: the network and its twin on two workers give the same pair as one worker",
  { timeout: 180_000 },
  async () => {
    const { spec, graph } = analyzeSpecText(TINY, "tiny.resnet.ts");
    assert.ok(spec && graph);
    const job: GradientJob = {
      kind: "gradientFlow",
      graph,
      plain: plainTwin(spec),
      backend: "cpu",
      batch: 2,
      seed: 1,
      wasmDir: "",
    };
    const one = new WarmGradientWorker(spawn);
    const pair = new WarmGradientPair(spawn);
    try {
      const a = await one.run(job);
      const b = await pair.run(job);
      assert.ok(a.plain && b.plain);
      assert.deepEqual({ ...b.residual, millis: 0 }, { ...a.residual, millis: 0 });
      assert.deepEqual({ ...b.plain, millis: 0 }, { ...a.plain, millis: 0 });
      const running = pair.run(job);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(pair.cancel(), true);
      await assert.rejects(running, CancelledError);
    } finally {
      one.dispose();
      pair.dispose();
    }
  },
);

/** A stand-in worker: runs `body` (plain JavaScript) in a thread, with `port` bound to parentPort. */
function fakeWorker(body: string): Worker {
  spawned++;
  return new Worker(`const port = require("node:worker_threads").parentPort; ${body}`, { eval: true });
}

test("warm worker: an error answer rejects with its message and the worker stays", async () => {
  const { graph } = analyzeSpecText(TINY, "tiny.resnet.ts");
  assert.ok(graph);
  const job: GradientJob = { kind: "gradientFlow", graph, plain: null, backend: "cpu", batch: 2, seed: 1, wasmDir: "" };
  const before = spawned;
  const alive = setInterval(() => undefined, 1000); // the warm worker is unref'd
  const warm = new WarmGradientWorker(() =>
    fakeWorker(`port.on("message", (m) => {
      if (m.type === "request")
        port.postMessage({ type: "response", id: m.id, ok: false, kind: m.body.kind, error: "batch 2 does not fit" });
    });`),
  );
  try {
    await assert.rejects(warm.run(job), /^RpcError: batch 2 does not fit$/);
    await assert.rejects(warm.run(job), /batch 2 does not fit/);
    assert.equal(spawned - before, 1, "an error answer keeps the worker");
    assert.equal(warm.busy, false);
  } finally {
    clearInterval(alive);
    warm.dispose();
  }
});

test("warm worker: a crash or an exit fails the request in flight; the next request starts a fresh worker", async () => {
  const { graph } = analyzeSpecText(TINY, "tiny.resnet.ts");
  assert.ok(graph);
  const job: GradientJob = { kind: "gradientFlow", graph, plain: null, backend: "cpu", batch: 2, seed: 1, wasmDir: "" };
  const before = spawned;
  let starts = 0;
  // The warm worker is unref'd (it must not hold the extension host open): keep this test's event loop alive.
  const alive = setInterval(() => undefined, 1000);
  const warm = new WarmGradientWorker(() =>
    ++starts === 1
      ? fakeWorker(`port.on("message", (m) => { if (m.type === "request") throw new Error("wasm abort"); });`)
      : fakeWorker(`port.on("message", (m) => { if (m.type === "request") process.exit(7); });`),
  );
  try {
    warm.warmUp("cpu", ""); // a notification: no answer expected, nothing fails
    await assert.rejects(warm.run(job), /^RpcError: gradient-flow worker crashed: wasm abort$/);
    await assert.rejects(warm.run(job), /^RpcError: gradient-flow worker exited unexpectedly \(code 7\)$/);
    assert.equal(spawned - before, 2);
    assert.equal(warm.busy, false);
    assert.equal(warm.cancel(), false);
  } finally {
    clearInterval(alive);
    warm.dispose();
  }
});

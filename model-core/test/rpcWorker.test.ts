import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { RpcError } from "../src/rpc";
import { WorkerClient } from "../src/rpcWorker";

type Body = { kind: "add"; a: number; b: number } | { kind: "fail"; why: string } | { kind: "wait"; ms: number };
interface Results {
  add: { sum: number; notes: string[] };
  fail: never;
  wait: { waited: number };
}
type Note = { type: "note"; text: string } | { type: "crash" } | { type: "exit"; code: number };
type Push = { type: "progress"; step: number };

const RPC_WORKER = join(__dirname, "../src/rpcWorker.ts");

/**
 * A worker serving `Body` through serveRequests (from source via tsx): "add" answers with the notes taken so far, after
 * pushing two progress messages; "wait" answers after `ms`; notes are recorded (slowly), or crash or exit the worker.
 */
function spawnServer(inOrder: boolean): () => Worker {
  return () =>
    new Worker(
      `require("tsx/cjs");
      const { parentPort } = require("node:worker_threads");
      const { serveRequests } = require(${JSON.stringify(RPC_WORKER)});
      const notes = [];
      serveRequests(parentPort, {
        add: ({ a, b }) => {
          parentPort.postMessage({ type: "progress", step: 1 });
          parentPort.postMessage({ type: "progress", step: 2 });
          return { sum: a + b, notes: [...notes] };
        },
        fail: async ({ why }) => { throw new Error(why); },
        wait: ({ ms }) => new Promise((resolve) => setTimeout(() => resolve({ waited: ms }), ms)),
      }, {
        inOrder: ${inOrder},
        onNote: async (note) => {
          if (note.type === "crash") setImmediate(() => { throw new Error("worker broke"); });
          if (note.type === "exit") process.exit(note.code);
          await new Promise((resolve) => setTimeout(resolve, 20));
          notes.push(note.text);
        },
      });`,
      { eval: true },
    );
}

function client(inOrder = true) {
  let spawned = 0;
  const pushes: Push[] = [];
  const lost: string[] = [];
  const spawn = spawnServer(inOrder);
  const rpc = new WorkerClient<Body, Results, Push, Note>({
    name: "test worker",
    spawn: () => {
      spawned++;
      return spawn();
    },
    onPush: (push) => pushes.push(push),
    onLost: (message) => lost.push(message),
  });
  return { rpc, pushes, lost, spawned: () => spawned };
}

test("worker rpc: results by kind, pushes before their response, notifications in order with requests", async () => {
  const { rpc, pushes, spawned } = client();
  try {
    assert.equal(rpc.running, false, "started on first use");
    rpc.notify({ type: "note", text: "first" });
    const [x, y] = await Promise.all([
      rpc.request({ kind: "add", a: 1, b: 2 }),
      rpc.request({ kind: "add", a: 3, b: 4 }),
    ]);
    assert.deepEqual(x, { sum: 3, notes: ["first"] }, "the slow notification was taken before the request after it");
    assert.equal(y.sum, 7);
    assert.deepEqual(
      pushes.map((p) => p.step),
      [1, 2, 1, 2],
    );
    await assert.rejects(rpc.request({ kind: "fail", why: "no graph" }), (err: unknown) => {
      assert.ok(err instanceof RpcError && err.reason === "failed" && err.kind === "fail");
      assert.equal(err.message, "no graph");
      return true;
    });
    // A kind the server has no handler for is answered, not left hanging.
    const unknown = { kind: "divide" } as unknown as Extract<Body, { kind: "add" }>;
    await assert.rejects(rpc.request(unknown), /unknown request kind "divide"/);
    assert.equal(spawned(), 1);
    assert.equal(rpc.inFlight, 0);
  } finally {
    await rpc.stop("done");
  }
});

test("worker rpc: without inOrder, a request does not wait for the one before it", async () => {
  const { rpc } = client(false);
  try {
    const order: string[] = [];
    await Promise.all([
      rpc.request({ kind: "wait", ms: 300 }).then(() => order.push("slow")),
      rpc.request({ kind: "add", a: 1, b: 1 }).then(() => order.push("fast")),
    ]);
    assert.deepEqual(order, ["fast", "slow"]);
  } finally {
    await rpc.stop("done");
  }
});

test("worker rpc: a timeout replaces the worker and fails the others in flight; the next request gets a fresh one", async () => {
  const { rpc, lost, spawned } = client(false);
  try {
    const other = rpc.request({ kind: "wait", ms: 5_000 });
    await assert.rejects(rpc.request({ kind: "wait", ms: 5_000 }, { timeoutMs: 50 }), (err: unknown) => {
      assert.ok(err instanceof RpcError && err.reason === "timeout");
      assert.equal(err.message, "wait timed out after 50 ms");
      return true;
    });
    await assert.rejects(other, /^RpcError: test worker restarted after a timeout$/);
    assert.equal(rpc.running, false);
    assert.deepEqual(lost, [], "a replaced worker is not reported lost");
    assert.equal((await rpc.request({ kind: "add", a: 2, b: 2 })).sum, 4);
    assert.equal(spawned(), 2);
  } finally {
    await rpc.stop("done");
  }
});

test("worker rpc: a crash or an exit fails everything in flight once, and is reported once", async () => {
  const { rpc, lost, spawned } = client(false);
  try {
    const pending = [rpc.request({ kind: "wait", ms: 5_000 }), rpc.request({ kind: "wait", ms: 5_000 })];
    rpc.notify({ type: "crash" });
    const outcomes = await Promise.allSettled(pending);
    for (const outcome of outcomes) {
      assert.equal(outcome.status, "rejected");
      const err = outcome.reason as unknown;
      assert.ok(err instanceof RpcError && err.reason === "closed");
      assert.equal(err.message, "test worker crashed: worker broke");
    }
    // The "exit" that follows the crash is not a second loss.
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(lost, ["test worker crashed: worker broke"]);

    const waiting = rpc.request({ kind: "wait", ms: 5_000 });
    rpc.notify({ type: "exit", code: 4 });
    await assert.rejects(waiting, /^RpcError: test worker exited unexpectedly \(code 4\)$/);
    assert.deepEqual(lost, ["test worker crashed: worker broke", "test worker exited unexpectedly (code 4)"]);
    assert.equal((await rpc.request({ kind: "add", a: 1, b: 2 })).sum, 3);
    assert.equal(spawned(), 3);
  } finally {
    await rpc.stop("done");
  }
});

test("worker rpc: stop fails what is in flight with its reason; a message that cannot be cloned fails at once", async () => {
  const { rpc, lost } = client(false);
  const waiting = assert.rejects(rpc.request({ kind: "wait", ms: 5_000 }), /^RpcError: the panel closed$/);
  await rpc.stop("the panel closed");
  await waiting;
  assert.deepEqual(lost, []);
  assert.equal(rpc.running, false);
  const uncloneable = { kind: "add", a: 1, b: () => 2 } as unknown as Extract<Body, { kind: "add" }>;
  await assert.rejects(rpc.request(uncloneable), /^RpcError: could not send add: .*could not be cloned/);
  assert.equal(rpc.inFlight, 0);
  await rpc.stop("done");
});

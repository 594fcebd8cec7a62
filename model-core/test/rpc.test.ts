import { test } from "node:test";
import assert from "node:assert/strict";
import {
  MessageHandler,
  RpcClient,
  RpcError,
  isResponseMessage,
  type RequestMessage,
  type ResponseMessage,
} from "../src/rpc";

type Body = { kind: "add"; a: number; b: number } | { kind: "fail"; why: string } | { kind: "never" };
interface Results {
  add: { sum: number };
  fail: never;
  never: null;
}

/** A client and a handler joined by queued "posts", the way two threads see each other's messages. */
function pair(onTimeout?: (kind: Body["kind"]) => void) {
  const sent: RequestMessage<Body>[] = [];
  const answered: ResponseMessage<Body, Results>[] = [];
  const handler = new MessageHandler<Body, Results>(
    {
      add: ({ a, b }) => ({ sum: a + b }),
      fail: ({ why }) => Promise.reject(new Error(why)),
      never: () => new Promise<null>(() => undefined),
    },
    (response) => {
      answered.push(response);
      queueMicrotask(() => client.accept(response));
    },
  );
  // Declared after the handler, whose reply callback only runs once a request is on its way.
  const client = new RpcClient<Body, Results>((request) => {
    sent.push(request);
    queueMicrotask(() => void handler.handle(request));
  }, onTimeout);
  return { client, handler, sent, answered };
}

test("rpc: a request resolves with its kind's result; ids pair concurrent requests with their responses", async () => {
  const { client, sent } = pair();
  const [x, y] = await Promise.all([
    client.request({ kind: "add", a: 1, b: 2 }),
    client.request({ kind: "add", a: 10, b: 5 }),
  ]);
  assert.deepEqual([x.sum, y.sum], [3, 15]);
  assert.deepEqual(
    sent.map((m) => m.id),
    [1, 2],
  );
  assert.equal(client.inFlight, 0);
});

test("rpc: a handler's error comes back as a rejected RpcError naming the kind", async () => {
  const { client, answered } = pair();
  await assert.rejects(client.request({ kind: "fail", why: "no diagram" }), (err: unknown) => {
    assert.ok(err instanceof RpcError);
    assert.equal(err.message, "no diagram");
    assert.equal(err.kind, "fail");
    assert.equal(err.reason, "failed");
    return true;
  });
  assert.deepEqual(answered, [{ type: "response", id: 1, ok: false, kind: "fail", error: "no diagram" }]);
});

test("rpc: a timeout rejects, calls onTimeout once, and a late answer is ignored", async () => {
  const timedOut: string[] = [];
  const { client } = pair((kind) => timedOut.push(kind));
  await assert.rejects(client.request({ kind: "never" }, { timeoutMs: 5 }), /never timed out after 5 ms/);
  assert.deepEqual(timedOut, ["never"]);
  assert.equal(client.accept({ type: "response", id: 1, ok: true, kind: "never", body: null }), false);
});

test("rpc: failAll rejects everything in flight; a failed post rejects at once", async () => {
  const { client } = pair();
  const a = client.request({ kind: "never" });
  const b = client.request({ kind: "never" });
  client.failAll("worker crashed");
  for (const p of [a, b]) await assert.rejects(p, (err: unknown) => err instanceof RpcError && err.reason === "closed");
  const broken = new RpcClient<Body, Results>(() => {
    throw new Error("channel is gone");
  });
  await assert.rejects(broken.request({ kind: "add", a: 1, b: 1 }), /could not send add: channel is gone/);
  assert.equal(broken.inFlight, 0);
});

test("rpc: accept takes only responses it is waiting for; pushes and junk pass through", () => {
  const { client } = pair();
  assert.equal(client.accept({ type: "layout", laid: {} }), false);
  assert.equal(client.accept(null), false);
  assert.equal(client.accept({ type: "response", id: 99, ok: true, kind: "add", body: { sum: 0 } }), false);
  assert.equal(isResponseMessage({ type: "response", id: 1, ok: false, kind: "invalid", error: "x" }), true);
  assert.equal(isResponseMessage({ type: "response", id: "1", ok: true }), false);
});

test("rpc: reject answers an unreadable request with ok: false", () => {
  const posted: unknown[] = [];
  const handler = new MessageHandler<Body, Results>(
    { add: ({ a, b }) => ({ sum: a + b }), fail: () => Promise.reject(new Error("x")), never: () => null },
    (r) => posted.push(r),
  );
  handler.reject(7, "invalid", "body.kind must be one of …");
  assert.deepEqual(posted, [
    { type: "response", id: 7, ok: false, kind: "invalid", error: "body.kind must be one of …" },
  ]);
});

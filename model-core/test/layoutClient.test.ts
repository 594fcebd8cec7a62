import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildSync } from "esbuild";
import { analyzeOrThrow } from "../src/analysis/analyze";
import { presets } from "../src/spec/presets";
import type { ModelGraph } from "../src/analysis/graph";
import { initialExpansion, layoutView } from "../src/render/index";
import { createLayoutClient, LayoutError } from "../src/render/layoutClient";

// Bundle the worker entry the way scripts/build.mjs does, into a scratch directory.
const dir = mkdtempSync(join(tmpdir(), "rs-layout-worker-"));
const workerPath = join(dir, "layoutWorker.cjs");
buildSync({
  entryPoints: [join(__dirname, "../src/render/layoutWorker.ts")],
  outfile: workerPath,
  bundle: true,
  platform: "node",
  format: "cjs",
  logLevel: "error",
});
after(() => rmSync(dir, { recursive: true, force: true }));

const r18 = analyzeOrThrow(presets.resnet18());

test("the worker lays out exactly what layoutView does in-process", async () => {
  const client = createLayoutClient(workerPath);
  try {
    const expansion = initialExpansion(r18, "all");
    const [remote, local] = await Promise.all([client.layout(r18, expansion), layoutView(r18, expansion)]);
    assert.deepEqual({ ...remote, layoutMillis: 0 }, { ...local, layoutMillis: 0 });
    // Requests are answered in order and independently.
    const [a, b] = await Promise.all([
      client.layout(r18, { expanded: [] }),
      client.layout(r18, initialExpansion(r18, "blocks")),
    ]);
    assert.equal(a.nodes.length, 7);
    assert.equal(b.nodes.length, 15);
  } finally {
    client.dispose();
  }
});

test("a failing layout rejects with a clear message and the worker keeps serving", async () => {
  const client = createLayoutClient(workerPath);
  try {
    const broken = {
      ...r18,
      nodes: r18.nodes.map((n) => (n.id === "layer1.0.add" ? { ...n, inputs: null } : n)),
    } as unknown as ModelGraph;
    await assert.rejects(client.layout(broken, { expanded: ["layer1", "layer1.0"] }), /diagram layout failed: /);
    await assert.rejects(
      client.layout({} as ModelGraph, { expanded: [] }),
      /diagram layout failed: malformed layout request/,
    );
    const ok = await client.layout(r18, { expanded: [] });
    assert.equal(ok.nodes.length, 7);
  } finally {
    client.dispose();
  }
});

test("a layout over the time limit rejects, and the restarted worker answers the next one", async () => {
  const client = createLayoutClient(workerPath, { timeoutMs: 20_000 });
  try {
    const r152 = analyzeOrThrow(presets.resnet152());
    await assert.rejects(
      client.layout(r152, initialExpansion(r152, "all"), { timeoutMs: 1 }),
      /timed out after 1 ms \(\d+ nodes\)/,
    );
    const ok = await client.layout(r18, { expanded: [] });
    assert.equal(ok.nodes.length, 7);
  } finally {
    client.dispose();
  }
  await assert.rejects(client.layout(r18, { expanded: [] }), /disposed/);
});

test("a worker that cannot start rejects instead of hanging", async () => {
  const client = createLayoutClient(join(dir, "missing-worker.cjs"), { timeoutMs: 20_000 });
  try {
    await assert.rejects(client.layout(r18, { expanded: [] }), /layout worker (crashed|exited)/);
  } finally {
    client.dispose();
  }
});

test("a timeout fails the other layouts in flight with the restart; a graph that cannot be sent fails at once", async () => {
  const client = createLayoutClient(workerPath, { timeoutMs: 20_000 });
  try {
    const r152 = analyzeOrThrow(presets.resnet152());
    const queued = client.layout(r152, initialExpansion(r152, "all"));
    const late = client.layout(r152, initialExpansion(r152, "all"), { timeoutMs: 1 });
    await assert.rejects(
      late,
      (err: unknown) => err instanceof LayoutError && /timed out after 1 ms/.test(err.message),
    );
    await assert.rejects(queued, (err: unknown) => {
      assert.ok(err instanceof LayoutError);
      assert.equal(err.message, "diagram layout worker restarted after a timeout");
      return true;
    });
    const uncloneable = { ...r18, describe: () => "not data" } as unknown as ModelGraph;
    await assert.rejects(client.layout(uncloneable, { expanded: [] }), (err: unknown) => {
      assert.ok(err instanceof LayoutError);
      assert.match(err.message, /^could not send layout: .*could not be cloned/);
      return true;
    });
    assert.equal((await client.layout(r18, { expanded: [] })).nodes.length, 7);
  } finally {
    client.dispose();
  }
});

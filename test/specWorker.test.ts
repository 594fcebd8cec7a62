// The spec worker the extension host analyzes specs on: answers in order, and a runaway analysis is replaced by a
// diagnostic instead of blocking (the host's thread never runs the parser).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SpecAnalysisClient, type WorkerEntry } from "../extension/src/specAnalysisClient";

const root = join(__dirname, "..");
// The worker from source: tsx's require hook first, as model-core's replica workers do in tests.
const entry: WorkerEntry = {
  filename: `require(${JSON.stringify(require.resolve("tsx/cjs"))}); require(${JSON.stringify(join(root, "extension/src/specWorker.ts"))});`,
  eval: true,
};
const normal = readFileSync(join(root, "examples/cifar-resnet20.resnet.ts"), "utf8");
const hostile = readFileSync(join(root, "test/fixtures/hostile/doubling-objects.resnet.ts"), "utf8");

test(
  "hostile and normal specs analyzed on the worker, each answered with its own result",
  { timeout: 120_000 },
  async () => {
    const client = new SpecAnalysisClient(entry, { timeoutMs: 60_000 });
    try {
      const [bad, good] = await Promise.all([
        client.analyze(hostile, "hostile.resnet.ts"),
        client.analyze(normal, "resnet20.resnet.ts"),
      ]);
      assert.equal(bad.graph, null);
      assert.deepEqual(
        bad.diagnostics.map((d) => `${d.range?.file}:${d.range?.line}:${d.range?.column} ${d.code}`),
        ["hostile.resnet.ts:15:13 budget-exceeded"],
      );
      assert.deepEqual(good.diagnostics, []);
      assert.equal(good.graph?.totals.params, 269_722);
    } finally {
      client.dispose();
    }
  },
);

test(
  "an analysis past the time limit resolves with a located diagnostic and the worker is replaced",
  { timeout: 120_000 },
  async () => {
    const client = new SpecAnalysisClient(entry, { timeoutMs: 1 });
    try {
      const late = await client.analyze(normal, "resnet20.resnet.ts");
      assert.equal(late.graph, null);
      assert.equal(late.diagnostics.length, 1);
      const [d] = late.diagnostics;
      assert.equal(d.code, "analysis-failed");
      assert.match(d.message, /took longer than 1 ms/);
      assert.deepEqual([d.range?.file, d.range?.line, d.range?.column], ["resnet20.resnet.ts", 1, 1]);
    } finally {
      client.dispose();
    }
  },
);

test(
  "a worker over its memory limit, or one that cannot start, answers with a located diagnostic; dispose answers the rest",
  { timeout: 120_000 },
  async () => {
    const tiny = new SpecAnalysisClient(entry, {
      timeoutMs: 60_000,
      resourceLimits: { maxOldGenerationSizeMb: 4, maxYoungGenerationSizeMb: 1 },
    });
    try {
      const starved = await tiny.analyze(normal, "resnet20.resnet.ts");
      assert.equal(starved.graph, null);
      assert.equal(starved.diagnostics.length, 1);
      const [d] = starved.diagnostics;
      assert.equal(d.code, "analysis-failed");
      assert.match(d.message, /^ResNet Studio's analysis of this spec failed: spec worker crashed: .*memory/);
      assert.deepEqual([d.range?.file, d.range?.line], ["resnet20.resnet.ts", 1]);
    } finally {
      tiny.dispose();
    }

    const missing = new SpecAnalysisClient(
      { filename: join(root, "no-such-worker.js"), eval: false },
      { timeoutMs: 60_000 },
    );
    const answers = await Promise.all([missing.analyze(normal, "a.resnet.ts"), missing.analyze(normal, "b.resnet.ts")]);
    for (const [i, answer] of answers.entries()) {
      assert.equal(answer.diagnostics[0].code, "analysis-failed");
      assert.equal(answer.diagnostics[0].range?.file, ["a.resnet.ts", "b.resnet.ts"][i]);
      assert.match(answer.diagnostics[0].message, /spec worker (crashed|exited)/);
    }

    const client = new SpecAnalysisClient(entry, { timeoutMs: 60_000 });
    const running = client.analyze(normal, "first.resnet.ts");
    const queued = client.analyze(normal, "second.resnet.ts");
    await new Promise((resolve) => setImmediate(resolve)); // the first is in the worker now
    client.dispose();
    assert.match((await running).diagnostics[0].message, /this spec was stopped/);
    assert.equal((await queued).diagnostics[0].message, "ResNet Studio stopped before analyzing this spec");
  },
);

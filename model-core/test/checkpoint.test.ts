import { test, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildModel } from "../src/runtime/model";
import { train } from "../src/runtime/train";
import {
  canonicalJson, CheckpointError, loadCheckpointInto, readCheckpoint, specHash, writeFileAtomic, CHECKPOINT_FILE_NAME,
} from "../src/runtime/checkpoint";
import { syntheticDataset } from "../src/data/synthetic";
import { microGraph, tinyConfig, tinySpec, useCpu } from "./trainHelpers";

before(useCpu);

function weights(model: { params: Map<string, { dataSync(): ArrayLike<number> }>; buffers: Map<string, { dataSync(): ArrayLike<number> }> }) {
  return Object.fromEntries([...model.params, ...model.buffers].map(([n, v]) => [n, Array.from(v.dataSync())]));
}

test("spec hash: canonical (field order does not matter), sensitive to any change", () => {
  const spec = tinySpec();
  const reordered = Object.fromEntries(Object.entries(spec).reverse()) as typeof spec;
  assert.equal(canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }] }), '{"a":[2,{"c":4,"d":3}],"b":1}');
  assert.equal(specHash(spec), specHash(reordered));
  assert.match(specHash(spec), /^[0-9a-f]{64}$/);
  assert.notEqual(specHash(spec), specHash(tinySpec({ classes: 4 })));
  assert.notEqual(specHash(spec), specHash(tinySpec({ stages: [{ channels: 4, blocks: 2, stride: 1 }, { channels: 8, blocks: 1, stride: 2 }] })));
});

test("train 2 epochs == train 1 epoch, checkpoint, resume for 1 more (weights, optimiser state, RNG)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rs-ckpt-"));
  try {
    const data = { train: syntheticDataset({ count: 50, classes: 2, shape: [1, 4, 4], seed: 2 }), val: null };
    for (const optimizer of ["adam", "sgd"] as const) {
      const config = tinyConfig({ epochs: 2, batchSize: 8, optimizer, seed: 3 });
      const straight = buildModel(microGraph(), { seed: 3 });
      const full = await train({ model: straight, data, config });
      const first = buildModel(microGraph(), { seed: 3 });
      // Same config (the cosine schedule spans both epochs); stop once the first epoch's steps are done.
      const stepsPerEpoch = full.globalStep / 2;
      const part1 = await train({ model: first, data, config: { ...config, maxSteps: stepsPerEpoch }, checkpoint: dir });
      assert.equal(part1.epochsCompleted, 1);
      assert.equal(part1.reason, "maxSteps");
      first.dispose();
      const second = buildModel(microGraph(), { seed: 99 }); // different init: everything must come from the checkpoint
      const part2 = await train({ model: second, data, config, resumeFrom: dir });
      assert.equal(part2.history.length, 2, "history carries over");
      assert.equal(part2.globalStep, full.globalStep);
      assert.deepEqual(weights(second), weights(straight), `${optimizer}: resumed weights equal the uninterrupted run's`);
      assert.equal(part2.final?.valLoss, full.final?.valLoss);
      straight.dispose();
      second.dispose();
    }
    assert.deepEqual(readdirSync(dir), [CHECKPOINT_FILE_NAME], "no temp files left");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a checkpoint loads back into a fresh model and refuses another spec, by name and hash", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rs-ckpt-load-"));
  try {
    const data = { train: syntheticDataset({ count: 30, classes: 2, shape: [1, 4, 4], seed: 2 }), val: null };
    const trained = buildModel(microGraph(), { seed: 1 });
    const events: string[] = [];
    await train({ model: trained, data, config: tinyConfig({ epochs: 1, batchSize: 8 }), checkpoint: join(dir, "run.rsckpt"), onEvent: (e) => events.push(e.type) });
    assert.ok(events.includes("checkpoint"));
    const fresh = buildModel(microGraph(), { seed: 2 });
    assert.notDeepEqual(weights(fresh), weights(trained));
    const ckpt = loadCheckpointInto(fresh, join(dir, "run.rsckpt"));
    assert.deepEqual(weights(fresh), weights(trained));
    assert.equal(ckpt.header.epoch, 1);
    assert.equal(ckpt.header.model, "micro");
    assert.ok([...ckpt.tensors.values()].some((t) => t.entry.group === "optimizer"), "optimizer state stored");
    const other = buildModel(microGraph({ name: "wider", stages: [{ channels: 3, blocks: 1, stride: 1 }] }), { seed: 1 });
    assert.throws(() => loadCheckpointInto(other, join(dir, "run.rsckpt")), (e: Error) =>
      e instanceof CheckpointError && /run\.rsckpt: checkpoint is for spec "micro" \(sha256 [0-9a-f]{12}…\), not for "wider"/.test(e.message));
    // Resuming with another optimiser would silently drop its state: refused.
    await assert.rejects(
      train({ model: fresh, data, config: tinyConfig({ epochs: 2, batchSize: 8, optimizer: "sgd" }), resumeFrom: join(dir, "run.rsckpt") }),
      /trained with adam; resuming with sgd/,
    );
    [trained, fresh, other].forEach((m) => m.dispose());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("corrupt or missing checkpoints give a located error", () => {
  const dir = mkdtempSync(join(tmpdir(), "rs-ckpt-bad-"));
  try {
    assert.throws(() => readCheckpoint(join(dir, "none.rsckpt")), /none\.rsckpt: no checkpoint there/);
    assert.throws(() => readCheckpoint(dir), new RegExp(`${CHECKPOINT_FILE_NAME}: no checkpoint there`));
    writeFileSync(join(dir, "junk.rsckpt"), "hello world, not a checkpoint");
    assert.throws(() => readCheckpoint(join(dir, "junk.rsckpt")), /junk\.rsckpt: not a ResNet Studio checkpoint/);
    const truncated = Buffer.concat([Buffer.from("RSCKPT01"), Buffer.from([200, 0, 0, 0]), Buffer.from("{")]);
    writeFileSync(join(dir, "torn.rsckpt"), truncated);
    assert.throws(() => readCheckpoint(join(dir, "torn.rsckpt")), /torn\.rsckpt: truncated checkpoint header/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("atomic write: a failure mid-write keeps the previous file intact and leaves no temp file", () => {
  const dir = mkdtempSync(join(tmpdir(), "rs-atomic-"));
  try {
    const file = join(dir, "c.rsckpt");
    writeFileAtomic(file, [Buffer.from("old contents")]);
    assert.equal(readFileSync(file, "utf8"), "old contents");
    // The second chunk is not a buffer: writeSync throws after the first chunk has been written to the temp file.
    const poisoned = [Buffer.from("new, half-"), { length: 5 } as unknown as Uint8Array];
    assert.throws(() => writeFileAtomic(file, poisoned));
    assert.equal(readFileSync(file, "utf8"), "old contents");
    assert.deepEqual(readdirSync(dir), ["c.rsckpt"]);
    writeFileAtomic(file, [Buffer.from("new "), Buffer.from("contents")]);
    assert.equal(readFileSync(file, "utf8"), "new contents");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

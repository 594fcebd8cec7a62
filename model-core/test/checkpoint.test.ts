import { test, before } from "node:test";
import { spawn } from "node:child_process";
import { once } from "node:events";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildModel } from "../src/runtime/model";
import { train } from "../src/runtime/train";
import {
  canonicalJson,
  CheckpointError,
  decodeSafetensors,
  encodeSafetensors,
  loadCheckpointInto,
  readCheckpoint,
  removeStaleTempFiles,
  specHash,
  writeFileAtomic,
  CHECKPOINT_FILE_NAME,
} from "../src/runtime/checkpoint";
import { syntheticDataset } from "../src/data/synthetic";
import { microGraph, tinyConfig, tinySpec, useCpu } from "./trainHelpers";

before(useCpu);

function weights(model: {
  params: Map<string, { dataSync(): ArrayLike<number> }>;
  buffers: Map<string, { dataSync(): ArrayLike<number> }>;
}) {
  return Object.fromEntries([...model.params, ...model.buffers].map(([n, v]) => [n, Array.from(v.dataSync())]));
}

test("spec hash: canonical (field order does not matter), sensitive to any change", () => {
  const spec = tinySpec();
  const reordered = Object.fromEntries(Object.entries(spec).reverse()) as typeof spec;
  assert.equal(canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }] }), '{"a":[2,{"c":4,"d":3}],"b":1}');
  assert.equal(specHash(spec), specHash(reordered));
  assert.match(specHash(spec), /^[0-9a-f]{64}$/);
  assert.notEqual(specHash(spec), specHash(tinySpec({ classes: 4 })));
  assert.notEqual(
    specHash(spec),
    specHash(
      tinySpec({
        stages: [
          { channels: 4, blocks: 2, stride: 1 },
          { channels: 8, blocks: 1, stride: 2 },
        ],
      }),
    ),
  );
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
      const part1 = await train({
        model: first,
        data,
        config: { ...config, maxSteps: stepsPerEpoch },
        checkpoint: dir,
      });
      assert.equal(part1.epochsCompleted, 1);
      assert.equal(part1.reason, "maxSteps");
      first.dispose();
      const second = buildModel(microGraph(), { seed: 99 }); // different init: everything must come from the checkpoint
      const part2 = await train({ model: second, data, config, resumeFrom: dir, checkpoint: dir });
      assert.equal(part2.history.length, 2, "history carries over");
      assert.equal(part2.globalStep, full.globalStep);
      assert.deepEqual(
        weights(second),
        weights(straight),
        `${optimizer}: resumed weights equal the uninterrupted run's`,
      );
      assert.equal(part2.final?.valLoss, full.final?.valLoss);
      // A run asking for fewer epochs than the checkpoint has done is refused, not silently "completed".
      const fewer = buildModel(microGraph(), { seed: 3 });
      await assert.rejects(
        train({ model: fewer, data, config: { ...config, epochs: 1 }, resumeFrom: dir }),
        (e: Error) =>
          e instanceof CheckpointError &&
          /checkpoint has 2 epochs done, more than the 1 this run asks for \(pass --epochs 3 or more/.test(e.message),
      );
      fewer.dispose();
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
    await train({
      model: trained,
      data,
      config: tinyConfig({ epochs: 1, batchSize: 8 }),
      checkpoint: join(dir, "run.safetensors"),
      onEvent: (e) => events.push(e.type),
    });
    assert.ok(events.includes("checkpoint"));
    const fresh = buildModel(microGraph(), { seed: 2 });
    assert.notDeepEqual(weights(fresh), weights(trained));
    const ckpt = loadCheckpointInto(fresh, join(dir, "run.safetensors"));
    assert.deepEqual(weights(fresh), weights(trained));
    assert.equal(ckpt.header.epoch, 1);
    assert.equal(ckpt.header.model, "micro");
    assert.ok(
      [...ckpt.tensors.keys()].some((name) => /^optimizer\..+\.exp_avg$/.test(name)),
      "Adam state stored under PyTorch's slot names",
    );
    // PyTorch layouts and torchvision names: conv OIHW, fc [out, in], num_batches_tracked as I64.
    assert.deepEqual(ckpt.tensors.get("conv1.weight")?.shape, [2, 1, 3, 3]);
    assert.deepEqual(ckpt.tensors.get("fc.weight")?.shape, [2, 2]);
    assert.equal(ckpt.tensors.get("bn1.num_batches_tracked")?.dtype, "I64");
    const other = buildModel(microGraph({ name: "wider", stages: [{ channels: 3, blocks: 1, stride: 1 }] }), {
      seed: 1,
    });
    assert.throws(
      () => loadCheckpointInto(other, join(dir, "run.safetensors")),
      (e: Error) =>
        e instanceof CheckpointError &&
        /run\.safetensors: checkpoint is for spec "micro", not for "wider": layer conv1: conv1\.weight is \[2, 1, 3, 3\] in the checkpoint, \[3, 1, 3, 3\] in the spec/.test(
          e.message,
        ),
    );
    // Resuming with another optimiser would silently drop its state: refused.
    await assert.rejects(
      train({
        model: fresh,
        data,
        config: tinyConfig({ epochs: 2, batchSize: 8, optimizer: "sgd" }),
        resumeFrom: join(dir, "run.safetensors"),
      }),
      /trained with adam; resuming with sgd/,
    );
    [trained, fresh, other].forEach((m) => m.dispose());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("missing, foreign and format-1 checkpoints give a located error", () => {
  const dir = mkdtempSync(join(tmpdir(), "rs-ckpt-bad-"));
  try {
    assert.throws(() => readCheckpoint(join(dir, "none.safetensors")), /none\.safetensors: no checkpoint there/);
    assert.throws(() => readCheckpoint(dir), new RegExp(`${CHECKPOINT_FILE_NAME}: no checkpoint there`));
    writeFileSync(join(dir, "old.rsckpt"), Buffer.concat([Buffer.from("RSCKPT01"), Buffer.alloc(8)]));
    assert.throws(
      () => readCheckpoint(join(dir, "old.rsckpt")),
      /old\.rsckpt: a format-1 checkpoint \(\.rsckpt\).*Train again/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Every corruption kind of issue 12, each with the field its message must name. */
test("each kind of damaged checkpoint gets an error naming the file and the field", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rs-ckpt-corrupt-"));
  try {
    const data = { train: syntheticDataset({ count: 30, classes: 2, shape: [1, 4, 4], seed: 2 }), val: null };
    const model = buildModel(microGraph(), { seed: 1 });
    await train({ model, data, config: tinyConfig({ epochs: 1, batchSize: 8 }), checkpoint: dir });
    model.dispose();
    const good = readFileSync(join(dir, CHECKPOINT_FILE_NAME));
    const { metadata, tensors } = decodeSafetensors(good, "good");
    const reencode = (meta: Record<string, string>, list = [...tensors.values()]) => {
      const { dataSha256: _, ...rest } = meta;
      return Buffer.concat(encodeSafetensors(list, rest));
    };
    const headerLength = Number(good.readBigUInt64LE(0));
    const header = JSON.parse(good.toString("utf8", 8, 8 + headerLength)) as Record<string, unknown>;
    const withHeader = (h: Record<string, unknown>) => {
      const json = Buffer.from(JSON.stringify(h));
      const prefix = Buffer.alloc(8);
      prefix.writeBigUInt64LE(BigInt(json.length));
      return Buffer.concat([prefix, json, good.subarray(8 + headerLength)]);
    };
    const flipped = Buffer.from(good);
    flipped[flipped.length - 3] ^= 0x40;
    const infinite = [...tensors.values()].map((t) =>
      t.name === "fc.bias" ? { ...t, values: Float32Array.of(Infinity, 0) } : t,
    );
    const config = JSON.parse(metadata.config) as Record<string, unknown>;
    const cases: [string, Buffer, RegExp][] = [
      ["empty", Buffer.alloc(3), /header length: file is 3 bytes long.*truncated/],
      [
        "huge header length",
        Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0]), Buffer.from("{}")]),
        /header length: \d+ bytes is more than/,
      ],
      [
        "truncated header",
        good.subarray(0, 8 + Math.floor(headerLength / 2)),
        /header: says \d+ bytes but the file has \d+.*truncated/,
      ],
      [
        "header not JSON",
        Buffer.concat([good.subarray(0, 8), Buffer.alloc(headerLength, 0x7b), good.subarray(8 + headerLength)]),
        /header: is not valid JSON/,
      ],
      [
        "truncated data",
        good.subarray(0, good.length - 10),
        /tensor "optimizer\.fc\.weight\.exp_avg_sq"\.data_offsets: end \d+ is past the data section.*truncated/,
      ],
      ["trailing bytes", Buffer.concat([good, Buffer.alloc(4)]), /data: 4 bytes after the last tensor/],
      ["edited data", flipped, /__metadata__\.dataSha256: the data's sha256 is/],
      [
        "metadata not a string",
        withHeader({ ...header, __metadata__: { ...metadata, epoch: 1 } }),
        /__metadata__\.epoch: must be a string, got 1/,
      ],
      [
        "bad dtype",
        withHeader({ ...header, "fc.bias": { ...(header["fc.bias"] as object), dtype: "F16" } }),
        /tensor "fc\.bias"\.dtype: must be "F32" or "I64", got "F16"/,
      ],
      [
        "bad shape",
        withHeader({ ...header, "fc.bias": { ...(header["fc.bias"] as object), shape: "2" } }),
        /tensor "fc\.bias"\.shape: must be a list/,
      ],
      ["tensors not an object", withHeader({ ...header, "fc.bias": [1, 2] }), /tensor "fc\.bias": must be an object/],
      [
        "epoch not an integer",
        reencode({ ...metadata, epoch: "1.0" }),
        /metadata field "epoch": must be an integer from 0 to 1, got "1\.0"/,
      ],
      [
        "epoch beyond config",
        reencode({ ...metadata, epoch: "1000000000" }),
        /metadata field "epoch": must be an integer from 0 to 1, got "1000000000"/,
      ],
      [
        "maxSteps 0",
        reencode({ ...metadata, config: JSON.stringify({ ...config, maxSteps: 0 }) }),
        /metadata field "config": maxSteps must be a positive integer, got 0/,
      ],
      [
        "epochs as a string",
        reencode({ ...metadata, config: JSON.stringify({ ...config, epochs: "2" }) }),
        /metadata field "config": epochs must be a positive integer, got "2"/,
      ],
      ["non-finite weight", reencode(metadata, infinite), /tensor "fc\.bias": value 0 is Infinity/],
      [
        "edited spec",
        reencode({ ...metadata, spec: metadata.spec.replace('"classes":2', '"classes":3') }),
        /metadata field "specHash": does not match the stored spec/,
      ],
      [
        "wrong format",
        reencode({ ...metadata, format: "other" }),
        /metadata field "format": must be "resnet-studio-checkpoint"/,
      ],
      [
        "newer version",
        reencode({ ...metadata, version: "3" }),
        /metadata field "version": this ResNet Studio reads version 2/,
      ],
      [
        "rng state out of range",
        reencode({ ...metadata, rngState: "4294967296" }),
        /metadata field "rngState": must be an integer from 0 to 4294967295/,
      ],
      [
        "optimizer kind",
        reencode({ ...metadata, optimizer: JSON.stringify({ kind: "rmsprop", step: 1 }) }),
        /metadata field "optimizer": kind must be "adam" or "sgd"/,
      ],
      [
        "history length",
        reencode({ ...metadata, history: "[]" }),
        /metadata field "history": has 0 epochs, the checkpoint says 1/,
      ],
      [
        "missing field",
        reencode({ ...metadata, backend: undefined as unknown as string }),
        /metadata field "backend": missing/,
      ],
      [
        "bad date",
        reencode({ ...metadata, createdAt: "yesterday" }),
        /metadata field "createdAt": must be an ISO date/,
      ],
    ];
    for (const [kind, bytes, message] of cases) {
      const file = join(dir, `${kind.replace(/ /g, "-")}.safetensors`);
      writeFileSync(file, bytes);
      assert.throws(
        () => readCheckpoint(file),
        (e: Error) => {
          assert.ok(e instanceof CheckpointError, `${kind}: ${e.message}`);
          assert.ok(e.message.startsWith(file + ": "), `${kind}: names the file: ${e.message}`);
          assert.match(e.message, message, kind);
          return true;
        },
      );
    }
    // The untouched file and a plain re-encode still read.
    assert.equal(readCheckpoint(join(dir, CHECKPOINT_FILE_NAME)).header.epoch, 1);
    writeFileSync(join(dir, "same.safetensors"), reencode(metadata));
    assert.equal(readCheckpoint(join(dir, "same.safetensors")).header.model, "micro");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a writer killed mid-write leaves the old checkpoint, and the next run removes its temp file", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rs-ckpt-kill-"));
  try {
    const file = join(dir, CHECKPOINT_FILE_NAME);
    writeFileAtomic(file, [Buffer.from("previous")]);
    // A child writes 1 GiB through writeFileAtomic; it is killed once its temp file exists.
    const script = `require(${JSON.stringify(join(__dirname, "../src/runtime/checkpoint.ts"))}).writeFileAtomic(${JSON.stringify(file)}, Array.from({ length: 256 }, () => Buffer.alloc(4 << 20, 7)))`;
    const child = spawn(process.execPath, ["--import", "tsx", "-e", script], { stdio: "ignore" });
    const deadline = Date.now() + 60_000;
    while (!readdirSync(dir).some((n) => n.endsWith(".tmp")) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    child.kill("SIGKILL");
    await once(child, "exit");
    const temps = readdirSync(dir).filter((n) => n.endsWith(".tmp"));
    assert.equal(temps.length, 1, "the killed writer left its temp file");
    assert.equal(readFileSync(file, "utf8"), "previous", "the checkpoint itself is untouched");
    // The next run in that folder removes it before it trains.
    const data = { train: syntheticDataset({ count: 20, classes: 2, shape: [1, 4, 4], seed: 2 }), val: null };
    const model = buildModel(microGraph(), { seed: 1 });
    await train({ model, data, config: tinyConfig({ epochs: 1, batchSize: 8 }), checkpoint: dir });
    model.dispose();
    assert.deepEqual(readdirSync(dir), [CHECKPOINT_FILE_NAME]);
    assert.equal(readCheckpoint(dir).header.epoch, 1);
    // A live writer's temp file is left alone.
    writeFileSync(join(dir, `.rs-tmp-${process.pid}-x-${CHECKPOINT_FILE_NAME}.tmp`), "");
    assert.deepEqual(removeStaleTempFiles(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("atomic write: a failure mid-write keeps the previous file intact and leaves no temp file", () => {
  const dir = mkdtempSync(join(tmpdir(), "rs-atomic-"));
  try {
    const file = join(dir, "c.safetensors");
    writeFileAtomic(file, [Buffer.from("old contents")]);
    assert.equal(readFileSync(file, "utf8"), "old contents");
    // The second chunk is not a buffer: writeSync throws after the first chunk has been written to the temp file.
    const poisoned = [Buffer.from("new, half-"), { length: 5 } as unknown as Uint8Array];
    assert.throws(() => writeFileAtomic(file, poisoned));
    assert.equal(readFileSync(file, "utf8"), "old contents");
    assert.deepEqual(readdirSync(dir), ["c.safetensors"]);
    writeFileAtomic(file, [Buffer.from("new "), Buffer.from("contents")]);
    assert.equal(readFileSync(file, "utf8"), "new contents");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

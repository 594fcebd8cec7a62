// Hostile checkpoints (issue 21): overlapping and out-of-range offsets, values no training makes, extra tensors and
// metadata, a transposed shape, files that are not regular files, and weights that overflow on resume. Each is refused
// with a message naming the file; no checkpoint that the reader would refuse is ever written.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { buildModel } from "../src/runtime/model";
import { train } from "../src/runtime/train";
import {
  CheckpointError,
  CHECKPOINT_FILE_NAME,
  decodeSafetensors,
  encodeSafetensors,
  loadCheckpointInto,
  readCheckpoint,
  saveCheckpoint,
  type StoredTensor,
} from "../src/runtime/checkpoint";
import { syntheticDataset } from "../src/data/synthetic";
import { exportPytorch } from "../src/export/pytorch";
import { microGraph, tinyConfig, useCpu } from "./trainHelpers";
import { needsTorch, python } from "./torchHelpers";

before(useCpu);

/** A safetensors file from a raw header object and data bytes, with the data's sha256 in the metadata. */
function rawFile(tensors: Record<string, unknown>, data: Buffer, headerLength?: bigint): Buffer {
  const json = Buffer.from(
    JSON.stringify({ __metadata__: { dataSha256: createHash("sha256").update(data).digest("hex") }, ...tensors }),
  );
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(headerLength ?? BigInt(json.length));
  return Buffer.concat([prefix, json, data]);
}

const f32 = (shape: number[], begin: number, end: number) => ({ dtype: "F32", shape, data_offsets: [begin, end] });

function refuses(run: () => unknown, file: string, message: RegExp, what: string): void {
  assert.throws(
    run,
    (e: Error) => {
      assert.ok(e instanceof CheckpointError, `${what}: ${e.name}: ${e.message}`);
      assert.ok(
        e.message.startsWith(`${file}: `) || e.message.startsWith(`${file} `),
        `${what}: names the file: ${e.message}`,
      );
      assert.match(e.message, message, what);
      return true;
    },
    what,
  );
}

test("overlapping tensors are refused: two tensors may not share bytes", () => {
  const data = Buffer.alloc(8);
  // "b" reads the same 8 bytes as "a"; the spans, the data length and the checksum all fit.
  const bytes = rawFile({ a: f32([2], 0, 8), b: f32([2], 0, 8) }, data);
  refuses(() => decodeSafetensors(bytes, "f"), "f", /tensor "b"\.data_offsets: begin 0 should be 8/, "overlap");
  // A gap is refused too.
  const gap = rawFile({ a: f32([1], 0, 4), b: f32([1], 8, 12) }, Buffer.alloc(12));
  refuses(() => decodeSafetensors(gap, "f"), "f", /tensor "b"\.data_offsets: begin 8 should be 4/, "gap");
  // Without overlap the same bytes decode.
  assert.equal(decodeSafetensors(rawFile({ a: f32([1], 0, 4), b: f32([1], 4, 8) }, data), "f").tensors.size, 2);
});

test("out-of-range offsets and a 2^63 header length get a located message", () => {
  const data = Buffer.alloc(8);
  const cases: [string, Buffer, RegExp][] = [
    ["2^63 header length", rawFile({}, data, 2n ** 63n), /header length: 9223372036854775808 bytes is more than/],
    ["2^64-1 header length", rawFile({}, data, 2n ** 64n - 1n), /header length: 18446744073709551615 bytes/],
    [
      "offset beyond 2^53",
      rawFile({ a: f32([2], 0, 2 ** 64) }, data),
      /tensor "a"\.data_offsets: must be \[begin, end\]/,
    ],
    ["end before begin", rawFile({ a: f32([0], 8, 0) }, data), /tensor "a"\.data_offsets: end 0 is before begin 8/],
    ["end past the data", rawFile({ a: f32([4], 0, 16) }, data), /tensor "a"\.data_offsets: end 16 is past the data/],
    ["negative offset", rawFile({ a: f32([2], -8, 0) }, data), /tensor "a"\.data_offsets: must be \[begin, end\]/],
    [
      "I64 beyond 2^53",
      rawFile({ n: { dtype: "I64", shape: [], data_offsets: [0, 8] } }, Buffer.from([1, 0, 0, 0, 0, 0, 0x30, 0])),
      /tensor "n": value 0 is 13510798882111489, beyond the ±2\^53/,
    ],
  ];
  for (const [what, bytes, message] of cases)
    refuses(() => decodeSafetensors(bytes, "f.safetensors"), "f.safetensors", message, what);
});

/** A trained micro checkpoint's metadata and tensors, re-encodable with changes. */
async function trainedCheckpoint(dir: string) {
  const data = { train: syntheticDataset({ count: 30, classes: 2, shape: [1, 4, 4], seed: 2 }), val: null };
  const model = buildModel(microGraph(), { seed: 1 });
  await train({ model, data, config: tinyConfig({ epochs: 1, batchSize: 8 }), checkpoint: dir });
  model.dispose();
  const { metadata, tensors } = decodeSafetensors(readFileSync(join(dir, CHECKPOINT_FILE_NAME)), "good");
  const reencode = (meta: Record<string, string>, list: StoredTensor[] = [...tensors.values()]) => {
    const { dataSha256: _, ...rest } = meta;
    return Buffer.concat(encodeSafetensors(list, rest));
  };
  const replaced = (name: string, change: (t: StoredTensor) => StoredTensor) =>
    [...tensors.values()].map((t) => (t.name === name ? change(t) : t));
  return { metadata, tensors, reencode, replaced, data };
}

test("values, fields and tensors no training writes are refused by name", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rs-ckpt-hostile-"));
  try {
    const { metadata, tensors, reencode, replaced } = await trainedCheckpoint(dir);
    const config = JSON.parse(metadata.config) as Record<string, unknown>;
    const optimizer = JSON.parse(metadata.optimizer) as Record<string, unknown>;
    const runningVar = [...tensors.keys()].find((n) => n.endsWith(".running_var"))!;
    const counter = runningVar.replace(/running_var$/, "num_batches_tracked");
    const secondMoment = [...tensors.keys()].find((n) => n.endsWith(".exp_avg_sq"))!;
    const cases: [string, Buffer, RegExp][] = [
      [
        "negative running_var",
        reencode(
          metadata,
          replaced(runningVar, (t) => ({ ...t, values: t.values.map((v, i) => (i === 1 ? -0.5 : v)) })),
        ),
        new RegExp(`tensor "${runningVar.replace(/\./g, "\\.")}": value 1 is -0\\.5; a variance is never negative`),
      ],
      [
        "negative Adam second moment",
        reencode(
          metadata,
          replaced(secondMoment, (t) => ({ ...t, values: t.values.map(() => -1) })),
        ),
        /exp_avg_sq": value 0 is -1; a variance is never negative/,
      ],
      [
        "num_batches_tracked -2^63",
        reencode(
          metadata,
          replaced(counter, (t) => ({ ...t, values: Float64Array.of(-(2 ** 63)) })),
        ),
        /num_batches_tracked": value 0 is -9223372036854775808, beyond the ±2\^53/,
      ],
      [
        "num_batches_tracked -1",
        reencode(
          metadata,
          replaced(counter, (t) => ({ ...t, values: Float64Array.of(-1) })),
        ),
        /num_batches_tracked": value 0 is -1; a count is never negative/,
      ],
      [
        "num_batches_tracked as F32",
        reencode(
          metadata,
          replaced(counter, (t) => ({ ...t, dtype: "F32", values: Float32Array.of(3) })),
        ),
        /num_batches_tracked": dtype F32, expected I64/,
      ],
      [
        "optimizer.step 1e300",
        reencode({ ...metadata, optimizer: JSON.stringify({ ...optimizer, step: 1e300 }) }),
        /metadata field "optimizer": step must be an integer from 0 to 2\^53, got 1e\+300/,
      ],
      [
        "config.workers 80",
        reencode({ ...metadata, config: JSON.stringify({ ...config, workers: 80 }) }),
        /metadata field "config": workers must be an integer from 1 to 64, got 80/,
      ],
      [
        "extra metadata",
        reencode({ ...metadata, payload: "x" }),
        /metadata field "payload": is not a field of a version 2 checkpoint/,
      ],
    ];
    for (const [what, bytes, message] of cases) {
      const file = join(dir, `${what.replace(/\W+/g, "-")}.safetensors`);
      writeFileSync(file, bytes);
      refuses(() => readCheckpoint(file), file, message, what);
    }

    // Extra tensors: readable as a file, refused when loaded into (or resumed on) a model.
    const extra = join(dir, "extra.safetensors");
    writeFileSync(
      extra,
      reencode(metadata, [
        ...tensors.values(),
        { name: "evil.weight", dtype: "F32", shape: [1], values: Float32Array.of(1) },
      ]),
    );
    const model = buildModel(microGraph(), { seed: 1 });
    try {
      refuses(
        () => loadCheckpointInto(model, extra),
        extra,
        /tensor "evil\.weight": not a tensor of this model/,
        "extra",
      );
      await assert.rejects(
        train({
          model,
          data: { train: syntheticDataset({ count: 30, classes: 2, shape: [1, 4, 4], seed: 2 }), val: null },
          config: tinyConfig({ epochs: 2, batchSize: 8 }),
          resumeFrom: extra,
        }),
        /extra\.safetensors: tensor "evil\.weight": not a tensor of this model/,
      );
      // A conv weight with its in and out swapped: the message gives the model's shape as expected, the file's as found.
      const conv = tensors.get("conv1.weight")!;
      const [out, inp, kh, kw] = conv.shape;
      assert.notEqual(out, inp);
      const transposed = join(dir, "transposed.safetensors");
      writeFileSync(
        transposed,
        reencode(
          metadata,
          replaced("conv1.weight", (t) => ({ ...t, shape: [inp, out, kh, kw] })),
        ),
      );
      refuses(
        () => loadCheckpointInto(model, transposed),
        transposed,
        new RegExp(
          `tensor "conv1\\.weight": the file has shape \\[${inp},${out},${kh},${kw}\\], the model's parameter is \\[${out},${inp},${kh},${kw}\\]`,
        ),
        "transposed",
      );
    } finally {
      model.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a FIFO, /dev/zero, /dev/urandom, a folder and a 2 GiB file are refused before any read, naming the file", () => {
  const dir = mkdtempSync(join(tmpdir(), "rs-ckpt-kinds-"));
  try {
    const cases: [string, string, RegExp][] = [];
    const fifo = join(dir, "fifo.safetensors");
    if (spawnSync("mkfifo", [fifo]).status === 0)
      cases.push(["fifo", fifo, /is a named pipe \(FIFO\), not a checkpoint/]);
    for (const device of ["/dev/zero", "/dev/urandom"]) {
      const link = join(dir, `${device.slice(5)}.safetensors`);
      symlinkSync(device, link);
      cases.push([device, link, /is a character device, not a checkpoint/]);
    }
    const folder = join(dir, "run");
    mkdirSync(join(folder, CHECKPOINT_FILE_NAME), { recursive: true });
    const huge = join(dir, "huge.safetensors");
    writeFileSync(huge, "");
    truncateSync(huge, 2 ** 31); // sparse: no disk used
    cases.push(["2 GiB", huge, /is 2147483648 bytes, more than the 2147483647 a checkpoint can be/]);
    for (const [what, file, message] of cases) refuses(() => readCheckpoint(file), file, message, what);
    // A run folder whose checkpoint.safetensors is a folder (EISDIR).
    refuses(
      () => readCheckpoint(folder),
      join(folder, CHECKPOINT_FILE_NAME),
      /is a folder, not a checkpoint/,
      "folder",
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("huge finite weights (3e38) resume, overflow to NaN, and no unreadable checkpoint is written", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rs-ckpt-overflow-"));
  try {
    const { metadata, reencode, replaced, data } = await trainedCheckpoint(dir);
    const file = join(dir, CHECKPOINT_FILE_NAME);
    writeFileSync(
      file,
      reencode(
        metadata,
        replaced("fc.weight", (t) => ({ ...t, values: t.values.map(() => 3e38) })),
      ),
    );
    const before = readFileSync(file);
    assert.equal(readCheckpoint(file).header.epoch, 1, "3e38 is finite: the file itself is valid");
    const model = buildModel(microGraph(), { seed: 1 });
    try {
      const result = await train({
        model,
        data,
        config: tinyConfig({ epochs: 3, batchSize: 8 }),
        resumeFrom: file,
        checkpoint: dir,
      }).then(
        (r) => ({ ok: true as const, r }),
        (e: Error) => ({ ok: false as const, e }),
      );
      if (result.ok) assert.equal(result.r.reason, "diverged", "a run whose weights overflow does not complete");
      else
        assert.match(
          result.e.message,
          new RegExp(`^${file.replace(/\W/g, "\\$&")}: not written, it could not be read back`),
        );
    } finally {
      model.dispose();
    }
    // Whatever happened, the checkpoint on disk still reads, and no temp file is left.
    assert.equal(readCheckpoint(file).header.model, "micro");
    assert.deepEqual(readFileSync(file), before, "the last good checkpoint is kept");
    assert.deepEqual(readdirSync(dir), [CHECKPOINT_FILE_NAME]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("saveCheckpoint refuses weights that are not finite and keeps the previous checkpoint", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rs-ckpt-nan-"));
  try {
    await trainedCheckpoint(dir);
    const file = join(dir, CHECKPOINT_FILE_NAME);
    const before = readFileSync(file);
    const model = buildModel(microGraph(), { seed: 1 });
    try {
      const header = readCheckpoint(file).header;
      const fc = model.params.get("fc.weight")!;
      fc.assign(tf.fill(fc.shape, NaN));
      await assert.rejects(
        saveCheckpoint(dir, {
          meta: { ...header, epoch: 1 },
          params: model.params,
          buffers: model.buffers,
          optimizer: [],
        }),
        (e: Error) =>
          e instanceof CheckpointError &&
          e.message.startsWith(`${file}: not written, it could not be read back: tensor "fc.weight": value 0 is NaN`),
      );
      assert.deepEqual(readFileSync(file), before);
      assert.deepEqual(readdirSync(dir), [CHECKPOINT_FILE_NAME]);
    } finally {
      model.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the exported module's reader refuses devices, FIFOs and folders, and its writer refuses NaN", async (t) => {
  if (!needsTorch(t)) return;
  const dir = mkdtempSync(join(tmpdir(), "rs-ckpt-python-"));
  try {
    await trainedCheckpoint(dir);
    writeFileSync(join(dir, "model.py"), exportPytorch(microGraph()));
    symlinkSync("/dev/zero", join(dir, "zero.safetensors"));
    const fifo = spawnSync("mkfifo", [join(dir, "fifo.safetensors")]).status === 0;
    const script = [
      "import json, sys, torch",
      "sys.path.insert(0, sys.argv[1])",
      "import model",
      "out = {'epoch': model.load_checkpoint(model.build(), sys.argv[1])['epoch']}",
      "for name in sys.argv[2:]:",
      "    try:",
      "        model.read_safetensors(name)",
      "        out[name] = 'read'",
      "    except ValueError as err:",
      "        out[name] = str(err)",
      "try:",
      "    model.write_safetensors(sys.argv[1] + '/nan.safetensors', {'w': torch.tensor([1.0, float('nan')])})",
      "except ValueError as err:",
      "    out['nan'] = str(err)",
      "print(json.dumps(out))",
    ].join("\n");
    const names = [join(dir, "zero.safetensors"), dir + "/", ...(fifo ? [join(dir, "fifo.safetensors")] : [])];
    const r = spawnSync(python.command, ["-c", script, dir, ...names], { encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, string>;
    assert.equal(out.epoch, "1");
    for (const name of names)
      assert.equal(out[name], `${name}: not a regular file (a device, a pipe or a folder), so not a checkpoint`);
    assert.match(
      out.nan,
      /nan\.safetensors: tensor 'w' holds NaN or infinite values \(training diverged\); not written$/,
    );
    assert.ok(!readdirSync(dir).some((n) => n.startsWith(".rs-tmp-") || n === "nan.safetensors"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

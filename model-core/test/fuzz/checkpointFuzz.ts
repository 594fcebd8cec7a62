/**
 * A seeded fuzzer of the checkpoint reader (issue 21): a real checkpoint of a micro network, damaged in its header
 * length and bytes, offsets, dtypes, shapes, values, metadata and tensor list, or replaced by another kind of file
 * (FIFO, /dev/zero, /dev/urandom, a folder, a sparse 3 GiB file, a dangling or looping symlink). Every case must be
 * answered: accepted (then loaded into the model and saved again, which must read back) or refused with a
 * CheckpointError whose message starts with the file's path. Nothing else thrown, no temp file left.
 */
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
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CheckpointError,
  CHECKPOINT_FILE_NAME,
  decodeSafetensors,
  loadCheckpointInto,
  readCheckpoint,
  saveCheckpoint,
} from "../../src/runtime/checkpoint";
import { buildModel, type TfModel } from "../../src/runtime/model";
import { decayedParameterNames, Optimizer } from "../../src/runtime/optim";
import { microGraph, tinyConfig, useCpu } from "../trainHelpers";
import { seededRandom } from "./specFuzz";

/** What a mutator works on: the header as an object, the data section, and overrides of the framing. */
interface Draft {
  header: Record<string, unknown>;
  data: Buffer;
  /** Recompute dataSha256 after changing the data (so the damage reaches the checks behind the checksum). */
  resign: boolean;
  headerLength?: bigint;
  rawHeader?: Buffer;
  /** Not a checkpoint file at all: what to put at the path instead. */
  fileKind?: FileKind;
}

const FILE_KINDS = ["fifo", "dev-zero", "dev-urandom", "folder", "sparse-3GiB", "empty", "dangling-link", "link-loop"];
type FileKind = (typeof FILE_KINDS)[number];

type Random = () => number;
const pick = <T>(rng: Random, items: readonly T[]): T => items[Math.floor(rng() * items.length)];

function tensorNames(d: Draft): string[] {
  return Object.keys(d.header).filter((k) => k !== "__metadata__");
}
function entry(d: Draft, name: string): Record<string, unknown> {
  return d.header[name] as Record<string, unknown>;
}
function metadata(d: Draft): Record<string, unknown> {
  return d.header.__metadata__ as Record<string, unknown>;
}

/** Whether `length` bytes at `at` lie in the data (earlier mutators may have moved offsets or cut the data). */
function inData(d: Draft, at: unknown, length: number): at is number {
  return Number.isInteger(at) && (at as number) >= 0 && (at as number) + length <= d.data.length;
}

const MUTATORS: { name: string; apply: (d: Draft, rng: Random) => void }[] = [
  {
    name: "header-length",
    apply: (d, rng) => {
      const n = BigInt(Buffer.byteLength(JSON.stringify(d.header)));
      d.headerLength = pick(rng, [0n, 7n, n - 1n, n + 1n, n + 4096n, 100_000_001n, 2n ** 63n, 2n ** 64n - 1n]);
    },
  },
  {
    name: "header-bytes",
    apply: (d, rng) => {
      const json = Buffer.from(JSON.stringify(d.header));
      const choice = Math.floor(rng() * 4);
      if (choice === 0) json[Math.floor(rng() * json.length)] = Math.floor(rng() * 256);
      d.rawHeader =
        choice === 1
          ? json.subarray(0, Math.floor(rng() * json.length))
          : choice === 2
            ? Buffer.from(pick(rng, ["[]", "null", '"x"', "{", "1e999", '{"__metadata__": 5}', "\u0000"]))
            : json;
    },
  },
  {
    name: "offsets",
    apply: (d, rng) => {
      const names = tensorNames(d);
      const i = Math.floor(rng() * names.length);
      const e = entry(d, names[i]);
      const [b, end] = e.data_offsets as [number, number];
      const previous = i > 0 ? (entry(d, names[i - 1]).data_offsets as number[]) : [0, 0];
      e.data_offsets = pick(rng, [
        previous, // overlap with the tensor before
        [b, end + 4],
        [b + 4, end + 4],
        [end, b],
        [-4, end],
        [0, 2 ** 60],
        [b + 0.5, end],
        [String(b), String(end)],
        null,
        [b],
        [b, end, 0],
      ]);
    },
  },
  {
    name: "dtype",
    apply: (d, rng) => {
      entry(d, pick(rng, tensorNames(d))).dtype = pick(rng, [
        "F16",
        "BF16",
        "I32",
        "F64",
        "U8",
        "I64",
        "F32",
        "",
        null,
        5,
      ]);
    },
  },
  {
    name: "shape",
    apply: (d, rng) => {
      const e = entry(d, pick(rng, tensorNames(d)));
      const shape = e.shape as number[];
      e.shape = pick(rng, [
        [],
        [-1],
        [2 ** 31 + 1],
        [1.5],
        [...shape].reverse(),
        [0],
        Array(9).fill(1),
        "3",
        null,
        [...shape, 1],
        shape.length > 0 ? [shape.reduce((a, b) => a * b, 1)] : [1],
      ]);
    },
  },
  {
    name: "values",
    apply: (d, rng) => {
      d.resign = true;
      const names = tensorNames(d);
      const counters = names.filter((n) => n.endsWith("num_batches_tracked"));
      if (counters.length > 0 && rng() < 0.3) {
        const [b] = entry(d, pick(rng, counters)).data_offsets as [number, number];
        if (inData(d, b, 8)) d.data.writeBigInt64LE(pick(rng, [-(2n ** 63n), 2n ** 62n, -1n, 2n ** 53n + 1n]), b);
        return;
      }
      const floats = names.filter((n) => entry(d, n).dtype === "F32");
      const name = pick(rng, floats);
      if (name === undefined) return;
      const [b, end] = entry(d, name).data_offsets as [number, number];
      if (end === b) return;
      const value = pick(rng, [NaN, Infinity, -Infinity, 3e38, -3e38, -0.5, 1e-45]);
      const at = b + 4 * Math.floor(rng() * ((end - b) / 4));
      if (inData(d, at, 4)) d.data.writeFloatLE(value, at);
    },
  },
  {
    name: "data-bytes",
    apply: (d, rng) => {
      const choice = Math.floor(rng() * 3);
      if (choice === 0 && d.data.length > 0) d.data[Math.floor(rng() * d.data.length)] ^= 0x10;
      else if (choice === 1) d.data = d.data.subarray(0, Math.floor(rng() * d.data.length));
      else d.data = Buffer.concat([d.data, Buffer.alloc(1 + Math.floor(rng() * 16))]);
      d.resign = rng() < 0.5;
    },
  },
  {
    name: "metadata",
    apply: (d, rng) => {
      const meta = metadata(d);
      const key = pick(rng, Object.keys(meta));
      const config = JSON.parse(String(meta.config)) as Record<string, unknown>;
      const optimizer = JSON.parse(String(meta.optimizer)) as Record<string, unknown>;
      const change = pick(rng, [
        () => delete meta[key],
        () => (meta.payload = "x"),
        () => (meta[key] = 5),
        () => (meta[key] = ""),
        () => (meta.epoch = "99999999999"),
        () => (meta.globalStep = "-1"),
        () => (meta.config = JSON.stringify({ ...config, workers: 80 })),
        () => (meta.config = JSON.stringify({ ...config, batchSize: 1e300 })),
        () => (meta.optimizer = JSON.stringify({ ...optimizer, step: 1e300 })),
        () => (meta.optimizer = JSON.stringify({ ...optimizer, kind: "sgd" })),
        () => (meta.spec = String(meta.spec).replace('"classes":2', '"classes":3')),
        () => (meta.history = "["),
        () => (meta.history = '[{"epoch":0}]'),
        () => (meta.createdAt = "yesterday"),
        () => (meta.version = "3"),
        () => (meta.specHash = "0".repeat(64)),
        () => (meta.model = "\u001b]0;x\u0007\u202e"),
      ]);
      change();
    },
  },
  {
    name: "tensor-list",
    apply: (d, rng) => {
      const names = tensorNames(d);
      if (rng() < 0.5) {
        // An extra tensor after the last one.
        const extra = Buffer.alloc(8);
        d.header[pick(rng, ["evil.weight", "fc.weight.extra", `optimizer.fc.weight.rms`])] = {
          dtype: "F32",
          shape: [2],
          data_offsets: [d.data.length, d.data.length + 8],
        };
        d.data = Buffer.concat([d.data, extra]);
      } else {
        // A tensor removed: the data no longer matches the offsets after it, unless it was the last.
        delete d.header[pick(rng, names)];
      }
      d.resign = true;
    },
  },
  {
    name: "file-kind",
    apply: (d, rng) => {
      d.fileKind = pick(rng, FILE_KINDS);
    },
  },
];
export const CHECKPOINT_MUTATOR_NAMES = MUTATORS.map((m) => m.name);

function assemble(d: Draft): Buffer {
  if (d.resign) metadata(d).dataSha256 = createHash("sha256").update(d.data).digest("hex");
  const json = d.rawHeader ?? Buffer.from(JSON.stringify(d.header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(d.headerLength ?? BigInt(json.length));
  return Buffer.concat([prefix, json, d.data]);
}

/** Puts the case at `file` (a path inside `dir`). */
function materialise(d: Draft, dir: string, file: string): void {
  switch (d.fileKind) {
    case undefined:
      writeFileSync(file, assemble(d));
      return;
    case "fifo":
      if (spawnSync("mkfifo", [file]).status !== 0) writeFileSync(file, "");
      return;
    case "dev-zero":
      symlinkSync("/dev/zero", file);
      return;
    case "dev-urandom":
      symlinkSync("/dev/urandom", file);
      return;
    case "folder":
      mkdirSync(file);
      return;
    case "sparse-3GiB":
      writeFileSync(file, assemble(d).subarray(0, 64));
      truncateSync(file, 3 * 2 ** 30);
      return;
    case "empty":
      writeFileSync(file, "");
      return;
    case "dangling-link":
      symlinkSync(join(dir, "nowhere"), file);
      return;
    case "link-loop":
      symlinkSync(file, file);
      return;
  }
}

export interface CheckpointFuzzReport {
  cases: number;
  /** Read, loaded into the model, saved again and read back. */
  accepted: number;
  /** Refused with a CheckpointError naming the file. */
  refused: number;
  /** Anything else thrown, or a message that does not start with the file's path. */
  crashes: number;
  unnamed: number;
  /** A save of an accepted case that wrote a file the reader then refused. */
  unreadableWrites: number;
  tempFilesLeft: number;
  byMutator: Record<string, number>;
  failures: string[];
  slowestMillis: number;
  totalMillis: number;
}

/** The undamaged checkpoint: a micro network with Adam's slots, as `train` writes it after one epoch. */
async function baseCheckpoint(dir: string): Promise<{ bytes: Buffer; model: TfModel }> {
  await useCpu();
  const graph = microGraph();
  const model = buildModel(graph, { seed: 1 });
  const optimizer = new Optimizer(model.params, {
    kind: "adam",
    momentum: 0.9,
    weightDecay: 0,
    decayed: decayedParameterNames(graph),
  });
  const config = tinyConfig({ epochs: 2, batchSize: 8 });
  const file = await saveCheckpoint(dir, {
    meta: {
      model: graph.spec.name,
      spec: graph.spec,
      epoch: 0,
      globalStep: 0,
      rngState: 1,
      optimizer: { kind: "adam", step: 0 },
      config,
      history: [],
      backend: "cpu",
    },
    params: model.params,
    buffers: model.buffers,
    optimizer: optimizer.stateTensors(),
  });
  optimizer.dispose();
  return { bytes: readFileSync(file), model };
}

function draftOf(bytes: Buffer): Draft {
  const length = Number(bytes.readBigUInt64LE(0));
  return {
    header: JSON.parse(bytes.toString("utf8", 8, 8 + length)) as Record<string, unknown>,
    data: Buffer.from(bytes.subarray(8 + length)),
    resign: false,
  };
}

/** Runs `cases` seeded cases; each gets 1 to 3 mutators (a file-kind case is that alone). Times are reported, not asserted. */
export async function runCheckpointFuzz(
  seed: number,
  cases: number,
  onProgress?: (done: number) => void,
): Promise<CheckpointFuzzReport> {
  const root = mkdtempSync(join(tmpdir(), "rs-ckpt-fuzz-"));
  const report: CheckpointFuzzReport = {
    cases,
    accepted: 0,
    refused: 0,
    crashes: 0,
    unnamed: 0,
    unreadableWrites: 0,
    tempFilesLeft: 0,
    byMutator: Object.fromEntries(MUTATORS.map((m) => [m.name, 0])),
    failures: [],
    slowestMillis: 0,
    totalMillis: 0,
  };
  const { bytes: base, model } = await baseCheckpoint(root);
  decodeSafetensors(base, "base"); // the starting point itself must read
  const started = performance.now();
  try {
    for (let i = 0; i < cases; i++) {
      const rng = seededRandom((seed * 100_003 + i) >>> 0);
      const draft = draftOf(base);
      const names: string[] = [];
      const count = 1 + Math.floor(rng() * 3);
      for (let k = 0; k < count && draft.fileKind === undefined; k++) {
        const m = MUTATORS[Math.floor(rng() * MUTATORS.length)];
        try {
          m.apply(draft, rng);
          names.push(m.name);
          report.byMutator[m.name]++;
        } catch {
          // An earlier mutator took away what this one changes (a tensor, its offsets, a field): skip it.
        }
      }
      const dir = join(root, `case-${i}`);
      mkdirSync(dir);
      const file = join(dir, CHECKPOINT_FILE_NAME);
      const fail = (what: string, message: string) => {
        if (report.failures.length < 10)
          report.failures.push(`case ${i} (seed ${seed}; ${names.join(", ")}): ${what}: ${message.slice(0, 300)}`);
      };
      const t0 = performance.now();
      try {
        materialise(draft, dir, file);
        readCheckpoint(file);
        loadCheckpointInto(model, file);
        // An accepted checkpoint saved again must read back (or not be written at all).
        const again = join(dir, "again");
        mkdirSync(again);
        const header = readCheckpoint(file).header;
        try {
          await saveCheckpoint(again, {
            meta: { ...header },
            params: model.params,
            buffers: model.buffers,
            optimizer: [],
          });
          readCheckpoint(again);
        } catch (err) {
          if (!(err instanceof CheckpointError && /not written/.test(err.message))) {
            report.unreadableWrites++;
            fail("unreadable write", err instanceof Error ? err.message : String(err));
          }
        }
        report.accepted++;
      } catch (err) {
        if (!(err instanceof CheckpointError)) {
          report.crashes++;
          fail("crash", err instanceof Error ? `${err.name}: ${err.message}` : String(err));
        } else if (!err.message.startsWith(file)) {
          // (A folder at the path is reported as the checkpoint.safetensors it lacks, inside it.)
          report.unnamed++;
          fail("message does not name the file", err.message);
        } else report.refused++;
      }
      report.slowestMillis = Math.max(report.slowestMillis, performance.now() - t0);
      const left = (function walk(d: string): number {
        let n = 0;
        for (const entry of readdirSync(d, { withFileTypes: true })) {
          if (entry.name.startsWith(".rs-tmp-")) n++;
          else if (entry.isDirectory() && !entry.isSymbolicLink()) n += walk(join(d, entry.name));
        }
        return n;
      })(dir);
      if (left > 0) {
        report.tempFilesLeft += left;
        fail("temp file left", `${left} in ${dir}`);
      }
      rmSync(dir, { recursive: true, force: true });
      if (onProgress && (i + 1) % 100 === 0) onProgress(i + 1);
    }
  } finally {
    model.dispose();
    rmSync(root, { recursive: true, force: true });
  }
  report.totalMillis = performance.now() - started;
  return report;
}

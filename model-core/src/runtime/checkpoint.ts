/**
 * Checkpoints both runtimes share (tfjs here, PyTorch in the exported module): one `checkpoint.safetensors` file.
 *   8-byte LE u64 header length N, N bytes of JSON header (space-padded to 8-byte alignment), then raw LE data.
 *   Header: { "__metadata__": {string → string}, "<tensor>": { dtype: "F32" | "I64", shape, data_offsets } }.
 * Tensor names are torchvision's state_dict keys in PyTorch layouts (conv OIHW, fc [out, in]); optimiser state is
 * `optimizer.<param>.<slot>` with PyTorch's slot names. The metadata carries the spec and its hash, counters, RNG
 * state, config, history and the sha256 of the data section. The exported model.py reads and writes the same files.
 * Written atomically (temp file in the same folder, fsync, rename, fsync of the folder); read with every field
 * checked by type and range, so a damaged file gets a message naming the file and the field.
 */
import { canonicalJson } from "../spec/identity";
import { createHash } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { readRegularFile, removeStaleTempFiles, writeFileAtomic } from "../safeFiles";
import * as tf from "@tensorflow/tfjs-core";
import type { ResNetSpec } from "../spec/types";
import { analyze } from "../analysis/analyze";
import { describeDifference, expectedStateShapes, stateDifferences } from "../weights/stateShapes";
import { validateConfig, type EpochMetrics, type OptimizerName, type TrainConfig } from "./trainTypes";

export const CHECKPOINT_FILE_NAME = "checkpoint.safetensors";
/** The file name of format 1 (before checkpoints moved to safetensors); recognised only to explain. */
export const LEGACY_CHECKPOINT_FILE_NAME = "checkpoint.rsckpt";
export const CHECKPOINT_FORMAT = "resnet-studio-checkpoint";
export const CHECKPOINT_VERSION = "2";
/** The safetensors reference limits its header to 100 MB; ours holds a spec and a history, far less. */
const MAX_HEADER_BYTES = 100_000_000;

export type TensorDtype = "F32" | "I64";

export interface StoredTensor {
  name: string;
  dtype: TensorDtype;
  shape: number[];
  /** F32 values, or I64 values as numbers (counters such as num_batches_tracked). */
  values: Float32Array | Float64Array;
}

export interface CheckpointHeader {
  format: typeof CHECKPOINT_FORMAT;
  version: typeof CHECKPOINT_VERSION;
  model: string;
  /** sha256 of the canonical JSON of the spec (see specHash). */
  specHash: string;
  spec: ResNetSpec;
  /** Epochs completed; a resumed run starts at this epoch. */
  epoch: number;
  globalStep: number;
  /** The shuffling RNG's state after `epoch` epochs. */
  rngState: number;
  optimizer: { kind: OptimizerName; step: number };
  config: TrainConfig;
  history: EpochMetrics[];
  backend: string;
  createdAt: string;
  dataSha256: string;
}

export interface Checkpoint {
  header: CheckpointHeader;
  /** By tensor name, in PyTorch layout. */
  tensors: Map<string, StoredTensor>;
  path: string;
}

/** A checkpoint that cannot be read or does not fit: the message names the file and the problem. */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CheckpointError";
  }
}

export { canonicalJson };

/** The spec without its display-only field (`name`): all that decides which weights fit and what they compute. */
export function architectureOf(spec: ResNetSpec): Omit<ResNetSpec, "name"> {
  const { name: _name, ...architecture } = spec;
  return architecture;
}

/**
 * A checkpoint's architecture identity: sha256 of the canonical JSON of the spec without its name. Comments and
 * formatting never reach the resolved spec, so a renamed or reformatted spec keeps its checkpoints.
 */
export function specHash(spec: ResNetSpec): string {
  return createHash("sha256")
    .update(canonicalJson(architectureOf(spec)))
    .digest("hex");
}

/** The hash older checkpoints carry (the name included); accepted when reading them. */
function specHashWithName(spec: ResNetSpec): string {
  return createHash("sha256").update(canonicalJson(spec)).digest("hex");
}

/** `path` may be a checkpoint file or a folder holding checkpoint.safetensors (or a format-1 checkpoint.rsckpt). */
export function resolveCheckpointPath(path: string): string {
  if (existsSync(path) && statSync(path).isDirectory()) {
    const current = join(path, CHECKPOINT_FILE_NAME);
    const legacy = join(path, LEGACY_CHECKPOINT_FILE_NAME);
    return !existsSync(current) && existsSync(legacy) ? legacy : current;
  }
  return path;
}

// ---------------------------------------------------------------------------------------------------------------
// safetensors encoding (pure: bytes in, bytes out)

/** Encodes tensors and string metadata as safetensors; adds dataSha256 to the metadata. Returns the file's chunks. */
export function encodeSafetensors(tensors: StoredTensor[], metadata: Record<string, string>): Uint8Array[] {
  const header: Record<string, unknown> = {};
  const blobs: Uint8Array[] = [];
  let offset = 0;
  const hash = createHash("sha256");
  for (const t of tensors) {
    let bytes: Uint8Array;
    if (t.dtype === "F32") {
      const f = t.values instanceof Float32Array ? t.values : Float32Array.from(t.values);
      bytes = new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
    } else {
      const ints = BigInt64Array.from(Array.from(t.values, (v) => BigInt(Math.trunc(v))));
      bytes = new Uint8Array(ints.buffer);
    }
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
    hash.update(bytes);
    blobs.push(bytes);
  }
  const json = JSON.stringify({ __metadata__: { ...metadata, dataSha256: hash.digest("hex") }, ...header });
  let headerBytes = Buffer.from(json, "utf8");
  const pad = (8 - (headerBytes.length % 8)) % 8;
  headerBytes = Buffer.concat([headerBytes, Buffer.alloc(pad, 0x20)]);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));
  return [prefix, headerBytes, ...blobs];
}

const DTYPE_BYTES: Record<TensorDtype, number> = { F32: 4, I64: 8 };
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Decodes a safetensors file: checks the header's structure, offsets, the data checksum and that floats are finite.
 * `weightsOnly` reads a plain state_dict as other writers save it: no `__metadata__`, no dataSha256 (checked if there).
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  file: string,
  options: { weightsOnly?: boolean } = {},
): { metadata: Record<string, string>; tensors: Map<string, StoredTensor> } {
  function fail(field: string, problem: string): never {
    throw new CheckpointError(`${file}: ${field}: ${problem}`);
  }
  if (bytes.length < 8)
    fail("header length", `file is ${bytes.length} bytes long, shorter than the 8-byte header length (truncated)`);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = buf.readBigUInt64LE(0);
  if (length > BigInt(MAX_HEADER_BYTES))
    fail("header length", `${length} bytes is more than ${MAX_HEADER_BYTES}: not a checkpoint, or damaged`);
  const headerEnd = 8 + Number(length);
  if (headerEnd > bytes.length)
    fail("header", `says ${length} bytes but the file has ${bytes.length - 8} after the length (truncated)`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(buf.toString("utf8", 8, headerEnd));
  } catch {
    fail("header", "is not valid JSON (damaged or truncated)");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) fail("header", "must be a JSON object");
  const header = parsed as Record<string, unknown>;
  const rawMeta = header.__metadata__ ?? (options.weightsOnly ? {} : undefined);
  if (typeof rawMeta !== "object" || rawMeta === null || Array.isArray(rawMeta))
    fail("__metadata__", "missing or not an object");
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(rawMeta as Record<string, unknown>)) {
    if (typeof value !== "string") fail(`__metadata__.${key}`, `must be a string, got ${JSON.stringify(value)}`);
    metadata[key] = value;
  }
  const dataLength = bytes.length - headerEnd;
  const data = bytes.subarray(headerEnd);
  const tensors = new Map<string, StoredTensor>();
  let expectedOffset = 0;
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const field = `tensor "${name}"`;
    if (typeof raw !== "object" || raw === null || Array.isArray(raw))
      fail(field, "must be an object {dtype, shape, data_offsets}");
    const entry = raw as Record<string, unknown>;
    if (entry.dtype !== "F32" && entry.dtype !== "I64")
      fail(`${field}.dtype`, `must be "F32" or "I64", got ${JSON.stringify(entry.dtype)}`);
    const dtype = entry.dtype;
    if (
      !Array.isArray(entry.shape) ||
      entry.shape.length > 8 ||
      !entry.shape.every((d) => Number.isInteger(d) && d >= 0 && d <= 2 ** 31)
    ) {
      fail(`${field}.shape`, `must be a list of at most 8 non-negative integers, got ${JSON.stringify(entry.shape)}`);
    }
    const shape = entry.shape as number[];
    const offsets = entry.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)
    ) {
      fail(`${field}.data_offsets`, `must be [begin, end] byte offsets, got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin || end > dataLength)
      fail(
        `${field}.data_offsets`,
        end < begin
          ? `end ${end} is before begin ${begin}`
          : `end ${end} is past the data section's ${dataLength} bytes (truncated file)`,
      );
    const count = shape.reduce((a, b) => a * b, 1);
    if (begin !== expectedOffset)
      fail(
        `${field}.data_offsets`,
        `begin ${begin} should be ${expectedOffset} (tensors are stored back to back in header order)`,
      );
    if (end - begin !== count * DTYPE_BYTES[dtype])
      fail(
        `${field}.data_offsets`,
        `span ${end - begin} bytes does not hold shape [${shape.join(",")}] of ${dtype} (${count * DTYPE_BYTES[dtype]} bytes)`,
      );
    expectedOffset = end;
    const slice = Uint8Array.prototype.slice.call(data, begin, end); // a copy (Buffer#slice would share), so aligned
    let values: Float32Array | Float64Array;
    if (dtype === "F32") {
      values = new Float32Array(slice.buffer, slice.byteOffset, count);
      for (let i = 0; i < values.length; i++) {
        if (!Number.isFinite(values[i]))
          fail(field, `value ${i} is ${values[i]}; a checkpoint holds finite weights only`);
      }
    } else {
      const ints = new BigInt64Array(slice.buffer, slice.byteOffset, count);
      for (let i = 0; i < ints.length; i++) {
        if (ints[i] < -MAX_SAFE || ints[i] > MAX_SAFE)
          fail(field, `value ${i} is ${ints[i]}, beyond the ±2^53 a counter can be`);
      }
      values = Float64Array.from(ints, (v) => Number(v));
    }
    tensors.set(name, { name, dtype, shape, values });
  }
  if (expectedOffset !== dataLength)
    fail("data", `${dataLength - expectedOffset} bytes after the last tensor (damaged file)`);
  const declared = metadata.dataSha256;
  if (declared === undefined) {
    if (options.weightsOnly) return { metadata, tensors };
    fail("__metadata__.dataSha256", "missing");
  }
  if (!/^[0-9a-f]{64}$/.test(declared))
    fail("__metadata__.dataSha256", `must be 64 hex digits, got ${JSON.stringify(declared)}`);
  const actual = createHash("sha256").update(data).digest("hex");
  if (actual !== declared)
    fail(
      "__metadata__.dataSha256",
      `the data's sha256 is ${actual.slice(0, 12)}…, the header says ${declared.slice(0, 12)}… (the tensors were changed or damaged)`,
    );
  return { metadata, tensors };
}

// ---------------------------------------------------------------------------------------------------------------
// checkpoint metadata

/** Every metadata field a version-2 checkpoint has (the TypeScript writer, the torch runner and train_ddp.py). */
const METADATA_FIELDS = new Set([
  "format",
  "version",
  "model",
  "spec",
  "specHash",
  "epoch",
  "globalStep",
  "rngState",
  "optimizer",
  "config",
  "history",
  "backend",
  "createdAt",
  "dataSha256",
]);

/** Parses and checks each metadata field; the error names the file and the field. */
export function parseCheckpointHeader(metadata: Record<string, string>, file: string): CheckpointHeader {
  function fail(field: string, problem: string): never {
    throw new CheckpointError(`${file}: metadata field "${field}": ${problem}`);
  }
  const text = (field: string): string => {
    const v = metadata[field];
    if (v === undefined) fail(field, "missing");
    return v;
  };
  const json = (field: string): unknown => {
    try {
      return JSON.parse(text(field));
    } catch {
      return fail(field, "is not valid JSON");
    }
  };
  const integer = (field: string, max: number): number => {
    const v = text(field);
    if (!/^(0|[1-9][0-9]*)$/.test(v) || Number(v) > max)
      fail(field, `must be an integer from 0 to ${max}, got ${JSON.stringify(v)}`);
    return Number(v);
  };
  for (const key of Object.keys(metadata)) {
    if (!METADATA_FIELDS.has(key))
      fail(key, `is not a field of a version ${CHECKPOINT_VERSION} checkpoint (damaged or edited)`);
  }
  if (text("format") !== CHECKPOINT_FORMAT)
    fail("format", `must be "${CHECKPOINT_FORMAT}", got ${JSON.stringify(metadata.format)}`);
  if (text("version") !== CHECKPOINT_VERSION)
    fail("version", `this ResNet Studio reads version ${CHECKPOINT_VERSION}, got ${JSON.stringify(metadata.version)}`);
  const model = text("model");
  const spec = json("spec");
  if (typeof spec !== "object" || spec === null || Array.isArray(spec) || typeof (spec as ResNetSpec).name !== "string")
    fail("spec", "must be a JSON object (the resolved spec)");
  const hash = text("specHash");
  if (!/^[0-9a-f]{64}$/.test(hash)) fail("specHash", `must be 64 hex digits, got ${JSON.stringify(hash)}`);
  const storedSpec = spec as ResNetSpec;
  if (specHash(storedSpec) !== hash && specHashWithName(storedSpec) !== hash)
    fail("specHash", "does not match the stored spec (the spec was edited)");
  const config = json("config");
  if (typeof config !== "object" || config === null || Array.isArray(config)) fail("config", "must be a JSON object");
  try {
    validateConfig(config as TrainConfig);
  } catch (err) {
    fail("config", err instanceof Error ? err.message : String(err));
  }
  const trainConfig = config as TrainConfig;
  const epoch = integer("epoch", trainConfig.epochs);
  const globalStep = integer("globalStep", Number.MAX_SAFE_INTEGER);
  if (trainConfig.maxSteps !== undefined && globalStep > trainConfig.maxSteps)
    fail("globalStep", `${globalStep} is beyond the config's maxSteps ${trainConfig.maxSteps}`);
  const rngState = integer("rngState", 0xffffffff);
  const optimizer = json("optimizer") as Record<string, unknown> | null;
  if (typeof optimizer !== "object" || optimizer === null) fail("optimizer", "must be a JSON object {kind, step}");
  const opt = optimizer;
  if (opt.kind !== "adam" && opt.kind !== "sgd")
    fail("optimizer", `kind must be "adam" or "sgd", got ${JSON.stringify(opt.kind)}`);
  // Adam's bias correction raises β to the step: 1e300 is an integer, but no run gets there.
  if (!(Number.isSafeInteger(opt.step) && (opt.step as number) >= 0))
    fail("optimizer", `step must be an integer from 0 to 2^53, got ${JSON.stringify(opt.step)}`);
  if (opt.kind !== trainConfig.optimizer)
    fail("optimizer", `kind ${String(opt.kind)} differs from the config's ${trainConfig.optimizer}`);
  const history = json("history");
  if (!Array.isArray(history)) fail("history", "must be a JSON list of epoch metrics");
  const epochs = history as unknown[];
  if (epochs.length !== epoch)
    fail("history", `has ${epochs.length} epochs, the checkpoint says ${epoch} were completed`);
  epochs.forEach((e, i) => {
    const m = e as Record<string, unknown> | null;
    if (typeof m !== "object" || m === null || m.epoch !== i)
      fail("history", `entry ${i} must be an object with epoch ${i}`);
    for (const key of ["loss", "accuracy", "lr", "imagesPerSecond", "seconds", "trainSamples", "valSamples"]) {
      if (typeof m[key] !== "number") fail("history", `entry ${i}: ${key} must be a number`);
    }
  });
  const backend = text("backend");
  const createdAt = text("createdAt");
  if (Number.isNaN(Date.parse(createdAt))) fail("createdAt", `must be an ISO date, got ${JSON.stringify(createdAt)}`);
  return {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    model,
    // Today's identity, also for a file written when the name was part of the hash.
    specHash: specHash(storedSpec),
    spec: storedSpec,
    epoch,
    globalStep,
    rngState,
    optimizer: { kind: opt.kind, step: opt.step as number },
    config: trainConfig,
    history: epochs as EpochMetrics[],
    backend,
    createdAt,
    dataSha256: text("dataSha256"),
  };
}

export function checkpointMetadata(meta: CheckpointContents["meta"]): Record<string, string> {
  return {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    model: meta.model,
    spec: JSON.stringify(meta.spec),
    specHash: specHash(meta.spec),
    epoch: String(meta.epoch),
    globalStep: String(meta.globalStep),
    rngState: String(meta.rngState >>> 0),
    optimizer: JSON.stringify(meta.optimizer),
    config: JSON.stringify(meta.config),
    history: JSON.stringify(meta.history),
    backend: meta.backend,
    createdAt: new Date().toISOString(),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// tfjs ↔ PyTorch layouts

/**
 * tfjs holds conv weights HWIO [kh, kw, in/groups, out] and fc weights [in, out]; PyTorch OIHW and [out, in]. Every
 * rank-4 tensor of a model (and its optimiser slots) is a conv weight and every rank-2 one an fc weight.
 */
function toTorchLayout(t: tf.Tensor): tf.Tensor {
  if (t.rank === 4) return tf.transpose(t, [3, 2, 0, 1]);
  if (t.rank === 2) return tf.transpose(t);
  return tf.clone(t);
}

export function fromTorchLayout(values: Float32Array, torchShape: number[]): tf.Tensor {
  const t = tf.tensor(values, torchShape, "float32");
  if (torchShape.length === 4) return tf.transpose(t, [2, 3, 1, 0]);
  if (torchShape.length === 2) return tf.transpose(t);
  return t;
}

export const tfShapeOf = (torchShape: number[]): number[] =>
  torchShape.length === 4
    ? [torchShape[2], torchShape[3], torchShape[1], torchShape[0]]
    : torchShape.length === 2
      ? [torchShape[1], torchShape[0]]
      : torchShape;

/** The inverse of tfShapeOf: a tfjs variable's shape in PyTorch layout, as the file stores it. */
const torchShapeOf = (tfShape: readonly number[]): number[] =>
  tfShape.length === 4
    ? [tfShape[3], tfShape[2], tfShape[0], tfShape[1]]
    : tfShape.length === 2
      ? [tfShape[1], tfShape[0]]
      : tfShape.slice();

export interface CheckpointContents {
  meta: Omit<CheckpointHeader, "format" | "version" | "createdAt" | "specHash" | "dataSha256">;
  /** Model parameters and BN buffers, keyed by state_dict name, in tfjs layout. */
  params: Iterable<[string, tf.Variable]>;
  buffers: Iterable<[string, tf.Variable]>;
  /** Optimiser slots keyed `optimizer.<param>.<slot>`, in tfjs layout. */
  optimizer: Iterable<[string, tf.Variable]>;
}

/** Model (and optimiser) tensors in PyTorch layouts, with num_batches_tracked (= globalStep) beside every BN's statistics. */
export async function torchLayoutTensors(
  params: Iterable<[string, tf.Variable]>,
  buffers: Iterable<[string, tf.Variable]>,
  optimizer: Iterable<[string, tf.Variable]>,
  globalStep: number,
): Promise<StoredTensor[]> {
  const tensors: StoredTensor[] = [];
  const add = async (name: string, v: tf.Variable) => {
    const t = tf.tidy(() => toTorchLayout(v));
    tensors.push({ name, dtype: "F32", shape: t.shape.slice(), values: (await t.data()) as Float32Array });
    t.dispose();
  };
  for (const [name, v] of params) await add(name, v);
  for (const [name, v] of buffers) {
    await add(name, v);
    // PyTorch's BatchNorm2d counts its training batches; one update per optimisation step here.
    if (name.endsWith(".running_var")) {
      tensors.push({
        name: name.replace(/running_var$/, "num_batches_tracked"),
        dtype: "I64",
        shape: [],
        values: Float64Array.of(globalStep),
      });
    }
  }
  for (const [name, v] of optimizer) await add(name, v);
  return tensors;
}

/** Converts to PyTorch layouts and writes the file atomically. */
export async function saveCheckpoint(path: string, contents: CheckpointContents): Promise<string> {
  const file = resolveCheckpointPath(path);
  const tensors = await torchLayoutTensors(
    contents.params,
    contents.buffers,
    contents.optimizer,
    contents.meta.globalStep,
  );
  const chunks = encodeSafetensors(tensors, checkpointMetadata(contents.meta));
  // Never write a checkpoint the reader refuses (weights that overflowed to NaN, a bad counter): the last good one
  // stays. Reading back from memory costs one more sha256 of the data, small beside an epoch.
  const bytes = Buffer.concat(chunks);
  try {
    const { metadata, tensors: decoded } = decodeSafetensors(bytes, file);
    parseCheckpointHeader(metadata, file);
    checkTensorValues(decoded, file);
  } catch (err) {
    const reason = err instanceof Error ? err.message.replace(`${file}: `, "") : String(err);
    throw new CheckpointError(`${file}: not written, it could not be read back: ${reason}`);
  }
  try {
    writeFileAtomic(file, bytes);
  } catch (err) {
    throw new CheckpointError(err instanceof Error ? err.message : String(err));
  }
  return file;
}

// ---------------------------------------------------------------------------------------------------------------
// files

export { removeStaleTempFiles, writeFileAtomic };

/**
 * Larger is not a checkpoint: ResNet-152 with Adam's two slots is 0.7 GB, and node reads at most 2 GiB into one buffer.
 */
export const MAX_CHECKPOINT_BYTES = 2 ** 31 - 1;

export function readCheckpoint(path: string): Checkpoint {
  const file = resolveCheckpointPath(path);
  if (!existsSync(file)) throw new CheckpointError(`${file}: no checkpoint there`);
  let bytes: Buffer;
  try {
    bytes = readRegularFile(file, MAX_CHECKPOINT_BYTES, "checkpoint");
  } catch (err) {
    throw new CheckpointError(err instanceof Error ? err.message : String(err));
  }
  if (bytes.length >= 8 && bytes.toString("ascii", 0, 8) === "RSCKPT01") {
    throw new CheckpointError(
      `${file}: a format-1 checkpoint (.rsckpt) from an older ResNet Studio; checkpoints are now ${CHECKPOINT_FILE_NAME} (safetensors, shared with PyTorch). Train again to write one`,
    );
  }
  const { metadata, tensors } = decodeSafetensors(bytes, file);
  const header = parseCheckpointHeader(metadata, file);
  checkTensorValues(tensors, file);
  return { header, tensors, path: file };
}

/**
 * Values no training produces: a negative BN running variance or Adam second moment (the square root of it is taken),
 * a negative batch count, a counter that is not I64.
 */
export function checkTensorValues(tensors: Map<string, StoredTensor>, file: string): void {
  for (const t of tensors.values()) {
    const counter = t.name.endsWith(".num_batches_tracked");
    if (counter !== (t.dtype === "I64"))
      throw new CheckpointError(
        `${file}: tensor "${t.name}": dtype ${t.dtype}, expected ${counter ? "I64 (a batch count)" : "F32"}`,
      );
    const nonNegative = counter || t.name.endsWith(".running_var") || t.name.endsWith(".exp_avg_sq");
    if (!nonNegative) continue;
    const i = t.values.findIndex((v) => v < 0);
    if (i >= 0)
      throw new CheckpointError(
        `${file}: tensor "${t.name}": value ${i} is ${t.values[i]}; ${counter ? "a count" : "a variance"} is never negative`,
      );
  }
}

/**
 * Refuses tensors that are none of `expected` (the model's parameters and buffers, with their num_batches_tracked,
 * and, where `optimizerSlots` is given, those slots of each parameter): a file with extra tensors was edited or is
 * for another network, and silently ignoring them would hide that.
 */
export function assertNoExtraTensors(
  checkpoint: Checkpoint,
  expected: Iterable<string>,
  optimizerSlots: readonly string[] = ["momentum_buffer", "exp_avg", "exp_avg_sq"],
  parameters: Iterable<string> = [],
): void {
  const known = new Set(expected);
  for (const name of [...known])
    if (name.endsWith(".running_var")) known.add(name.replace(/running_var$/, "num_batches_tracked"));
  for (const p of parameters) for (const slot of optimizerSlots) known.add(`optimizer.${p}.${slot}`);
  const extra = [...checkpoint.tensors.keys()].filter((name) => !known.has(name));
  if (extra.length > 0)
    throw new CheckpointError(
      `${checkpoint.path}: tensor "${extra[0]}"${extra.length > 1 ? ` and ${extra.length - 1} more` : ""}: not a tensor of this model (the file was edited, or is for another network)`,
    );
}

/**
 * Refuses a checkpoint made for another network: names the first layer whose tensors differ with both shapes, or,
 * where every tensor fits, the spec fields that differ (a stride, the input, a shortcut variant).
 */
export function assertSameSpec(checkpoint: Checkpoint, spec: ResNetSpec): void {
  const expected = specHash(spec);
  if (checkpoint.header.specHash === expected) return;
  const stored = checkpoint.header.spec;
  const prefix =
    checkpoint.header.model === spec.name
      ? `${checkpoint.path}: checkpoint is for another network named "${spec.name}"`
      : `${checkpoint.path}: checkpoint is for spec "${checkpoint.header.model}", not for "${spec.name}"`;
  const graph = analyze(spec).graph;
  if (graph) {
    const fileShapes = [...checkpoint.tensors.values()]
      .filter((t) => !t.name.startsWith("optimizer."))
      .map((t) => ({ name: t.name, shape: t.shape }));
    const first = stateDifferences(expectedStateShapes(graph), fileShapes)[0];
    if (first)
      throw new CheckpointError(
        `${prefix}: ${describeDifference(first, "the spec", "the checkpoint")}, so its weights cannot be loaded`,
      );
  }
  const a = architectureOf(stored) as unknown as Record<string, unknown>;
  const b = architectureOf(spec) as unknown as Record<string, unknown>;
  const fields = [...new Set([...Object.keys(a), ...Object.keys(b)])]
    .filter((k) => canonicalJson(a[k]) !== canonicalJson(b[k]))
    .sort();
  const detail = fields
    .map((k) => `${k} is ${canonicalJson(a[k])} in the checkpoint, ${canonicalJson(b[k])} in the spec`)
    .join("; ");
  throw new CheckpointError(
    `${prefix}: every tensor has its shape, but ${detail || "the architecture differs"}, so the weights would compute another function`,
  );
}

/** Refuses to resume another network, another optimiser (its state would be dropped), or a run already past `config.epochs`. */
export function assertResumable(checkpoint: Checkpoint, spec: ResNetSpec, config: TrainConfig): void {
  assertSameSpec(checkpoint, spec);
  const { optimizer, epoch } = checkpoint.header;
  if (optimizer.kind !== config.optimizer) {
    throw new CheckpointError(
      `${checkpoint.path}: checkpoint was trained with ${optimizer.kind}; resuming with ${config.optimizer} would drop its state (pass --optimizer ${optimizer.kind})`,
    );
  }
  if (epoch > config.epochs) {
    throw new CheckpointError(
      `${checkpoint.path}: checkpoint has ${epoch} epochs done, more than the ${config.epochs} this run asks for (pass --epochs ${epoch + 1} or more to continue)`,
    );
  }
}

/** Assigns the checkpoint's values (PyTorch layout) to tfjs variables by name, checking shapes. `what` names the group in errors. */
export function restoreVariables(
  checkpoint: Checkpoint,
  what: string,
  variables: Iterable<[string, tf.Variable]>,
): void {
  for (const [name, variable] of variables) {
    const stored = checkpoint.tensors.get(name);
    if (!stored)
      throw new CheckpointError(
        `${checkpoint.path}: tensor "${name}": missing (the checkpoint has no ${what} of that name)`,
      );
    if (stored.dtype !== "F32")
      throw new CheckpointError(`${checkpoint.path}: tensor "${name}": dtype ${stored.dtype}, expected F32`);
    if (tfShapeOf(stored.shape).join("x") !== variable.shape.join("x")) {
      throw new CheckpointError(
        `${checkpoint.path}: tensor "${name}": the file has shape [${stored.shape.join(",")}], the model's ${what} is [${torchShapeOf(variable.shape).join(",")}] (PyTorch layout)`,
      );
    }
    tf.tidy(() => variable.assign(fromTorchLayout(stored.values as Float32Array, stored.shape)));
  }
}

/** Minimal view of a model for loading weights (TfModel fits it). */
export interface WeightHolder {
  readonly graph: { spec: ResNetSpec };
  readonly params: Map<string, tf.Variable>;
  readonly buffers: Map<string, tf.Variable>;
}

/** Loads a checkpoint's weights and BN statistics into a model built from the same spec. */
export function loadCheckpointInto(model: WeightHolder, path: string): Checkpoint {
  const checkpoint = readCheckpoint(path);
  assertSameSpec(checkpoint, model.graph.spec);
  assertNoExtraTensors(checkpoint, [...model.params.keys(), ...model.buffers.keys()], undefined, model.params.keys());
  restoreVariables(checkpoint, "parameter", model.params);
  restoreVariables(checkpoint, "buffer", model.buffers);
  return checkpoint;
}

/**
 * Checkpoints: one file, `<name>.rsckpt`:
 *   bytes 0..7   "RSCKPT01"
 *   bytes 8..11  uint32 LE length L of the JSON header (padded with spaces so the blob starts 4-byte aligned)
 *   bytes 12..   header JSON: format version, spec + its sha256, epoch/step counters, RNG state, config, history, and a
 *                table of tensors {name, group, shape, offset, length} (offset/length in float32 elements)
 *   then         the tensors' float32 little-endian values, back to back.
 * Written atomically (temp file in the same folder, fsync, rename, fsync of the folder), so a crash or a cancel
 * leaves either the previous checkpoint or the new one, never a torn file.
 */
import { canonicalJson } from "../spec/identity";
import { createHash } from "node:crypto";
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import type { ResNetSpec } from "../spec/types";
import type { EpochMetrics, OptimizerName, TrainConfig } from "./trainTypes";

const MAGIC = "RSCKPT01";
export const CHECKPOINT_FILE_NAME = "checkpoint.rsckpt";

export type TensorGroup = "param" | "buffer" | "optimizer";

export interface TensorEntry {
  name: string;
  group: TensorGroup;
  shape: number[];
  offset: number;
  length: number;
}

export interface CheckpointHeader {
  format: "resnet-studio-checkpoint";
  version: 1;
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
  tensors: TensorEntry[];
}

export interface Checkpoint {
  header: CheckpointHeader;
  /** Values by tensor name. */
  tensors: Map<string, { entry: TensorEntry; values: Float32Array }>;
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

export function specHash(spec: ResNetSpec): string {
  return createHash("sha256").update(canonicalJson(spec)).digest("hex");
}

/** `path` may be a checkpoint file or a folder holding checkpoint.rsckpt. */
export function resolveCheckpointPath(path: string): string {
  if (existsSync(path) && statSync(path).isDirectory()) return join(path, CHECKPOINT_FILE_NAME);
  return path;
}

export interface CheckpointContents {
  meta: Omit<CheckpointHeader, "format" | "version" | "tensors" | "createdAt" | "specHash">;
  tensors: { name: string; group: TensorGroup; tensor: tf.Tensor }[];
}

/** Reads the tensors' values and writes the file atomically. */
export async function saveCheckpoint(path: string, contents: CheckpointContents): Promise<string> {
  const file = resolveCheckpointPath(path);
  const entries: TensorEntry[] = [];
  const blobs: Float32Array[] = [];
  let offset = 0;
  for (const { name, group, tensor } of contents.tensors) {
    const values = (await tensor.data()) as Float32Array;
    entries.push({ name, group, shape: tensor.shape.slice(), offset, length: values.length });
    blobs.push(values instanceof Float32Array ? values : Float32Array.from(values));
    offset += values.length;
  }
  const header: CheckpointHeader = {
    format: "resnet-studio-checkpoint",
    version: 1,
    ...contents.meta,
    specHash: specHash(contents.meta.spec),
    createdAt: new Date().toISOString(),
    tensors: entries,
  };
  let json = Buffer.from(JSON.stringify(header), "utf8");
  const pad = (4 - ((MAGIC.length + 4 + json.length) % 4)) % 4;
  json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const prefix = Buffer.alloc(MAGIC.length + 4);
  prefix.write(MAGIC, 0, "ascii");
  prefix.writeUInt32LE(json.length, MAGIC.length);
  writeFileAtomic(file, [prefix, json, ...blobs.map((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength))]);
  return file;
}

/** Temp file next to the target, fsync, rename over it, fsync the folder. The temp file is removed if anything fails. */
export function writeFileAtomic(file: string, chunks: Uint8Array[]): void {
  const tmp = join(dirname(file), `.${Math.random().toString(36).slice(2)}-${process.pid}.tmp`);
  const fd = openSync(tmp, "w");
  try {
    for (const chunk of chunks) {
      let written = 0;
      while (written < chunk.length) written += writeSync(fd, chunk, written, chunk.length - written);
    }
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, file);
  } catch (err) {
    unlinkSync(tmp);
    throw err;
  }
  try {
    const dirFd = openSync(dirname(file), "r");
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  } catch {
    // Some platforms (Windows) cannot fsync a folder; the rename is still atomic there.
  }
}

export function readCheckpoint(path: string): Checkpoint {
  const file = resolveCheckpointPath(path);
  if (!existsSync(file)) throw new CheckpointError(`${file}: no checkpoint there`);
  const bytes = readFileSync(file);
  if (bytes.length < MAGIC.length + 4 || bytes.toString("ascii", 0, MAGIC.length) !== MAGIC) {
    throw new CheckpointError(`${file}: not a ResNet Studio checkpoint (bad magic)`);
  }
  const headerLength = bytes.readUInt32LE(MAGIC.length);
  const blobStart = MAGIC.length + 4 + headerLength;
  if (blobStart > bytes.length) throw new CheckpointError(`${file}: truncated checkpoint header`);
  let header: CheckpointHeader;
  try {
    header = JSON.parse(bytes.toString("utf8", MAGIC.length + 4, blobStart)) as CheckpointHeader;
  } catch {
    throw new CheckpointError(`${file}: corrupt checkpoint header`);
  }
  if (header.format !== "resnet-studio-checkpoint" || header.version !== 1) {
    throw new CheckpointError(`${file}: unsupported checkpoint format ${String(header.format)} v${String(header.version)}`);
  }
  const floats = (bytes.length - blobStart) / 4;
  const aligned = new Float32Array(floats);
  new Uint8Array(aligned.buffer).set(bytes.subarray(blobStart, blobStart + floats * 4));
  const tensors = new Map<string, { entry: TensorEntry; values: Float32Array }>();
  for (const entry of header.tensors) {
    if (entry.offset + entry.length > floats) throw new CheckpointError(`${file}: truncated checkpoint (tensor ${entry.name})`);
    tensors.set(entry.name, { entry, values: aligned.subarray(entry.offset, entry.offset + entry.length) });
  }
  return { header, tensors, path: file };
}

/** Refuses a checkpoint made for another network, naming both. */
export function assertSameSpec(checkpoint: Checkpoint, spec: ResNetSpec): void {
  const expected = specHash(spec);
  if (checkpoint.header.specHash !== expected) {
    throw new CheckpointError(
      `${checkpoint.path}: checkpoint is for spec "${checkpoint.header.model}" (sha256 ${checkpoint.header.specHash.slice(0, 12)}…), ` +
        `not for "${spec.name}" (sha256 ${expected.slice(0, 12)}…); the architecture differs, so its weights cannot be loaded`,
    );
  }
}

/** Assigns the checkpoint's values to variables by name (params, buffers or optimizer slots), checking shapes. */
export function restoreVariables(checkpoint: Checkpoint, group: TensorGroup, variables: Iterable<[string, tf.Variable]>): void {
  for (const [name, variable] of variables) {
    const stored = checkpoint.tensors.get(name);
    if (!stored || stored.entry.group !== group) throw new CheckpointError(`${checkpoint.path}: checkpoint has no ${group} "${name}"`);
    if (stored.entry.shape.join("x") !== variable.shape.join("x")) {
      throw new CheckpointError(`${checkpoint.path}: ${name} has shape [${stored.entry.shape}] in the checkpoint, [${variable.shape}] in the model`);
    }
    tf.tidy(() => variable.assign(tf.tensor(stored.values, variable.shape, "float32")));
  }
}

/** Minimal view of a model for loading weights (engineer D1's TfModel fits it). */
export interface WeightHolder {
  readonly graph: { spec: ResNetSpec };
  readonly params: Map<string, tf.Variable>;
  readonly buffers: Map<string, tf.Variable>;
}

/** Loads a checkpoint's weights and BN statistics into a model built from the same spec. */
export function loadCheckpointInto(model: WeightHolder, path: string): Checkpoint {
  const checkpoint = readCheckpoint(path);
  assertSameSpec(checkpoint, model.graph.spec);
  restoreVariables(checkpoint, "param", model.params);
  restoreVariables(checkpoint, "buffer", model.buffers);
  return checkpoint;
}

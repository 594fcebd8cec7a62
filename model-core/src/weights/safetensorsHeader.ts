/**
 * A safetensors file's tensor names, dtypes and shapes, from its header alone: inferring a spec needs no weight, so
 * only the 8-byte length and the JSON header are read, whatever the file's size (a 241 MB ResNet-152 costs a few KB).
 * Every offset is still checked against the file's size, so a damaged file is named as damaged before anything
 * trusts it. Format: 8-byte LE u64 header length N, N bytes of JSON, then raw data
 * (https://github.com/huggingface/safetensors#format).
 */
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { fsProblem } from "../safeFiles";

/** The safetensors reference refuses headers over 100 MB. */
const MAX_HEADER_BYTES = 100_000_000;

/** Bytes per element of each safetensors dtype. */
const DTYPE_BYTES: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  U64: 8,
  I32: 4,
  U32: 4,
  I16: 2,
  U16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
};

export interface HeaderTensor {
  name: string;
  dtype: string;
  shape: number[];
}

export interface SafetensorsHeader {
  metadata: Record<string, string>;
  /** In the header's order. */
  tensors: HeaderTensor[];
}

/** A weights file that cannot be read: the message names the file and, where one is at fault, the field. */
export class WeightsFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WeightsFileError";
  }
}

function readExactly(fd: number, length: number, position: number): Buffer {
  const bytes = Buffer.alloc(length);
  let read = 0;
  while (read < length) {
    const n = readSync(fd, bytes, read, length - read, position + read);
    if (n === 0) break;
    read += n;
  }
  return bytes.subarray(0, read);
}

/** Checks the header of `bytes` (the 8-byte length and the JSON) against a file of `fileSize` bytes. Pure. */
export function parseSafetensorsHeader(
  prefix: Uint8Array,
  headerBytes: Uint8Array | null,
  fileSize: number,
  file: string,
): SafetensorsHeader {
  function fail(field: string, problem: string): never {
    throw new WeightsFileError(`${file}: ${field}: ${problem}`);
  }
  if (prefix.length < 8)
    fail(
      "header length",
      `file is ${fileSize} bytes long, shorter than the 8-byte header length (not safetensors, or truncated)`,
    );
  const length = Buffer.from(prefix.buffer, prefix.byteOffset, 8).readBigUInt64LE(0);
  if (length > BigInt(MAX_HEADER_BYTES))
    fail("header length", `${length} bytes is more than ${MAX_HEADER_BYTES}: not a safetensors file, or damaged`);
  const headerLength = Number(length);
  if (8 + headerLength > fileSize)
    fail("header", `says ${headerLength} bytes but the file has ${fileSize - 8} after the length (truncated)`);
  if (headerBytes === null || headerBytes.length !== headerLength) fail("header", "could not be read in full");
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(headerBytes).toString("utf8"));
  } catch {
    fail("header", "is not valid JSON (not safetensors, or damaged)");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) fail("header", "must be a JSON object");
  const metadata: Record<string, string> = {};
  const rawMeta = (parsed as Record<string, unknown>).__metadata__;
  if (rawMeta !== undefined) {
    if (typeof rawMeta !== "object" || rawMeta === null || Array.isArray(rawMeta))
      fail("__metadata__", "must be an object of strings");
    for (const [key, value] of Object.entries(rawMeta as Record<string, unknown>)) {
      if (typeof value !== "string") fail(`__metadata__.${key}`, `must be a string, got ${JSON.stringify(value)}`);
      metadata[key] = value;
    }
  }
  const dataLength = fileSize - 8 - headerLength;
  const tensors: HeaderTensor[] = [];
  const spans: { name: string; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === "__metadata__") continue;
    const field = `tensor "${name}"`;
    if (typeof raw !== "object" || raw === null || Array.isArray(raw))
      fail(field, "must be an object {dtype, shape, data_offsets}");
    const entry = raw as Record<string, unknown>;
    const dtype = entry.dtype;
    if (typeof dtype !== "string" || !(dtype in DTYPE_BYTES))
      fail(`${field}.dtype`, `must be one of ${Object.keys(DTYPE_BYTES).join(", ")}, got ${JSON.stringify(dtype)}`);
    const shape = entry.shape;
    if (!Array.isArray(shape) || shape.length > 8 || !shape.every((d) => Number.isInteger(d) && d >= 0 && d <= 2 ** 31))
      fail(`${field}.shape`, `must be a list of at most 8 non-negative integers, got ${JSON.stringify(shape)}`);
    const offsets = entry.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)
    )
      fail(`${field}.data_offsets`, `must be [begin, end] byte offsets, got ${JSON.stringify(offsets)}`);
    const [begin, end] = offsets as [number, number];
    if (end < begin) fail(`${field}.data_offsets`, `end ${end} is before begin ${begin}`);
    if (end > dataLength)
      fail(`${field}.data_offsets`, `end ${end} is past the data section's ${dataLength} bytes (truncated or damaged)`);
    const bytes = (shape as number[]).reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
    if (end - begin !== bytes)
      fail(
        `${field}.data_offsets`,
        `span ${end - begin} bytes does not hold shape [${(shape as number[]).join(",")}] of ${dtype} (${bytes} bytes)`,
      );
    tensors.push({ name, dtype, shape: shape as number[] });
    spans.push({ name, begin, end });
  }
  // The tensors tile the data section: sorted by offset, each starts where the previous ends.
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const span of spans) {
    if (span.begin < expected)
      fail(
        `tensor "${span.name}".data_offsets`,
        `begin ${span.begin} overlaps the tensor before it (which ends at ${expected})`,
      );
    if (span.begin > expected)
      fail(`tensor "${span.name}".data_offsets`, `begin ${span.begin} leaves a gap after byte ${expected}`);
    expected = span.end;
  }
  if (expected !== dataLength) fail("data", `${dataLength - expected} bytes after the last tensor (damaged file)`);
  return { metadata, tensors };
}

/** Reads the header of the safetensors file `file` (never its data). */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    throw new WeightsFileError(`${file}: cannot read the weights: ${fsProblem(err)}`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new WeightsFileError(`${file}: not a regular file, so not a weights file`);
    const prefix = readExactly(fd, Math.min(8, stat.size), 0);
    let headerBytes: Buffer | null = null;
    if (prefix.length === 8) {
      const length = prefix.readBigUInt64LE(0);
      // Read only a header the checks can accept; the parser then says what is wrong with any other.
      if (length <= BigInt(MAX_HEADER_BYTES) && 8 + Number(length) <= stat.size)
        headerBytes = readExactly(fd, Number(length), 8);
    }
    return parseSafetensorsHeader(prefix, headerBytes, stat.size, file);
  } catch (err) {
    if (err instanceof WeightsFileError) throw err;
    throw new WeightsFileError(`${file}: cannot read the weights: ${fsProblem(err)}`);
  } finally {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }
}

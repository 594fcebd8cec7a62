/**
 * The header-only safetensors reader used to infer a spec: hostile headers (overlapping or out-of-range offsets, a
 * 2^63 header length, a truncated file, a folder) each get one message naming the file and the field, and nothing is
 * allocated for a length the file cannot hold.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readSafetensorsHeader, WeightsFileError } from "../src/weights/safetensorsHeader";

function rawFile(tensors: Record<string, unknown>, dataBytes: number, headerLength?: bigint): Buffer {
  const json = Buffer.from(JSON.stringify({ __metadata__: { format: "pt" }, ...tensors }));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(headerLength ?? BigInt(json.length));
  return Buffer.concat([prefix, json, Buffer.alloc(dataBytes)]);
}
const f32 = (shape: number[], begin: number, end: number) => ({ dtype: "F32", shape, data_offsets: [begin, end] });

test("a good header is read without its data; the tensors may be stored in any order", () => {
  const dir = mkdtempSync(join(tmpdir(), "rs-header-"));
  try {
    const file = join(dir, "w.safetensors");
    // "b" is stored first, as the safetensors writer may do.
    writeFileSync(file, rawFile({ a: f32([2], 8, 16), b: { dtype: "BF16", shape: [2, 2], data_offsets: [0, 8] } }, 16));
    const header = readSafetensorsHeader(file);
    assert.deepEqual(header.tensors, [
      { name: "a", dtype: "F32", shape: [2] },
      { name: "b", dtype: "BF16", shape: [2, 2] },
    ]);
    assert.deepEqual(header.metadata, { format: "pt" });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("overlapping and out-of-range offsets, a 2^63 header length, truncation and folders are refused by name", () => {
  const dir = mkdtempSync(join(tmpdir(), "rs-header-"));
  try {
    const cases: [string, Buffer | null, RegExp][] = [
      [
        "overlap",
        rawFile({ a: f32([2], 0, 8), b: f32([2], 0, 8) }, 16),
        /tensor "[ab]"\.data_offsets: begin 0 overlaps the tensor before it/,
      ],
      [
        "gap",
        rawFile({ a: f32([1], 0, 4), b: f32([1], 8, 12) }, 12),
        /tensor "b"\.data_offsets: begin 8 leaves a gap after byte 4/,
      ],
      [
        "past the data",
        rawFile({ a: f32([4], 0, 16) }, 8),
        /tensor "a"\.data_offsets: end 16 is past the data section's 8 bytes/,
      ],
      ["end before begin", rawFile({ a: f32([0], 8, 0) }, 8), /tensor "a"\.data_offsets: end 0 is before begin 8/],
      [
        "offset beyond 2^53",
        rawFile({ a: f32([2], 0, 2 ** 64) }, 8),
        /tensor "a"\.data_offsets: must be \[begin, end\]/,
      ],
      ["span", rawFile({ a: f32([3], 0, 8) }, 8), /does not hold shape \[3\] of F32 \(12 bytes\)/],
      ["trailing bytes", rawFile({ a: f32([1], 0, 4) }, 8), /data: 4 bytes after the last tensor/],
      [
        "2^63 header length",
        rawFile({}, 8, 2n ** 63n),
        /header length: 9223372036854775808 bytes is more than 100000000/,
      ],
      [
        "header past the end",
        rawFile({}, 0, 4096n),
        /header: says 4096 bytes but the file has \d+ after the length \(truncated\)/,
      ],
      ["short file", Buffer.from([1, 2, 3]), /header length: file is 3 bytes long/],
      [
        "not JSON",
        Buffer.concat([Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from("{{{{")]),
        /header: is not valid JSON/,
      ],
      [
        "unknown dtype",
        rawFile({ a: { dtype: "F128", shape: [1], data_offsets: [0, 16] } }, 16),
        /tensor "a"\.dtype: must be one of/,
      ],
      ["a folder", null, /not a regular file/],
    ];
    for (const [what, bytes, message] of cases) {
      const file = join(dir, `${what.replace(/\W+/g, "_")}.safetensors`);
      if (bytes) writeFileSync(file, bytes);
      else mkdirSync(file);
      assert.throws(
        () => readSafetensorsHeader(file),
        (e: Error) => {
          assert.ok(e instanceof WeightsFileError, `${what}: ${e.name}: ${e.message}`);
          assert.ok(e.message.startsWith(`${file}: `), `${what}: names the file: ${e.message}`);
          assert.match(e.message, message, what);
          return true;
        },
        what,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

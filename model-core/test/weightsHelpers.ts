/** Weights-only safetensors files for tests, written as other tools write them (not by our encoder). */
import type { ModelGraph } from "../src/analysis/graph";
import { buildModel, torchStateDict } from "../src/runtime/model";

/** A safetensors file as other writers make it: no __metadata__, tensors back to back in header order. */
export function weightsOnlyFile(
  tensors: { name: string; shape: number[]; values: ArrayLike<number>; i64?: boolean }[],
): Buffer {
  const header: Record<string, unknown> = {};
  const blobs: Buffer[] = [];
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.i64
      ? Buffer.from(BigInt64Array.from(Array.from(t.values, (v) => BigInt(v))).buffer)
      : Buffer.from(Float32Array.from(t.values).buffer);
    header[t.name] = { dtype: t.i64 ? "I64" : "F32", shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
    blobs.push(bytes);
  }
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, ...blobs]);
}

/** The seeded weights of `graph` as a weights-only file: a state_dict without num_batches_tracked or metadata. */
export function seededWeightsFile(graph: ModelGraph, seed: number): Buffer {
  const model = buildModel(graph, { seed });
  try {
    return weightsOnlyFile(
      Object.entries(torchStateDict(model)).map(([name, t]) => ({ name, shape: t.shape, values: t.data })),
    );
  } finally {
    model.dispose();
  }
}

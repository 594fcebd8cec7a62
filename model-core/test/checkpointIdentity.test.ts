/**
 * A checkpoint's identity is its architecture: the spec's name is display only (a rename keeps the checkpoint), and
 * a real difference is named by its first differing layer and both shapes, or by the spec field that differs.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildModel } from "../src/runtime/model";
import { train } from "../src/runtime/train";
import {
  canonicalJson,
  CheckpointError,
  CHECKPOINT_FILE_NAME,
  decodeSafetensors,
  encodeSafetensors,
  loadCheckpointInto,
  readCheckpoint,
  specHash,
} from "../src/runtime/checkpoint";
import { syntheticDataset } from "../src/data/synthetic";
import { microGraph, tinyConfig, tinySpec, useCpu } from "./trainHelpers";

before(useCpu);

test("the architecture hash ignores the name; any other field changes it", () => {
  const spec = tinySpec();
  assert.equal(specHash({ ...spec, name: "renamed ✓" }), specHash(spec));
  assert.notEqual(specHash({ ...spec, classes: 4 }), specHash(spec));
  assert.notEqual(specHash({ ...spec, input: [1, 16, 16] }), specHash(spec));
});

async function trainedMicro(dir: string) {
  const data = { train: syntheticDataset({ count: 30, classes: 2, shape: [1, 4, 4], seed: 2 }), val: null };
  const model = buildModel(microGraph(), { seed: 1 });
  await train({ model, data, config: tinyConfig({ epochs: 1, batchSize: 8 }), checkpoint: dir });
  const weights = Object.fromEntries([...model.params].map(([n, v]) => [n, Array.from(v.dataSync())]));
  model.dispose();
  return { file: join(dir, CHECKPOINT_FILE_NAME), weights };
}

test("a renamed spec loads its checkpoint, also one written when the name was part of the hash", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rs-ckpt-identity-"));
  try {
    const { file, weights } = await trainedMicro(dir);
    const renamed = buildModel(microGraph({ name: "micro, renamed" }), { seed: 9 });
    const checkpoint = loadCheckpointInto(renamed, file);
    assert.equal(checkpoint.header.model, "micro");
    for (const [name, v] of renamed.params) assert.deepEqual(Array.from(v.dataSync()), weights[name], name);
    renamed.dispose();

    // A file from before: its specHash covers the name too. It is still read, and still loads after a rename.
    const { metadata, tensors } = decodeSafetensors(readFileSync(file), file);
    const spec = JSON.parse(metadata.spec) as ReturnType<typeof tinySpec>;
    const withName = createHash("sha256").update(canonicalJson(spec)).digest("hex");
    assert.notEqual(withName, metadata.specHash);
    const { dataSha256: _, ...rest } = metadata;
    const older = join(dir, "older.safetensors");
    writeFileSync(older, Buffer.concat(encodeSafetensors([...tensors.values()], { ...rest, specHash: withName })));
    assert.equal(readCheckpoint(older).header.specHash, specHash(spec), "read with today's identity");
    const again = buildModel(microGraph({ name: "another name" }), { seed: 9 });
    loadCheckpointInto(again, older);
    again.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("another architecture is refused naming the first differing layer and both shapes, or the differing field", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rs-ckpt-identity-"));
  try {
    const { file } = await trainedMicro(dir);
    const refuses = (graph: ReturnType<typeof microGraph>, message: RegExp) => {
      const model = buildModel(graph, { seed: 1 });
      try {
        assert.throws(
          () => loadCheckpointInto(model, file),
          (e: Error) => e instanceof CheckpointError && e.message.startsWith(`${file}: `) && message.test(e.message),
        );
      } finally {
        model.dispose();
      }
    };
    refuses(
      microGraph({ name: "more classes", classes: 3 }),
      /checkpoint is for spec "micro", not for "more classes": layer fc: fc\.weight is \[2, 2\] in the checkpoint, \[3, 2\] in the spec/,
    );
    refuses(
      microGraph({ stages: [{ channels: 2, blocks: 2, stride: 1 }] }),
      /layer layer1\.1\.conv1: layer1\.1\.conv1\.weight \[2, 2, 3, 3\] is in the spec, not in the checkpoint/,
    );
    // Same tensors, another function: the field is named, with both values.
    refuses(
      microGraph({ shortcutVariant: { kind: "constantScaling", lambda: 0.5, residualScale: 0.5 } }),
      /every tensor has its shape, but shortcutVariant is \{"kind":"identity"\} in the checkpoint, \{"kind":"constantScaling",.*\} in the spec/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

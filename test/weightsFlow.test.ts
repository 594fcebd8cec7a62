/**
 * The editor's "New Spec from Weights…" and "Export Trained Model as PyTorch" flows (extension/src/pure/weightsFlow.ts)
 * with a fake UI: their success paths write and open the right files; refusals say why and write nothing.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportTrainedFlow, newSpecFromWeights, type WeightsUi } from "../extension/src/pure/weightsFlow";
import { analyzeOrThrow } from "../model-core/src/analysis/analyze";
import { syntheticDataset } from "../model-core/src/data/synthetic";
import { initBackend } from "../model-core/src/runtime/backend";
import { CHECKPOINT_FILE_NAME, encodeSafetensors } from "../model-core/src/runtime/checkpoint";
import { buildModel } from "../model-core/src/runtime/model";
import { train } from "../model-core/src/runtime/train";
import { DEFAULT_TRAIN_CONFIG } from "../model-core/src/runtime/trainTypes";
import { resnet } from "../model-core/src/spec/builders";
import { loadSpec } from "../model-core/src/load";
import { expectedStateShapes } from "../model-core/src/weights/stateShapes";

before(() => initBackend("cpu"));

interface Recorded {
  written: string[];
  opened: { path: string; withDiagram: boolean }[];
  infos: string[];
  errors: string[];
}

function fakeUi(answers: { weights?: string | null; folder?: string | null } = {}): WeightsUi & Recorded {
  const recorded: Recorded = { written: [], opened: [], infos: [], errors: [] };
  return {
    ...recorded,
    pickWeights: () => Promise.resolve(answers.weights ?? null),
    pickFolder: () => Promise.resolve(answers.folder ?? null),
    progress: (_title, work) => work(),
    writeNewFile: (path, text) => {
      assert.ok(!existsSync(path), `${path} is new`);
      writeFileSync(path, text);
      recorded.written.push(path);
      return Promise.resolve();
    },
    open: (path, withDiagram) => {
      recorded.opened.push({ path, withDiagram });
      return Promise.resolve();
    },
    info: (m) => recorded.infos.push(m),
    error: (m) => recorded.errors.push(m),
  };
}

const SPEC = resnet({
  name: "flow net",
  input: [1, 8, 8],
  stem: "cifar",
  stages: [
    { channels: 4, blocks: 1, stride: 1 },
    { channels: 8, blocks: 1, stride: 2 },
  ],
  classes: 3,
});

/** A safetensors state_dict of SPEC's shapes (zeros), as another tool would write it. */
function weightsFile(path: string): void {
  const tensors = expectedStateShapes(analyzeOrThrow(SPEC)).map(({ name, shape }) => {
    const count = shape.reduce((a, b) => a * b, 1);
    return name.endsWith("num_batches_tracked")
      ? { name, dtype: "I64" as const, shape, values: new Float64Array(count) }
      : { name, dtype: "F32" as const, shape, values: new Float32Array(count) };
  });
  writeFileSync(path, Buffer.concat(encodeSafetensors(tensors, { format: "pt" })));
}

test("New Spec from Weights…: the spec is written beside the weights (never over a file) and opened with its diagram", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rs-weights-flow-"));
  try {
    const weights = join(dir, "net.safetensors");
    weightsFile(weights);
    writeFileSync(join(dir, "net.resnet.ts"), "// an existing spec stays as it is\n");
    const ui = fakeUi({ weights });
    const python = () => assert.fail("a .safetensors file needs no Python");
    const written = await newSpecFromWeights(ui, null, { python });
    assert.equal(written, join(dir, "net-2.resnet.ts"));
    assert.deepEqual(ui.errors, []);
    assert.deepEqual(ui.opened, [{ path: written, withDiagram: true }]);
    assert.equal(readFileSync(join(dir, "net.resnet.ts"), "utf8"), "// an existing spec stays as it is\n");
    const loaded = loadSpec(written);
    assert.equal(loaded.graph?.totals.params, analyzeOrThrow(SPEC).totals.params);
    assert.match(
      ui.infos[0],
      /net, [\d,]+ parameters, inferred from .*net\.safetensors; \d+ things the weights do not store are listed/,
    );
    // Not a ResNet: one message, nothing written.
    const other = join(dir, "other.safetensors");
    writeFileSync(
      other,
      Buffer.concat(
        encodeSafetensors([{ name: "features.0.weight", dtype: "F32", shape: [1], values: new Float32Array(1) }], {}),
      ),
    );
    const refused = fakeUi();
    assert.equal(await newSpecFromWeights(refused, other, { python }), null);
    assert.match(refused.errors[0], /^ResNet Studio: .*other\.safetensors: not a ResNet state_dict/);
    assert.deepEqual(refused.written, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("Export Trained Model as PyTorch: a run folder into a new folder, the snippet opened; the run's own folder is refused", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rs-weights-flow-"));
  try {
    const run = join(dir, "run");
    mkdirSync(run);
    const model = buildModel(analyzeOrThrow(SPEC), { seed: 1 });
    const data = { train: syntheticDataset({ count: 24, classes: 3, shape: [1, 8, 8], seed: 2 }), val: null };
    await train({
      model,
      data,
      config: { ...DEFAULT_TRAIN_CONFIG, epochs: 1, batchSize: 8, seed: 1 },
      checkpoint: run,
    });
    model.dispose();
    const before = readFileSync(join(run, CHECKPOINT_FILE_NAME));

    const own = fakeUi({ folder: run });
    assert.equal(await exportTrainedFlow(own, run), null);
    assert.match(own.errors[0], /the checkpoint's own folder; its checkpoint\.safetensors would be replaced/);
    assert.deepEqual(readFileSync(join(run, CHECKPOINT_FILE_NAME)), before, "the run's checkpoint is untouched");

    const out = join(dir, "exported");
    const ui = fakeUi({ weights: run, folder: out });
    assert.equal(await exportTrainedFlow(ui, null), out);
    assert.deepEqual(ui.errors, []);
    for (const f of ["model.py", CHECKPOINT_FILE_NAME, "load_trained.py"]) assert.ok(existsSync(join(out, f)), f);
    assert.deepEqual(ui.opened, [{ path: join(out, "load_trained.py"), withDiagram: false }]);
    assert.match(ui.infos[0], /flow net after 1 epoch exported to/);
    // A second export into the same folder would replace the first: refused.
    const again = fakeUi({ folder: out });
    assert.equal(await exportTrainedFlow(again, join(run, CHECKPOINT_FILE_NAME)), null);
    assert.match(again.errors[0], /already has model\.py, checkpoint\.safetensors, load_trained\.py/);
    const pth = fakeUi({ folder: join(dir, "x") });
    assert.equal(await exportTrainedFlow(pth, join(dir, "weights.pth")), null);
    assert.match(pth.errors[0], /is a PyTorch file already/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

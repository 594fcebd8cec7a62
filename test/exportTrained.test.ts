/**
 * Export Trained Model as PyTorch: a checkpoint trained here becomes model.py + checkpoint.safetensors +
 * load_trained.py. PyTorch (RESNET_STUDIO_PYTHON, default /usr/bin/python3) loads it with strict=True and gives the
 * TF.js runtime's logits; the module of a renamed spec still loads the original checkpoint. Without torch these tests
 * skip, and under CI=true fail.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { analyzeOrThrow } from "../model-core/src/analysis/analyze";
import { syntheticDataset } from "../model-core/src/data/synthetic";
import { initBackend } from "../model-core/src/runtime/backend";
import { CHECKPOINT_FILE_NAME, decodeSafetensors, loadCheckpointInto } from "../model-core/src/runtime/checkpoint";
import { buildModel } from "../model-core/src/runtime/model";
import { train } from "../model-core/src/runtime/train";
import { DEFAULT_TRAIN_CONFIG } from "../model-core/src/runtime/trainTypes";
import { resnet } from "../model-core/src/spec/builders";
import { exportTrainedModel } from "../model-core/src/weights/exportTrained";
import { runCliFromSource } from "./cli/harness";
import { skipWithoutTool, testPython } from "./toolSkip";

const PYTHON = testPython();
/** Logits of the two runtimes agree to this fraction of the largest logit (float32 on both sides, as the export test). */
const PARITY_RTOL = 1e-4;

function torchMissing(): string | false {
  const r = spawnSync(PYTHON, ["-c", "import torch"], { encoding: "utf8" });
  return r.status === 0 ? false : `${PYTHON} has no torch (apt-get install python3-torch)`;
}
const skip = skipWithoutTool(torchMissing());

/** A bottleneck net with option-B projections and BN everywhere, small enough to train in seconds. */
const SPEC = resnet({
  name: "trained bottleneck",
  input: [3, 8, 8],
  stem: "cifar",
  block: "bottleneck",
  stages: [
    { channels: 4, blocks: 1, stride: 1 },
    { channels: 8, blocks: 2, stride: 2 },
  ],
  shortcut: "B",
  classes: 3,
});

/** Deterministic input, NCHW. */
function fixedInput(shape: number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, (_, i) => Math.sin(0.37 * i + 0.5) * 1.5);
}

const PY_LOGITS = `
import json, os, sys, importlib.util
import torch
folder, x_json, original = sys.argv[1], sys.argv[2], sys.argv[3]
spec = importlib.util.spec_from_file_location("load_trained", os.path.join(folder, "load_trained.py"))
snippet = importlib.util.module_from_spec(spec)
spec.loader.exec_module(snippet)  # builds the net and loads checkpoint.safetensors with strict=True
with open(x_json) as f:
    case = json.load(f)
x = torch.tensor(case["x"], dtype=torch.float32).reshape(case["shape"])
with torch.no_grad():
    logits = snippet.net(x).reshape(-1).tolist()
# The original run checkpoint (optimizer state, full metadata, another name) into the exported module, strictly.
again = snippet.model.build()
meta = snippet.model.load_checkpoint(again, original)
with torch.no_grad():
    again_logits = again.eval()(x).reshape(-1).tolist()
print(json.dumps({"logits": logits, "again": again_logits, "name": snippet.model.SPEC["name"], "checkpointModel": meta["model"]}))
`;

/** Asserts the parity and returns the measured max |Δ| / max |logit|. */
function assertClose(actual: number[], expected: number[], what: string): number {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const scale = Math.max(...expected.map(Math.abs));
  const worst = Math.max(...actual.map((a, i) => Math.abs(a - expected[i])));
  assert.ok(scale > 0, `${what}: logits are all zero`);
  assert.ok(worst <= PARITY_RTOL * scale, `${what}: max |Δ| ${worst} exceeds ${PARITY_RTOL} × ${scale}`);
  return worst / scale;
}

describe("Export Trained Model as PyTorch", { skip }, () => {
  let dir = "";
  let tfjsLogits: number[] = [];
  const shape = [2, ...SPEC.input];
  const x = fixedInput(shape);

  before(async () => {
    await initBackend("cpu");
    dir = mkdtempSync(join(tmpdir(), "rs-export-trained-"));
    const run = join(dir, "run");
    mkdirSync(run);
    const graph = analyzeOrThrow(SPEC);
    const model = buildModel(graph, { seed: 5 });
    const data = { train: syntheticDataset({ count: 48, classes: 3, shape: [3, 8, 8], seed: 4 }), val: null };
    const config = { ...DEFAULT_TRAIN_CONFIG, epochs: 2, batchSize: 8, lr: 0.01, logEvery: 1, seed: 5 };
    await train({ model, data, config, checkpoint: run });
    model.dispose();
    // The TF.js forward at the checkpoint's weights, in eval mode (BN running statistics, moved by training).
    const fresh = buildModel(graph, { seed: 1 });
    loadCheckpointInto(fresh, run);
    const input = tf.tidy(() => tf.transpose(tf.tensor4d(x, shape as [number, number, number, number]), [0, 2, 3, 1]));
    const y = fresh.apply(input, "eval");
    tfjsLogits = Array.from(y.dataSync());
    tf.dispose([input, y]);
    fresh.dispose();
    writeFileSync(join(dir, "x.json"), JSON.stringify({ x: Array.from(x), shape }));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("resnet-studio export --weights <run dir> writes the three files; PyTorch loads them strictly with the TF.js logits", (t) => {
    const out = join(dir, "exported");
    const cli = runCliFromSource(["export", "--weights", join(dir, "run"), "--out", out]);
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(
      cli.stdout,
      /wrote .*model\.py, .*checkpoint\.safetensors, .*load_trained\.py: trained bottleneck after 2 epochs/,
    );
    // Weights only: torchvision's state_dict names, no optimiser slots.
    const { metadata, tensors } = decodeSafetensors(readFileSync(join(out, CHECKPOINT_FILE_NAME)), "exported");
    assert.equal(metadata.format, "pt");
    assert.ok(![...tensors.keys()].some((k) => k.startsWith("optimizer.")));
    assert.equal(tensors.get("layer2.0.downsample.1.num_batches_tracked")?.dtype, "I64");
    const py = spawnSync(PYTHON, ["-c", PY_LOGITS, out, join(dir, "x.json"), join(dir, "run", CHECKPOINT_FILE_NAME)], {
      encoding: "utf8",
      timeout: 120_000,
    });
    assert.equal(py.status, 0, py.stderr);
    const result = JSON.parse(py.stdout) as { logits: number[]; again: number[] };
    t.diagnostic(
      `max |Δlogit| / max |logit|: ${assertClose(result.logits, tfjsLogits, "exported checkpoint").toExponential(2)}`,
    );
    assertClose(result.again, tfjsLogits, "the run's own checkpoint");
    // The snippet also runs as a script.
    const script = spawnSync(PYTHON, [join(out, "load_trained.py")], { encoding: "utf8", timeout: 120_000 });
    assert.equal(script.status, 0, script.stderr);
    assert.match(script.stdout, /trained bottleneck: [\d,]+ parameters, logits \(1, 3\)/);
  });

  test("a renamed spec exports the same weights under its own name, and its module still loads the run's checkpoint", () => {
    const out = join(dir, "renamed");
    const result = exportTrainedModel({
      checkpoint: join(dir, "run"),
      folder: out,
      spec: { ...SPEC, name: "renamed" },
    });
    assert.equal(result.epoch, 2);
    assert.ok(result.files.every((f) => existsSync(f)));
    const py = spawnSync(PYTHON, ["-c", PY_LOGITS, out, join(dir, "x.json"), join(dir, "run", CHECKPOINT_FILE_NAME)], {
      encoding: "utf8",
      timeout: 120_000,
    });
    assert.equal(py.status, 0, py.stderr);
    const parsed = JSON.parse(py.stdout) as {
      logits: number[];
      again: number[];
      name: string;
      checkpointModel: string;
    };
    assert.deepEqual([parsed.name, parsed.checkpointModel], ["renamed", "trained bottleneck"]);
    assertClose(parsed.again, tfjsLogits, "renamed module, run checkpoint");
    // Another architecture is refused naming the layer and both shapes.
    assert.throws(
      () =>
        exportTrainedModel({ checkpoint: join(dir, "run"), folder: join(dir, "other"), spec: { ...SPEC, classes: 4 } }),
      /layer fc: fc\.weight is \[3, 32\] in the checkpoint, \[4, 32\] in the spec/,
    );
  });
});

/**
 * The torch backend's runner (model-core/python/resnet_studio_torch.py) evaluates, measures gradient flow and
 * calibrates on the fast path's options (resnet_studio_fast.py: channels_last, autocast), and on the CPU its answers
 * stay those of the plain NCHW fp32 network. System PyTorch (/usr/bin/python3); skipped without it, failing under
 * CI=true. The driver is test/reference/runner_fast_paths.py.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { analyzeSpecText } from "../model-core/src/specAnalysis";
import { exportPytorch } from "../model-core/src/export/pytorch";
import { edgeTaps } from "../model-core/src/runtime/torchBackend";
import { skipWithoutTool } from "./toolSkip";

const root = join(__dirname, "..");
const PYTHON = process.env.RESNET_STUDIO_PYTHON ?? "/usr/bin/python3";
const skip = skipWithoutTool(
  spawnSync(PYTHON, ["-c", "import torch"], { encoding: "utf8" }).status === 0
    ? false
    : `${PYTHON} cannot import torch (apt-get install python3-torch)`,
);
const work = mkdtempSync(join(tmpdir(), "rs-runner-fast-"));
after(() => rmSync(work, { recursive: true, force: true }));

const SPEC = `import { resnet, stage } from "resnet-studio";
export default resnet({ name: "tiny", input: [3, 8, 8], stem: "cifar", stages: [stage({ channels: 4, blocks: 1 }), stage({ channels: 8, blocks: 1, stride: 2 })], shortcut: "B", classes: 3 });
`;

interface Outcome {
  evaluate: Record<"plain" | "channelsLast" | "bf16", [number, number]>;
  evalNetChannelsLast: Record<string, boolean>;
  referenceLoss: number;
  referenceAccuracy: number;
  flowNetChannelsLast: Record<"off" | "on", boolean>;
  flowNodes: number;
  flowMaxRelativeDifference: number;
  flowLoss: [number, number];
  calibrations: Record<"fp32" | "bf16", { type: string; seconds: number[] }>;
  fp16: string;
}

test(
  "the runner's eval, gradient flow and calibration run on the fast path and agree with the plain network",
  { skip },
  () => {
    const { graph } = analyzeSpecText(SPEC, "tiny.resnet.ts");
    assert.ok(graph);
    const model = join(work, "model.py");
    writeFileSync(model, exportPytorch(graph));
    const parts = join(work, "job.json");
    writeFileSync(
      parts,
      JSON.stringify({
        graph: { nodes: graph.nodes.map((n) => ({ id: n.id, op: n.op, inputs: n.inputs })) },
        taps: edgeTaps(graph),
      }),
    );
    const r = spawnSync(
      "timeout",
      ["300", PYTHON, join(root, "test/reference/runner_fast_paths.py"), join(root, "model-core/python"), model, parts],
      { encoding: "utf8", env: { ...process.env, OMP_NUM_THREADS: "1", PYTHONDONTWRITEBYTECODE: "1" } },
    );
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Outcome;

    // Evaluation: the same loss and accuracy as the module's own forward, in fp32 with or without channels_last.
    const FP32 = 1e-5;
    const BF16 = 2e-2;
    const [plainLoss, plainAccuracy] = out.evaluate.plain;
    assert.ok(
      Math.abs(plainLoss - out.referenceLoss) <= FP32 * out.referenceLoss,
      `${plainLoss} vs ${out.referenceLoss}`,
    );
    assert.equal(plainAccuracy, out.referenceAccuracy);
    const [nhwcLoss, nhwcAccuracy] = out.evaluate.channelsLast;
    assert.ok(Math.abs(nhwcLoss - out.referenceLoss) <= FP32 * out.referenceLoss, `channels_last: ${nhwcLoss}`);
    assert.equal(nhwcAccuracy, out.referenceAccuracy);
    const [bf16Loss] = out.evaluate.bf16;
    assert.ok(Math.abs(bf16Loss - out.referenceLoss) <= BF16 * out.referenceLoss, `bf16 autocast: ${bf16Loss}`);
    assert.notEqual(bf16Loss, plainLoss, "the evaluation ran under bf16 autocast");
    assert.deepEqual(out.evalNetChannelsLast, { plain: false, channelsLast: true, bf16: true });

    // Gradient flow: channels_last is applied (the net's weights are NHWC) and every node's statistics stay fp32's.
    assert.deepEqual(out.flowNetChannelsLast, { off: false, on: true });
    assert.ok(out.flowNodes > 5, `${out.flowNodes} nodes`);
    assert.ok(
      out.flowMaxRelativeDifference <= 1e-4,
      `channels_last moved a node's gradient statistics by ${out.flowMaxRelativeDifference}`,
    );
    assert.ok(Math.abs(out.flowLoss[0] - out.flowLoss[1]) <= FP32 * out.flowLoss[0]);

    // Calibration: timed on the options training uses (fp32 and bf16 both run on the CPU); fp16 is refused as for training.
    for (const precision of ["fp32", "bf16"] as const) {
      const calibration = out.calibrations[precision];
      assert.equal(calibration.type, "calibration");
      assert.equal(calibration.seconds.length, 1);
      assert.ok(calibration.seconds[0] > 0, `${precision}: ${JSON.stringify(calibration)}`);
    }
    assert.match(out.fp16, /--precision fp16 needs CUDA/);
  },
);

/**
 * The torch backend (issue 7) against the wasm runtime: gradient flow node by node, logits after weights move both
 * ways through the shared checkpoint, MNIST accuracy, cancel and resume across backends, and the messages when
 * Python or torch is missing. Needs a Python with torch (RESNET_STUDIO_PYTHON, default /usr/bin/python3); without
 * one these tests skip, and fail under CI=true.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/runtime/backend";
import { buildModel } from "../src/runtime/model";
import { train } from "../src/runtime/train";
import { gradientFlow, seededFlowBatch } from "../src/runtime/gradflow";
import { CHECKPOINT_FILE_NAME, loadCheckpointInto, readCheckpoint } from "../src/runtime/checkpoint";
import {
  gradientFlowOnTorch,
  probeTorch,
  resolvePython,
  TorchUnavailableError,
  trainOnTorch,
} from "../src/runtime/torchBackend";
import { parseRunnerLine, TorchProtocolError } from "../src/runtime/torchProtocol";
import { exportPytorch } from "../src/export/pytorch";
import { syntheticDataset } from "../src/data/synthetic";
import { SeededRng } from "../src/data/rng";
import type { GradientFlowResult } from "../src/analysis/gradflow";
import type { TrainEvent } from "../src/runtime/trainTypes";
import { tinyConfig, tinyGraph } from "./trainHelpers";
import { needsTorch, python } from "./torchHelpers";
import { runCliFromSource } from "../../test/cli/harness";

const root = join(__dirname, "..", "..");

before(async () => {
  await initBackend("wasm");
});

/**
 * Worst relative difference over every statistic. The denominator has a floor of 1e-4 × the largest value of that
 * statistic in the pass: gradients that are zero in exact arithmetic (β of a BN whose output only feeds another BN in
 * train mode) are float32 rounding noise on both sides, and a relative test of noise says nothing.
 */
function worstFlowDifference(a: GradientFlowResult, b: GradientFlowResult): { worst: number; where: string } {
  let worst = 0;
  let where = "";
  const largest = new Map<string, number>();
  const note = (kind: string, v: number) => largest.set(kind, Math.max(largest.get(kind) ?? 0, Math.abs(v)));
  for (const n of a.nodes) {
    for (const k of ["l2", "meanAbs", "maxAbs"] as const) note(`activation ${k}`, n.activation[k]);
    for (const role of Object.keys(n.params))
      for (const k of ["l2", "meanAbs", "maxAbs"] as const) note(`param ${k}`, n.params[role][k]);
  }
  const see = (x: number, y: number, label: string, kind = "") => {
    const r = Math.abs(x - y) / Math.max(Math.abs(x), Math.abs(y), 1e-4 * (largest.get(kind) ?? 0), 1e-30);
    if (r > worst) [worst, where] = [r, `${label} (${x} vs ${y})`];
  };
  see(a.loss, b.loss, "loss");
  assert.deepEqual(
    a.nodes.map((n) => n.id),
    b.nodes.map((n) => n.id),
  );
  a.nodes.forEach((n, i) => {
    const m = b.nodes[i];
    for (const k of ["l2", "meanAbs", "maxAbs"] as const)
      see(n.activation[k], m.activation[k], `${n.id} activation ${k}`, `activation ${k}`);
    assert.deepEqual(Object.keys(n.params).sort(), Object.keys(m.params).sort(), n.id);
    for (const role of Object.keys(n.params))
      for (const k of ["l2", "meanAbs", "maxAbs"] as const)
        see(n.params[role][k], m.params[role][k], `${n.id} ${role} ${k}`, `param ${k}`);
  });
  a.adds.forEach((add, i) => {
    for (const k of ["identity", "residual", "residualAtInput"] as const)
      see(add[k] ?? 0, b.adds[i][k] ?? 0, `${add.id} ${k}`);
  });
  see(a.ratio.value, b.ratio.value, "ratio");
  return { worst, where };
}

test("runner lines are checked field by field", () => {
  assert.equal(parseRunnerLine('{"type":"checkpoint","path":"/x","epoch":1}').type, "checkpoint");
  assert.throws(
    () => parseRunnerLine("Traceback (most recent call last):"),
    (e: Error) => e instanceof TorchProtocolError && /not a JSON line/.test(e.message),
  );
  assert.throws(() => parseRunnerLine('{"type":"launch"}'), /unknown message type "launch"/);
  assert.throws(
    () => parseRunnerLine('{"type":"checkpoint","path":"/x","epoch":"1"}'),
    /"checkpoint" message: field "epoch" must be a finite integer, got "1"/,
  );
  assert.throws(
    () =>
      parseRunnerLine(
        '{"type":"step","epoch":0,"step":0,"stepsPerEpoch":1,"globalStep":1,"loss":null,"accuracy":1,"lr":1,"imagesPerSecond":1}',
      ),
    /field "loss"/,
  );
  assert.throws(
    () =>
      parseRunnerLine('{"type":"done","reason":"bored","epochsCompleted":0,"globalStep":0,"history":[],"seconds":1}'),
    /field "reason" must be one of/,
  );
  assert.throws(
    () =>
      parseRunnerLine('{"type":"gradflow","loss":1,"batch":2,"nodes":{"fc":[1,2]},"edges":{},"params":{},"millis":1}'),
    /nodes\["fc"\] must be \[l2, meanAbs, maxAbs\]/,
  );
  const epoch = parseRunnerLine(
    '{"type":"epoch","epoch":0,"epochs":1,"loss":1,"accuracy":0.5,"valLoss":null,"valAccuracy":null,"lr":0.1,"imagesPerSecond":1,"seconds":1,"trainSamples":8,"valSamples":2}',
  );
  assert.ok(epoch.type === "epoch" && Number.isNaN(epoch.valLoss), "null (JSON's NaN) comes back as NaN");
  // Nothing held out (--val-fraction 0): the epoch has no validation figures at all.
  const unvalidated = parseRunnerLine(
    '{"type":"epoch","epoch":0,"epochs":1,"loss":1,"accuracy":0.5,"valLoss":null,"valAccuracy":null,"lr":0.1,"imagesPerSecond":1,"seconds":1,"trainSamples":8,"valSamples":0}',
  );
  assert.ok(unvalidated.type === "epoch" && !("valLoss" in unvalidated) && !("valAccuracy" in unvalidated));
});

test("a missing Python or torch gets one message saying what to install", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rs-nopython-"));
  try {
    await assert.rejects(
      () => probeTorch({ command: join(dir, "no-such-python"), origin: "--python" }),
      (e: Error) =>
        e instanceof TorchUnavailableError &&
        /Python not found: `.*no-such-python` \(--python\) does not exist.*pip install torch.*resnetStudio\.python/.test(
          e.message,
        ),
    );
    const fake = join(dir, "python-without-torch");
    writeFileSync(fake, "#!/bin/sh\necho \"ModuleNotFoundError: No module named 'torch'\" >&2\nexit 1\n");
    chmodSync(fake, 0o755);
    await assert.rejects(
      () => probeTorch({ command: fake, origin: "the setting resnetStudio.python" }),
      (e: Error) =>
        e instanceof TorchUnavailableError &&
        /has no PyTorch \(import torch failed\)\. .*apt install python3-torch/.test(e.message),
    );
    // The CLI prints it as one line, no stack trace, before loading any data.
    const r = runCliFromSource(["train", "examples/small.resnet.ts", "--backend", "torch", "--python", fake]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^resnet-studio: error: `.*python-without-torch` \(--python\) has no PyTorch/);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(resolvePython("/opt/py", "/setting/py"), { command: "/opt/py", origin: "--python" });
  assert.equal(resolvePython(undefined, "/setting/py").command, "/setting/py");
});

test("the runner's shuffling RNG is bit-for-bit the trainer's (resume across backends keeps the data order)", (t) => {
  if (!needsTorch(t)) return;
  const script = [
    "import importlib.util, json, sys",
    `spec = importlib.util.spec_from_file_location('r', ${JSON.stringify(join(root, "model-core/python/resnet_studio_torch.py"))})`,
    "r = importlib.util.module_from_spec(spec); spec.loader.exec_module(r)",
    "rng = r.SeededRng(int(sys.argv[1]))",
    "print(json.dumps({'values': [rng.next() for _ in range(50)], 'order': rng.shuffled(97), 'state': rng.state}))",
  ].join("\n");
  const seed = new SeededRng(12345).getState();
  const out = spawnSync(python.command, ["-c", script, String(seed)], { encoding: "utf8" });
  assert.equal(out.status, 0, out.stderr);
  const fromPython = JSON.parse(out.stdout) as { values: number[]; order: number[]; state: number };
  const rng = SeededRng.fromState(seed);
  assert.deepEqual(
    fromPython.values,
    Array.from({ length: 50 }, () => rng.next()),
  );
  const order = Array.from({ length: 97 }, (_, i) => i);
  rng.shuffle(order);
  assert.deepEqual(fromPython.order, order);
  assert.equal(fromPython.state, rng.getState());
});

/** Two specs that exercise option A, projections, bottlenecks, pre-activation and a gated shortcut. */
const flowGraphs = () => [
  tinyGraph({ name: "tiny-A" }),
  tinyGraph({
    name: "preact-bottleneck-B",
    input: [3, 8, 8],
    block: "bottleneck",
    shortcut: "B",
    preActivation: true,
    stages: [
      { channels: 2, blocks: 2, stride: 1 },
      { channels: 4, blocks: 1, stride: 2 },
    ],
  }),
  tinyGraph({ name: "gated-C", shortcut: "C", shortcutVariant: { kind: "exclusiveGating", gateBias: -2 } }),
];

test("gradient flow on torch equals wasm within 1e-3 relative per node, for the same trained weights and batch", async (t) => {
  if (!needsTorch(t)) return;
  const dir = mkdtempSync(join(tmpdir(), "rs-torch-flow-"));
  try {
    for (const graph of flowGraphs()) {
      const [c, h, w] = graph.spec.input;
      // Train a little first, so the weights (and BN statistics) are not the initialisation's.
      const model = buildModel(graph, { seed: 4 });
      const data = {
        train: syntheticDataset({ count: 48, classes: graph.spec.classes, shape: [c, h, w], seed: 5 }),
        val: null,
      };
      await train({ model, data, config: tinyConfig({ epochs: 1, batchSize: 8, workers: 1 }), checkpoint: dir });
      const input = seededFlowBatch(graph, 6, new SeededRng(9));
      for (const mode of ["train", "eval"] as const) {
        const x = tf.tensor4d(input.x, input.shape);
        const onWasm = await gradientFlow(model, { x, labels: input.labels }, { mode });
        x.dispose();
        const onTorch = await gradientFlowOnTorch({
          graph,
          ...input,
          mode,
          weights: { checkpoint: dir },
          python,
          device: "cpu",
        });
        const { worst, where } = worstFlowDifference(onWasm, onTorch);
        assert.ok(
          worst <= 1e-3,
          `${graph.name} (${mode}): worst relative difference ${worst.toExponential(2)} at ${where}`,
        );
        assert.ok(
          onWasm.nodes.some((n) => n.activation.l2 > 0),
          "the comparison is not of zeros",
        );
        assert.match(onTorch.backend, /^torch /);
      }
      model.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Logits of the exported module after load_checkpoint, in eval mode, on the given NCHW input. */
function torchLogits(
  graph: ReturnType<typeof tinyGraph>,
  checkpoint: string,
  x: Float32Array,
  shape: number[],
  dir: string,
): number[][] {
  writeFileSync(join(dir, "model.py"), exportPytorch(graph));
  writeFileSync(join(dir, "x.f32"), new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
  const script = [
    "import json, sys, torch",
    `sys.path.insert(0, ${JSON.stringify(dir)})`,
    "import model",
    "net = model.build()",
    `model.load_checkpoint(net, ${JSON.stringify(checkpoint)})`,
    `x = torch.frombuffer(bytearray(open(${JSON.stringify(join(dir, "x.f32"))}, 'rb').read()), dtype=torch.float32).reshape(${JSON.stringify(shape)})`,
    "print(json.dumps(net.eval()(x.permute(0, 3, 1, 2).contiguous()).tolist()))",
  ].join("\n");
  const r = spawnSync(python.command, ["-c", script], {
    encoding: "utf8",
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as number[][];
}

test("weights move wasm → PyTorch and PyTorch → wasm through the checkpoint; logits agree within 1e-4 relative", async (t) => {
  if (!needsTorch(t)) return;
  const dir = mkdtempSync(join(tmpdir(), "rs-torch-logits-"));
  try {
    for (const graph of flowGraphs()) {
      const [c, h, w] = graph.spec.input;
      const data = {
        train: syntheticDataset({ count: 48, classes: graph.spec.classes, shape: [c, h, w], seed: 5 }),
        val: null,
      };
      const rng = new SeededRng(3);
      const x = Float32Array.from({ length: 4 * h * w * c }, () => rng.normal());
      const compare = (tfLogits: number[][], torchOut: number[][], label: string) => {
        const scale = Math.max(...tfLogits.flat().map(Math.abs));
        const worst = Math.max(...tfLogits.flat().map((v, i) => Math.abs(v - torchOut.flat()[i]) / scale));
        assert.ok(worst <= 1e-4, `${graph.name} ${label}: logits differ by ${worst.toExponential(2)} relative`);
      };
      // wasm → PyTorch: trained on wasm, loaded by the exported module's load_checkpoint.
      const wasmDir = join(dir, `${graph.name}-wasm`);
      mkdirSync(wasmDir);
      const onWasm = buildModel(graph, { seed: 2 });
      await train({
        model: onWasm,
        data,
        config: tinyConfig({ epochs: 1, batchSize: 8, workers: 1 }),
        checkpoint: wasmDir,
      });
      const xt = tf.tensor4d(x, [4, h, w, c]);
      compare(
        onWasm.apply(xt, "eval").arraySync(),
        torchLogits(graph, join(wasmDir, CHECKPOINT_FILE_NAME), x, [4, h, w, c], dir),
        "wasm → torch",
      );
      // PyTorch → wasm: trained by the torch backend, loaded into a fresh tfjs model.
      const torchDir = join(dir, `${graph.name}-torch`);
      mkdirSync(torchDir);
      await trainOnTorch({
        graph,
        data,
        config: tinyConfig({ epochs: 1, batchSize: 8 }),
        checkpoint: torchDir,
        python,
        device: "cpu",
      });
      assert.equal(readCheckpoint(torchDir).header.backend, "torch");
      const fromTorch = buildModel(graph, { seed: 77 });
      loadCheckpointInto(fromTorch, torchDir);
      compare(
        fromTorch.apply(xt, "eval").arraySync(),
        torchLogits(graph, join(torchDir, CHECKPOINT_FILE_NAME), x, [4, h, w, c], dir),
        "torch → wasm",
      );
      xt.dispose();
      onWasm.dispose();
      fromTorch.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("cancel mid-epoch on torch keeps the last epoch's checkpoint; it resumes on wasm, and that resumes on torch", async (t) => {
  if (!needsTorch(t)) return;
  const dir = mkdtempSync(join(tmpdir(), "rs-torch-resume-"));
  try {
    const graph = tinyGraph();
    const data = { train: syntheticDataset({ count: 96, classes: 3, shape: [1, 8, 8], seed: 2 }), val: null };
    const config = tinyConfig({ epochs: 3, batchSize: 8, logEvery: 1, workers: 1 });
    const controller = new AbortController();
    const events: TrainEvent[] = [];
    const cancelled = await trainOnTorch({
      graph,
      data,
      config,
      checkpoint: dir,
      python,
      device: "cpu",
      signal: controller.signal,
      onEvent: (e) => {
        events.push(e);
        // Cancel in the middle of the second epoch.
        if (e.type === "step" && e.epoch === 1 && e.step === 3) controller.abort();
      },
    });
    assert.equal(cancelled.reason, "aborted");
    assert.equal(cancelled.epochsCompleted, 1);
    assert.ok(
      events.some((e) => e.type === "step" && e.epoch === 1),
      "it was stopped mid-epoch",
    );
    assert.ok(
      !events.some((e) => e.type === "step" && e.epoch === 1 && e.step > 5),
      "between steps, soon after the cancel",
    );
    const kept = readCheckpoint(dir);
    assert.equal(kept.header.epoch, 1);
    assert.equal(kept.header.backend, "torch");

    // Resume on wasm: it starts at epoch 2 and finishes the run.
    const onWasm = buildModel(graph, { seed: 50 });
    const wasmEvents: TrainEvent[] = [];
    const resumedOnWasm = await train({
      model: onWasm,
      data,
      config,
      checkpoint: dir,
      resumeFrom: dir,
      onEvent: (e) => wasmEvents.push(e),
    });
    onWasm.dispose();
    assert.equal(resumedOnWasm.reason, "completed");
    assert.equal(wasmEvents[0].type === "start" && wasmEvents[0].startEpoch, 1);
    assert.equal(resumedOnWasm.history.length, 3, "history carries over");
    assert.equal(resumedOnWasm.globalStep, 3 * kept.header.globalStep, "two more epochs of the same length");
    assert.equal(readCheckpoint(dir).header.backend, "wasm");

    // And back: one more epoch on torch from the wasm checkpoint.
    const more = await trainOnTorch({
      graph,
      data,
      config: { ...config, epochs: 4 },
      checkpoint: dir,
      resumeFrom: dir,
      python,
      device: "cpu",
    });
    assert.equal(more.reason, "completed");
    assert.equal(more.history.length, 4);
    assert.deepEqual(
      more.history.slice(0, 3).map((e) => e.loss),
      resumedOnWasm.history.map((e) => e.loss),
      "earlier epochs come from the checkpoint",
    );
    assert.ok(
      Number.isFinite(more.history[3].loss) && more.history[3].loss < more.history[0].loss,
      "the resumed run keeps learning",
    );
    assert.equal(readCheckpoint(dir).header.epoch, 4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("`train --backend torch` on the embedded MNIST with examples/small.resnet.ts reaches ≥ 97 % validation accuracy", (t) => {
  if (!needsTorch(t)) return;
  const out = mkdtempSync(join(tmpdir(), "rs-torch-mnist-"));
  try {
    const args = [
      "train",
      "examples/small.resnet.ts",
      "--backend",
      "torch",
      "--python",
      python.command,
      "--device",
      "cpu",
      "--json",
      "--out",
      out,
    ];
    const r = runCliFromSource(args, { timeoutMs: 900_000 });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const summary = lines[lines.length - 1];
    assert.equal(summary.backend, "torch");
    assert.equal(summary.dataset, "mnist");
    assert.ok((summary.valAccuracy as number) >= 0.97, `validation accuracy ${String(summary.valAccuracy)}`);
    assert.equal(readCheckpoint(out).header.epoch, summary.epochs);
    assert.equal(lines.filter((l) => l.type === "epoch").length, summary.epochs);
    // The estimate comes first, from PyTorch's own calibration on the chosen device (issue 13).
    assert.equal(lines[0].type, "estimate");
    assert.match(String(lines[0].backend), /^torch \S+ \(cpu\)$/);
    assert.equal(lines[0].params, 19810);
    assert.ok((lines[0].secondsPerEpoch as number) > 0);
    // The run's JSON lines are the wasm trainer's: same start fields.
    assert.deepEqual(Object.keys(lines[1]).sort(), [
      "backend",
      "config",
      "dataset",
      "model",
      "params",
      "startEpoch",
      "trainSamples",
      "type",
      "valSamples",
      "workers",
    ]);
    assert.equal(lines[1].params, 19810);
    assert.ok(readFileSync(join(out, CHECKPOINT_FILE_NAME)).length > 0);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

const cli = (args: string[], env: Record<string, string> = {}) => runCliFromSource(args, { timeoutMs: 600_000, env });

test("`gradflow --backend torch --json` gives the wasm command's JSON for the same seed, node by node", (t) => {
  if (!needsTorch(t)) return;
  const common = ["gradflow", "resnet20", "--batch", "4", "--seed", "3", "--json"];
  const onWasm = cli([...common, "--backend", "wasm"]);
  assert.equal(onWasm.status, 0, onWasm.stderr);
  // RESNET_STUDIO_BACKEND=torch selects it as --backend torch does.
  const onTorch = cli([...common, "--python", python.command], { RESNET_STUDIO_BACKEND: "torch" });
  assert.equal(onTorch.status, 0, onTorch.stderr);
  const a = JSON.parse(onWasm.stdout) as GradientFlowResult;
  const b = JSON.parse(onTorch.stdout) as GradientFlowResult;
  assert.deepEqual(Object.keys(b).sort(), Object.keys(a).sort(), "same schema");
  assert.equal(a.nodes.length, 71);
  const { worst, where } = worstFlowDifference(a, b);
  assert.ok(worst <= 1e-3, `worst relative difference ${worst.toExponential(2)} at ${where}`);
  const wrongModel = cli(["bench", "--backend", "torch", "--python", python.command, "--model", "resnet56"]);
  assert.equal(wrongModel.status, 1);
  assert.match(
    wrongModel.stderr,
    /^resnet-studio: error: bench --backend torch compares against bench\/pytorch_reference\.py's CIFAR ResNet-20; "resnet56" is another network/,
  );
});

test("--samples-per-epoch caps an epoch on torch as on wasm", (t) => {
  if (!needsTorch(t)) return;
  const args = [
    "train",
    "resnet20",
    "--dataset",
    "synthetic",
    "--epochs",
    "1",
    "--samples-per-epoch",
    "64",
    "--batch",
    "32",
    "--json",
    "--no-estimate",
  ];
  const epochOf = (r: { status: number | null; stdout: string; stderr: string }) => {
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string; trainSamples?: number });
    return lines.find((l) => l.type === "epoch");
  };
  const onWasm = epochOf(cli([...args, "--backend", "wasm", "--workers", "1"]));
  const onTorch = epochOf(cli([...args, "--backend", "torch", "--python", python.command]));
  assert.equal(onWasm?.trainSamples, 64);
  assert.equal(onTorch?.trainSamples, 64);
});

test("a Python writer killed mid-write leaves a temp file that the next torch run removes", async (t) => {
  if (!needsTorch(t)) return;
  const dir = mkdtempSync(join(tmpdir(), "rs-torch-kill-"));
  try {
    const graph = tinyGraph();
    writeFileSync(join(dir, "model.py"), exportPytorch(graph));
    // write_safetensors of the exported module, with 1 GiB of data so that the kill lands mid-write.
    const script = `import sys, torch\nsys.path.insert(0, ${JSON.stringify(dir)})\nimport model\nmodel.write_safetensors(${JSON.stringify(join(dir, CHECKPOINT_FILE_NAME))}, {"x": torch.zeros(1 << 28)})\n`;
    const child = spawn(python.command, ["-c", script], {
      stdio: "ignore",
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
    });
    const deadline = Date.now() + 120_000;
    while (!readdirSync(dir).some((n) => n.endsWith(".tmp")) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    child.kill("SIGKILL");
    await once(child, "exit");
    assert.equal(
      readdirSync(dir).filter((n) => /^\.rs-tmp-\d+-.*\.tmp$/.test(n)).length,
      1,
      "the killed writer left its temp file",
    );
    const data = { train: syntheticDataset({ count: 40, classes: 3, shape: [1, 8, 8], seed: 2 }), val: null };
    await trainOnTorch({
      graph,
      data,
      config: tinyConfig({ epochs: 1, batchSize: 8 }),
      checkpoint: dir,
      python,
      device: "cpu",
    });
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.endsWith(".tmp")),
      [],
    );
    assert.equal(readCheckpoint(dir).header.epoch, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * PyTorch export (resnet-studio export --to pytorch): the generated model.py is run by the system PyTorch
 * (RESNET_STUDIO_PYTHON, default /usr/bin/python3 with Debian's python3-torch and python3-torchvision) and compared with the graph IR and the TF.js
 * runtime. Where torch is missing these tests skip, except under CI=true, where they fail.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { loadSpec } from "../model-core/src/load";
import { PRESET_NAMES } from "../model-core/src/spec/presets";
import { resnet } from "../model-core/src/spec/builders";
import { analyzeOrThrow } from "../model-core/src/analysis/analyze";
import type { ModelGraph } from "../model-core/src/analysis/graph";
import type { ResNetOptions, Shape3 } from "../model-core/src/spec/types";
import { exportPytorch } from "../model-core/src/export/pytorch";
import { analyzeSpecText } from "../extension/src/pure/specDocument";
import { pytorchExportFor } from "../extension/src/pure/exportPytorch";
import { summarize } from "../model-core/src/cli/summary";
import { initBackend } from "../model-core/src/runtime/backend";
import { buildCliIfStale, runCli } from "./cli/harness";
import { testPython } from "./toolSkip";
import {
  buildModel,
  loadTorchStateDict,
  torchStateDict,
  type StateTensor,
  type TfModel,
} from "../model-core/src/runtime/model";

const root = join(__dirname, "..");
const PYTHON = testPython();
const TORCHRUN = "/usr/bin/torchrun";
const CHECKER = join(root, "test/reference/check_pytorch_export.py");
/** Logits of the two runtimes agree to this fraction of the largest logit (float32 on both sides). */
const PARITY_RTOL = 1e-4;
/** ImageNet-sized nets are checked at this input (parameter counts do not depend on it; shapes are checked at it). */
const SMALL_IMAGENET_INPUT: Shape3 = [3, 64, 64];
/** Nets this deep only get their parameter count checked (a forward pass would dominate the test's time). */
const PARAMS_ONLY = new Set(["resnet1202", "plain1202"]);
const TORCHVISION_NAMES = new Set([
  "resnet18",
  "resnet34",
  "resnet50",
  "resnet101",
  "resnet152",
  "wide_resnet50_2",
  "wide_resnet101_2",
  "resnext50_32x4d",
  "resnext101_32x8d",
]);

function torchAvailable(): string | null {
  const r = spawnSync(PYTHON, ["-c", "import torch, torchvision; print(torch.__version__)"], { encoding: "utf8" });
  return r.status === 0
    ? null
    : `${PYTHON} has no torch/torchvision (apt-get install python3-torch python3-torchvision)`;
}
const missing = torchAvailable();
if (missing && process.env.CI === "true") throw new Error(`CI=true but ${missing}`);
const skip = missing ?? false;

/** Small CIFAR-stem nets covering every option the spec language has. */
const tiny = {
  input: [3, 12, 12],
  stem: "cifar",
  classes: 5,
  stages: [
    { channels: 8, blocks: 2 },
    { channels: 16, blocks: 2, stride: 2 },
  ],
} satisfies Partial<ResNetOptions>;
const VARIANTS: Record<string, ResNetOptions> = {
  basicA: { ...tiny, shortcut: "A" },
  basicB: { ...tiny, shortcut: "B" },
  basicC: { ...tiny, shortcut: "C", name: 'odd "name" with \\ and """ quotes' },
  basicGroups: { ...tiny, groups: 2, shortcut: "B" },
  bottleneckResnext: { ...tiny, block: "bottleneck", groups: 2, widthPerGroup: 32, shortcut: "B" },
  preactBasicB: { ...tiny, preActivation: true, shortcut: "B" },
  preactBasicA: { ...tiny, preActivation: true, shortcut: "A" },
  preactBottleneckImagenetC: {
    ...tiny,
    input: [3, 32, 32],
    stem: "imagenet",
    block: "bottleneck",
    preActivation: true,
    shortcut: "C",
  },
  plainBasic: { ...tiny, residual: false },
  plainPreactBottleneck: { ...tiny, residual: false, preActivation: true, block: "bottleneck" },
  normNoneB: { ...tiny, norm: "none", shortcut: "B" },
  normNonePreactA: { ...tiny, norm: "none", preActivation: true, shortcut: "A" },
  constantScaling: {
    ...tiny,
    shortcut: "A",
    shortcutVariant: { kind: "constantScaling", lambda: 0.5, residualScale: 0.5 },
  },
  exclusiveGating: { ...tiny, shortcut: "B", shortcutVariant: { kind: "exclusiveGating", gateBias: -2 } },
  shortcutOnlyGatingA: { ...tiny, shortcut: "A", shortcutVariant: { kind: "shortcutOnlyGating", gateBias: -1 } },
  gatedPreactNormNone: {
    ...tiny,
    preActivation: true,
    norm: "none",
    shortcut: "A",
    shortcutVariant: { kind: "exclusiveGating", gateBias: 0.5 },
  },
  conv1x1A: { ...tiny, shortcut: "A", shortcutVariant: "conv1x1" },
  dropoutB: { ...tiny, shortcut: "B", shortcutVariant: { kind: "dropout", rate: 0.2 } },
  zeroInitBasic: { ...tiny, zeroInitResidual: true },
  zeroInitBottleneck: { ...tiny, block: "bottleneck", zeroInitResidual: true },
};

interface Case {
  name: string;
  graph: ModelGraph;
  forward: boolean;
  backward: boolean;
  torchvision: string | null;
  parity: boolean;
}

interface Logits {
  eval: number[];
  train?: number[];
}
interface CaseResult {
  error?: string;
  params: number;
  leaves: string[];
  inputShape: number[];
  torchvision?: string;
  shapes?: Record<string, number[]>;
  backward?: { missingGrads: string[]; finite: boolean; nonzeroGrads: number; paramTensors: number };
  parity?: {
    fromTfjs: Logits;
    torch: Logits;
    checkpointRoundTrip: boolean;
    metadataKeys: string[];
    refusals: { damaged: string | null; foreign: string | null };
  };
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const name of PRESET_NAMES) {
    const imagenet = loadSpec(name).spec!.stem === "imagenet";
    const loaded = loadSpec(name, imagenet ? { input: SMALL_IMAGENET_INPUT } : {});
    assert.ok(loaded.graph, `preset ${name} analyzes`);
    const forward = !PARAMS_ONLY.has(name);
    out.push({
      name: `preset ${name}`,
      graph: loaded.graph,
      forward,
      backward: false,
      torchvision: TORCHVISION_NAMES.has(name) ? name : null,
      parity: false,
    });
  }
  for (const file of readdirSync(join(root, "examples")).filter((f) => f.endsWith(".resnet.ts"))) {
    const path = join(root, "examples", file);
    const spec = loadSpec(path).spec!;
    // Examples at ImageNet size are checked at 64×64 (the same layers; shapes follow the input).
    const loaded = loadSpec(path, spec.input[1] > 64 ? { input: [spec.input[0], 64, 64] } : {});
    assert.ok(loaded.graph, `example ${file} analyzes: ${loaded.diagnostics.map((d) => d.message).join("; ")}`);
    out.push({
      name: `example ${file}`,
      graph: loaded.graph,
      forward: true,
      backward: false,
      torchvision: null,
      parity: false,
    });
  }
  for (const [name, options] of Object.entries(VARIANTS)) {
    out.push({
      name: `variant ${name}`,
      graph: analyzeOrThrow(resnet(options)),
      forward: true,
      backward: true,
      torchvision: null,
      parity: true,
    });
  }
  return out;
}

/** Deterministic input, NCHW. */
function fixedInput(shape: number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, (_, i) => Math.sin(0.37 * i + 0.5) * 1.5);
}

/** Moves BN γ/β and running statistics off their initial values so eval-mode parity tests them. */
function perturbNorms(model: TfModel): void {
  const state: Record<string, StateTensor> = {};
  for (const [name, v] of [...model.params, ...model.buffers]) {
    const isNorm =
      /\.(running_mean|running_var)$/.test(name) ||
      (v.rank === 1 && model.buffers.has(name.replace(/\.(weight|bias)$/, ".running_mean")));
    if (!isNorm) continue;
    const n = v.shape[0];
    const base = name.endsWith("running_var") || name.endsWith(".weight") ? 1 : 0;
    state[name] = {
      shape: [n],
      data: Float32Array.from({ length: n }, (_, i) => base + 0.3 * Math.sin(1.7 * i + name.length)),
    };
  }
  loadTorchStateDict(model, state);
}

function nhwc(x: Float32Array, [n, c, h, w]: number[]): tf.Tensor4D {
  return tf.tidy(() => tf.transpose(tf.tensor4d(x, [n, c, h, w]), [0, 2, 3, 1]));
}

function logitsOf(model: TfModel, x: tf.Tensor4D, train: boolean): Logits {
  const read = (mode: "eval" | "train") => {
    const y = model.apply(x, mode);
    const data = Array.from(y.dataSync());
    y.dispose();
    return data;
  };
  return train ? { eval: read("eval"), train: read("train") } : { eval: read("eval") };
}

/** A minimal safetensors reader (F32 only; I64 counters skipped): an independent check of model.py's writer. */
function readSafetensorsF32(file: string): Record<string, StateTensor> {
  const bytes = readFileSync(file);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.toString("utf8", 8, 8 + headerLength)) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const dataStart = 8 + headerLength;
  const out: Record<string, StateTensor> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__" || entry.dtype !== "F32") continue;
    const [begin, end] = entry.data_offsets;
    const copy = bytes.subarray(dataStart + begin, dataStart + end);
    out[name] = {
      shape: entry.shape,
      data: new Float32Array(copy.buffer.slice(copy.byteOffset, copy.byteOffset + copy.byteLength)),
    };
  }
  return out;
}

function assertClose(actual: number[], expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const scale = Math.max(...expected.map(Math.abs));
  const worst = Math.max(...actual.map((a, i) => Math.abs(a - expected[i])));
  assert.ok(scale > 0, `${what}: logits are all zero`);
  assert.ok(
    worst <= PARITY_RTOL * scale,
    `${what}: max |Δ| ${worst.toExponential(2)} exceeds ${PARITY_RTOL} × max |logit| ${scale.toExponential(2)}`,
  );
}

describe("PyTorch export", { skip }, () => {
  let dir = "";
  let all: Case[] = [];
  let results: Record<string, CaseResult> = {};
  const tfjsLogits = new Map<string, Logits>();
  const inputs = new Map<string, { data: Float32Array; shape: number[] }>();

  before(async () => {
    await initBackend("wasm");
    dir = mkdtempSync(join(tmpdir(), "rs-export-"));
    all = cases();
    const manifest = all.map((c, i) => {
      const module = join(dir, `case${i}.py`);
      writeFileSync(module, exportPytorch(c.graph, { source: c.name }));
      let parity = null;
      if (c.parity) {
        const shape = [2, ...c.graph.input];
        const data = fixedInput(shape);
        inputs.set(c.name, { data, shape });
        const model = buildModel(c.graph, { seed: 3 });
        perturbNorms(model);
        const stateFile = join(dir, `case${i}.tfjs.json`);
        const state = Object.fromEntries(
          Object.entries(torchStateDict(model)).map(([k, v]) => [k, { shape: v.shape, data: Array.from(v.data) }]),
        );
        writeFileSync(stateFile, JSON.stringify(state));
        const train = c.graph.spec.shortcutVariant.kind !== "dropout";
        const x = nhwc(data, shape);
        tfjsLogits.set(c.name, logitsOf(model, x, train));
        x.dispose();
        model.dispose();
        parity = {
          tfjsState: stateFile,
          x: Array.from(data),
          xShape: shape,
          train,
          torchOut: join(dir, `case${i}.safetensors`),
        };
      }
      return { name: c.name, module, forward: c.forward, backward: c.backward, torchvision: c.torchvision, parity };
    });
    writeFileSync(join(dir, "manifest.json"), JSON.stringify({ cases: manifest }));
    const run = spawnSync(PYTHON, [CHECKER, join(dir, "manifest.json")], {
      encoding: "utf8",
      maxBuffer: 256 * 2 ** 20,
      timeout: 300_000,
    });
    assert.equal(run.status, 0, `check_pytorch_export.py failed:\n${run.stderr}`);
    results = (JSON.parse(run.stdout) as { results: Record<string, CaseResult> }).results;
  });

  after(() => {
    // KEEP_EXPORT_DIR=1 keeps the generated modules and manifest for rerunning check_pytorch_export.py by hand.
    if (dir && !process.env.KEEP_EXPORT_DIR) rmSync(dir, { recursive: true, force: true });
  });

  const resultOf = (c: Case): CaseResult => {
    const r = results[c.name];
    assert.ok(r, `${c.name}: no result`);
    assert.equal(r.error, undefined, `${c.name}: ${r.error}`);
    return r;
  };

  test("parameter counts equal summary --json for every preset, example and variant; module names are the node ids", () => {
    for (const c of all) {
      const r = resultOf(c);
      const summary = summarize(c.graph, null);
      assert.equal(r.params, summary.params, `${c.name}: parameters`);
      assert.deepEqual(r.inputShape, c.graph.input, `${c.name}: INPUT_SHAPE`);
      const nodeIds = c.graph.nodes
        .filter((n) => n.op.kind !== "input")
        .map((n) => n.id)
        .sort();
      assert.deepEqual(r.leaves, nodeIds, `${c.name}: leaf modules are exactly the graph's nodes`);
    }
    assert.equal(results["preset resnet50"]?.params, 25_557_032);
    assert.equal(
      results["preset resnet1202"]?.params,
      19_421_274,
      "option A: no shortcut parameters (He et al. 2015, Table 6: 19.4M)",
    );
  });

  test("every node's and every stage's output shape equals summary --json", () => {
    for (const c of all.filter((x) => x.forward)) {
      const shapes = resultOf(c).shapes!;
      for (const layer of summarize(c.graph, null).layers) {
        if (layer.kind === "input") continue;
        // The graph's avgpool already flattens ([C]); nn.AdaptiveAvgPool2d gives [C, 1, 1] and forward flattens after it.
        const got = layer.kind === "globalavgpool" ? shapes[layer.id].slice(0, 1) : shapes[layer.id];
        assert.deepEqual(got, layer.output, `${c.name}: ${layer.id}`);
      }
      for (const stage of summarize(c.graph, null).stages) {
        const module = stage.name.startsWith("layer")
          ? stage.name
          : c.graph.stages.find((s) => s.id === stage.name)!.nodeIds.at(-1)!;
        assert.deepEqual(shapes[module], stage.output, `${c.name}: stage ${stage.name}`);
      }
    }
  });

  test("torchvision's state_dicts load with strict=True into every ImageNet preset", () => {
    const checked = all.filter((c) => c.torchvision);
    assert.equal(checked.length, TORCHVISION_NAMES.size);
    for (const c of checked) assert.equal(resultOf(c).torchvision, "ok", `${c.name}`);
  });

  test("every shortcut variant, pre-activation, plain, norm none and groups run forward and backward", () => {
    for (const c of all.filter((x) => x.backward)) {
      const b = resultOf(c).backward!;
      assert.deepEqual(b.missingGrads, [], `${c.name}: parameters without a gradient`);
      assert.ok(b.finite, `${c.name}: non-finite loss or gradient`);
      assert.ok(b.nonzeroGrads > 0, `${c.name}: all gradients are zero`);
    }
  });

  test(`logits agree within ${PARITY_RTOL} relative: TF.js weights → PyTorch, and PyTorch weights (safetensors) → TF.js`, () => {
    for (const c of all.filter((x) => x.parity)) {
      const r = resultOf(c).parity!;
      const ours = tfjsLogits.get(c.name)!;
      assertClose(r.fromTfjs.eval, ours.eval, `${c.name} wasm → torch, eval`);
      if (ours.train) assertClose(r.fromTfjs.train!, ours.train, `${c.name} wasm → torch, train-mode BN`);
      assert.ok(r.checkpointRoundTrip, `${c.name}: write_safetensors → load_checkpoint gives back the same tensors`);
      assert.ok(r.metadataKeys.includes("dataSha256"), `${c.name}: the writer records dataSha256`);
      assert.match(
        r.refusals.damaged ?? "",
        /\.safetensors\.damaged: dataSha256 does not match the data/,
        `${c.name}: a flipped byte is refused`,
      );
      assert.match(
        r.refusals.foreign ?? "",
        /\.safetensors\.foreign: metadata field spec differs from this model's in classes \(pass strict=False/,
        `${c.name}: another spec's checkpoint is refused`,
      );

      const { data, shape } = inputs.get(c.name)!;
      const model = buildModel(c.graph, { seed: 11 });
      try {
        loadTorchStateDict(model, readSafetensorsF32(join(dir, `case${all.indexOf(c)}.safetensors`)));
        const x = nhwc(data, shape);
        const back = logitsOf(model, x, ours.train !== undefined);
        x.dispose();
        assertClose(back.eval, r.torch.eval, `${c.name} torch → wasm, eval`);
        if (back.train) assertClose(back.train, r.torch.train!, `${c.name} torch → wasm, train-mode BN`);
      } finally {
        model.dispose();
      }
    }
  });
});

describe("resnet-studio export", () => {
  before(buildCliIfStale);

  test("prints model.py to stdout, whole, for a preset", async () => {
    const r = await runCli(["export", "resnet152", "--to", "pytorch"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^"""resnet152: a residual network exported by ResNet Studio from preset resnet152\./);
    assert.match(r.stdout, /^class Bottleneck\(nn\.Module\):$/m);
    assert.match(r.stdout, /^NUM_PARAMS = 60192808$/m);
    assert.ok(
      r.stdout.endsWith(
        `print(f"{SPEC['name']}: {sum(p.numel() for p in net.parameters()):,} parameters, {tuple(x.shape)} -> {tuple(net.eval()(x).shape)}")\n`,
      ),
      "ends with the __main__ block",
    );
  });

  test("a broken spec gets located diagnostics and exit code 1; bad options are named", async () => {
    const broken = join(root, "test/fixtures/broken/empty-stages.resnet.ts");
    const r = await runCli(["export", broken, "--to", "pytorch"]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /empty-stages\.resnet\.ts:\d+:\d+: /);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    const target = await runCli(["export", "resnet18", "--to", "onnx"]);
    assert.equal(target.code, 1);
    assert.match(target.stderr, /--to: the only export target is pytorch, got "onnx"/);
    const noOut = await runCli(["export", "resnet18", "--with-train-script"]);
    assert.equal(noOut.code, 1);
    assert.match(noOut.stderr, /--with-train-script writes train_ddp\.py beside the model: give --out model\.py/);
  });

  test(
    "--with-train-script: train_ddp.py runs one step under torchrun --nproc_per_node 2 (gloo) and writes a checkpoint load_checkpoint reads",
    { skip },
    async () => {
      const work = mkdtempSync(join(tmpdir(), "rs-ddp-"));
      try {
        const spec = join(work, "tiny.resnet.ts");
        writeFileSync(
          spec,
          `import { resnet, stage } from "resnet-studio";
export default resnet({ name: "tiny", input: [3, 8, 8], stem: "cifar", stages: [stage({ channels: 4, blocks: 1 }), stage({ channels: 8, blocks: 1, stride: 2 })], shortcut: "A", classes: 3 });
`,
        );
        const out = await runCli([
          "export",
          spec,
          "--to",
          "pytorch",
          "--out",
          join(work, "model.py"),
          "--with-train-script",
        ]);
        assert.equal(out.code, 0, out.stderr);
        assert.match(
          out.stdout,
          /wrote .*model\.py, .*train_ddp\.py, .*resnet_studio_fast\.py: tiny, 1,343 parameters/,
        );
        const direct = spawnSync(PYTHON, [join(work, "model.py")], { encoding: "utf8" });
        assert.equal(direct.stdout, "tiny: 1,343 parameters, (2, 3, 8, 8) -> (2, 3)\n", direct.stderr);
        const port = 20000 + Math.floor(Math.random() * 20000);
        // --redirects/--tee 1: torchrun 1.13 on Python 3.11 cannot parse their default "0" (the IntFlag zero member).
        const run = spawnSync(
          "timeout",
          [
            "120",
            TORCHRUN,
            "--redirects",
            "1",
            "--tee",
            "1",
            "--nproc_per_node",
            "2",
            "--master_port",
            String(port),
            join(work, "train_ddp.py"),
            "--dataset",
            "synthetic:count=64",
            "--epochs",
            "1",
            "--batch-size",
            "4",
            "--max-steps",
            "1",
            "--workers",
            "0",
            "--device",
            "cpu",
            "--out",
            join(work, "run"),
          ],
          { cwd: work, encoding: "utf8", env: { ...process.env, OMP_NUM_THREADS: "1" } },
        );
        assert.equal(run.status, 0, `torchrun failed:\n${run.stdout}\n${run.stderr}`);
        assert.match(run.stdout, /"type": "start".*"world": 2/);
        assert.match(run.stdout, /"type": "checkpoint"/);
        const check = spawnSync(
          PYTHON,
          [
            "-c",
            `
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("model", sys.argv[1]); m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
net = m.build()
meta = m.load_checkpoint(net, sys.argv[2])
_, tensors = m.read_safetensors(sys.argv[2])
print(json.dumps({"meta": meta, "optimizer": sorted(k for k in tensors if k.startswith("optimizer.")), "params": [n for n, _ in net.named_parameters()], "keys": len([k for k in tensors if not k.startswith("optimizer.")]), "stateKeys": len(net.state_dict())}))
`,
            join(work, "model.py"),
            join(work, "run", "checkpoint.safetensors"),
          ],
          { encoding: "utf8" },
        );
        assert.equal(check.status, 0, check.stderr);
        const { meta, optimizer, params, keys, stateKeys } = JSON.parse(check.stdout) as {
          meta: Record<string, string>;
          optimizer: string[];
          params: string[];
          keys: number;
          stateKeys: number;
        };
        assert.equal(meta.format, "resnet-studio-checkpoint");
        assert.equal(meta.version, "2");
        assert.equal(meta.backend, "torch");
        assert.equal(meta.globalStep, "1");
        assert.equal(meta.epoch, "0", "an epoch cut short by --max-steps is not counted");
        assert.deepEqual(JSON.parse(meta.history ?? "null"), [], "nor kept in the history");
        assert.match(meta.specHash ?? "", /^[0-9a-f]{64}$/);
        assert.deepEqual((JSON.parse(meta.optimizer ?? "{}") as { kind?: unknown }).kind, "adam");
        assert.deepEqual(
          optimizer,
          params.flatMap((p) => [`optimizer.${p}.exp_avg`, `optimizer.${p}.exp_avg_sq`]).sort(),
          "Adam's slots for every parameter",
        );
        assert.equal(keys, stateKeys);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    },
  );
});

test("the editor command's export: model.py for a valid document, the first located problem for a broken one", () => {
  const text = readFileSync(join(root, "examples/cifar-resnet20.resnet.ts"), "utf8");
  const good = pytorchExportFor(
    analyzeSpecText(text, "examples/cifar-resnet20.resnet.ts"),
    "examples/cifar-resnet20.resnet.ts",
  );
  assert.ok(good.ok);
  assert.match(good.code, /^class PadShortcut\(nn\.Module\):$/m);
  assert.match(good.code, /^NUM_PARAMS = 269722$/m);
  const broken = text.replace("channels: 32", "channels: 0");
  const bad = pytorchExportFor(analyzeSpecText(broken, "r20.resnet.ts"), "r20.resnet.ts");
  assert.ok(!bad.ok);
  assert.match(bad.message, /^cannot export: r20\.resnet\.ts:\d+:\d+: /);
});

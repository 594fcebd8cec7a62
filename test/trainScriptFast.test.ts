/**
 * The exported train_ddp.py's fast path on the CPU (issue 23) and its MNIST-format IDX datasets with per-channel
 * normalisation (issue 20), on the system PyTorch (/usr/bin/python3; skipped without it, failing under CI=true).
 * Every option combination that applies to a CPU runs one epoch of a tiny network in one Python process
 * (test/reference/train_ddp_options.py), so the test costs one torch import per group.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { buildCliIfStale, runCli } from "./cli/harness";
import { exportTrainScript } from "../model-core/src/export/trainScript";
import { loadSpec } from "../model-core/src/load";
import { DEFAULT_TRAIN_CONFIG } from "../model-core/src/runtime/trainTypes";
import { skipWithoutTool } from "./toolSkip";
import { writeTree, type ImageSpec } from "../model-core/test/datasetFixtures";
import { loadImageFolder } from "../model-core/src/data/imagefolder";
import { channelStats } from "../model-core/src/data/dataset";

const root = join(__dirname, "..");
const PYTHON = process.env.RESNET_STUDIO_PYTHON ?? "/usr/bin/python3";
const DRIVER = join(root, "test/reference/train_ddp_options.py");

function torchMissing(): string | false {
  const r = spawnSync(PYTHON, ["-c", "import torch"], { encoding: "utf8" });
  return r.status === 0 ? false : `${PYTHON} cannot import torch (apt-get install python3-torch)`;
}
const skip = skipWithoutTool(torchMissing());

interface RunEvent {
  type: string;
  [key: string]: unknown;
}
interface RunResult {
  argv: string[];
  code: number;
  events: RunEvent[];
  steps: number;
  notes: string[];
  stderr: string;
}
interface Training {
  device: string;
  precision: string;
  channelsLast: boolean;
  compile: boolean;
  cudnnBenchmark: boolean;
  threads: number;
  torch: string;
  notes: string[];
  data: string;
  augment: string;
  cropPadding: number;
  logEvery: number;
  normalization: { mean: number[]; std: number[]; from: string };
}

/** Runs train_ddp.py's main() once per argument list, all in one Python process. */
function runScript(folder: string, runs: string[][]): RunResult[] {
  const r = spawnSync("timeout", ["300", PYTHON, DRIVER, folder], {
    input: JSON.stringify(runs),
    encoding: "utf8",
    env: { ...process.env, OMP_NUM_THREADS: "1", PYTHONDONTWRITEBYTECODE: "1" },
  });
  assert.equal(r.status, 0, `driver failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as RunResult);
}

const eventOf = (run: RunResult, type: string): RunEvent | undefined => run.events.find((e) => e.type === type);
const trainingOf = (run: RunResult): Training => {
  const start = eventOf(run, "start");
  assert.ok(start, `no start line in ${run.argv.join(" ")}: ${run.stderr}`);
  return start.training as Training;
};

/** An MNIST-format IDX file: magic 0 0 8 ndims, big-endian dimensions, the bytes. */
function idx(dims: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt8(8, 2);
  header.writeUInt8(dims.length, 3);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data)]);
}

/** Learnable 6×6 grey images of 3 classes (a bright row per class), with a seeded pseudo-random texture. */
function idxImages(count: number, seed: number): { images: Uint8Array; labels: Uint8Array } {
  const images = new Uint8Array(count * 36);
  const labels = new Uint8Array(count);
  let s = seed;
  for (let i = 0; i < count; i++) {
    labels[i] = i % 3;
    for (let p = 0; p < 36; p++) {
      s = (s * 1103515245 + 12345) % 2147483648;
      images[i * 36 + p] = (s >> 16) % 64;
    }
    for (let x = 0; x < 6; x++) images[i * 36 + labels[i] * 2 * 6 + x] = 250;
  }
  return { images, labels };
}

describe("train_ddp.py fast path and IDX datasets (CPU)", { skip }, () => {
  let work = "";
  before(async () => {
    buildCliIfStale();
    work = mkdtempSync(join(tmpdir(), "rs-fast-"));
    const spec = join(work, "tiny.resnet.ts");
    writeFileSync(
      spec,
      `import { resnet, stage } from "resnet-studio";
export default resnet({ name: "tiny", input: [3, 8, 8], stem: "cifar", stages: [stage({ channels: 4, blocks: 1 }), stage({ channels: 8, blocks: 1, stride: 2 })], shortcut: "A", classes: 3 });
`,
    );
    const out = await runCli(["export", spec, "--out", join(work, "model.py"), "--with-train-script"]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /wrote .*model\.py, .*train_ddp\.py, .*resnet_studio_fast\.py: tiny/);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  test("the export ships the fast-path module beside the script, byte for byte the runner's", () => {
    assert.equal(
      readFileSync(join(work, "resnet_studio_fast.py"), "utf8"),
      readFileSync(join(root, "model-core/python/resnet_studio_fast.py"), "utf8"),
    );
    const script = readFileSync(join(work, "train_ddp.py"), "utf8");
    assert.match(script, /^ {4}import resnet_studio_fast as fast$/m);
    assert.match(script, /^NORMALIZATION = None$/m);
  });

  test("one epoch for every CPU option combination; the start line and the checkpoint record every option", () => {
    const combos: { precision: string; channelsLast: string; compile: string; data: string; augment: string }[] = [];
    for (const precision of ["fp32", "bf16"])
      for (const channelsLast of ["on", "off"])
        for (const compile of ["on", "off"])
          for (const data of ["device", "loader"])
            for (const augment of ["none", "crop+flip"])
              combos.push({ precision, channelsLast, compile, data, augment });
    const runs = combos.map((c, i) => [
      ...["--dataset", "synthetic:count=48", "--epochs", "1", "--batch-size", "8", "--device", "cpu"],
      ...["--workers", "0", "--log-every", "2", "--out", join(work, `combo${i}`)],
      ...["--precision", c.precision, "--channels-last", c.channelsLast, "--compile", c.compile],
      ...["--data", c.data, "--augment", c.augment],
    ]);
    const results = runScript(work, runs);
    assert.equal(results.length, combos.length);
    const torchVersion = trainingOf(results[0]).torch;
    const canCompile = Number(torchVersion.split(".")[0]) >= 2;
    results.forEach((run, i) => {
      const c = combos[i];
      const label = JSON.stringify(c);
      assert.equal(run.code, 0, `${label}: ${run.stderr}`);
      const training = trainingOf(run);
      assert.equal(training.device, "cpu", label);
      assert.equal(training.precision, c.precision, label);
      assert.equal(training.channelsLast, c.channelsLast === "on", label);
      assert.equal(training.compile, c.compile === "on" && canCompile, label);
      assert.equal(training.cudnnBenchmark, false, label);
      assert.equal(training.data, c.data, label);
      assert.equal(training.augment, c.augment, label);
      assert.equal(training.cropPadding, c.augment === "none" ? 0 : 4, label);
      assert.equal(training.logEvery, 2, label);
      assert.ok(training.threads >= 1, label);
      if (c.compile === "on" && !canCompile) {
        assert.ok(
          run.notes.some((n) =>
            /--compile: torch\.compile needs torch >= 2 \(this is .*\); training uncompiled/.test(n),
          ),
          `${label}: the fallback is said: ${run.notes.join(" | ")}`,
        );
        assert.deepEqual(training.notes, run.notes, label);
      }
      // 48 training samples (synthetic data has its own validation set): 6 steps of 8, lines at steps 0, 2, 4 and 5.
      assert.equal(run.steps, 4, label);
      const epoch = eventOf(run, "epoch");
      assert.ok(epoch, label);
      assert.ok(Number.isFinite(epoch.loss) && Number.isFinite(epoch.valLoss), `${label}: ${JSON.stringify(epoch)}`);
      assert.deepEqual(eventOf(run, "checkpoint")?.epoch, 1, label);
    });
    // The checkpoint's metadata holds what the start line printed.
    const check = spawnSync(
      PYTHON,
      [
        "-c",
        "import importlib.util, sys, json\ns = importlib.util.spec_from_file_location('m', sys.argv[1]); m = importlib.util.module_from_spec(s); s.loader.exec_module(m)\nprint(m.read_safetensors(sys.argv[2])[0]['training'])",
        join(work, "model.py"),
        join(work, "combo0", "checkpoint.safetensors"),
      ],
      { encoding: "utf8" },
    );
    assert.equal(check.status, 0, check.stderr);
    assert.deepEqual(JSON.parse(check.stdout) as Training, trainingOf(results[0]));
  });

  test("a torch.compile that fails on the first step falls back to eager, says so once, and the step still trains", () => {
    const script = `
import json, sys, torch
sys.path.insert(0, sys.argv[1])
import resnet_studio_fast as fast

class Broken(torch.nn.Module):
    def forward(self, x):
        raise RuntimeError("backend compiler failed\\nsecond line")

torch.compile = lambda module: Broken()  # what a failing inductor looks like from the outside (torch 1.13 has none)
net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
options = fast.Options(torch.device("cpu"), "fp32", False, True, False, [])
said = []
step = fast.TrainStep(net, torch.optim.SGD(net.parameters(), lr=0.5), options, note=said.append)
x, y = torch.randn(8, 3, 2, 2, generator=torch.Generator().manual_seed(0)), torch.arange(8) % 3
losses = [float(step(x, y)[0]) for _ in range(5)]
print(json.dumps({"said": said, "compile": options.compile, "notes": options.notes, "losses": losses}))
`;
    const r = spawnSync(PYTHON, ["-c", script, work], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { said: string[]; compile: boolean; notes: string[]; losses: number[] };
    const expected =
      "torch.compile failed on the first step (RuntimeError: backend compiler failed); training uncompiled";
    assert.deepEqual(out.said, [expected]);
    assert.deepEqual(out.notes, [expected], "recorded for the checkpoint's metadata");
    assert.equal(out.compile, false);
    assert.ok(out.losses[4] < out.losses[0], `the eager step trains: ${out.losses.join(", ")}`);
  });

  test("fp16 on the CPU is refused with one clear line; bf16 runs", () => {
    const base = ["--dataset", "synthetic:count=32", "--epochs", "1", "--batch-size", "8", "--device", "cpu"];
    const [fp16, bf16] = runScript(work, [
      [...base, "--precision", "fp16", "--out", join(work, "fp16")],
      [...base, "--precision", "bf16", "--workers", "0", "--out", join(work, "bf16")],
    ]);
    assert.equal(fp16.code, 1);
    assert.equal(
      fp16.stderr,
      "train_ddp.py: error: --precision fp16 needs CUDA: autocast on the CPU has bfloat16 only; use --precision bf16 or fp32\n",
    );
    assert.equal(eventOf(fp16, "start"), undefined);
    assert.equal(bf16.code, 0, bf16.stderr);
    assert.equal(trainingOf(bf16).precision, "bf16");
  });

  for (const precision of ["fp32", "bf16"]) {
    test(`a checkpoint trained under channels_last + ${precision} loads strictly into the plain module with the same logits`, () => {
      const out = join(work, `logits-${precision}`);
      const [run] = runScript(work, [
        [
          ...["--dataset", "synthetic:count=48", "--epochs", "1", "--batch-size", "8", "--device", "cpu"],
          ...["--workers", "0", "--precision", precision, "--channels-last", "on", "--out", out],
        ],
      ]);
      assert.equal(run.code, 0, run.stderr);
      const r = spawnSync(PYTHON, [DRIVER, work, "--logits", join(out, "checkpoint.safetensors"), precision, "on"], {
        encoding: "utf8",
      });
      assert.equal(r.status, 0, r.stderr);
      const { maxRelativeDifference, scale, dtypes } = JSON.parse(r.stdout) as {
        maxRelativeDifference: number;
        scale: number;
        dtypes: string[];
      };
      assert.ok(scale > 0.01, `logits of a trained net are not all zero (${scale})`);
      assert.deepEqual(dtypes, ["torch.float32", "torch.int64"], "plain fp32 weights (and BN's step counters)");
      const tolerance = precision === "fp32" ? 1e-4 : 1e-2;
      assert.ok(
        maxRelativeDifference <= tolerance,
        `${precision}: logits differ by ${maxRelativeDifference} of the largest, over ${tolerance}`,
      );
    });
  }

  test("idx:<dir>: gzip and raw IDX files, normalised with the training split's mean and std", () => {
    const folder = join(work, "idx");
    mkdirSync(folder, { recursive: true });
    const train = idxImages(60, 7);
    const t10k = idxImages(12, 11);
    writeFileSync(join(folder, "train-images-idx3-ubyte.gz"), gzipSync(idx([60, 6, 6], train.images)));
    writeFileSync(join(folder, "train-labels-idx1-ubyte.gz"), gzipSync(idx([60], train.labels)));
    writeFileSync(join(folder, "t10k-images-idx3-ubyte"), idx([12, 6, 6], t10k.images));
    writeFileSync(join(folder, "t10k-labels-idx1-ubyte"), idx([12], t10k.labels));
    const mean = train.images.reduce((a, v) => a + v / 255, 0) / train.images.length;
    const variance = train.images.reduce((a, v) => a + (v / 255) ** 2, 0) / train.images.length - mean * mean;
    const base = ["--dataset", `idx:${folder}`, "--epochs", "2", "--batch-size", "10", "--device", "cpu"];
    const [computed, flags] = runScript(work, [
      [...base, "--workers", "0", "--lr", "0.01", "--out", join(work, "idx-run")],
      [
        ...base,
        "--workers",
        "0",
        "--mean",
        "0.5",
        "--std",
        "0.25",
        "--data",
        "loader",
        "--out",
        join(work, "idx-run2"),
      ],
    ]);
    assert.equal(computed.code, 0, computed.stderr);
    const start = eventOf(computed, "start")!;
    assert.equal(start.trainSamples, 60);
    assert.equal(start.valSamples, 12, "t10k is the validation set");
    const normalization = trainingOf(computed).normalization;
    assert.equal(normalization.from, "computed on the training split");
    assert.equal(normalization.mean.length, 1, "one grey channel (repeated to the model's 3 after normalising)");
    assert.ok(Math.abs(normalization.mean[0] - mean) < 1e-9, `${normalization.mean[0]} vs ${mean}`);
    assert.ok(Math.abs(normalization.std[0] - Math.sqrt(variance)) < 1e-9);
    assert.equal(trainingOf(computed).augment, "none", "digits are not flipped");
    const epochs = computed.events.filter((e) => e.type === "epoch");
    assert.equal(epochs.length, 2);
    assert.ok(
      (epochs[1].valAccuracy as number) > 0.5,
      `a bright row per class is learnable: ${JSON.stringify(epochs[1])}`,
    );
    assert.equal(flags.code, 0, flags.stderr);
    assert.deepEqual(trainingOf(flags).normalization, { mean: [0.5], std: [0.25], from: "--mean/--std" });
    assert.equal(trainingOf(flags).data, "loader");
  });

  test("imagefolder:<dir>: decoded once as the editor decodes it, held on the device, normalised with the training split's mean and std", async () => {
    const folder = join(work, "pets");
    const files: Record<string, ImageSpec> = {};
    ["ant", "bee", "cow"].forEach((name, label) => {
      for (let i = 0; i < 10; i++)
        files[`train/${name}/${i}.png`] = {
          format: "png",
          width: 12 + i,
          height: 10,
          seed: label * 40 + i,
        };
      for (let i = 0; i < 2; i++)
        files[`val/${name}/${i}.png`] = { format: "png", width: 9, height: 9, seed: 200 + label * 40 + i };
    });
    writeTree(folder, files);
    // The editor's decode of the same files (data/imagefolder.ts): the statistics the script must compute.
    const { train } = await loadImageFolder(folder, [3, 8, 8], { cacheDir: join(work, "pets-cache") });
    const expected = channelStats(train.images, 3, Infinity);
    const base = ["--dataset", `imagefolder:${folder}`, "--epochs", "1", "--batch-size", "10", "--device", "cpu"];
    const [preloaded, loader, flags] = runScript(work, [
      [...base, "--workers", "0", "--out", join(work, "if-run")],
      [...base, "--workers", "1", "--data", "loader", "--out", join(work, "if-run2")],
      [...base, "--workers", "0", "--mean", "0.5,0.5,0.5", "--std", "0.2,0.2,0.2", "--out", join(work, "if-run3")],
    ]);
    // Pixel for pixel as the editor decodes: the statistics agree to float64 rounding.
    const SAME_PIXELS = 1e-9;
    for (const run of [preloaded, loader]) {
      assert.equal(run.code, 0, run.stderr);
      const start = eventOf(run, "start")!;
      assert.equal(start.trainSamples, 30);
      assert.equal(start.valSamples, 6, "val/ is the validation set");
      const { normalization, augment } = trainingOf(run);
      assert.equal(normalization.from, "computed on the training split");
      assert.equal(augment, "crop+flip");
      normalization.mean.forEach((m, c) =>
        assert.ok(Math.abs(m - expected.mean[c]) < SAME_PIXELS, `mean[${c}] ${m} vs the editor's ${expected.mean[c]}`),
      );
      normalization.std.forEach((v, c) =>
        assert.ok(Math.abs(v - expected.std[c]) < SAME_PIXELS, `std[${c}] ${v} vs the editor's ${expected.std[c]}`),
      );
      assert.ok(eventOf(run, "epoch"), run.stderr);
    }
    assert.equal(trainingOf(preloaded).data, "device", "a small ImageFolder is held on the device");
    assert.equal(trainingOf(loader).data, "loader");
    assert.equal(flags.code, 0, flags.stderr);
    assert.deepEqual(trainingOf(flags).normalization, {
      mean: [0.5, 0.5, 0.5],
      std: [0.2, 0.2, 0.2],
      from: "--mean/--std",
    });
  });

  test("imagefolder:<dir>: a corrupt image (also in a DataLoader worker), one class or no folder each get one line", () => {
    const bad = join(work, "bad-folder");
    writeTree(bad, {
      "ant/0.png": { format: "png", width: 8, height: 8, seed: 1 },
      "ant/1.png": Buffer.from("not a png at all"),
      "bee/0.png": { format: "png", width: 8, height: 8, seed: 2 },
    });
    const single = join(work, "single-class");
    writeTree(single, { "ant/0.png": { format: "png", width: 8, height: 8, seed: 1 } });
    const base = ["--epochs", "1", "--batch-size", "2", "--device", "cpu"];
    const [corrupt, corruptInWorker, oneClass, missing] = runScript(work, [
      [...base, "--dataset", `imagefolder:${bad}`, "--workers", "0", "--out", join(work, "bad1")],
      [...base, "--dataset", `imagefolder:${bad}`, "--workers", "1", "--out", join(work, "bad2")],
      [...base, "--dataset", `imagefolder:${single}`, "--workers", "0", "--out", join(work, "bad3")],
      [...base, "--dataset", `imagefolder:${join(work, "nowhere")}`, "--out", join(work, "bad4")],
    ]);
    for (const run of [corrupt, corruptInWorker]) {
      assert.equal(run.code, 1, run.stderr);
      assert.match(
        run.stderr,
        new RegExp(
          `^train_ddp\\.py: error: ${join(bad, "ant", "1.png").replace(/[.]/g, "\\.")}: UnidentifiedImageError: .+\\n$`,
        ),
      );
    }
    assert.equal(oneClass.code, 1);
    assert.equal(oneClass.stderr, `train_ddp.py: error: ${single}: 1 class folder; training needs at least two\n`);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^train_ddp\.py: error: --dataset imagefolder:.*nowhere is not a folder\n$/);
  });

  test("idx:<dir>: a bad magic, a count that disagrees with the labels and a truncated gzip each get one line naming the file", () => {
    const cases: Record<string, { files: Record<string, Buffer>; message: RegExp }> = {
      magic: {
        files: {
          "train-images-idx3-ubyte": Buffer.concat([
            Buffer.from([0, 0, 0x0d, 3]),
            idx([2, 2, 2], new Uint8Array(8)).subarray(4),
          ]),
          "train-labels-idx1-ubyte": idx([2], new Uint8Array([0, 1])),
        },
        message: /train-images-idx3-ubyte: magic 00000d03 is not an unsigned-byte IDX file/,
      },
      count: {
        files: {
          "train-images-idx3-ubyte": idx([3, 2, 2], new Uint8Array(12)),
          "train-labels-idx1-ubyte": idx([2], new Uint8Array([0, 1])),
        },
        message: /train-images-idx3-ubyte: 3 images, but .*train-labels-idx1-ubyte has 2 labels/,
      },
      length: {
        files: {
          "train-images-idx3-ubyte": idx([3, 2, 2], new Uint8Array(10)),
          "train-labels-idx1-ubyte": idx([3], new Uint8Array([0, 1, 2])),
        },
        message: /train-images-idx3-ubyte: dimensions \[3, 2, 2\] need 12 bytes of data, the file has 10/,
      },
      truncatedGzip: {
        files: {
          "train-images-idx3-ubyte.gz": gzipSync(idx([40, 6, 6], idxImages(40, 3).images)).subarray(0, 60),
          "train-labels-idx1-ubyte": idx([40], idxImages(40, 3).labels),
        },
        message: /train-images-idx3-ubyte\.gz: the gzip stream is truncated or damaged/,
      },
    };
    const runs = Object.entries(cases).map(([name, c]) => {
      const folder = join(work, `bad-${name}`);
      mkdirSync(folder, { recursive: true });
      for (const [file, bytes] of Object.entries(c.files)) writeFileSync(join(folder, file), bytes);
      return ["--dataset", `idx:${folder}`, "--epochs", "1", "--device", "cpu", "--out", join(work, `bad-run-${name}`)];
    });
    const results = runScript(work, runs);
    Object.entries(cases).forEach(([name, c], i) => {
      const run = results[i];
      assert.equal(run.code, 1, name);
      assert.match(run.stderr, /^train_ddp\.py: error: /, name);
      assert.match(run.stderr, c.message, name);
      assert.equal(run.stderr.trim().split("\n").length, 1, `${name}: one line, no traceback: ${run.stderr}`);
    });
  });

  test("normalisation baked in at export is the default, and --mean/--std still override it", () => {
    const loaded = loadSpec(join(work, "tiny.resnet.ts"));
    assert.ok(loaded.graph);
    const folder = join(work, "baked");
    mkdirSync(folder, { recursive: true });
    for (const f of ["model.py", "resnet_studio_fast.py"]) writeFileSync(join(folder, f), readFileSync(join(work, f)));
    const config = { ...DEFAULT_TRAIN_CONFIG };
    writeFileSync(
      join(folder, "train_ddp.py"),
      exportTrainScript(loaded.graph, {
        modelFile: "model.py",
        specHash: "0".repeat(64),
        defaults: { cifar10: config, imagefolder: config, idx: config, synthetic: config },
        normalization: { mean: [0.25], std: [0.5] },
      }),
    );
    assert.match(
      readFileSync(join(folder, "train_ddp.py"), "utf8"),
      /^NORMALIZATION = \{\n {4}"mean": \[0\.25\],\n {4}"std": \[0\.5\],\n\}$/m,
    );
    const base = ["--dataset", `idx:${join(work, "idx")}`, "--epochs", "1", "--batch-size", "10", "--device", "cpu"];
    // Twenty CIFAR-10 records (a label byte, then 32×32 R, G, B planes): three channels against a one-channel bake.
    const cifar = join(work, "cifar");
    mkdirSync(cifar, { recursive: true });
    writeFileSync(join(cifar, "data_batch_1.bin"), Buffer.alloc(20 * 3073, 1));
    const [baked, flag, mismatch] = runScript(folder, [
      [...base, "--workers", "0", "--out", join(folder, "r1")],
      [...base, "--workers", "0", "--mean", "0.1", "--std", "0.2", "--out", join(folder, "r2")],
      ["--dataset", `cifar10:${cifar}:classes=0,1`, "--epochs", "1", "--device", "cpu", "--out", join(folder, "r3")],
    ]);
    assert.equal(baked.code, 0, baked.stderr);
    assert.deepEqual(trainingOf(baked).normalization, { mean: [0.25], std: [0.5], from: "baked in at export" });
    assert.deepEqual(trainingOf(flag).normalization, { mean: [0.1], std: [0.2], from: "--mean/--std" });
    assert.equal(mismatch.code, 1);
    assert.match(
      mismatch.stderr,
      /normalisation \(baked in at export\) has 1 means and 1 stds; the dataset has 3 channel\(s\)/,
    );
  });
});

describe("bench/cuda/fast_loops.py on the CPU", { skip }, () => {
  let work = "";
  before(async () => {
    buildCliIfStale();
    work = mkdtempSync(join(tmpdir(), "rs-loops-"));
    const out = await runCli([
      "export",
      "plain20",
      "--input",
      "3,8,8",
      "--out",
      join(work, "net.py"),
      "--with-train-script",
    ]);
    assert.equal(out.code, 0, out.stderr);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  test("three loops interleaved (naive, tuned, ours) with their ratios, the end-to-end run, and the bar's exit code", () => {
    const script = join(root, "bench/cuda/fast_loops.py");
    const common = ["--models", work, "--device", "cpu", "--threads", "1", "--nets", "net", "--batches", "8"];
    const quick = ["--steps", "1", "--rounds", "2", "--warmup", "1"];
    const r = spawnSync(
      "timeout",
      [
        "300",
        PYTHON,
        script,
        ...common,
        ...quick,
        ...["--precisions", "fp32,bf16", "--bar", "0"],
        ...["--e2e", "--e2e-net", "net", "--e2e-epochs", "1", "--e2e-images", "64", "--e2e-batch", "16"],
      ],
      { encoding: "utf8" },
    );
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const rows = lines.filter((l) => "bench" in l) as {
      precision: string;
      oursOverTuned: number;
      oursOverNaive: number;
      [loop: string]: unknown;
    }[];
    assert.deepEqual(
      rows.map((row) => row.precision),
      ["fp32", "bf16"],
    );
    for (const row of rows) {
      for (const loop of ["naive", "tuned", "ours"]) {
        const figures = row[loop] as { median: number; best: number; epochSeconds: number };
        assert.ok(figures.median > 0 && figures.best >= figures.median, `${loop}: ${JSON.stringify(figures)}`);
        assert.ok(Math.abs(figures.epochSeconds - 50_000 / figures.median) < 0.01 * figures.epochSeconds);
      }
      const ours = (row.ours as { median: number }).median;
      assert.ok(Math.abs(row.oursOverTuned - ours / (row.tuned as { median: number }).median) < 2e-3);
      assert.ok(Math.abs(row.oursOverNaive - ours / (row.naive as { median: number }).median) < 2e-3);
    }
    const summary = lines[lines.length - 1].summary as {
      e2e: { seconds: Record<string, number> };
      bar: { failed: string[] };
    };
    assert.deepEqual(Object.keys(summary.e2e.seconds).sort(), ["naive", "ours", "tuned"]);
    assert.ok(Object.values(summary.e2e.seconds).every((s) => s > 0));
    assert.deepEqual(summary.bar.failed, []);
    // A bar no loop can reach: the benchmark says which row missed it and exits 1.
    const missed = spawnSync(
      "timeout",
      ["300", PYTHON, script, ...common, ...quick, "--precisions", "fp32", "--bar", "1000"],
      { encoding: "utf8" },
    );
    assert.equal(missed.status, 1, missed.stderr);
    assert.match(missed.stdout, /"bar": \{"value": 1000\.0, "failed": \["net b8 fp32"\], "naive": 1000\.0\}/);
  });
});

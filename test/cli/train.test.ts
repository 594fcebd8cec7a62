import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildTrainConfig, datasetDefaults, type TrainEstimateLine } from "../../model-core/src/cli/train";
import { runCliFromSource } from "./harness";

const cli = (args: string[]) => runCliFromSource(args);

test("train config precedence: defaults < dataset defaults < checkpoint < flags; bad flags are named", () => {
  const mnist = buildTrainConfig({ dataset: "mnist" }, null);
  assert.equal(mnist.optimizer, datasetDefaults("mnist").optimizer);
  const cifar = buildTrainConfig({ dataset: "cifar10:/x" }, null);
  assert.equal(cifar.optimizer, "sgd");
  assert.equal(cifar.weightDecay, 1e-4);
  const resumed = buildTrainConfig({ dataset: "mnist", epochs: "9" }, { ...mnist, lr: 0.5, epochs: 2 });
  assert.equal(resumed.lr, 0.5);
  assert.equal(resumed.epochs, 9);
  assert.deepEqual(buildTrainConfig({ schedule: "step", epochs: "8" }, null).schedule, {
    kind: "step",
    milestones: [4, 6],
    gamma: 0.1,
  });
  assert.throws(() => buildTrainConfig({ lr: "fast" }, null), /--lr must be a number > 0, got "fast"/);
  assert.throws(() => buildTrainConfig({ batch: "1" }, null), /--batch must be an integer ≥ 2, got "1"/);
  assert.throws(() => buildTrainConfig({ optimizer: "rmsprop" }, null), /--optimizer must be adam or sgd/);
});

test("train --json on synthetic data: JSON lines, summary last, checkpoint written, resume continues", () => {
  const out = mkdtempSync(join(tmpdir(), "rs-cli-train-"));
  try {
    const common = [
      "train",
      "examples/small.resnet.ts",
      "--input",
      "1,8,8",
      "--dataset",
      "synthetic:count=40",
      "--batch",
      "8",
      "--backend",
      "cpu",
      "--json",
      "--out",
      out,
    ];
    const first = cli([...common, "--epochs", "1"]);
    assert.equal(first.status, 0, first.stderr);
    const lines = first.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines[0].type, "start");
    assert.ok(lines.some((l) => l.type === "epoch"));
    const summary = lines[lines.length - 1];
    assert.equal(summary.type, "summary");
    assert.equal(summary.backend, "cpu");
    assert.equal(typeof summary.valAccuracy, "number");
    assert.equal(typeof summary.imagesPerSecond, "number");
    assert.deepEqual(readdirSync(out).sort(), ["checkpoint.safetensors", "run.json"]);
    const second = cli([...common, "--epochs", "2", "--resume", out]);
    assert.equal(second.status, 0, second.stderr);
    const resumed = second.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(resumed[0].startEpoch, 1);
    assert.equal(resumed.filter((l) => l.type === "epoch").length, 1, "only the second epoch runs");
    assert.equal(resumed[resumed.length - 1].epochs, 2);
    const otherSpec = cli([
      "train",
      "resnet20",
      "--dataset",
      "synthetic:count=20",
      "--backend",
      "cpu",
      "--resume",
      out,
    ]);
    assert.equal(otherSpec.status, 1);
    assert.match(otherSpec.stderr, /checkpoint is for spec "Small ResNet \(MNIST\)".*not for "resnet20"/);
    assert.doesNotMatch(otherSpec.stderr, /\n\s+at /, "no stack trace");
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("train and bench give one clear line, no stack, for bad input", () => {
  const cases: [string[], RegExp][] = [
    [["train", "examples/small.resnet.ts", "--epochs", "0"], /--epochs must be an integer ≥ 1, got "0"/],
    [
      ["train", "examples/small.resnet.ts", "--dataset", "cifar10:/definitely/not/here"],
      /\/definitely\/not\/here: no CIFAR-10 binary files/,
    ],
    [["train", "no-such.resnet.ts"], /no-such\.resnet\.ts: error: file not found/],
    [["bench", "--batch", "x"], /--batch must be an integer ≥ 2, got "x"/],
  ];
  for (const [args, expected] of cases) {
    const r = cli(args);
    assert.equal(r.status, 1, args.join(" "));
    assert.match(r.stderr, expected);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  }
});

test("train on MNIST adapts ResNet-18 to the digits and prints the calibrated estimate first; --small needs a measured backend", () => {
  const run = cli([
    "train",
    "examples/resnet18.resnet.ts",
    "--dataset",
    "mnist",
    "--backend",
    "wasm",
    "--workers",
    "1",
    "--batch",
    "16",
    "--epochs",
    "1",
    "--samples-per-epoch",
    "32",
    "--max-steps",
    "1",
    "--json",
  ]);
  assert.equal(run.status, 0, run.stderr);
  const lines = run.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines[0].type, "estimate");
  assert.equal(lines[1].type, "start");
  const estimate = lines[0] as unknown as TrainEstimateLine;
  assert.deepEqual(estimate.changes, [
    "input 3×224×224 → 1×28×28 (mnist's images)",
    "classes 1000 → 10 (mnist's labels)",
  ]);
  assert.equal(estimate.stepsPerEpoch, 2); // 32 images at batch 16
  assert.equal(estimate.workers, 1);
  assert.ok(estimate.secondsPerStep > 0 && Math.abs(estimate.secondsPerEpoch - 2 * estimate.secondsPerStep) < 0.01);
  // The adapted network trains: its parameter count, not the 1,000-class ImageNet one (11,689,512).
  assert.equal(lines[1].params, estimate.params);
  assert.equal(estimate.params, 11_175_370);
  for (const [args, expected] of [
    [
      ["--small", "--resume", "/tmp/nowhere"],
      /--small picks its variant by this machine's measured speed, so it can't resume/,
    ],
    [["--small", "--backend", "cpu"], /--small needs a measured speed.*use --backend wasm/],
  ] as const) {
    const r = cli(["train", "examples/resnet18.resnet.ts", ...args]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, expected);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  }
});

// The training-cost estimator's arithmetic, its least-squares calibration fit, the dataset adaptation and the small
// variant generator. (How well the estimate matches measured step times is a benchmark: bench/estimate.bench.ts.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  estimateTraining,
  fitThroughput,
  stepSeconds,
  type StepSample,
  type Throughput,
} from "../src/analysis/estimate";
import { adaptToDataset, smallVariant, specSourceText, type DatasetTarget } from "../src/analysis/adapt";
import { analyzeOrThrow } from "../src/analysis/analyze";
import { analyzeSpecText } from "../src/specAnalysis";
import { presets } from "../src/spec/presets";
import { datasetTarget } from "../src/data/resolve";
import { formatDuration } from "../src/presentation/format";
import type { ResNetSpec } from "../src/spec/types";

const root = join(__dirname, "..", "..");
/** Round figures near this machine's calibration on wasm with two replicas (BENCHMARKS.md, "Training-cost estimate"). */
const THROUGHPUT: Throughput = {
  backend: "wasm",
  workers: 2,
  macsPerSecond: 1.5e10,
  stepOverheadSeconds: 0.05,
  secondsPerParam: 1e-7,
};
const MNIST: DatasetTarget = { name: "mnist", input: [1, 28, 28], classes: 10, trainSamples: 9000 };

function example(file: string): ResNetSpec {
  const parsed = analyzeSpecText(readFileSync(join(root, "examples", file), "utf8"), file);
  assert.ok(parsed.spec, `${file} does not parse`);
  return parsed.spec;
}

test("estimate: seconds per step = overhead + batch × 3 × MACs / rate + params × cost per param; epoch = full batches", () => {
  const graph = { totals: { params: 10_000, macs: 1_000_000, activations: 0, depth: 0 } };
  const e = estimateTraining(graph, { batchSize: 64, trainSamples: 9000, throughput: THROUGHPUT });
  assert.equal(e.stepsPerEpoch, 140); // ⌊9000 / 64⌋
  assert.equal(e.macsPerStep, 64 * 3 * 1_000_000);
  const perStep = 0.05 + (64 * 3 * 1e6) / 1.5e10 + 10_000 * 1e-7;
  assert.ok(Math.abs(e.secondsPerStep - perStep) < 1e-12, `${e.secondsPerStep} vs ${perStep}`);
  assert.ok(Math.abs(e.secondsPerEpoch - 140 * perStep) < 1e-9);
  assert.ok(Math.abs(e.imagesPerSecond - 64 / perStep) < 1e-9);
  // A batch larger than the data trains on all of it in one step.
  assert.equal(estimateTraining(graph, { batchSize: 64, trainSamples: 40, throughput: THROUGHPUT }).stepsPerEpoch, 1);
  // ResNet-18 as written: 1.82 G MACs per 224×224 image, 11.7 M params (torchvision's figures).
  const r18 = analyzeOrThrow(presets.resnet18());
  const slow = estimateTraining(r18, { batchSize: 64, trainSamples: 9000, throughput: THROUGHPUT });
  assert.equal(slow.macsPerImage, r18.totals.macs);
  assert.ok(slow.secondsPerEpoch > 1800, `ResNet-18 at 224 px: ${slow.secondsPerEpoch} s per epoch`);
});

test("calibration fit recovers the three constants from exact samples, and drops a term that comes out negative", () => {
  const probes = [
    { macsPerImage: 2.4e6, params: 2e4, batchSize: 64 },
    { macsPerImage: 9.3e6, params: 8e4, batchSize: 64 },
    { macsPerImage: 1.2e7, params: 2.5e6, batchSize: 64 },
    { macsPerImage: 3e7, params: 2.7e5, batchSize: 64 },
  ];
  const samples: StepSample[] = probes.map((p) => ({ ...p, seconds: stepSeconds(p, p.batchSize, THROUGHPUT) }));
  const fit = fitThroughput(samples, { backend: "wasm", workers: 2 });
  assert.ok(Math.abs(fit.macsPerSecond / THROUGHPUT.macsPerSecond - 1) < 1e-6, String(fit.macsPerSecond));
  assert.ok(Math.abs(fit.stepOverheadSeconds - 0.05) < 1e-9, String(fit.stepOverheadSeconds));
  assert.ok(Math.abs(fit.secondsPerParam - 1e-7) < 1e-12, String(fit.secondsPerParam));
  assert.equal(fit.backend, "wasm");
  assert.equal(fit.workers, 2);
  // Two samples on a line through the origin-ish with a slight negative intercept: overhead clamps to 0, MAC rate stays positive.
  const noisy = fitThroughput(
    [
      { macsPerImage: 1e6, params: 0, batchSize: 10, seconds: 0.001 },
      { macsPerImage: 2e6, params: 0, batchSize: 10, seconds: 0.0025 },
    ],
    { backend: "cpu", workers: 1 },
  );
  assert.equal(noisy.stepOverheadSeconds, 0);
  assert.equal(noisy.secondsPerParam, 0);
  assert.ok(noisy.macsPerSecond > 0);
  assert.throws(() => fitThroughput([], { backend: "cpu", workers: 1 }), /no usable step times/);
});

test("dataset targets: MNIST 1×28×28 with 10 classes, CIFAR-10 3×32×32 with 10 or the filtered classes, synthetic none", () => {
  assert.deepEqual(datasetTarget("mnist", 0.1), { name: "mnist", input: [1, 28, 28], classes: 10, trainSamples: 9000 });
  assert.deepEqual(datasetTarget("cifar10:/data/cifar", 0.1), {
    name: "cifar10",
    input: [3, 32, 32],
    classes: 10,
    trainSamples: 50_000,
  });
  assert.deepEqual(datasetTarget("cifar10:/data/cifar:classes=0,2", 0.1), {
    name: "cifar10[0,2]",
    input: [3, 32, 32],
    classes: 2,
    trainSamples: 10_000,
  });
  assert.equal(datasetTarget("synthetic:count=40", 0.1), null);
});

test("adaptation to the dataset is explicit: ResNet-18 gets MNIST's input and 10 classes; the small example is unchanged", () => {
  const adapted = adaptToDataset(example("resnet18.resnet.ts"), MNIST);
  assert.ok(adapted);
  assert.deepEqual(adapted.spec.input, [1, 28, 28]);
  assert.equal(adapted.spec.classes, 10);
  assert.equal(adapted.spec.stem, "imagenet"); // as written otherwise
  assert.deepEqual(adapted.changes, [
    "input 3×224×224 → 1×28×28 (mnist's images)",
    "classes 1000 → 10 (mnist's labels)",
  ]);
  assert.deepEqual(adapted.graph.output, [10]);
  const small = adaptToDataset(example("small.resnet.ts"), MNIST);
  assert.ok(small);
  assert.deepEqual(small.changes, []);
  // An ImageNet stem and five stride-2 stages cannot take 8×8 inputs: the input is kept, and the change says why.
  const tiny: DatasetTarget = { name: "tiny", input: [1, 8, 8], classes: 10, trainSamples: 100 };
  const kept = adaptToDataset(presets.resnet50({ classes: 10 }), tiny);
  assert.ok(kept);
  assert.deepEqual(kept.spec.input, [3, 224, 224]);
  assert.match(kept.changes.join("\n"), /input kept at 3×224×224/);
});

const BUDGET_SECONDS = 60;
const cases: { label: string; spec: () => ResNetSpec }[] = [
  { label: "ResNet-18 (examples/resnet18.resnet.ts)", spec: () => example("resnet18.resnet.ts") },
  { label: "ResNet-50, bottleneck (examples/resnet50.resnet.ts)", spec: () => example("resnet50.resnet.ts") },
  {
    label: "PreAct-ResNet-110 (examples/preact-resnet110.resnet.ts)",
    spec: () => example("preact-resnet110.resnet.ts"),
  },
  { label: "ResNeXt-50 32×4d (preset)", spec: () => presets.resnext50_32x4d() },
  { label: "ResNet-20, option A (examples/cifar-resnet20.resnet.ts)", spec: () => example("cifar-resnet20.resnet.ts") },
  { label: "gated shortcuts (examples/gated-shortcut.resnet.ts)", spec: () => example("gated-shortcut.resnet.ts") },
];

for (const { label, spec: make } of cases) {
  test(`small variant of ${label} keeps its design and fits MNIST and CIFAR-10[0,2] within ${BUDGET_SECONDS} s per epoch`, () => {
    const spec = make();
    const cifarPair = datasetTarget("cifar10:/x:classes=0,2", 0.1)!;
    for (const target of [MNIST, cifarPair]) {
      const variant = smallVariant(spec, target, {
        throughput: THROUGHPUT,
        batchSize: 64,
        budgetSeconds: BUDGET_SECONDS,
      });
      assert.ok(variant, `${label}: no variant`);
      const v = variant.spec;
      assert.equal(v.block, spec.block);
      assert.equal(v.shortcut, spec.shortcut);
      assert.deepEqual(v.shortcutVariant, spec.shortcutVariant);
      assert.equal(v.preActivation, spec.preActivation);
      assert.equal(v.residual, spec.residual);
      assert.equal(v.norm, spec.norm);
      assert.ok(v.groups <= spec.groups && v.groups > 1 === spec.groups > 1, `groups ${spec.groups} → ${v.groups}`);
      assert.equal(v.widthPerGroup, spec.widthPerGroup);
      assert.deepEqual(
        v.stages.map((s) => s.stride),
        spec.stages.map((s) => s.stride),
        "stage pattern (count and strides)",
      );
      assert.ok(
        v.stages.every(
          (s, i) => s.blocks <= spec.stages[i].blocks && s.channels <= Math.max(spec.stages[i].channels, 16),
        ),
      );
      assert.equal(v.stem, "cifar");
      assert.deepEqual(v.input, target.input);
      assert.equal(v.classes, target.classes);
      assert.deepEqual(variant.graph.input, target.input);
      assert.deepEqual(variant.graph.output, [target.classes]);
      assert.ok(variant.fits, `${label} on ${target.name}: ${variant.estimate.secondsPerEpoch} s per epoch`);
      assert.ok(variant.estimate.secondsPerEpoch <= BUDGET_SECONDS);
      assert.ok(variant.changes.some((c) => c.startsWith("stem")) === (spec.stem !== "cifar"));
      // Saved as a spec, it parses back to the same network.
      const text = specSourceText(v, `Small variant of ${spec.name}`);
      const reparsed = analyzeSpecText(text, "variant.resnet.ts");
      assert.deepEqual(
        reparsed.diagnostics.filter((d) => d.severity === "error"),
        [],
      );
      assert.deepEqual(reparsed.spec, v);
    }
  });
}

test("small variant of ResNet-18 on MNIST: exact widths, depth and parameter count at this throughput", () => {
  const variant = smallVariant(example("resnet18.resnet.ts"), MNIST, {
    throughput: THROUGHPUT,
    batchSize: 64,
    budgetSeconds: BUDGET_SECONDS,
  });
  assert.ok(variant);
  // 16/32/64/128 with two blocks each is over the minute at this throughput; halving the blocks fits.
  assert.deepEqual(variant.spec.stages, [
    { channels: 16, blocks: 1, stride: 1 },
    { channels: 32, blocks: 1, stride: 2 },
    { channels: 64, blocks: 1, stride: 2 },
    { channels: 128, blocks: 1, stride: 2 },
  ]);
  assert.equal(variant.spec.name, "ResNet-18 (small, mnist)");
  assert.equal(variant.graph.totals.params, 308_538);
  assert.deepEqual(variant.changes, [
    "input 3×224×224 → 1×28×28 (mnist's images)",
    "classes 1000 → 10 (mnist's labels)",
    "stem imagenet → cifar (3×3 conv, no max-pool)",
    "stage widths 64/128/256/512 → 16/32/64/128",
    "blocks per stage 2/2/2/2 → 1/1/1/1",
  ]);
  // A tighter budget narrows the widths, keeping their doubling per stage.
  const tighter = smallVariant(example("resnet18.resnet.ts"), MNIST, {
    throughput: THROUGHPUT,
    batchSize: 64,
    budgetSeconds: variant.estimate.secondsPerEpoch * 0.8,
  });
  assert.ok(tighter?.fits);
  const widths = tighter.spec.stages.map((s) => s.channels);
  assert.ok(widths[0] < 16 && widths.every((w, i) => i === 0 || w === 2 * widths[i - 1]), widths.join("/"));
  // An impossible budget returns the smallest variant, marked as not fitting.
  const impossible = smallVariant(example("resnet18.resnet.ts"), MNIST, {
    throughput: THROUGHPUT,
    batchSize: 64,
    budgetSeconds: 0.01,
  });
  assert.ok(impossible && !impossible.fits);
  assert.deepEqual(
    impossible.spec.stages.map((s) => [s.channels, s.blocks]),
    [
      [4, 1],
      [8, 1],
      [16, 1],
      [32, 1],
    ],
  );
});

test("durations read as seconds, minutes or hours", () => {
  assert.equal(formatDuration(0.25), "0.25 s");
  assert.equal(formatDuration(2.44), "2.4 s");
  assert.equal(formatDuration(45), "45 s");
  assert.equal(formatDuration(150), "2.5 min");
  assert.equal(formatDuration(3 * 3600), "3.0 h");
  assert.equal(formatDuration(Infinity), "–");
});

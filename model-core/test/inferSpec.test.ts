/**
 * Spec inference from tensor names and shapes, with no Python: the state_dict shapes of every preset and of small
 * nets with each option are fed back, and the inferred spec must be the same architecture (same specHash), apart from
 * what weights cannot show, which must be said in a note.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { analyzeOrThrow } from "../src/analysis/analyze";
import { normalizeSpec, resnet } from "../src/spec/builders";
import { PRESET_NAMES, presetOptions } from "../src/spec/presets";
import type { ResNetOptions, ResNetSpec } from "../src/spec/types";
import { specHash } from "../src/runtime/checkpoint";
import { expectedStateShapes, type TensorShape } from "../src/weights/stateShapes";
import { InferenceError, inferSpec } from "../src/weights/inferSpec";
import { importedSpecText } from "../src/weights/importedSpecText";
import { loadSpec } from "../src/load";

function preset(name: string): ResNetSpec {
  const spec = normalizeSpec(presetOptions(name)).spec;
  assert.ok(spec, name);
  return spec;
}

function shapesOf(spec: ResNetSpec): TensorShape[] {
  return expectedStateShapes(analyzeOrThrow(spec));
}

function inferred(spec: ResNetSpec) {
  const result = inferSpec(shapesOf(spec), "w.safetensors");
  const back = normalizeSpec(result.options).spec;
  assert.ok(back, "the inferred options normalise");
  return { result, back };
}

test("every residual preset is inferred back to the same architecture (plain twins: option A, said in a note)", () => {
  for (const name of PRESET_NAMES) {
    const spec = preset(name);
    const { result, back } = inferred(spec);
    assert.equal(result.params, analyzeOrThrow(spec).totals.params, `${name}: parameters`);
    if (spec.residual) assert.equal(specHash(back), specHash(spec), `${name}: same architecture`);
    else {
      assert.equal(specHash(back), specHash({ ...spec, residual: true, shortcut: "A" }), `${name}: as option A`);
      assert.ok(
        result.notes.some((n) => /plain network \(residual: false\) has the same tensors/.test(n)),
        name,
      );
    }
    assert.ok(
      result.notes.some((n) => /height and width are not stored/.test(n)),
      `${name}: input size is said`,
    );
  }
});

const tiny: ResNetOptions = {
  input: [3, 32, 32],
  stem: "cifar",
  classes: 7,
  stages: [
    { channels: 8, blocks: 2 },
    { channels: 16, blocks: 3, stride: 2 },
    { channels: 32, blocks: 1, stride: 2 },
  ],
};

test("each option the tensors decide is read from them: block, shortcut, pre-activation, norm, groups, gates, input channels", () => {
  const variants: Record<string, ResNetOptions> = {
    basicB: { ...tiny, shortcut: "B" },
    basicC: { ...tiny, shortcut: "C" },
    basicA: { ...tiny, shortcut: "A" },
    bottleneckB: { ...tiny, block: "bottleneck", shortcut: "B" },
    bottleneckC: { ...tiny, block: "bottleneck", shortcut: "C" },
    resnext: { ...tiny, block: "bottleneck", groups: 4, widthPerGroup: 8 },
    wide: { ...tiny, block: "bottleneck", widthPerGroup: 128 },
    basicGroups: { ...tiny, groups: 2 },
    preactB: { ...tiny, preActivation: true },
    preactImagenetBottleneck: {
      ...tiny,
      input: [3, 64, 64],
      stem: "imagenet",
      block: "bottleneck",
      preActivation: true,
    },
    normNone: { ...tiny, norm: "none" },
    conv1x1: { ...tiny, shortcut: "A", shortcutVariant: "conv1x1" },
    grey: { ...tiny, input: [1, 32, 32], classes: 10 },
  };
  for (const [name, options] of Object.entries(variants)) {
    const spec = resnet(options);
    const { result, back } = inferred(spec);
    // conv1x1 projects every block whatever the option; only the variant matters there. The input's size is not
    // in the weights (its channels are).
    assert.equal(back.input[0], spec.input[0], `${name}: input channels`);
    const expected = { ...spec, input: back.input, ...(name === "conv1x1" ? { shortcut: "B" as const } : {}) };
    assert.equal(specHash(back), specHash(expected), `${name}: ${JSON.stringify(result.options)}`);
  }
});

test("what weights cannot show is said, never chosen silently: gates, strides, pre-activation without BN", () => {
  const gated = inferred(resnet({ ...tiny, shortcutVariant: { kind: "shortcutOnlyGating", gateBias: -2 } }));
  assert.equal(gated.back.shortcutVariant.kind, "exclusiveGating");
  assert.ok(gated.result.notes.some((n) => /shortcut-only gating has the same tensors/.test(n)));
  const preactNoBn = inferred(resnet({ ...tiny, norm: "none", preActivation: true }));
  assert.equal(preactNoBn.back.preActivation, false);
  assert.ok(preactNoBn.result.notes.some((n) => /post-activation assumed/.test(n)));
  // A stride-2 stage that keeps its channels: option B's projection there shows the stride.
  const strided = inferred(
    resnet({
      ...tiny,
      stages: [
        { channels: 8, blocks: 1, stride: 1 },
        { channels: 8, blocks: 1, stride: 2 },
        { channels: 8, blocks: 1, stride: 1 },
      ],
    }),
  );
  assert.deepEqual(
    strided.back.stages.map((s) => s.stride),
    [1, 2, 1],
  );
  assert.ok(!strided.result.notes.some((n) => /strides are not stored/.test(n)), "all three strides were decided");
  // Where the channels change the projection is there at any stride: the stride is torchvision's, and said.
  const r18 = inferred(preset("resnet18"));
  assert.ok(
    r18.result.notes.some((n) =>
      /strides are not stored in weights; assumed as torchvision's \(layer2: 2, layer3: 2, layer4: 2\)/.test(n),
    ),
  );
});

test("a spec written from the inference parses back to the same network, notes as comments", () => {
  const { result } = inferred(preset("resnext50_32x4d"));
  const text = importedSpecText(result, "weights/rx50.safetensors");
  const dir = mkdtempSync(join(tmpdir(), "rs-import-"));
  try {
    const file = join(dir, "rx50.resnet.ts");
    writeFileSync(file, text);
    const loaded = loadSpec(file);
    assert.ok(loaded.spec, loaded.diagnostics.map((d) => d.message).join("; "));
    assert.equal(specHash(loaded.spec), specHash(preset("resnext50_32x4d")));
    assert.match(text, /^\/\/ Inferred from the tensor names and shapes of weights\/rx50\.safetensors\./);
    assert.match(text, /\/\/ {3}- strides are not stored in weights/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function refuses(tensors: TensorShape[], message: RegExp, what: string): void {
  assert.throws(
    () => inferSpec(tensors, "net.safetensors"),
    (e: Error) => e instanceof InferenceError && e.message.startsWith("net.safetensors: ") && message.test(e.message),
    what,
  );
}

test("a state_dict of another network, or one no spec gives, is refused naming what is missing or differs", () => {
  const vgg = [
    { name: "features.0.weight", shape: [64, 3, 3, 3] },
    { name: "features.0.bias", shape: [64] },
    { name: "classifier.0.weight", shape: [4096, 25088] },
  ];
  refuses(
    vgg,
    /not a ResNet state_dict \(torchvision names\): missing conv1\.weight \(the stem convolution\), layer1\.0\.\* \(the first residual block\), fc\.weight \(the classifier\); its 3 tensors start features\.0\.weight/,
    "vgg",
  );
  refuses([], /missing conv1\.weight .*; the file holds no tensors/, "empty");
  const r18 = shapesOf(preset("resnet18"));
  const odd = r18.map((t) => (t.name === "conv1.weight" ? { ...t, shape: [64, 3, 5, 5] } : t));
  refuses(odd, /conv1\.weight is a 5×5 convolution/, "5×5 stem");
  const extra = [...r18, { name: "layer2.0.se.fc1.weight", shape: [8, 128, 1, 1] }];
  refuses(
    extra,
    /do not fit the closest spec \(1 difference\): layer layer2\.0\.se\.fc1: layer2\.0\.se\.fc1\.weight \[8, 128, 1, 1\] is in the file, not in the inferred spec/,
    "extra tensor",
  );
  const gap = r18.filter((t) => !t.name.startsWith("layer3.1."));
  assert.equal(inferSpec(gap, "x").options.stages[2].blocks, 1, "a stage's last block missing is a shorter stage");
  const hole = r18.filter((t) => !t.name.startsWith("layer3.0."));
  refuses(hole, /layer3 has blocks up to 1 but no layer3\.0/, "a hole in a stage");
  const stray = r18.concat([
    { name: "layer1.1.downsample.0.weight", shape: [64, 64, 1, 1] },
    { name: "layer1.1.downsample.1.weight", shape: [64] },
  ]);
  refuses(
    stray,
    /layer1\.1 has a projection shortcut \(downsample\.0\) but is not a stage's first block/,
    "stray projection",
  );
});

test("DistributedDataParallel's module. prefix is read through, and said", () => {
  const shapes = shapesOf(preset("resnet20")).map((t) => ({ ...t, name: `module.${t.name}` }));
  const result = inferSpec(shapes, "ddp.safetensors");
  assert.ok(result.notes.some((n) => /"module\."/.test(n)));
  assert.equal(specHash(normalizeSpec(result.options).spec!), specHash(preset("resnet20")));
});

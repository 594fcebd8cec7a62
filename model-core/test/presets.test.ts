import { test } from "node:test";
import assert from "node:assert/strict";
import { PRESET_NAMES, presetOptions, presets, type PresetName } from "../src/spec/presets";
import { analyze, analyzeOrThrow } from "../src/analysis/analyze";
import { resnet } from "../src/spec/builders";
import type { ModelGraph } from "../src/analysis/graph";

const graphs = new Map<string, ModelGraph>();
function graphOf(name: PresetName): ModelGraph {
  let graph = graphs.get(name);
  if (!graph) {
    graph = analyzeOrThrow(presets[name]());
    graphs.set(name, graph);
  }
  return graph;
}

test("preset names cover the paper's and torchvision's nets and their plain twins", () => {
  const expected = [
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnet20",
    "resnet32",
    "resnet44",
    "resnet56",
    "resnet110",
    "resnet1202",
    "plain18",
    "plain34",
    "plain50",
    "plain101",
    "plain152",
    "plain20",
    "plain32",
    "plain44",
    "plain56",
    "plain110",
    "plain1202",
    "wide_resnet50_2",
    "wide_resnet101_2",
    "resnext50_32x4d",
    "resnext101_32x8d",
  ];
  assert.deepEqual([...PRESET_NAMES].sort(), expected.sort());
  assert.equal(presetOptions("resnet19"), null);
  assert.equal(presetOptions(""), null);
});

test("parameter counts equal torchvision's exactly", () => {
  // torchvision.models documentation / sum(p.numel()) (checked with test/reference/cifar_resnet_params.py).
  const torchvision: [PresetName, number][] = [
    ["resnet18", 11_689_512],
    ["resnet34", 21_797_672],
    ["resnet50", 25_557_032],
    ["resnet101", 44_549_160],
    ["resnet152", 60_192_808],
    ["wide_resnet50_2", 68_883_240],
    ["wide_resnet101_2", 126_886_696],
    ["resnext50_32x4d", 25_028_904],
    ["resnext101_32x8d", 88_791_336],
  ];
  for (const [name, params] of torchvision) assert.equal(graphOf(name).totals.params, params, name);
});

test("CIFAR nets: projection shortcuts (B) and the paper's option A", () => {
  // Option B values are the commonly quoted ones; option A (the presets, He et al. 2015 Table 6: 0.27M ... 19.4M)
  // has no shortcut parameters. Both cross-checked with PyTorch in test/reference/cifar_resnet_params.py.
  const expected: [PresetName, number, number][] = [
    ["resnet20", 272_474, 269_722],
    ["resnet32", 466_906, 464_154],
    ["resnet44", 661_338, 658_586],
    ["resnet56", 855_770, 853_018],
    ["resnet110", 1_730_714, 1_727_962],
    ["resnet1202", 19_424_026, 19_421_274],
  ];
  for (const [name, optionB, optionA] of expected) {
    assert.equal(graphOf(name).totals.params, optionA, `${name} option A`);
    assert.equal(analyzeOrThrow(presets[name]({ shortcut: "B" })).totals.params, optionB, `${name} option B`);
  }
});

test("stage output shapes at 3×224×224 for resnet18 and resnet50", () => {
  const shapes = (graph: ModelGraph) => Object.fromEntries(graph.stages.map((s) => [s.id, s.outputShape]));
  assert.deepEqual(shapes(graphOf("resnet18")), {
    stem: [64, 56, 56],
    layer1: [64, 56, 56],
    layer2: [128, 28, 28],
    layer3: [256, 14, 14],
    layer4: [512, 7, 7],
    head: [1000],
  });
  assert.deepEqual(shapes(graphOf("resnet50")), {
    stem: [64, 56, 56],
    layer1: [256, 56, 56],
    layer2: [512, 28, 28],
    layer3: [1024, 14, 14],
    layer4: [2048, 7, 7],
    head: [1000],
  });
  assert.deepEqual(graphOf("resnet50").output, [1000]);
  assert.deepEqual(
    graphOf("resnet20").stages.map((s) => s.outputShape),
    [[16, 32, 32], [16, 32, 32], [32, 16, 16], [64, 8, 8], [10]],
  );
});

test("resnet50 costs ≈4.09 G multiply-accumulates at 224 (torchvision: 4.09 GFLOPS)", () => {
  const macs = graphOf("resnet50").totals.macs;
  assert.ok(Math.abs(macs / 4.09e9 - 1) < 0.01, `resnet50 MACs ${macs}`);
  // resnet18: torchvision lists 1.81 GFLOPS.
  const macs18 = graphOf("resnet18").totals.macs;
  assert.ok(Math.abs(macs18 / 1.81e9 - 1) < 0.01, `resnet18 MACs ${macs18}`);
});

test("every preset analyzes without diagnostics, and its depth is the number in its name", () => {
  for (const name of PRESET_NAMES) {
    const { graph, diagnostics } = analyze(presets[name]());
    assert.deepEqual(diagnostics, [], name);
    assert.ok(graph, name);
    const depth = Number(/(\d+)/.exec(name.replace(/_\d+x\d+d$|_2$/, ""))![1]);
    assert.equal(graph.totals.depth, depth, name);
    graphs.set(name, graph);
  }
});

test("plain twins have no merges and lose exactly the projection parameters", () => {
  for (const name of PRESET_NAMES.filter((n) => n.startsWith("plain"))) {
    const plain = graphOf(name);
    const residual = graphOf(name.replace("plain", "resnet") as PresetName);
    assert.equal(plain.nodes.filter((n) => n.op.kind === "add").length, 0, name);
    assert.equal(plain.nodes.filter((n) => n.role === "shortcut").length, 0, name);
    assert.ok(
      plain.stages.every((s) => s.blocks.every((b) => b.addId === null && b.label.startsWith("Plain"))),
      name,
    );
    const projectionParams = residual.nodes.filter((n) => n.role === "shortcut").reduce((sum, n) => sum + n.params, 0);
    assert.equal(plain.totals.params, residual.totals.params - projectionParams, name);
    if (residual.spec.shortcut === "B") assert.ok(plain.totals.params < residual.totals.params, name);
    assert.equal(plain.totals.depth, residual.totals.depth, name);
  }
});

test("preset overrides change options but never the stages or block", () => {
  const spec = presets.resnet18({ classes: 10, input: [3, 64, 64], name: "r18-small" });
  assert.equal(spec.classes, 10);
  assert.equal(spec.name, "r18-small");
  assert.deepEqual(spec.stages, presets.resnet18().stages);
  const graph = analyzeOrThrow(spec);
  assert.deepEqual(graph.stages.find((s) => s.id === "layer4")!.outputShape, [512, 2, 2]);
  const options = presetOptions("resnext50_32x4d", { zeroInitResidual: true })!;
  assert.equal(options.groups, 32);
  assert.equal(options.widthPerGroup, 4);
  assert.equal(options.zeroInitResidual, true);
  // The options are fresh copies: editing them does not change the preset.
  options.stages[0].channels = 1;
  assert.equal(presetOptions("resnext50_32x4d")!.stages[0].channels, 64);
  assert.deepEqual(resnet(presetOptions("plain20")!), presets.plain20());
});

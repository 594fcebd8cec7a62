import { test } from "node:test";
import assert from "node:assert/strict";
import { analyze, analyzeOrThrow, MAX_BLOCKS } from "../src/analysis/analyze";
import { presets } from "../src/spec/presets";
import { resnet, SHORTCUT_VARIANT_KINDS } from "../src/spec/builders";
import { SpecError, type SourceRange } from "../src/diagnostics";
import type { GraphNode, ModelGraph, NodeOp } from "../src/analysis/graph";
import type { ResNetOptions, ResNetSpec } from "../src/spec/types";

function node(graph: ModelGraph, id: string): GraphNode {
  const found = graph.nodes.find((n) => n.id === id);
  assert.ok(found, `no node ${id}; have ${graph.nodes.map((n) => n.id).join(" ")}`);
  return found;
}

function has(graph: ModelGraph, id: string): boolean {
  return graph.nodes.some((n) => n.id === id);
}

/** A small CIFAR-style net for structural tests. */
function tiny(overrides: Partial<ResNetOptions> = {}): ResNetSpec {
  return resnet({
    input: [3, 32, 32],
    stem: "cifar",
    stages: [
      { channels: 16, blocks: 2 },
      { channels: 32, blocks: 2 },
    ],
    classes: 10,
    ...overrides,
  });
}

function fakeRange(line: number): SourceRange {
  return {
    file: "net.resnet.ts",
    startOffset: line * 100,
    endOffset: line * 100 + 10,
    line,
    column: 3,
    endLine: line,
    endColumn: 13,
  };
}

test("receptive field of resnet18's last conv, derived by hand", () => {
  // r_out = r_in + (k − 1)·j_in, j_out = j_in·s, starting from r = 1, j = 1 at the input.
  // conv1 7×7/2:            r = 1 + 6·1 = 7,      j = 2
  // maxpool 3×3/2:          r = 7 + 2·2 = 11,     j = 4
  // layer1: 4 convs 3×3/1:  r = 11 + 4·(2·4) = 43, j = 4
  // layer2.0.conv1 3×3/2:   r = 43 + 2·4 = 51,    j = 8
  // 3 more 3×3/1 convs:     r = 51 + 3·(2·8) = 99
  // layer3.0.conv1 3×3/2:   r = 99 + 2·8 = 115,   j = 16
  // 3 more 3×3/1 convs:     r = 115 + 3·(2·16) = 211
  // layer4.0.conv1 3×3/2:   r = 211 + 2·16 = 243, j = 32
  // layer4.0.conv2, layer4.1.conv1, layer4.1.conv2: r = 243 + 3·(2·32) = 435
  const graph = analyzeOrThrow(presets.resnet18());
  assert.deepEqual(node(graph, "layer4.1.conv2").receptiveField, { size: 435, stride: 32 });
  assert.deepEqual(node(graph, "maxpool").receptiveField, { size: 11, stride: 4 });
  // A merge sees the larger of its inputs' fields: the 1×1 projection sees less than the branch.
  assert.deepEqual(node(graph, "layer2.0.downsample.0").receptiveField, { size: 43, stride: 8 });
  assert.deepEqual(node(graph, "layer2.0.add").receptiveField, { size: 67, stride: 8 });
});

test("resnet18 node ids, ops and numbers follow torchvision", () => {
  const graph = analyzeOrThrow(presets.resnet18());
  assert.deepEqual(
    graph.nodes.slice(0, 16).map((n) => n.id),
    [
      "input",
      "conv1",
      "bn1",
      "relu",
      "maxpool",
      "layer1.0.conv1",
      "layer1.0.bn1",
      "layer1.0.relu1",
      "layer1.0.conv2",
      "layer1.0.bn2",
      "layer1.0.add",
      "layer1.0.relu_out",
      "layer1.1.conv1",
      "layer1.1.bn1",
      "layer1.1.relu1",
      "layer1.1.conv2",
    ],
  );
  assert.deepEqual(
    graph.nodes.slice(-2).map((n) => n.id),
    ["avgpool", "fc"],
  );
  const conv1 = node(graph, "conv1");
  assert.deepEqual(conv1.op, {
    kind: "conv",
    inChannels: 3,
    outChannels: 64,
    kernel: 7,
    stride: 2,
    padding: 3,
    groups: 1,
    bias: false,
  });
  assert.deepEqual(conv1.outputShape, [64, 112, 112]);
  assert.equal(conv1.params, 64 * 3 * 7 * 7);
  assert.equal(conv1.macs, 64 * 112 * 112 * 3 * 7 * 7);
  const conv = node(graph, "layer2.0.conv1");
  assert.deepEqual(conv.inputShape, [64, 56, 56]);
  assert.deepEqual(conv.outputShape, [128, 28, 28]);
  assert.equal(conv.params, 128 * 64 * 9);
  assert.equal(conv.macs, 128 * 28 * 28 * 64 * 9);
  assert.equal(node(graph, "layer2.0.bn1").params, 2 * 128);
  assert.deepEqual(node(graph, "layer2.0.downsample.0").inputs, ["layer1.1.relu_out"]);
  assert.equal(node(graph, "layer2.0.downsample.0").role, "shortcut");
  assert.equal(node(graph, "layer2.0.downsample.1").role, "shortcut");
  assert.deepEqual(node(graph, "layer2.0.add").inputs, ["layer2.0.downsample.1", "layer2.0.bn2"]);
  assert.deepEqual(node(graph, "layer2.1.add").inputs, ["layer2.0.relu_out", "layer2.1.bn2"]);
  assert.equal(has(graph, "layer1.0.downsample.0"), false);
  const fc = node(graph, "fc");
  assert.equal(fc.params, 512 * 1000 + 1000);
  assert.equal(fc.macs, 512 * 1000);
  assert.deepEqual(node(graph, "avgpool").outputShape, [512]);
  assert.deepEqual(
    [conv1.stage, conv1.block, conv.stage, conv.block, fc.stage, fc.block],
    ["stem", null, "layer2", "layer2.0", "head", null],
  );
  assert.equal(node(graph, "input").stage, null);
});

test("stage and block groups partition the graph and add up", () => {
  for (const graph of [
    analyzeOrThrow(presets.resnet50()),
    analyzeOrThrow(tiny({ preActivation: true, shortcut: "A" })),
  ]) {
    const ids = graph.stages.flatMap((s) => s.nodeIds);
    assert.deepEqual(
      ids,
      graph.nodes.slice(1).map((n) => n.id),
      "stages cover every node but the input, in order",
    );
    for (const stage of graph.stages) {
      const nodes = stage.nodeIds.map((id) => node(graph, id));
      assert.equal(
        stage.params,
        nodes.reduce((s, n) => s + n.params, 0),
      );
      assert.equal(
        stage.macs,
        nodes.reduce((s, n) => s + n.macs, 0),
      );
      assert.deepEqual(
        stage.blocks.flatMap((b) => b.nodeIds),
        stage.id.startsWith("layer") ? stage.nodeIds : [],
      );
      for (const block of stage.blocks) {
        assert.ok(block.nodeIds.every((id) => node(graph, id).block === block.id));
        assert.equal(
          block.params,
          block.nodeIds.reduce((s, id) => s + node(graph, id).params, 0),
        );
      }
    }
    assert.equal(
      graph.totals.params,
      graph.stages.reduce((s, st) => s + st.params, 0),
    );
    assert.equal(
      graph.totals.macs,
      graph.stages.reduce((s, st) => s + st.macs, 0),
    );
    assert.equal(
      graph.totals.activations,
      graph.nodes.reduce((s, n) => s + n.outputShape.reduce((a, b) => a * b, 1), 0),
    );
  }
  const r50 = analyzeOrThrow(presets.resnet50());
  const layer1 = r50.stages.find((s) => s.id === "layer1")!;
  assert.equal(layer1.label, "Bottleneck ×3");
  assert.deepEqual(layer1.inputShape, [64, 56, 56]);
  assert.deepEqual(
    layer1.blocks.map((b) => [b.id, b.addId, b.outputShape.join("x")]),
    [
      ["layer1.0", "layer1.0.add", "256x56x56"],
      ["layer1.1", "layer1.1.add", "256x56x56"],
      ["layer1.2", "layer1.2.add", "256x56x56"],
    ],
  );
  assert.equal(analyzeOrThrow(presets.resnet18()).stages[1].label, "BasicBlock ×2");
  assert.equal(analyzeOrThrow(presets.plain18()).stages[1].label, "PlainBasicBlock ×2");
});

// A second check of the bottleneck's BN parameters, from torchvision's width rule rather than a total count:
// width = ⌊planes · width_per_group / 64⌋ · groups; bn1 and bn2 normalise width channels, bn3 and the projection's BN
// planes × 4; each BN holds γ and β.
test("bottleneck: every BN holds 2 × its channels, by torchvision's width rule", () => {
  const cases = [
    { preset: presets.resnet50(), groups: 1, widthPerGroup: 64, blocks: [3, 4, 6, 3] },
    { preset: presets.resnext50_32x4d(), groups: 32, widthPerGroup: 4, blocks: [3, 4, 6, 3] },
    { preset: presets.wide_resnet50_2(), groups: 1, widthPerGroup: 128, blocks: [3, 4, 6, 3] },
  ];
  for (const { preset, groups, widthPerGroup, blocks } of cases) {
    const graph = analyzeOrThrow(preset);
    let checked = 0;
    [64, 128, 256, 512].forEach((planes, s) => {
      const width = Math.floor((planes * widthPerGroup) / 64) * groups;
      for (let b = 0; b < blocks[s]; b++) {
        const block = `layer${s + 1}.${b}`;
        assert.equal(node(graph, `${block}.bn1`).params, 2 * width, `${graph.name} ${block}.bn1`);
        assert.equal(node(graph, `${block}.bn2`).params, 2 * width, `${graph.name} ${block}.bn2`);
        assert.equal(node(graph, `${block}.bn3`).params, 2 * planes * 4, `${graph.name} ${block}.bn3`);
        checked += 3;
        if (b === 0) {
          assert.equal(
            node(graph, `${block}.downsample.1`).params,
            2 * planes * 4,
            `${graph.name} ${block} projection BN`,
          );
          checked++;
        }
      }
    });
    assert.equal(checked, 3 * 16 + 4);
  }
});

test("bottleneck: stride on the 3×3 (v1.5), expansion 4, projection where the shape changes", () => {
  const graph = analyzeOrThrow(presets.resnet50());
  const ops = (ids: string[]) => ids.map((id) => node(graph, id).op as Extract<NodeOp, { kind: "conv" }>);
  const [c1, c2, c3] = ops(["layer2.0.conv1", "layer2.0.conv2", "layer2.0.conv3"]);
  assert.deepEqual([c1.kernel, c1.stride, c1.inChannels, c1.outChannels], [1, 1, 256, 128]);
  assert.deepEqual([c2.kernel, c2.stride, c2.inChannels, c2.outChannels], [3, 2, 128, 128]);
  assert.deepEqual([c3.kernel, c3.stride, c3.inChannels, c3.outChannels], [1, 1, 128, 512]);
  // layer1.0 changes channels (64 → 256) at stride 1: option B projects it.
  assert.deepEqual(node(graph, "layer1.0.downsample.0").op, {
    kind: "conv",
    inChannels: 64,
    outChannels: 256,
    kernel: 1,
    stride: 1,
    padding: 0,
    groups: 1,
    bias: false,
  });
  const resnext = analyzeOrThrow(presets.resnext50_32x4d());
  assert.deepEqual(node(resnext, "layer1.0.conv2").op, {
    kind: "conv",
    inChannels: 128,
    outChannels: 128,
    kernel: 3,
    stride: 1,
    padding: 1,
    groups: 32,
    bias: false,
  });
  assert.equal(node(resnext, "layer1.0.conv2").params, 128 * (128 / 32) * 9);
  const wide = analyzeOrThrow(presets.wide_resnet50_2());
  assert.equal((node(wide, "layer4.0.conv2").op as { inChannels: number }).inChannels, 1024);
});

test("shortcut options A, B and C", () => {
  const a = analyzeOrThrow(tiny({ shortcut: "A" }));
  assert.deepEqual(node(a, "layer2.0.shortcut").op, { kind: "padshortcut", stride: 2, padBefore: 8, padAfter: 8 });
  assert.deepEqual(node(a, "layer2.0.shortcut").outputShape, [32, 16, 16]);
  assert.equal(node(a, "layer2.0.shortcut").params, 0);
  assert.deepEqual(node(a, "layer2.0.add").inputs, ["layer2.0.shortcut", "layer2.0.bn2"]);
  assert.equal(a.nodes.filter((n) => n.role === "shortcut").length, 1);

  const b = analyzeOrThrow(tiny({ shortcut: "B" }));
  assert.deepEqual(
    b.nodes.filter((n) => n.role === "shortcut").map((n) => n.id),
    ["layer2.0.downsample.0", "layer2.0.downsample.1"],
  );
  assert.equal(b.totals.params - a.totals.params, 16 * 32 + 2 * 32);

  const c = analyzeOrThrow(tiny({ shortcut: "C" }));
  const projections = c.nodes.filter((n) => n.id.endsWith("downsample.0")).map((n) => n.block);
  assert.deepEqual(projections, ["layer1.0", "layer1.1", "layer2.0", "layer2.1"]);
  // C adds a projection (1×1 conv + BN) to the three blocks B leaves as identity.
  assert.equal(c.totals.params - b.totals.params, 2 * (16 * 16 + 2 * 16) + (32 * 32 + 2 * 32));
});

test("pre-activation follows He et al. 2016: BN-ReLU before convs, clean identity, final BN-ReLU", () => {
  const cifar = analyzeOrThrow(tiny({ preActivation: true, shortcut: "B" }));
  // The CIFAR stem is conv1 alone; layer1.0 pre-activates it for both paths.
  assert.deepEqual(cifar.stages[0].nodeIds, ["conv1"]);
  assert.deepEqual(cifar.stages[1].nodeIds.slice(0, 7), [
    "layer1.0.bn1",
    "layer1.0.relu1",
    "layer1.0.conv1",
    "layer1.0.bn2",
    "layer1.0.relu2",
    "layer1.0.conv2",
    "layer1.0.add",
  ]);
  assert.deepEqual(node(cifar, "layer1.0.add").inputs, ["layer1.0.relu1", "layer1.0.conv2"]);
  // A later block: pre-activation on the branch only, the identity path carries the raw sum.
  assert.deepEqual(node(cifar, "layer1.1.bn1").inputs, ["layer1.0.add"]);
  assert.deepEqual(node(cifar, "layer1.1.add").inputs, ["layer1.0.add", "layer1.1.conv2"]);
  // The projection takes the pre-activated input.
  assert.deepEqual(node(cifar, "layer2.0.downsample.0").inputs, ["layer2.0.relu1"]);
  assert.equal(
    cifar.nodes.some((n) => n.id.endsWith("relu_out")),
    false,
  );
  assert.deepEqual(cifar.stages.at(-1)!.nodeIds, ["bn_final", "relu_final", "avgpool", "fc"]);
  assert.equal(cifar.stages[1].blocks[0].label, "PreActBasicBlock");

  const imagenet = analyzeOrThrow(presets.resnet50({ preActivation: true }));
  // After the ImageNet stem's BN-ReLU, layer1.0 starts with its conv.
  assert.equal(has(imagenet, "layer1.0.bn1"), false);
  assert.deepEqual(node(imagenet, "layer1.0.conv1").inputs, ["maxpool"]);
  assert.deepEqual(node(imagenet, "layer1.0.bn2").op, {
    kind: "batchnorm",
    channels: 64,
    eps: 1e-5,
    momentum: 0.1,
    zeroInit: false,
  });
  assert.deepEqual(node(imagenet, "layer1.0.downsample.0").inputs, ["maxpool"]);
  assert.deepEqual(node(imagenet, "layer2.0.bn1").inputs, ["layer1.2.add"]);
  assert.equal(node(imagenet, "bn_final").params, 2 * 2048);
  assert.equal(imagenet.totals.depth, 50);
});

test("shortcut variants of Identity Mappings", () => {
  const scaled = analyzeOrThrow(tiny({ shortcutVariant: { kind: "constantScaling", lambda: 0.5, residualScale: 1 } }));
  assert.deepEqual(node(scaled, "layer1.0.add").op, {
    kind: "add",
    mode: "plain",
    shortcutScale: 0.5,
    residualScale: 1,
  });

  const gated = analyzeOrThrow(tiny({ shortcutVariant: "exclusiveGating" }));
  const gate = node(gated, "layer1.0.gate");
  assert.deepEqual(gate.op, {
    kind: "conv",
    inChannels: 16,
    outChannels: 16,
    kernel: 1,
    stride: 1,
    padding: 0,
    groups: 1,
    bias: true,
  });
  assert.equal(gate.params, 16 * 16 + 16);
  assert.equal(gate.role, "shortcut");
  assert.deepEqual(node(gated, "layer1.0.gate_sigmoid").op, { kind: "sigmoid" });
  assert.deepEqual(node(gated, "layer1.0.add").inputs, ["relu", "layer1.0.bn2", "layer1.0.gate_sigmoid"]);
  assert.equal((node(gated, "layer1.0.add").op as { mode: string }).mode, "exclusiveGate");
  // Where the shape changes, the gate subsamples and widens like the shortcut.
  assert.deepEqual(node(gated, "layer2.0.gate").outputShape, [32, 16, 16]);

  const shortcutOnly = analyzeOrThrow(tiny({ shortcutVariant: { kind: "shortcutOnlyGating", gateBias: 0 } }));
  assert.equal((node(shortcutOnly, "layer2.1.add").op as { mode: string }).mode, "shortcutGate");

  const conv = analyzeOrThrow(tiny({ shortcutVariant: "conv1x1" }));
  assert.deepEqual(
    conv.nodes.filter((n) => n.role === "shortcut").map((n) => n.id),
    ["layer1.0.downsample.0", "layer1.1.downsample.0", "layer2.0.downsample.0", "layer2.1.downsample.0"],
  );

  const dropout = analyzeOrThrow(tiny({ shortcutVariant: { kind: "dropout", rate: 0.3 } }));
  assert.deepEqual(node(dropout, "layer2.0.shortcut_dropout").op, { kind: "dropout", rate: 0.3 });
  assert.deepEqual(node(dropout, "layer2.0.shortcut_dropout").inputs, ["layer2.0.downsample.1"]);
  assert.deepEqual(node(dropout, "layer2.0.add").inputs, ["layer2.0.shortcut_dropout", "layer2.0.bn2"]);
});

test("norm none: no BN, every conv gets a bias", () => {
  const withBn = analyzeOrThrow(presets.resnet18());
  const without = analyzeOrThrow(presets.resnet18({ norm: "none" }));
  assert.equal(without.nodes.filter((n) => n.op.kind === "batchnorm").length, 0);
  const convs = without.nodes.filter((n) => n.op.kind === "conv");
  assert.ok(convs.every((n) => (n.op as { bias: boolean }).bias));
  const bnParams = withBn.nodes.filter((n) => n.op.kind === "batchnorm").reduce((s, n) => s + n.params, 0);
  const biases = convs.reduce((s, n) => s + (n.op as { outChannels: number }).outChannels, 0);
  assert.equal(without.totals.params, withBn.totals.params - bnParams + biases);
});

test("zeroInitResidual marks each block's last BN only", () => {
  const graph = analyzeOrThrow(presets.resnet50({ zeroInitResidual: true }));
  const zeroed = graph.nodes.filter((n) => n.op.kind === "batchnorm" && n.op.zeroInit).map((n) => n.id);
  assert.equal(zeroed.length, 16);
  assert.ok(zeroed.every((id) => id.endsWith(".bn3")));
  assert.equal(
    analyzeOrThrow(presets.resnet50()).nodes.some((n) => n.op.kind === "batchnorm" && n.op.zeroInit),
    false,
  );
  const plain = analyze(presets.plain18({ zeroInitResidual: true }));
  assert.equal(
    plain.graph!.nodes.some((n) => n.op.kind === "batchnorm" && n.op.zeroInit),
    false,
  );
  assert.deepEqual(
    plain.diagnostics.map((d) => [d.severity, d.code]),
    [["warning", "zero-init-ignored"]],
  );
});

test("sources: each node points at the spec element that produced it", () => {
  const sources = new Map<string, SourceRange>([
    ["", fakeRange(1)],
    ["stem", fakeRange(2)],
    ["stages.0", fakeRange(3)],
    ["stages.1", fakeRange(4)],
    ["classes", fakeRange(5)],
  ]);
  const graph = analyzeOrThrow(tiny(), sources);
  assert.equal(node(graph, "conv1").source!.line, 2);
  assert.equal(node(graph, "layer1.1.conv2").source!.line, 3);
  assert.equal(node(graph, "layer2.0.downsample.0").source!.line, 4);
  assert.equal(node(graph, "fc").source!.line, 5);
  assert.equal(node(graph, "input").source!.line, 1, "falls back to the whole call");
  assert.equal(graph.stages[2].source!.line, 4);
  assert.equal(graph.stages[2].blocks[1].source!.line, 4);
  assert.equal(analyzeOrThrow(tiny()).nodes[1].source, null);
});

/** A spec refused with exactly one error whose range is the given source key's. */
function assertRefused(spec: ResNetSpec, code: string, key: string, messagePattern: RegExp): void {
  const sources = new Map<string, SourceRange>([
    ["", fakeRange(1)],
    ["input", fakeRange(2)],
    ["classes", fakeRange(3)],
    ...spec.stages.map((_, i) => [`stages.${i}`, fakeRange(10 + i)] as [string, SourceRange]),
  ]);
  const { graph, diagnostics } = analyze(spec, sources);
  assert.equal(graph, null);
  const errors = diagnostics.filter((d) => d.severity === "error");
  assert.equal(errors.length, 1, JSON.stringify(errors));
  assert.equal(errors[0].code, code);
  assert.deepEqual(errors[0].range, sources.get(key));
  assert.match(errors[0].message, messagePattern);
  assert.throws(
    () => analyzeOrThrow(spec, sources),
    (err: unknown) => err instanceof SpecError && err.diagnostics[0].code === code,
  );
}

test("refuses a stage that collapses the feature map, at that stage", () => {
  // 8×8 → 4 → 2 → 1, then a fourth stride-2 stage has nothing left to subsample.
  const spec = resnet({
    input: [3, 8, 8],
    stem: "cifar",
    stages: [
      { channels: 8, blocks: 1 },
      { channels: 8, blocks: 1 },
      { channels: 8, blocks: 1 },
      { channels: 8, blocks: 1 },
      { channels: 8, blocks: 1 },
    ],
  });
  assertRefused(spec, "spatial-collapse", "stages.4", /layer5 has stride 2 but its input is only 1×1.*at least 16×16/);
  assertRefused(
    resnet({ input: [3, 3, 3], stages: [{ channels: 8, blocks: 1 }] }),
    "spatial-collapse",
    "input",
    /stem: "cifar"/,
  );
});

test("refuses channels that do not divide into groups", () => {
  const basic = resnet({
    stem: "cifar",
    input: [3, 32, 32],
    stages: [
      { channels: 16, blocks: 1 },
      { channels: 36, blocks: 1 },
    ],
    groups: 8,
  });
  assertRefused(basic, "groups-mismatch", "stages.1", /36 channels do not divide into 8 groups/);
  const bottleneck = resnet({
    block: "bottleneck",
    stages: [
      { channels: 64, blocks: 1 },
      { channels: 8, blocks: 1 },
    ],
    groups: 32,
    widthPerGroup: 4,
  });
  assertRefused(bottleneck, "groups-mismatch", "stages.1", /is 0; use channels of at least 16/);
});

test("refuses option A where it would have to drop channels", () => {
  const spec = resnet({
    stem: "cifar",
    input: [3, 32, 32],
    shortcut: "A",
    stages: [
      { channels: 64, blocks: 1 },
      { channels: 32, blocks: 1 },
    ],
  });
  assertRefused(spec, "shortcut-a-drops-channels", "stages.1", /from 64 to 32 channels.*shortcut: "B"/);
  // The plain twin has no shortcut, so nothing to drop.
  assert.ok(analyze(resnet({ ...spec, residual: false })).graph);
});

test("refuses absurd sizes before building anything", () => {
  const wide = resnet({
    stages: [
      { channels: 64, blocks: 2 },
      { channels: 20_000, blocks: 2 },
    ],
  });
  assertRefused(wide, "absurd-size", "stages.1", /parameters \(limit 1e9\)/);
  const huge = resnet({ input: [3, 40_000, 40_000], stages: [{ channels: 64, blocks: 1 }] });
  assertRefused(huge, "absurd-size", "input", /the stem alone makes .* activations per sample/);
  const deep = resnet({ stem: "cifar", input: [3, 8, 8], stages: [{ channels: 1, blocks: 1e9 }] });
  // Refused from the count alone (a billion blocks built would run out of memory long before an assertion).
  assertRefused(deep, "absurd-size", "stages.0", new RegExp(`limit ${MAX_BLOCKS}`));
  assertRefused(
    resnet({ stages: [{ channels: 64, blocks: 1 }], classes: 2e7 }),
    "absurd-size",
    "classes",
    /fewer classes/,
  );
});

test("a hand-built invalid spec gets diagnostics, not an exception", () => {
  const broken = { ...presets.resnet18(), stages: [] } as ResNetSpec;
  const { graph, diagnostics } = analyze(broken, new Map([["stages", fakeRange(7)]]));
  assert.equal(graph, null);
  assert.deepEqual(
    diagnostics.map((d) => [d.code, d.range?.line]),
    [["empty-stages", 7]],
  );
});

test("the plain twin and the residual net share every main-path node", () => {
  const residual = analyzeOrThrow(presets.resnet34());
  const plain = analyzeOrThrow(presets.plain34());
  const mainIds = (g: ModelGraph) => g.nodes.filter((n) => n.role === "main" && n.op.kind !== "add").map((n) => n.id);
  assert.deepEqual(mainIds(plain), mainIds(residual));
  assert.deepEqual(node(plain, "layer2.0.relu_out").inputs, ["layer2.0.bn2"]);
});

test("every combination of options builds a consistent, topologically ordered graph", () => {
  let built = 0;
  for (const block of ["basic", "bottleneck"] as const)
    for (const stem of ["imagenet", "cifar"] as const)
      for (const shortcut of ["A", "B", "C"] as const)
        for (const shortcutVariant of SHORTCUT_VARIANT_KINDS)
          for (const preActivation of [false, true])
            for (const residual of [true, false])
              for (const norm of ["batchnorm", "none"] as const) {
                const spec = resnet({
                  input: [3, 32, 32],
                  stem,
                  block,
                  shortcut,
                  shortcutVariant,
                  preActivation,
                  residual,
                  norm,
                  classes: 7,
                  stages: [
                    { channels: 64, blocks: 2 },
                    { channels: 128, blocks: 1 },
                    { channels: 128, blocks: 2, stride: 1 },
                  ],
                });
                const label = JSON.stringify({ block, stem, shortcut, shortcutVariant, preActivation, residual, norm });
                const graph = analyzeOrThrow(spec);
                const seen = new Set<string>();
                for (const n of graph.nodes) {
                  assert.ok(
                    n.inputs.every((i) => seen.has(i)),
                    `${label}: ${n.id} uses a later node`,
                  );
                  seen.add(n.id);
                }
                const adds = graph.nodes.filter((n) => n.op.kind === "add");
                assert.equal(adds.length, residual ? 5 : 0, label);
                assert.deepEqual(graph.output, [7], label);
                // Depth: stem conv + convs per block on the branch + fc.
                assert.equal(graph.totals.depth, 1 + 5 * (block === "basic" ? 2 : 3) + 1, label);
                built++;
              }
  assert.equal(built, 2 * 2 * 3 * 6 * 2 * 2 * 2);
});

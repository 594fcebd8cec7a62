/**
 * Step 1 of regenerating the PyTorch forward-pass fixture (see torch_forward.py): prints the graph IR of a few small
 * nets that together use every NodeOp kind. Run from the repository root:
 *   node --import tsx test/reference/makeGraphs.ts > /tmp/graphs.json
 *   /usr/bin/python3 test/reference/torch_forward.py /tmp/graphs.json > test/reference/torch-forward.fixture.json
 */
import { analyze } from "../../model-core/src/analysis/analyze";
import { normalizeSpec } from "../../model-core/src/spec/builders";
import type { ResNetOptions } from "../../model-core/src/spec/types";

const cases: ResNetOptions[] = [
  // conv, batchnorm, relu, padshortcut (option A, odd size: ceil(H/2)), add, globalavgpool, fc.
  {
    name: "cifarOptionA",
    input: [3, 9, 9],
    stem: "cifar",
    shortcut: "A",
    classes: 5,
    stages: [
      { channels: 4, blocks: 1 },
      { channels: 8, blocks: 1, stride: 2 },
    ],
  },
  // ImageNet stem (7×7/2 pad 3 conv, 3×3/2 pad 1 max-pool), bottleneck, projection (B), grouped 3×3 conv.
  {
    name: "imagenetBottleneckGrouped",
    input: [3, 21, 21],
    stem: "imagenet",
    block: "bottleneck",
    shortcut: "B",
    groups: 2,
    widthPerGroup: 32,
    classes: 4,
    stages: [
      { channels: 4, blocks: 1 },
      { channels: 4, blocks: 1, stride: 2 },
    ],
  },
  // No BN (conv biases), exclusive gating (sigmoid gate, gated add).
  {
    name: "noBnExclusiveGate",
    input: [3, 8, 8],
    stem: "cifar",
    norm: "none",
    shortcutVariant: { kind: "exclusiveGating", gateBias: -1 },
    classes: 3,
    stages: [
      { channels: 4, blocks: 1 },
      { channels: 6, blocks: 1, stride: 2 },
    ],
  },
  // Pre-activation, shortcut-only gating, option C projections on every block.
  {
    name: "preActShortcutGateC",
    input: [3, 8, 8],
    stem: "cifar",
    preActivation: true,
    shortcut: "C",
    shortcutVariant: { kind: "shortcutOnlyGating", gateBias: 0.5 },
    classes: 3,
    stages: [{ channels: 4, blocks: 2 }],
  },
  // Constant scaling on both paths; depthwise grouping (groups = channels).
  {
    name: "constantScalingDepthwise",
    input: [3, 8, 8],
    stem: "cifar",
    shortcutVariant: { kind: "constantScaling", lambda: 0.5, residualScale: 0.5 },
    groups: 4,
    widthPerGroup: 16,
    classes: 3,
    stages: [{ channels: 4, blocks: 1 }],
  },
  // Plain twin (no adds) with dropout-free eval; exercises a net without residual merges.
  {
    name: "plain",
    input: [3, 8, 8],
    stem: "cifar",
    residual: false,
    classes: 3,
    stages: [
      { channels: 4, blocks: 1 },
      { channels: 8, blocks: 1, stride: 2 },
    ],
  },
];

const graphs = cases.map((options) => {
  const { spec, issues } = normalizeSpec(options);
  if (!spec) throw new Error(`${options.name}: ${JSON.stringify(issues)}`);
  const { graph, diagnostics } = analyze(spec);
  if (!graph) throw new Error(`${options.name}: ${diagnostics.map((d) => d.message).join("; ")}`);
  return graph;
});
process.stdout.write(JSON.stringify(graphs));

// A network at the block limit (10,000 blocks, 140k nodes): summary, hover and render finish without a stack overflow.
import { test } from "node:test";
import assert from "node:assert/strict";
import { analyzeSpecText } from "../src/specAnalysis";
import { formatSummaryTable, summarize } from "../src/cli/summary";
import { initialExpansion, layoutView, renderSvg, NO_OVERLAYS } from "../src/render/index";
import { hoverMarkdown } from "../../extension/src/pure/specInfo";

const BLOCKS = 10_000;
const text = `import { resnet, stage } from "resnet-studio";
export default resnet({
  name: "ResNet-10k",
  input: [3, 8, 8],
  stem: "cifar",
  stages: [stage({ channels: 16, blocks: ${BLOCKS} })],
  classes: 10,
});
`;

test("a 10,000-block spec: summary table and JSON, hovers and the rendered diagram", async () => {
  const parsed = analyzeSpecText(text, "big.resnet.ts");
  assert.deepEqual(
    parsed.diagnostics.filter((d) => d.severity === "error"),
    [],
  );
  const graph = parsed.graph!;
  assert.equal(graph.stages.find((s) => s.id === "layer1")!.blocks.length, BLOCKS);
  // Per BasicBlock: conv1, bn1, relu1, conv2, bn2, add, relu (7); stem (3) and head (3) around them.
  assert.ok(graph.nodes.length > 7 * BLOCKS, `${graph.nodes.length} nodes`);

  const summary = summarize(graph, "big.resnet.ts");
  // Stem conv 3·16·9 + BN 32; each block two 16→16 3×3 convs and two BNs; fc 16·10 + 10.
  assert.equal(summary.params, 3 * 16 * 9 + 32 + BLOCKS * (2 * 16 * 16 * 9 + 2 * 32) + 16 * 10 + 10);
  const table = formatSummaryTable(summary, graph, 3);
  assert.ok(table.split("\n").length > graph.nodes.length, "one row per layer");
  assert.ok(/^ +layer1\.9999\.conv2 +conv 3×3 /m.test(table), "the last block's layers are listed");

  const stageCall = text.indexOf("stage({");
  const hover = hoverMarkdown(graph, stageCall + 3);
  assert.match(hover ?? "", /\*\*layer1 · .*\*\* \(10000 blocks\)/);
  assert.match(hoverMarkdown(graph, text.indexOf("name:")) ?? "", /^\*\*ResNet-10k\*\*/);

  const laid = await layoutView(graph, initialExpansion(graph));
  const svg = renderSvg(laid, NO_OVERLAYS);
  assert.ok(svg.startsWith("<svg") && svg.trimEnd().endsWith("</svg>"));
  assert.match(svg, /data-node-id="layer1"/);
});

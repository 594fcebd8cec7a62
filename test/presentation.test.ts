/**
 * One fact, one string: the same box read through the SVG, the webview tooltip, the editor hover and the CLI
 * table shows the same shape and counts, because every surface formats through model-core/src/presentation/format.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { analyzeSpecText } from "../extension/src/pure/specDocument";
import { hoverMarkdown } from "../extension/src/pure/specInfo";
import { initialExpansion, layoutView, renderSvg } from "../model-core/src/render/index";
import { NO_OVERLAYS } from "../model-core/src/render/svg";
import { formatSummaryTable, summarize } from "../model-core/src/cli/summary";
import { nodeDetails } from "../webview/src/details";

const file = join(__dirname, "..", "examples", "resnet50.resnet.ts");

test("ResNet-50's layer1 reads the same in the SVG, the tooltip, the hover and the CLI table", async () => {
  const text = readFileSync(file, "utf8");
  const { graph } = analyzeSpecText(text, "resnet50.resnet.ts");
  assert.ok(graph);
  const stage = graph.stages.find((s) => s.id === "layer1")!;
  // torchvision resnet50().layer1: 3 bottlenecks with a projection shortcut, 215,808 parameters; output 256×56×56.
  assert.equal(stage.params, 215_808);
  assert.ok(stage.macs >= 667.5e6 && stage.macs < 668.5e6, `layer1 MACs ${stage.macs}`);
  const shape = "256×56×56",
    params = "216K",
    exactParams = "215,808",
    macs = "668M";

  const laid = await layoutView(graph, initialExpansion(graph, "stages"));
  const box = laid.nodes.find((n) => n.id === "layer1");
  assert.ok(box, "layer1 is one box when stages are collapsed");
  const svg = renderSvg(laid, { ...NO_OVERLAYS, shapes: true, params: true, macs: true });
  const boxSvg = svg.slice(
    svg.indexOf(`data-node-id="layer1"`),
    svg.indexOf("</g>", svg.indexOf(`data-node-id="layer1"`)),
  );
  assert.ok(boxSvg.length > 0, "the SVG has the layer1 box");

  const details = new Map(nodeDetails(box, graph, null).rows);
  const hover = hoverMarkdown(graph, text.indexOf("channels: width,")) ?? "";
  assert.ok(hover.startsWith("**layer1 "), hover);
  const table = formatSummaryTable(summarize(graph, file), graph, 1);
  const row = table.split("\n").find((line) => line.startsWith("layer1 "));
  assert.ok(row, table);

  assert.ok(boxSvg.includes(`${params} params · ${macs} MACs`), boxSvg);
  assert.ok(svg.includes(shape), "SVG shape label");
  assert.equal(details.get("output"), shape, "a stage box shows its output shape");
  assert.equal(details.get("params"), `${params} (${exactParams})`);
  assert.equal(details.get("MACs"), macs);
  assert.ok(hover.includes(`| shape | 64×56×56 → ${shape} |`), hover);
  assert.ok(hover.includes(`| params | ${params} (${exactParams}) |`), hover);
  assert.ok(hover.includes(`| MACs | ${macs} |`), hover);
  assert.match(row, new RegExp(` ${shape} +${exactParams} +${macs} `));
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { analyzeOrThrow } from "../src/analysis/analyze";
import { presets } from "../src/spec/presets";
import type { ModelGraph } from "../src/analysis/graph";
import type { GradientFlowResult } from "../src/analysis/gradflow";
import {
  initialExpansion,
  layoutView,
  renderSvg,
  NO_OVERLAYS,
  memoryOverlayData,
  logScale,
  heatColor,
  formatBytes,
  type LaidOutGraph,
  type LaidOutNode,
  type OverlayOptions,
} from "../src/render/index";
import { trainingMemory } from "../src/analysis/memory";

const r18 = analyzeOrThrow(presets.resnet18());
const r50 = analyzeOrThrow(presets.resnet50());
const ALL: OverlayOptions = { shapes: true, params: true, macs: true, receptiveField: true, gradients: true };

/** Tags balance, attributes are quoted, and nothing but entities follows a bare '&'. A small stand-in for an XML parser. */
function assertWellFormed(svg: string): void {
  const body = svg.replace(/^<\?xml[^>]*\?>\s*/, "");
  const stack: string[] = [];
  const tag = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<!--[\s\S]*?-->/g;
  let last = 0;
  let m: RegExpExecArray | null;
  let roots = 0;
  while ((m = tag.exec(body))) {
    const between = body.slice(last, m.index);
    assert.ok(
      !between.includes("<") && !between.includes(">"),
      `stray markup before offset ${m.index}: ${between.slice(0, 80)}`,
    );
    assert.ok(!/&(?!(amp|lt|gt|quot|#39);)/.test(between), `unescaped & in text: ${between.slice(0, 80)}`);
    last = tag.lastIndex;
    if (!m[2]) continue;
    const [, close, name, , selfClose] = m;
    if (close) assert.equal(stack.pop(), name, `closing </${name}> matches`);
    else if (!selfClose) {
      if (stack.length === 0) roots++;
      stack.push(name);
    } else if (stack.length === 0) roots++;
  }
  assert.equal(body.slice(last).trim(), "", "nothing after the root");
  assert.deepEqual(stack, [], "every tag closed");
  assert.equal(roots, 1, "one root element");
  assert.ok(body.startsWith("<svg"), "root is <svg>");
  // XML 1.0 §2.2: no C0 control but tab and newlines, not even as a reference.
  assert.doesNotMatch(
    svg,
    // eslint-disable-next-line no-control-regex -- the characters XML 1.0 forbids are control characters
    /[\u0000-\u0008\u000b\u000c\u000e-\u001f]|&#(x0*[0-8bcef]|x0*1[0-9a-f]|0*([0-8]|1[124-9]|2\d|3[01]));/i,
    "no character XML forbids",
  );
}

function fakeGradients(graph: ModelGraph, scale = 1): GradientFlowResult {
  const nodes = graph.nodes.map((n, i) => ({
    id: n.id,
    // Gradients shrink toward the output by orders of magnitude, as they would vanish in a plain net.
    activation: { l2: scale * 10 ** (-i / 20), meanAbs: 1e-4, maxAbs: 1e-3 },
    params: {},
  }));
  // At the Add both inputs receive the same gradient (identity = residual); the split is measured at the input.
  const adds = graph.stages
    .flatMap((s) => s.blocks)
    .filter((b) => b.addId)
    .map((b, i) => ({ id: b.addId!, block: b.id, identity: 1 + i, residual: 1 + i, residualAtInput: 3 }));
  return {
    model: graph.name,
    backend: "cpu",
    batch: 2,
    loss: 2.3,
    nodes,
    adds,
    ratio: { firstBlockInput: 1, lastBlockOutput: 1, value: 1 },
    millis: 1,
  };
}

const count = (svg: string, needle: string) => svg.split(needle).length - 1;

let r18All: LaidOutGraph;
let r50Stages: LaidOutGraph;
test("setup: ResNet-18 fully expanded lays out every graph node; ResNet-50 folded to stages does not", async () => {
  r18All = await layoutView(r18, initialExpansion(r18, "all"));
  r50Stages = await layoutView(r50, { expanded: [] });
  assert.deepEqual(new Set(r18All.nodes.map((n) => n.id)), new Set(r18.nodes.map((n) => n.id)));
  assert.ok(r50Stages.nodes.length < r50.nodes.length / 4, `${r50Stages.nodes.length} of ${r50.nodes.length} nodes`);
  assert.ok(
    r50Stages.nodes.some((n) => n.id === "layer3"),
    "a folded stage is one node",
  );
});

test("a network name with control characters still gives well-formed XML (U+0001 shows as ␁)", () => {
  const svg = renderSvg({ ...r50Stages, name: "bad\u0001name\u001b[2J & <co>" }, NO_OVERLAYS);
  assertWellFormed(svg);
  assert.ok(svg.includes("<title>bad\u2401name\u241b[2J &amp; &lt;co&gt;</title>"), svg.slice(0, 600));
});

test("well-formed SVG with every node and edge tagged for the webview, no NaN", () => {
  for (const [laid, overlays] of [
    [r18All, ALL],
    [r18All, NO_OVERLAYS],
    [r50Stages, ALL],
  ] as const) {
    const svg = renderSvg(laid, overlays, fakeGradients(laid === r18All ? r18 : r50));
    assertWellFormed(svg);
    assert.ok(!/NaN|undefined|Infinity|\[object/.test(svg), "no NaN/undefined in output");
    assert.equal((svg.match(/class="rs-node[ "]/g) ?? []).length, laid.nodes.length);
    assert.equal(count(svg, "data-from="), laid.edges.length);
    for (const n of laid.nodes) assert.ok(svg.includes(`data-node-id="${n.id}"`), n.id);
  }
});

test("edges carry shapes; collapsed stages read 'Bottleneck ×4' with the shape change", () => {
  const svg = renderSvg(r50Stages, { ...NO_OVERLAYS, shapes: true });
  assert.match(svg, /data-from="layer1" data-to="layer2" data-shape="256,56,56"/);
  assert.match(svg, /data-from="layer2" data-to="layer3" data-shape="512,28,28"/);
  assert.ok(svg.includes(">Bottleneck ×4<"));
  assert.ok(svg.includes("256×56×56 → 512×28×28"));
  assert.ok(svg.includes(">256×56×56</text>"), "shape label drawn on the edge");
  assert.match(svg, /data-node-id="layer2" data-kind="stage" data-expandable="true"/);
});

test("shortcut edges and projection layers are distinguishable", () => {
  const svg = renderSvg(r18All, NO_OVERLAYS);
  assert.match(
    svg,
    /<g class="rs-edge rs-shortcut rs-projection" data-from="layer2.0.downsample.1" data-to="layer2.0.add"[^>]*data-kind="shortcut"/,
  );
  assert.match(
    svg,
    /<g class="rs-edge rs-shortcut-lane rs-projection" data-from="layer2.0.downsample.0" data-to="layer2.0.downsample.1"/,
  );
  assert.match(
    svg,
    /<g class="rs-edge rs-shortcut" data-from="layer1.0" data-to="layer1.0.add"|<g class="rs-edge rs-shortcut" data-from="[^"]+" data-to="layer1.0.add"/,
  );
  assert.match(svg, /<g class="rs-edge" data-from="layer2.0.bn2" data-to="layer2.0.add"/);
  assert.match(svg, /class="rs-node rs-kind-conv rs-shortcut-lane" data-node-id="layer2.0.downsample.0"/);
  // One element per drawn shortcut: 8 blocks, the first of layer2–4 with a projection (option B).
  assert.equal(count(svg, 'class="rs-edge rs-shortcut"') + count(svg, 'class="rs-edge rs-shortcut rs-projection"'), 8);
  assert.equal(count(svg, 'class="rs-edge rs-shortcut rs-projection"'), 3);
  assert.ok(svg.includes(">downsample.1<"));
  assert.equal(count(svg, "rs-kind-add"), 8, "one visible Add per BasicBlock");
});

test("each overlay toggle changes the output and adds what it promises", () => {
  const grads = fakeGradients(r18);
  const base = renderSvg(r18All, NO_OVERLAYS, grads);
  const with_ = (o: Partial<OverlayOptions>) => renderSvg(r18All, { ...NO_OVERLAYS, ...o }, grads);
  const shapes = with_({ shapes: true });
  const params = with_({ params: true });
  const macs = with_({ macs: true });
  const rf = with_({ receptiveField: true });
  const gradients = with_({ gradients: true });
  for (const s of [shapes, params, macs, rf, gradients]) assert.notEqual(s, base);
  const edgeLabel = /<path [^>]*\/><text [^>]*>64×56×56<\/text>/;
  assert.ok(!edgeLabel.test(base) && edgeLabel.test(shapes), "shape labels sit on edges");
  assert.ok(params.includes("9.41K params"), "stem conv: 7·7·3·64 = 9408 parameters");
  assert.ok(macs.includes("118M MACs"), "stem conv: 9408 · 112² ≈ 118M MACs");
  assert.ok(rf.includes("RF 7 /2") && !base.includes("RF 7 /2"), "conv1's receptive field is 7, stride 2");
  assert.ok(
    !base.includes(`class="rs-split"`) && gradients.includes('class="rs-split"'),
    "expanded blocks show the split at their input",
  );
  assert.match(gradients, /stroke-width:[\d.]+px/, "edge width follows the gradient norm");
  assert.ok(
    gradients.includes("25% shortcut"),
    "first block: 1 through the shortcut vs 3 through the branch at its input",
  );
  assert.ok(params.includes('fill="#fde725"'), "params heat colouring: the largest is viridis yellow");
  assert.ok(params.includes('fill="#440154"'), "the smallest positive is viridis violet");
  assert.ok(!base.includes("#fde725"), "no heat without overlays");
});

test("gradient overlay is ignored without a result, and collapsed groups show their strongest member", () => {
  const noGrads = renderSvg(r50Stages, { ...NO_OVERLAYS, gradients: true }, null);
  assert.equal(noGrads, renderSvg(r50Stages, NO_OVERLAYS, null));
  const grads = fakeGradients(r50);
  const svg = renderSvg(r50Stages, { ...NO_OVERLAYS, gradients: true }, grads);
  const layer1First = grads.nodes.find((n) => n.id === r50.stages.find((s) => s.id === "layer1")!.nodeIds[0])!;
  assert.ok(
    svg.includes(`∇ ${layer1First.activation.l2.toExponential(1)}`) ||
      svg.includes(`∇ ${Number(layer1First.activation.l2.toFixed(2))}`),
  );
});

test("themed output uses VS Code variables; standalone embeds concrete colours", () => {
  const themed = renderSvg(r50Stages, ALL, fakeGradients(r50));
  assert.ok(themed.includes("var(--vscode-editor-background, #1e1e1e)"));
  assert.ok(themed.includes("var(--vscode-editor-foreground,"));
  assert.ok(!themed.startsWith("<?xml"));
  const standalone = renderSvg(r50Stages, ALL, fakeGradients(r50), { standalone: true });
  assert.ok(!standalone.includes("var(--vscode-editor-background"));
  assert.ok(standalone.startsWith('<?xml version="1.0"'));
  assertWellFormed(standalone);
});

test("text is escaped, selection is marked, viewport renders a subset", () => {
  const hostile: LaidOutGraph = {
    ...r50Stages,
    name: `<script>alert("x")</script> & co`,
    nodes: r50Stages.nodes.map((n) => (n.id === "layer2" ? { ...n, label: `a<b & "c"` } : n)),
  };
  const svg = renderSvg(hostile, ALL, null, { selected: "layer2" });
  assertWellFormed(svg);
  assert.ok(!svg.includes("<script>"));
  assert.ok(svg.includes("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co"));
  assert.ok(svg.includes("a&lt;b &amp; &quot;c&quot;"));
  assert.match(svg, /rs-selected" data-node-id="layer2"/);

  const top = renderSvg(r18All, NO_OVERLAYS, null, { viewport: { x: 0, y: 0, width: r18All.width, height: 400 } });
  assertWellFormed(top);
  const shown = (top.match(/class="rs-node[ "]/g) ?? []).length;
  assert.ok(shown > 0 && shown < r18All.nodes.length / 4, `viewport shows ${shown} of ${r18All.nodes.length}`);
  assert.ok(top.includes('data-node-id="input"') && !top.includes('data-node-id="fc"'));
});

test("memory overlay: each box is heated by the bytes it saves for backward, on the shared heat scale", () => {
  const memory = trainingMemory(r18, { batch: 32 });
  const data = memoryOverlayData(memory);
  const svg = renderSvg(r18All, { ...NO_OVERLAYS, memory: true }, null, { memory: data });
  assertWellFormed(svg);
  const saved = (n: LaidOutNode) => n.nodeIds.reduce((s, id) => s + (data.savedBytes.get(id) ?? 0), 0);
  const scale = logScale(r18All.nodes.map(saved));
  const bn1 = r18All.nodes.find((n) => n.id === "bn1")!;
  const bn1Box = svg.slice(svg.indexOf('data-node-id="bn1"'), svg.indexOf("</g>", svg.indexOf('data-node-id="bn1"')));
  assert.ok(bn1Box.includes(`fill="${heatColor(scale(saved(bn1)))}"`), bn1Box);
  assert.ok(bn1Box.includes(`saved for backward: ${formatBytes(saved(bn1))} at batch 32`));
  assert.ok(bn1Box.includes(`${formatBytes(saved(bn1))} saved`));
  // An Add saves nothing: the coolest colour.
  const add = svg.slice(
    svg.indexOf('data-node-id="layer1.0.add"'),
    svg.indexOf("</g>", svg.indexOf('data-node-id="layer1.0.add"')),
  );
  assert.ok(add.includes(`fill:${heatColor(0)}`), add);
  assert.match(svg, /bytes saved for backward at batch 32, log scale/);
  // Without data (or with the overlay off) nothing is heated.
  assert.doesNotMatch(renderSvg(r18All, { ...NO_OVERLAYS, memory: true }, null), /saved for backward/);
  assert.doesNotMatch(renderSvg(r18All, NO_OVERLAYS, null, { memory: data }), /saved for backward/);
});

/**
 * Shortcuts are drawn at every level of folding (He et al. 2015, Fig. 3), one SVG element each; the gradient
 * split is measured at the block's input; frame titles are never crossed by an edge or an arc.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { analyzeOrThrow } from "../src/analysis/analyze";
import { presets } from "../src/spec/presets";
import type { GradientFlowResult } from "../src/analysis/gradflow";
import { shortcutLabel } from "../src/render/shortcuts";
import {
  heatColor,
  heatLegend,
  initialExpansion,
  layoutView,
  logHeatScale,
  renderSvg,
  NO_OVERLAYS,
  shortcutShare,
  type LaidOutGraph,
} from "../src/render/index";

const r18 = analyzeOrThrow(presets.resnet18());
const plain18 = analyzeOrThrow(presets.plain18());
const r56 = analyzeOrThrow(presets.resnet56());

const count = (svg: string, re: RegExp) => (svg.match(re) ?? []).length;
const SHORTCUT = /class="rs-shortcut[ "]|class="[^"]* rs-shortcut[ "]/g;
const PROJECTION = /class="[^"]*rs-shortcut(?!-)[^"]*rs-projection[^"]*"/g;

test("folded ResNet-18 blocks: 8 shortcut arcs, the 3 projections (first block of layer2–4) dashed; plain-18 none", async () => {
  const expansion = initialExpansion(r18);
  assert.deepEqual(
    expansion.expanded,
    ["stem", "layer1", "layer2", "layer3", "layer4", "head"].filter((id) => r18.stages.some((s) => s.id === id)),
  );
  const laid = await layoutView(r18, expansion);
  assert.equal(laid.shortcuts.length, 8);
  assert.deepEqual(
    laid.shortcuts.filter((a) => a.kind === "projection").map((a) => a.unitId),
    ["layer2.0", "layer3.0", "layer4.0"],
  );
  const svg = renderSvg(laid, NO_OVERLAYS);
  assert.equal(count(svg, SHORTCUT), 8);
  assert.equal(count(svg, PROJECTION), 3);
  assert.ok(svg.includes(".rs-arc.rs-projection path{stroke-dasharray"), "projections are dashed");

  const plainLaid = await layoutView(plain18, initialExpansion(plain18));
  assert.equal(plainLaid.shortcuts.length, 0);
  assert.equal(count(renderSvg(plainLaid, NO_OVERLAYS), SHORTCUT), 0);
});

test("a folded stage shows one arc per shortcut kind, marked ×N; a folded model too; arcs lie right of their box", async () => {
  const stages = await layoutView(r18, { expanded: [] });
  const byStage = new Map<string, string[]>();
  for (const a of stages.shortcuts)
    byStage.set(a.unitId, [...(byStage.get(a.unitId) ?? []), `${a.kind}×${a.blocks.length}`]);
  assert.deepEqual(Object.fromEntries(byStage), {
    layer1: ["identity×2"],
    layer2: ["projection×1", "identity×1"],
    layer3: ["projection×1", "identity×1"],
    layer4: ["projection×1", "identity×1"],
  });
  const svg = renderSvg(stages, NO_OVERLAYS);
  assert.equal(count(svg, SHORTCUT), 7);
  assert.ok(svg.includes(">×2</text>"), "layer1's identity arc is labelled with its count");
  const arcLabels = [
    ...svg.matchAll(/data-kind="(identity|projection)" data-count[^>]*>[\s\S]*?<text[^>]*>([^<]*)<\/text><\/g>/g),
  ];
  assert.equal(arcLabels.length, 7);
  for (const [, kind, label] of arcLabels)
    assert.equal(
      /B/.test(label),
      kind === "projection",
      `under B only projections carry the letter: ${kind} "${label}"`,
    );
  assert.equal(shortcutLabel({ option: "B", kind: "projection", blocks: ["layer2.0"] }), "B");
  assert.equal(shortcutLabel({ option: "B", kind: "identity", blocks: ["layer2.1"] }), "");
  assert.equal(shortcutLabel({ option: "A", kind: "identity", blocks: ["layer1.0", "layer1.1"] }), "A ×2");
  assert.equal(shortcutLabel({ option: "C", kind: "projection", blocks: ["layer1.0", "layer1.1"] }), "C ×2");
  for (const a of stages.shortcuts) {
    const box = stages.nodes.find((n) => n.id === a.unitId)!;
    assert.ok(
      a.reach > box.x + box.width && a.top < box.y && a.bottom > box.y + box.height,
      `${a.id} runs beside its box`,
    );
    assert.ok(a.labelX < stages.width, "the label is inside the drawing");
  }
  const r56Stages = await layoutView(r56, { expanded: [] });
  assert.deepEqual(
    r56Stages.shortcuts.map((a) => `${a.unitId}:${a.kind}×${a.blocks.length}:${a.option}`),
    ["layer1:identity×9:A", "layer2:identity×9:A", "layer3:identity×9:A"],
  );
  const model = await layoutView(r18, { expanded: [], modelCollapsed: true });
  assert.equal(
    model.shortcuts.reduce((n, a) => n + a.blocks.length, 0),
    8,
  );
});

test("expanded blocks: the shortcut is one element, the edge that enters the Add", async () => {
  const laid = await layoutView(r18, initialExpansion(r18, "all"));
  assert.equal(laid.shortcuts.length, 0, "no arcs: expanded blocks draw their shortcut as edges");
  const svg = renderSvg(laid, NO_OVERLAYS);
  assert.equal(count(svg, SHORTCUT), 8);
  assert.equal(count(svg, PROJECTION), 3);
});

type Box = { x0: number; y0: number; x1: number; y1: number };
function segmentHitsBox(a: { x: number; y: number }, b: { x: number; y: number }, r: Box): boolean {
  // Orthogonal segments only (the layout routes orthogonally).
  const x0 = Math.min(a.x, b.x),
    x1 = Math.max(a.x, b.x),
    y0 = Math.min(a.y, b.y),
    y1 = Math.max(a.y, b.y);
  return x0 <= r.x1 && x1 >= r.x0 && y0 <= r.y1 && y1 >= r.y0;
}

/** Every frame title's text box, from the rendered SVG (12 px bold ≈ 7 px a character, 11 px ≈ 6.5). */
function titleBoxes(svg: string): { text: string; box: Box }[] {
  const out: { text: string; box: Box }[] = [];
  for (const m of svg.matchAll(
    /<text class="rs-(label|sub) rs-frame-title" x="([\d.]+)" y="([\d.]+)">([^<]*)<\/text>/g,
  )) {
    const x = Number(m[2]),
      y = Number(m[3]),
      size = m[1] === "label" ? 12 : 11;
    out.push({ text: m[4], box: { x0: x, y0: y - size, x1: x + m[4].length * (size === 12 ? 7 : 6.5), y1: y + 3 } });
  }
  return out;
}

function assertNothingCrossesTitles(laid: LaidOutGraph): void {
  const svg = renderSvg(laid, { ...NO_OVERLAYS, shapes: true });
  const titles = titleBoxes(svg);
  assert.ok(titles.length > 0);
  for (const t of titles) {
    for (const e of laid.edges) {
      for (let i = 1; i < e.points.length; i++)
        assert.ok(!segmentHitsBox(e.points[i - 1], e.points[i], t.box), `edge ${e.id} crosses the title "${t.text}"`);
    }
    for (const a of laid.shortcuts) {
      const corners = [
        { x: a.laneX, y: a.top },
        { x: a.reach, y: a.top },
        { x: a.reach, y: a.bottom },
        { x: a.laneX, y: a.bottom },
      ];
      for (let i = 1; i < corners.length; i++)
        assert.ok(!segmentHitsBox(corners[i - 1], corners[i], t.box), `arc ${a.id} crosses the title "${t.text}"`);
    }
  }
}

test("no edge or shortcut arc crosses a frame title", async () => {
  for (const expansion of [
    initialExpansion(r18),
    initialExpansion(r18, "all"),
    { expanded: ["layer2", "layer2.0"] },
    { ...initialExpansion(r18), columns: 2 },
  ]) {
    assertNothingCrossesTitles(await layoutView(r18, expansion));
  }
  assertNothingCrossesTitles(await layoutView(r56, initialExpansion(r56, "blocks")));
});

test("the split is measured at the fork: identity / (identity + residualAtInput), not the Add's always-½", async () => {
  // At the Add both inputs get the same gradient, so identity === residual there.
  const split = { id: "layer1.0.add", block: "layer1.0", identity: 2, residual: 2, residualAtInput: 6 };
  assert.equal(shortcutShare(split), 0.25);
  assert.notEqual(shortcutShare(split), split.identity / (split.identity + split.residual));
  assert.equal(
    shortcutShare({ id: "a", block: "b", identity: 2, residual: 2 }),
    null,
    "no branch measurement, no split",
  );

  const laid = await layoutView(r18, initialExpansion(r18));
  const blocks = r18.stages.flatMap((s) => s.blocks);
  const gradients: GradientFlowResult = {
    model: r18.name,
    backend: "cpu",
    batch: 2,
    loss: 1,
    ratio: { firstBlockInput: 1, lastBlockOutput: 1, value: 1 },
    millis: 1,
    nodes: r18.nodes.map((n) => ({ id: n.id, activation: { l2: 1, meanAbs: 1, maxAbs: 1 }, params: {} })),
    adds: blocks.map((b, i) => ({ id: b.addId!, block: b.id, identity: 1 + i, residual: 1 + i, residualAtInput: 2 })),
  };
  const svg = renderSvg(laid, { ...NO_OVERLAYS, gradients: true }, gradients);
  const shares = [...svg.matchAll(/data-shortcut-share="([\d.e-]+)"/g)].map((m) => Number(m[1]));
  assert.equal(shares.length, 8, "one split per folded block");
  shares.forEach((share, i) => assert.ok(Math.abs(share - (1 + i) / (1 + i + 2)) < 1e-12, `block ${i}: ${share}`));
  const expanded = renderSvg(
    await layoutView(r18, initialExpansion(r18, "all")),
    { ...NO_OVERLAYS, gradients: true },
    gradients,
  );
  assert.equal(
    [...expanded.matchAll(/data-shortcut-share="/g)].length,
    8,
    "expanded blocks show it at their input, in the frame header",
  );
});

test("heat scale: viridis, brighter for larger values (colour order is magnitude order), a legend with the values", () => {
  assert.equal(heatColor(0), "#440154");
  assert.equal(heatColor(1), "#fde725");
  const luminance = (hex: string) =>
    [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).reduce((l, c, k) => l + c * [0.2126, 0.7152, 0.0722][k], 0);
  for (let i = 1; i <= 50; i++)
    assert.ok(luminance(heatColor(i / 50)) > luminance(heatColor((i - 1) / 50)), `brighter at t=${i / 50}`);
  const scale = logHeatScale([1e-4, 1e-2, 1, 0, Number.NaN]);
  assert.deepEqual(scale.range, { min: 1e-4, max: 1 });
  assert.equal(scale.color(1e-2), heatColor(0.5), "log scale: 1e-2 is halfway between 1e-4 and 1");
  const legend = heatLegend(scale, "gradient", 0, 0, (v) => v.toExponential(0));
  const ticks = [...legend.matchAll(/data-value="([^"]+)">([^<]+)</g)].map((m) => m[2]);
  assert.deepEqual(ticks, ["1e-4", "1e-3", "1e-2", "1e-1", "1e+0"]);
  assert.match(legend, /gradient, log scale \(viridis\)/);
});

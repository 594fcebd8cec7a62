/** The webview's pure logic under node: the message reducer, view geometry, keyboard navigation, search, tooltips. */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { analyze } from "../model-core/src/analysis/analyze";
import { presets } from "../model-core/src/spec/presets";
import { initialExpansion, layoutView, type LaidOutGraph } from "../model-core/src/render/index";
import type { ModelGraph } from "../model-core/src/analysis/graph";
import type { Snapshot } from "../model-core/src/protocol";
import { EMPTY_TRAINING } from "../model-core/src/protocol";
import { emptyModel, reduce, reduceView } from "../webview/src/state";
import { DEFAULT_OVERLAYS } from "../model-core/src/presentation/overlays";
import { defaultViewState } from "../model-core/src/presentation/view";
import { networkId, fnv1a64 } from "../model-core/src/spec/identity";
import {
  centreOn,
  containsRect,
  fitTransform,
  MAX_ZOOM,
  MIN_ZOOM,
  searchNetwork,
  zoomLimits,
  initialTransform,
  READABLE_ZOOM,
  neighbour,
  visibleRect,
  zoomAt,
} from "../webview/src/geometry";
import { enclosingGroups, gradientOf, layerGradientSeries, memberIds, nodeDetails } from "../webview/src/details";
import { syntheticGradients } from "./browser/harness";

let graph: ModelGraph;
let laid: LaidOutGraph;

before(async () => {
  graph = analyze(presets.resnet18()).graph!;
  laid = await layoutView(graph, initialExpansion(graph, "blocks"));
});

function snapshot(overrides: Partial<Snapshot> = {}): Snapshot {
  return {
    title: "ResNet-18",
    graph,
    laid,
    view: { ...defaultViewState(), documentUri: "file:///a.resnet.ts", expansion: initialExpansion(graph, "blocks") },
    gradients: null,
    training: EMPTY_TRAINING,
    diagnostics: [],
    ...overrides,
  };
}

test("reducer: snapshot, graph, layout, gradients, training and diagnostics messages", () => {
  let m = emptyModel();
  assert.equal(m.laid, null);
  m = reduce(m, { type: "snapshot", snapshot: snapshot() });
  assert.equal(m.title, "ResNet-18");
  assert.equal(m.laid, laid);
  assert.ok(m.needsFit, "a first snapshot fits the diagram");
  const v1 = m.layoutVersion;

  m = { ...m, view: reduceView(m.view, { kind: "select", id: "layer2.0" }), needsFit: false };
  const smaller: LaidOutGraph = { ...laid, nodes: laid.nodes.filter((n) => n.id !== "layer2.0") };
  m = reduce(m, { type: "layout", laid: smaller, expansion: { expanded: ["stem"] } });
  assert.equal(m.layoutVersion, v1 + 1);
  assert.equal(m.view.selected, null, "a selection that vanished from the layout is dropped");
  assert.deepEqual(m.view.expansion, { expanded: ["stem"] });

  const pair = { residual: syntheticGradients(graph), plain: null };
  m = reduce(m, { type: "gradients", gradients: pair, network: networkId(graph.spec) });
  assert.equal(m.gradients, pair);
  assert.equal(m.view.overlays.gradients, true, "new gradients switch the overlay on");

  // Same network again (an edit that keeps it): gradients stay; another network: they go.
  m = reduce(m, { type: "graph", graph, title: "ResNet-18", documentUri: "file:///a.resnet.ts" });
  assert.equal(m.gradients, pair);
  assert.equal(m.needsFit, false);
  const other = analyze(presets.resnet34()).graph!;
  m = reduce(m, { type: "graph", graph: other, title: "ResNet-34", documentUri: "file:///b.resnet.ts" });
  assert.equal(m.gradients, null);
  assert.ok(m.needsFit);

  // The same name and node count with other channels is another network: its spec hash differs.
  m = reduce(m, { type: "gradients", gradients: pair, network: networkId(graph.spec) });
  assert.equal(m.gradients, null, "ResNet-18's gradients, arriving while ResNet-34 is shown, are not shown");
  m = reduce(m, { type: "gradients", gradients: pair, network: networkId(other.spec) });
  assert.equal(m.gradients, pair);
  const lrRange = { model: other.name, points: [], suggested: null, diverged: false };
  m = reduce(m, { type: "lrRange", result: lrRange, network: networkId(graph.spec) });
  assert.equal(m.lrRange, null, "a learning-rate test of another network is not shown under this one");
  m = reduce(m, { type: "lrRange", result: lrRange, network: networkId(other.spec) });
  assert.equal(m.lrRange, lrRange);
  m = { ...m, needsFit: false };
  const wider = analyze({
    ...other.spec,
    stages: other.spec.stages.map((s, i) => (i === 1 ? { ...s, channels: s.channels * 2 } : s)),
  }).graph!;
  assert.equal(wider.name, other.name);
  assert.equal(wider.nodes.length, other.nodes.length);
  assert.notEqual(networkId(wider.spec), networkId(other.spec));
  m = reduce(m, { type: "graph", graph: wider, title: "ResNet-34", documentUri: "file:///b.resnet.ts" });
  assert.equal(m.gradients, null, "a changed stage's channels clear the stale gradient overlay");
  assert.equal(m.lrRange, null, "and the learning-rate test measured on the old channels");
  assert.equal(m.needsFit, false, "the view stays where it was");

  // An edit that adds a block (another node count) in the same document keeps zoom, scroll and selection.
  m = {
    ...m,
    view: { ...reduceView(m.view, { kind: "transform", zoom: 0.7, panX: -40, panY: -900 }), selected: "layer3" },
  };
  const deeper = analyze({
    ...wider.spec,
    stages: wider.spec.stages.map((s, i) => (i === 2 ? { ...s, blocks: s.blocks + 1 } : s)),
  }).graph!;
  m = reduce(m, { type: "graph", graph: deeper, title: "ResNet-34", documentUri: "file:///b.resnet.ts" });
  assert.equal(m.needsFit, false, "an edit does not jump back to the top");
  assert.deepEqual([m.view.zoom, m.view.panX, m.view.panY, m.view.selected], [0.7, -40, -900, "layer3"]);
  m = reduce(m, { type: "graph", graph: other, title: "ResNet-34", documentUri: "file:///c.resnet.ts" });
  assert.ok(m.needsFit, "another document opens fresh");
  assert.equal(m.view.documentUri, "file:///c.resnet.ts");

  m = reduce(m, {
    type: "training",
    event: { kind: "started", model: "small", dataset: "mnist", backend: "wasm", epochs: 3, batch: 64 },
  });
  assert.equal(m.training.status, "running");
  m = reduce(m, {
    type: "diagnostics",
    diagnostics: [{ severity: "error", message: "bad", code: "invalid-number", range: null }],
  });
  assert.equal(m.diagnostics.length, 1);
});

test("reducer: a restored view keeps its zoom and pan when the host's snapshot is for the same document", () => {
  const saved = { ...defaultViewState(), documentUri: "file:///a.resnet.ts", zoom: 0.7, panX: 12, panY: -40 };
  let m = emptyModel(saved);
  m = reduce(m, { type: "snapshot", snapshot: snapshot() });
  assert.equal(m.view.zoom, 0.7);
  assert.equal(m.view.panY, -40);
  assert.equal(m.needsFit, false);
  let other = emptyModel({ ...saved, documentUri: "file:///b.resnet.ts" });
  other = reduce(other, { type: "snapshot", snapshot: snapshot() });
  assert.equal(other.view.zoom, 0, "another document starts fitted");
});

test("reduceView: overlays, search, tab", () => {
  let v = defaultViewState();
  assert.deepEqual(v.overlays, DEFAULT_OVERLAYS);
  v = reduceView(v, { kind: "overlay", key: "macs", on: true });
  assert.equal(v.overlays.macs, true);
  assert.equal(v.overlays.shapes, true);
  v = reduceView(v, { kind: "search", text: "conv" });
  v = reduceView(v, { kind: "tab", tab: "training" });
  assert.equal(v.search, "conv");
  assert.equal(v.tab, "training");
});

/** The diagram's bounds on screen under transform `t`. */
function onScreen(t: { zoom: number; panX: number; panY: number }, d: { width: number; height: number }) {
  return { left: t.panX, top: t.panY, right: t.panX + d.width * t.zoom, bottom: t.panY + d.height * t.zoom };
}

test("geometry: fit puts every box inside the viewport, centred; zoom keeps the point under the cursor", () => {
  const viewport = { width: 1000, height: 800 };
  const small = fitTransform({ width: 200, height: 300 }, viewport);
  assert.ok(Math.abs(small.panX - (1000 - 200 * small.zoom) / 2) < 1e-9);
  assert.ok(small.zoom <= 1.5);
  // ResNet-18 expanded in a short panel (it used to stop at 60 %, leaving layer4 and the head off-screen), and a
  // diagram far taller than MIN_ZOOM can show: both fit whole.
  for (const diagram of [
    { width: 335, height: 1808 },
    { width: 300, height: 100_000 },
  ]) {
    const box = onScreen(fitTransform(diagram, { width: 600, height: 500 }), diagram);
    assert.ok(
      box.left >= 0 && box.top >= 0 && box.right <= 600 + 1e-9 && box.bottom <= 500 + 1e-9,
      JSON.stringify(box),
    );
  }
  assert.deepEqual(zoomLimits(null, viewport), { min: MIN_ZOOM, max: MAX_ZOOM });
  assert.equal(MIN_ZOOM, 0.05);
  assert.equal(MAX_ZOOM, 4);
  assert.ok(zoomLimits({ width: 300, height: 100_000 }, viewport).min < MIN_ZOOM, "a huge diagram may go lower");

  const t = { zoom: 1, panX: 10, panY: 20 };
  const z = zoomAt(t, 2, 300, 200);
  const before = { x: (300 - t.panX) / t.zoom, y: (200 - t.panY) / t.zoom };
  const after = { x: (300 - z.panX) / z.zoom, y: (200 - z.panY) / z.zoom };
  assert.ok(Math.abs(before.x - after.x) < 1e-9 && Math.abs(before.y - after.y) < 1e-9);
  assert.equal(zoomAt(t, 1e9, 0, 0).zoom, MAX_ZOOM, "zoom is clamped");
  assert.equal(zoomAt(t, 1e-9, 0, 0).zoom, MIN_ZOOM, "the wheel stops at 5 %, not at a dot");

  const vis = visibleRect({ zoom: 2, panX: -100, panY: -50 }, { width: 400, height: 300 }, 0);
  assert.deepEqual(vis, { x: 50, y: 25, width: 200, height: 150 });
  assert.ok(containsRect(visibleRect({ zoom: 2, panX: -100, panY: -50 }, { width: 400, height: 300 }, 0.5), vis));
  const c = centreOn(
    { zoom: 2, panX: 0, panY: 0 },
    { x: 100, y: 100, width: 20, height: 20 },
    { width: 400, height: 300 },
  );
  assert.deepEqual(c, { zoom: 2, panX: 200 - 220, panY: 150 - 220 });
});

test("a new panel opens at the top of the network with readable text; a small diagram is shown whole", () => {
  const tall = initialTransform({ width: 400, height: 6000 }, { width: 1000, height: 800 });
  assert.equal(tall.zoom, READABLE_ZOOM);
  assert.ok(12 * tall.zoom >= 12 && 11 * tall.zoom >= 11, "labels 12 px, shapes and figures 11 px");
  assert.equal(tall.panY, 16, "the input end of the network is at the top");
  assert.equal(tall.panX, (1000 - 400) / 2);
  const wide = initialTransform({ width: 3000, height: 6000 }, { width: 1000, height: 800 });
  assert.equal(wide.panX, 16, "wider than the panel: its left edge is shown");
  const small = initialTransform({ width: 200, height: 300 }, { width: 1000, height: 800 });
  assert.deepEqual(small, fitTransform({ width: 200, height: 300 }, { width: 1000, height: 800 }, 16));
  assert.ok(small.zoom >= READABLE_ZOOM);
});

test("network identity: FNV-1a 64 of the canonical spec JSON", () => {
  assert.equal(fnv1a64(""), "cbf29ce484222325");
  assert.equal(fnv1a64("a"), "af63dc4c8601ec8c");
  const spec = graph.spec;
  const reordered = Object.fromEntries(Object.entries(spec).reverse()) as typeof spec;
  assert.equal(networkId(reordered), networkId(spec), "field order does not matter");
  assert.notEqual(networkId({ ...spec, shortcut: spec.shortcut === "A" ? "B" : "A" }), networkId(spec));
});

test("keyboard navigation follows the layout: down goes to the next box on the main path", () => {
  const first = neighbour(laid, null, "down");
  assert.equal(first, "input", "with nothing selected, the top box");
  const block = laid.nodes.find((n) => n.id === "layer2.0")!;
  const next = neighbour(laid, "layer2.0", "down");
  assert.ok(next);
  const nextBox = laid.nodes.find((n) => n.id === next)!;
  assert.ok(nextBox.y > block.y, "down moves down");
  assert.equal(neighbour(laid, next, "up"), "layer2.0", "up comes back");
  assert.equal(neighbour(laid, "input", "up"), "input", "nothing above the top: stay");
});

test("search covers every node and group, folded ones too, in data-flow order, with the groups that fold each", () => {
  const ids = (q: string) => searchNetwork(graph, q).map((h) => h.id);
  assert.deepEqual(searchNetwork(graph, "layer3.1.conv2"), [{ id: "layer3.1.conv2", groups: ["layer3.1", "layer3"] }]);
  const downsample = ids("downsample");
  assert.ok(downsample.length >= 3 && downsample.every((id) => id.includes("downsample")), downsample.join());
  const layer3 = ids("LAYER3");
  assert.equal(layer3[0], "layer3", "the stage before its blocks and nodes; case-insensitive");
  assert.ok(layer3.includes("layer3.1") && layer3.includes("layer3.1.conv2"));
  const order = graph.nodes.map((n) => n.id);
  const nodesOnly = layer3.filter((id) => order.includes(id));
  assert.deepEqual(
    nodesOnly,
    [...nodesOnly].sort((a, b) => order.indexOf(a) - order.indexOf(b)),
  );
  assert.ok(ids("fc").includes("fc"));
  assert.deepEqual(searchNetwork(graph, "   "), []);
  // In the collapsed diagram the hit's stage is the box to mark.
  const folded = searchNetwork(graph, "layer3.1.conv2")[0];
  assert.ok(!laid.nodes.some((n) => n.id === folded.id), "folded at the blocks level");
  assert.ok(laid.nodes.some((n) => n.id === "layer3.1" && folded.groups.includes(n.id)));
});

test("details: tooltip rows, gradients of collapsed groups, the per-layer series and what Escape collapses", () => {
  const grads = syntheticGradients(graph);
  assert.deepEqual(memberIds(graph, "layer2.0"), graph.stages.find((s) => s.id === "layer2")!.blocks[0].nodeIds);
  assert.deepEqual(memberIds(graph, "conv1"), ["conv1"]);
  const block = laid.nodes.find((n) => n.id === "layer2.0")!;
  const d = nodeDetails(block, graph, grads);
  const rows = new Map(d.rows);
  assert.ok(
    rows.get("params")?.includes(`(${block.params.toLocaleString("en-US")})`),
    `exact params in ${rows.get("params")}`,
  );
  assert.ok(rows.has("‖dL/dout‖₂"));
  assert.equal(
    rows.get("shortcut share at input"),
    `${Math.round((100 * grads.adds[2].identity) / (grads.adds[2].identity + grads.adds[2].residualAtInput!))}%`,
    "a residual block shows the split at its input (layer2.0 is the third block)",
  );
  // A group's gradient is the one leaving it: its last member with a gradient.
  const members = memberIds(graph, "layer2.0");
  assert.equal(gradientOf(graph, grads, "layer2.0")?.id, members[members.length - 1]);
  assert.equal(gradientOf(graph, null, "layer2.0"), null);

  const series = layerGradientSeries(grads, graph);
  const weightLayers = graph.nodes.filter((n) => (n.op.kind === "conv" || n.op.kind === "fc") && n.role === "main");
  assert.deepEqual(
    series.labels,
    weightLayers.map((n) => n.id),
  );
  assert.equal(series.values.length, series.labels.length);
  // Without the graph (the plain twin's ids), torchvision names are recognised.
  assert.deepEqual(
    layerGradientSeries(grads, null).labels.filter((id) => !id.includes("downsample")),
    series.labels,
  );

  assert.deepEqual(enclosingGroups(graph, "layer2.0.conv1"), ["layer2.0", "layer2"]);
  assert.deepEqual(enclosingGroups(graph, "layer2.0"), ["layer2"]);
  assert.deepEqual(enclosingGroups(graph, "nothing"), []);
});

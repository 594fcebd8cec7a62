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
  initialTransform,
  READABLE_ZOOM,
  neighbour,
  searchNodes,
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
  m = reduce(m, { type: "gradients", gradients: pair });
  assert.equal(m.gradients, pair);
  assert.equal(m.view.overlays.gradients, true, "new gradients switch the overlay on");

  // Same network again (an edit that keeps it): gradients stay; another network: they go.
  m = reduce(m, { type: "graph", graph, title: "ResNet-18" });
  assert.equal(m.gradients, pair);
  assert.equal(m.needsFit, false);
  const other = analyze(presets.resnet34()).graph!;
  m = reduce(m, { type: "graph", graph: other, title: "ResNet-34" });
  assert.equal(m.gradients, null);
  assert.ok(m.needsFit);

  // The same name and node count with other channels is another network: its spec hash differs.
  m = reduce(m, { type: "gradients", gradients: pair });
  m = { ...m, needsFit: false };
  const wider = analyze({
    ...other.spec,
    stages: other.spec.stages.map((s, i) => (i === 1 ? { ...s, channels: s.channels * 2 } : s)),
  }).graph!;
  assert.equal(wider.name, other.name);
  assert.equal(wider.nodes.length, other.nodes.length);
  assert.notEqual(networkId(wider.spec), networkId(other.spec));
  m = reduce(m, { type: "graph", graph: wider, title: "ResNet-34" });
  assert.equal(m.gradients, null, "a changed stage's channels clear the stale gradient overlay");
  assert.equal(m.needsFit, false, "the view stays where it was");

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

test("geometry: fit centres small diagrams and keeps tall ones readable; zoom keeps the point under the cursor", () => {
  const small = fitTransform({ width: 200, height: 300 }, { width: 1000, height: 800 });
  assert.ok(Math.abs(small.panX - (1000 - 200 * small.zoom) / 2) < 1e-9);
  assert.ok(small.zoom <= 1.5);
  const tall = fitTransform({ width: 300, height: 100_000 }, { width: 1000, height: 800 });
  assert.ok(tall.zoom >= 0.35, "a very tall diagram is not shrunk to nothing");
  assert.equal(tall.panY, 16, "its top is shown");

  const t = { zoom: 1, panX: 10, panY: 20 };
  const z = zoomAt(t, 2, 300, 200);
  const before = { x: (300 - t.panX) / t.zoom, y: (200 - t.panY) / t.zoom };
  const after = { x: (300 - z.panX) / z.zoom, y: (200 - z.panY) / z.zoom };
  assert.ok(Math.abs(before.x - after.x) < 1e-9 && Math.abs(before.y - after.y) < 1e-9);
  assert.ok(zoomAt(t, 1e9, 0, 0).zoom <= 8, "zoom is clamped");

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
  assert.deepEqual(small, fitTransform({ width: 200, height: 300 }, { width: 1000, height: 800 }, 16, 0));
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

test("search matches ids, labels and kinds, in reading order", () => {
  const hits = searchNodes(laid, "layer3");
  assert.ok(hits.length >= 2);
  assert.ok(hits.every((h) => h.id.includes("layer3") || h.label.toLowerCase().includes("layer3")));
  for (let i = 1; i < hits.length; i++) assert.ok(hits[i].y >= hits[i - 1].y);
  assert.deepEqual(searchNodes(laid, "   "), []);
  assert.ok(
    searchNodes(laid, "FC").some((h) => h.id === "fc"),
    "case-insensitive",
  );
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

import { test } from "node:test";
import assert from "node:assert/strict";
import { analyzeOrThrow } from "../src/analysis/analyze";
import { presets } from "../src/spec/presets";
import type { ModelGraph } from "../src/analysis/graph";
import {
  initialExpansion,
  toggleExpansion,
  layoutView,
  buildView,
  type LaidOutGraph,
  type LaidOutNode,
} from "../src/render/index";

const graphs = new Map<string, ModelGraph>();
function graphOf(name: "resnet18" | "resnet50" | "resnet20" | "resnet152"): ModelGraph {
  let g = graphs.get(name);
  if (!g) {
    g = analyzeOrThrow(presets[name]());
    graphs.set(name, g);
  }
  return g;
}

function node(laid: LaidOutGraph, id: string): LaidOutNode {
  const n = laid.nodes.find((x) => x.id === id);
  assert.ok(n, `node ${id} is laid out (have ${laid.nodes.map((x) => x.id).join(", ")})`);
  return n;
}

function edge(laid: LaidOutGraph, from: string, to: string) {
  const e = laid.edges.find((x) => x.from === from && x.to === to);
  assert.ok(e, `edge ${from} -> ${to} exists (have ${laid.edges.map((x) => x.id).join(", ")})`);
  return e;
}

test("initial expansion: small nets open at block level, deep ones at stage level", () => {
  assert.deepEqual(
    initialExpansion(graphOf("resnet18")).expanded.sort(),
    graphOf("resnet18")
      .stages.map((s) => s.id)
      .sort(),
  );
  assert.deepEqual(initialExpansion(graphOf("resnet50")).expanded.length, graphOf("resnet50").stages.length);
  assert.deepEqual(initialExpansion(graphOf("resnet152")).expanded, []);
  const all = initialExpansion(graphOf("resnet18"), "all");
  assert.ok(all.expanded.includes("layer2.0") && all.expanded.includes("layer4.1") && all.expanded.includes("stem"));
});

test("toggleExpansion opens and closes groups without mutating the state", () => {
  const s0 = { expanded: ["layer1"] };
  const s1 = toggleExpansion(s0, "layer2");
  assert.deepEqual(s0.expanded, ["layer1"]);
  assert.deepEqual(s1.expanded, ["layer1", "layer2"]);
  assert.deepEqual(toggleExpansion(s1, "layer1").expanded, ["layer2"]);
  const folded = toggleExpansion(s1, "model");
  assert.equal(folded.modelCollapsed, true);
  assert.equal(toggleExpansion(folded, "model").modelCollapsed, false);
});

test("stage level: one box per stage, labelled like the paper's table, with shapes at the boundaries", async () => {
  const r18 = await layoutView(graphOf("resnet18"), initialExpansion(graphOf("resnet18"), "stages"));
  assert.deepEqual(
    r18.nodes.map((n) => n.id),
    ["input", "stem", "layer1", "layer2", "layer3", "layer4", "head"],
  );
  assert.equal(node(r18, "layer1").label, "BasicBlock ×2");
  assert.equal(node(r18, "layer2").sublabel, "64×56×56 → 128×28×28");
  assert.equal(node(r18, "layer2").expandable, true);
  assert.equal(node(r18, "layer2").group, "stage");
  assert.equal(r18.containers.length, 0);

  const r50 = await layoutView(graphOf("resnet50"), { expanded: [] });
  assert.equal(node(r50, "layer2").label, "Bottleneck ×4");
  assert.deepEqual(edge(r50, "layer1", "layer2").shape, [256, 56, 56]);
  assert.deepEqual(edge(r50, "layer2", "layer3").shape, [512, 28, 28]);
  assert.deepEqual(node(r50, "layer2").outputShape, [512, 28, 28]);
  assert.ok(
    r50.edges.every((e) => e.kind === "main"),
    "folded stages hide the shortcuts",
  );
  const params = r50.nodes.reduce((s, n) => s + n.params, 0);
  assert.equal(params, graphOf("resnet50").totals.params, "folded boxes still account for every parameter");
});

test("block level: stem and head layers plus one box per residual block", async () => {
  for (const [name, blocks] of [
    ["resnet18", 8],
    ["resnet50", 16],
  ] as const) {
    const g = graphOf(name);
    const laid = await layoutView(g, initialExpansion(g, "blocks"));
    const blockBoxes = laid.nodes.filter((n) => n.group === "block");
    assert.equal(blockBoxes.length, blocks, name);
    assert.equal(laid.nodes.length, 1 + 4 + blocks + 2, `${name}: input, 4 stem layers, blocks, avgpool + fc`);
    assert.equal(node(laid, "layer2.0").label, name === "resnet18" ? "BasicBlock" : "Bottleneck");
    assert.deepEqual(laid.containers.map((c) => c.id).sort(), g.stages.map((s) => s.id).sort());
  }
  const r50 = await layoutView(graphOf("resnet50"), initialExpansion(graphOf("resnet50"), "blocks"));
  assert.deepEqual(edge(r50, "layer1.2", "layer2.0").shape, [256, 56, 56]);
  assert.deepEqual(edge(r50, "layer2.3", "layer3.0").shape, [512, 28, 28]);
});

test("fully expanded: every graph node is a box, projections show downsample.0/1, shortcuts are marked", async () => {
  const g = graphOf("resnet18");
  const laid = await layoutView(g, initialExpansion(g, "all"));
  assert.deepEqual(laid.nodes.map((n) => n.id).sort(), g.nodes.map((n) => n.id).sort());
  const ds0 = node(laid, "layer2.0.downsample.0");
  const ds1 = node(laid, "layer2.0.downsample.1");
  assert.equal(ds0.kind, "conv");
  assert.equal(ds0.label, "1×1 conv, 128, /2");
  assert.equal(ds1.kind, "batchnorm");
  assert.equal(ds0.role, "shortcut");
  assert.equal(edge(laid, "layer2.0.downsample.0", "layer2.0.downsample.1").kind, "shortcut");
  assert.equal(edge(laid, "layer2.0.downsample.1", "layer2.0.add").kind, "shortcut");
  assert.equal(edge(laid, "layer2.0.bn2", "layer2.0.add").kind, "main");
  // Identity shortcut of layer1.0: from the stem's max-pool straight into the Add.
  const identity = edge(laid, "maxpool", "layer1.0.add");
  assert.equal(identity.kind, "shortcut");
  assert.deepEqual(identity.shape, [64, 56, 56]);
  assert.equal(node(laid, "layer1.0.add").kind, "add");
  assert.equal(node(laid, "layer1.0.add").label, "+");
});

function assertLane(laid: LaidOutGraph, name: string): void {
  const main = laid.nodes.filter((n) => n.role === "main");
  const lane = main[0].x + main[0].width / 2;
  for (const n of main) assert.ok(Math.abs(n.x + n.width / 2 - lane) < 0.5, `${name}: ${n.id} sits on the lane`);
  for (const e of laid.edges) {
    for (let i = 1; i < e.points.length; i++) {
      const [p, q] = [e.points[i - 1], e.points[i]];
      assert.ok(p.x === q.x || p.y === q.y, `${name}: ${e.id} segment ${i} is orthogonal`);
    }
  }
}

function overlaps(a: LaidOutNode, b: LaidOutNode): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

test("geometry: one straight main lane, shortcuts beside it, no overlaps, orthogonal edges ending at their target", async () => {
  for (const name of ["resnet18", "resnet50", "resnet20"] as const) {
    const g = graphOf(name);
    const laid = await layoutView(g, initialExpansion(g, "all"));
    const main = laid.nodes.filter((n) => n.role === "main");
    const lane = main[0].x + main[0].width / 2;
    for (const n of main) assert.ok(Math.abs(n.x + n.width / 2 - lane) < 0.5, `${name}: ${n.id} sits on the lane`);
    for (const n of laid.nodes.filter((x) => x.role === "shortcut")) {
      assert.ok(n.x >= lane + 40 || n.x + n.width <= lane - 40, `${name}: shortcut ${n.id} is beside the lane`);
    }
    const sorted = [...laid.nodes].sort((a, b) => a.y - b.y);
    for (let i = 0; i < sorted.length; i++) {
      for (let j = i + 1; j < sorted.length && sorted[j].y < sorted[i].y + sorted[i].height; j++) {
        assert.ok(!overlaps(sorted[i], sorted[j]), `${name}: ${sorted[i].id} and ${sorted[j].id} overlap`);
      }
    }
    for (const e of laid.edges) {
      assert.ok(e.points.length >= 2, `${e.id} has a route`);
      for (let i = 1; i < e.points.length; i++) {
        const [p, q] = [e.points[i - 1], e.points[i]];
        assert.ok(p.x === q.x || p.y === q.y, `${name}: ${e.id} segment ${i} is orthogonal`);
      }
      const to = node(laid, e.to);
      const end = e.points[e.points.length - 1];
      assert.ok(
        end.x >= to.x - 1 && end.x <= to.x + to.width + 1 && end.y >= to.y - 1 && end.y <= to.y + to.height + 1,
        `${name}: ${e.id} ends at ${e.to}`,
      );
      const from = node(laid, e.from);
      const start = e.points[0];
      const belowSource = start.y >= from.y + from.height - 1;
      const eastSide =
        Math.abs(start.x - (from.x + from.width)) <= 1 && start.y >= from.y && start.y <= from.y + from.height;
      assert.ok(belowSource || eastSide, `${name}: ${e.id} leaves ${e.from} from its bottom or its shortcut side`);
    }
    for (const n of laid.nodes) {
      for (const v of [n.x, n.y, n.width, n.height]) assert.ok(Number.isFinite(v) && v >= 0);
      assert.ok(n.x + n.width <= laid.width && n.y + n.height <= laid.height, `${n.id} inside the canvas`);
    }
  }
});

test("frames enclose their members; block frames sit inside their stage", async () => {
  const g = graphOf("resnet50");
  const laid = await layoutView(g, initialExpansion(g, "all"));
  const frames = new Map(laid.containers.map((c) => [c.id, c] as const));
  assert.equal(frames.get("layer2")?.depth, 0);
  assert.equal(frames.get("layer2.0")?.depth, 1);
  const inside = (
    n: { x: number; y: number; width: number; height: number },
    f: { x: number; y: number; width: number; height: number },
  ) => n.x >= f.x && n.y >= f.y && n.x + n.width <= f.x + f.width && n.y + n.height <= f.y + f.height;
  for (const gn of g.nodes) {
    const box = node(laid, gn.id);
    if (gn.block) assert.ok(inside(box, frames.get(gn.block)!), `${gn.id} inside ${gn.block}`);
    if (gn.stage) assert.ok(inside(box, frames.get(gn.stage)!), `${gn.id} inside ${gn.stage}`);
  }
  assert.ok(inside(frames.get("layer3.5")!, frames.get("layer3")!));
});

test("mixed expansion: a collapsed block feeding an expanded one draws the identity shortcut from the box", async () => {
  const g = graphOf("resnet18");
  const laid = await layoutView(g, { expanded: ["layer1", "layer1.1"] });
  assert.equal(node(laid, "layer1.0").group, "block");
  assert.equal(edge(laid, "layer1.0", "layer1.1.conv1").kind, "main");
  assert.equal(edge(laid, "layer1.0", "layer1.1.add").kind, "shortcut");
  assert.equal(node(laid, "layer2").label, "BasicBlock ×2");
  assert.deepEqual(edge(laid, "layer1.1.relu_out", "layer2").shape, [64, 56, 56]);
});

test("folded model: input plus one box for the whole network", async () => {
  const g = graphOf("resnet20");
  const laid = await layoutView(g, { expanded: [], modelCollapsed: true });
  assert.deepEqual(
    laid.nodes.map((n) => n.id),
    ["input", "model"],
  );
  assert.equal(node(laid, "model").params, g.totals.params);
});

test("the layout is plain JSON (structured-clone safe) and identical when recomputed", async () => {
  const g = graphOf("resnet18");
  const a = await layoutView(g, initialExpansion(g, "all"));
  const b = await layoutView(g, initialExpansion(g, "all"));
  const json = JSON.parse(JSON.stringify(a)) as unknown;
  assert.deepEqual(structuredClone(a), json);
  assert.deepEqual({ ...a, layoutMillis: 0 }, { ...b, layoutMillis: 0 });
});

test("view model: the same pair joined by both lanes becomes one main edge", () => {
  const g = graphOf("resnet18");
  const view = buildView(g, { expanded: ["layer1"] });
  const between = view.edges.filter((e) => e.from === "layer1.0" && e.to === "layer1.1");
  assert.equal(between.length, 1);
  assert.equal(between[0].kind, "main");
});

test("every shortcut kind keeps the lane straight: plain, option A, grouped, pre-activation, gated", async () => {
  const cases: [string, ModelGraph][] = [
    ["plain18", analyzeOrThrow(presets.plain18())],
    ["resnet56", analyzeOrThrow(presets.resnet56())],
    ["resnext50_32x4d", analyzeOrThrow(presets.resnext50_32x4d())],
    ["preact", analyzeOrThrow(presets.resnet20({ preActivation: true, shortcut: "B" }))],
    ["exclusive gate", analyzeOrThrow(presets.resnet20({ shortcutVariant: "exclusiveGating" }))],
    ["dropout shortcut", analyzeOrThrow(presets.resnet20({ shortcutVariant: "dropout" }))],
  ];
  for (const [name, g] of cases) {
    for (const level of ["stages", "blocks", "all"] as const) {
      const laid = await layoutView(g, initialExpansion(g, level));
      assertLane(laid, `${name}/${level}`);
      const ids = new Set(laid.nodes.map((n) => n.id));
      for (const e of laid.edges) assert.ok(ids.has(e.from) && ids.has(e.to), `${name}: ${e.id} joins visible boxes`);
      if (level === "all") assert.equal(laid.nodes.length, g.nodes.length, name);
    }
  }
  const plain = await layoutView(cases[0][1], initialExpansion(cases[0][1], "all"));
  assert.ok(
    plain.edges.every((e) => e.kind === "main"),
    "the plain twin has no shortcuts",
  );
  assert.equal(plain.nodes.filter((n) => n.kind === "add").length, 0);
  const gated = await layoutView(cases[4][1], initialExpansion(cases[4][1], "all"));
  assert.equal(node(gated, "layer1.0.gate").kind, "conv");
  assert.equal(node(gated, "layer1.0.add").label, "+ (gate)");
});

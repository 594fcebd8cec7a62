/** A wide panel: the top-level lane split into columns side by side (stages next to each other). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { analyzeOrThrow } from "../src/analysis/analyze";
import { presets } from "../src/spec/presets";
import { initialExpansion, layoutView, toggleExpansion, type LaidOutGraph } from "../src/render/index";

const r18 = analyzeOrThrow(presets.resnet18());
const r56 = analyzeOrThrow(presets.resnet56());

function overlaps(laid: LaidOutGraph): string[] {
  const out: string[] = [];
  for (let i = 0; i < laid.nodes.length; i++)
    for (let j = i + 1; j < laid.nodes.length; j++) {
      const a = laid.nodes[i],
        b = laid.nodes[j];
      if (a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height)
        out.push(`${a.id} × ${b.id}`);
    }
  return out;
}

test("columns: stages side by side, wider and shorter, nothing overlaps, every edge orthogonal and connected", async () => {
  for (const [graph, expansion] of [
    [r18, initialExpansion(r18)],
    [r56, initialExpansion(r56, "blocks")],
    [r18, initialExpansion(r18, "all")],
  ] as const) {
    const one = await layoutView(graph, expansion);
    const two = await layoutView(graph, { ...expansion, columns: 2 });
    assert.ok(two.width > one.width * 1.5, `${graph.name}: wider (${one.width} → ${two.width})`);
    assert.ok(two.height < one.height * 0.8, `${graph.name}: shorter (${one.height} → ${two.height})`);
    assert.deepEqual(overlaps(two), []);
    assert.equal(two.edges.length, one.edges.length);
    assert.equal(two.shortcuts.length, one.shortcuts.length);
    const byId = new Map(two.nodes.map((n) => [n.id, n] as const));
    for (const e of two.edges) {
      for (let i = 1; i < e.points.length; i++) {
        const p = e.points[i - 1],
          q = e.points[i];
        assert.ok(p.x === q.x || p.y === q.y, `${e.id}: orthogonal`);
      }
    }
    // The edge into the second column leaves the bottom of its box and runs up the gutter, above every box.
    const top = Math.min(...two.nodes.map((n) => n.y));
    const climbing = two.edges.filter((e) => e.kind === "main" && e.points.some((p) => p.y < top));
    assert.equal(climbing.length, 1, "one main edge continues in the next column");
    const from = byId.get(climbing[0].from)!,
      to = byId.get(climbing[0].to)!;
    assert.ok(Math.abs(climbing[0].points[0].y - (from.y + from.height)) < 0.6, "it leaves the bottom of its box");
    assert.ok(to.x > from.x + from.width, "and enters a box in the column to the right");
  }
});

test("columns survive expanding and collapsing; one column is the plain lane", async () => {
  const expansion = { ...initialExpansion(r18), columns: 3 };
  assert.equal(toggleExpansion(expansion, "layer2.0").columns, 3);
  assert.equal(toggleExpansion(expansion, "model").columns, 3);
  assert.deepEqual(
    await layoutView(r18, { ...initialExpansion(r18), columns: 1 }),
    await layoutView(r18, initialExpansion(r18)),
  );
});

/**
 * Diagram timings (layout with elkjs + pure SVG render), one JSON object per line:
 *  - edit → diagram for ResNet-50 at block level: parse the spec text, analyze, lay out, render (bar ≤ 100 ms);
 *  - ResNet-152 fully expanded, layout + render, cold (empty block-layout cache) and warm (bar ≤ 1 s, cold);
 *  - ResNet-1202 fully expanded: layout, render, SVG size, and a viewport-only render for the webview.
 * Run: node --import tsx bench/layout.bench.ts
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { analyzeOrThrow } from "../model-core/src/analysis/analyze";
import { presets } from "../model-core/src/spec/presets";
import { loadSpecText } from "../model-core/src/load";
import {
  clearLayoutCache,
  initialExpansion,
  layoutView,
  renderSvg,
  type OverlayOptions,
} from "../model-core/src/render/index";
import { repeats } from "./smoke";

const REPEATS = repeats(Number(process.env.BENCH_REPEATS ?? 7));
const OVERLAYS: OverlayOptions = { shapes: true, params: true, macs: true, receptiveField: true, gradients: false };

function emit(metric: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  const line: Record<string, unknown> = {
    bench: "layout",
    metric,
    value: Math.round(value * 10) / 10,
    unit,
    backend: "none",
    ...extra,
  };
  if (typeof extra.bar === "number") line.pass = value <= extra.bar;
  process.stdout.write(JSON.stringify(line) + "\n");
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timeIt(fn: () => unknown, repeats = REPEATS): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

async function main(): Promise<void> {
  // Warm elkjs (its first call compiles a lot of code) with a small, different network.
  const warm = analyzeOrThrow(presets.resnet20());
  await layoutView(warm, initialExpansion(warm, "all"));

  // 1. Edit in a ResNet-50 spec until the diagram updates: each run changes the class count, so nothing is reused.
  const file = join(__dirname, "../examples/resnet50.resnet.ts");
  const text = readFileSync(file, "utf8");
  let classes = 1000;
  const edit = await timeIt(async () => {
    classes += 1;
    const loaded = loadSpecText(text.replace(/classes:\s*\d+/, `classes: ${classes}`), file);
    if (!loaded.graph) throw new Error(loaded.diagnostics.map((d) => d.message).join("\n"));
    const laid = await layoutView(loaded.graph, initialExpansion(loaded.graph, "blocks"));
    renderSvg(laid, OVERLAYS);
  });
  emit("resnet50EditToDiagramBlocks", edit, "ms", {
    bar: 100,
    note: "parse + analyze + layout + render, block level, median",
  });

  // 2. ResNet-152 fully expanded.
  const r152 = analyzeOrThrow(presets.resnet152());
  const all152 = initialExpansion(r152, "all");
  const cold152 = await timeIt(async () => {
    clearLayoutCache();
    renderSvg(await layoutView(r152, all152), OVERLAYS);
  }, 3);
  emit("resnet152AllLayoutRenderCold", cold152, "ms", {
    bar: 1000,
    note: `${r152.nodes.length} nodes, empty block cache`,
  });
  const warm152 = await timeIt(async () => renderSvg(await layoutView(r152, all152), OVERLAYS));
  emit("resnet152AllLayoutRenderWarm", warm152, "ms", { note: "block layouts cached (what a toggle elsewhere costs)" });

  // 3. ResNet-1202 fully expanded.
  const r1202 = analyzeOrThrow(presets.resnet1202());
  const all1202 = initialExpansion(r1202, "all");
  clearLayoutCache();
  let t = performance.now();
  const laid = await layoutView(r1202, all1202);
  emit("resnet1202AllLayout", performance.now() - t, "ms", {
    note: `${laid.nodes.length} boxes, ${laid.width}×${laid.height} px, elk ${laid.layoutMillis} ms`,
  });
  t = performance.now();
  const svg = renderSvg(laid, OVERLAYS);
  emit("resnet1202AllRender", performance.now() - t, "ms");
  emit("resnet1202AllSvgSize", svg.length / 1024, "KiB", { note: "all overlays and tooltips" });
  const lean = renderSvg(laid, { ...OVERLAYS, params: false, macs: false, receptiveField: false }, null, {
    tooltips: false,
  });
  emit("resnet1202AllSvgSizeLean", lean.length / 1024, "KiB", { note: "shapes only, no tooltips" });
  const viewport = { x: 0, y: laid.height / 2, width: laid.width, height: 1200 };
  const vpTime = await timeIt(() => renderSvg(laid, OVERLAYS, null, { viewport }));
  const vpSvg = renderSvg(laid, OVERLAYS, null, { viewport });
  emit("resnet1202ViewportRender", vpTime, "ms", {
    note: `one 1200 px screen: ${(vpSvg.length / 1024).toFixed(0)} KiB`,
  });
  const stages = await timeIt(async () => renderSvg(await layoutView(r1202, { expanded: [] }), OVERLAYS));
  emit("resnet1202StagesLayoutRender", stages, "ms");
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

/**
 * Webview responsiveness in Chromium, one JSON object per line: ResNet-1202 fully expanded (≈ 16k boxes) is loaded,
 * panned, zoomed out to the overview and back, navigated by minimap and keys, and an overlay toggled; the longest
 * main-thread task (PerformanceObserver "longtask") must stay ≤ 200 ms. Fails (exit 1) when Chromium is missing.
 * Run: node --import tsx bench/webview.bench.ts
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { analyze } from "../model-core/src/analysis/analyze";
import { presets } from "../model-core/src/spec/presets";
import { initialExpansion, layoutView } from "../model-core/src/render/index";
import {
  CHROMIUM_PATH,
  launchWithBundle,
  longTasks,
  panDown,
  startFakeHost,
  type HostModel,
} from "../test/browser/harness";

const LONGEST_TASK_BAR_MS = 200;

function emit(metric: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  const line: Record<string, unknown> = {
    bench: "webview",
    metric,
    value: Math.round(value * 10) / 10,
    unit,
    backend: "chromium",
    ...extra,
  };
  if (typeof extra.bar === "number") line.pass = value <= extra.bar;
  process.stdout.write(JSON.stringify(line) + "\n");
}

async function main(): Promise<void> {
  if (!existsSync(CHROMIUM_PATH))
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}; the webview bench cannot run`);
  const root = join(__dirname, "..");
  const [browser, bundle] = await launchWithBundle(root);
  try {
    const graph = analyze(presets.resnet1202()).graph!;
    const expansion = initialExpansion(graph, "all");
    const t0 = performance.now();
    const laid = await layoutView(graph, expansion);
    emit("resnet1202AllHostLayout", performance.now() - t0, "ms", { boxes: laid.nodes.length });
    const host: HostModel = { title: "ResNet-1202", graph, laid, expansion, gradients: null, plainGraph: null };
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1 });
    const fake = await startFakeHost(page, bundle, host, "dark");
    try {
      await page.goto(fake.url);
      await page.waitForSelector("#layer svg g[data-node-id]");
      const viewport = (await page.locator("#viewport").boundingBox())!;
      const cx = viewport.x + viewport.width / 2,
        cy = viewport.y + viewport.height / 2;
      await panDown(page, cx, cy, 6);
      // The panel opens at 100 % at the top of the network: as many steps out as the browser test takes to the overview.
      for (let i = 0; i < 18; i++) {
        await page.mouse.move(cx, cy);
        await page.mouse.wheel(0, 240);
        await page.waitForTimeout(30);
      }
      await page.waitForSelector("#overview:not(.hidden)");
      for (let i = 0; i < 16; i++) {
        await page.mouse.wheel(0, -240);
        await page.waitForTimeout(30);
      }
      const minimap = await page.locator("#minimap").boundingBox();
      if (minimap) await page.mouse.click(minimap.x + minimap.width / 2, minimap.y + minimap.height * 0.8);
      await page.keyboard.press("ArrowDown");
      await page.keyboard.press("ArrowDown");
      await page.keyboard.press("0");
      await page.click('vscode-checkbox[data-overlay="params"]');
      await page.waitForTimeout(300);
      const result = await longTasks(page);
      if (result.unsupported !== null)
        throw new Error(`PerformanceObserver longtask unsupported: ${result.unsupported}`);
      const longest = result.tasks.reduce((m, t) => Math.max(m, t.duration), 0);
      emit("resnet1202AllLongestMainThreadTask", longest, "ms", {
        bar: LONGEST_TASK_BAR_MS,
        longTasks: result.tasks.length,
      });
    } finally {
      await page.close();
      await fake.close();
    }
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

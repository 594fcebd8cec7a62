/**
 * The built webview in headless Chromium against a fake host that uses the real analysis and layout:
 * ResNet-50 renders, stages expand and collapse, edges carry the right shapes, the gradient overlay
 * switches on, clicks post reveal messages, PNG export works; ResNet-1202 fully expanded never blocks the
 * page for more than 200 ms. Also writes the README screenshots (light and dark).
 */
import { tmpdir } from "node:os";
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { analyzeSpecText } from "../../model-core/src/specAnalysis";
import { analyze } from "../../model-core/src/analysis/analyze";
import { presets } from "../../model-core/src/spec/presets";
import { initialExpansion, layoutView } from "../../model-core/src/render/index";
import type { ModelGraph } from "../../model-core/src/analysis/graph";
import type { GradientPair, WebviewToHost } from "../../model-core/src/protocol";
import type { GradientFlowResult } from "../../model-core/src/analysis/gradflow";
import { OVERLAYS } from "../../model-core/src/presentation/overlays";
import { skipWithoutTool } from "../toolSkip";
import {
  CHROMIUM_PATH,
  browserSession,
  longTasks,
  panDown,
  startFakeHost,
  syntheticGradients,
  type FakeHost,
  type HostModel,
} from "./harness";

const root = join(__dirname, "..", "..");
const haveChromium = existsSync(CHROMIUM_PATH);
const skip = skipWithoutTool(haveChromium ? false : `Chromium not found at ${CHROMIUM_PATH} (CI installs it with apt)`);

const session = browserSession(root);

function resnet50FromSpecText(): ModelGraph {
  const text = `import { presets } from "resnet-studio";\nexport default presets.resnet50();\n`;
  const { graph, diagnostics } = analyzeSpecText(text, "resnet50.resnet.ts");
  assert.ok(graph, diagnostics.map((d) => d.message).join("\n"));
  return graph;
}

async function openPage(
  host: HostModel,
  theme: "dark" | "light" = "dark",
  size = { width: 1280, height: 860 },
): Promise<{ page: Page; fake: FakeHost }> {
  const page = await session.browser.newPage({ viewport: size, deviceScaleFactor: 1 });
  page.on("pageerror", (err) => {
    throw err;
  });
  const fake = await startFakeHost(page, session.bundle, host, theme);
  await page.goto(fake.url);
  await page.waitForSelector("#layer svg g[data-node-id]");
  return { page, fake };
}

async function edgeShape(page: Page, from: string, to: string): Promise<string | null> {
  return page.evaluate(
    ([f, t]) =>
      document.querySelector(`#layer g[data-from="${f}"][data-to="${t}"]`)?.getAttribute("data-shape") ?? null,
    [from, to],
  );
}

async function clickNode(page: Page, id: string): Promise<void> {
  const box = await page.locator(`#layer g[data-node-id="${id}"] rect`).first().boundingBox();
  assert.ok(box, `node ${id} is on screen`);
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
}

/** Poll `condition` (a message arriving, a debounce firing) for up to 10 s; fails with `what` otherwise. */
async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100 && !condition(); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(condition(), `timed out waiting for ${what}`);
}

function messagesOf<T extends WebviewToHost["type"]>(fake: FakeHost, type: T): Extract<WebviewToHost, { type: T }>[] {
  return fake.received.filter((m): m is Extract<WebviewToHost, { type: T }> => m.type === type);
}

test(
  "ResNet-50: renders, expands/collapses a stage, shapes on edges, gradient overlay, reveal, PNG export",
  { skip, timeout: 180_000 },
  async () => {
    const graph = resnet50FromSpecText();
    const plain = analyze({ ...graph.spec, residual: false }).graph;
    const expansion = initialExpansion(graph);
    const host: HostModel = {
      title: "ResNet-50",
      graph,
      laid: await layoutView(graph, expansion),
      expansion,
      gradients: null,
      plainGraph: plain,
    };
    const { page, fake } = await openPage(host);
    try {
      assert.equal(fake.received[0]?.type, "ready", "the webview starts with the ready handshake");
      // Block level: every laid-out box and frame is in the DOM (small graph, no virtualisation).
      const ids = await page.$$eval("#layer g[data-node-id]", (gs) => gs.map((g) => g.getAttribute("data-node-id")));
      assert.equal(ids.length, host.laid.nodes.length + host.laid.containers.length);
      assert.ok(ids.includes("layer2.0") && ids.includes("layer4.2"), "blocks of ResNet-50 are drawn");
      // Bottleneck shapes (He et al. 2015 Table 1): layer1 ends at 256×56×56, layer2 at 512×28×28.
      assert.equal(await edgeShape(page, "layer1.2", "layer2.0"), "256,56,56");
      assert.equal(await edgeShape(page, "layer2.3", "layer3.0"), "512,28,28");

      // The toolbar has one checkbox per overlay of the overlay list, in its order, with its label and tooltip.
      const boxes = await page.$$eval("vscode-checkbox[data-overlay]", (els) =>
        els.map((e) => [e.getAttribute("data-overlay"), e.getAttribute("label"), e.getAttribute("title")]),
      );
      assert.deepEqual(
        boxes,
        OVERLAYS.map((o) => [o.key, o.label, o.tooltip]),
      );

      // Click a block: selects it and asks the host to reveal its source (fit first: the panel opens at the top).
      await page.click('vscode-button[data-action="fit"]');
      // Selecting moves a class: the rendered SVG and the box's element stay the same.
      const svgBefore = (await page.$("#layer svg"))!;
      const boxBefore = (await page.$('#layer g[data-node-id="layer2.1"]'))!;
      await clickNode(page, "layer2.1");
      await page.waitForFunction(() =>
        (window as unknown as { __posted: { type: string }[] }).__posted.some((m) => m.type === "revealSource"),
      );
      const reveal = messagesOf(fake, "revealSource").at(-1)!;
      assert.equal(reveal.nodeId, "layer2.1");
      assert.ok(
        reveal.range && reveal.range.file === "resnet50.resnet.ts",
        "the reveal message carries the spec range",
      );
      await page.waitForSelector('#layer g[data-node-id="layer2.1"].rs-selected');
      assert.ok(await boxBefore.evaluate((g) => g.isConnected), "the selected box is the element that was clicked");
      await clickNode(page, "layer2.0");
      await page.waitForSelector('#layer g[data-node-id="layer2.0"].rs-selected');
      const selectedBoxes = await page.$$eval("#layer g.rs-selected", (gs) =>
        gs.map((g) => g.getAttribute("data-node-id")),
      );
      assert.deepEqual(selectedBoxes, ["layer2.0"], "the old selection lost its class");
      await clickNode(page, "layer2.1");
      await page.waitForSelector('#layer g[data-node-id="layer2.1"].rs-selected');
      assert.ok(
        await boxBefore.evaluate((g) => g.isConnected && g.classList.contains("rs-selected")),
        "the same box element is selected again",
      );
      assert.ok(await svgBefore.evaluate((svg) => svg.isConnected), "selecting did not render the SVG again");

      // Escape collapses the enclosing stage: layer2 becomes one box "Bottleneck ×4" with the shape change at its edges.
      await page.keyboard.press("Escape");
      await page.waitForSelector('#layer g[data-node-id="layer2"][data-expanded="false"]');
      assert.equal(await page.$('#layer g[data-node-id="layer2.1"]'), null, "collapsed stage hides its blocks");
      assert.equal(await edgeShape(page, "layer1.2", "layer2"), "256,56,56");
      assert.equal(await edgeShape(page, "layer2", "layer3.0"), "512,28,28");
      const label = await page.textContent('#layer g[data-node-id="layer2"]');
      assert.match(label ?? "", /×4/);
      const layoutRequests = messagesOf(fake, "request").filter((m) => m.body.kind === "layout");
      assert.equal(layoutRequests.length, 1);

      // A double-click expands it again (the page pairs the clicks by node id).
      await page.dblclick('#layer g[data-node-id="layer2"] rect');
      await page.waitForSelector('#layer g[data-node-id="layer2.1"]');
      // Escape collapses it, Enter expands it.
      await page.keyboard.press("Escape");
      await page.waitForSelector('#layer g[data-node-id="layer2"][data-expanded="false"]');
      await page.keyboard.press("Enter");
      await page.waitForSelector('#layer g[data-node-id="layer2.1"]');
      assert.equal(await edgeShape(page, "layer1.2", "layer2.0"), "256,56,56");

      // Arrow keys move the selection.
      await page.keyboard.press("ArrowDown");
      const selectedAfterArrow = await page.evaluate(
        () => (window as unknown as { __savedState: { selected: string | null } }).__savedState.selected,
      );
      assert.ok(
        selectedAfterArrow && selectedAfterArrow !== "layer2",
        `arrow moved the selection (now ${selectedAfterArrow})`,
      );

      // Gradient overlay: no gradients yet, so toggling it asks the host for a pass and colours the diagram.
      assert.equal(await page.$("#layer .rs-split"), null);
      await page.click('vscode-checkbox[data-overlay="gradients"]');
      await page.waitForSelector("#layer .rs-split");
      assert.ok(messagesOf(fake, "request").some((m) => m.body.kind === "gradientFlow"));
      const svgText = await page.textContent("#layer svg");
      assert.match(svgText ?? "", /∇/, "nodes show their gradient norm");

      // Memory overlay: each box shows the bytes it keeps for the backward pass; off again, they go.
      await page.click('vscode-checkbox[data-overlay="memory"]');
      await page.waitForFunction(() =>
        /\d (B|KiB|MiB|GiB) saved/.test(document.querySelector("#layer svg")?.textContent ?? ""),
      );
      await page.click('vscode-checkbox[data-overlay="memory"]');
      await page.waitForFunction(() => !/ saved/.test(document.querySelector("#layer svg")?.textContent ?? ""));

      // Hover shows a tooltip with the node's details, including gradient statistics.
      const box = await page.locator(`#layer g[data-node-id="${selectedAfterArrow}"] rect`).first().boundingBox();
      assert.ok(box);
      // Fit shows all of ResNet-50 expanded, so boxes are small: hover the middle.
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await page.waitForSelector(".tooltip.visible");
      const tip = await page.textContent(".tooltip");
      assert.match(tip ?? "", /params/);
      assert.match(tip ?? "", /‖dL\/dout‖₂/);

      // The plain-vs-residual chart draws both series on one pair of axes.
      await page.click('.tabs button[data-tab="gradients"]');
      await page.waitForFunction(() => {
        const c = document.querySelector<HTMLCanvasElement>('canvas[data-chart="blocks"]');
        return !!c && c.width > 0 && c.height > 0 && c.getAttribute("data-series") === "2";
      });
      const caption = await page.textContent(".pane.active .chart-caption");
      assert.match(caption ?? "", /plain twin/);
      await page.click('.tabs button[data-tab="diagram"]');

      // PNG export: the webview rasterises the standalone SVG and posts it to the host.
      await page.click('vscode-button[data-action="exportPng"]');
      await page.waitForFunction(() =>
        (window as unknown as { __posted: { type: string; body?: { kind: string } }[] }).__posted.some(
          (m) => m.type === "request" && m.body?.kind === "savePng",
        ),
      );
      const png = messagesOf(fake, "request").find((m) => m.body.kind === "savePng")!.body;
      assert.ok(png.kind === "savePng" && png.base64.startsWith("iVBORw0KGgo"), "a PNG payload");

      // Live training view: events from the host become curves and a per-epoch gradient snapshot.
      await page.click('.tabs button[data-tab="training"]');
      const epochMetrics = {
        epochs: 2,
        loss: 0.9,
        accuracy: 0.7,
        valLoss: 0.8,
        valAccuracy: 0.75,
        lr: 0.003,
        imagesPerSecond: 500,
        seconds: 2,
        trainSamples: 900,
        valSamples: 100,
      };
      await fake.send(page, {
        type: "training",
        event: { kind: "started", model: "ResNet-50", dataset: "mnist", backend: "wasm", epochs: 2, batch: 64 },
      });
      await fake.send(page, {
        type: "training",
        event: {
          kind: "step",
          point: {
            epoch: 0,
            step: 4,
            stepsPerEpoch: 10,
            globalStep: 5,
            loss: 1.1,
            accuracy: 0.6,
            lr: 0.003,
            imagesPerSecond: 480,
            epochSeconds: 1,
          },
        },
      });
      assert.match(
        (await page.textContent(".pane.active .metrics")) ?? "",
        /epoch 1\/2 · step 5\/10 · 480 img\/s · ETA 3\.0 s/,
      );
      // The loss and accuracy curves start at the first logged step, before any epoch has ended.
      assert.equal(await page.getAttribute('canvas[data-chart="loss"]', "data-points"), "1");
      await fake.send(page, {
        type: "training",
        event: { kind: "epoch", point: { epoch: 0, ...epochMetrics }, gradients: syntheticGradients(graph) },
      });
      await fake.send(page, {
        type: "training",
        event: {
          kind: "epoch",
          point: { epoch: 1, ...epochMetrics, valAccuracy: 0.9 },
          gradients: syntheticGradients(graph),
        },
      });
      await fake.send(page, { type: "training", event: { kind: "finished", cancelled: false, millis: 4000 } });
      const metricsText = await page.textContent(".pane.active .metrics");
      assert.match(metricsText ?? "", /val accuracy 90\.00%/);
      assert.match((await page.textContent(".pane.active .chart-caption")) ?? "", /· finished in 4\.0 s$/);
      assert.doesNotMatch(metricsText ?? "", /validating|ETA/);
      const charts = await page.evaluate(() =>
        ["loss", "accuracy", "epoch-gradients"].map(
          (k) => document.querySelector<HTMLCanvasElement>(`canvas[data-chart="${k}"]`)?.width ?? 0,
        ),
      );
      assert.ok(
        charts.every((w) => w > 0),
        `training charts drawn: ${charts.join(",")}`,
      );
      await page.click('.tabs button[data-tab="diagram"]');

      // Diagnostics from the host: shown located, while the last valid diagram stays.
      const range = {
        file: "resnet50.resnet.ts",
        startOffset: 40,
        endOffset: 50,
        line: 2,
        column: 16,
        endLine: 2,
        endColumn: 26,
      };
      await fake.send(page, {
        type: "diagnostics",
        diagnostics: [
          { severity: "error", code: "invalid-number", message: "channels must be a positive integer", range },
        ],
      });
      await page.waitForSelector(".problems.visible");
      assert.match(
        (await page.textContent(".problems")) ?? "",
        /resnet50\.resnet\.ts:2:16: error: channels must be a positive integer/,
      );
      assert.ok(await page.$("#layer svg g[data-node-id]"), "the diagram stays");
      await fake.send(page, { type: "diagnostics", diagnostics: [] });
      await page.waitForSelector(".problems:not(.visible)", { state: "attached" });

      // SVG export asks the host for the standalone SVG of the current expansion and overlays.
      await page.click('vscode-button[data-action="exportSvg"]');
      await page.waitForFunction(() =>
        (window as unknown as { __posted: { type: string; body?: { kind: string } }[] }).__posted.some(
          (m) => m.type === "request" && m.body?.kind === "saveSvg",
        ),
      );
      const svgRequest = messagesOf(fake, "request").find((m) => m.body.kind === "saveSvg")!.body;
      assert.ok(
        svgRequest.kind === "saveSvg" && svgRequest.overlays.gradients && svgRequest.suggestedName.endsWith(".svg"),
      );

      // Search: typing marks the hits, Enter selects the first one.
      await page.click('vscode-textfield[data-role="search"]');
      await page.keyboard.type("layer4");
      await page.waitForSelector("#layer g.search-hit");
      await page.keyboard.press("Enter");
      await page.waitForFunction(
        () =>
          (window as unknown as { __savedState: { selected: string | null } }).__savedState.selected?.startsWith(
            "layer4",
          ) ?? false,
      );

      // View state persisted for the serializer.
      const saved = await page.evaluate(
        () => (window as unknown as { __savedState: { overlays: { gradients: boolean }; zoom: number } }).__savedState,
      );
      assert.equal(saved.overlays.gradients, true);
      assert.ok(saved.zoom > 0);
    } finally {
      await page.close();
      await fake.close();
    }
  },
);

/** One real forward/backward pass (the TF.js runtime, wasm backend) of a network and its plain twin. */
async function realGradients(graph: ModelGraph, plain: ModelGraph): Promise<GradientPair> {
  const tf = await import("@tensorflow/tfjs-core");
  const { initBackend, buildModel, gradientFlow } = await import("../../model-core/src/runtime/index");
  await initBackend("wasm");
  const run = async (g: ModelGraph): Promise<GradientFlowResult> => {
    const [c, h, w] = g.input;
    const x = tf.randomNormal<import("@tensorflow/tfjs-core").Rank.R4>([8, h, w, c], 0, 1, "float32", 1);
    const model = buildModel(g, { seed: 1 });
    try {
      return await gradientFlow(model, { x, labels: [0, 1, 2, 3, 4, 5, 6, 7] });
    } finally {
      x.dispose();
      model.dispose();
    }
  };
  return { residual: await run(graph), plain: await run(plain) };
}

test(
  "screenshots for the README (light and dark), with a real gradient-flow pass of CIFAR ResNet-20",
  { skip, timeout: 180_000 },
  async () => {
    // `npm run screenshots` points this at docs/screenshots; a plain test run must not rewrite tracked files.
    const outDir = process.env.RESNET_STUDIO_SCREENSHOTS ?? join(tmpdir(), "resnet-studio-screenshots");
    mkdirSync(outDir, { recursive: true });
    const graph = analyze(presets.resnet20()).graph!;
    const plain = analyze({ ...graph.spec, residual: false }).graph!;
    const gradients = await realGradients(graph, plain);
    const expansion = initialExpansion(graph, "blocks");
    for (const theme of ["light", "dark"] as const) {
      const host: HostModel = {
        title: "CIFAR ResNet-20",
        graph,
        laid: await layoutView(graph, expansion),
        expansion,
        gradients: null,
        plainGraph: plain,
        gradientPair: gradients,
      };
      const { page, fake } = await openPage(host, theme, { width: 1100, height: 900 });
      try {
        await page.click('vscode-checkbox[data-overlay="gradients"]');
        await page.waitForSelector("#layer .rs-split");
        await page.screenshot({ path: join(outDir, `diagram-${theme}.png`) });
        await page.click('.tabs button[data-tab="gradients"]');
        await page.waitForSelector('canvas[data-chart="blocks"][data-series]');
        await page.waitForTimeout(100);
        await page.screenshot({ path: join(outDir, `gradients-${theme}.png`) });
      } finally {
        await page.close();
        await fake.close();
      }
    }
    assert.ok(existsSync(join(outDir, "diagram-light.png")) && existsSync(join(outDir, "diagram-dark.png")));
  },
);

// The main-thread task bar (≤ 200 ms) is measured by bench/webview.bench.ts, not asserted here: a clock in a test flakes under load.
test(
  "ResNet-1202 fully expanded: only the visible part in the DOM while loading, panning, zooming and navigating; the view state persists",
  { skip, timeout: 240_000 },
  async () => {
    const graph = analyze(presets.resnet1202()).graph!;
    const expansion = initialExpansion(graph, "all");
    const t0 = Date.now();
    const laid = await layoutView(graph, expansion);
    const layoutMillis = Date.now() - t0;
    const host: HostModel = { title: "ResNet-1202", graph, laid, expansion, gradients: null, plainGraph: null };
    const { page, fake } = await openPage(host);
    try {
      const inDom = await page.$$eval("#layer g[data-node-id]", (gs) => gs.length);
      assert.ok(
        inDom > 0 && inDom < laid.nodes.length / 4,
        `only the visible part is in the DOM (${inDom} of ${laid.nodes.length + laid.containers.length} boxes)`,
      );
      const viewport = await page.locator("#viewport").boundingBox();
      assert.ok(viewport);
      const cx = viewport.x + viewport.width / 2,
        cy = viewport.y + viewport.height / 2;
      // Pan down a long way (each drag re-renders the newly visible part), zoom out and in, jump via the minimap.
      await panDown(page, cx, cy, 6);
      // The panel opens at 100 % at the top of the network; zoom out until hundreds of boxes are on screen.
      for (let i = 0; i < 18; i++) {
        await page.mouse.move(cx, cy);
        await page.mouse.wheel(0, 240);
        await page.waitForTimeout(30);
      }
      await page.waitForSelector("#overview:not(.hidden)");
      assert.equal(
        await page.$$eval("#layer g[data-node-id]", (gs) => gs.length),
        0,
        "zoomed far out, the canvas overview replaces the SVG",
      );
      for (let i = 0; i < 16; i++) {
        await page.mouse.wheel(0, -240);
        await page.waitForTimeout(30);
      }
      const minimap = await page.locator("#minimap").boundingBox();
      assert.ok(minimap, "a minimap is shown for a graph this tall");
      await page.mouse.click(minimap.x + minimap.width / 2, minimap.y + minimap.height * 0.8);
      await page.keyboard.press("ArrowDown");
      await page.keyboard.press("ArrowDown");
      await page.keyboard.press("0");
      // Overlay toggles re-render.
      await page.click('vscode-checkbox[data-overlay="params"]');
      await page.waitForTimeout(300);
      const result = await longTasks(page);
      assert.equal(result.unsupported, null, "PerformanceObserver longtask is supported");
      const longest = Math.max(0, ...result.tasks.map((t) => t.duration));
      const marks = await page.evaluate(() => (window as unknown as { __marks?: unknown }).__marks ?? null);
      console.log(JSON.stringify(result.tasks), JSON.stringify(marks));
      console.log(
        `# ResNet-1202 all: ${laid.nodes.length} boxes, host layout ${layoutMillis} ms, page long tasks: ${result.tasks.length}, longest ${Math.round(longest)} ms`,
      );
      // The params overlay toggled above reaches the host as a persisted view state (debounced by the page).
      await waitFor(
        () => messagesOf(fake, "viewState").some((m) => m.view.overlays.params),
        "a viewState with the params overlay on",
      );
      const last = messagesOf(fake, "viewState").at(-1)!;
      assert.equal(last.view.overlays.params, true);
      assert.ok(Number.isFinite(last.view.zoom) && last.view.zoom > 0, `zoom ${last.view.zoom}`);
    } finally {
      await page.close();
      await fake.close();
    }
  },
);

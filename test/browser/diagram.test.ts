/**
 * The diagram reads like the paper, in headless Chromium against the fake host: folded blocks show their shortcut
 * arcs (dashed for projections), a new panel opens readable at the top of the network, the gradient split of a
 * real ResNet-56 pass is measured at each block's input, and a changed network drops its stale overlay.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { analyze } from "../../model-core/src/analysis/analyze";
import { presets } from "../../model-core/src/spec/presets";
import { networkId } from "../../model-core/src/spec/identity";
import { initialExpansion, layoutView, type ExpansionState } from "../../model-core/src/render/index";
import type { ModelGraph } from "../../model-core/src/analysis/graph";
import type { GradientFlowResult } from "../../model-core/src/analysis/gradflow";
import type { GradientPair } from "../../model-core/src/protocol";
import {
  CHROMIUM_PATH,
  browserSession,
  startFakeHost,
  syntheticGradients,
  type FakeHost,
  type HostModel,
} from "./harness";

const root = join(__dirname, "..", "..");
const haveChromium = existsSync(CHROMIUM_PATH);
if (!haveChromium && process.env.CI === "true")
  throw new Error(`Chromium not found at ${CHROMIUM_PATH}; CI must install it`);
const skip = haveChromium ? false : `Chromium not found at ${CHROMIUM_PATH} (CI installs it with apt)`;

const session = browserSession(root);

async function open(
  graph: ModelGraph,
  expansion: ExpansionState,
  extra: Partial<HostModel> = {},
): Promise<{ page: Page; fake: FakeHost; host: HostModel }> {
  const host: HostModel = {
    title: graph.name,
    graph,
    laid: await layoutView(graph, expansion),
    expansion,
    gradients: null,
    plainGraph: null,
    ...extra,
  };
  const page = await session.browser.newPage({ viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1 });
  page.on("pageerror", (err) => {
    throw err;
  });
  const fake = await startFakeHost(page, session.bundle, host);
  await page.goto(fake.url);
  await page.waitForSelector("#layer svg g[data-node-id]");
  return { page, fake, host };
}

async function close(page: Page, fake: FakeHost): Promise<void> {
  await page.close();
  await fake.close();
}

test(
  "folded ResNet-18 shows 8 shortcut arcs, the 3 projections dashed; plain-18 none; it opens readable at the top",
  { skip, timeout: 120_000 },
  async () => {
    const r18 = analyze(presets.resnet18()).graph!;
    const { page, fake } = await open(r18, initialExpansion(r18));
    try {
      const arcs = await page.$$eval("#layer .rs-shortcut", (els) =>
        els.map((e) => ({
          projection: e.classList.contains("rs-projection"),
          dash: getComputedStyle(e.querySelector("path")!).strokeDasharray,
        })),
      );
      assert.equal(arcs.length, 8);
      assert.equal(arcs.filter((a) => a.projection).length, 3);
      for (const a of arcs)
        assert.equal(a.dash !== "none", a.projection, `projections dashed, identities solid (${a.dash})`);

      // Readable at first sight: the smallest body text is at least 11 CSS px, and the network's input is on screen.
      const view = await page.evaluate(() => {
        const m = new DOMMatrix(getComputedStyle(document.getElementById("layer")!).transform);
        const sizes = Array.from(document.querySelectorAll("#layer .rs-label, #layer .rs-sub, #layer .rs-meta")).map(
          (t) => parseFloat(getComputedStyle(t).fontSize),
        );
        const input = document.querySelector('#layer g[data-node-id="input"]')!.getBoundingClientRect();
        const pane = document.getElementById("viewport")!.getBoundingClientRect();
        return { scale: m.a, smallest: Math.min(...sizes), inputTop: input.top - pane.top, paneHeight: pane.height };
      });
      assert.ok(view.smallest * view.scale >= 11, `smallest body text ${view.smallest} px × zoom ${view.scale}`);
      assert.ok(
        view.inputTop >= 0 && view.inputTop < view.paneHeight / 2,
        `the input sits at the top (${view.inputTop} px)`,
      );

      // Columns: stages side by side use the panel's width; toggling again returns to one lane.
      const tall = await page.$eval("#layer svg", (svg) => ({
        w: Number(svg.getAttribute("width")),
        h: Number(svg.getAttribute("height")),
      }));
      await page.click('vscode-button[data-action="columns"]');
      await page.waitForFunction(
        (w) => Number(document.querySelector("#layer svg")!.getAttribute("width")) > w * 1.5,
        tall.w,
      );
      const wide = await page.$eval("#layer svg", (svg) => ({
        w: Number(svg.getAttribute("width")),
        h: Number(svg.getAttribute("height")),
      }));
      assert.ok(wide.h < tall.h * 0.8, `shorter: ${tall.h} → ${wide.h}`);
      assert.equal(await page.$$eval("#layer .rs-shortcut", (els) => els.length), 8, "the same 8 shortcuts");
      await page.screenshot({ path: join(tmpdir(), "resnet-studio-columns.png") });
      await page.click('vscode-button[data-action="columns"]');
      await page.waitForFunction(
        (w) => Number(document.querySelector("#layer svg")!.getAttribute("width")) === w,
        tall.w,
      );

      // Fit is still an action: it shows the whole network (smaller).
      await page.click('vscode-button[data-action="fit"]');
      await page.waitForFunction(
        (before) => new DOMMatrix(getComputedStyle(document.getElementById("layer")!).transform).a < before,
        view.scale,
      );
    } finally {
      await close(page, fake);
    }

    const plain = analyze(presets.plain18()).graph!;
    const p = await open(plain, initialExpansion(plain));
    try {
      assert.equal(await p.page.$$eval("#layer .rs-shortcut", (els) => els.length), 0);
    } finally {
      await close(p.page, p.fake);
    }
  },
);

async function realPass(graph: ModelGraph): Promise<GradientFlowResult> {
  const tf = await import("@tensorflow/tfjs-core");
  const { initBackend, buildModel, gradientFlow } = await import("../../model-core/src/runtime/index");
  await initBackend("wasm");
  const [c, h, w] = graph.input;
  const x = tf.randomNormal<import("@tensorflow/tfjs-core").Rank.R4>([8, h, w, c], 0, 1, "float32", 1);
  const model = buildModel(graph, { seed: 1 });
  try {
    return await gradientFlow(model, { x, labels: [0, 1, 2, 3, 4, 5, 6, 7] });
  } finally {
    x.dispose();
    model.dispose();
  }
}

test(
  "ResNet-56 (real pass): the split at each block's input is identity / (identity + residualAtInput), not ½; one chart for the four curves; new channels clear the overlay",
  { skip, timeout: 240_000 },
  async () => {
    const r56 = analyze(presets.resnet56()).graph!;
    const plain56 = analyze(presets.plain56()).graph!;
    const pair: GradientPair = { residual: await realPass(r56), plain: await realPass(plain56) };
    const { page, fake } = await open(r56, initialExpansion(r56, "blocks"), {
      gradientPair: pair,
      plainGraph: plain56,
    });
    try {
      await page.click('vscode-checkbox[data-overlay="gradients"]');
      await page.waitForSelector("#layer [data-shortcut-share]");
      const shown = await page.$$eval("#layer [data-shortcut-share]", (els) =>
        els.map((e) => ({
          block: e.closest("[data-node-id]")!.getAttribute("data-node-id")!,
          share: Number(e.getAttribute("data-shortcut-share")),
        })),
      );
      assert.equal(shown.length, 27, "one split per block (3 stages × 9)");
      for (const { block, share } of shown) {
        const add = pair.residual.adds.find((a) => a.block === block)!;
        assert.ok(add.residualAtInput !== undefined);
        const expected = add.identity / (add.identity + add.residualAtInput);
        assert.ok(Math.abs(share - expected) < 1e-12, `${block}: ${share} vs ${expected}`);
      }
      assert.ok(
        shown.some(({ share }) => Math.abs(share - 0.5) > 0.01),
        `not all ½: ${shown.map((s) => s.share.toFixed(3)).join(" ")}`,
      );
      // The viridis key with its values stays on screen.
      const ticks = await page.$$eval('[data-role="legend"] .rs-legend-tick', (els) =>
        els.map((e) => Number(e.getAttribute("data-value"))),
      );
      assert.equal(ticks.length, 5);
      for (let i = 1; i < ticks.length; i++) assert.ok(ticks[i] > ticks[i - 1], "values rise along the ramp");
      // The details pane says the same.
      const box = await page.locator('#layer g[data-node-id="layer1.1"] rect').first().boundingBox();
      assert.ok(box, "layer1.1 is on screen");
      await page.mouse.move(box.x + 20, box.y + 20);
      await page.waitForSelector(".tooltip.visible");
      const share = shown.find((s) => s.block === "layer1.1")!.share;
      assert.ok(
        ((await page.textContent(".tooltip")) ?? "").includes(`shortcut share at input${Math.round(share * 100)}%`),
      );

      // One log chart: residual and plain twin over block index; the toggle adds the pair without BN (4 curves).
      await page.click('.tabs button[data-tab="gradients"]');
      await page.waitForSelector('canvas[data-chart="blocks"][data-series="2"]');
      assert.match(
        (await page.getAttribute('canvas[data-chart="blocks"]', "data-y-axis")) ?? "",
        /^‖dL\/dx‖ at block input \(= ‖∂L\/∂out‖ of the layer before, as in the diagram\)$/,
        "the chart says how its number relates to the diagram's",
      );
      assert.equal(
        await page.$$eval("canvas", (cs) => cs.filter((c) => c.closest(".pane.active")).length),
        1,
        "one chart, one pair of axes",
      );
      await page.check('input[data-toggle="without-bn"]');
      await page.waitForSelector('canvas[data-chart="blocks"][data-series="4"]');
      assert.ok(
        fake.received.some((m) => m.type === "request" && m.body.kind === "gradientFlow" && m.body.withoutBn === true),
      );
      await page.click('.tabs button[data-tab="diagram"]');

      // Same name, same node count, other channels: another network, so the overlay's numbers are stale.
      const wider = analyze({
        ...r56.spec,
        stages: r56.spec.stages.map((s, i) => (i === 2 ? { ...s, channels: 128 } : s)),
      }).graph!;
      assert.equal(wider.nodes.length, r56.nodes.length);
      await fake.send(page, { type: "graph", graph: wider, title: wider.name, documentUri: null });
      await page.waitForFunction(() => document.querySelectorAll("#layer [data-shortcut-share]").length === 0);
      assert.ok(await page.$('#layer g[data-node-id="layer3.0"]'), "the diagram still shows");
    } finally {
      await close(page, fake);
    }
  },
);

test("the depth × epoch gradient heatmap grows as training snapshots arrive", { skip, timeout: 120_000 }, async () => {
  const r18 = analyze(presets.resnet18()).graph!;
  const { page, fake } = await open(r18, initialExpansion(r18));
  try {
    await page.click('.tabs button[data-tab="training"]');
    const metrics = {
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
      event: { kind: "started", model: "ResNet-18", dataset: "mnist", backend: "wasm", epochs: 3, batch: 64 },
    });
    for (let epoch = 0; epoch < 3; epoch++) {
      await fake.send(page, {
        type: "training",
        event: { kind: "epoch", point: { epoch, epochs: 3, ...metrics }, gradients: syntheticGradients(r18) },
      });
      await page.waitForSelector(`[data-chart="gradient-heatmap"] svg[data-steps="${epoch + 1}"]`);
      const cells = await page.$$eval('[data-chart="gradient-heatmap"] .rs-heat-cell', (els) => els.length);
      assert.equal(cells, 8 * (epoch + 1), `8 blocks × ${epoch + 1} snapshots`);
    }

    // Find Learning Rate's result: loss against rate on a log axis, with the suggested rate.
    const points = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1].map((lr, i) => ({
      lr,
      loss: [2.3, 2.28, 2, 1.1, 0.9, 4][i],
      smoothed: [2.3, 2.29, 2.1, 1.4, 1.1, 2.5][i],
    }));
    await fake.send(page, {
      type: "lrRange",
      result: { model: "ResNet-18", points, suggested: 1e-2, diverged: true },
      network: networkId(r18.spec),
    });
    await page.waitForSelector('canvas[data-chart="lr-range"][data-points="6"]');
    assert.equal(await page.getAttribute('canvas[data-chart="lr-range"]', "data-suggested"), "0.01");
    assert.match((await page.textContent(".pane.active")) ?? "", /suggested rate 0\.01/);
  } finally {
    await close(page, fake);
  }
});

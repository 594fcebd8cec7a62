/**
 * End-to-end "Train Small Model on…" inside code-server, with an ImageFolder generated here (three classes of PNG
 * files, 16 each): the dataset pick offers a folder, the folder is chosen in VS Code's file dialog, the training view
 * shows the data's preview (a row per class with its name, its image count and sample images whose pixels arrived)
 * before the epoch ends, and the epoch finishes with a validation accuracy. Settings keep the run short (1 epoch,
 * batch 16) and the budget wide, so the open spec (examples/small.resnet.ts, adapted to the folder's 32×32 RGB images
 * and 3 classes) trains without a second question.
 * Skips when code-server or Chromium is missing, except under CI=true, where that fails.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { writeTree, type ImageSpec } from "../../model-core/test/datasetFixtures";
import {
  CHROMIUM_ARGS,
  CHROMIUM_PATH,
  ROOT,
  STEP_MS,
  ensureBuiltinTypeScript,
  findFrameWith,
  manifest,
  openFile,
  prepareCodeServer,
  runCommandIntoPick,
  skipReason,
  startCodeServer,
  stopCodeServer,
  endSession,
} from "./harness";

/** Calibration of the backend (three probe networks) on a loaded 2-core machine, then decoding 48 PNG files. */
const PREVIEW_MS = 240_000;
/** Three steps of the bundled example at 32×32, then validation on 5 images and a gradient snapshot. */
const EPOCH_MS = 240_000;
const CLASSES = ["cat", "dog", "fox"];
const PER_CLASS = 16;
const FAILURE_SCREENSHOT = join(tmpdir(), "resnet-studio-e2e-train-imagefolder-failure.png");

const missing = skipReason();
const skip = process.env.CI === "true" ? false : missing;
let browser: Browser | null = null;
let tempDir: string | null = null;

after(() => endSession(browser, tempDir));

test(
  "Train Small Model on an ImageFolder picked in the file dialog: the preview grid, then a finished epoch",
  { skip, timeout: 720_000 },
  async () => {
    assert.equal(missing, false, `the code-server e2e cannot run: ${missing}`);
    prepareCodeServer();
    assert.ok(existsSync(join(ROOT, manifest.main)), `${manifest.main} is missing: run \`npm run build\` first`);
    tempDir = mkdtempSync(join(tmpdir(), "resnet-studio-e2e-imagefolder-"));
    const extensionsDir = join(tempDir, "extensions");
    const workspace = join(tempDir, "workspace");
    const dataDir = join(workspace, "pets");
    mkdirSync(extensionsDir, { recursive: true });
    mkdirSync(join(workspace, ".vscode"), { recursive: true });
    symlinkSync(ROOT, join(extensionsDir, `${manifest.publisher}.${manifest.name}-${manifest.version}`), "dir");
    ensureBuiltinTypeScript();
    copyFileSync(join(ROOT, "examples", "small.resnet.ts"), join(workspace, "small.resnet.ts"));
    // Class folders of RGB PNGs at two sizes (resized and centre-cropped to the network's 32×32 input).
    const files: Record<string, ImageSpec> = {};
    CLASSES.forEach((name, label) => {
      for (let i = 0; i < PER_CLASS; i++)
        files[`${name}/${String(i).padStart(2, "0")}.png`] = {
          format: "png",
          width: i % 2 ? 40 : 36,
          height: 30,
          seed: label * 50 + i,
        };
    });
    writeTree(dataDir, files);
    writeFileSync(
      join(workspace, ".vscode", "settings.json"),
      JSON.stringify({
        "resnetStudio.trainEpochs": 1,
        "resnetStudio.trainBatchSize": 16,
        "resnetStudio.trainEpochSeconds": 600,
      }),
    );

    const server = await startCodeServer(tempDir, extensionsDir, workspace);
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
    try {
      await page.goto(`${server.url}/?folder=${encodeURIComponent(workspace)}`);
      await page.locator(".monaco-workbench").waitFor({ state: "visible", timeout: STEP_MS });
      await openFile(page, "small.resnet.ts");
      // The dataset pick: embedded digits, a folder, (no recent datasets yet).
      await runCommandIntoPick(page, "ResNet Studio: Train Small Model on…", "Now: mnist");
      await page.locator(".quick-input-widget .monaco-list-row", { hasText: "Folder…" }).first().click();

      // VS Code's file dialog (the quick-input one, in a browser): type the folder with a trailing separator, which
      // lists its class folders with none selected, then accept the folder itself.
      const input = page.locator(".quick-input-widget input");
      await page.waitForFunction(
        () =>
          /Train on a folder/.test(document.querySelector(".quick-input-widget .quick-input-title")?.textContent ?? ""),
        undefined,
        { timeout: STEP_MS },
      );
      await page
        .locator(".quick-input-widget .monaco-list-row")
        .first()
        .waitFor({ state: "visible", timeout: STEP_MS });
      await input.fill(`${dataDir}/`);
      await page
        .locator(".quick-input-widget .monaco-list-row", { hasText: "cat" })
        .first()
        .waitFor({ state: "visible", timeout: STEP_MS });
      await page.keyboard.press("Enter");
      await page.locator(".quick-input-widget").waitFor({ state: "hidden", timeout: STEP_MS });

      // The training view: the preview first, then the epoch.
      const view = await findFrameWith(page, ".metrics", PREVIEW_MS);
      const preview = view.locator('[data-preview="dataset"]');
      const metrics = view.locator(".metrics");
      const deadline = Date.now() + PREVIEW_MS + EPOCH_MS;
      let previewBeforeEpoch = false;
      let text = "";
      for (;;) {
        text = (await metrics.textContent().catch(() => "")) ?? "";
        const epochDone = /last epoch: val accuracy/.test(text);
        if (!previewBeforeEpoch && !epochDone && (await preview.locator(".preview-row").count()) > 0)
          previewBeforeEpoch = true;
        if (epochDone) break;
        const caption = (await view.locator('[data-pane="training"] p.chart-caption').first().textContent()) ?? "";
        assert.ok(!/failed/.test(caption), `training failed: ${caption}`);
        assert.ok(Date.now() < deadline, `no finished epoch in time; the view shows:\n${caption}\n${text}`);
        await page.waitForTimeout(100);
      }
      assert.ok(previewBeforeEpoch, "the preview grid did not show before the epoch ended");
      assert.match(text, /last epoch: val accuracy \d+\.\d+%/);

      // One row per class: its name, all 16 images counted, 4 samples drawn with real pixels.
      const rows = await preview
        .locator(".preview-row")
        .evaluateAll((elements) =>
          elements.map((e) => [e.getAttribute("data-class"), e.getAttribute("data-count"), e.textContent]),
        );
      assert.deepEqual(
        rows.map(([name, count]) => [name, count]),
        CLASSES.map((name) => [name, String(PER_CLASS)]),
      );
      for (const [name, , rowText] of rows) assert.match(rowText ?? "", new RegExp(`${name}\\s*16`));
      const caption = (await preview.locator("p").first().textContent()) ?? "";
      assert.match(caption, /48 images in 3 classes, 32×32×3/);
      assert.match(
        (await preview.textContent()) ?? "",
        /decoded the images into|read the decoded images from/,
        "the loading's note (where the decoded cache is) shows with the preview",
      );
      const samples = await preview.locator("canvas[data-label]").evaluateAll((canvases) =>
        (canvases as HTMLCanvasElement[]).map((c) => {
          const data = c.getContext("2d")?.getImageData(0, 0, c.width, c.height).data ?? new Uint8ClampedArray();
          let sum = 0;
          for (let i = 0; i < data.length; i += 4) sum += data[i] + data[i + 1] + data[i + 2];
          return { label: c.getAttribute("data-label"), size: `${c.width}×${c.height}`, sum };
        }),
      );
      assert.equal(samples.length, CLASSES.length * 4, JSON.stringify(samples));
      for (const name of CLASSES) assert.equal(samples.filter((s) => s.label === name).length, 4);
      assert.ok(
        samples.every((s) => s.size === "32×32" && s.sum > 0),
        `every sample is drawn with its pixels: ${JSON.stringify(samples)}`,
      );

      // The pick became the setting, for the next run and the experiment.
      const settings = JSON.parse(
        readFileSync(join(tempDir, "user-data", "User", "settings.json"), "utf8").trim() || "{}",
      ) as Record<string, unknown>;
      assert.equal(settings["resnetStudio.dataset"], `imagefolder:${dataDir}`);
      if (process.env.RESNET_STUDIO_E2E_VERBOSE === "1") console.log(`${caption}\n${text}`);
    } catch (err) {
      await page.screenshot({ path: FAILURE_SCREENSHOT }).catch(() => undefined);
      const message = err instanceof Error ? err.message : String(err);
      throw new Error(
        `${message}\n(screenshot of the failure: ${FAILURE_SCREENSHOT})\n--- code-server log ---\n${server.log().slice(-3000)}`,
        { cause: err },
      );
    } finally {
      await browser.close().catch(() => undefined);
      browser = null;
      await stopCodeServer();
    }
  },
);

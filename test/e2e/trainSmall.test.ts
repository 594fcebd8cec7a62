/**
 * End-to-end "Train Small Model" inside code-server, with examples/resnet18.resnet.ts open: the backend is calibrated,
 * the quick pick offers the small variant first (with its estimate), the default is taken with Enter, step progress
 * (step, images/s, ETA) shows in the training view before the first epoch ends, VS Code's progress notification shows
 * the run, and the epoch finishes with a validation accuracy. Settings keep the epoch short (640 images, 1 epoch) and
 * the budget low (5 s per epoch), so ResNet-18 as written, even adapted to 28×28 digits, is over it.
 * Skips when code-server or Chromium is missing, except under CI=true, where that fails.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
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
  runCommand,
  skipReason,
  startCodeServer,
  stopCodeServer,
  endSession,
} from "./harness";

/** Calibration (three probe networks) plus the quick pick's planning on a loaded 2-core machine. */
const PICK_MS = 180_000;
/** 10 steps of a small variant, then validation on 1,000 digits and a gradient snapshot. */
const EPOCH_MS = 240_000;
const FAILURE_SCREENSHOT = join(tmpdir(), "resnet-studio-e2e-train-small-failure.png");

const missing = skipReason();
const skip = process.env.CI === "true" ? false : missing;
let browser: Browser | null = null;
let tempDir: string | null = null;

after(() => endSession(browser, tempDir));

test(
  "Train Small Model on ResNet-18: estimate, small variant by default, step progress, an epoch with validation accuracy",
  { skip, timeout: 600_000 },
  async () => {
    assert.equal(missing, false, `the code-server e2e cannot run: ${missing}`);
    prepareCodeServer();
    assert.ok(existsSync(join(ROOT, manifest.main)), `${manifest.main} is missing: run \`npm run build\` first`);
    tempDir = mkdtempSync(join(tmpdir(), "resnet-studio-e2e-train-"));
    const extensionsDir = join(tempDir, "extensions");
    const workspace = join(tempDir, "workspace");
    mkdirSync(extensionsDir, { recursive: true });
    mkdirSync(join(workspace, ".vscode"), { recursive: true });
    symlinkSync(ROOT, join(extensionsDir, `${manifest.publisher}.${manifest.name}-${manifest.version}`), "dir");
    ensureBuiltinTypeScript();
    copyFileSync(join(ROOT, "examples", "resnet18.resnet.ts"), join(workspace, "resnet18.resnet.ts"));
    writeFileSync(
      join(workspace, ".vscode", "settings.json"),
      JSON.stringify({
        "resnetStudio.trainEpochs": 1,
        "resnetStudio.trainSamplesPerEpoch": 640,
        "resnetStudio.trainEpochSeconds": 5,
      }),
    );

    const server = await startCodeServer(tempDir, extensionsDir, workspace);
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
    try {
      await page.goto(`${server.url}/?folder=${encodeURIComponent(workspace)}`);
      await page.locator(".monaco-workbench").waitFor({ state: "visible", timeout: STEP_MS });
      await openFile(page, "resnet18.resnet.ts");
      await runCommand(page, "ResNet Studio: Train Small Model");

      // The quick pick: small variant first (the default), as written, the bundled example; each with an estimate.
      const rows = page.locator(".quick-input-widget .monaco-list-row");
      await rows.first().waitFor({ state: "visible", timeout: PICK_MS });
      const texts = await rows.allTextContents();
      assert.match(texts[0] ?? "", /Small variant of ResNet-18.*≈ .+ per epoch/, `first row: ${texts.join(" | ")}`);
      assert.ok(
        texts.some((t) => /As written: ResNet-18.*≈ .+ per epoch/.test(t)),
        `rows: ${texts.join(" | ")}`,
      );
      assert.ok(
        texts.some((t) => /Bundled small example/.test(t)),
        `rows: ${texts.join(" | ")}`,
      );
      await page.keyboard.press("Enter");
      await page.locator(".quick-input-widget").waitFor({ state: "hidden", timeout: STEP_MS });

      // The training view: a step line (step k/n, img/s, ETA) while the epoch runs, then the epoch's validation accuracy.
      const view = await findFrameWith(page, ".metrics", STEP_MS);
      const metrics = view.locator(".metrics");
      const deadline = Date.now() + EPOCH_MS;
      let stepLineBeforeEpoch: string | null = null;
      let notification: string | null = null;
      let text = "";
      for (;;) {
        text = (await metrics.textContent().catch(() => "")) ?? "";
        if (/last epoch: val accuracy/.test(text)) break;
        if (!stepLineBeforeEpoch && /step \d+\/10 · \d+ img\/s · (ETA|validating)/.test(text))
          stepLineBeforeEpoch = text;
        if (!notification) {
          const toast = page.locator(".notification-toast", { hasText: "ResNet Studio: training" }).first();
          if ((await toast.count()) > 0) notification = (await toast.textContent()) ?? "";
        }
        assert.ok(
          !/failed/.test((await view.locator('[data-pane="training"] p.chart-caption').first().textContent()) ?? ""),
          "training failed",
        );
        assert.ok(Date.now() < deadline, `no finished epoch after ${EPOCH_MS} ms; the view shows:\n${text}`);
        await page.waitForTimeout(100);
      }
      assert.ok(stepLineBeforeEpoch, `no step progress arrived before the epoch ended; final view:\n${text}`);
      assert.match(text, /last epoch: val accuracy \d+\.\d+%/);
      assert.match(text, /small variant: ≈ .+ per epoch/);
      assert.match(text, /adapted to mnist: .*classes 1000 → 10/);
      assert.ok(
        notification !== null && /ResNet-18 \(small, mnist\)/.test(notification),
        `no progress notification for the run (saw: ${notification})`,
      );
      const caption = (await view.locator('[data-pane="training"] p.chart-caption').first().textContent()) ?? "";
      assert.match(caption, /ResNet-18 \(small, mnist\) on mnist/);
      if (process.env.RESNET_STUDIO_E2E_VERBOSE === "1")
        console.log(`${caption}\n${stepLineBeforeEpoch}\n${notification}\n${text}`);
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

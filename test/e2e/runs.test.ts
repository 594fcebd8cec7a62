/**
 * End-to-end runs inside code-server: Train Small Model on examples/small.resnet.ts records a run, which appears in
 * the Runs view (ResNet Studio activity-bar container) with checkpoint.safetensors and a completed run.json on disk;
 * with a second, earlier run of the same spec selected beside it, Compare Runs draws both runs' curves (training
 * error dashed, validation error bold) and their final numbers. Settings keep the run to one short epoch.
 * Skips when code-server or Chromium is missing, except under CI=true, where that fails.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
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
import { RunRecorder } from "../../model-core/src/runs/recorder";
import { readRunRecord } from "../../model-core/src/runs/listing";
import { DEFAULT_TRAIN_CONFIG } from "../../model-core/src/runtime/trainTypes";
import { analyzeSpecText } from "../../extension/src/pure/specDocument";

/** Calibration plus one epoch of 128 digits and validation on a loaded 2-core machine. */
const TRAIN_MS = 300_000;
const FAILURE_SCREENSHOT = join(tmpdir(), "resnet-studio-e2e-runs-failure.png");

const missing = skipReason();
const skip = process.env.CI === "true" ? false : missing;
let browser: Browser | null = null;
let tempDir: string | null = null;

after(() => endSession(browser, tempDir));

/** An earlier two-epoch run of the same spec, as the recorder writes it. */
function seedEarlierRun(workspace: string, specText: string): string {
  const graph = analyzeSpecText(specText, "small.resnet.ts").graph;
  assert.ok(graph);
  const dir = join(workspace, ".resnet-studio", "runs", "small", "2026-01-01T00-00-00Z");
  const recorder = new RunRecorder({
    dir,
    spec: graph.spec,
    specText,
    specFile: join(workspace, "small.resnet.ts"),
    dataset: { arg: "mnist", sha256: "", valFraction: 0.1 },
    backend: "wasm",
    device: "wasm",
    config: { ...DEFAULT_TRAIN_CONFIG, epochs: 2 },
  });
  for (const [epoch, accuracy, valAccuracy] of [
    [0, 0.7, 0.8],
    [1, 0.9, 0.92],
  ])
    recorder.onEvent({
      type: "epoch",
      epoch,
      epochs: 2,
      loss: 1 - accuracy,
      accuracy,
      valLoss: 1 - valAccuracy,
      valAccuracy,
      lr: 0.01,
      imagesPerSecond: 500,
      seconds: 5,
      trainSamples: 900,
      valSamples: 100,
    });
  recorder.finish({ reason: "completed" });
  return dir;
}

test(
  "Train Small Model records a run the Runs view lists with its checkpoint; Compare Runs draws both runs' curves",
  { skip, timeout: 600_000 },
  async () => {
    assert.equal(missing, false, `the code-server e2e cannot run: ${missing}`);
    prepareCodeServer();
    assert.ok(existsSync(join(ROOT, manifest.main)), `${manifest.main} is missing: run \`npm run build\` first`);
    tempDir = mkdtempSync(join(tmpdir(), "resnet-studio-e2e-runs-"));
    const extensionsDir = join(tempDir, "extensions");
    const workspace = join(tempDir, "workspace");
    mkdirSync(extensionsDir, { recursive: true });
    mkdirSync(join(workspace, ".vscode"), { recursive: true });
    symlinkSync(ROOT, join(extensionsDir, `${manifest.publisher}.${manifest.name}-${manifest.version}`), "dir");
    ensureBuiltinTypeScript();
    copyFileSync(join(ROOT, "examples", "small.resnet.ts"), join(workspace, "small.resnet.ts"));
    const earlier = seedEarlierRun(workspace, readFileSync(join(workspace, "small.resnet.ts"), "utf8"));
    writeFileSync(
      join(workspace, ".vscode", "settings.json"),
      JSON.stringify({
        "resnetStudio.trainEpochs": 1,
        "resnetStudio.trainSamplesPerEpoch": 128,
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
      await runCommand(page, "ResNet Studio: Train Small Model");

      // The run ends (the small spec fits the budget, so it trains without a question).
      const view = await findFrameWith(page, ".metrics", TRAIN_MS);
      const metrics = view.locator(".metrics");
      const deadline = Date.now() + TRAIN_MS;
      const group = join(workspace, ".resnet-studio", "runs", "small");
      let recorded: string | null = null;
      for (;;) {
        const text = (await metrics.textContent().catch(() => "")) ?? "";
        recorded = readdirSync(group).find((name) => join(group, name) !== earlier) ?? null;
        const record = recorded ? readRunRecord(join(group, recorded)) : null;
        if (/last epoch: val accuracy/.test(text) && record?.status === "completed") break;
        assert.ok(Date.now() < deadline, `the run did not complete after ${TRAIN_MS} ms; the view shows:\n${text}`);
        await page.waitForTimeout(250);
      }
      assert.ok(recorded);
      const runDir = join(group, recorded);
      assert.ok(existsSync(join(runDir, "checkpoint.safetensors")), "the checkpoint is on disk");
      const record = readRunRecord(runDir)!;
      assert.equal(record.history.length, 1);
      assert.equal(record.checkpointEpoch, 1);
      assert.match(record.architectureHash, /^[0-9a-f]{64}$/);

      // The Runs view lists both runs under the spec's group.
      await runCommand(page, "ResNet Studio: Focus on Runs View");
      const groupRow = page.locator(".monaco-list-row", { hasText: /^small$/ }).first();
      await groupRow.waitFor({ state: "visible", timeout: STEP_MS });
      await groupRow.click();
      const runRows = page.locator(".monaco-list-row", { hasText: /completed · best/ });
      await runRows.nth(1).waitFor({ state: "visible", timeout: STEP_MS });
      const labels = await runRows.allTextContents();
      assert.equal(labels.length, 2, `run rows: ${labels.join(" | ")}`);
      assert.ok(
        labels.some((l) => l.includes("2026-01-01 00:00:00")),
        `the earlier run is listed: ${labels.join(" | ")}`,
      );

      // Select both runs and compare them.
      await runRows.nth(0).click();
      await runRows.nth(1).click({ modifiers: ["Control"] });
      await runCommand(page, "ResNet Studio: Compare Runs");
      const compare = await findFrameWith(page, 'figure[data-axis="epoch"]', STEP_MS);
      const series = compare.locator('figure[data-axis="epoch"] g.run');
      assert.equal(await series.count(), 2, "one curve group per run");
      for (let i = 0; i < 2; i++) {
        const val = await series.nth(i).locator("path.val").getAttribute("d");
        const train = await series.nth(i).locator("path.train").getAttribute("stroke-dasharray");
        assert.match(val ?? "", /^M\d/, `run ${i}'s validation curve is drawn`);
        assert.equal(train, "5 3", "training error is dashed");
      }
      assert.equal(await compare.locator("table tbody tr").count(), 2, "a row of final numbers per run");
      if (process.env.RESNET_STUDIO_E2E_SCREENSHOT)
        await page.screenshot({ path: process.env.RESNET_STUDIO_E2E_SCREENSHOT });
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

/**
 * End-to-end: the built extension (dist/extension.js + the root manifest) inside a real VS Code, offline.
 * VS Code is code-server 4.100.x (an npm devDependency; prepared by scripts/e2e-setup.mjs), driven through
 * Debian's Chromium with playwright-core. Checks, the way a user sees them: diagnostics (squiggle + Problems panel),
 * the diagram webview (expanding a block), hovers, and a real gradient-flow pass charted in the webview. The
 * workspace has no node_modules: TypeScript itself must resolve "resnet-studio" through the extension's tsserver plugin.
 * Skips only when code-server or /usr/bin/chromium is missing.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  symlinkSync,
  copyFileSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { chromium, type Browser } from "playwright-core";
import {
  ROOT,
  CHROMIUM_PATH,
  CHROMIUM_ARGS,
  STEP_MS,
  skipReason,
  manifest,
  stopCodeServer,
  endSession,
  installVsix,
  startCodeServer,
  ensureBuiltinTypeScript,
  runCommand,
  openFile,
  goTo,
  findFrameWith,
  prepareCodeServer,
} from "./harness";
import { skipWithoutTool } from "../toolSkip";

/** `npm run screenshots` points this at docs/screenshots; a plain test run must not rewrite tracked files. */
const SCREENSHOT_DIR = process.env.RESNET_STUDIO_SCREENSHOTS ?? join(tmpdir(), "resnet-studio-screenshots");
const SCREENSHOT = join(SCREENSHOT_DIR, "vscode.png");
const BROKEN_FIXTURE = join(ROOT, "test", "fixtures", "broken", "unknown-block.resnet.ts");
/** An array const doubled 40 times: it once froze the extension host for minutes (its TypeScript type stays small). */
const HOSTILE_FIXTURE = join(ROOT, "test", "fixtures", "hostile", "doubling-arrays.resnet.ts");
const GRADIENT_SCREENSHOT = join(SCREENSHOT_DIR, "vscode-gradients.png");
/** A gradient pass of the ~20 K-parameter MNIST net takes seconds; the margin is for a loaded machine. */
const GRADIENT_MS = 90_000;
const FAILURE_SCREENSHOT = join(tmpdir(), "resnet-studio-e2e-failure.png");
const DIAGRAM_BLOCK = "layer1.0";
const DIAGRAM_NODE = `${DIAGRAM_BLOCK}.conv1`;

/** Set RESNET_STUDIO_E2E_VSIX=path/to.vsix to test the packaged extension instead of a link to this repo. */
const VSIX = process.env.RESNET_STUDIO_E2E_VSIX ? resolve(process.env.RESNET_STUDIO_E2E_VSIX) : null;

const skip = skipWithoutTool(skipReason());
let browser: Browser | null = null;
let tempDir: string | null = null;

after(() => endSession(browser, tempDir));

/** The declaration files our tsserver plugin reports using, from every tsserver log under `dir`. */
function pluginDeclarationFiles(dir: string): string[] {
  const logs = (readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => f.endsWith("tsserver.log"))
    .map((f) => join(dir, f));
  const used = logs.flatMap((log) =>
    [
      ...readFileSync(log, "utf8").matchAll(
        /\[resnet-studio-tsserver-plugin\] "resnet-studio" is not installed for .*; using (\S+)/g,
      ),
    ].map((m) => m[1]),
  );
  return [...new Set(used)];
}

/** The `// expect: line:col message` header of a broken fixture. */
function fixtureExpectation(file: string): { line: number; column: number; message: string } {
  const m = /^\/\/ expect: (\d+):(\d+) (.+)$/m.exec(readFileSync(file, "utf8"));
  assert.ok(m, `${file} has no "// expect: line:col message" header`);
  return { line: Number(m[1]), column: Number(m[2]), message: m[3].trim() };
}

test("code-server is prepared for offline use (scripts/e2e-setup.mjs, one-time)", { skip, timeout: 600_000 }, () => {
  prepareCodeServer();
});

test("the extension works inside VS Code (code-server + Chromium)", { skip, timeout: 180_000 }, async () => {
  if (!VSIX)
    assert.ok(existsSync(join(ROOT, manifest.main)), `${manifest.main} is missing: run \`npm run build\` first`);
  tempDir = mkdtempSync(join(tmpdir(), "resnet-studio-e2e-"));
  const extensionsDir = join(tempDir, "extensions");
  const workspace = join(tempDir, "workspace");
  mkdirSync(extensionsDir, { recursive: true });
  mkdirSync(workspace, { recursive: true });
  if (VSIX) {
    // The packaged artifact, installed the way a user would: catches files missing from the .vsix.
    installVsix(tempDir, extensionsDir, VSIX);
  } else {
    // VS Code finds user extensions as <publisher>.<name>-<version> folders in --extensions-dir; a link to the repo
    // loads the manifest and dist/ exactly as built.
    symlinkSync(ROOT, join(extensionsDir, `${manifest.publisher}.${manifest.name}-${manifest.version}`), "dir");
  }
  // The plugin must be where tsserver probes: <extension>/node_modules/<name> (the .vsix gets it from `npm run package`).
  if (!VSIX)
    assert.ok(
      existsSync(join(ROOT, "node_modules", "resnet-studio-tsserver-plugin", "index.js")),
      "the tsserver plugin stub is missing: run `npm run build` first",
    );
  ensureBuiltinTypeScript();
  // tsserver logs tell which plugin copy ran: code-server lives in this repo's node_modules, so tsserver's own plugin
  // search (next to its typescript, walking up) could otherwise find the repo's stub instead of the installed .vsix's.
  mkdirSync(join(tempDir, "user-data", "User"), { recursive: true });
  writeFileSync(
    join(tempDir, "user-data", "User", "settings.json"),
    JSON.stringify({ "typescript.tsserver.log": "verbose" }),
  );
  copyFileSync(join(ROOT, "examples", "resnet18.resnet.ts"), join(workspace, "resnet18.resnet.ts"));
  copyFileSync(BROKEN_FIXTURE, join(workspace, "broken.resnet.ts"));
  copyFileSync(join(ROOT, "examples", "small.resnet.ts"), join(workspace, "small.resnet.ts"));
  copyFileSync(HOSTILE_FIXTURE, join(workspace, "hostile.resnet.ts"));

  const server = await startCodeServer(tempDir, extensionsDir, workspace);
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
  const pageErrors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") pageErrors.push(m.text().slice(0, 300));
  });
  const tsMessages: string[] = [];
  const context = (): string =>
    `\n--- code-server log ---\n${server.log().slice(-3000)}\n--- page errors ---\n${pageErrors.slice(-10).join("\n")}`;

  try {
    await page.goto(`${server.url}/?folder=${encodeURIComponent(workspace)}`);
    await page.locator(".monaco-workbench").waitFor({ state: "visible", timeout: STEP_MS });
    await page
      .locator(".explorer-folders-view .monaco-list-row", { hasText: "resnet18.resnet.ts" })
      .waitFor({ state: "visible", timeout: STEP_MS });

    // (a) Diagnostics of a broken spec: a squiggle in the editor and the message in the Problems panel.
    const expected = fixtureExpectation(BROKEN_FIXTURE);
    await openFile(page, "broken.resnet.ts");
    await page.locator(".monaco-editor .squiggly-error").first().waitFor({ state: "attached", timeout: STEP_MS });
    await runCommand(page, "View: Focus Problems (Errors, Warnings, Infos)");
    const problem = page.locator(".markers-panel .monaco-list-row", { hasText: expected.message }).first();
    await problem.waitFor({ state: "visible", timeout: STEP_MS });
    const problemText = (await problem.textContent()) ?? "";
    assert.match(problemText, /resnet-studio/, `Problems row lacks our source: ${problemText}`);
    assert.ok(
      problemText.includes(`[Ln ${expected.line}, Col ${expected.column}]`),
      `Problems row has the wrong place (want ${expected.line}:${expected.column}): ${problemText}`,
    );

    // (a') TypeScript checks the spec against our typings (tsserver plugin → dist/types/resnet-studio.d.ts), but the
    // misspelt block kind is reported once, by ResNet Studio: the plugin drops TypeScript's copy of it.
    const problemRows = await page.locator(".markers-panel .monaco-list-row").allTextContents();
    assert.ok(
      !problemRows.some((r) => r.includes("is not assignable to type 'BlockKind")),
      `the unknown block kind is reported twice; rows:\n  ${problemRows.join("\n  ")}`,
    );
    tsMessages.push(`block kind reported once: ${problemText.trim()}`);

    await runCommand(page, "View: Hide Panel");

    // (b) "Open Diagram to the Side" renders the SVG diagram in the webview's inner iframe.
    await openFile(page, "resnet18.resnet.ts");
    await runCommand(page, "ResNet Studio: Open Diagram to the Side");
    // Blocks start collapsed; select the first block of layer1 with a click and expand it with Enter, as a keyboard
    // user would.
    const diagram = await findFrameWith(page, `svg g[data-node-id="${DIAGRAM_BLOCK}"]`, STEP_MS);
    await diagram.locator(`svg g[data-node-id="${DIAGRAM_BLOCK}"]`).first().click();
    await diagram.locator("#viewport").press("Enter");
    await diagram
      .locator(`svg g[data-node-id="${DIAGRAM_NODE}"]`)
      .first()
      .waitFor({ state: "visible", timeout: STEP_MS });
    assert.ok((await diagram.locator("svg g[data-node-id]").count()) > 10, "the diagram has too few nodes");

    // Escape collapses the block again; a double-click expands it.
    await diagram.locator("#viewport").press("Escape");
    await diagram.locator(`svg g[data-node-id="${DIAGRAM_NODE}"]`).waitFor({ state: "detached", timeout: STEP_MS });
    await diagram.locator(`svg g[data-node-id="${DIAGRAM_BLOCK}"]`).first().dblclick();
    await diagram
      .locator(`svg g[data-node-id="${DIAGRAM_NODE}"]`)
      .first()
      .waitFor({ state: "visible", timeout: STEP_MS });

    // (c) Hover over the second stage's `stage(` call in the editor shows our summary (shape, params, MACs).
    const source = readFileSync(join(workspace, "resnet18.resnet.ts"), "utf8").split("\n");
    const stageLine = source.findIndex((l) => l.includes("channels: 128"));
    assert.ok(stageLine >= 0, "examples/resnet18.resnet.ts has no 128-channel stage");
    await runCommand(page, "View: Focus First Editor Group");
    await goTo(page, stageLine + 1, source[stageLine].indexOf("stage(") + 2);
    await runCommand(page, "Show or Focus Hover");
    const hover = page.locator(".monaco-hover:not(.hidden)", { hasText: "params" }).first();
    await hover.waitFor({ state: "visible", timeout: STEP_MS });
    const hoverText = (await hover.textContent()) ?? "";
    assert.match(hoverText, /MACs/, `hover lacks MACs: ${hoverText}`);
    assert.match(hoverText, /shape|input → output/, `hover lacks shapes: ${hoverText}`);
    // Stage 2 of ResNet-18 is "layer2" (torchvision naming, which the diagram ids follow).
    assert.match(hoverText, /layer2/, `hover is not about the second stage: ${hoverText}`);

    // Let the hover's fade-in finish so the screenshot shows it opaque.
    await page.waitForFunction(() => document.getAnimations().every((a) => a.playState !== "running"), undefined, {
      timeout: STEP_MS,
    });
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    await page.keyboard.press("Escape");

    // (c') Hovering `resnet` shows the builder's signature from our typings (TypeScript's quick info), and the
    // Problems panel has no "Cannot find module 'resnet-studio'" for either spec.
    const resnetLine = source.findIndex((l) => l.includes("resnet({"));
    await goTo(page, resnetLine + 1, source[resnetLine].indexOf("resnet({") + 2);
    await runCommand(page, "Show or Focus Hover");
    const tsHover = page.locator(".monaco-hover:not(.hidden)", { hasText: "ResNetOptions" }).first();
    await tsHover.waitFor({ state: "visible", timeout: STEP_MS }).catch(async () => {
      const shown = await page.locator(".monaco-hover:not(.hidden)").allTextContents();
      throw new Error(
        `hovering resnet( shows no signature from the resnet-studio typings; hovers:\n  ${shown.join("\n  ")}`,
      );
    });
    const tsHoverText = (await tsHover.textContent()) ?? "";
    assert.match(
      tsHoverText,
      /resnet\(options: ResNetOptions\): ResNetSpec/,
      `unexpected TypeScript hover: ${tsHoverText}`,
    );
    tsMessages.push(
      `hover: ${/[^\n]*resnet\(options: ResNetOptions\): ResNetSpec/.exec(tsHoverText)?.[0] ?? tsHoverText}`,
    );
    await page.keyboard.press("Escape");

    // (c'') A hostile spec gets its budget diagnostic, and while it stays open a hover on a normal spec still answers
    // (how responsive the host stays is a benchmark's business, not a clock in this test).
    await openFile(page, "hostile.resnet.ts");
    await runCommand(page, "View: Focus Problems (Errors, Warnings, Infos)");
    await page
      .locator(".markers-panel .monaco-list-row", { hasText: "expands to more than 10000 elements" })
      .first()
      .waitFor({ state: "visible", timeout: STEP_MS });
    await runCommand(page, "View: Hide Panel");
    await openFile(page, "resnet18.resnet.ts");
    await goTo(page, stageLine + 1, source[stageLine].indexOf("stage(") + 2);
    await runCommand(page, "Show or Focus Hover");
    await page
      .locator(".monaco-hover:not(.hidden)", { hasText: "layer2" })
      .first()
      .waitFor({ state: "visible", timeout: STEP_MS });
    await page.keyboard.press("Escape");
    await runCommand(page, "View: Focus Problems (Errors, Warnings, Infos)");
    const rows = await page.locator(".markers-panel .monaco-list-row").allTextContents();
    assert.ok(rows.length > 0, "the Problems panel is empty (it should list broken.resnet.ts)");
    assert.deepEqual(
      rows.filter((r) => /Cannot find module|resnet18\.resnet\.ts/.test(r)),
      [],
      `unexpected problems:\n  ${rows.join("\n  ")}`,
    );
    tsMessages.push(`Problems panel rows: ${rows.length}`);
    const used = pluginDeclarationFiles(join(tempDir, "user-data"));
    // The installed copy: inside --extensions-dir for a .vsix; the repo (the link's target) otherwise.
    const expectedDir = VSIX ? realpathSync(extensionsDir) : ROOT;
    assert.ok(
      used.length > 0 &&
        used.every((f) => f.startsWith(expectedDir) && f.endsWith(join("dist", "types", "resnet-studio.d.ts"))),
      `the tsserver plugin should use the declaration file under ${expectedDir}; the tsserver logs say: ${used.join(", ") || "(nothing)"}`,
    );
    tsMessages.push(`plugin used: ${used.join(", ")}`);
    await runCommand(page, "View: Hide Panel");
    if (process.env.RESNET_STUDIO_E2E_VERBOSE === "1") console.log(`TypeScript checks:\n  ${tsMessages.join("\n  ")}`);

    // Errors thrown inside our extension reach the page console through the extension host.
    // (VS Code's own failures mention its install under node_modules/code-server; those are not ours.)
    const ours = pageErrors.filter(
      (e) =>
        e.includes("[Extension Host]") &&
        !e.includes("node_modules/code-server") &&
        (e.includes(ROOT) || /resnet/i.test(e)),
    );
    assert.deepEqual(ours, [], "the extension host reported errors from our extension");
    if (process.env.RESNET_STUDIO_E2E_VERBOSE === "1") console.log(context());

    // (d) "Show Gradient Flow" runs a real forward/backward pass in the extension's worker thread (tfjs, wasm or
    // cpu backend) on the small MNIST net and charts it; the caption names the model, the ratio and the backend.
    await openFile(page, "small.resnet.ts");
    await runCommand(page, "ResNet Studio: Show Gradient Flow");
    const charts = await findFrameWith(page, 'p.chart-caption:has-text("backend")', GRADIENT_MS);
    const caption = (await charts.locator("p.chart-caption").first().textContent()) ?? "";
    assert.match(
      caption,
      /Small ResNet \(MNIST\): ratio .+ backend (wasm|cpu|tensorflow)/,
      `unexpected gradient caption: ${caption}`,
    );
    assert.ok(
      await charts.locator('canvas[data-chart="blocks"]').isVisible(),
      "the gradient chart (network and plain twin on one pair of axes) is not visible",
    );
    await page.screenshot({ path: GRADIENT_SCREENSHOT });
  } catch (err) {
    // A picture of the failure helps more than any log; it lives outside the deleted temp folder.
    await page.screenshot({ path: FAILURE_SCREENSHOT }).catch(() => undefined);
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`${message}\n(screenshot of the failure: ${FAILURE_SCREENSHOT})${context()}`, { cause: err });
  } finally {
    await browser.close().catch(() => undefined);
    browser = null;
    await stopCodeServer();
  }
});

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
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, copyFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Frame, type Page } from "playwright-core";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const CHROMIUM_PATH = "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"];
const CODE_SERVER_ENTRY = join(ROOT, "node_modules", "code-server", "out", "node", "entry.js");
/** Where VS Code's built-in TypeScript extension looks for its bundled TypeScript (code-server's postinstall, skipped here). */
const BUILTIN_TYPESCRIPT = join(ROOT, "node_modules", "code-server", "lib", "vscode", "extensions", "node_modules", "typescript");
/** `npm run screenshots` points this at docs/screenshots; a plain test run must not rewrite tracked files. */
const SCREENSHOT_DIR = process.env.RESNET_STUDIO_SCREENSHOTS ?? join(tmpdir(), "resnet-studio-screenshots");
const SCREENSHOT = join(SCREENSHOT_DIR, "vscode.png");
const BROKEN_FIXTURE = join(ROOT, "test", "fixtures", "broken", "unknown-block.resnet.ts");
const GRADIENT_SCREENSHOT = join(SCREENSHOT_DIR, "vscode-gradients.png");
/** A gradient pass of the ~20 K-parameter MNIST net takes seconds; the margin is for a loaded machine. */
const GRADIENT_MS = 90_000;
const FAILURE_SCREENSHOT = join(tmpdir(), "resnet-studio-e2e-failure.png");
const DIAGRAM_BLOCK = "layer1.0";
const DIAGRAM_NODE = `${DIAGRAM_BLOCK}.conv1`;

/** Set RESNET_STUDIO_E2E_VSIX=path/to.vsix to test the packaged extension instead of a link to this repo. */
const VSIX = process.env.RESNET_STUDIO_E2E_VSIX ? resolve(process.env.RESNET_STUDIO_E2E_VSIX) : null;
/** Generous per-step limits: the machine is shared, and a cold VS Code start takes several seconds. */
const STEP_MS = 45_000;

function skipReason(): string | false {
  if (!existsSync(CHROMIUM_PATH)) return `${CHROMIUM_PATH} is missing (apt-get install chromium)`;
  if (!existsSync(CODE_SERVER_ENTRY)) return "code-server is not installed (devDependency; run `npm install`)";
  return false;
}

interface Manifest { publisher: string; name: string; version: string; main: string }
const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as Manifest;

const skip = skipReason();
let codeServer: ChildProcess | null = null;
let browser: Browser | null = null;
let tempDir: string | null = null;

/**
 * code-server forks its own children (the server, extension hosts, our worker threads' process); it runs in its own
 * process group, so TERM then KILL to the group ends all of them and nothing else.
 */
async function stopCodeServer(): Promise<void> {
  const child = codeServer;
  codeServer = null;
  if (!child || child.pid === undefined) return;
  const group = -child.pid;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((done) => child.once("exit", () => done()));
    try { process.kill(group, "SIGTERM"); } catch { /* already gone */ }
    await Promise.race([exited, new Promise<void>((done) => setTimeout(done, 5000).unref())]);
  }
  try { process.kill(group, "SIGKILL"); } catch { /* the whole group is gone */ }
}

after(async () => {
  await browser?.close().catch(() => undefined);
  browser = null;
  await stopCodeServer();
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
});

function codeServerEnv(dir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    // Keep code-server's config and state out of the user's home.
    XDG_CONFIG_HOME: join(dir, "xdg-config"), XDG_DATA_HOME: join(dir, "xdg-data"), XDG_CACHE_HOME: join(dir, "xdg-cache"),
    // No extension marketplace: the test is offline and installs nothing from it.
    EXTENSIONS_GALLERY: JSON.stringify({ serviceUrl: "" }),
  };
}

function installVsix(dir: string, extensionsDir: string, vsix: string): void {
  assert.ok(existsSync(vsix), `RESNET_STUDIO_E2E_VSIX=${vsix} does not exist (build it with \`npm run package\`)`);
  const r = spawnSync(process.execPath, [CODE_SERVER_ENTRY, "--user-data-dir", join(dir, "user-data"), "--extensions-dir", extensionsDir,
    "--config", join(dir, "config.yaml"), "--install-extension", vsix], { cwd: dir, env: codeServerEnv(dir), encoding: "utf8", timeout: STEP_MS });
  const output = `${r.stdout ?? ""}${r.stderr ?? ""}`;
  assert.equal(r.status, 0, `code-server --install-extension ${vsix} failed:\n${output}`);
  assert.match(output, /was successfully installed/, `code-server did not install ${vsix}:\n${output}`);
}

/** Starts code-server on an ephemeral 127.0.0.1 port with everything it writes inside `dir`; resolves to its URL. */
async function startCodeServer(dir: string, extensionsDir: string, workspace: string): Promise<{ url: string; log: () => string }> {
  let output = "";
  const child = spawn(process.execPath, [
    CODE_SERVER_ENTRY, "--bind-addr", "127.0.0.1:0", "--auth", "none",
    "--user-data-dir", join(dir, "user-data"), "--extensions-dir", extensionsDir, "--config", join(dir, "config.yaml"),
    "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust", "--disable-getting-started-override",
    "--disable-proxy", "--ignore-last-opened", workspace,
  ], {
    cwd: dir, detached: true, stdio: ["ignore", "pipe", "pipe"], env: codeServerEnv(dir),
  });
  codeServer = child;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`code-server did not report its port within ${STEP_MS} ms:\n${output}`)), STEP_MS);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const m = /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+)\//.exec(output);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", (code, signal) => { clearTimeout(timer); reject(new Error(`code-server exited (${code ?? signal}) before listening:\n${output}`)); });
  });
  return { url, log: () => output };
}

/**
 * code-server's own postinstall installs the TypeScript that VS Code's TypeScript extension runs (tsserver); the
 * offline setup skips it (scripts/e2e-setup.mjs), so link the repo's typescript package there, as a user's VS Code
 * ships one. Without it there is no tsserver, hence no TypeScript diagnostics, completion or plugin to test.
 */
function ensureBuiltinTypeScript(): void {
  if (existsSync(join(BUILTIN_TYPESCRIPT, "lib", "tsserver.js"))) return;
  rmSync(BUILTIN_TYPESCRIPT, { recursive: true, force: true });
  mkdirSync(dirname(BUILTIN_TYPESCRIPT), { recursive: true });
  symlinkSync(join(ROOT, "node_modules", "typescript"), BUILTIN_TYPESCRIPT, "dir");
}

/** The declaration files our tsserver plugin reports using, from every tsserver log under `dir`. */
function pluginDeclarationFiles(dir: string): string[] {
  const logs = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith("tsserver.log")).map((f) => join(dir, f));
  const used = logs.flatMap((log) => [...readFileSync(log, "utf8").matchAll(/\[resnet-studio-tsserver-plugin\] "resnet-studio" is not installed for .*; using (\S+)/g)].map((m) => m[1]));
  return [...new Set(used)];
}

/** Runs a command from the command palette by its exact title. */
async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible", timeout: STEP_MS });
  await input.fill(`>${title}`);
  const row = page.locator(".quick-input-widget .monaco-list-row", { hasText: title }).first();
  await row.waitFor({ state: "visible", timeout: STEP_MS }).catch(() => {
    throw new Error(`command "${title}" is not in the command palette (is it contributed in package.json?)`);
  });
  await row.click();
  await page.locator(".quick-input-widget").waitFor({ state: "hidden", timeout: STEP_MS });
}

/**
 * Opens a workspace file from the Explorer and waits for its editor tab to be active. (Quick Open would need
 * ripgrep, which the offline setup does not download.)
 */
async function openFile(page: Page, fileName: string): Promise<void> {
  const row = page.locator(".explorer-folders-view .monaco-list-row", { hasText: fileName }).first();
  await row.waitFor({ state: "visible", timeout: STEP_MS });
  await row.dblclick();
  await page.locator(`.tab.active[data-resource-name="${fileName}"]`).waitFor({ state: "visible", timeout: STEP_MS });
  await page.locator(".editor-instance .monaco-editor .view-lines").first().waitFor({ state: "visible", timeout: STEP_MS });
}

/** Moves the cursor with Go to Line (1-based line and column). */
async function goTo(page: Page, line: number, column: number): Promise<void> {
  await page.keyboard.press("Control+G");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible", timeout: STEP_MS });
  await input.fill(`:${line}:${column}`);
  await page.keyboard.press("Enter");
  await page.locator(".quick-input-widget").waitFor({ state: "hidden", timeout: STEP_MS });
}

/** Polls every frame (webviews are nested iframes) until one has `selector`. */
async function findFrameWith(page: Page, selector: string, timeoutMs: number): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const frame of page.frames()) {
      const count = await frame.locator(selector).count().catch(() => 0);
      if (count > 0) return frame;
    }
    if (Date.now() > deadline) {
      const urls = page.frames().map((f) => f.url()).join("\n  ");
      throw new Error(`no frame contains ${selector} after ${timeoutMs} ms; frames:\n  ${urls}`);
    }
    await page.waitForTimeout(250);
  }
}

/** The `// expect: line:col message` header of a broken fixture. */
function fixtureExpectation(file: string): { line: number; column: number; message: string } {
  const m = /^\/\/ expect: (\d+):(\d+) (.+)$/m.exec(readFileSync(file, "utf8"));
  assert.ok(m, `${file} has no "// expect: line:col message" header`);
  return { line: Number(m[1]), column: Number(m[2]), message: m[3].trim() };
}

test("code-server is prepared for offline use (scripts/e2e-setup.mjs, one-time)", { skip, timeout: 600_000 }, () => {
  const r = spawnSync(process.execPath, [join(ROOT, "scripts", "e2e-setup.mjs")], { cwd: ROOT, encoding: "utf8" });
  assert.equal(r.status, 0, `scripts/e2e-setup.mjs failed:\n${r.stdout}\n${r.stderr}`);
});

test("the extension works inside VS Code (code-server + Chromium)", { skip, timeout: 180_000 }, async (t) => {
  if (!VSIX) assert.ok(existsSync(join(ROOT, manifest.main)), `${manifest.main} is missing: run \`npm run build\` first`);
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
  if (!VSIX) assert.ok(existsSync(join(ROOT, "node_modules", "resnet-studio-tsserver-plugin", "index.js")), "the tsserver plugin stub is missing: run `npm run build` first");
  ensureBuiltinTypeScript();
  // tsserver logs tell which plugin copy ran: code-server lives in this repo's node_modules, so tsserver's own plugin
  // search (next to its typescript, walking up) could otherwise find the repo's stub instead of the installed .vsix's.
  mkdirSync(join(tempDir, "user-data", "User"), { recursive: true });
  writeFileSync(join(tempDir, "user-data", "User", "settings.json"), JSON.stringify({ "typescript.tsserver.log": "verbose" }));
  copyFileSync(join(ROOT, "examples", "resnet18.resnet.ts"), join(workspace, "resnet18.resnet.ts"));
  copyFileSync(BROKEN_FIXTURE, join(workspace, "broken.resnet.ts"));
  copyFileSync(join(ROOT, "examples", "small.resnet.ts"), join(workspace, "small.resnet.ts"));

  const server = await startCodeServer(tempDir, extensionsDir, workspace);
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
  const pageErrors: string[] = [];
  page.on("console", (m) => { if (m.type() === "error") pageErrors.push(m.text().slice(0, 300)); });
  const tsMessages: string[] = [];
  const context = (): string => `\n--- code-server log ---\n${server.log().slice(-3000)}\n--- page errors ---\n${pageErrors.slice(-10).join("\n")}`;

  try {
    await page.goto(`${server.url}/?folder=${encodeURIComponent(workspace)}`);
    await page.locator(".monaco-workbench").waitFor({ state: "visible", timeout: STEP_MS });
    await page.locator(".explorer-folders-view .monaco-list-row", { hasText: "resnet18.resnet.ts" }).waitFor({ state: "visible", timeout: STEP_MS });

    // (a) Diagnostics of a broken spec: a squiggle in the editor and the message in the Problems panel.
    const expected = fixtureExpectation(BROKEN_FIXTURE);
    await openFile(page, "broken.resnet.ts");
    await page.locator(".monaco-editor .squiggly-error").first().waitFor({ state: "attached", timeout: STEP_MS });
    await runCommand(page, "View: Focus Problems (Errors, Warnings, Infos)");
    const problem = page.locator(".markers-panel .monaco-list-row", { hasText: expected.message }).first();
    await problem.waitFor({ state: "visible", timeout: STEP_MS });
    const problemText = (await problem.textContent()) ?? "";
    assert.match(problemText, /resnet-studio/, `Problems row lacks our source: ${problemText}`);
    assert.ok(problemText.includes(`[Ln ${expected.line}, Col ${expected.column}]`), `Problems row has the wrong place (want ${expected.line}:${expected.column}): ${problemText}`);

    // (a') TypeScript itself checks the spec against our typings (tsserver plugin → dist/types/resnet-studio.d.ts):
    // the misspelt block kind is also a TS error, and "resnet-studio" is never reported missing.
    const tsProblem = page.locator(".markers-panel .monaco-list-row", { hasText: "is not assignable to type 'BlockKind" }).first();
    await tsProblem.waitFor({ state: "visible", timeout: STEP_MS }).catch(async () => {
      const rows = await page.locator(".markers-panel .monaco-list-row").allTextContents();
      throw new Error(`no TypeScript error for the unknown block kind in the Problems panel; rows:\n  ${rows.join("\n  ")}`);
    });
    tsMessages.push(((await tsProblem.textContent()) ?? "").trim());

    await runCommand(page, "View: Hide Panel");

    // (b) "Open Diagram to the Side" renders the SVG diagram in the webview's inner iframe.
    await openFile(page, "resnet18.resnet.ts");
    await runCommand(page, "ResNet Studio: Open Diagram to the Side");
    // Blocks start collapsed; select the first block of layer1 with a click and expand it with Enter, as a keyboard
    // user would.
    const diagram = await findFrameWith(page, `svg g[data-node-id="${DIAGRAM_BLOCK}"]`, STEP_MS);
    await diagram.locator(`svg g[data-node-id="${DIAGRAM_BLOCK}"]`).first().click();
    await diagram.locator("#viewport").press("Enter");
    await diagram.locator(`svg g[data-node-id="${DIAGRAM_NODE}"]`).first().waitFor({ state: "visible", timeout: STEP_MS });
    assert.ok(await diagram.locator("svg g[data-node-id]").count() > 10, "the diagram has too few nodes");

    // Escape collapses the block again; a double-click expands it.
    await diagram.locator("#viewport").press("Escape");
    await diagram.locator(`svg g[data-node-id="${DIAGRAM_NODE}"]`).waitFor({ state: "detached", timeout: STEP_MS });
    await diagram.locator(`svg g[data-node-id="${DIAGRAM_BLOCK}"]`).first().dblclick();
    await diagram.locator(`svg g[data-node-id="${DIAGRAM_NODE}"]`).first().waitFor({ state: "visible", timeout: STEP_MS });

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
    await page.waitForFunction(() => document.getAnimations().every((a) => a.playState !== "running"), undefined, { timeout: STEP_MS });
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
      throw new Error(`hovering resnet( shows no signature from the resnet-studio typings; hovers:\n  ${shown.join("\n  ")}`);
    });
    const tsHoverText = (await tsHover.textContent()) ?? "";
    assert.match(tsHoverText, /resnet\(options: ResNetOptions\): ResNetSpec/, `unexpected TypeScript hover: ${tsHoverText}`);
    tsMessages.push(`hover: ${/[^\n]*resnet\(options: ResNetOptions\): ResNetSpec/.exec(tsHoverText)?.[0] ?? tsHoverText}`);
    await page.keyboard.press("Escape");
    await runCommand(page, "View: Focus Problems (Errors, Warnings, Infos)");
    const rows = await page.locator(".markers-panel .monaco-list-row").allTextContents();
    assert.ok(rows.length > 0, "the Problems panel is empty (it should list broken.resnet.ts)");
    assert.deepEqual(rows.filter((r) => /Cannot find module|resnet18\.resnet\.ts/.test(r)), [], `unexpected problems:\n  ${rows.join("\n  ")}`);
    tsMessages.push(`Problems panel rows: ${rows.length}`);
    const used = pluginDeclarationFiles(join(tempDir, "user-data"));
    // The installed copy: inside --extensions-dir for a .vsix; the repo (the link's target) otherwise.
    const expectedDir = VSIX ? realpathSync(extensionsDir) : ROOT;
    assert.ok(used.length > 0 && used.every((f) => f.startsWith(expectedDir) && f.endsWith(join("dist", "types", "resnet-studio.d.ts"))),
      `the tsserver plugin should use the declaration file under ${expectedDir}; the tsserver logs say: ${used.join(", ") || "(nothing)"}`);
    tsMessages.push(`plugin used: ${used.join(", ")}`);
    await runCommand(page, "View: Hide Panel");
    if (process.env.RESNET_STUDIO_E2E_VERBOSE === "1") console.log(`TypeScript checks:\n  ${tsMessages.join("\n  ")}`);

    // Errors thrown inside our extension reach the page console through the extension host.
    // (VS Code's own failures mention its install under node_modules/code-server; those are not ours.)
    const ours = pageErrors.filter((e) => e.includes("[Extension Host]") && !e.includes("node_modules/code-server") && (e.includes(ROOT) || /resnet/i.test(e)));
    assert.deepEqual(ours, [], "the extension host reported errors from our extension");
    if (process.env.RESNET_STUDIO_E2E_VERBOSE === "1") console.log(context());

    // (d) "Show Gradient Flow" runs a real forward/backward pass in the extension's worker thread (tfjs, wasm or
    // cpu backend) on the small MNIST net and charts it; the caption names the model, the ratio and the backend.
    await openFile(page, "small.resnet.ts");
    await runCommand(page, "ResNet Studio: Show Gradient Flow");
    const charts = await findFrameWith(page, 'p.chart-caption:has-text("backend")', GRADIENT_MS);
    const caption = (await charts.locator("p.chart-caption").first().textContent()) ?? "";
    assert.match(caption, /Small ResNet \(MNIST\): ratio .+ backend (wasm|cpu|tensorflow)/, `unexpected gradient caption: ${caption}`);
    assert.ok(await charts.locator('canvas[data-chart="blocks"]').isVisible(), "the gradient chart (network and plain twin on one pair of axes) is not visible");
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

/**
 * Shared by the code-server end-to-end tests: start code-server offline with the extension linked (or a .vsix
 * installed), and drive VS Code's UI (command palette, explorer, webview frames) with playwright-core.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Frame, Page } from "playwright-core";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const CHROMIUM_PATH = "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
];
export const CODE_SERVER_ENTRY = join(ROOT, "node_modules", "code-server", "out", "node", "entry.js");
/** Where VS Code's built-in TypeScript extension looks for its bundled TypeScript (code-server's postinstall, skipped here). */
export const BUILTIN_TYPESCRIPT = join(
  ROOT,
  "node_modules",
  "code-server",
  "lib",
  "vscode",
  "extensions",
  "node_modules",
  "typescript",
);

/** Generous per-step limits: the machine is shared, and a cold VS Code start takes several seconds. */
export const STEP_MS = 45_000;

export function skipReason(): string | false {
  if (!existsSync(CHROMIUM_PATH)) return `${CHROMIUM_PATH} is missing (apt-get install chromium)`;
  if (!existsSync(CODE_SERVER_ENTRY)) return "code-server is not installed (devDependency; run `npm install`)";
  return false;
}

export interface Manifest {
  publisher: string;
  name: string;
  version: string;
  main: string;
}
export const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as Manifest;

let codeServer: ChildProcess | null = null;

/**
 * code-server forks its own children (the server, extension hosts, our worker threads' process); it runs in its own
 * process group, so TERM then KILL to the group ends all of them and nothing else.
 */
export async function stopCodeServer(): Promise<void> {
  const child = codeServer;
  codeServer = null;
  if (!child || child.pid === undefined) return;
  const group = -child.pid;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((done) => child.once("exit", () => done()));
    try {
      process.kill(group, "SIGTERM");
    } catch {
      /* already gone */
    }
    await Promise.race([exited, new Promise<void>((done) => setTimeout(done, 5000).unref())]);
  }
  try {
    process.kill(group, "SIGKILL");
  } catch {
    /* the whole group is gone */
  }
}

/** The end of every e2e file: close its browser, stop code-server and remove its temp folder. */
export async function endSession(browser: Browser | null, tempDir: string | null): Promise<void> {
  await browser?.close().catch(() => undefined);
  await stopCodeServer();
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
}

export function codeServerEnv(dir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    // Keep code-server's config and state out of the user's home.
    XDG_CONFIG_HOME: join(dir, "xdg-config"),
    XDG_DATA_HOME: join(dir, "xdg-data"),
    XDG_CACHE_HOME: join(dir, "xdg-cache"),
    // No extension marketplace: the test is offline and installs nothing from it.
    EXTENSIONS_GALLERY: JSON.stringify({ serviceUrl: "" }),
  };
}

export function installVsix(dir: string, extensionsDir: string, vsix: string): void {
  assert.ok(existsSync(vsix), `RESNET_STUDIO_E2E_VSIX=${vsix} does not exist (build it with \`npm run package\`)`);
  const r = spawnSync(
    process.execPath,
    [
      CODE_SERVER_ENTRY,
      "--user-data-dir",
      join(dir, "user-data"),
      "--extensions-dir",
      extensionsDir,
      "--config",
      join(dir, "config.yaml"),
      "--install-extension",
      vsix,
    ],
    { cwd: dir, env: codeServerEnv(dir), encoding: "utf8", timeout: STEP_MS },
  );
  const output = `${r.stdout ?? ""}${r.stderr ?? ""}`;
  assert.equal(r.status, 0, `code-server --install-extension ${vsix} failed:\n${output}`);
  assert.match(output, /was successfully installed/, `code-server did not install ${vsix}:\n${output}`);
}

/** Starts code-server on an ephemeral 127.0.0.1 port with everything it writes inside `dir`; resolves to its URL. */
export async function startCodeServer(
  dir: string,
  extensionsDir: string,
  workspace: string,
): Promise<{ url: string; log: () => string }> {
  let output = "";
  const child = spawn(
    process.execPath,
    [
      CODE_SERVER_ENTRY,
      "--bind-addr",
      "127.0.0.1:0",
      "--auth",
      "none",
      "--user-data-dir",
      join(dir, "user-data"),
      "--extensions-dir",
      extensionsDir,
      "--config",
      join(dir, "config.yaml"),
      "--disable-telemetry",
      "--disable-update-check",
      "--disable-workspace-trust",
      "--disable-getting-started-override",
      "--disable-proxy",
      "--ignore-last-opened",
      workspace,
    ],
    {
      cwd: dir,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: codeServerEnv(dir),
    },
  );
  codeServer = child;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`code-server did not report its port within ${STEP_MS} ms:\n${output}`)),
      STEP_MS,
    );
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const m = /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+)\//.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`code-server exited (${code ?? signal}) before listening:\n${output}`));
    });
  });
  return { url, log: () => output };
}

/**
 * code-server's own postinstall installs the TypeScript that VS Code's TypeScript extension runs (tsserver); the
 * offline setup skips it (scripts/e2e-setup.mjs), so link the repo's typescript package there, as a user's VS Code
 * ships one. Without it there is no tsserver, hence no TypeScript diagnostics, completion or plugin to test.
 */
export function ensureBuiltinTypeScript(): void {
  if (existsSync(join(BUILTIN_TYPESCRIPT, "lib", "tsserver.js"))) return;
  rmSync(BUILTIN_TYPESCRIPT, { recursive: true, force: true });
  mkdirSync(dirname(BUILTIN_TYPESCRIPT), { recursive: true });
  symlinkSync(join(ROOT, "node_modules", "typescript"), BUILTIN_TYPESCRIPT, "dir");
}

/** Runs a command from the command palette by its exact title. */
export async function runCommand(page: Page, title: string): Promise<void> {
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
 * Runs a command that opens a quick pick of its own. The palette's widget may be reused for that pick without ever
 * hiding, so this waits for the pick's placeholder instead of for the widget to close.
 */
export async function runCommandIntoPick(page: Page, title: string, placeholder: string): Promise<void> {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible", timeout: STEP_MS });
  await input.fill(`>${title}`);
  const row = page.locator(".quick-input-widget .monaco-list-row", { hasText: title }).first();
  await row.waitFor({ state: "visible", timeout: STEP_MS });
  await row.click();
  await page.waitForFunction(
    (text) => document.querySelector<HTMLInputElement>(".quick-input-widget input")?.placeholder === text,
    placeholder,
    { timeout: STEP_MS },
  );
}

/**
 * Opens a workspace file from the Explorer and waits for its editor tab to be active. (Quick Open would need
 * ripgrep, which the offline setup does not download.)
 */
export async function openFile(page: Page, fileName: string): Promise<void> {
  const row = page.locator(".explorer-folders-view .monaco-list-row", { hasText: fileName }).first();
  await row.waitFor({ state: "visible", timeout: STEP_MS });
  await row.dblclick();
  await page.locator(`.tab.active[data-resource-name="${fileName}"]`).waitFor({ state: "visible", timeout: STEP_MS });
  await page
    .locator(".editor-instance .monaco-editor .view-lines")
    .first()
    .waitFor({ state: "visible", timeout: STEP_MS });
}

/** Moves the cursor with Go to Line (1-based line and column). */
export async function goTo(page: Page, line: number, column: number): Promise<void> {
  await page.keyboard.press("Control+G");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible", timeout: STEP_MS });
  await input.fill(`:${line}:${column}`);
  await page.keyboard.press("Enter");
  await page.locator(".quick-input-widget").waitFor({ state: "hidden", timeout: STEP_MS });
}

/** Polls every frame (webviews are nested iframes) until one has `selector`. */
export async function findFrameWith(page: Page, selector: string, timeoutMs: number): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const frame of page.frames()) {
      const count = await frame
        .locator(selector)
        .count()
        .catch(() => 0);
      if (count > 0) return frame;
    }
    if (Date.now() > deadline) {
      const urls = page
        .frames()
        .map((f) => f.url())
        .join("\n  ");
      throw new Error(`no frame contains ${selector} after ${timeoutMs} ms; frames:\n  ${urls}`);
    }
    await page.waitForTimeout(250);
  }
}

/** One-time offline preparation of code-server (scripts/e2e-setup.mjs); fast when already done. */
export function prepareCodeServer(): void {
  const r = spawnSync(process.execPath, [join(ROOT, "scripts", "e2e-setup.mjs")], { cwd: ROOT, encoding: "utf8" });
  assert.equal(r.status, 0, `scripts/e2e-setup.mjs failed:\n${r.stdout}\n${r.stderr}`);
}

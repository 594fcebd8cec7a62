/**
 * The CLI for tests, in a child process: the real `resnet-studio` launcher (model-core/bin → dist/cli.cjs), rebuilt
 * when stale, or the CLI's sources through tsx (no build needed).
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const root = join(__dirname, "../..");
/** model-core/bin/resnet-studio.js, what `npx resnet-studio` starts. */
export const CLI_LAUNCHER = join(root, "model-core/bin/resnet-studio.js");
const builtCli = join(root, "model-core/dist/cli.cjs");

/** Newest modification time under `path`. */
function newest(path: string): number {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

/** Runs the project's own build script unless dist/cli.cjs is at least as new as every model-core source and Python module, so a test sees exactly what `npx resnet-studio` runs. */
export function buildCliIfStale(): void {
  let fresh = false;
  try {
    // The Python modules too: the build copies them beside the bundle, and export ships resnet_studio_fast.py from there.
    const sources = Math.max(newest(join(root, "model-core/src")), newest(join(root, "model-core/python")));
    fresh = statSync(builtCli).mtimeMs >= sources;
  } catch {
    fresh = false;
  }
  if (fresh) return;
  const build = spawnSync(process.execPath, [join(root, "scripts/build.mjs")], { cwd: root, encoding: "utf8" });
  assert.equal(build.status, 0, `npm run build failed:\n${build.stdout}${build.stderr}`);
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The launcher with `args`, asynchronously (several may run at once). */
export function runCli(args: string[], cwd = root): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_LAUNCHER, ...args], { cwd });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

export interface SourceCliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI's sources (model-core/src/cli/main.ts, through tsx) with `args`, blocking until it exits. */
export function runCliFromSource(
  args: string[],
  options: { timeoutMs?: number; env?: Record<string, string>; cwd?: string } = {},
): SourceCliRun {
  const main = join(root, "model-core/src/cli/main.ts");
  // tsx resolves from the repository; the command itself runs in `cwd`.
  const chdir = options.cwd ? `process.chdir(${JSON.stringify(options.cwd)});` : "";
  const script = `${chdir}require(${JSON.stringify(main)}).main(${JSON.stringify(args)}).then((code) => process.exit(code))`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "-e", script], {
    cwd: root,
    encoding: "utf8",
    timeout: options.timeoutMs ?? 120_000,
    maxBuffer: 64 * 2 ** 20,
    env: { ...process.env, ...options.env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The launcher with `args`, blocking until it exits. */
export function runCliSync(args: string[], cwd = root): CliRun {
  const r = spawnSync(process.execPath, [CLI_LAUNCHER, ...args], { cwd, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

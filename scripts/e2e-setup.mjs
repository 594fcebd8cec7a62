// Prepares the code-server devDependency for the end-to-end test, offline and idempotently.
//
// code-server's own postinstall (postinstall.sh) runs `npm install` inside lib/vscode and lib/vscode/extensions.
// That step downloads ripgrep from GitHub (fails offline) and refuses to run as root, so the root package.json
// denies it (`allowScripts: { "code-server": false }`) and this script does the parts the test needs instead:
//   1. install lib/vscode's npm dependencies without their install scripts (npm registry only);
//   2. compile the two native addons VS Code's server loads at startup (native-watchdog, @vscode/spdlog) with node-gyp;
//   3. link node_modules.asar → node_modules, as postinstall.sh does;
//   4. make sure code-server's own argon2 addon loads (it is required at startup even with --auth none);
//   5. link @vscode/ripgrep's missing binary to the system's `rg` when there is one (Debian: apt-get install ripgrep).
//      VS Code uses it for Quick Open, search and `workspaceContains:` activation; without it those log ENOENT.
// node-pty (terminal) and the built-in extensions' TypeScript are not installed: the test does not use them.
//
// Usage: `node scripts/e2e-setup.mjs` (prints what it did), or `import { ensureCodeServer } from "./e2e-setup.mjs"`.
import { existsSync, readFileSync, writeFileSync, symlinkSync, lstatSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
/** code-server 4.101+ needs Node 22; 4.100.x is the last line that runs on Node 20. */
const SUPPORTED_VERSION = /^4\.100\./;

/** Paths of a prepared code-server. */
export function codeServerPaths() {
  const dir = join(root, "node_modules", "code-server");
  const vscode = join(dir, "lib", "vscode");
  return {
    dir,
    entry: join(dir, "out", "node", "entry.js"),
    vscode,
    marker: join(vscode, ".resnet-studio-e2e-ready"),
  };
}

/** Why the e2e test cannot run on this machine, or null when code-server is installed (it may still need setup). */
export function codeServerMissingReason() {
  const paths = codeServerPaths();
  if (!existsSync(join(paths.dir, "package.json")))
    return "code-server is not installed (run `npm install` at the repo root)";
  const version = JSON.parse(readFileSync(join(paths.dir, "package.json"), "utf8")).version;
  if (!SUPPORTED_VERSION.test(version))
    return `code-server ${version} is installed; this test needs 4.100.x (the last release for Node 20)`;
  if (!existsSync(paths.entry)) return `code-server is incomplete: ${paths.entry} is missing`;
  return null;
}

function run(command, args, cwd, log) {
  log(`$ (cd ${cwd} && ${command} ${args.join(" ")})`);
  const r = spawnSync(command, args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, npm_config_audit: "false", npm_config_fund: "false" },
  });
  if (r.status !== 0) {
    const tail = `${r.stdout ?? ""}\n${r.stderr ?? ""}`.trim().split("\n").slice(-15).join("\n");
    throw new Error(
      `e2e setup: \`${command} ${args.join(" ")}\` failed in ${cwd} (exit ${r.status ?? r.signal}):\n${tail}`,
    );
  }
}

function linkSystemRipgrep(modules, log) {
  const target = join(modules, "@vscode", "ripgrep", "bin", "rg");
  if (existsSync(target)) return;
  const which = spawnSync("sh", ["-c", "command -v rg"], { encoding: "utf8" });
  const systemRg = which.status === 0 ? which.stdout.trim() : "";
  if (!systemRg) {
    log("no `rg` on PATH: VS Code's file search stays unavailable (the test does not need it)");
    return;
  }
  mkdirSync(dirname(target), { recursive: true });
  symlinkSync(systemRg, target);
  log(`linked ${target} -> ${systemRg}`);
}

function loads(moduleName, cwd) {
  const r = spawnSync(process.execPath, ["-e", `require(${JSON.stringify(moduleName)})`], { cwd, encoding: "utf8" });
  return r.status === 0;
}

/**
 * Makes node_modules/code-server runnable. Cheap when already done (one marker file check).
 * Throws an Error with the failing command's output when a step fails.
 */
export function ensureCodeServer(log = () => {}) {
  const missing = codeServerMissingReason();
  if (missing) throw new Error(missing);
  const paths = codeServerPaths();
  if (existsSync(paths.marker)) {
    linkSystemRipgrep(join(paths.vscode, "node_modules"), log);
    return paths;
  }

  const modules = join(paths.vscode, "node_modules");
  if (
    !existsSync(join(modules, "native-watchdog", "package.json")) ||
    !existsSync(join(modules, "@vscode", "spdlog", "package.json"))
  ) {
    run("npm", ["install", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund"], paths.vscode, log);
  }
  const addons = [
    ["native-watchdog", join(modules, "native-watchdog", "build", "Release", "watchdog.node")],
    ["@vscode/spdlog", join(modules, "@vscode", "spdlog", "build", "Release", "spdlog.node")],
  ];
  const unbuilt = addons.filter(([, binary]) => !existsSync(binary)).map(([name]) => name);
  // `npm rebuild` runs node-gyp on each package's binding.gyp; it needs a C++ toolchain and the Node headers.
  if (unbuilt.length > 0) run("npm", ["rebuild", ...unbuilt], paths.vscode, log);

  const asar = join(paths.vscode, "node_modules.asar");
  let linked = false;
  try {
    linked = lstatSync(asar).isSymbolicLink();
  } catch {
    linked = false;
  }
  if (!linked) symlinkSync("node_modules", asar);

  if (!loads("argon2", paths.dir)) run("npm", ["rebuild", "argon2"], root, log);
  if (!loads("argon2", paths.dir))
    throw new Error("e2e setup: code-server's argon2 addon does not load after `npm rebuild argon2`");

  linkSystemRipgrep(modules, log);

  writeFileSync(paths.marker, `prepared by scripts/e2e-setup.mjs at ${new Date().toISOString()}\n`);
  return paths;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const started = Date.now();
    const paths = ensureCodeServer((line) => console.log(line));
    console.log(`code-server ready: ${paths.entry} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
}

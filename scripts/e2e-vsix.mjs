// Packages the extension as a .vsix (vsce, into a temp folder) and runs the VS Code end-to-end test against that
// package instead of a link to the repo, so files missing from the .vsix (see .vscodeignore) fail the test.
// Usage: `npm run build && node scripts/e2e-vsix.mjs`
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = mkdtempSync(join(tmpdir(), "resnet-studio-vsix-"));
const vsix = join(dir, "resnet-studio.vsix");
try {
  const vsce = join(root, "node_modules", "@vscode", "vsce", "vsce");
  const pack = spawnSync(
    process.execPath,
    [vsce, "package", "--no-dependencies", "--no-rewrite-relative-links", "--out", vsix],
    { cwd: root, stdio: "inherit" },
  );
  // As `npm run package` does: vsce never packs node_modules/, where tsserver looks for the extension's TS plugin.
  const plugin =
    pack.status === 0
      ? spawnSync(process.execPath, [join(root, "extension", "tsserver-plugin", "build.mjs"), "vsix", vsix], {
          cwd: root,
          stdio: "inherit",
        })
      : pack;
  if (pack.status !== 0 || plugin.status !== 0) {
    console.error("vsce package failed");
    process.exitCode = 1;
  } else {
    const run = spawnSync(process.execPath, [join(root, "scripts", "run-tests.mjs"), "test/e2e/"], {
      cwd: root,
      stdio: "inherit",
      env: { ...process.env, RESNET_STUDIO_E2E_VSIX: vsix },
    });
    process.exitCode = run.status ?? 1;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

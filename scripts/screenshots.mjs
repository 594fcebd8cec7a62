// Regenerates the README screenshots in docs/screenshots by running the browser and VS Code (code-server) tests
// with RESNET_STUDIO_SCREENSHOTS pointing there. A plain `npm test` writes them to the temp folder instead.
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const env = { ...process.env, RESNET_STUDIO_SCREENSHOTS: join(root, "docs", "screenshots") };
const r = spawnSync(process.execPath, [join(root, "scripts", "run-tests.mjs"), "test/browser", "test/e2e"], {
  stdio: "inherit",
  cwd: root,
  env,
});
process.exit(r.status ?? 1);

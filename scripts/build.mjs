// One esbuild script, one bundle per runtime: model-core (node library + CLI), extension host (node,
// `vscode` external), worker threads (node), webview (browser). Also copies the tfjs wasm binaries and
// converts the embedded MNIST digits. Entries whose source does not exist yet are skipped.
import * as esbuild from "esbuild";
import { existsSync, mkdirSync, cpSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";
import { writePluginStub, writeSpecDeclarations } from "../extension/tsserver-plugin/build.mjs";
import { bundledExampleDefine } from "./bundledExample.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const watch = process.argv.includes("--watch");
const production = process.argv.includes("--production");

// model-core keeps its npm dependencies external; the extension bundles them (the .vsix ships no node_modules),
// except the wasm backend's binaries, copied next to the bundle, and optional tfjs-node.
const modelCoreExternals = ["typescript", "elkjs", "commander", "cli-progress"];
// @tensorflow/* stays external, except tfjs-core's gradient registrations: they ship only as extensionless ESM
// (dist/register_all_gradients.js) that Node cannot load from a CJS bundle, so that subtree is bundled (its ops find the
// one engine and kernel registry through tfjs's globals). (An esbuild `external` entry would also cover the subpath.)
const tfjsExternalExceptGradients = {
  name: "tfjs-external-except-gradients",
  setup(build) {
    build.onResolve({ filter: /^@tensorflow\// }, (a) =>
      a.path.startsWith("@tensorflow/tfjs-core/dist/") ? undefined : { path: a.path, external: true },
    );
  },
};
const common = { bundle: true, sourcemap: !production, minify: production, logLevel: "warning", absWorkingDir: root };

const builds = [
  {
    entryPoints: ["model-core/src/index.ts"],
    outfile: "model-core/dist/index.cjs",
    platform: "node",
    format: "cjs",
    target: "node20",
    external: modelCoreExternals,
    plugins: [tfjsExternalExceptGradients],
  },
  {
    entryPoints: ["model-core/src/cli/main.ts"],
    outfile: "model-core/dist/cli.cjs",
    platform: "node",
    format: "cjs",
    target: "node20",
    external: modelCoreExternals,
    plugins: [tfjsExternalExceptGradients],
  },
  {
    entryPoints: ["model-core/src/render/layoutWorker.ts"],
    outfile: "model-core/dist/layoutWorker.cjs",
    platform: "node",
    format: "cjs",
    target: "node20",
    external: modelCoreExternals,
    plugins: [tfjsExternalExceptGradients],
  },
  // Data-parallel training replicas (model-core/src/runtime/parallel.ts finds them next to the bundle that trains).
  {
    entryPoints: ["model-core/src/runtime/replicaWorker.ts"],
    outfile: "model-core/dist/trainReplicaWorker.cjs",
    platform: "node",
    format: "cjs",
    target: "node20",
    external: modelCoreExternals,
    plugins: [tfjsExternalExceptGradients],
  },
  {
    entryPoints: ["extension/src/extension.ts"],
    outfile: "dist/extension.js",
    platform: "node",
    format: "cjs",
    target: "node20",
    external: ["vscode", "@tensorflow/tfjs-node"],
    define: bundledExampleDefine(root),
  },
  {
    entryPoints: ["extension/src/layoutWorker.ts"],
    outfile: "dist/layoutWorker.js",
    platform: "node",
    format: "cjs",
    target: "node20",
    external: ["@tensorflow/tfjs-node"],
  },
  {
    entryPoints: ["extension/src/trainWorker.ts"],
    outfile: "dist/trainWorker.js",
    platform: "node",
    format: "cjs",
    target: "node20",
    external: ["@tensorflow/tfjs-node"],
  },
  {
    entryPoints: ["extension/src/evaluateWorker.ts"],
    outfile: "dist/evaluateWorker.js",
    platform: "node",
    format: "cjs",
    target: "node20",
    external: ["@tensorflow/tfjs-node"],
  },
  {
    entryPoints: ["extension/src/specWorker.ts"],
    outfile: "dist/specWorker.js",
    platform: "node",
    format: "cjs",
    target: "node20",
  },
  {
    entryPoints: ["model-core/src/runtime/replicaWorker.ts"],
    outfile: "dist/trainReplicaWorker.js",
    platform: "node",
    format: "cjs",
    target: "node20",
    external: ["@tensorflow/tfjs-node"],
  },
  // TypeScript server plugin (contributes.typescriptServerPlugins): resolves "resnet-studio" to dist/types/ when it is not installed.
  {
    entryPoints: ["extension/tsserver-plugin/index.ts"],
    outfile: "dist/tsserver-plugin/index.js",
    platform: "node",
    format: "cjs",
    target: "node20",
  },
  {
    entryPoints: ["webview/src/main.ts"],
    outfile: "dist/webview.js",
    platform: "browser",
    format: "iife",
    target: "es2022",
    loader: { ".css": "text" },
  },
  {
    entryPoints: ["webview/src/experimentPage.ts"],
    outfile: "dist/experimentPage.js",
    platform: "browser",
    format: "iife",
    target: "es2022",
  },
  {
    entryPoints: ["webview/src/evaluationPage.ts"],
    outfile: "dist/evaluationPage.js",
    platform: "browser",
    format: "iife",
    target: "es2022",
  },
];

function copyWasmBinaries() {
  const src = join(root, "node_modules/@tensorflow/tfjs-backend-wasm/dist");
  if (!existsSync(src)) return;
  for (const target of ["dist/wasm", "model-core/dist/wasm"]) {
    mkdirSync(join(root, target), { recursive: true });
    for (const f of readdirSync(src)) if (f.endsWith(".wasm")) cpSync(join(src, f), join(root, target, f));
  }
}

// The torch backend's Python runner and the modules it imports (resnet_studio_fast.py, also shipped beside an exported
// train_ddp.py), next to the bundles that start it (dist/ ships in the .vsix).
function copyTorchRunner() {
  const folder = join(root, "model-core/python");
  if (!existsSync(folder)) return;
  const modules = readdirSync(folder).filter((f) => f.endsWith(".py"));
  for (const target of ["dist", "model-core/dist"]) {
    mkdirSync(join(root, target), { recursive: true });
    for (const f of modules) cpSync(join(folder, f), join(root, target, f));
  }
}

function buildDatasets() {
  const script = join(root, "scripts/build-mnist.mjs");
  if (!existsSync(script)) return;
  const r = spawnSync(process.execPath, [script], { stdio: "inherit", cwd: root });
  if (r.status !== 0) throw new Error("build-mnist failed");
}

const present = builds.filter((b) => existsSync(join(root, b.entryPoints[0])));
// The plugin's declaration file (dist/types/resnet-studio.d.ts) and the node_modules/ stub tsserver loads it through.
writeSpecDeclarations(root);
writePluginStub(root);
if (watch) {
  for (const b of present) await (await esbuild.context({ ...common, ...b })).watch();
} else {
  await Promise.all(present.map((b) => esbuild.build({ ...common, ...b })));
  copyWasmBinaries();
  copyTorchRunner();
  buildDatasets();
}

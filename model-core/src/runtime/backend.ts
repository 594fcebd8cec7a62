/**
 * Picks and initialises the TensorFlow.js backend for the runtime.
 * Order for "auto": tfjs-node ("tensorflow", native libtensorflow) when its guarded require works, else wasm
 * (XNNPACK, binaries ship inside the npm package), else the pure-JS cpu backend (correct but far too slow to train:
 * ~144 s for one ResNet-20 step at batch 32 on this machine). The env var RESNET_STUDIO_BACKEND overrides "auto".
 */
import * as tf from "@tensorflow/tfjs-core";
// A named import, not a bare one: the package declares its node bundle side-effect free, so bundlers drop a bare
// import, and with it the registration of the "cpu" backend.
import { version_cpu } from "@tensorflow/tfjs-backend-cpu";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { registerWasmConvKernels } from "./convKernels";
import { BACKEND_SETTINGS, type TfjsBackendName } from "./backendNames";

export type BackendName = TfjsBackendName;
export type BackendChoice = BackendName | "auto";

export interface BackendInfo {
  name: BackendName;
  /** One human line: what is in use and why (e.g. which fallbacks were skipped). */
  detail: string;
}

export const BACKEND_NAMES: readonly BackendName[] = BACKEND_SETTINGS.filter(
  (n): n is BackendName => n !== "auto" && n !== "torch",
);
const WASM_FILE = "tfjs-backend-wasm-simd.wasm";

/** Parses a user-supplied backend name (CLI flag, setting, env var); throws a readable error for anything else. */
export function parseBackendChoice(value: string, origin = "backend"): BackendChoice {
  const v = value.trim().toLowerCase();
  if (v === "auto" || (BACKEND_NAMES as readonly string[]).includes(v)) return v as BackendChoice;
  if (v === "node" || v === "tfjs-node") return "tensorflow";
  throw new Error(`${origin}: unknown backend "${value}" (expected one of: auto, ${BACKEND_NAMES.join(", ")})`);
}

let current: BackendInfo | null = null;
let pending: Promise<BackendInfo> | null = null;
let pendingChoice: BackendChoice | null = null;
let tfjsNodeTried = false;
let tfjsNodeError: string | null = null;
let wasmPathsSet = false;

/** The backend in use, or null before initBackend resolved. */
export function currentBackend(): BackendInfo | null {
  return current;
}

/**
 * Picks and initialises a tfjs backend. Idempotent: a second call with the same (or "auto") choice returns what is
 * in use; an explicit different choice switches. Registers the fast conv-gradient kernels on wasm.
 * An explicit choice that cannot be initialised throws (the caller named it, so silently using another would mislead).
 */
export async function initBackend(preferred: BackendChoice = "auto"): Promise<BackendInfo> {
  let choice = preferred;
  const fromEnv = process.env.RESNET_STUDIO_BACKEND;
  // "torch" selects the PyTorch backend of the CLI commands that have one; tfjs work elsewhere keeps "auto".
  if (choice === "auto" && fromEnv && fromEnv.trim().toLowerCase() !== "torch")
    choice = parseBackendChoice(fromEnv, "RESNET_STUDIO_BACKEND");
  if (current && (choice === "auto" || choice === current.name)) return current;
  if (pending && pendingChoice === choice) return pending;
  pendingChoice = choice;
  pending = select(choice).then(
    (info) => {
      current = info;
      pending = null;
      return info;
    },
    (err: unknown) => {
      pending = null;
      throw err;
    },
  );
  return pending;
}

async function select(choice: BackendChoice): Promise<BackendInfo> {
  if (choice === "tensorflow") {
    if (!loadTfjsNode())
      throw new Error(`backend "tensorflow" unavailable: @tensorflow/tfjs-node could not be loaded (${tfjsNodeError})`);
    await activate("tensorflow");
    return { name: "tensorflow", detail: "tfjs-node (native libtensorflow)" };
  }
  if (choice === "wasm") return activateWasm("");
  if (choice === "cpu") {
    await activate("cpu");
    return { name: "cpu", detail: `pure-JS cpu backend ${version_cpu} (slow: use for checks, not training)` };
  }
  const skipped: string[] = [];
  if (loadTfjsNode()) {
    try {
      await activate("tensorflow");
      return { name: "tensorflow", detail: "tfjs-node (native libtensorflow)" };
    } catch (err) {
      skipped.push(`tfjs-node failed to start: ${messageOf(err)}`);
    }
  } else {
    skipped.push("tfjs-node not installed");
  }
  try {
    return await activateWasm(skipped.join("; "));
  } catch (err) {
    skipped.push(`wasm failed: ${messageOf(err)}`);
  }
  await activate("cpu");
  return {
    name: "cpu",
    detail: `pure-JS cpu backend ${version_cpu} (${skipped.join("; ")}); training will be very slow`,
  };
}

async function activateWasm(skippedNote: string): Promise<BackendInfo> {
  const folder = wasmFolder();
  if (!folder) throw new Error(`no ${WASM_FILE} found (looked in ${wasmFolderCandidates().join(", ")})`);
  if (!wasmPathsSet) {
    // setWasmPaths must run before the backend is first initialised; a prefix ending in "/" selects a folder.
    setWasmPaths(folder.endsWith("/") ? folder : folder + "/");
    wasmPathsSet = true;
  }
  await activate("wasm");
  registerWasmConvKernels();
  const why = skippedNote ? ` (${skippedNote})` : "";
  return {
    name: "wasm",
    detail: `wasm + XNNPACK, single thread, binaries from ${folder}; fast conv gradients registered${why}`,
  };
}

async function activate(name: BackendName): Promise<void> {
  // PROD skips per-op NaN/debug checks and the cpu backend's "install tfjs-node" console banner.
  tf.env().set("PROD", true);
  // The emscripten glue of the wasm module installs process handlers that rethrow any uncaught error, printing a
  // screenful of minified source; drop the ones it adds so errors keep Node's normal (and our CLI's) reporting.
  const before = {
    exception: process.listeners("uncaughtException"),
    rejection: process.listeners("unhandledRejection"),
  };
  const ok = await tf.setBackend(name);
  for (const l of process.listeners("uncaughtException"))
    if (!before.exception.includes(l)) process.removeListener("uncaughtException", l);
  for (const l of process.listeners("unhandledRejection"))
    if (!before.rejection.includes(l)) process.removeListener("unhandledRejection", l);
  if (!ok) throw new Error(`tf.setBackend("${name}") failed`);
  await tf.ready();
}

/** Guarded require: tfjs-node is an optional dependency whose install needs a download that may not be possible. */
function loadTfjsNode(): boolean {
  if (!tfjsNodeTried) {
    tfjsNodeTried = true;
    try {
      // Indirect so bundlers leave it alone (it is marked external) and a missing module is a caught error.
      const req: NodeRequire = require;
      req("@tensorflow/tfjs-node");
    } catch (err) {
      tfjsNodeError = messageOf(err).split("\n")[0];
    }
  }
  return tfjsNodeError === null && tf.findBackend("tensorflow") !== null;
}

function wasmFolderCandidates(): string[] {
  const out: string[] = [];
  if (process.env.RESNET_STUDIO_WASM_DIR) out.push(process.env.RESNET_STUDIO_WASM_DIR);
  // Bundled: scripts/build.mjs copies the binaries next to the bundle (model-core/dist/wasm, dist/wasm).
  if (typeof __dirname === "string") out.push(join(__dirname, "wasm"), join(__dirname, "..", "wasm"));
  try {
    // From source / unbundled: the package's own dist folder.
    out.push(dirname(require.resolve("@tensorflow/tfjs-backend-wasm")));
  } catch {
    /* not resolvable from here (e.g. inside the extension bundle) */
  }
  return out;
}

function wasmFolder(): string | null {
  return wasmFolderCandidates().find((dir) => existsSync(join(dir, WASM_FILE))) ?? null;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

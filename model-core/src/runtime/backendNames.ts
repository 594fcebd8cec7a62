/**
 * The one list of backend names (issue 18): the CLI's --backend values, the resnetStudio.backend setting's enum in
 * package.json, the training worker's protocol type and its validation all come from here
 * (model-core/test/backendNames.test.ts checks that they agree). Plain data: no tfjs, no node APIs.
 */
export const BACKEND_SETTINGS = ["auto", "wasm", "cpu", "tensorflow", "torch"] as const;

/** A backend as a user names it: "auto", a TensorFlow.js backend, or PyTorch in a Python worker. */
export type BackendSetting = (typeof BACKEND_SETTINGS)[number];

/** The TensorFlow.js backends (what runtime/backend.ts can initialise). */
export type TfjsBackendName = Exclude<BackendSetting, "auto" | "torch">;

/** Other spellings people use for the same backends. */
const ALIASES: Record<string, BackendSetting> = { node: "tensorflow", "tfjs-node": "tensorflow", pytorch: "torch" };

export function isBackendSetting(value: unknown): value is BackendSetting {
  return typeof value === "string" && (BACKEND_SETTINGS as readonly string[]).includes(value);
}

/** Parses a user-supplied name (flag, setting, env var); throws a message naming `origin` and the choices. */
export function parseBackendSetting(value: string, origin = "backend"): BackendSetting {
  const v = value.trim().toLowerCase();
  const name = ALIASES[v] ?? v;
  if (isBackendSetting(name)) return name;
  throw new Error(`${origin}: unknown backend "${value}" (expected one of: ${BACKEND_SETTINGS.join(", ")})`);
}

/** "auto | wasm | cpu | tensorflow | torch": the CLI's help text. */
export function backendChoicesText(): string {
  return BACKEND_SETTINGS.join(" | ");
}

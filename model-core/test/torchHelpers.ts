/** The PyTorch the torch-backend tests run against, and their skip rule: a missing torch fails under CI=true (issue 12). */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import type { PythonChoice } from "../src/runtime/torchBackend";
import { testPython } from "../../test/toolSkip";

export const python: PythonChoice = { command: testPython(), origin: "test" };

function probe(): string | null {
  const r = spawnSync(python.command, ["-c", "import torch; print(torch.__version__)"], {
    encoding: "utf8",
    timeout: 60_000,
  });
  return r.status === 0 ? r.stdout.trim() : null;
}
/** torch.__version__ of `python`, or null where it cannot import torch. */
export const torchVersion: string | null = probe();

/** True where torch is there; otherwise skips the test, or fails it when CI=true. */
export function needsTorch(t: { skip: (message: string) => void }): boolean {
  if (torchVersion) return true;
  if (process.env.CI === "true")
    assert.fail(`${python.command} cannot import torch; the torch backend tests must run in CI`);
  t.skip(`${python.command} cannot import torch`);
  return false;
}

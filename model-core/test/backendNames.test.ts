// One list of backend names (issue 18): the resnetStudio.backend setting's enum, the CLI's --backend help of every
// command that has it, the tfjs backend list and the parser all agree with BACKEND_SETTINGS.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BACKEND_SETTINGS, isBackendSetting, parseBackendSetting } from "../src/runtime/backendNames";
import { BACKEND_NAMES } from "../src/runtime/backend";
import { runCliFromSource } from "../../test/cli/harness";

const root = join(__dirname, "..", "..");

test("the setting's enum in package.json is the list of backend names", () => {
  const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    contributes: { configuration: { properties: Record<string, { enum?: string[] }> } };
  };
  assert.deepEqual(manifest.contributes.configuration.properties["resnetStudio.backend"].enum, [...BACKEND_SETTINGS]);
});

test("the tfjs backends are the list without auto and torch", () => {
  assert.deepEqual([...BACKEND_NAMES].sort(), BACKEND_SETTINGS.filter((n) => n !== "auto" && n !== "torch").sort());
});

test("every CLI command with --backend lists exactly the backend names", () => {
  for (const command of ["train", "bench", "gradflow"]) {
    const r = runCliFromSource([command, "--help"]);
    const line = r.stdout.split("\n").find((l) => l.includes("--backend"));
    assert.ok(line, `${command} --help has --backend`);
    assert.ok(line.includes(BACKEND_SETTINGS.join(" | ")), `${command}: ${line}`);
  }
});

test("names parse, with aliases; anything else is refused naming where it came from", () => {
  for (const name of BACKEND_SETTINGS) assert.equal(parseBackendSetting(` ${name.toUpperCase()} `), name);
  assert.equal(parseBackendSetting("pytorch"), "torch");
  assert.equal(parseBackendSetting("tfjs-node"), "tensorflow");
  assert.throws(
    () => parseBackendSetting("jax", "resnetStudio.backend"),
    /resnetStudio\.backend: unknown backend "jax" \(expected one of: auto, wasm, cpu, tensorflow, torch\)/,
  );
  assert.equal(isBackendSetting("torch"), true);
  assert.equal(isBackendSetting("TORCH"), false);
  assert.equal(isBackendSetting(3), false);
  const r = runCliFromSource(["gradflow", "resnet20", "--backend", "jax"]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /unknown backend "jax"/);
});

// The extension manifest declares how it behaves in Restricted Mode and in virtual workspaces.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

interface Manifest {
  capabilities?: {
    untrustedWorkspaces?: { supported: boolean | "limited"; description?: string; restrictedConfigurations?: string[] };
    virtualWorkspaces?: boolean | { supported: boolean | "limited"; description?: string };
  };
  contributes: { configuration: { properties: Record<string, unknown> } };
}

const manifest = JSON.parse(readFileSync(join(__dirname, "..", "package.json"), "utf8")) as Manifest;

test("untrusted workspaces: limited, with every restricted setting a real one and each sizing setting restricted", () => {
  const untrusted = manifest.capabilities?.untrustedWorkspaces;
  assert.equal(untrusted?.supported, "limited");
  assert.ok((untrusted?.description ?? "").length > 20, "a limited declaration needs a description");
  const settings = Object.keys(manifest.contributes.configuration.properties);
  const restricted = untrusted?.restrictedConfigurations ?? [];
  for (const key of restricted) assert.ok(settings.includes(key), `${key} is not a contributed setting`);
  for (const key of [
    "resnetStudio.backend",
    "resnetStudio.trainEpochs",
    "resnetStudio.trainBatchSize",
    "resnetStudio.trainWorkers",
    "resnetStudio.gradientBatch",
  ]) {
    assert.ok(restricted.includes(key), `${key} sizes work and must come from user settings in Restricted Mode`);
  }
});

test("virtual workspaces are declared supported with a reason", () => {
  const virtual = manifest.capabilities?.virtualWorkspaces;
  assert.equal(typeof virtual, "object");
  assert.equal((virtual as { supported: boolean }).supported, true);
  assert.ok(((virtual as { description?: string }).description ?? "").length > 20);
});

test("every command is in the ResNet Studio category, with a title that names what it acts on", () => {
  const commands = (
    manifest.contributes as unknown as { commands: { command: string; title: string; category?: string }[] }
  ).commands;
  const titles = commands.map((c) => c.title);
  assert.equal(new Set(titles).size, titles.length, "titles are unique");
  for (const c of commands) assert.equal(c.category, "ResNet Studio", `${c.command} has the category`);
  // Titles VS Code's own commands start with: "Compare with…" stood beside "Compare Active File with Clipboard".
  for (const generic of [/^Compare with/i, /^Open$/i, /^Export$/i, /^Fit$/i])
    for (const title of titles) assert.doesNotMatch(title, generic, `${title} is ambiguous in the palette`);
  assert.ok(titles.includes("Compare Network with…"));
});

/**
 * The "resnet-studio" declaration file the extension ships for its TypeScript server plugin
 * (extension/tsserver-plugin/build.mjs → dist/types/resnet-studio.d.ts): it compiles on its own (no node, no tfjs
 * types), every example spec type-checks against it, and wrong option types are TypeScript errors.
 * Everything runs in a temp folder without node_modules, so the workspace's own "resnet-studio" package cannot help.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ts from "typescript";
import { specDeclarations } from "../extension/tsserver-plugin/build.mjs";

const root = join(__dirname, "..");
const dir = mkdtempSync(join(tmpdir(), "resnet-studio-typings-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const dts = specDeclarations(ts, root);
const dtsFile = join(dir, "types", "resnet-studio.d.ts");
mkdirSync(join(dir, "types"));
writeFileSync(dtsFile, dts);

const baseOptions: ts.CompilerOptions = {
  strict: true,
  noEmit: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  lib: ["lib.es2022.d.ts"],
  types: [],
  typeRoots: [],
};

function check(rootNames: string[], options: ts.CompilerOptions): { program: ts.Program; messages: string[] } {
  const program = ts.createProgram(rootNames, options);
  const messages = ts.getPreEmitDiagnostics(program).map((d) => {
    const where =
      d.file && d.start !== undefined
        ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: `
        : "";
    return `${where}TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
  });
  return { program, messages };
}

/** Specs import "resnet-studio"; `paths` maps it to the shipped declaration file, as the tsserver plugin does. */
const mapped: ts.CompilerOptions = { ...baseOptions, paths: { "resnet-studio": [dtsFile] } };

function writeSpec(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

test("the declaration file is self-contained: no imports, no references, no node or tfjs types", () => {
  assert.doesNotMatch(dts, /^\s*import\b|\bimport\s*\(|\/\/\/\s*<reference|@tensorflow|tfjs|node:|NodeJS|Buffer\b/m);
  for (const name of [
    "resnet",
    "stage",
    "presets",
    "ResNetOptions",
    "StageOptions",
    "BlockKind",
    "PresetName",
    "PresetOverrides",
  ]) {
    assert.match(dts, new RegExp(`^export \\{[^}]*\\b${name}\\b`, "m"), `${name} is not exported`);
  }
  // Standalone, with only the ES library: lib checks on, no @types at all.
  const { messages } = check([dtsFile], { ...baseOptions, skipLibCheck: false });
  assert.deepEqual(messages, []);
});

test("every example spec type-checks against the declaration file", () => {
  const examples = readdirSync(join(root, "examples")).filter((f) => f.endsWith(".resnet.ts"));
  assert.ok(examples.length >= 5, `too few examples: ${examples.join(", ")}`);
  const files = examples.map((f) => {
    copyFileSync(join(root, "examples", f), join(dir, f));
    return join(dir, f);
  });
  const { program, messages } = check(files, mapped);
  assert.deepEqual(messages, []);
  // The import really resolved to the shipped file (not to any installed package).
  assert.ok(program.getSourceFile(dtsFile), "the declaration file is not part of the program");
  for (const file of files) {
    const sf = program.getSourceFile(file)!;
    assert.ok(
      sf.statements.some(
        (s) => ts.isImportDeclaration(s) && (s.moduleSpecifier as ts.StringLiteral).text === "resnet-studio",
      ),
      `${file} does not import resnet-studio`,
    );
    assert.equal(
      ts.resolveModuleName("resnet-studio", file, mapped, ts.sys).resolvedModule?.resolvedFileName,
      dtsFile,
      file,
    );
  }
});

test("wrong option types are TypeScript errors", () => {
  const bad = writeSpec(
    "bad.resnet.ts",
    `import { resnet, stage, presets } from "resnet-studio";
export default resnet({
  block: "triangle",
  stages: [stage({ channels: "64", blocks: 2 })],
});
export const p = presets.resnet50({ classes: "ten" });
export const q = presets.resnet51();
`,
  );
  const { messages } = check([bad], mapped);
  assert.ok(
    messages.some((m) => /bad\.resnet\.ts:3: TS2322: Type '"triangle"' is not assignable to type 'BlockKind/.test(m)),
    messages.join("\n"),
  );
  assert.ok(
    messages.some((m) => /bad\.resnet\.ts:4: TS2322: Type 'string' is not assignable to type 'number'/.test(m)),
    messages.join("\n"),
  );
  assert.ok(
    messages.some((m) => /bad\.resnet\.ts:6: TS2322: Type 'string' is not assignable to type 'number'/.test(m)),
    messages.join("\n"),
  );
  assert.ok(
    messages.some((m) =>
      /bad\.resnet\.ts:7: TS2339?: Property 'resnet51' does not exist|bad\.resnet\.ts:7: TS2551/.test(m),
    ),
    messages.join("\n"),
  );
  assert.equal(messages.length, 4, messages.join("\n"));
});

test("only the spec API is exported: model-core internals stay private", () => {
  const internal = writeSpec(
    "internal.resnet.ts",
    `import { normalizeSpec, SpecError, IMAGENET_NETS } from "resnet-studio";
export { normalizeSpec, SpecError, IMAGENET_NETS };
`,
  );
  const { messages } = check([internal], mapped);
  for (const name of ["normalizeSpec", "SpecError", "IMAGENET_NETS"]) {
    assert.ok(
      messages.some((m) => m.includes(`'${name}'`) && /has no exported member|declares '\w+' locally/.test(m)),
      `${name} is importable:\n${messages.join("\n")}`,
    );
  }
});

// The TextMate grammar for .resnet.ts files: valid JSON, compilable regexes (JS RegExp approximates Oniguruma),
// and in step with the spec language's names.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PRESET_NAMES } from "../model-core/src/spec/presets";
import { BLOCK_KINDS, NORM_KINDS, SHORTCUT_OPTIONS, SHORTCUT_VARIANT_KINDS, STEM_KINDS } from "../model-core/src/spec/builders";

const grammarPath = join(__dirname, "..", "syntaxes/resnet-spec.tmLanguage.json");

interface Rule {
  match?: string;
  begin?: string;
  end?: string;
  include?: string;
  patterns?: Rule[];
  captures?: Record<string, { name: string }>;
  name?: string;
}

interface Grammar {
  scopeName: string;
  patterns: Rule[];
  injections: Record<string, Rule>;
  repository: Record<string, Rule>;
}

const grammar = JSON.parse(readFileSync(grammarPath, "utf8")) as Grammar;

function* rules(rule: Rule): Generator<Rule> {
  yield rule;
  for (const child of rule.patterns ?? []) yield* rules(child);
}
const allRules = [...Object.values(grammar.repository), ...Object.values(grammar.injections), ...grammar.patterns].flatMap((r) => [...rules(r)]);

/** Oniguruma-only constructs JS cannot compile; such regexes are skipped rather than misjudged. */
const ONIGURUMA_ONLY = /\\[GhHAzZ]|\(\?[imx-]+\)|\\p\{|\(\?~/;

function regex(source: string): RegExp | null {
  return ONIGURUMA_ONLY.test(source) ? null : new RegExp(source, "u");
}

function rule(name: string): RegExp[] {
  const found = [...rules(grammar.repository[name]!)].filter((r) => r.match).map((r) => regex(r.match!)!);
  assert.ok(found.length > 0, name);
  return found;
}

test("grammar is valid, names source.resnet-spec and builds on source.ts", () => {
  assert.equal(grammar.scopeName, "source.resnet-spec");
  assert.ok(grammar.patterns.some((p) => p.include === "source.ts"));
  assert.ok(Object.keys(grammar.injections).every((selector) => selector.includes("source.resnet-spec")));
  const manifest = JSON.parse(readFileSync(join(__dirname, "..", "package.json"), "utf8")) as { contributes: { grammars: { scopeName: string; path: string }[] } };
  const entry = manifest.contributes.grammars.find((g) => g.scopeName === grammar.scopeName);
  assert.equal(entry?.path, "./syntaxes/resnet-spec.tmLanguage.json");
});

test("every regex compiles and every local include resolves", () => {
  let compiled = 0;
  for (const r of allRules) {
    for (const source of [r.match, r.begin, r.end]) {
      if (source === undefined) continue;
      assert.doesNotThrow(() => regex(source), source);
      if (regex(source)) compiled++;
    }
    if (r.include?.startsWith("#")) assert.ok(grammar.repository[r.include.slice(1)], `missing ${r.include}`);
    for (const capture of Object.values(r.captures ?? {})) assert.match(capture.name, /^[\w.-]+( [\w.-]+)*$/);
  }
  assert.ok(compiled >= 8, `${compiled} regexes compiled`);
});

test("scopes what a spec contains", () => {
  const [builder] = rule("builder-call");
  assert.deepEqual("export default resnet({".match(builder!)?.[1], "resnet");
  assert.deepEqual("  stage ({ channels: 64".match(builder!)?.[1], "stage");
  assert.equal("const resnetLike = 1".match(builder!), null);

  const [knownPreset, anyPreset] = rule("preset-call");
  assert.equal("presets.resnet50({ classes: 2 })".match(knownPreset!)?.[3], "resnet50");
  assert.equal("presets.resnet5({".match(knownPreset!), null, "a prefix of a preset name is not a preset");
  assert.equal("presets.resnet5({".match(anyPreset!)?.[3], "resnet5");

  const enums = rule("enum-values");
  const enumValue = (text: string) => enums.map((r) => text.match(r)?.[4]).find(Boolean);
  assert.equal(enumValue('block: "bottleneck",'), "bottleneck");
  assert.equal(enumValue("shortcut: 'A'"), "A");
  assert.equal(enumValue('shortcut: "A\''), undefined, "quotes must match");
  assert.equal(enumValue('shortcutVariant: "exclusiveGating"'), "exclusiveGating");
  assert.equal(enumValue('block: "bottleneckk"'), undefined);

  const keys = rule("option-keys");
  const key = (text: string) => keys.map((r) => text.match(r)?.[1]).find(Boolean);
  assert.equal(key("  widthPerGroup: 4,"), "widthPerGroup");
  assert.equal(key("stage({ channels: 64"), "channels");
  assert.equal(key("const channels = 3"), undefined);
});

test("grammar lists exactly the spec language's presets and enum values", () => {
  const text = readFileSync(grammarPath, "utf8");
  const presetAlternatives = /presets\)\\\\s\*\(\\\\\.\)\\\\s\*\(([^)]*)\)/.exec(text)?.[1]?.split("|") ?? [];
  assert.deepEqual([...presetAlternatives].sort(), [...PRESET_NAMES].sort());
  const enums = rule("enum-values");
  for (const value of [...STEM_KINDS, ...BLOCK_KINDS, ...SHORTCUT_OPTIONS, ...NORM_KINDS, ...SHORTCUT_VARIANT_KINDS]) {
    assert.ok(enums.some((r) => new RegExp(`\\(([^()]*\\|)?${value}(\\|[^()]*)?\\)`).test(r.source)), `enum value ${value} missing`);
  }
});

test("tokenized with VS Code's own TextMate engine, the injection scopes builders, keys and enum values", async () => {
  const textmate = await import("vscode-textmate");
  const oniguruma = await import("vscode-oniguruma");
  const wasm = readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm"));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const tsGrammarPath = require.resolve("tm-grammars/grammars/typescript.json");
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns: string[]) => new oniguruma.OnigScanner(patterns),
      createOnigString: (text: string) => new oniguruma.OnigString(text),
    }),
    loadGrammar: async (scopeName: string) => {
      if (scopeName === "source.resnet-spec") return textmate.parseRawGrammar(readFileSync(grammarPath, "utf8"), grammarPath);
      if (scopeName === "source.ts") return textmate.parseRawGrammar(readFileSync(tsGrammarPath, "utf8"), tsGrammarPath);
      return null;
    },
  });
  const specGrammar = await registry.loadGrammar("source.resnet-spec");
  assert.ok(specGrammar);
  const source = [
    'import { resnet, stage, presets } from "resnet-studio";',
    "// resnet({ block: \"basic\" }) in a comment stays a comment",
    "export default resnet({",
    '  block: "bottleneck",',
    "  stages: [stage({ channels: 64, blocks: 3 })],",
    '  shortcut: "A",',
    "});",
    "const p = presets.resnet50({ classes: 2 });",
  ];
  /** Scopes of each token text, line by line. */
  const tokens: { line: number; text: string; scopes: string[] }[] = [];
  let state = textmate.INITIAL;
  source.forEach((line, i) => {
    const result = specGrammar.tokenizeLine(line, state);
    for (const t of result.tokens) tokens.push({ line: i, text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes });
    state = result.ruleStack;
  });
  const scopesOf = (line: number, text: string) => tokens.find((t) => t.line === line && t.text === text)?.scopes.join(" ") ?? `(no token "${text}" on line ${line})`;
  assert.match(scopesOf(2, "resnet"), /entity\.name\.function\.builder\.resnet-spec/);
  assert.match(scopesOf(3, "block"), /support\.type\.property-name\.option\.resnet-spec/);
  assert.match(scopesOf(3, "bottleneck"), /constant\.language\.block\.resnet-spec/);
  assert.match(scopesOf(4, "stage"), /entity\.name\.function\.builder\.resnet-spec/);
  assert.match(scopesOf(4, "channels"), /support\.type\.property-name\.stage\.resnet-spec/);
  assert.match(scopesOf(5, "A"), /constant\.language\.shortcut\.resnet-spec/);
  assert.match(scopesOf(7, "resnet50"), /entity\.name\.function\.preset\.resnet-spec/);
  // The rest is still TypeScript, and comments are left alone.
  assert.match(scopesOf(7, "const"), /storage\.type.*\.ts/);
  const comment = tokens.filter((t) => t.line === 1);
  assert.ok(comment.every((t) => t.scopes.some((s) => s.startsWith("comment")) && !t.scopes.some((s) => s.endsWith(".resnet-spec") && s !== "source.resnet-spec")), JSON.stringify(comment));
});

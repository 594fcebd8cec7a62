// The TextMate grammars for .resnet.ts specs: two injections into TypeScript's source.ts (the files keep the
// typescript language). syntaxes/resnet-spec-module.tmLanguage.json opens a meta.resnet-spec region from an import of
// "resnet-studio" on; syntaxes/resnet-spec.tmLanguage.json scopes builders, presets, keys and enum values inside it.
// Checked as JSON (valid, compilable regexes, in step with the spec language's names) and with VS Code's own engine.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PRESET_NAMES } from "../model-core/src/spec/presets";
import {
  BLOCK_KINDS,
  NORM_KINDS,
  SHORTCUT_OPTIONS,
  SHORTCUT_VARIANT_KINDS,
  STEM_KINDS,
} from "../model-core/src/spec/builders";

const grammarPath = join(__dirname, "..", "syntaxes/resnet-spec.tmLanguage.json");
const modulePath = join(__dirname, "..", "syntaxes/resnet-spec-module.tmLanguage.json");
const SPEC_SCOPE = "source.resnet-spec";
const MODULE_SCOPE = "source.resnet-spec.module";

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
  injectionSelector?: string;
  patterns: Rule[];
  injections?: Record<string, Rule>;
  repository: Record<string, Rule>;
}

const grammar = JSON.parse(readFileSync(grammarPath, "utf8")) as Grammar;
const moduleGrammar = JSON.parse(readFileSync(modulePath, "utf8")) as Grammar;

function* rules(rule: Rule): Generator<Rule> {
  yield rule;
  for (const child of rule.patterns ?? []) yield* rules(child);
}
const rulesOf = (g: Grammar) =>
  [...Object.values(g.repository), ...Object.values(g.injections ?? {}), ...g.patterns].flatMap((r) => [...rules(r)]);

/** Oniguruma-only constructs JS cannot compile; such regexes are skipped rather than misjudged. */
const ONIGURUMA_ONLY = /\\[GhHAzZ]|\(\?[imx-]+\)|\\p\{|\(\?~/;

function regex(source: string): RegExp | null {
  return ONIGURUMA_ONLY.test(source) ? null : new RegExp(source, "u");
}

function rule(name: string): RegExp[] {
  const found = [...rules(grammar.repository[name])].filter((r) => r.match).map((r) => regex(r.match!)!);
  assert.ok(found.length > 0, name);
  return found;
}

test("both grammars are injections into source.ts, contributed as such; no resnet-spec language", () => {
  assert.equal(grammar.scopeName, SPEC_SCOPE);
  assert.equal(moduleGrammar.scopeName, MODULE_SCOPE);
  // VS Code ignores the `injections` key of an injection grammar (only the root grammar's count): hence two files.
  assert.equal(grammar.injections, undefined);
  assert.equal(moduleGrammar.injections, undefined);
  assert.equal(grammar.injectionSelector, "L:meta.resnet-spec -comment -string");
  // Only at the top level of a TypeScript file, so the region never opens inside itself (or inside an import).
  assert.equal(moduleGrammar.injectionSelector, "L:source.ts -meta -comment -string");
  const region = moduleGrammar.repository["spec-module"];
  assert.equal(region.name, "meta.resnet-spec");
  assert.deepEqual(region.patterns, [{ include: "source.ts" }]);
  assert.ok(
    !grammar.patterns.some((p) => p.include === "source.ts"),
    "the spec scopes must not pull in all of TypeScript",
  );

  const manifest = JSON.parse(readFileSync(join(__dirname, "..", "package.json"), "utf8")) as {
    activationEvents: string[];
    contributes: {
      languages?: { id: string }[];
      grammars: { scopeName: string; path: string; language?: string; injectTo?: string[] }[];
    };
  };
  assert.ok(
    !(manifest.contributes.languages ?? []).some((l) => l.id === "resnet-spec"),
    "a resnet-spec language takes *.resnet.ts away from TypeScript",
  );
  assert.ok(!manifest.activationEvents.some((e) => e.includes("resnet-spec")));
  for (const [scopeName, path] of [
    [SPEC_SCOPE, "./syntaxes/resnet-spec.tmLanguage.json"],
    [MODULE_SCOPE, "./syntaxes/resnet-spec-module.tmLanguage.json"],
  ]) {
    const entry = manifest.contributes.grammars.find((g) => g.scopeName === scopeName);
    assert.equal(entry?.path, path, scopeName);
    assert.deepEqual(entry?.injectTo, ["source.ts"], scopeName);
    assert.equal(entry?.language, undefined, `${scopeName} is an injection, not a language's grammar`);
  }
  assert.match(
    readFileSync(join(__dirname, "..", ".vscodeignore"), "utf8"),
    /^!syntaxes\/\*\*$/m,
    ".vsix must ship syntaxes/",
  );
});

test("every regex compiles and every local include resolves", () => {
  let compiled = 0;
  for (const [g, r] of [grammar, moduleGrammar].flatMap((g) => rulesOf(g).map((r) => [g, r] as const))) {
    for (const source of [r.match, r.begin, r.end]) {
      if (source === undefined) continue;
      assert.doesNotThrow(() => regex(source), source);
      if (regex(source)) compiled++;
    }
    if (r.include?.startsWith("#")) assert.ok(g.repository[r.include.slice(1)], `missing ${r.include}`);
    for (const capture of Object.values(r.captures ?? {})) assert.match(capture.name, /^[\w.-]+( [\w.-]+)*$/);
  }
  assert.ok(compiled >= 8, `${compiled} regexes compiled`);
});

test("scopes what a spec contains", () => {
  const [builder] = rule("builder-call");
  assert.deepEqual("export default resnet({".match(builder)?.[1], "resnet");
  assert.deepEqual("  stage ({ channels: 64".match(builder)?.[1], "stage");
  assert.equal("const resnetLike = 1".match(builder), null);

  const [knownPreset, anyPreset] = rule("preset-call");
  assert.equal("presets.resnet50({ classes: 2 })".match(knownPreset)?.[3], "resnet50");
  assert.equal("presets.resnet5({".match(knownPreset), null, "a prefix of a preset name is not a preset");
  assert.equal("presets.resnet5({".match(anyPreset)?.[3], "resnet5");

  const enums = rule("enum-values");
  const enumValue = (text: string) => enums.map((r) => text.match(r)?.[4]).find(Boolean);
  assert.equal(enumValue('block: "bottleneck",'), "bottleneck");
  assert.equal(enumValue("shortcut: 'A'"), "A");
  assert.equal(enumValue("shortcut: \"A'"), undefined, "quotes must match");
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
    assert.ok(
      enums.some((r) => new RegExp(`\\(([^()]*\\|)?${value}(\\|[^()]*)?\\)`).test(r.source)),
      `enum value ${value} missing`,
    );
  }
});

// ---- With VS Code's own TextMate engine (vscode-textmate + vscode-oniguruma) and the TypeScript grammar it ships. ----

type Token = { line: number; start: number; end: number; text: string; scopes: string[] };
type Tokenize = (text: string) => Token[];

let wasmLoaded: Promise<void> | null = null;

/** A tokenizer for source.ts, as VS Code builds it: with our two injections (package.json `injectTo`), or without. */
async function typescriptTokenizer(withInjections: boolean): Promise<Tokenize> {
  const textmate = await import("vscode-textmate");
  const oniguruma = await import("vscode-oniguruma");
  wasmLoaded ??= (async () => {
    const wasm = readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm"));
    await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  })();
  await wasmLoaded;
  const manifest = JSON.parse(readFileSync(join(__dirname, "..", "package.json"), "utf8")) as {
    contributes: { grammars: { scopeName: string; path: string; injectTo?: string[] }[] };
  };
  const paths = new Map<string, string>([["source.ts", require.resolve("tm-grammars/grammars/typescript.json")]]);
  for (const g of manifest.contributes.grammars) paths.set(g.scopeName, join(__dirname, "..", g.path));
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns: string[]) => new oniguruma.OnigScanner(patterns),
      createOnigString: (text: string) => new oniguruma.OnigString(text),
    }),
    loadGrammar: (scopeName: string) => {
      const path = paths.get(scopeName);
      return Promise.resolve(path ? textmate.parseRawGrammar(readFileSync(path, "utf8"), path) : null);
    },
    getInjections: (scopeName: string) =>
      withInjections
        ? manifest.contributes.grammars.filter((g) => g.injectTo?.includes(scopeName)).map((g) => g.scopeName)
        : undefined,
  });
  const ts = await registry.loadGrammar("source.ts");
  assert.ok(ts);
  return (text) => {
    const tokens: Token[] = [];
    let state = textmate.INITIAL;
    text.split("\n").forEach((line, i) => {
      const result = ts.tokenizeLine(line, state);
      for (const t of result.tokens)
        tokens.push({
          line: i,
          start: t.startIndex,
          end: t.endIndex,
          text: line.slice(t.startIndex, t.endIndex),
          scopes: t.scopes,
        });
      state = result.ruleStack;
    });
    return tokens;
  };
}

const injected = typescriptTokenizer(true);
const plainTypescript = typescriptTokenizer(false);

/** Scopes our grammars add: the spec scopes and the meta.resnet-spec region. */
const isOurs = (scope: string) => scope.endsWith(".resnet-spec");
const isSpecScope = (scope: string) => isOurs(scope) && scope !== "meta.resnet-spec";

function scopesOf(tokens: Token[], line: number, text: string): string {
  return (
    tokens.find((t) => t.line === line && t.text === text)?.scopes.join(" ") ?? `(no token "${text}" on line ${line})`
  );
}

const SPEC = [
  'import { resnet, stage, presets } from "resnet-studio";',
  '// resnet({ block: "basic" }) in a comment stays a comment',
  "export default resnet({",
  '  block: "bottleneck",',
  "  stages: [stage({ channels: 64, blocks: 3 })],",
  '  shortcut: "A",',
  "});",
  "const p = presets.resnet50({ classes: 2 });",
  "const q = presets.resnet5({ name: 'x' });",
].join("\n");

test("in a TypeScript file importing resnet-studio, the injections scope builders, presets, keys and enum values", async () => {
  const tokens = (await injected)(SPEC);
  const at = (line: number, text: string) => scopesOf(tokens, line, text);
  assert.match(at(2, "resnet"), /entity\.name\.function\.builder\.resnet-spec/);
  assert.match(at(3, "block"), /support\.type\.property-name\.option\.resnet-spec/);
  assert.match(at(3, "bottleneck"), /constant\.language\.block\.resnet-spec/);
  assert.match(at(4, "stage"), /entity\.name\.function\.builder\.resnet-spec/);
  assert.match(at(4, "channels"), /support\.type\.property-name\.stage\.resnet-spec/);
  assert.match(at(5, "A"), /constant\.language\.shortcut\.resnet-spec/);
  assert.match(at(7, "resnet50"), /entity\.name\.function\.preset\.resnet-spec/);
  assert.match(at(8, "resnet5"), /invalid\.illegal\.unknown-preset\.resnet-spec/);
  // The rest is still TypeScript, with the region's meta scope; comments are left alone.
  assert.match(at(7, "const"), /^source\.ts meta\.resnet-spec .*storage\.type.*\.ts/);
  assert.match(at(4, "64"), /constant\.numeric\.decimal\.ts/);
  const comment = tokens.filter((t) => t.line === 1);
  assert.ok(
    comment.every((t) => t.scopes.some((s) => s.startsWith("comment")) && !t.scopes.some(isSpecScope)),
    JSON.stringify(comment),
  );
});

test("multi-line, namespace, default and type imports of resnet-studio open the spec region; text before it stays plain", async () => {
  const tokenize = await injected;
  const multiLine = tokenize(
    [
      '// header: resnet({ block: "basic" })',
      "const before = stage({ channels: 8 });",
      "import {",
      "  resnet,",
      "  stage,",
      '} from "resnet-studio"',
      'export default resnet({ block: "basic", stages: [stage({ channels: 8 })] });',
    ].join("\n"),
  );
  assert.ok(
    multiLine.filter((t) => t.line <= 5).every((t) => !t.scopes.some(isOurs)),
    "the region opens after the import",
  );
  assert.match(
    scopesOf(multiLine, 6, "resnet"),
    /^source\.ts meta\.resnet-spec .*entity\.name\.function\.builder\.resnet-spec/,
  );
  assert.match(scopesOf(multiLine, 6, "basic"), /constant\.language\.block\.resnet-spec/);
  assert.match(scopesOf(multiLine, 6, "stage"), /entity\.name\.function\.builder\.resnet-spec/);

  const namespace = tokenize(
    ['import * as rs from "resnet-studio";', "export default rs.resnet({ stages: [rs.stage({ channels: 8 })] });"].join(
      "\n",
    ),
  );
  assert.match(scopesOf(namespace, 1, "resnet"), /entity\.name\.function\.builder\.resnet-spec/);
  assert.match(scopesOf(namespace, 1, "stage"), /entity\.name\.function\.builder\.resnet-spec/);
  assert.match(scopesOf(namespace, 1, "channels"), /support\.type\.property-name\.stage\.resnet-spec/);

  for (const header of [
    'import rs from "resnet-studio"',
    "import type { ResNetOptions } from 'resnet-studio'; // types",
    '  import { resnet } from "resnet-studio";',
  ]) {
    const tokens = tokenize(`${header}\nconst o = { block: "basic" };`);
    assert.match(scopesOf(tokens, 1, "basic"), /constant\.language\.block\.resnet-spec/, header);
  }
});

test("a TypeScript file without a resnet-studio import gets none of the spec scopes", async () => {
  const text = [
    "// resnet-studio is mentioned in a comment only",
    'import { resnet, stage, presets } from "./local-resnet-studio";',
    'import other from "resnet-studio-extra";',
    'const cfg = { name: "x", block: "basic", stages: [] };',
    'export default resnet({ name: "x", block: "basic", stages: [stage({ channels: 64 })], shortcut: "A" });',
    "const p = presets.resnet50({ classes: 2 });",
    'const s = "resnet-studio";',
    'log("resnet-studio");',
    '"resnet-studio";',
    'const t = `import { resnet } from "resnet-studio"`;',
  ].join("\n");
  const tokens = (await injected)(text);
  const ours = tokens.filter((t) => t.scopes.some(isOurs));
  assert.deepEqual(ours, [], "spec scopes in a plain TypeScript file");
  // Same tokens as TypeScript alone.
  assert.deepEqual(tokens, (await plainTypescript)(text));
});

test("in a spec, the injections keep TypeScript's tokens: same segmentation, same scopes apart from the added ones", async () => {
  const examples = join(__dirname, "..", "examples");
  const specs = [
    ["inline", SPEC],
    ...(await import("node:fs"))
      .readdirSync(examples)
      .filter((f) => f.endsWith(".resnet.ts"))
      .map((f) => [f, readFileSync(join(examples, f), "utf8")]),
  ];
  assert.ok(specs.length >= 5);
  const tokenTypeOf = (scopes: string[]) =>
    /\b(comment|string|regex|meta\.embedded)\b/.exec(scopes.join(" "))?.[1] ?? "other";
  for (const [name, text] of specs) {
    const withSpec = (await injected)(text);
    const without = (await plainTypescript)(text);
    assert.deepEqual(
      withSpec.map((t) => [t.line, t.start, t.end]),
      without.map((t) => [t.line, t.start, t.end]),
      `${name}: token boundaries differ`,
    );
    let specTokens = 0;
    withSpec.forEach((t, i) => {
      const plain = without[i];
      const where = `${name} ${t.line + 1}:${t.start + 1} "${t.text}"`;
      // What VS Code derives from scopes (string/comment/regex/other: brackets, auto-closing quotes) stays the same.
      assert.equal(tokenTypeOf(t.scopes), tokenTypeOf(plain.scopes), where);
      if (t.scopes.some(isSpecScope)) {
        specTokens++;
        // A spec token keeps TypeScript's enclosing scopes (object member, key, function call) around its own.
        const kept = plain.scopes.filter((s) => s.startsWith("meta.") || s === "source.ts");
        const have = t.scopes.filter((s) => s !== "meta.resnet-spec");
        assert.ok(
          kept.every((s) => have.includes(s)),
          `${where}: lost TypeScript scopes\n  without: ${plain.scopes.join(" ")}\n  with:    ${t.scopes.join(" ")}`,
        );
      } else {
        assert.deepEqual(
          t.scopes.filter((s) => s !== "meta.resnet-spec"),
          plain.scopes,
          where,
        );
      }
    });
    assert.ok(specTokens >= 5, `${name}: only ${specTokens} spec tokens (is the region open?)`);
    assert.ok(
      withSpec
        .filter((t) => t.text.trim())
        .at(-1)!
        .scopes.includes("meta.resnet-spec"),
      `${name}: the region must reach the end`,
    );
  }
});

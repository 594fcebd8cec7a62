import { test } from "node:test";
import assert from "node:assert/strict";
import { analyzeSpecText } from "../src/specAnalysis";
import { loadSpec, parseShapeArg, similarPresetNames } from "../src/load";
import type { Diagnostic } from "../src/diagnostics";

const IMPORT = 'import { resnet, stage, presets } from "resnet-studio";\n';

function parse(body: string) {
  return analyzeSpecText(IMPORT + body, "spec.resnet.ts");
}

function errors(diagnostics: Diagnostic[]): Diagnostic[] {
  return diagnostics.filter((d) => d.severity === "error");
}

/** "line:col message" of each error, for compact assertions. */
function located(diagnostics: Diagnostic[]): string[] {
  return errors(diagnostics).map((d) => `${d.range?.line}:${d.range?.column} ${d.message}`);
}

test("evaluates literals, arithmetic, consts, spreads and type-only syntax", () => {
  const r = parse(`
type Width = number;
const base: Width = 8;
const common = { blocks: 1_000 / 1000, stride: 2 } as const;
const more = [stage({ ...common, channels: base * 2 ** 2 })];
export default resnet({
  name: "Net" + "-" + 3,
  input: [1, 28, (30 - 2) % 29] satisfies number[],
  stem: "cifar",
  stages: [stage({ channels: base, blocks: 2 }), stage({ ...common, channels: -(-base * 2) }), ...more],
  classes: 1e1,
  zeroInitResidual: !!true ? true : false,
});
`);
  // `!!true ? ... : ...` is outside the subset: exactly that one error, everything else evaluated.
  assert.deepEqual(
    located(r.diagnostics).map((m) => m.split(" ")[0]),
    ["13:21"],
  );
  assert.match(errors(r.diagnostics)[0].message, /conditional/);

  const ok = parse(`
const base = 8;
const common = { blocks: 1_000 / 1000, stride: 2 } as const;
export default resnet({
  name: "Net" + "-" + 3,
  input: [1, 28, (30 - 2) % 29] satisfies number[],
  stem: "cifar",
  stages: [stage({ channels: base, blocks: 2 }), stage({ ...common, channels: -(-base * 2) }), stage({ ...common, channels: base * 2 ** 2 })],
  classes: 1e1,
});
`);
  assert.deepEqual(errors(ok.diagnostics), []);
  assert.ok(ok.spec && ok.graph);
  assert.equal(ok.spec.name, "Net-3");
  assert.deepEqual(ok.spec.input, [1, 28, 28]);
  assert.deepEqual(ok.spec.stages, [
    { channels: 8, blocks: 2, stride: 1 },
    { channels: 16, blocks: 1, stride: 2 },
    { channels: 32, blocks: 1, stride: 2 },
  ]);
  assert.equal(ok.spec.classes, 10);
});

test("source map keys follow option paths and point at the written text", () => {
  const text =
    IMPORT +
    `const w = 16;
export default resnet({
  stages: [stage({ channels: w, blocks: 1 }), stage({ channels: 32, blocks: 1 })],
});
`;
  const r = analyzeSpecText(text, "a.resnet.ts");
  const at = (key: string) => {
    const range = r.sources.get(key);
    assert.ok(range, `no source for "${key}"`);
    return text.slice(range.startOffset, range.endOffset);
  };
  assert.match(at(""), /^resnet\(\{/);
  assert.equal(at("stages.0"), "stage({ channels: w, blocks: 1 })");
  assert.equal(at("stages.0.channels"), "w");
  assert.equal(at("stages.1.channels"), "32");
  assert.equal(r.sources.get("stages.1.channels")?.line, 4);
  // Graph nodes carry the range of the stage that produced them.
  const conv = r.graph?.nodes.find((n) => n.id === "layer2.0.conv1");
  assert.equal(conv?.source?.line, 4);
});

test("reports every error in one pass, each located", () => {
  const r = parse(`let depth = 20;
export default resnet({
  name: \`ResNet-\${depth}\`,
  block: "bottleneckk",
  stages: [stage({ channels: -1, blocks: Math.random() }), stage({ channels: 16, blocks: 1, strid: 2 })],
});
`);
  const got = located(r.diagnostics);
  // Sorted by position: evaluation errors and validation errors interleave.
  assert.equal(got.length, 6, got.join("\n"));
  assert.match(got[0], /^2:1 `let`/);
  assert.match(got[1], /^4:9 template literals/);
  assert.match(got[2], /^5:10 unknown block "bottleneckk"/);
  assert.match(got[3], /^6:30 channels must be a positive integer, got -1/);
  assert.match(got[4], /^6:42 calls to Math\.random/);
  assert.match(got[5], /^6:93 unknown key "strid"; did you mean "stride"\?/);
  assert.ok(!got.some((m) => /blocks/.test(m) && /needs/.test(m)), "no cascade from the invalid blocks value");
  assert.equal(r.spec, null);
});

test("unknown stage key is reported at the key with a suggestion", () => {
  const r = parse(`export default resnet({ stages: [stage({ channels: 16, blocks: 1, strid: 2 })] });\n`);
  const got = located(r.diagnostics);
  assert.deepEqual(got, ['2:67 unknown key "strid"; did you mean "stride"?']);
});

test("syntax errors are located and parsing goes on", () => {
  const r = parse(`export default resnet({
  stages: [stage({ channels: 16 blocks: 1 })],
  classes: "ten",
});
`);
  const got = located(r.diagnostics);
  assert.ok(
    got.some((m) => m.startsWith("3:33 syntax error: ',' expected")),
    got.join("\n"),
  );
  assert.ok(
    got.some((m) => m.startsWith("4:12 classes must be a positive integer")),
    got.join("\n"),
  );
});

test("the file is never executed", () => {
  const r = parse(`process.exit(3);
const x = require("fs");
export default resnet({ stages: [stage({ channels: eval("16"), blocks: 1 })] });
`);
  const got = located(r.diagnostics);
  assert.equal(got.length, 3, got.join("\n"));
  assert.match(got[0], /^2:1 expression statements are not allowed/);
  assert.match(got[1], /^3:11 calls to require/);
  assert.match(got[2], /^4:52 calls to eval/);
});

test("presets with overrides map override keys to their source", () => {
  const text = IMPORT + `export default presets.resnet50({ classes: 2, input: [3, 32, 32], name: "cats" });\n`;
  const r = analyzeSpecText(text, "p.resnet.ts");
  assert.deepEqual(errors(r.diagnostics), []);
  assert.equal(r.spec?.block, "bottleneck");
  assert.equal(r.spec?.classes, 2);
  assert.deepEqual(r.graph?.output, [2]);
  const classes = r.sources.get("classes")!;
  assert.equal(text.slice(classes.startOffset, classes.endOffset), "2");
  const bad = parse(`export default presets.resnet18({ classes: 0 });\n`);
  assert.deepEqual(located(bad.diagnostics), ["2:44 classes must be a positive integer, got 0"]);
});

test("namespace imports and a const holding the network", () => {
  const r = analyzeSpecText(
    `import * as rs from "resnet-studio";
const net = rs.resnet({ input: [3, 32, 32], stem: "cifar", stages: [rs.stage({ channels: 16, blocks: 1 })], classes: 10 });
export default net;
`,
    "ns.resnet.ts",
  );
  assert.deepEqual(errors(r.diagnostics), []);
  assert.equal(r.graph?.totals.depth, 4);
  const preset = analyzeSpecText(
    `import * as rs from "resnet-studio";\nexport default rs.presets.resnet20();\n`,
    "ns2.resnet.ts",
  );
  assert.deepEqual(errors(preset.diagnostics), []);
  assert.equal(preset.spec?.shortcut, "A");
});

test("structural mistakes give a hint", () => {
  const cases: [string, RegExp][] = [
    [`const a = { stages: [] };\n`, /^1:1 no default export/],
    [
      `export default { stages: [stage({ channels: 16, blocks: 1 })] };\n`,
      /^2:16 the default export must be a network.*resnet\(\{\.\.\.\}\)/,
    ],
    [`export default resnet;\n`, /call it: resnet/],
    [`export default presets.resnet18;\n`, /call it: presets\.resnet18\(\)/],
    [`export default stage({ channels: 16, blocks: 1 });\n`, /must be a network/],
    [`export default resnet({ stages: [stage] });\n`, /must be called here/],
    [`export default resnet({ stages: [resnet({ stages: [] })] });\n`, /use it only as the default export/],
    [`export default resnet({ stages: [stage({ channels: 16, blocks: 1 })], stages: [] });\n`, /given twice/],
    [`export default presets.resnet51();\n`, /did you mean "resnet50"/],
    [`export default presets.resnet18({ block: "basic" });\n`, /a preset fixes "block"/],
    [
      `const a = b;\nconst b = 1;\nexport default resnet({ stages: [stage({ channels: a, blocks: 1 })] });\n`,
      /^2:11 "b" is used before its definition on line 3/,
    ],
    [`export default resnet({ stages: [stage({ channels: "a" * 2, blocks: 1 })] });\n`, /\* needs numbers/],
    [`export default resnet({ stages: [stage({ channels: 16, blocks: 1 }, 2)] });\n`, /exactly one options object/],
    [`import x = require("y");\nexport default x;\n`, /^2:1 `import … = require\(…\)` is not allowed/],
  ];
  for (const [body, expected] of cases) {
    const got = located(parse(body).diagnostics);
    assert.ok(got.length >= 1, `no error for ${body}`);
    assert.ok(
      got.some((m) => expected.test(m)),
      `${body}\n→ ${got.join("\n")}`,
    );
  }
});

test("loadSpec: presets, input override, unknown names and missing files", () => {
  const small = loadSpec("resnet20", { input: [1, 28, 28] });
  assert.deepEqual(small.graph?.input, [1, 28, 28]);
  assert.equal(small.file, null);
  const unknown = loadSpec("resnet5");
  assert.equal(unknown.graph, null);
  assert.match(unknown.diagnostics[0].message, /unknown preset "resnet5".*did you mean resnet50/);
  assert.deepEqual(similarPresetNames("plain2").slice(0, 1), ["plain20"]);
  const missing = loadSpec("no/such/file.resnet.ts");
  assert.match(missing.diagnostics[0].message, /file not found: no\/such\/file\.resnet\.ts/);
  assert.deepEqual(parseShapeArg("3,32,32"), [3, 32, 32]);
  assert.throws(() => parseShapeArg("3,32"), /three positive integers/);
});

test("a key holding dots is one key: it is reported at itself and hides no error at the path it spells", () => {
  const r = parse(`export default resnet({
  input: [3, 32, 32],
  stem: "cifar",
  stages: [stage({ channels: -16, blocks: 1 })],
  "stages.0.channels": nope,
  "stages.0": 3,
});`);
  assert.deepEqual(located(r.diagnostics), [
    "5:30 channels must be a positive integer, got -16",
    '6:24 "nope" is not defined here; a spec can only use its own const declarations and resnet, stage, presets imported from "resnet-studio"',
    '7:3 unknown key "stages.0"; did you mean "stages"?',
  ]);
  // Spread and member access keep a dotted key whole too.
  const spread = parse(`const o = { "a.b": 1, a: { b: 3 } };
const p = { ...o, "a.b": 2 };
export default resnet({ input: [3, 32, 32], stem: "cifar", stages: [stage({ channels: p["a.b"] * 16 + p.a.b - 3, blocks: 1 })] });`);
  assert.deepEqual(located(spread.diagnostics), []);
  assert.equal(spread.graph?.stages[0].outputShape[0], 32);
});

test("validation problems are capped like the evaluator's: 9,990 unknown keys give 200 lines and one saying so", () => {
  const keys = Array.from({ length: 9990 }, (_, i) => `k${i}: 0`).join(",\n");
  const r = parse(
    `export default resnet({ input: [3, 32, 32], stem: "cifar", stages: [stage({ channels: 16, blocks: 1 })],\n${keys} });`,
  );
  const found = errors(r.diagnostics);
  assert.equal(found.length, 201);
  assert.ok(found.slice(0, 200).every((d) => d.code === "unknown-key"));
  assert.equal(found[200].code, "budget-exceeded");
  assert.equal(found[200].message, "more than 200 problems in this spec; fix the ones above first");
  assert.equal(found[200].range?.line, 203);
});

test("a 300,000-character name is quoted cut, with its length, in every message that names it", () => {
  const id = "x".repeat(300_000);
  const r = parse(
    `export default resnet({ input: [3, 32, 32], stem: "cifar", stages: [stage({ channels: ${id}, blocks: 1 })], ${id}: 1, block: "${id}" });`,
  );
  const cut = `"${"x".repeat(80)}…" (300000 characters)`;
  assert.deepEqual(
    errors(r.diagnostics).map((d) => [d.code, d.message.includes(cut), d.message.length < 400]),
    [
      ["unknown-identifier", true, true],
      ["unknown-key", true, true],
      ["unknown-value", true, true],
    ],
  );
});

test("hostile specs are refused, not evaluated to exhaustion", () => {
  const doubling = Array.from({ length: 40 }, (_, i) => `const a${i + 1} = [...a${i}, ...a${i}];`).join("\n");
  const r = parse(
    `const a0 = [1];\n${doubling}\nexport default resnet({ stages: [stage({ channels: 16, blocks: a40.length })] });\n`,
  );
  // a14 is the first with more than 10,000 elements (2^14 + 1, the array counting itself).
  assert.deepEqual(located(r.diagnostics), [
    "16:13 this value expands to more than 10000 elements; a spec needs far fewer",
  ]);
  const deep = parse(
    `export default resnet({ stages: [stage({ channels: ${"(".repeat(20000)}1${")".repeat(20000)}, blocks: 1 })] });\n`,
  );
  assert.deepEqual(located(deep.diagnostics), ["2:247 nesting deeper than 200 levels; a spec needs only a few"]);
  assert.equal(deep.spec, null);
});

test('export { net as default }, presets["name"] and computed keys', () => {
  const aliased = parse(`const net = presets.resnet20();\nexport { net as default };\n`);
  assert.deepEqual(errors(aliased.diagnostics), []);
  assert.equal(aliased.spec?.name, "resnet20");
  const indexed = parse(`export default presets["resnet18"]({ classes: 10 });\n`);
  assert.deepEqual(errors(indexed.diagnostics), []);
  assert.deepEqual(indexed.graph?.output, [10]);
  // One error for the computed key, no cascade about the "missing" stages it may have named.
  const computed = parse(`export default resnet({ ["stages"]: [] });\n`);
  assert.deepEqual(
    located(computed.diagnostics).map((m) => m.split(" ")[0]),
    ["2:25"],
  );
  const required = parse(`import x = require("y");\nexport default x;\n`);
  assert.equal(errors(required.diagnostics).length, 1, "the unusable import is not reported again where it is used");
});

/* eslint-disable no-regex-spaces -- the patterns match edited source text, whose two-space indents read better as spaces than as " {2}" */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import {
  applySpecEdit,
  applyTextEdits,
  editedSpec,
  isSpecEdit,
  type SpecEdit,
  type TextEdit,
} from "../src/edit/specEdit";
import { presetParams, presetSpecText } from "../src/edit/spellOut";
import { analyzeSpecText } from "../src/specAnalysis";
import { normalizeSpec } from "../src/spec/builders";
import { PRESET_NAMES, presetOptions } from "../src/spec/presets";
import type { ResNetSpec } from "../src/spec/types";

const EXAMPLES = join(__dirname, "..", "..", "examples");
const examples = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith(".resnet.ts"))
  .sort();

function specOf(text: string, file: string): ResNetSpec {
  const parsed = analyzeSpecText(text, file);
  assert.ok(parsed.spec, `${file} parses`);
  assert.deepEqual(
    parsed.diagnostics.filter((d) => d.severity === "error"),
    [],
  );
  return parsed.spec;
}

/** Every comment of a TypeScript text, in order. */
function comments(text: string): string[] {
  const scanner = ts.createScanner(ts.ScriptTarget.ES2022, false, ts.LanguageVariant.Standard, text);
  const out: string[] = [];
  for (let kind = scanner.scan(); kind !== ts.SyntaxKind.EndOfFileToken; kind = scanner.scan()) {
    if (kind === ts.SyntaxKind.SingleLineCommentTrivia || kind === ts.SyntaxKind.MultiLineCommentTrivia)
      out.push(scanner.getTokenText());
  }
  return out;
}

/** Each kind of edit the diagram offers, as it would be chosen for `spec` (a value different from the current one). */
function editsFor(spec: ResNetSpec): SpecEdit[] {
  const last = spec.stages.length - 1;
  const s0 = spec.stages[0];
  const sl = spec.stages[last];
  return [
    { kind: "stage", stage: last, key: "blocks", value: sl.blocks + 1 },
    { kind: "stage", stage: 0, key: "blocks", value: s0.blocks + 2 },
    ...(s0.blocks > 1 ? [{ kind: "stage", stage: 0, key: "blocks", value: s0.blocks - 1 } as const] : []),
    { kind: "stage", stage: last, key: "channels", value: sl.channels * 2 },
    { kind: "stage", stage: 0, key: "stride", value: s0.stride === 1 ? 2 : 1 },
    { kind: "stage", stage: last, key: "stride", value: sl.stride === 1 ? 2 : 1 },
    { kind: "network", key: "block", value: spec.block === "basic" ? "bottleneck" : "basic" },
    { kind: "network", key: "shortcut", value: spec.shortcut === "C" ? "B" : "C" },
    { kind: "network", key: "preActivation", value: !spec.preActivation },
    { kind: "network", key: "residual", value: !spec.residual },
    { kind: "network", key: "norm", value: spec.norm === "none" ? "batchnorm" : "none" },
    { kind: "network", key: "groups", value: spec.groups === 2 ? 4 : 2 },
    { kind: "network", key: "widthPerGroup", value: spec.widthPerGroup === 128 ? 64 : 128 },
  ];
}

/** The text outside the edited ranges is byte-identical: compare the pieces between the edits. */
function assertUntouchedOutside(before: string, after: string, edits: readonly TextEdit[]): void {
  const sorted = [...edits].sort((a, b) => a.startOffset - b.startOffset);
  let offsetAfter = 0;
  let previousEnd = 0;
  for (const e of sorted) {
    const kept = before.slice(previousEnd, e.startOffset);
    assert.equal(after.slice(offsetAfter, offsetAfter + kept.length), kept);
    offsetAfter += kept.length;
    assert.equal(after.slice(offsetAfter, offsetAfter + e.newText.length), e.newText);
    offsetAfter += e.newText.length;
    previousEnd = e.endOffset;
  }
  assert.equal(after.slice(offsetAfter), before.slice(previousEnd));
  // No edit replaces a comment, and every comment survives in order.
  for (const e of edits)
    assert.deepEqual(comments(before.slice(e.startOffset, e.endOffset)), [], "an edit never rewrites a comment");
  assert.deepEqual(
    comments(after).filter((c) => comments(before).includes(c)),
    comments(before),
  );
}

for (const file of examples) {
  test(`every edit kind on examples/${file} gives exactly the intended spec, and nothing else changes`, () => {
    const text = readFileSync(join(EXAMPLES, file), "utf8");
    const spec = specOf(text, file);
    const isPreset = /presets\.\w+\(/.test(text);
    for (const edit of editsFor(spec)) {
      const result = applySpecEdit(text, file, edit);
      const label = `${file}: ${JSON.stringify(edit)}`;
      assert.ok(result.ok, `${label}: ${result.ok ? "" : result.reason}`);
      assert.equal(result.text, applyTextEdits(text, result.edits));
      assert.deepEqual(specOf(result.text, file), editedSpec(spec, edit), label);
      assertUntouchedOutside(text, result.text, result.edits);
      const spelledOut = isPreset && (edit.kind === "stage" || edit.key === "block");
      if (!spelledOut) {
        // A value edit changes one line, or adds one line for a new property.
        const linesBefore = text.split("\n"),
          linesAfter = result.text.split("\n");
        assert.ok(linesAfter.length - linesBefore.length <= 1, label);
        const changed = linesAfter.filter((l) => !linesBefore.includes(l));
        assert.ok(changed.length >= 1 && changed.length <= 2, `${label}: ${changed.join(" | ")}`);
      }
    }
  });
}

test("a value written through a const changes only the edited stage", () => {
  const file = join(EXAMPLES, "cifar-resnet20.resnet.ts");
  const text = readFileSync(file, "utf8");
  const result = applySpecEdit(text, file, { kind: "stage", stage: 1, key: "blocks", value: 5 });
  assert.ok(result.ok);
  assert.match(result.text, /const n = 3;/);
  assert.match(result.text, /stage\(\{ channels: 32, blocks: 5, stride: 2 \}\)/);
  assert.deepEqual(
    specOf(result.text, file).stages.map((s) => s.blocks),
    [3, 5, 3],
  );
});

test("a missing stride is added inside the stage's own braces", () => {
  const file = join(EXAMPLES, "resnet18.resnet.ts");
  const text = readFileSync(file, "utf8");
  const result = applySpecEdit(text, file, { kind: "stage", stage: 0, key: "stride", value: 2 });
  assert.ok(result.ok);
  assert.deepEqual(result.edits, [
    {
      startOffset: text.indexOf("blocks: 2 })") + "blocks: 2".length,
      endOffset: text.indexOf("blocks: 2 })") + "blocks: 2".length,
      newText: ", stride: 2",
    },
  ]);
});

test("a preset's options become overrides; its stages are spelled out with the overrides kept as written", () => {
  const file = join(EXAMPLES, "resnet50-cifar-preset.resnet.ts");
  const text = readFileSync(file, "utf8");
  const option = applySpecEdit(text, file, { kind: "network", key: "shortcut", value: "C" });
  assert.ok(option.ok);
  assert.match(
    option.text,
    /export default presets\.resnet50\(\{\n  name: "ResNet-50 \(cats vs dogs, 64 px\)",\n  input: \[3, 64, 64\],\n  classes: 2,\n  zeroInitResidual: true,\n  shortcut: "C",\n\}\);/,
  );
  const stageEdit = applySpecEdit(text, file, { kind: "stage", stage: 2, key: "blocks", value: 3 });
  assert.ok(stageEdit.ok);
  assert.match(stageEdit.text, /import \{ presets, resnet, stage \} from "resnet-studio";/);
  assert.match(
    stageEdit.text,
    /export default resnet\(\{\n  stem: "imagenet",\n  block: "bottleneck",\n  stages: \[\n    stage\(\{ channels: 64, blocks: 3, stride: 1 \}\),\n    stage\(\{ channels: 128, blocks: 4, stride: 2 \}\),\n    stage\(\{ channels: 256, blocks: 3, stride: 2 \}\),/,
  );
  assert.match(
    stageEdit.text,
    /  name: "ResNet-50 \(cats vs dogs, 64 px\)",\n  input: \[3, 64, 64\],\n  classes: 2,\n  zeroInitResidual: true,\n\}\);/,
  );
  const spec = specOf(stageEdit.text, file);
  assert.deepEqual(
    spec.stages.map((s) => s.blocks),
    [3, 4, 3, 3],
  );
  assert.equal(spec.classes, 2);
});

test("presets without arguments, on one line, and through a namespace import are edited too", () => {
  const cases: [string, SpecEdit, RegExp][] = [
    [
      `import { presets } from "resnet-studio";\nexport default presets.resnet18();\n`,
      { kind: "network", key: "preActivation", value: true },
      /presets\.resnet18\(\{ preActivation: true \}\)/,
    ],
    [
      `import { presets } from "resnet-studio";\nexport default presets.resnet18({ classes: 10 });\n`,
      { kind: "network", key: "norm", value: "none" },
      /presets\.resnet18\(\{ classes: 10, norm: "none" \}\)/,
    ],
    [
      `import * as rs from "resnet-studio";\nexport default rs.presets.resnet20();\n`,
      { kind: "stage", stage: 0, key: "blocks", value: 1 },
      /rs\.resnet\(\{\n[^]*rs\.stage\(\{ channels: 16, blocks: 1, stride: 1 \}\)/,
    ],
    [
      `import { presets } from "resnet-studio";\nexport default presets.resnet18({ classes: 10 });\n`,
      { kind: "network", key: "block", value: "bottleneck" },
      /resnet\(\{\n  name: "resnet18",[^]*  block: "bottleneck",[^]*  classes: 10,\n\}\)/,
    ],
  ];
  for (const [text, edit, expected] of cases) {
    const result = applySpecEdit(text, "p.resnet.ts", edit);
    assert.ok(result.ok, result.ok ? "" : result.reason);
    assert.match(result.text, expected);
    assert.deepEqual(specOf(result.text, "p.resnet.ts"), editedSpec(specOf(text, "p.resnet.ts"), edit));
  }
});

test("a new property keeps the object's layout, its comments and the file's quotes", () => {
  const text = [
    `import { resnet, stage } from 'resnet-studio';`,
    `export default resnet({`,
    `  stem: 'cifar', // small inputs`,
    `  input: [3, 32, 32],`,
    `  stages: [stage({ channels: 16, blocks: 2 })] /* one stage */`,
    `});`,
    ``,
  ].join("\n");
  const result = applySpecEdit(text, "q.resnet.ts", { kind: "network", key: "norm", value: "none" });
  assert.ok(result.ok, result.ok ? "" : result.reason);
  assert.equal(result.text, text.replace("})] /* one stage */\n", "})], /* one stage */\n  norm: 'none'\n"));
  const inline = applySpecEdit(text, "q.resnet.ts", { kind: "stage", stage: 0, key: "stride", value: 2 });
  assert.ok(inline.ok);
  assert.match(inline.text, /stage\(\{ channels: 16, blocks: 2, stride: 2 \}\)\] \/\* one stage \*\//);
  const empty = applySpecEdit(
    `import { presets } from "resnet-studio";\nexport default presets.resnet20({});\n`,
    "e.resnet.ts",
    { kind: "network", key: "residual", value: false },
  );
  assert.ok(empty.ok);
  assert.match(empty.text, /presets\.resnet20\(\{ residual: false \}\)/);
});

test("edits the language refuses are never written: the reason comes back", () => {
  const file = join(EXAMPLES, "small.resnet.ts");
  const text = readFileSync(file, "utf8");
  const refused: [SpecEdit, RegExp][] = [
    [{ kind: "stage", stage: 0, key: "blocks", value: 0 }, /blocks must be a positive integer/],
    [{ kind: "stage", stage: 2, key: "stride", value: 64 }, /not a valid network: .*shrink below one pixel/],
    [{ kind: "network", key: "groups", value: 3 }, /not a valid network: .*group/],
    [{ kind: "stage", stage: 7, key: "blocks", value: 2 }, /there is no stage 8 \(the spec has 3\)/],
    [{ kind: "network", key: "shortcut", value: "B" }, /shortcut is already B/],
  ];
  for (const [edit, reason] of refused) {
    const result = applySpecEdit(text, file, edit);
    assert.equal(result.ok, false, JSON.stringify(edit));
    if (!result.ok) assert.match(result.reason, reason);
  }
  const broken = applySpecEdit(text.replace("blocks: 1 }", "blocks: -1 }"), file, {
    kind: "network",
    key: "residual",
    value: false,
  });
  assert.equal(broken.ok, false);
  if (!broken.ok) assert.match(broken.reason, /the spec has errors; fix them first/);
});

test("an edit that would also change another stage through a shared const is refused", () => {
  const text = `import { resnet, stage } from "resnet-studio";\nconst s = stage({ channels: 16, blocks: 2 });\nexport default resnet({ stem: "cifar", input: [3, 32, 32], stages: [s, s] });\n`;
  const result = applySpecEdit(text, "shared.resnet.ts", { kind: "stage", stage: 1, key: "blocks", value: 3 });
  assert.equal(result.ok, false);
  if (!result.ok) assert.match(result.reason, /shared/);
});

test("isSpecEdit accepts the edits the diagram sends and nothing else", () => {
  assert.ok(isSpecEdit({ kind: "stage", stage: 1, key: "blocks", value: 3 }));
  assert.ok(isSpecEdit({ kind: "network", key: "residual", value: false }));
  assert.ok(!isSpecEdit({ kind: "network", key: "residual", value: "no" }));
  assert.ok(!isSpecEdit({ kind: "network", key: "classes", value: 3 }));
  assert.ok(!isSpecEdit({ kind: "stage", stage: 0.5, key: "blocks", value: 3 }));
});

test("New Spec from Preset: every preset spelled out parses to exactly the preset", () => {
  for (const name of PRESET_NAMES) {
    if (name === "resnet1202" || name === "plain1202") continue; // analysed below without the text round trip's cost twice
    const text = presetSpecText(name);
    assert.match(text, /^\/\/ /);
    assert.deepEqual(specOf(text, `${name}.resnet.ts`), normalizeSpec(presetOptions(name)).spec, name);
  }
  assert.match(presetSpecText("resnet50"), /25,557,032 parameters/);
  assert.equal(presetParams("resnet18"), 11_689_512);
  assert.deepEqual(
    specOf(presetSpecText("resnet1202"), "r.resnet.ts"),
    normalizeSpec(presetOptions("resnet1202")).spec,
  );
});

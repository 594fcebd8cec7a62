import { test } from "node:test";
import assert from "node:assert/strict";
import { quickFixes, type QuickFix } from "../src/edit/quickFix";
import { applyTextEdits } from "../src/edit/specEdit";
import { analyzeSpecText } from "../src/specAnalysis";
import { nearestCommonDivisor, nearestMultiple } from "../src/spec/nearest";

const HEADER = `import { resnet, stage, presets } from "resnet-studio";\n`;

function fixesOf(text: string): QuickFix[] {
  return quickFixes(text, analyzeSpecText(text, "fix.resnet.ts").diagnostics);
}

/** The text after one fix, and the codes its analysis still reports. */
function applied(text: string, fix: QuickFix): { text: string; codes: string[] } {
  const fixed = applyTextEdits(text, [fix.edit]);
  return { text: fixed, codes: analyzeSpecText(fixed, "fix.resnet.ts").diagnostics.map((d) => d.code) };
}

/** The one fix whose title is `title`, applied. */
function applyTitled(text: string, title: string): { text: string; codes: string[] } {
  const fixes = fixesOf(text);
  const fix = fixes.find((f) => f.title === title);
  assert.ok(fix, `no fix titled ${title}: ${fixes.map((f) => f.title).join(" | ")}`);
  return applied(text, fix);
}

test("an unknown option value is changed to the nearest known one, in the quote style written", () => {
  const double = `${HEADER}export default resnet({ block: "basik", stages: [stage({ channels: 16, blocks: 1 })] });\n`;
  const fixed = applyTitled(double, 'Change "basik" to "basic"');
  assert.match(fixed.text, /block: "basic"/);
  assert.deepEqual(fixed.codes, []);
  const single = double.replace('"basik"', "'botleneck'");
  const fixedSingle = applyTitled(single, `Change 'botleneck' to 'bottleneck'`);
  assert.match(fixedSingle.text, /block: 'bottleneck'/);
  assert.deepEqual(fixedSingle.codes, []);
});

test("a value far from every known one has no fix", () => {
  const text = `${HEADER}export default resnet({ block: "triangle", stages: [stage({ channels: 16, blocks: 1 })] });\n`;
  assert.equal(analyzeSpecText(text, "fix.resnet.ts").diagnostics[0]?.code, "unknown-value");
  assert.deepEqual(fixesOf(text), []);
});

test("a size that is not a positive integer is changed to the nearest positive integer", () => {
  const text = `${HEADER}export default resnet({ stages: [stage({ channels: 0, blocks: 2.6 })] });\n`;
  const fixes = fixesOf(text);
  assert.deepEqual(
    fixes.map((f) => f.title),
    ["Change 0 to 1", "Change 2.6 to 3"],
  );
  const both = applyTextEdits(
    text,
    fixes.map((f) => f.edit),
  );
  assert.match(both, /stage\(\{ channels: 1, blocks: 3 \}\)/);
  assert.deepEqual(
    analyzeSpecText(both, "fix.resnet.ts").diagnostics.map((d) => d.code),
    [],
  );
});

test("an unknown key is renamed to the nearest known key, leaving its value", () => {
  const misspelt = `${HEADER}export default resnet({ stages: [{ chanels: 16, blocks: 1 }], clases: 10 });\n`;
  const keyFix = applyTitled(misspelt, "Change chanels to channels");
  assert.match(keyFix.text, /\{ channels: 16, blocks: 1 \}/);
  const both = applyTitled(keyFix.text, "Change clases to classes");
  assert.match(both.text, /classes: 10 \}/);
  assert.deepEqual(both.codes, []);
  assert.deepEqual(fixesOf(both.text), []);
});

test("channels that do not divide into the groups: the channels to a multiple, or the groups to a divisor", () => {
  const text = `${HEADER}export default resnet({ stem: "cifar", groups: 4, stages: [stage({ channels: 18, blocks: 1 })] });\n`;
  const fixes = fixesOf(text);
  assert.deepEqual(
    fixes.map((f) => [f.diagnostic.code, f.title, f.preferred]),
    [
      ["groups-mismatch", "Change channels to 20", true],
      ["groups-mismatch", "Change groups to 3", false],
    ],
  );
  for (const fix of fixes) assert.deepEqual(applied(text, fix).codes, [], fix.title);
});

test("an unknown preset is renamed to the nearest preset", () => {
  const text = `${HEADER}export default presets.resnet2O({ classes: 10 });\n`;
  const fixed = applyTitled(text, "Change resnet2O to resnet20");
  assert.deepEqual(fixed.codes, []);
});

test("an out-of-range number is clamped into its range", () => {
  const text = `${HEADER}export default resnet({ stages: [stage({ channels: 8, blocks: 1 })], shortcutVariant: { kind: "dropout", rate: -0.5 } });\n`;
  const diagnostics = analyzeSpecText(text, "fix.resnet.ts").diagnostics;
  assert.equal(diagnostics[0]?.code, "invalid-number", diagnostics[0]?.message);
  const fixes = fixesOf(text);
  assert.deepEqual(
    fixes.map((f) => f.title),
    ["Change -0.5 to 0"],
  );
  assert.deepEqual(applied(text, fixes[0]).codes, []);
});

test("nearest multiple and nearest common divisor", () => {
  assert.equal(nearestMultiple(18, 4), 20);
  assert.equal(nearestMultiple(17, 4), 16);
  assert.equal(nearestMultiple(1, 4), 4);
  assert.equal(nearestCommonDivisor([64, 18], 4), 2);
  assert.equal(nearestCommonDivisor([18], 4), 3);
  assert.equal(nearestCommonDivisor([18, 18], 5), 6);
  assert.equal(nearestCommonDivisor([7], 3), 1);
});

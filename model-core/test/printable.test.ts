// Text from a spec reaches terminals and problem lists as one printable line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatDiagnostic, printable } from "../src/diagnostics";
import { analyzeSpecText } from "../src/specAnalysis";

test("printable escapes C0, DEL, C1 and the line separators, and nothing else", () => {
  assert.equal(
    printable("a\u001b]0;title\u0007b\nc\r\td\u007f\u009b\u2028é✓"),
    "a\\x1b]0;title\\x07b\\nc\\r\\td\\x7f\\x9b\\u2028é✓",
  );
  assert.equal(printable("layer1.0.conv1 3×32×32"), "layer1.0.conv1 3×32×32");
});

test("a diagnostic is one line without control characters, even when the spec puts some in its text", () => {
  const text =
    'import { resnet, stage } from "resnet-studio";\nexport default resnet({\n  stages: [stage({ channels: 16, blocks: 1 })],\n  "\u001b[2J\u001b]0;x\u0007": 1,\n  name: Math\n    .max(1, 2),\n});\n';
  const parsed = analyzeSpecText(text, "spec.resnet.ts");
  assert.equal(parsed.diagnostics.length, 2, parsed.diagnostics.map((d) => d.message).join("\n"));
  for (const d of parsed.diagnostics) {
    const line = formatDiagnostic(d);
    // eslint-disable-next-line no-control-regex -- the test asserts that no control character gets through
    assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/, line);
    // eslint-disable-next-line no-control-regex -- the test asserts that no control character gets through
    assert.doesNotMatch(d.message, /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/, d.message);
  }
  assert.match(parsed.diagnostics[0].message, /^unknown key "\\x1b\[2J\\x1b\]0;x\\x07"/);
  assert.match(parsed.diagnostics[1].message, /^calls to Math\\n {4}\.max\(\.\.\.\)/);
  // Even a diagnostic built elsewhere prints on one line.
  assert.equal(
    formatDiagnostic(
      { severity: "error", code: "internal-error", message: "two\nlines\u001b[31m", range: null },
      "f.ts",
    ),
    "f.ts: error: two\\nlines\\x1b[31m",
  );
});

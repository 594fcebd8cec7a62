// The parse → analyze pipeline: one analysis per text, each problem reported once, one way to report a failure, and
// one vocabulary of diagnostic codes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { analyze } from "../src/analysis/analyze";
import { DIAGNOSTIC_CODES, isDiagnosticCode, type Diagnostic } from "../src/diagnostics";
import { loadSpec, loadSpecText } from "../src/load";
import { analyzeSpecText, failedAnalysis } from "../src/specAnalysis";

const root = join(__dirname, "../..");
const fixtures = join(root, "test/fixtures");

function fixture(folder: string, name: string): string {
  return readFileSync(join(fixtures, folder, name), "utf8");
}

/** The analysis step, counting its calls. */
function countingAnalyze(): { step: typeof analyze; calls: () => number } {
  let calls = 0;
  return {
    step: (spec, sources) => {
      calls++;
      return analyze(spec, sources);
    },
    calls: () => calls,
  };
}

function key(d: Diagnostic): string {
  return `${d.code}|${d.range?.startOffset}|${d.range?.endOffset}|${d.message}`;
}

test("one text is analysed once: valid, warned about, refused by the analysis, or refused by the parser", () => {
  const cases = [
    { folder: "../../examples", name: "cifar-resnet20.resnet.ts", analyses: 1, graph: true, codes: [] },
    { folder: "warnings", name: "zero-init-plain.resnet.ts", analyses: 1, graph: true, codes: ["zero-init-ignored"] },
    { folder: "broken", name: "spatial-collapse.resnet.ts", analyses: 1, graph: false, codes: ["spatial-collapse"] },
    { folder: "broken", name: "syntax-missing-comma.resnet.ts", analyses: 0, graph: false, codes: ["syntax-error"] },
  ];
  for (const c of cases) {
    const text = fixture(c.folder, c.name);
    const counter = countingAnalyze();
    const result = analyzeSpecText(text, c.name, { analyzeStep: counter.step });
    assert.equal(counter.calls(), c.analyses, `${c.name}: analyses`);
    assert.equal(result.graph !== null, c.graph, c.name);
    assert.deepEqual(
      result.diagnostics.map((d) => d.code),
      c.codes,
      c.name,
    );
    assert.deepEqual(analyzeSpecText(text, c.name), result, `${c.name}: the counted run is the ordinary one`);
  }
});

test("each problem is reported once, and the CLI loader reports exactly what the pipeline does", () => {
  for (const folder of ["broken", "warnings"]) {
    for (const name of readdirSync(join(fixtures, folder)).filter((f) => f.endsWith(".resnet.ts"))) {
      const text = fixture(folder, name);
      const analysis = analyzeSpecText(text, name);
      const keys = analysis.diagnostics.map(key);
      assert.equal(new Set(keys).size, keys.length, `${name}: a diagnostic is reported twice: ${keys.join("\n")}`);
      const loaded = loadSpecText(text, name);
      assert.deepEqual(loaded.diagnostics, analysis.diagnostics, name);
      assert.deepEqual(loaded.graph, analysis.graph, name);
    }
  }
});

test("a failure inside the pipeline becomes one located internal-error at 1:1, never a throw", () => {
  const text = fixture("../../examples", "cifar-resnet20.resnet.ts");
  const result = analyzeSpecText(text, "r20.resnet.ts", {
    analyzeStep: () => {
      throw new RangeError("Maximum call stack size exceeded");
    },
  });
  assert.deepEqual(
    result,
    failedAnalysis("r20.resnet.ts", "could not read this spec: Maximum call stack size exceeded", "internal-error"),
  );
  assert.deepEqual(result.diagnostics, [
    {
      severity: "error",
      code: "internal-error",
      message: "could not read this spec: Maximum call stack size exceeded",
      range: { file: "r20.resnet.ts", startOffset: 0, endOffset: 0, line: 1, column: 1, endLine: 1, endColumn: 1 },
    },
  ]);
  assert.equal(result.graph, null);
  assert.equal(result.spec, null);
});

test("failedAnalysis says why on one printable line, as analysis-failed unless told otherwise", () => {
  const [d] = failedAnalysis("a.resnet.ts", "the analysis took longer than 1 ms\n\u001b[2J").diagnostics;
  assert.equal(d.code, "analysis-failed");
  assert.equal(d.message, "the analysis took longer than 1 ms\\n\\x1b[2J");
  assert.deepEqual([d.range?.file, d.range?.line, d.range?.column], ["a.resnet.ts", 1, 1]);
});

test("every code the fixtures and the loader produce belongs to the vocabulary, and each code has a one-line doc", () => {
  const seen = new Set<string>();
  for (const folder of ["broken", "hostile", "warnings"]) {
    const names = readdirSync(join(fixtures, folder)).filter((f) => f.endsWith(".resnet.ts"));
    assert.ok(names.length > 0, folder);
    for (const name of names) {
      const { diagnostics } = analyzeSpecText(fixture(folder, name), name);
      assert.ok(diagnostics.length > 0, `${folder}/${name} reports nothing`);
      for (const d of diagnostics) {
        assert.ok(isDiagnosticCode(d.code), `${folder}/${name}: "${d.code}" is not in DIAGNOSTIC_CODES`);
        seen.add(d.code);
      }
    }
  }
  for (const arg of ["no/such/file.resnet.ts", "resnet19", fixtures])
    for (const d of loadSpec(arg).diagnostics) {
      assert.ok(isDiagnosticCode(d.code), `${arg}: "${d.code}" is not in DIAGNOSTIC_CODES`);
      seen.add(d.code);
    }
  // The fixtures exercise the parser, the options, the analysis, the budget and the loader.
  for (const code of ["syntax-error", "unknown-key", "spatial-collapse", "budget-exceeded", "zero-init-ignored"])
    assert.ok(seen.has(code), `no fixture reports ${code}`);
  assert.ok(seen.has("file-not-found") && seen.has("unknown-preset"));
  assert.equal(isDiagnosticCode("internal"), false);
  assert.equal(isDiagnosticCode("toString"), false);
  for (const [code, doc] of Object.entries(DIAGNOSTIC_CODES)) {
    assert.match(code, /^[a-z]+(-[a-z0-9]+)+$/, code);
    assert.match(doc, /^[^\n]{10,120}$/, code);
  }
});

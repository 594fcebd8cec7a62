// The reader's fixed budget: hostile specs stop with one located diagnostic, real specs never come near it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { analyzeSpecText } from "../src/specAnalysis";
import { SPEC_BUDGET, ValueSizes, findDeepNesting } from "../src/parser/budget";

const hostileDir = join(__dirname, "../../test/fixtures/hostile");
const IMPORT = 'import { resnet, stage } from "resnet-studio";\n';
const EXPORT =
  '\nexport default resnet({ input: [3, 32, 32], stem: "cifar", stages: [stage({ channels: 16, blocks: 1 })] });\n';

function located(text: string): string[] {
  return analyzeSpecText(text, "spec.resnet.ts")
    .diagnostics.filter((d) => d.severity === "error")
    .map((d) => `${d.range?.line}:${d.range?.column} ${d.code} ${d.message}`);
}

test("each hostile fixture stops with exactly its expected located diagnostic, the same every time", () => {
  const files = readdirSync(hostileDir).filter((f) => f.endsWith(".resnet.ts"));
  assert.ok(files.length >= 8, files.join(", "));
  for (const name of files) {
    const text = readFileSync(join(hostileDir, name), "utf8");
    const [, where, expected] = /^\/\/ expect: (\d+:\d+) (.*)$/m.exec(text)!;
    const first = analyzeSpecText(text, name);
    const errors = first.diagnostics.filter((d) => d.severity === "error");
    assert.equal(errors.length, 1, `${name}: ${errors.map((d) => d.message).join(" | ")}`);
    const [error] = errors;
    assert.equal(`${error.range?.line}:${error.range?.column}`, where, name);
    assert.ok(error.message.startsWith(expected), `${name}: ${error.message}`);
    assert.match(error.code, /^(budget-exceeded|nesting-too-deep)$/, name);
    assert.equal(first.graph, null, name);
    assert.deepEqual(analyzeSpecText(text, name).diagnostics, first.diagnostics, `${name}: not deterministic`);
  }
});

test("each bar of the budget has the value its documentation and the fuzz bar assume", () => {
  // Written out, not derived: loosening a bar must fail here, not pass silently (a 10× node budget once did).
  assert.deepEqual(SPEC_BUDGET, {
    sourceChars: 1_000_000,
    nesting: 200,
    nodes: 50_000,
    valueElements: 10_000,
    producedElements: 500_000,
    diagnostics: 200,
  });
});

test("the expression budget: 49,900 expressions are read, 50,010 are refused at the one past 50,000", () => {
  // Each const is an array of 9,999 numbers: 10,000 expressions, within the element budget of one value.
  const arrays = (count: number, last: number) =>
    Array.from(
      { length: count },
      (_, i) =>
        `const a${i} = [${Array(i === count - 1 ? last : 9999)
          .fill("0")
          .join(",")}];`,
    ).join("\n");
  assert.deepEqual(located(IMPORT + arrays(5, 9899) + EXPORT), []);
  const over = located(IMPORT + arrays(6, 9) + EXPORT);
  assert.equal(over.length, 1, over.join("\n"));
  // a0 … a4 are 50,000 expressions; a5 (line 7) holds the one past the bar.
  assert.match(over[0], /^7:12 budget-exceeded this spec has more than 50000 expressions to evaluate/);
});

test("a value of exactly the element budget is read; one more element is refused at the array", () => {
  const limit = SPEC_BUDGET.valueElements;
  // The array itself counts as one element.
  const fits = `const xs = [${Array(limit - 1)
    .fill("0")
    .join(",")}];`;
  assert.deepEqual(located(IMPORT + fits + EXPORT), []);
  const over = `const xs = [${Array(limit).fill("0").join(",")}];`;
  assert.deepEqual(located(IMPORT + over + EXPORT), [
    `2:12 budget-exceeded this value expands to more than ${limit} elements; a spec needs far fewer`,
  ]);
});

test("a const used many times is measured once per use, and the file's total is bounded too", () => {
  // 102 uses of a 99-element value: 1 + 102 × 99 = 10,099 elements, one value over the budget.
  const small = `const s = [${Array(98).fill("1").join(",")}];\nconst uses = [${Array(102).fill("s").join(",")}];`;
  assert.deepEqual(
    located(IMPORT + small + EXPORT).map((l) => l.split(" ")[1]),
    ["budget-exceeded"],
  );
  const fine = `const s = [1, 2, 3];\nconst uses = [${Array(1000).fill("s").join(",")}];`;
  assert.deepEqual(located(IMPORT + fine + EXPORT), []);
  // Copies counted across the file: 300 consts each copying a 9,000-element value.
  const copies =
    `const big = [${Array(8999).fill("0").join(",")}];\n` +
    Array.from({ length: 300 }, (_, i) => `const c${i} = big;`).join("\n");
  const errors = located(IMPORT + copies + EXPORT);
  assert.equal(errors.length, 1, errors.join("\n"));
  assert.match(
    errors[0],
    new RegExp(
      `^\\d+:\\d+ budget-exceeded this spec expands to more than ${SPEC_BUDGET.producedElements} elements in total`,
    ),
  );
});

test("a truncated 100,000-element literal (found by the fuzzer): no stack overflow, a bounded list of problems", () => {
  const text = IMPORT + "const huge = [" + "{},".repeat(100_000) + "\n" + "{}\n".repeat(50_000);
  const parsed = analyzeSpecText(text, "spec.resnet.ts");
  assert.ok(parsed.diagnostics.length <= SPEC_BUDGET.diagnostics + 102, `${parsed.diagnostics.length} diagnostics`);
  assert.ok(parsed.diagnostics.every((d) => d.code !== "internal-error" && d.range !== null && d.range.line >= 2));
  const statements = IMPORT + "{}\n".repeat(50_000) + EXPORT;
  const last = analyzeSpecText(statements, "spec.resnet.ts").diagnostics.at(-1)!;
  assert.equal(last.message, `more than ${SPEC_BUDGET.diagnostics} problems in this spec; fix the ones above first`);
  assert.equal(last.range?.line, SPEC_BUDGET.diagnostics + 2);
});

test("ValueSizes counts shared members once per reference without walking them again", () => {
  const sizes = new ValueSizes();
  const leaf = [1, 2, 3];
  const pair = [leaf, leaf];
  assert.equal(sizes.of(leaf), 4);
  assert.equal(sizes.of(pair), 9);
  assert.equal(sizes.of({ a: pair, b: 1 }), 11);
  assert.equal(sizes.of("text"), 1);
});

test("nesting is measured on tokens: brackets in strings and comments don't count, every kind of deep chain does", () => {
  const deep = "[".repeat(300);
  assert.equal(findDeepNesting(`const s = "${deep}"; // ${deep}\n/* ${deep} */ const t = \`${deep}\`;`, 200), -1);
  const shapes: Record<string, string> = {
    brackets: "const a = " + "[".repeat(5000) + "1" + "]".repeat(5000) + ";",
    unary: "const a = " + "- ".repeat(5000) + "1;",
    conditional: "const a = " + "1 ? ".repeat(5000) + "1" + " : 2".repeat(5000) + ";",
    arrows: "const a = " + "() => ".repeat(5000) + "1;",
    typeArguments: "type T = " + "A<".repeat(5000) + "1" + ">".repeat(5000) + ";",
    templates: "const a = " + "`${".repeat(5000) + "1" + "}`".repeat(5000) + ";",
    sum: "const a = " + Array(5000).fill("1").join(" + ") + ";",
    members: "const o = { b: 1 };\nconst a = o" + ".b".repeat(5000) + ";",
    // A regular expression's quote or comment-like text hides no bracket from the count.
    regexQuote: "const r = /'/;\nconst a = " + "[".repeat(5000) + "1" + "]".repeat(5000) + ";",
    regexClass: "const r = /[/*]/;\nconst a = " + "(".repeat(5000) + "1" + ")".repeat(5000) + ";",
    elseIfChain: "if (1) {}" + " else if (1) {}".repeat(5000),
    elseIfStatements: "if (1) 1;" + " else if (1) 1;".repeat(5000),
    labels: "a: ".repeat(5000) + "1;",
  };
  for (const [name, body] of Object.entries(shapes)) {
    const errors = located(IMPORT + body + EXPORT);
    assert.equal(errors.length, 1, `${name}: ${errors.join(" | ")}`);
    assert.match(errors[0], /^[23]:\d+ nesting-too-deep nesting deeper than 200 levels/, name);
    assert.doesNotMatch(errors[0], /^\d+:1 /, `${name} is located at the deep part, not the line start`);
  }
});

test("a location found before parsing counts every line end TypeScript counts (CR, CRLF, U+2028, U+2029)", () => {
  for (const end of ["\n", "\r", "\r\n", "\u2028", "\u2029"]) {
    const lines = [IMPORT.trim(), "// two", "const a = " + "[".repeat(300) + "1" + "]".repeat(300) + ";"];
    const errors = located(lines.join(end) + EXPORT);
    // The 200th bracket (the `=` is a level too), on line 3 after "const a = ".
    assert.deepEqual(
      errors.map((e) => e.split(" ").slice(0, 2).join(" ")),
      ["3:210 nesting-too-deep"],
      JSON.stringify(end),
    );
  }
});

test("real specs stay far below the budget", () => {
  const examples = join(__dirname, "../../examples");
  for (const name of readdirSync(examples).filter((f) => f.endsWith(".resnet.ts"))) {
    const parsed = analyzeSpecText(readFileSync(join(examples, name), "utf8"), name);
    assert.deepEqual(
      parsed.diagnostics.filter((d) => d.severity === "error"),
      [],
      name,
    );
    assert.ok(findDeepNesting(readFileSync(join(examples, name), "utf8"), 20) < 0, `${name} nests 20 levels`);
  }
});

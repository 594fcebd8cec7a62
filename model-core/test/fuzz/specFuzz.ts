/**
 * Seeded fuzzing of the spec reader: real specs mutated (tokens deleted, duplicated, swapped; extreme numbers; huge
 * arrays; nesting to 10k; long strings; unicode and control characters; truncation; doubling const chains). Each case
 * must end without an exception, within the reader's budget, with every error located in the text.
 * Used by model-core/test/fuzz.test.ts (a few hundred cases) and `npm run fuzz -- --cases N`.
 */
import ts from "typescript";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { evaluateSpecText } from "../../src/parser/parse";
import { analyzeEvaluated } from "../../src/specAnalysis";
import { formatDiagnostic } from "../../src/diagnostics";
import { summarize } from "../../src/cli/summary";
import { hoverMarkdown } from "../../../extension/src/pure/specInfo";

const root = join(__dirname, "../../..");

/** mulberry32: small, seeded, the same sequence on every platform. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The examples and the broken fixtures: valid specs and each kind of mistake, as starting points. */
export function corpus(): string[] {
  const dirs = [join(root, "examples"), join(root, "test/fixtures/broken")];
  return dirs.flatMap((dir) =>
    readdirSync(dir)
      .filter((f) => f.endsWith(".resnet.ts"))
      .sort()
      .map((f) => readFileSync(join(dir, f), "utf8")),
  );
}

interface Token {
  start: number;
  end: number;
  kind: ts.SyntaxKind;
}

function tokens(text: string): Token[] {
  const scanner = ts.createScanner(ts.ScriptTarget.ES2022, true, ts.LanguageVariant.Standard, text);
  const out: Token[] = [];
  for (let kind = scanner.scan(); kind !== ts.SyntaxKind.EndOfFileToken && out.length < 20_000; kind = scanner.scan()) {
    out.push({ start: scanner.getTokenStart(), end: scanner.getTokenEnd(), kind });
  }
  return out;
}

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)];
const between = (random: Random, lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
const EXPORT_AT = (text: string) => Math.max(0, text.indexOf("export default"));

const EXTREME_NUMBERS = [
  "0",
  "-1",
  "1e308",
  "NaN",
  "-0",
  "1e-308",
  "9007199254740993",
  "Infinity",
  "0.5",
  "10000",
  "1e9",
];
const ODD_CHARACTERS = [
  "\u0000",
  "\u0001",
  "\u001b[2J",
  "\u001b]0;title\u0007",
  "\u2028",
  "\u202e",
  "\ud800",
  "\udfff",
  "😀",
  "é",
  "\ufeff",
  "\r",
  "\t",
  "\u007f",
  "\u0085",
];

/** Each mutator takes the text and returns a changed copy; `name` is reported with failures. */
const MUTATORS: { name: string; apply: (text: string, random: Random) => string }[] = [
  {
    name: "delete-token",
    apply: (text, random) => {
      const all = tokens(text);
      if (all.length === 0) return text;
      const t = pick(random, all);
      return text.slice(0, t.start) + text.slice(t.end);
    },
  },
  {
    name: "duplicate-token",
    apply: (text, random) => {
      const all = tokens(text);
      if (all.length === 0) return text;
      const t = pick(random, all);
      return text.slice(0, t.end) + " " + text.slice(t.start, t.end) + text.slice(t.end);
    },
  },
  {
    name: "swap-tokens",
    apply: (text, random) => {
      const all = tokens(text);
      if (all.length < 2) return text;
      let a = pick(random, all);
      let b = pick(random, all);
      if (a.start === b.start) return text;
      if (b.start < a.start) [a, b] = [b, a];
      return (
        text.slice(0, a.start) +
        text.slice(b.start, b.end) +
        text.slice(a.end, b.start) +
        text.slice(a.start, a.end) +
        text.slice(b.end)
      );
    },
  },
  {
    name: "extreme-number",
    apply: (text, random) => {
      const numbers = tokens(text).filter((t) => t.kind === ts.SyntaxKind.NumericLiteral);
      if (numbers.length === 0) return text;
      const t = pick(random, numbers);
      return text.slice(0, t.start) + pick(random, EXTREME_NUMBERS) + text.slice(t.end);
    },
  },
  {
    name: "huge-array",
    apply: (text, random) => {
      const length = pick(random, [1_000, 9_999, 10_000, 100_000, 400_000]);
      const array = `[${Array(length)
        .fill(pick(random, ["0", "1.5", '"a"', "[]", "{}"]))
        .join(",")}]`;
      const at = EXPORT_AT(text);
      return text.slice(0, at) + `const huge = ${array};\n` + text.slice(at);
    },
  },
  {
    name: "deep-nesting",
    apply: (text, random) => {
      const depth = pick(random, [50, 199, 200, 201, 1_000, 10_000]);
      const [open, close] = pick(random, [
        ["[", "]"],
        ["{ a: ", " }"],
        ["(", ")"],
        ["-", ""],
        ["stage({ channels: ", " })"],
        ["1 + ", ""],
        ["x ? ", " : 1"],
      ]);
      const numbers = tokens(text).filter((t) => t.kind === ts.SyntaxKind.NumericLiteral);
      const t = numbers.length ? pick(random, numbers) : { start: EXPORT_AT(text), end: EXPORT_AT(text) };
      const inner = text.slice(t.start, t.end) || "1";
      return text.slice(0, t.start) + open.repeat(depth) + inner + close.repeat(depth) + text.slice(t.end);
    },
  },
  {
    name: "long-string",
    apply: (text, random) => {
      const strings = tokens(text).filter((t) => t.kind === ts.SyntaxKind.StringLiteral);
      const long = JSON.stringify(pick(random, ["x", "ab\\", "é", "😀"]).repeat(pick(random, [100, 10_000, 200_000])));
      if (strings.length === 0)
        return text.slice(0, EXPORT_AT(text)) + `const s = ${long};\n` + text.slice(EXPORT_AT(text));
      const t = pick(random, strings);
      return text.slice(0, t.start) + long + text.slice(t.end);
    },
  },
  {
    name: "odd-characters",
    apply: (text, random) => {
      let out = text;
      for (let i = between(random, 1, 5); i > 0; i--) {
        const at = between(random, 0, out.length);
        out = out.slice(0, at) + pick(random, ODD_CHARACTERS) + out.slice(at);
      }
      return out;
    },
  },
  {
    name: "truncate",
    apply: (text, random) => text.slice(0, between(random, 0, text.length)),
  },
  {
    name: "doubling-chain",
    apply: (text, random) => {
      const length = between(random, 10, 40);
      const shape = pick(random, ["[p, p]", "[...p, ...p]", "{ l: p, r: p }", "{ ...p, k: [p, p] }", "p + p"]);
      const start = pick(random, ["[1, 2]", "{ x: 1 }", '"ab"', "1"]);
      const lines = [`const d0 = ${start};`];
      for (let i = 1; i <= length; i++) lines.push(`const d${i} = ${shape.replaceAll("p", `d${i - 1}`)};`);
      const at = EXPORT_AT(text);
      const use = random() < 0.5 ? text.slice(at).replace("resnet({", `resnet({ extra: d${length},`) : text.slice(at);
      return text.slice(0, at) + lines.join("\n") + "\n" + use;
    },
  },
  // Shapes from the second hostile-input round (issue 21): each once hit a quadratic path or a wrong location.
  {
    name: "many-stages",
    apply: (text, random) =>
      text.replace(
        /stages:\s*\[/,
        `stages: [${"stage({ channels: 16, blocks: 1, stride: 1 }), ".repeat(between(random, 50, 400))}`,
      ),
  },
  {
    name: "many-blocks",
    apply: (text, random) => text.replace(/blocks:\s*\d+/, `blocks: ${between(random, 200, 2000)}`),
  },
  {
    name: "repeated-spreads",
    apply: (text, random) => {
      const keys = Array.from({ length: between(random, 100, 9990) }, (_, i) => `k${i}: ${i}`).join(", ");
      const spreads = Array(between(random, 2, 30))
        .fill("...s0")
        .join(", ");
      const at = EXPORT_AT(text);
      const use = text.slice(at).replace("resnet({", "resnet({ extra: s1,");
      return `${text.slice(0, at)}const s0 = { ${keys} };\nconst s1 = { ${spreads} };\n${use}`;
    },
  },
  {
    name: "long-name",
    apply: (text, random) => {
      const identifiers = tokens(text).filter((t) => t.kind === ts.SyntaxKind.Identifier);
      if (identifiers.length === 0) return text;
      const t = pick(random, identifiers);
      return text.slice(0, t.start) + "n".repeat(between(random, 1000, 100_000)) + text.slice(t.end);
    },
  },
  {
    name: "dotted-keys",
    apply: (text, random) => {
      const key = pick(random, ['"stages.0.channels"', '"stages.0"', '"input.1"', '"%2E"', '"."', '"stages."']);
      const value = pick(random, ["3", "-1", "nope", '"x"', "{}"]);
      return text.replace(/(resnet|stage)\(\{/, `$1({ ${key}: ${value},`);
    },
  },
  {
    name: "odd-line-ends",
    apply: (text, random) => text.replace(/\r?\n/g, pick(random, ["\r", "\u2028", "\u2029", "\r\n"])),
  },
];

export const MUTATOR_NAMES = MUTATORS.map((m) => m.name);

export interface FuzzCase {
  index: number;
  mutators: string[];
  text: string;
}

/** Case `index` of the run with `seed`: a corpus spec with one to three mutations. Deterministic. */
export function fuzzCase(seed: number, index: number, specs: readonly string[]): FuzzCase {
  const random = seededRandom(seed * 1_000_003 + index);
  let text = pick(random, specs);
  const mutators: string[] = [];
  for (let n = between(random, 1, 3); n > 0; n--) {
    const mutator = pick(random, MUTATORS);
    mutators.push(mutator.name);
    text = mutator.apply(text, random);
  }
  return { index, mutators, text };
}

/**
 * The most work any case may do, written out rather than read from SPEC_BUDGET, so that loosening the budget
 * (say, 10× the expressions) fails the fuzz run instead of loosening its check too.
 */
const WORK_BAR = { nodes: 50_000, elements: 500_000, depth: 200 } as const;

export type FuzzOutcome =
  | { kind: "ok"; errors: number; graphNodes: number }
  | { kind: "crash"; message: string }
  | { kind: "over-budget"; message: string }
  | { kind: "unlocated"; message: string };

/** Read one case the way the editor and CLI do, and judge the result. */
export function runFuzzCase(c: FuzzCase): FuzzOutcome {
  try {
    const file = "fuzz.resnet.ts";
    const evaluated = evaluateSpecText(c.text, file);
    const { work } = evaluated;
    if (work.nodes > WORK_BAR.nodes || work.elements > WORK_BAR.elements || work.depth > WORK_BAR.depth) {
      return { kind: "over-budget", message: JSON.stringify(work) };
    }
    const parsed = analyzeEvaluated(evaluated);
    const errors = parsed.diagnostics.filter((d) => d.severity === "error");
    for (const d of parsed.diagnostics) {
      const r = d.range;
      const located =
        r !== null &&
        r.line >= 1 &&
        r.column >= 1 &&
        r.startOffset >= 0 &&
        r.startOffset <= r.endOffset &&
        r.endOffset <= c.text.length;
      if (!located || d.code === "internal-error") return { kind: "unlocated", message: formatDiagnostic(d) };
      // eslint-disable-next-line no-control-regex -- finding control characters is the point of this check
      if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(formatDiagnostic(d)))
        return { kind: "unlocated", message: `control character in: ${JSON.stringify(d.message)}` };
    }
    if (parsed.graph) {
      // What the editor does next with a graph: the summary and hovers.
      summarize(parsed.graph, file);
      for (const offset of [0, c.text.length >> 1, c.text.length]) hoverMarkdown(parsed.graph, offset);
    }
    return { kind: "ok", errors: errors.length, graphNodes: parsed.graph?.nodes.length ?? 0 };
  } catch (err) {
    return { kind: "crash", message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
}

export interface FuzzReport {
  cases: number;
  crashes: number;
  overBudget: number;
  unlocated: number;
  withGraph: number;
  withErrors: number;
  /** The first few failures, for the message. */
  failures: string[];
  slowestMillis: number;
  totalMillis: number;
}

/** Run `cases` cases from `seed`. Times are reported for the README, never asserted. */
export function runFuzz(seed: number, cases: number, onProgress?: (done: number) => void): FuzzReport {
  const specs = corpus();
  const report: FuzzReport = {
    cases,
    crashes: 0,
    overBudget: 0,
    unlocated: 0,
    withGraph: 0,
    withErrors: 0,
    failures: [],
    slowestMillis: 0,
    totalMillis: 0,
  };
  const started = performance.now();
  for (let i = 0; i < cases; i++) {
    const c = fuzzCase(seed, i, specs);
    const t0 = performance.now();
    const outcome = runFuzzCase(c);
    report.slowestMillis = Math.max(report.slowestMillis, performance.now() - t0);
    if (outcome.kind === "ok") {
      if (outcome.graphNodes > 0) report.withGraph++;
      if (outcome.errors > 0) report.withErrors++;
    } else {
      if (outcome.kind === "crash") report.crashes++;
      if (outcome.kind === "over-budget") report.overBudget++;
      if (outcome.kind === "unlocated") report.unlocated++;
      if (report.failures.length < 10)
        report.failures.push(
          `case ${i} (seed ${seed}; ${c.mutators.join(", ")}): ${outcome.kind}: ${outcome.message.slice(0, 300)}`,
        );
    }
    if (onProgress && (i + 1) % 500 === 0) onProgress(i + 1);
  }
  report.totalMillis = performance.now() - started;
  return report;
}

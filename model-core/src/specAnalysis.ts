/**
 * A spec's text to its network in one pass: the static parser (./parser, the file is never run), then the analysis
 * to the graph IR (./analysis/analyze.ts), run once. The editor (through its spec worker), the CLI loader and the
 * tests all read specs through analyzeSpecText. Pure: strings in, plain objects out.
 */
import { analyze } from "./analysis/analyze";
import type { ModelGraph } from "./analysis/graph";
import { printable, type Diagnostic, type DiagnosticCode } from "./diagnostics";
import { evaluateSpecText, validateEvaluated, type EvaluatedSpecFile, type ParseOptions } from "./parser/parse";
import type { SpecSourceMap } from "./spec/sources";
import type { ResNetSpec } from "./spec/types";

export interface SpecAnalysis {
  /** The validated spec; kept when only the analysis refuses it (e.g. a collapsed spatial size), for hovers. */
  spec: ResNetSpec | null;
  /** Option path → where the spec writes it. */
  sources: SpecSourceMap;
  /** The analyzed graph; null when the spec has errors. */
  graph: ModelGraph | null;
  /** Every problem, each once, in source order. */
  diagnostics: Diagnostic[];
}

export interface AnalyzeOptions extends ParseOptions {
  /** The analysis step; a test passes a wrapper that counts its calls. */
  analyzeStep?: typeof analyze;
}

/** The failures failedAnalysis reports: the reader threw, or the analysis did not finish. */
export type FailureCode = Extract<DiagnosticCode, "internal-error" | "analysis-failed">;

/**
 * The one way a spec that could not be analysed is reported: no network, one error at 1:1 of the file saying why.
 * Editors show it on the file; the CLI prints `file:1:1: error: …`.
 */
export function failedAnalysis(file: string, message: string, code: FailureCode = "analysis-failed"): SpecAnalysis {
  const start = { file, startOffset: 0, endOffset: 0, line: 1, column: 1, endLine: 1, endColumn: 1 };
  return {
    spec: null,
    sources: new Map(),
    graph: null,
    diagnostics: [{ severity: "error", code, message: printable(message), range: start }],
  };
}

function bySourceOrder(a: Diagnostic, b: Diagnostic): number {
  return (a.range?.startOffset ?? -1) - (b.range?.startOffset ?? -1);
}

/** Validate an evaluated file and analyze the spec once. Throws only on a defect; analyzeSpecText never throws. */
export function analyzeEvaluated(evaluated: EvaluatedSpecFile, options: AnalyzeOptions = {}): SpecAnalysis {
  const { spec, sources, diagnostics } = validateEvaluated(evaluated, options);
  let graph: ModelGraph | null = null;
  if (spec) {
    const analysis = (options.analyzeStep ?? analyze)(spec, sources);
    graph = analysis.graph;
    for (const d of analysis.diagnostics) diagnostics.push(d);
  }
  diagnostics.sort(bySourceOrder);
  return { spec, sources, graph, diagnostics };
}

/** Parse, evaluate, validate and analyze the text of a `.resnet.ts` file. Never throws on bad input. */
export function analyzeSpecText(text: string, file: string, options: AnalyzeOptions = {}): SpecAnalysis {
  try {
    return analyzeEvaluated(evaluateSpecText(text, file), options);
  } catch (err) {
    // E.g. a stack overflow on absurdly deep nesting: still a located diagnostic, never a crash.
    const message = err instanceof Error ? err.message : String(err);
    return failedAnalysis(file, `could not read this spec: ${message}`, "internal-error");
  }
}

/**
 * Analysis of one spec document's text: the static parser (the spec is never executed), then the analysis to the graph IR, with their diagnostics
 * merged. Pure (strings in, plain objects out): the extension caches results per document version.
 */
import { parseSpecText } from "resnet-studio/parser/parse";
import { analyze } from "resnet-studio/analysis/analyze";
import type { ModelGraph } from "resnet-studio/analysis/graph";
import type { Diagnostic } from "resnet-studio/diagnostics";
import type { ResNetSpec } from "resnet-studio/spec/types";

export interface SpecAnalysis {
  spec: ResNetSpec | null;
  graph: ModelGraph | null;
  diagnostics: Diagnostic[];
}

function diagnosticKey(d: Diagnostic): string {
  return `${d.code}|${d.message}|${d.range?.startOffset ?? -1}|${d.range?.endOffset ?? -1}`;
}

/** Never throws: an unexpected failure becomes a diagnostic at the start of the file. */
export function analyzeSpecText(text: string, file: string): SpecAnalysis {
  try {
    const parsed = parseSpecText(text, file);
    const diagnostics = [...parsed.diagnostics];
    let graph: ModelGraph | null = null;
    if (parsed.spec && !parsed.diagnostics.some((d) => d.severity === "error")) {
      const analyzed = analyze(parsed.spec, parsed.sources);
      graph = analyzed.graph;
      // The parser may already have run the analysis for its own diagnostics; report each problem once.
      const seen = new Set(diagnostics.map(diagnosticKey));
      for (const d of analyzed.diagnostics) if (!seen.has(diagnosticKey(d))) diagnostics.push(d);
    }
    return { spec: parsed.spec, graph, diagnostics };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return {
      spec: null,
      graph: null,
      diagnostics: [
        {
          severity: "error",
          code: "internal",
          message: `ResNet Studio could not analyse this spec: ${message}`,
          range: { file, startOffset: 0, endOffset: 0, line: 1, column: 1, endLine: 1, endColumn: 1 },
        },
      ],
    };
  }
}

/** The same network without shortcuts (He et al. 2015's plain baseline), for the side-by-side gradient chart. */
export function plainTwin(spec: ResNetSpec): ModelGraph | null {
  if (!spec.residual) return null;
  try {
    return analyze({ ...spec, residual: false, name: `${spec.name} (plain)` }).graph;
  } catch {
    return null;
  }
}

/** Debounce that the tests can drive with fake timers; the last call in a burst wins. */
export function debounce<A extends unknown[]>(
  fn: (...args: A) => void,
  ms: number,
): ((...args: A) => void) & { cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const wrapped = (...args: A): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      fn(...args);
    }, ms);
  };
  return Object.assign(wrapped, {
    cancel: () => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  });
}

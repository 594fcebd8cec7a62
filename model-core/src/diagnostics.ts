/** A place in a source file. Lines and columns are 1-based (as editors and `file:line:col` show them); offsets are 0-based UTF-16 indices into the text. */
export interface SourceRange {
  file: string;
  startOffset: number;
  endOffset: number;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
}

export type Severity = "error" | "warning" | "info";

/** One problem found in a spec, located at the element that caused it. */
export interface Diagnostic {
  severity: Severity;
  message: string;
  /** Where it is. Null only when no source exists (a preset named on the command line). */
  range: SourceRange | null;
  /** Stable machine-readable code, e.g. "unsupported-syntax", "spatial-collapse". */
  code: string;
}

/** `file:line:col: severity: message`, the form terminals and editors turn into links. */
export function formatDiagnostic(d: Diagnostic, fallbackFile = "<spec>"): string {
  const where = d.range ? `${d.range.file}:${d.range.line}:${d.range.column}` : fallbackFile;
  return `${where}: ${d.severity}: ${d.message}`;
}

/** Thrown by model-core for bad user input; callers print `diagnostics`, never the stack. */
export class SpecError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.map((d) => formatDiagnostic(d)).join("\n"));
    this.name = "SpecError";
  }
}

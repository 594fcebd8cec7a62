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

/** C0 and C1 control characters, DEL, and the line and paragraph separators. */
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/**
 * Text from a spec made safe for one line of a terminal or a problem list: control characters become escapes
 * (`\n`, `\x1b`), so a spec can neither send terminal sequences (ESC, OSC) nor split a message across lines.
 */
export function printable(text: string): string {
  return text.replace(CONTROL_CHARACTERS, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    const code = c.charCodeAt(0);
    return code > 0xff ? `\\u${code.toString(16).padStart(4, "0")}` : `\\x${code.toString(16).padStart(2, "0")}`;
  });
}

/** `file:line:col: severity: message`, the form terminals and editors turn into links. Always one line. */
export function formatDiagnostic(d: Diagnostic, fallbackFile = "<spec>"): string {
  const where = d.range ? `${d.range.file}:${d.range.line}:${d.range.column}` : fallbackFile;
  return printable(`${where}: ${d.severity}: ${d.message}`);
}

/** Thrown by model-core for bad user input; callers print `diagnostics`, never the stack. */
export class SpecError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.map((d) => formatDiagnostic(d)).join("\n"));
    this.name = "SpecError";
  }
}

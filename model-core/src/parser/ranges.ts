/** Source ranges and diagnostics for nodes of a TypeScript syntax tree. */
import ts from "typescript";
import { printable, type Diagnostic, type DiagnosticCode, type SourceRange } from "../diagnostics";

export function rangeOf(sourceFile: ts.SourceFile, file: string, start: number, end: number): SourceRange {
  const from = sourceFile.getLineAndCharacterOfPosition(start);
  const to = sourceFile.getLineAndCharacterOfPosition(end);
  return {
    file,
    startOffset: start,
    endOffset: end,
    line: from.line + 1,
    column: from.character + 1,
    endLine: to.line + 1,
    endColumn: to.character + 1,
  };
}

export function nodeRange(sourceFile: ts.SourceFile, file: string, node: ts.Node): SourceRange {
  return rangeOf(sourceFile, file, node.getStart(sourceFile), node.getEnd());
}

/** A parser error; the message may quote the spec, so it is made one printable line. */
export function errorAt(range: SourceRange | null, code: DiagnosticCode, message: string): Diagnostic {
  return { severity: "error", code, message: printable(message), range };
}

const MAX_SYNTAX_ERRORS = 100;

/** TypeScript's own syntax errors, located (the first 100, then one saying how many more). `parseDiagnostics` is not in the public typings but is always set by createSourceFile. */
export function syntaxDiagnostics(sourceFile: ts.SourceFile, file: string): Diagnostic[] {
  const parsed =
    (sourceFile as unknown as { parseDiagnostics?: readonly ts.DiagnosticWithLocation[] }).parseDiagnostics ?? [];
  // The first errors are the useful ones; a truncated huge literal would give one per element.
  const shown = parsed.slice(0, MAX_SYNTAX_ERRORS).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, " ");
    return errorAt(rangeOf(sourceFile, file, d.start, d.start + d.length), "syntax-error", `syntax error: ${message}`);
  });
  const more = parsed[MAX_SYNTAX_ERRORS];
  if (more)
    shown.push(
      errorAt(
        rangeOf(sourceFile, file, more.start, more.start + more.length),
        "syntax-error",
        `${parsed.length - MAX_SYNTAX_ERRORS} more syntax errors from here on`,
      ),
    );
  return shown;
}

/** Line ends as TypeScript counts them (\r\n, \n, \r, U+2028, U+2029), so a range found before parsing agrees with one after. */
const LINE_END = /\r\n?|[\n\u2028\u2029]/g;

/** The range of one offset in `text`, found without a syntax tree (e.g. before TypeScript may parse the text). */
export function rangeAtOffset(text: string, file: string, offset: number): SourceRange {
  let line = 1;
  let lineStart = 0;
  LINE_END.lastIndex = 0;
  for (let end = LINE_END.exec(text); end && end.index < offset; end = LINE_END.exec(text)) {
    line++;
    lineStart = end.index + end[0].length;
  }
  const column = offset - lineStart + 1;
  return { file, startOffset: offset, endOffset: offset, line, column, endLine: line, endColumn: column };
}

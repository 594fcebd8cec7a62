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

/**
 * Every diagnostic code, each with what it means: the only place codes are defined. Codes are stable (problem lists,
 * tests and scripts match them); add one here before using it.
 */
export const DIAGNOSTIC_CODES = {
  // Reading the file (model-core/src/parser).
  "syntax-error": "TypeScript cannot parse the text",
  "unsupported-syntax": "a construct outside the declarative subset a spec may use (statements, let, destructuring…)",
  "unsupported-import": 'an import from another module than "resnet-studio", or a default import of it',
  "unsupported-call": "a call of something other than resnet(), stage() or presets.<name>()",
  "uncalled-function": "a builder named where its result is needed, without calling it",
  "wrong-arguments": "a builder called with the wrong number of arguments",
  "unknown-identifier": "a name that is neither a const of the spec nor an import",
  "use-before-definition": "a const used above (or inside) its own declaration",
  "unknown-member": "a property the value does not have",
  "unknown-preset": "a preset name that does not exist (in a spec or on the command line)",
  "preset-fixed-key": "an override of an option the preset fixes (its stages or block)",
  "duplicate-key": "an object that gives the same key twice",
  "duplicate-export": "a second default export",
  "missing-default-export": "a file without a default export",
  "invalid-default-export": "a default export that is not a network",
  "misplaced-network": "a whole network (resnet(...)) where an option value belongs",
  "invalid-operand": "an operator applied to a value it does not take, e.g. arithmetic on a string",
  "invalid-spread": "a spread of a value that cannot be spread there",
  "budget-exceeded": "the file is past the reader's work budget (model-core/src/parser/budget.ts)",
  "nesting-too-deep": "brackets or operators nested deeper than the reader's budget allows",
  // The options (model-core/src/spec/builders.ts).
  "unknown-key": "an option or stage key that does not exist",
  "missing-key": "a required option or stage key that is absent",
  "invalid-type": "an option value of the wrong type",
  "invalid-number": "a number out of its option's range",
  "unknown-value": "a string that is not one of its option's values",
  "empty-stages": "a network without stages",
  // The network (model-core/src/analysis/analyze.ts).
  "absurd-size": "a size far past what can be built or trained (a string, an input, channels, blocks)",
  "spatial-collapse": "a stride that shrinks the feature map below one pixel",
  "groups-mismatch": "channels that do not divide into the groups of a grouped convolution",
  "shortcut-a-drops-channels": "a shortcut of option A where channels shrink (it can only zero-pad them)",
  "zero-init-ignored": "zeroInitResidual where no BN ends the residual branch (warning)",
  "shortcut-variant-ignored": "shortcutVariant on a network without shortcuts (warning)",
  // Loading (model-core/src/load.ts).
  "file-not-found": "the path names no file (or a directory)",
  "file-unreadable": "the file exists but cannot be read",
  // Failures, reported at 1:1 of the file by failedAnalysis (model-core/src/specAnalysis.ts).
  "internal-error": "reading the spec threw: a defect in ResNet Studio, never the spec's fault",
  "analysis-failed": "the analysis did not finish (time limit, memory, stopped worker) or gave no network",
} as const satisfies Record<string, string>;

/** A stable machine-readable code, one of DIAGNOSTIC_CODES. */
export type DiagnosticCode = keyof typeof DIAGNOSTIC_CODES;

export function isDiagnosticCode(code: string): code is DiagnosticCode {
  return Object.hasOwn(DIAGNOSTIC_CODES, code);
}

/** One problem found in a spec, located at the element that caused it. */
export interface Diagnostic {
  severity: Severity;
  message: string;
  /** Where it is. Null only when no source exists (a preset named on the command line). */
  range: SourceRange | null;
  /** Stable machine-readable code, e.g. "unsupported-syntax", "spatial-collapse" (see DIAGNOSTIC_CODES). */
  code: DiagnosticCode;
  /** Nearest valid values that would clear it, best first: the data of an editor's quick fixes (./edit/quickFix.ts). */
  suggestions?: Suggestion[];
}

/**
 * A nearest valid value for one place in the spec: an option value (written as a literal there) or a key or preset
 * name (written as a name).
 */
export interface Suggestion {
  kind: "value" | "name";
  value: string | number;
  /** Where it goes: the diagnostic's own range when absent (e.g. groups-mismatch points at the stage, not groups). */
  range?: SourceRange;
  /** The option it sets, named in the fix's title where `range` is not the diagnostic's. */
  option?: string;
}

/**
 * C0 and C1 control characters, DEL, the line and paragraph separators, the bidirectional marks, embeddings,
 * overrides and isolates (which reorder what a reader sees: "Trojan Source", CVE-2021-42574), and the noncharacters
 * U+FFFE and U+FFFF.
 */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufffe\uffff]/g;
/** The same set less C0, which JSON.stringify already escapes. */
const JSON_UNESCAPED = /[\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufffe\uffff]/g;

const unicodeEscape = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;

/**
 * Text from a spec made safe for one line of a terminal or a problem list: control characters become escapes
 * (`\n`, `\x1b`, `\u202e`), so a spec can neither send terminal sequences (ESC, OSC), split a message across lines,
 * nor reorder what is shown. The one sanitiser for terminal text: every name a command prints goes through it.
 */
export function printable(text: string): string {
  return text.replace(CONTROL_CHARACTERS, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    const code = c.charCodeAt(0);
    return code > 0xff ? unicodeEscape(c) : `\\x${code.toString(16).padStart(2, "0")}`;
  });
}

/** Longest name a message quotes whole; a longer one is cut (a 900,000-character identifier made a 900 KB line). */
export const MAX_QUOTED_CHARS = 80;

/** A name from the spec (identifier, key, string value) as messages quote it: in double quotes, cut when long. */
export function quoteName(name: string): string {
  if (name.length <= MAX_QUOTED_CHARS) return `"${name}"`;
  // Never cut between the halves of a surrogate pair.
  const end = /[\ud800-\udbff]/.test(name[MAX_QUOTED_CHARS - 1]) ? MAX_QUOTED_CHARS - 1 : MAX_QUOTED_CHARS;
  return `"${name.slice(0, end)}…" (${name.length} characters)`;
}

/** Multi-line text (a table, a report) with each line made printable. */
export function printableLines(text: string): string {
  return text.split("\n").map(printable).join("\n");
}

/**
 * JSON.stringify whose output is plain printable text: it escapes C0 itself, and this escapes the rest of the set
 * above as `\uXXXX` (the same value to any JSON reader, and to Python and JavaScript as a string literal).
 */
export function printableJson(value: unknown, space?: number): string {
  return escapeJsonText(JSON.stringify(value, null, space));
}

/** The escapes of printableJson, for text JSON.stringify already wrote (they can only occur inside its strings). */
export function escapeJsonText(json: string): string {
  return json.replace(JSON_UNESCAPED, unicodeEscape);
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

/**
 * Quick fixes from diagnostics: each suggestion a diagnostic carries (its nearest valid value, see diagnostics.ts
 * `Suggestion`) as one replacement of the spec text, written the way the text already writes it (the same quote
 * character, a bare key name where the key is bare). Pure: the editor's code-action provider only maps these to
 * its own types.
 */
import type { Diagnostic, Suggestion } from "../diagnostics";
import { printable } from "../diagnostics";
import type { TextEdit } from "./specEdit";

export interface QuickFix {
  /** What the fix does, e.g. `Change "basik" to "basic"`. */
  title: string;
  /** The diagnostic it clears. */
  diagnostic: Diagnostic;
  edit: TextEdit;
  /** The first suggestion of a diagnostic is the one applied by "auto fix". */
  preferred: boolean;
}

/** Longest original text a title quotes. */
const MAX_TITLE_QUOTE = 40;
const QUOTES = ['"', "'", "`"];
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
/** A property name at the start of a property: an identifier or a quoted string. */
const LEADING_NAME = /^(?:[A-Za-z_$][\w$]*|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')/;

/** A string literal in the quote style of `original` (double quotes when it is not a literal). */
function stringLiteral(value: string, original: string): string {
  const quote = QUOTES.find((q) => original.length >= 2 && original.startsWith(q) && original.endsWith(q)) ?? '"';
  const json = JSON.stringify(value).slice(1, -1);
  if (quote === '"') return `"${json}"`;
  // JSON escapes ", which need no escape in the other quote styles; escape the chosen quote instead.
  const body = json.replace(/\\"/g, '"').replaceAll(quote, `\\${quote}`);
  return `${quote}${quote === "`" ? body.replaceAll("${", "\\${") : body}${quote}`;
}

function replacementText(suggestion: Suggestion, original: string): string {
  if (typeof suggestion.value === "number") return String(suggestion.value);
  if (suggestion.kind === "name" && IDENTIFIER.test(suggestion.value) && IDENTIFIER.test(original))
    return suggestion.value;
  return stringLiteral(suggestion.value, original);
}

/** Every quick fix of `diagnostics`, against the text they were computed from. */
export function quickFixes(text: string, diagnostics: readonly Diagnostic[]): QuickFix[] {
  const fixes: QuickFix[] = [];
  for (const diagnostic of diagnostics) {
    for (const [i, suggestion] of (diagnostic.suggestions ?? []).entries()) {
      const range = suggestion.range ?? diagnostic.range;
      if (!range || range.startOffset < 0 || range.endOffset > text.length || range.endOffset < range.startOffset)
        continue;
      let original = text.slice(range.startOffset, range.endOffset);
      // A key's diagnostic covers the whole property (`chanels: 3`): only its name is replaced.
      if (suggestion.kind === "name") original = LEADING_NAME.exec(original)?.[0] ?? original;
      const newText = replacementText(suggestion, original);
      if (newText === original) continue;
      const quoted = original.length <= MAX_TITLE_QUOTE && !original.includes("\n") ? printable(original) : null;
      const title = suggestion.option
        ? `Change ${suggestion.option} to ${newText}`
        : quoted
          ? `Change ${quoted} to ${newText}`
          : `Change to ${newText}`;
      fixes.push({
        title,
        diagnostic,
        edit: { startOffset: range.startOffset, endOffset: range.startOffset + original.length, newText },
        preferred: i === 0,
      });
    }
  }
  return fixes;
}

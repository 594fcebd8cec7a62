/**
 * The fixed work budget of reading one spec. Counts, never a clock: the same file always gets the same answer.
 * A real spec (examples/, every preset) stays far below each bar; hostile ones (const chains that double, deep
 * nesting, huge literals) stop at the first bar they cross with one located diagnostic.
 */
import ts from "typescript";
import type { SourceRange } from "../diagnostics";

export const SPEC_BUDGET = {
  /** Characters of source. TypeScript parses 2 MB of array literal in ≈ 0.6 s on this project's 2-core machine. */
  sourceChars: 1_000_000,
  /** Nesting of brackets in the text and of expressions in the tree (TypeScript's parser overflows near 10k brackets). */
  nesting: 200,
  /** Expressions evaluated in the whole file (a real spec has a few hundred). */
  nodes: 50_000,
  /** Elements of one value, counted through nested arrays and objects (a shared const counts each time it is used). */
  valueElements: 10_000,
  /** Elements produced or copied in the whole file: bounds the total work even when each value stays small. */
  producedElements: 500_000,
  /** Problems reported in one file; past them the reader stops (a truncated huge literal can make one per element). */
  diagnostics: 200,
} as const;

/** The last problem reported once a file has SPEC_BUDGET.diagnostics of them. */
export const TOO_MANY_PROBLEMS = `more than ${SPEC_BUDGET.diagnostics} problems in this spec; fix the ones above first`;

/** Work done reading one spec, in the budget's units. */
export interface SpecWork {
  nodes: number;
  elements: number;
  depth: number;
}

/** Thrown when a bar of the budget is crossed; parsing stops and reports it at `range`. */
export class BudgetExceeded extends Error {
  constructor(
    readonly range: SourceRange | null,
    readonly code: "budget-exceeded" | "nesting-too-deep",
    message: string,
  ) {
    super(message);
  }
}

/** Tokens after which TypeScript's parser recurses for what follows (prefix operators, `?`, `=>`, `=`, `**`, `<`). */
const NESTING_TOKENS: ReadonlySet<ts.SyntaxKind> = new Set([
  ts.SyntaxKind.PlusToken,
  ts.SyntaxKind.MinusToken,
  ts.SyntaxKind.PlusPlusToken,
  ts.SyntaxKind.MinusMinusToken,
  ts.SyntaxKind.ExclamationToken,
  ts.SyntaxKind.TildeToken,
  ts.SyntaxKind.QuestionToken,
  ts.SyntaxKind.EqualsGreaterThanToken,
  ts.SyntaxKind.EqualsToken,
  ts.SyntaxKind.AsteriskAsteriskToken,
  ts.SyntaxKind.LessThanToken,
  ts.SyntaxKind.TypeOfKeyword,
  ts.SyntaxKind.VoidKeyword,
  ts.SyntaxKind.NewKeyword,
  ts.SyntaxKind.AwaitKeyword,
  ts.SyntaxKind.DeleteKeyword,
  ts.SyntaxKind.YieldKeyword,
  ts.SyntaxKind.DotDotDotToken,
]);

/**
 * Offset of the first token nested deeper than `limit`, or -1. Runs on tokens (TypeScript's scanner, which does not
 * recurse) before TypeScript's parser, which recurses once per level and overflows the stack near 10k levels. A level
 * is an open bracket or a token after which the parser recurses (`- - - 1`, `a ? b ? …`, `() => () => …`); a `,` or
 * `;` ends the levels opened since its bracket. A conservative count: real specs nest fewer than 20 levels.
 */
export function findDeepNesting(text: string, limit: number): number {
  const scanner = ts.createScanner(ts.ScriptTarget.ES2022, true, ts.LanguageVariant.Standard, text);
  // Per open bracket: the level outside it, whether it is a template's `${`, and the `else if` levels opened inside
  // it, which a `;` does not end (the parser recurses once per `else if` of a chain).
  const open: { level: number; template: boolean; chained: number }[] = [];
  let topChained = 0;
  let level = 0;
  // The file's start is a statement's start.
  let previous: ts.SyntaxKind = ts.SyntaxKind.SemicolonToken;
  let beforePrevious: ts.SyntaxKind = ts.SyntaxKind.SemicolonToken;
  for (let token = scanner.scan(); token !== ts.SyntaxKind.EndOfFileToken; token = scanner.scan()) {
    // A `/` where an operand may start begins a regular expression: scan it whole, so `/'/` or `/[/*]/` hides no
    // quote, comment or bracket from the count.
    if ((token === ts.SyntaxKind.SlashToken || token === ts.SyntaxKind.SlashEqualsToken) && !ENDS_OPERAND.has(previous))
      token = scanner.reScanSlashToken();
    switch (token) {
      case ts.SyntaxKind.OpenParenToken:
      case ts.SyntaxKind.OpenBracketToken:
      case ts.SyntaxKind.OpenBraceToken:
      case ts.SyntaxKind.TemplateHead:
        open.push({ level, template: token === ts.SyntaxKind.TemplateHead, chained: 0 });
        level++;
        break;
      case ts.SyntaxKind.CloseParenToken:
      case ts.SyntaxKind.CloseBracketToken:
      case ts.SyntaxKind.CloseBraceToken: {
        const closed = open.pop();
        level = closed?.level ?? 0;
        if (
          closed?.template &&
          token === ts.SyntaxKind.CloseBraceToken &&
          scanner.reScanTemplateToken(false) === ts.SyntaxKind.TemplateMiddle
        ) {
          open.push(closed);
          level++;
        }
        break;
      }
      case ts.SyntaxKind.CommaToken:
      case ts.SyntaxKind.SemicolonToken: {
        const inner = open.at(-1);
        level = inner ? inner.level + 1 + inner.chained : topChained;
        break;
      }
      case ts.SyntaxKind.IfKeyword:
        if (previous === ts.SyntaxKind.ElseKeyword) {
          const inner = open.at(-1);
          if (inner) inner.chained++;
          else topChained++;
          level++;
        }
        break;
      case ts.SyntaxKind.ColonToken:
        // A label (`a: b: c: …` at a statement's start): the parser recurses once per label.
        if (previous === ts.SyntaxKind.Identifier && STARTS_STATEMENT.has(beforePrevious)) level++;
        break;
      default:
        if (NESTING_TOKENS.has(token)) level++;
    }
    if (level > limit) return scanner.getTokenStart();
    beforePrevious = previous;
    previous = token;
  }
  return -1;
}

/** Tokens after which a `/` divides (they end an operand); after any other token it starts a regular expression. */
const ENDS_OPERAND: ReadonlySet<ts.SyntaxKind> = new Set([
  ts.SyntaxKind.Identifier,
  ts.SyntaxKind.NumericLiteral,
  ts.SyntaxKind.BigIntLiteral,
  ts.SyntaxKind.StringLiteral,
  ts.SyntaxKind.RegularExpressionLiteral,
  ts.SyntaxKind.NoSubstitutionTemplateLiteral,
  ts.SyntaxKind.TemplateTail,
  ts.SyntaxKind.CloseParenToken,
  ts.SyntaxKind.CloseBracketToken,
  ts.SyntaxKind.CloseBraceToken,
  ts.SyntaxKind.PlusPlusToken,
  ts.SyntaxKind.MinusMinusToken,
  ts.SyntaxKind.ThisKeyword,
  ts.SyntaxKind.SuperKeyword,
  ts.SyntaxKind.TrueKeyword,
  ts.SyntaxKind.FalseKeyword,
  ts.SyntaxKind.NullKeyword,
]);

/**
 * Tokens after which an `identifier :` is counted as a label. Not `{`: there it is an object's first key (a deep
 * `{ a: { a: …` counts once per brace); a chain of labels counts from its second, after a `:`.
 */
const STARTS_STATEMENT: ReadonlySet<ts.SyntaxKind> = new Set([
  ts.SyntaxKind.SemicolonToken,
  ts.SyntaxKind.CloseBraceToken,
  ts.SyntaxKind.ColonToken,
  ts.SyntaxKind.ElseKeyword,
]);

/**
 * Element counts of values, memoised per array or object so a const used twice is counted in O(1) the second time.
 * A value's count is 1 plus the counts of its members.
 */
export class ValueSizes {
  private readonly sizes = new WeakMap<object, number>();

  of(value: unknown): number {
    if (typeof value !== "object" || value === null) return 1;
    const known = this.sizes.get(value);
    if (known !== undefined) return known;
    // Values are built bottom-up, so members are already measured: this loop is one level deep.
    let total = 1;
    const members = Array.isArray(value) ? value : Object.values(value);
    for (const member of members) total += this.of(member);
    this.sizes.set(value, total);
    return total;
  }

  remember(value: object, size: number): void {
    this.sizes.set(value, size);
  }
}

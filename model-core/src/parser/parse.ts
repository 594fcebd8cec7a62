/**
 * The static `.resnet.ts` parser: reads the file's syntax tree with the TypeScript compiler API, evaluates
 * the declarative subset (never executing the file) and validates the options. The analysis to a graph is the next
 * step of the pipeline (../specAnalysis.ts), run once there.
 */
import ts from "typescript";
import type { Diagnostic, SourceRange } from "../diagnostics";
import { normalizeSpec } from "../spec/builders";
import { sourceAt, sourcePath, type SpecSourceMap } from "../spec/sources";
import type { ResNetSpec, Shape3 } from "../spec/types";
import { SPEC_MODULE, SpecEvaluator } from "./evaluate";
import { errorAt, rangeAtOffset, rangeOf, syntaxDiagnostics } from "./ranges";
import { BudgetExceeded, SPEC_BUDGET, TOO_MANY_PROBLEMS, findDeepNesting, type SpecWork } from "./budget";
import { CallableRef, NetworkValue, PresetRef, describeValue, type Evaluated } from "./values";

export interface ParseOptions {
  /** Replaces the spec's `input` (the CLI's `--input C,H,W`). */
  input?: Shape3;
}

/** A spec file read and validated, not yet analyzed. */
export interface ParsedSpec {
  /** The validated spec; null when reading or validating it found errors. */
  spec: ResNetSpec | null;
  sources: SpecSourceMap;
  diagnostics: Diagnostic[];
}

/** The default export, evaluated but not yet validated. */
export interface EvaluatedSpecFile {
  /** The loose options of the default export's network, or null when there is none. */
  options: unknown;
  sources: Map<string, SourceRange>;
  /** Option paths that could not be evaluated (already reported). */
  invalid: Set<string>;
  diagnostics: Diagnostic[];
  /** Range of the whole default-export expression. */
  exportRange: SourceRange | null;
  /** Start offset of a property's value → range of the whole `key: value` property. */
  propertyRanges: ReadonlyMap<number, SourceRange>;
  /** Work done evaluating, never past SPEC_BUDGET (./budget.ts). */
  work: SpecWork;
}

const BUILDER_IMPORTS = new Set(["resnet", "stage", "presets"]);
const STATEMENT_HINT = `a spec file holds only imports from "${SPEC_MODULE}", const declarations, types and \`export default resnet({...})\``;

/** "loops are", "this statement is": the start of a sentence about an unsupported statement. */
function statementPhrase(statement: ts.Statement): string {
  if (ts.isFunctionDeclaration(statement)) return "function declarations are";
  if (ts.isClassDeclaration(statement)) return "classes are";
  if (ts.isIfStatement(statement)) return "if statements are";
  if (
    ts.isForStatement(statement) ||
    ts.isForOfStatement(statement) ||
    ts.isForInStatement(statement) ||
    ts.isWhileStatement(statement) ||
    ts.isDoStatement(statement)
  )
    return "loops are";
  if (ts.isExpressionStatement(statement)) return "expression statements are";
  if (ts.isEnumDeclaration(statement)) return "enums are";
  if (ts.isModuleDeclaration(statement)) return "namespaces are";
  if (ts.isImportEqualsDeclaration(statement)) return "`import … = require(…)` is";
  if (ts.isExportDeclaration(statement)) return "re-exports are";
  return "this statement is";
}

function hasModifier(node: ts.Node, kind: ts.SyntaxKind): boolean {
  return ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === kind);
}

/** A file that stops at `diagnostic`: nothing of it is evaluated further. */
const NO_WORK: SpecWork = { nodes: 0, elements: 0, depth: 0 };

function refused(
  diagnostics: Diagnostic[],
  propertyRanges: ReadonlyMap<number, SourceRange> = new Map(),
  work = NO_WORK,
): EvaluatedSpecFile {
  return {
    options: null,
    sources: new Map(),
    invalid: new Set([""]),
    diagnostics,
    exportRange: null,
    propertyRanges,
    work,
  };
}

/**
 * The text checks done before TypeScript parses it: its size, and bracket nesting that would overflow the parser's
 * stack. Null when the text may be parsed.
 */
function refuseBeforeParsing(text: string, file: string): Diagnostic | null {
  if (text.length > SPEC_BUDGET.sourceChars) {
    return errorAt(
      rangeAtOffset(text, file, SPEC_BUDGET.sourceChars),
      "budget-exceeded",
      `this file is longer than ${SPEC_BUDGET.sourceChars} characters (${text.length}); a spec needs far fewer`,
    );
  }
  const deep = findDeepNesting(text, SPEC_BUDGET.nesting);
  if (deep >= 0)
    return errorAt(
      rangeAtOffset(text, file, deep),
      "nesting-too-deep",
      `nesting deeper than ${SPEC_BUDGET.nesting} levels; a spec needs only a few`,
    );
  return null;
}

/** Evaluate a spec file's default export without validating it. Stops with one located diagnostic past the budget (./budget.ts). */
export function evaluateSpecText(text: string, file: string): EvaluatedSpecFile {
  const early = refuseBeforeParsing(text, file);
  if (early) return refused([early]);
  let sourceFile: ts.SourceFile;
  try {
    sourceFile = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    // A shape of nesting the pre-scan does not count (it counts brackets and prefix operators).
    return refused([
      errorAt(
        rangeAtOffset(text, file, 0),
        "nesting-too-deep",
        "this file nests too deeply for the parser; a spec needs only a few levels",
      ),
    ]);
  }
  const evaluator = new SpecEvaluator(sourceFile, file);
  try {
    return evaluateSourceFile(sourceFile, file, evaluator);
  } catch (err) {
    if (!(err instanceof BudgetExceeded)) throw err;
    return refused(
      [...evaluator.diagnostics, errorAt(err.range, err.code, err.message)],
      evaluator.propertyRanges,
      evaluator.work,
    );
  }
}

function evaluateSourceFile(sourceFile: ts.SourceFile, file: string, evaluator: SpecEvaluator): EvaluatedSpecFile {
  const diagnostics = evaluator.diagnostics;
  // Loops, not push(...list): a truncated 100k-element literal yields 100k syntax errors, more arguments than the stack holds.
  for (const d of syntaxDiagnostics(sourceFile, file)) diagnostics.push(d);

  for (const statement of sourceFile.statements) {
    if (ts.isVariableStatement(statement) && statement.declarationList.flags & ts.NodeFlags.Const) {
      for (const d of statement.declarationList.declarations) {
        if (ts.isIdentifier(d.name))
          evaluator.pendingConsts.set(
            d.name.text,
            rangeOf(sourceFile, file, d.name.getStart(sourceFile), d.name.end).line,
          );
      }
    }
  }

  let exported: Evaluated | null = null;
  let exportNode: ts.Node | null = null;
  for (const statement of sourceFile.statements) {
    if (ts.isImportDeclaration(statement)) {
      importBindings(statement, evaluator);
    } else if (ts.isVariableStatement(statement)) {
      constBindings(statement, evaluator);
    } else if (ts.isExportAssignment(statement)) {
      if (statement.isExportEquals) {
        evaluator.error(
          statement,
          "unsupported-syntax",
          "`export =` is not supported; write `export default resnet({...})`",
        );
        continue;
      }
      if (exported !== null) {
        evaluator.error(statement, "duplicate-export", "a spec file has exactly one default export; remove this one");
        continue;
      }
      exportNode = statement.expression;
      exported = evaluator.evaluate(statement.expression);
    } else if (
      ts.isTypeAliasDeclaration(statement) ||
      ts.isInterfaceDeclaration(statement) ||
      ts.isEmptyStatement(statement)
    ) {
      // Types only help the editor.
    } else if (ts.isExportDeclaration(statement) && statement.isTypeOnly) {
      // `export type { ... }`
    } else if (
      ts.isExportDeclaration(statement) &&
      !statement.moduleSpecifier &&
      statement.exportClause &&
      ts.isNamedExports(statement.exportClause)
    ) {
      // `export { net as default }` is the same as `export default net`; other names are just exported.
      for (const element of statement.exportClause.elements) {
        if (element.name.text !== "default") continue;
        if (exported !== null) {
          evaluator.error(element, "duplicate-export", "a spec file has exactly one default export; remove this one");
          continue;
        }
        const local = element.propertyName ?? element.name;
        exportNode = local;
        exported = ts.isIdentifier(local)
          ? evaluator.evaluate(local)
          : evaluator.error(local, "unsupported-syntax", "export a const by name");
      }
    } else if (hasModifier(statement, ts.SyntaxKind.DefaultKeyword)) {
      evaluator.error(
        statement,
        "invalid-default-export",
        "the default export must be resnet({...}) or presets.<name>(...), not a declaration",
      );
      exported ??= { value: undefined, sources: new Map(), invalid: new Set([""]) };
    } else {
      if (ts.isImportEqualsDeclaration(statement)) evaluator.bindings.set(statement.name.text, { kind: "broken" });
      const hint = ts.isExportDeclaration(statement) ? "; write `export default <name>` to export a const" : "";
      evaluator.error(
        statement,
        "unsupported-syntax",
        `${statementPhrase(statement)} not allowed (the file is read, never run); ${STATEMENT_HINT}${hint}`,
      );
    }
  }

  if (exported === null || exportNode === null) {
    if (exported === null) {
      const start = rangeOf(sourceFile, file, 0, 0);
      diagnostics.push(
        errorAt(
          start,
          "missing-default-export",
          "no default export; end the file with `export default resnet({ stages: [...] })` or `export default presets.resnet18()`",
        ),
      );
    }
    return refused(diagnostics, evaluator.propertyRanges, evaluator.work);
  }
  const value = exported.value;
  if (value === undefined)
    return {
      options: null,
      sources: exported.sources,
      invalid: new Set([""]),
      diagnostics,
      exportRange: evaluator.range(exportNode),
      propertyRanges: evaluator.propertyRanges,
      work: evaluator.work,
    };
  if (!(value instanceof NetworkValue)) {
    const hint =
      value instanceof CallableRef && value.kind === "resnet"
        ? "call it: resnet({ stages: [...] })"
        : value instanceof PresetRef
          ? `call it: presets.${value.name}()`
          : "wrap the options in resnet({...}) or use presets.<name>(...)";
    evaluator.error(
      exportNode,
      "invalid-default-export",
      `the default export must be a network, not ${describeValue(value)}; ${hint}`,
    );
    return {
      options: null,
      sources: new Map(),
      invalid: new Set([""]),
      diagnostics,
      exportRange: evaluator.range(exportNode),
      propertyRanges: evaluator.propertyRanges,
      work: evaluator.work,
    };
  }
  return {
    options: value.options,
    sources: exported.sources,
    invalid: exported.invalid,
    diagnostics,
    exportRange: evaluator.range(exportNode),
    propertyRanges: evaluator.propertyRanges,
    work: evaluator.work,
  };
}

function importBindings(statement: ts.ImportDeclaration, evaluator: SpecEvaluator): void {
  const clause = statement.importClause;
  const moduleName = ts.isStringLiteral(statement.moduleSpecifier) ? statement.moduleSpecifier.text : "";
  const names: ts.Identifier[] = [];
  if (clause?.name) names.push(clause.name);
  if (clause?.namedBindings && ts.isNamespaceImport(clause.namedBindings)) names.push(clause.namedBindings.name);
  if (clause?.namedBindings && ts.isNamedImports(clause.namedBindings))
    for (const e of clause.namedBindings.elements) names.push(e.name);
  const breakAll = () => names.forEach((n) => evaluator.bindings.set(n.text, { kind: "broken" }));
  if (moduleName !== SPEC_MODULE) {
    if (!clause?.isTypeOnly) {
      evaluator.error(
        statement.moduleSpecifier,
        "unsupported-import",
        `imports from ${statement.moduleSpecifier.getText()} are not allowed; a spec imports only from "${SPEC_MODULE}" (other files are never loaded)`,
      );
    }
    breakAll();
    return;
  }
  if (!clause) return;
  if (clause.name) {
    evaluator.error(
      clause.name,
      "unsupported-import",
      `"${SPEC_MODULE}" has no default export; write import { resnet, stage, presets } from "${SPEC_MODULE}"`,
    );
    evaluator.bindings.set(clause.name.text, { kind: "broken" });
  }
  const bindings = clause.namedBindings;
  if (!bindings) return;
  if (ts.isNamespaceImport(bindings)) {
    evaluator.bindings.set(bindings.name.text, {
      kind: "callable",
      ref: new CallableRef("namespace", bindings.name.text),
    });
    return;
  }
  for (const element of bindings.elements) {
    const imported = (element.propertyName ?? element.name).text;
    const local = element.name.text;
    const kind =
      BUILDER_IMPORTS.has(imported) && !clause.isTypeOnly && !element.isTypeOnly
        ? (imported as "resnet" | "stage" | "presets")
        : "other-import";
    evaluator.bindings.set(local, { kind: "callable", ref: new CallableRef(kind, local) });
  }
}

function constBindings(statement: ts.VariableStatement, evaluator: SpecEvaluator): void {
  const list = statement.declarationList;
  const isConst = (list.flags & ts.NodeFlags.Const) !== 0;
  if (!isConst) {
    const keyword = list.flags & ts.NodeFlags.Let ? "let" : "var";
    evaluator.error(
      list,
      "unsupported-syntax",
      `\`${keyword}\` bindings are not allowed; use \`const\` (a spec is a fixed description)`,
    );
  }
  for (const declaration of list.declarations) {
    if (!ts.isIdentifier(declaration.name)) {
      evaluator.error(
        declaration.name,
        "unsupported-syntax",
        "destructuring is not supported; declare each const by name",
      );
      for (const element of declaration.name.elements) {
        if (!ts.isOmittedExpression(element) && ts.isIdentifier(element.name))
          evaluator.bindings.set(element.name.text, { kind: "broken" });
      }
      continue;
    }
    const name = declaration.name.text;
    evaluator.pendingConsts.delete(name);
    if (!isConst) {
      evaluator.bindings.set(name, { kind: "broken" });
      continue;
    }
    if (!declaration.initializer) {
      evaluator.error(declaration, "unsupported-syntax", `const ${name} needs a value`);
      evaluator.bindings.set(name, { kind: "broken" });
      continue;
    }
    // The const is not visible inside its own initializer.
    evaluator.pendingConsts.set(name, rangeOfLine(declaration, statement));
    const value = evaluator.evaluate(declaration.initializer);
    evaluator.pendingConsts.delete(name);
    evaluator.bindings.set(name, value.value === undefined ? { kind: "broken" } : { kind: "const", value });
  }
}

function rangeOfLine(declaration: ts.VariableDeclaration, statement: ts.Statement): number {
  const sourceFile = statement.getSourceFile();
  return sourceFile.getLineAndCharacterOfPosition(declaration.getStart(sourceFile)).line + 1;
}

/** True when `a` and `b` are the same path or one lies inside the other. */
function pathsOverlap(a: string, b: string): boolean {
  return a === b || a === "" || b === "" || a.startsWith(b + ".") || b.startsWith(a + ".");
}

/**
 * Validate evaluated options. Issues on values that could not be evaluated are dropped: the evaluator already
 * reported why.
 */
export function validateEvaluated(evaluated: EvaluatedSpecFile, options: ParseOptions = {}): ParsedSpec {
  const diagnostics = [...evaluated.diagnostics];
  const sources = new Map(evaluated.sources);
  if (evaluated.options === null || evaluated.invalid.has("")) return { spec: null, sources, diagnostics };
  let loose = evaluated.options;
  if (options.input && typeof loose === "object" && loose !== null) {
    loose = { ...loose, input: [...options.input] };
    for (const key of [...sources.keys()]) if (key === "input" || key.startsWith("input.")) sources.delete(key);
  }
  const { spec, issues } = normalizeSpec(loose);
  const invalid = [...evaluated.invalid];
  for (const issue of issues) {
    const key = sourcePath(issue.path);
    if (invalid.some((bad) => pathsOverlap(bad, key))) continue;
    const located = sourceAt(sources, issue.path);
    let range = located ?? evaluated.exportRange;
    // An unknown key is pointed at by its name, not its value.
    if (issue.code === "unknown-key" && range) range = evaluated.propertyRanges.get(range.startOffset) ?? range;
    if (diagnostics.length >= SPEC_BUDGET.diagnostics) {
      // The same cap as the evaluator's: 9,990 unknown keys printed 9,990 lines.
      diagnostics.push(errorAt(range, "budget-exceeded", TOO_MANY_PROBLEMS));
      break;
    }
    const diagnostic = errorAt(range, issue.code, issue.message);
    // Only where the value itself is located: never a replacement of the whole export.
    if (issue.suggestion && located) diagnostic.suggestions = [issue.suggestion];
    diagnostics.push(diagnostic);
  }
  const hasErrors = diagnostics.some((d) => d.severity === "error");
  return { spec: hasErrors ? null : spec, sources, diagnostics };
}

/**
 * Structured edits of a `.resnet.ts` spec (from the diagram): spec text + edit → text edits.
 * Only the written value (or one inserted property) changes, so the user's formatting and comments stay as they
 * were. The edited text is parsed and analysed again, and an edit is returned only when it yields exactly the
 * intended spec: an edit the language refuses, or one that would also change another element (a shared const),
 * comes back with the reason instead.
 */
import ts from "typescript";
import type { SourceRange } from "../diagnostics";
import { analyzeSpecText } from "../specAnalysis";
import { SPEC_MODULE, isValueWrapper } from "../parser/evaluate";
import { isPresetName, presetOptions } from "../spec/presets";
import type { BlockKind, NormKind, ResNetOptions, ResNetSpec, ShortcutOption, StageSpec } from "../spec/types";
import { optionsPropertyLines, type IndentStyle } from "./spellOut";

export type StageEditKey = "blocks" | "channels" | "stride";

/** The network options the diagram can change, with their value types. */
export interface NetworkEditValues {
  block: BlockKind;
  shortcut: ShortcutOption;
  preActivation: boolean;
  residual: boolean;
  norm: NormKind;
  groups: number;
  widthPerGroup: number;
}
export type NetworkEditKey = keyof NetworkEditValues;

export type SpecEdit =
  /** Set one value of stage `stage` (0-based index into `stages`; the diagram's `layer{stage + 1}`). */
  | { kind: "stage"; stage: number; key: StageEditKey; value: number }
  | { [K in NetworkEditKey]: { kind: "network"; key: K; value: NetworkEditValues[K] } }[NetworkEditKey];

/** One replacement in the original text (offsets into it). Edits of one result never overlap. */
export interface TextEdit {
  startOffset: number;
  endOffset: number;
  newText: string;
}

export type SpecEditResult =
  { ok: true; edits: TextEdit[]; text: string; spec: ResNetSpec; description: string } | { ok: false; reason: string };

const NETWORK_KEYS: readonly NetworkEditKey[] = [
  "block",
  "shortcut",
  "preActivation",
  "residual",
  "norm",
  "groups",
  "widthPerGroup",
];
const STAGE_KEYS: readonly StageEditKey[] = ["blocks", "channels", "stride"];

/** Cheap structural check for an edit arriving from the webview. */
export function isSpecEdit(value: unknown): value is SpecEdit {
  if (typeof value !== "object" || value === null) return false;
  const e = value as { kind?: unknown; key?: unknown; value?: unknown; stage?: unknown };
  if (e.kind === "stage")
    return Number.isInteger(e.stage) && STAGE_KEYS.includes(e.key as StageEditKey) && typeof e.value === "number";
  if (e.kind !== "network" || !NETWORK_KEYS.includes(e.key as NetworkEditKey)) return false;
  const type =
    e.key === "preActivation" || e.key === "residual"
      ? "boolean"
      : e.key === "groups" || e.key === "widthPerGroup"
        ? "number"
        : "string";
  return typeof e.value === type;
}

/** The spec the edit means, before any text is touched. */
export function editedSpec(spec: ResNetSpec, edit: SpecEdit): ResNetSpec {
  if (edit.kind === "stage") {
    const stages = spec.stages.map((s, i): StageSpec =>
      i === edit.stage ? { ...s, [edit.key]: edit.value } : { ...s },
    );
    return { ...spec, stages };
  }
  return { ...spec, [edit.key]: edit.value };
}

/** "layer2: blocks 2 → 3", "shortcut B → A". */
export function describeEdit(spec: ResNetSpec, edit: SpecEdit): string {
  if (edit.kind === "stage")
    return `layer${edit.stage + 1}: ${edit.key} ${spec.stages[edit.stage]?.[edit.key] ?? "?"} → ${edit.value}`;
  return `${edit.key} ${String(spec[edit.key])} → ${String(edit.value)}`;
}

function fail(reason: string): SpecEditResult {
  return { ok: false, reason };
}

// ---------- syntax-tree helpers ----------

interface Tree {
  text: string;
  sf: ts.SourceFile;
  /** Top-level const initializers by name, to follow `stages: cifarStages`. */
  consts: Map<string, ts.Expression>;
}

function readTree(text: string, file: string): Tree {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const consts = new Map<string, ts.Expression>();
  for (const statement of sf.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    for (const d of statement.declarationList.declarations)
      if (ts.isIdentifier(d.name) && d.initializer) consts.set(d.name.text, d.initializer);
  }
  return { text, sf, consts };
}

/** The outermost expression that spans exactly `range`. */
function expressionAt(tree: Tree, range: SourceRange | undefined): ts.Expression | null {
  if (!range) return null;
  let found: ts.Expression | null = null;
  const visit = (node: ts.Node): void => {
    if (found) return;
    const start = node.getStart(tree.sf);
    if (start > range.startOffset || node.getEnd() < range.endOffset) return;
    if (start === range.startOffset && node.getEnd() === range.endOffset && ts.isExpression(node)) {
      found = node;
      return;
    }
    node.forEachChild(visit);
  };
  visit(tree.sf);
  return found;
}

/** Through parentheses, type assertions and const names to the expression that holds the value. */
function resolve(tree: Tree, node: ts.Expression): ts.Expression {
  const seen = new Set<string>();
  for (;;) {
    if (isValueWrapper(node)) {
      node = node.expression;
    } else if (ts.isIdentifier(node) && tree.consts.has(node.text) && !seen.has(node.text)) {
      seen.add(node.text);
      node = tree.consts.get(node.text)!;
    } else {
      return node;
    }
  }
}

function propertyKey(p: ts.ObjectLiteralElementLike): string | null {
  if (ts.isShorthandPropertyAssignment(p)) return p.name.text;
  if (
    ts.isPropertyAssignment(p) &&
    (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name) || ts.isNoSubstitutionTemplateLiteral(p.name))
  )
    return p.name.text;
  return null;
}

function lineStart(text: string, offset: number): number {
  return text.lastIndexOf("\n", offset - 1) + 1;
}

function lineEnd(text: string, offset: number): number {
  const n = text.indexOf("\n", offset);
  return n < 0 ? text.length : n;
}

function indentOfLine(text: string, offset: number): string {
  const start = lineStart(text, offset);
  return /^[ \t]*/.exec(text.slice(start))![0];
}

/** The file's indent unit: the first indented line's leading whitespace, or two spaces. */
function indentUnit(text: string): string {
  const m = /\n([ \t]+)\S/.exec(text);
  return m ? (m[1].startsWith("\t") ? "\t" : m[1].length >= 4 && m[1].length % 4 === 0 ? "    " : "  ") : "  ";
}

/** A value as source text, in the file's quote style. */
function valueText(value: string | number | boolean, quote: string): string {
  if (typeof value !== "string") return String(value);
  const json = JSON.stringify(value);
  return quote === "'" ? `'${json.slice(1, -1).replace(/'/g, "\\'").replace(/\\"/g, '"')}'` : json;
}

function quoteStyle(tree: Tree): string {
  let quote = '"';
  let decided = false;
  const visit = (node: ts.Node): void => {
    if (decided) return;
    if (ts.isStringLiteral(node) && !ts.isImportDeclaration(node.parent)) {
      quote = tree.text[node.getStart(tree.sf)] === "'" ? "'" : '"';
      decided = true;
      return;
    }
    node.forEachChild(visit);
  };
  visit(tree.sf);
  return quote;
}

/**
 * Set `key` in an object literal: replace its value where it is written directly (and not overridden by a later
 * spread), else add `key: value` after the last property, in the object's own layout (one line or one per line).
 */
function setProperty(tree: Tree, object: ts.ObjectLiteralExpression, key: string, text: string): TextEdit[] {
  const props = object.properties;
  let lastIndex = -1;
  props.forEach((p, i) => {
    if (propertyKey(p) === key) lastIndex = i;
  });
  const spreadAfter = lastIndex >= 0 && props.slice(lastIndex + 1).some(ts.isSpreadAssignment);
  if (lastIndex >= 0 && !spreadAfter) {
    const p = props[lastIndex];
    if (ts.isPropertyAssignment(p))
      return [{ startOffset: p.initializer.getStart(tree.sf), endOffset: p.initializer.getEnd(), newText: text }];
    return [{ startOffset: p.getStart(tree.sf), endOffset: p.getEnd(), newText: `${key}: ${text}` }];
  }
  return addProperty(tree, object, `${key}: ${text}`);
}

/** Insert `property` (one or more lines, already indented after its first line) at the end of an object literal. */
function addProperty(tree: Tree, object: ts.ObjectLiteralExpression, property: string): TextEdit[] {
  const t = tree.text;
  const props = object.properties;
  if (props.length === 0)
    return [{ startOffset: object.getStart(tree.sf), endOffset: object.getEnd(), newText: `{ ${property} }` }];
  const last = props[props.length - 1];
  const close = object.getEnd() - 1;
  const trailingComma = props.hasTrailingComma;
  const commaEnd = trailingComma ? t.indexOf(",", last.getEnd()) + 1 : last.getEnd();
  const multiLine =
    lineStart(t, last.getStart(tree.sf)) !== lineStart(t, object.getStart(tree.sf)) &&
    lineStart(t, close) !== lineStart(t, last.getStart(tree.sf));
  if (!multiLine) {
    return [{ startOffset: commaEnd, endOffset: commaEnd, newText: trailingComma ? ` ${property},` : `, ${property}` }];
  }
  // One property per line: the new one goes on its own line after the last (and after a comment that ends that line).
  const indent = indentOfLine(t, last.getStart(tree.sf));
  const at = lineEnd(t, commaEnd);
  const edits: TextEdit[] = [];
  if (!trailingComma) edits.push({ startOffset: last.getEnd(), endOffset: last.getEnd(), newText: "," });
  edits.push({ startOffset: at, endOffset: at, newText: `\n${indent}${property}${trailingComma ? "," : ""}` });
  return edits;
}

// ---------- the edit ----------

/**
 * The text edits that make `text`'s spec into `editedSpec(spec, edit)`, or why not. Stage and block-kind edits of a
 * preset call (`presets.resnet50({...})`, which fixes stages and block) spell the preset out as `resnet({...})` with
 * its stages, keeping the overrides as written; other options become overrides.
 */
export function applySpecEdit(text: string, file: string, edit: SpecEdit): SpecEditResult {
  const parsed = analyzeSpecText(text, file);
  const firstError = parsed.diagnostics.find((d) => d.severity === "error");
  if (!parsed.spec || firstError)
    return fail(`the spec has errors; fix them first (${firstError?.message ?? "no network"})`);
  const spec = parsed.spec;
  if (edit.kind === "stage") {
    if (!Number.isInteger(edit.stage) || edit.stage < 0 || edit.stage >= spec.stages.length)
      return fail(`there is no stage ${edit.stage + 1} (the spec has ${spec.stages.length})`);
  }
  const current = edit.kind === "stage" ? spec.stages[edit.stage][edit.key] : spec[edit.key];
  if (current === edit.value)
    return fail(
      `${edit.kind === "stage" ? `layer${edit.stage + 1} ` : ""}${edit.key} is already ${String(edit.value)}`,
    );
  const target = editedSpec(spec, edit);
  const description = describeEdit(spec, edit);

  const tree = readTree(text, file);
  const quote = quoteStyle(tree);
  const root = expressionAt(tree, parsed.sources.get(""));
  const call = root ? resolve(tree, root) : null;
  if (!call || !ts.isCallExpression(call))
    return fail("the default export is not a resnet({...}) or presets.<name>(...) call this edit can change");
  const presetName = presetCallName(call);

  let edits: TextEdit[];
  if (presetName !== null && (edit.kind === "stage" || edit.key === "block")) {
    const spelled = spellOutPresetCall(tree, call, presetName, target);
    if ("reason" in spelled) return fail(spelled.reason);
    edits = spelled.edits;
  } else if (presetName !== null) {
    const arg = call.arguments[0] ? resolve(tree, call.arguments[0]) : null;
    const property = `${edit.key}: ${valueText(edit.value, quote)}`;
    if (!arg) {
      const at = call.arguments.end;
      edits = [{ startOffset: at, endOffset: at, newText: `{ ${property} }` }];
    } else if (ts.isObjectLiteralExpression(arg)) {
      edits = setProperty(tree, arg, edit.key, valueText(edit.value, quote));
    } else {
      return fail(
        `presets.${presetName}(...) takes its overrides from an expression this edit cannot change; write them as an object literal`,
      );
    }
  } else if (edit.kind === "stage") {
    const stageNode = expressionAt(tree, parsed.sources.get(`stages.${edit.stage}`));
    const stageCall = stageNode ? resolve(tree, stageNode) : null;
    const options =
      stageCall && ts.isCallExpression(stageCall) && stageCall.arguments[0]
        ? resolve(tree, stageCall.arguments[0])
        : stageCall;
    if (!options || !ts.isObjectLiteralExpression(options))
      return fail(`layer${edit.stage + 1} is not written as stage({ ... }) here; edit it in the source`);
    edits = setProperty(tree, options, edit.key, String(edit.value));
  } else {
    const options = call.arguments[0] ? resolve(tree, call.arguments[0]) : null;
    if (!options || !ts.isObjectLiteralExpression(options))
      return fail(
        "resnet(...) takes its options from an expression this edit cannot change; write them as an object literal",
      );
    edits = setProperty(tree, options, edit.key, valueText(edit.value, quote));
  }
  return verify(text, file, edits, target, description);
}

/** Apply non-overlapping edits (any order) to `text`. */
export function applyTextEdits(text: string, edits: readonly TextEdit[]): string {
  const sorted = [...edits].sort((a, b) => b.startOffset - a.startOffset || b.endOffset - a.endOffset);
  let out = text;
  for (const e of sorted) out = out.slice(0, e.startOffset) + e.newText + out.slice(e.endOffset);
  return out;
}

function sameSpec(a: ResNetSpec, b: ResNetSpec): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value === "object" && value !== null)
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  return value;
}

/** Only an edit that re-parses, without errors, to exactly the intended spec is returned. */
function verify(
  text: string,
  file: string,
  edits: TextEdit[],
  target: ResNetSpec,
  description: string,
): SpecEditResult {
  const newText = applyTextEdits(text, edits);
  const reparsed = analyzeSpecText(newText, file);
  const errors = reparsed.diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0 || !reparsed.spec) {
    return fail(`${description} is not a valid network: ${errors.map((d) => d.message).join("; ") || "no network"}`);
  }
  if (!sameSpec(reparsed.spec, target)) {
    return fail(
      `${description} would also change other parts of the network: the value is shared (through a const or a spread); edit it in the source`,
    );
  }
  return { ok: true, edits, text: newText, spec: reparsed.spec, description };
}

/** "resnet50" for `presets.resnet50(...)` (or `rs.presets["resnet50"](...)`), null for other calls. */
function presetCallName(call: ts.CallExpression): string | null {
  const callee = call.expression;
  let name: string | null = null;
  let owner: ts.Expression | null = null;
  if (ts.isPropertyAccessExpression(callee)) {
    name = callee.name.text;
    owner = callee.expression;
  } else if (ts.isElementAccessExpression(callee) && ts.isStringLiteral(callee.argumentExpression)) {
    name = callee.argumentExpression.text;
    owner = callee.expression;
  }
  if (!name || !owner || !isPresetName(name)) return null;
  return name;
}

/** How the file names `resnet` and `stage`: through a namespace import (`rs.resnet`) or named imports (added when missing). */
function builderNames(
  tree: Tree,
  call: ts.CallExpression,
): { resnet: string; stage: string; edits: TextEdit[] } | { reason: string } {
  const callee = call.expression as ts.PropertyAccessExpression | ts.ElementAccessExpression;
  const presetsExpr = callee.expression;
  // `ns.presets.resnet50`: the namespace also holds resnet and stage.
  if (ts.isPropertyAccessExpression(presetsExpr) || ts.isElementAccessExpression(presetsExpr)) {
    const ns = presetsExpr.expression.getText(tree.sf);
    return { resnet: `${ns}.resnet`, stage: `${ns}.stage`, edits: [] };
  }
  const declaration = tree.sf.statements.find(
    (s): s is ts.ImportDeclaration =>
      ts.isImportDeclaration(s) &&
      ts.isStringLiteral(s.moduleSpecifier) &&
      s.moduleSpecifier.text === SPEC_MODULE &&
      !s.importClause?.isTypeOnly &&
      s.importClause?.namedBindings !== undefined &&
      ts.isNamedImports(s.importClause.namedBindings),
  );
  const named = declaration?.importClause?.namedBindings as ts.NamedImports | undefined;
  if (!named) return { reason: `add import { resnet, stage } from "${SPEC_MODULE}" to spell the preset out` };
  const local = (name: string): string | null => {
    const element = named.elements.find((e) => (e.propertyName ?? e.name).text === name && !e.isTypeOnly);
    return element ? element.name.text : null;
  };
  const missing = ["resnet", "stage"].filter((n) => local(n) === null);
  const edits: TextEdit[] = [];
  if (missing.length > 0) {
    const last = named.elements[named.elements.length - 1];
    if (last) edits.push({ startOffset: last.getEnd(), endOffset: last.getEnd(), newText: `, ${missing.join(", ")}` });
    else
      edits.push({
        startOffset: named.getStart(tree.sf),
        endOffset: named.getEnd(),
        newText: `{ ${missing.join(", ")} }`,
      });
  }
  return { resnet: local("resnet") ?? "resnet", stage: local("stage") ?? "stage", edits };
}

/**
 * `presets.X(overrides)` → `resnet({ <X's canonical options with target's stages and block>, <overrides as written> })`.
 * A preset is `{ ...canonical, ...overrides }`, so the canonical keys go first and the overrides still win.
 */
function spellOutPresetCall(
  tree: Tree,
  call: ts.CallExpression,
  presetName: string,
  target: ResNetSpec,
): { edits: TextEdit[] } | { reason: string } {
  const names = builderNames(tree, call);
  if ("reason" in names) return names;
  const canonical = presetOptions(presetName)!;
  const options: ResNetOptions = { ...canonical, block: target.block, stages: target.stages.map((s) => ({ ...s })) };
  const arg = call.arguments[0] ? resolve(tree, call.arguments[0]) : null;
  const written = new Set(
    arg && ts.isObjectLiteralExpression(arg)
      ? arg.properties.map(propertyKey).filter((k): k is string => k !== null)
      : [],
  );
  // Keys the overrides write directly would be duplicates; stages and block are the edit's, never overrides.
  const keep = Object.keys(options).filter(
    (k) => !written.has(k) || k === "stages" || k === "block",
  ) as (keyof ResNetOptions)[];
  const unit = indentUnit(tree.text);
  const t = tree.text;
  const edits: TextEdit[] = [
    ...names.edits,
    { startOffset: call.expression.getStart(tree.sf), endOffset: call.expression.getEnd(), newText: names.resnet },
  ];
  const quote = quoteStyle(tree);
  if (arg && ts.isObjectLiteralExpression(arg) && arg.properties.length > 0 && call.arguments[0] === arg) {
    const first = arg.properties[0];
    const multiLine = lineStart(t, first.getStart(tree.sf)) !== lineStart(t, arg.getStart(tree.sf));
    const indent = multiLine
      ? indentOfLine(t, first.getStart(tree.sf))
      : indentOfLine(t, call.getStart(tree.sf)) + unit;
    const style: IndentStyle = { indent, unit, quote, stage: names.stage };
    const lines = optionsPropertyLines(options, keep, style);
    if (multiLine) {
      edits.push({
        startOffset: first.getStart(tree.sf),
        endOffset: first.getStart(tree.sf),
        newText: lines.map((l) => `${l.trimStart()},\n${indent}`).join(""),
      });
    } else {
      // `{ a: 1 }` on one line becomes one property per line.
      const closeIndent = indentOfLine(t, call.getStart(tree.sf));
      const rest = arg.properties.map((p) => `${indent}${p.getText(tree.sf)},`);
      edits.push({
        startOffset: arg.getStart(tree.sf),
        endOffset: arg.getEnd(),
        newText: `{\n${[...lines.map((l) => `${l},`), ...rest].join("\n")}\n${closeIndent}}`,
      });
    }
    return { edits };
  }
  const closeIndent = indentOfLine(t, call.getStart(tree.sf));
  const indent = closeIndent + unit;
  const lines = optionsPropertyLines(options, Object.keys(options) as (keyof ResNetOptions)[], {
    indent,
    unit,
    quote,
    stage: names.stage,
  });
  const spread = call.arguments[0] ? [`${indent}...${call.arguments[0].getText(tree.sf)},`] : [];
  const object = `{\n${[...lines.map((l) => `${l},`), ...spread].join("\n")}\n${closeIndent}}`;
  if (call.arguments[0])
    edits.push({
      startOffset: call.arguments[0].getStart(tree.sf),
      endOffset: call.arguments[0].getEnd(),
      newText: object,
    });
  else edits.push({ startOffset: call.arguments.end, endOffset: call.arguments.end, newText: object });
  return { edits };
}

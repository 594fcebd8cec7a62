/**
 * Evaluates the declarative subset of TypeScript a `.resnet.ts` file may use, from the syntax tree alone.
 * The user's file is never executed: every construct outside the subset is reported with its location and a hint.
 */
import ts from "typescript";
import { quoteName, type Diagnostic, type DiagnosticCode, type SourceRange } from "../diagnostics";
import { closestName } from "../spec/builders";
import { PRESET_NAMES, presetOptions } from "../spec/presets";
import { errorAt, nodeRange } from "./ranges";
import { pathSegment } from "../spec/sources";
import { BudgetExceeded, SPEC_BUDGET, TOO_MANY_PROBLEMS, ValueSizes, type SpecWork } from "./budget";
import {
  CallableRef,
  NetworkValue,
  PresetRef,
  describeValue,
  invalidValue,
  isPlainRecord,
  nestInto,
  type Evaluated,
  type PlainRecord,
  type PlainValue,
  type SpecValue,
} from "./values";

/** The module users import builders from. */
export const SPEC_MODULE = "resnet-studio";

export type Binding =
  | { kind: "const"; value: Evaluated }
  | { kind: "callable"; ref: CallableRef }
  /** Declared but unusable (a `let`, a destructuring, a failed import): already reported where it was declared. */
  | { kind: "broken" };

/** Longest string a `+` may build (other sizes: ./budget.ts). */
export const MAX_STRING_LENGTH = 10_000;

const LITERAL_HINT = "write the value as a literal (number, string, boolean, array or object)";

/** Names of constructs outside the subset, for messages. */
const CONSTRUCT_NAMES: Partial<Record<ts.SyntaxKind, string>> = {
  [ts.SyntaxKind.ConditionalExpression]: "a conditional (?:) expression",
  [ts.SyntaxKind.NewExpression]: "`new`",
  [ts.SyntaxKind.ClassExpression]: "a class",
  [ts.SyntaxKind.TaggedTemplateExpression]: "a tagged template",
  [ts.SyntaxKind.AwaitExpression]: "`await`",
  [ts.SyntaxKind.RegularExpressionLiteral]: "a regular expression",
  [ts.SyntaxKind.BigIntLiteral]: "a bigint",
  [ts.SyntaxKind.ThisKeyword]: "`this`",
  [ts.SyntaxKind.TypeOfExpression]: "`typeof`",
  [ts.SyntaxKind.PostfixUnaryExpression]: "`++`/`--`",
};

function constructName(node: ts.Node): string {
  if (ts.isArrowFunction(node) || ts.isFunctionExpression(node)) return "a function";
  return CONSTRUCT_NAMES[node.kind] ?? "this expression";
}

/** Parentheses and type-only syntax around an expression: its value is the inner expression's. */
const VALUE_WRAPPER_KINDS: ReadonlySet<ts.SyntaxKind> = new Set([
  ts.SyntaxKind.ParenthesizedExpression,
  ts.SyntaxKind.AsExpression,
  ts.SyntaxKind.SatisfiesExpression,
  ts.SyntaxKind.TypeAssertionExpression,
  ts.SyntaxKind.NonNullExpression,
]);

export function isValueWrapper(
  node: ts.Node,
): node is
  ts.ParenthesizedExpression | ts.AsExpression | ts.SatisfiesExpression | ts.TypeAssertion | ts.NonNullExpression {
  return VALUE_WRAPPER_KINDS.has(node.kind);
}

const BINARY_OPERATORS: ReadonlyMap<ts.SyntaxKind, string> = new Map([
  [ts.SyntaxKind.PlusToken, "+"],
  [ts.SyntaxKind.MinusToken, "-"],
  [ts.SyntaxKind.AsteriskToken, "*"],
  [ts.SyntaxKind.SlashToken, "/"],
  [ts.SyntaxKind.PercentToken, "%"],
  [ts.SyntaxKind.AsteriskAsteriskToken, "**"],
]);

export class SpecEvaluator {
  readonly diagnostics: Diagnostic[] = [];
  readonly bindings = new Map<string, Binding>();
  /** Top-level const names not yet evaluated, with their declaration line, to explain use-before-definition. */
  readonly pendingConsts = new Map<string, number>();
  /** Start offset of a property's value → range of the whole `key: value`, to report unknown keys at the key. */
  readonly propertyRanges = new Map<number, SourceRange>();
  /** Element counts of the values built so far (memoised, so a const used many times is measured once). */
  private readonly sizes = new ValueSizes();
  private depth = 0;
  private nodesVisited = 0;
  private elementsProduced = 0;
  private deepest = 0;

  /** The work done so far, in the budget's units (./budget.ts). */
  get work(): SpecWork {
    return { nodes: this.nodesVisited, elements: this.elementsProduced, depth: this.deepest };
  }

  constructor(
    private readonly sourceFile: ts.SourceFile,
    private readonly file: string,
  ) {}

  range(node: ts.Node): SourceRange {
    return nodeRange(this.sourceFile, this.file, node);
  }

  error(node: ts.Node, code: DiagnosticCode, message: string, suggestedName?: string | null): Evaluated {
    if (this.diagnostics.length >= SPEC_BUDGET.diagnostics) {
      throw new BudgetExceeded(this.range(node), "budget-exceeded", TOO_MANY_PROBLEMS);
    }
    const diagnostic = errorAt(this.range(node), code, message);
    if (suggestedName) diagnostic.suggestions = [{ kind: "name", value: suggestedName }];
    this.diagnostics.push(diagnostic);
    return invalidValue();
  }

  private leaf(node: ts.Node, value: SpecValue): Evaluated {
    return { value, sources: new Map([["", this.range(node)]]), invalid: new Set() };
  }

  evaluate(node: ts.Expression): Evaluated {
    if (++this.nodesVisited > SPEC_BUDGET.nodes) {
      throw new BudgetExceeded(
        this.range(node),
        "budget-exceeded",
        `this spec has more than ${SPEC_BUDGET.nodes} expressions to evaluate; a spec needs far fewer`,
      );
    }
    // Checked before recursing, so deep trees (e.g. 1+1+…+1, a.b.c…) never overflow the stack.
    if (this.depth >= SPEC_BUDGET.nesting) {
      throw new BudgetExceeded(
        this.range(node),
        "nesting-too-deep",
        `nesting deeper than ${SPEC_BUDGET.nesting} levels; a spec needs only a few`,
      );
    }
    this.depth++;
    this.deepest = Math.max(this.deepest, this.depth);
    try {
      return this.evaluateNode(node);
    } finally {
      this.depth--;
    }
  }

  /** Count `count` elements produced or copied; past the file's budget, stop at `node`. */
  private produce(node: ts.Node, count: number): void {
    // Checked before counting: the copy that would cross the bar is not made, so the work reported stays within it.
    if (this.elementsProduced + count > SPEC_BUDGET.producedElements) {
      throw new BudgetExceeded(
        this.range(node),
        "budget-exceeded",
        `this spec expands to more than ${SPEC_BUDGET.producedElements} elements in total; a spec needs far fewer`,
      );
    }
    this.elementsProduced += count;
  }

  private tooManyElements(node: ts.Node): BudgetExceeded {
    return new BudgetExceeded(
      this.range(node),
      "budget-exceeded",
      `this value expands to more than ${SPEC_BUDGET.valueElements} elements; a spec needs far fewer`,
    );
  }

  private evaluateNode(node: ts.Expression): Evaluated {
    if (isValueWrapper(node)) {
      // Types are for the editor; the value is the inner expression. Keep the outer range for the whole.
      const inner = this.evaluate(node.expression);
      if (inner.sources.has("")) inner.sources.set("", this.range(node));
      return inner;
    }
    if (ts.isNumericLiteral(node)) return this.leaf(node, Number(node.text));
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return this.leaf(node, node.text);
    if (node.kind === ts.SyntaxKind.TrueKeyword) return this.leaf(node, true);
    if (node.kind === ts.SyntaxKind.FalseKeyword) return this.leaf(node, false);
    if (node.kind === ts.SyntaxKind.NullKeyword) return this.leaf(node, null);
    if (ts.isTemplateExpression(node)) {
      return this.error(
        node,
        "unsupported-syntax",
        'template literals with ${...} substitutions are not evaluated; write a plain string such as "ResNet-18"',
      );
    }
    if (ts.isIdentifier(node)) return this.identifier(node);
    if (ts.isArrayLiteralExpression(node)) return this.array(node);
    if (ts.isObjectLiteralExpression(node)) return this.object(node);
    if (ts.isPrefixUnaryExpression(node)) return this.unary(node);
    if (ts.isBinaryExpression(node)) return this.binary(node);
    if (ts.isPropertyAccessExpression(node)) return this.member(node, node.expression, node.name.text, node.name);
    if (ts.isElementAccessExpression(node)) return this.elementAccess(node);
    if (ts.isCallExpression(node)) return this.call(node);
    return this.error(
      node,
      "unsupported-syntax",
      `${constructName(node)} is not allowed in a spec (the file is read, never run); ${LITERAL_HINT}`,
    );
  }

  private identifier(node: ts.Identifier): Evaluated {
    const name = node.text;
    const binding = this.bindings.get(name);
    if (binding?.kind === "broken") return invalidValue();
    if (binding?.kind === "callable") return this.leaf(node, binding.ref);
    if (binding?.kind === "const") {
      this.produce(node, binding.value.sources.size + binding.value.invalid.size);
      const sources = new Map(binding.value.sources);
      sources.set("", this.range(node));
      return { value: binding.value.value, sources, invalid: new Set(binding.value.invalid) };
    }
    const laterLine = this.pendingConsts.get(name);
    if (laterLine !== undefined) {
      return this.error(
        node,
        "use-before-definition",
        `${quoteName(name)} is used before its definition on line ${laterLine}; move that const above this line`,
      );
    }
    if (name === "undefined")
      return this.error(
        node,
        "unsupported-syntax",
        "undefined is not a value in a spec; leave the key out to use its default",
      );
    if (name === "Infinity" || name === "NaN")
      return this.error(node, "unsupported-syntax", `${name} is not a valid size; write a finite number`);
    return this.error(
      node,
      "unknown-identifier",
      `${quoteName(name)} is not defined here; a spec can only use its own const declarations and resnet, stage, presets imported from "${SPEC_MODULE}"`,
    );
  }

  private array(node: ts.ArrayLiteralExpression): Evaluated {
    const result: Evaluated = { value: undefined, sources: new Map([["", this.range(node)]]), invalid: new Set() };
    const items: PlainValue[] = [];
    if (node.elements.length > SPEC_BUDGET.valueElements) throw this.tooManyElements(node);
    let size = 1;
    for (const element of node.elements) {
      if (ts.isOmittedExpression(element)) {
        this.error(node, "unsupported-syntax", "array holes ([a, , b]) are not allowed; write every element");
        continue;
      }
      if (ts.isSpreadElement(element)) {
        const spread = this.evaluate(element.expression);
        if (spread.value === undefined) {
          result.invalid.add(String(items.length));
          continue;
        }
        if (!Array.isArray(spread.value)) {
          this.error(
            element.expression,
            "invalid-spread",
            `only arrays can be spread into an array, not ${describeValue(spread.value)}`,
          );
          continue;
        }
        size += this.sizes.of(spread.value) - 1;
        if (size > SPEC_BUDGET.valueElements) throw this.tooManyElements(node);
        this.produce(element, spread.sources.size + spread.invalid.size + spread.value.length);
        const offset = items.length;
        for (const [path, range] of spread.sources) {
          if (path === "") continue;
          const [head, ...rest] = path.split(".");
          result.sources.set([String(Number(head) + offset), ...rest].join("."), range);
        }
        for (const path of spread.invalid) {
          const [head, ...rest] = path.split(".");
          if (path !== "") result.invalid.add([String(Number(head) + offset), ...rest].join("."));
        }
        for (const spreadItem of spread.value) items.push(spreadItem);
        continue;
      }
      const item = this.plain(element);
      size += item.value === undefined ? 1 : this.sizes.of(item.value);
      if (size > SPEC_BUDGET.valueElements) throw this.tooManyElements(node);
      const index = String(items.length);
      this.produce(element, item.sources.size + item.invalid.size);
      nestInto(result, index, item);
      // Keep indices stable after an invalid element so later elements keep their paths.
      items.push(item.value === undefined ? null : (item.value as PlainValue));
    }
    this.sizes.remember(items, size);
    result.value = items;
    return result;
  }

  /** Evaluate an expression that must be plain data (not a network or a function). */
  plain(node: ts.Expression): Evaluated {
    const evaluated = this.evaluate(node);
    const v = evaluated.value;
    if (v instanceof NetworkValue) {
      return this.error(
        node,
        "misplaced-network",
        `${v.origin}(...) describes a whole network; use it only as the default export`,
      );
    }
    if (v instanceof CallableRef || v instanceof PresetRef) {
      return this.error(
        node,
        "uncalled-function",
        `${describeValue(v)} must be called here, e.g. stage({ channels: 64, blocks: 2 })`,
      );
    }
    return evaluated;
  }

  private propertyName(name: ts.PropertyName): string | null {
    if (
      ts.isIdentifier(name) ||
      ts.isStringLiteral(name) ||
      ts.isNumericLiteral(name) ||
      ts.isNoSubstitutionTemplateLiteral(name)
    )
      return name.text;
    this.error(name, "unsupported-syntax", "computed keys ([expr]: value) are not allowed; write the key name");
    return null;
  }

  private object(node: ts.ObjectLiteralExpression): Evaluated {
    const result: Evaluated = { value: undefined, sources: new Map([["", this.range(node)]]), invalid: new Set() };
    const record: PlainRecord = {};
    const written = new Set<string>();
    // Per key (as a path segment), the paths of `result` at and below it, so overwriting a key forgets exactly
    // those: scanning every path per overwrite made repeated spreads quadratic (24 × ...a of 9,990 keys: 23.5 s).
    const pathsOf = new Map<string, string[]>();
    if (node.properties.length > SPEC_BUDGET.valueElements) throw this.tooManyElements(node);
    let size = 1;
    const forget = (key: string, overwritten = false) => {
      const segment = pathSegment(key);
      const paths = pathsOf.get(segment);
      if (!paths) return;
      for (const path of paths) {
        result.sources.delete(path);
        result.invalid.delete(path);
      }
      pathsOf.delete(segment);
      if (!Object.prototype.hasOwnProperty.call(record, key)) return;
      size -= this.sizes.of(record[key]);
      // A value written next keeps the key's place, as in JavaScript; deleting made repeated spreads slow.
      if (!overwritten) delete record[key];
    };
    /** Record `key`'s source and invalid paths (the child's, nested under it) in `result`. */
    const place = (key: string, range: SourceRange, child: Evaluated | null) => {
      const segment = pathSegment(key);
      const paths = [segment];
      result.sources.set(segment, range);
      if (child === null) result.invalid.add(segment);
      else {
        for (const [path, childRange] of child.sources) {
          const full = path === "" ? segment : `${segment}.${path}`;
          if (path !== "") result.sources.set(full, childRange);
          paths.push(full);
        }
        for (const path of child.invalid) {
          const full = path === "" ? segment : `${segment}.${path}`;
          result.invalid.add(full);
          paths.push(full);
        }
      }
      pathsOf.set(segment, paths);
    };
    // A key's range is its value's (where a wrong value is); propertyRanges remembers the whole `key: value`.
    const assign = (at: ts.Node, key: string, keyRange: SourceRange, child: Evaluated) => {
      forget(key, child.value !== undefined);
      this.produce(at, child.sources.size + child.invalid.size);
      place(key, keyRange, child);
      if (child.value !== undefined) {
        size += this.sizes.of(child.value);
        if (size > SPEC_BUDGET.valueElements) throw this.tooManyElements(node);
        record[key] = child.value as PlainValue;
      }
    };
    for (const property of node.properties) {
      if (ts.isSpreadAssignment(property)) {
        const spread = this.evaluate(property.expression);
        if (spread.value === undefined) {
          // Unknown keys were spread: nothing of this object can be checked reliably.
          result.invalid.add("");
          continue;
        }
        if (!isPlainRecord(spread.value)) {
          this.error(
            property.expression,
            "invalid-spread",
            `only objects can be spread into an object, not ${describeValue(spread.value)}`,
          );
          continue;
        }
        this.produce(property, spread.sources.size + spread.invalid.size);
        // Split the spread's paths by their first segment once, not once per key; keys without nested paths (the
        // common case) get no map of their own.
        const nested = new Map<string, { sources: [string, SourceRange][]; invalid: string[] }>();
        const nestedOf = (segment: string) => {
          let entry = nested.get(segment);
          if (!entry) nested.set(segment, (entry = { sources: [], invalid: [] }));
          return entry;
        };
        for (const [path, range] of spread.sources) {
          const dot = path.indexOf(".");
          if (dot > 0) nestedOf(path.slice(0, dot)).sources.push([path, range]);
        }
        for (const path of spread.invalid) {
          const dot = path.indexOf(".");
          if (dot > 0) nestedOf(path.slice(0, dot)).invalid.push(path);
        }
        const fallback = this.range(property);
        const spreadKeys = new Set<string>();
        for (const [key, value] of Object.entries(spread.value)) {
          const segment = pathSegment(key);
          spreadKeys.add(segment);
          forget(key, true);
          const inner = nested.get(segment);
          const paths = [segment];
          result.sources.set(segment, spread.sources.get(segment) ?? fallback);
          if (spread.invalid.has(segment)) result.invalid.add(segment);
          for (const [path, range] of inner?.sources ?? []) {
            result.sources.set(path, range);
            paths.push(path);
          }
          for (const path of inner?.invalid ?? []) {
            result.invalid.add(path);
            paths.push(path);
          }
          pathsOf.set(segment, paths);
          this.produce(property, paths.length);
          size += this.sizes.of(value);
          if (size > SPEC_BUDGET.valueElements) throw this.tooManyElements(node);
          record[key] = value;
          written.delete(key);
        }
        for (const path of spread.invalid) {
          if (path === "" || path.includes(".") || spreadKeys.has(path)) continue;
          // A key the spread value has no value for (it failed to evaluate): invalid here too, until overwritten.
          const paths = pathsOf.get(path) ?? [];
          paths.push(path);
          pathsOf.set(path, paths);
          result.invalid.add(path);
        }
        continue;
      }
      let key: string | null;
      let child: Evaluated;
      if (ts.isPropertyAssignment(property)) {
        key = this.propertyName(property.name);
        child = this.plain(property.initializer);
      } else if (ts.isShorthandPropertyAssignment(property)) {
        key = property.name.text;
        child = this.plain(property.name);
      } else {
        this.error(
          property,
          "unsupported-syntax",
          `methods, getters and setters are not allowed in a spec object; ${LITERAL_HINT}`,
        );
        continue;
      }
      if (key === "__proto__") {
        this.error(property.name, "unsupported-syntax", "the key __proto__ is not allowed in a spec object");
        result.invalid.add("");
        continue;
      }
      if (key === null) {
        // The key could be any option, so nothing about this object's keys can be checked.
        result.invalid.add("");
        continue;
      }
      if (written.has(key))
        this.error(
          property.name ?? property,
          "duplicate-key",
          `${quoteName(key)} is given twice in this object; remove one`,
        );
      written.add(key);
      if (child.value === undefined) {
        forget(key);
        place(key, this.range(property), null);
        continue;
      }
      const valueRange = child.sources.get("") ?? this.range(property);
      this.propertyRanges.set(valueRange.startOffset, this.range(property));
      assign(property, key, valueRange, child);
    }
    this.sizes.remember(record, size);
    result.value = record;
    return result;
  }

  private unary(node: ts.PrefixUnaryExpression): Evaluated {
    const operand = this.evaluate(node.operand);
    if (operand.value === undefined) return operand;
    if (node.operator !== ts.SyntaxKind.MinusToken && node.operator !== ts.SyntaxKind.PlusToken) {
      return this.error(
        node,
        "unsupported-syntax",
        `the operator ${ts.tokenToString(node.operator)} is not allowed; only + - * / % ** on numbers`,
      );
    }
    if (typeof operand.value !== "number") {
      return this.error(
        node,
        "invalid-operand",
        `unary ${ts.tokenToString(node.operator)} needs a number, not ${describeValue(operand.value)}`,
      );
    }
    return this.leaf(node, node.operator === ts.SyntaxKind.MinusToken ? -operand.value : operand.value);
  }

  private binary(node: ts.BinaryExpression): Evaluated {
    const operator = BINARY_OPERATORS.get(node.operatorToken.kind);
    if (operator === undefined) {
      return this.error(
        node.operatorToken,
        "unsupported-syntax",
        `the operator ${node.operatorToken.getText(this.sourceFile)} is not allowed in a spec; only + - * / % ** on numbers (and + on strings)`,
      );
    }
    const left = this.evaluate(node.left);
    const right = this.evaluate(node.right);
    if (left.value === undefined || right.value === undefined) return invalidValue();
    const a = left.value;
    const b = right.value;
    if (
      operator === "+" &&
      (typeof a === "string" || typeof b === "string") &&
      (typeof a === "string" || typeof a === "number") &&
      (typeof b === "string" || typeof b === "number")
    ) {
      const text = String(a) + String(b);
      if (text.length > MAX_STRING_LENGTH)
        return this.error(
          node,
          "absurd-size",
          `this string is ${text.length} characters long (limit ${MAX_STRING_LENGTH})`,
        );
      return this.leaf(node, text);
    }
    if (typeof a !== "number" || typeof b !== "number") {
      const bad = typeof a !== "number" ? node.left : node.right;
      return this.error(
        bad,
        "invalid-operand",
        `${operator} needs numbers, not ${describeValue(typeof a !== "number" ? a : b)}`,
      );
    }
    let value: number;
    switch (operator) {
      case "+":
        value = a + b;
        break;
      case "-":
        value = a - b;
        break;
      case "*":
        value = a * b;
        break;
      case "/":
        value = a / b;
        break;
      case "%":
        value = a % b;
        break;
      default:
        value = a ** b;
        break;
    }
    if (!Number.isFinite(value)) {
      return this.error(
        node,
        "invalid-number",
        `${node.getText(this.sourceFile)} is not a finite number${b === 0 && (operator === "/" || operator === "%") ? " (division by zero)" : ""}`,
      );
    }
    return this.leaf(node, value);
  }

  private member(node: ts.Expression, objectNode: ts.Expression, key: string, keyNode: ts.Node): Evaluated {
    const base = this.evaluate(objectNode);
    const v = base.value;
    if (v === undefined) return invalidValue();
    if (v instanceof CallableRef && v.kind === "presets") {
      if (!PRESET_NAMES.includes(key as (typeof PRESET_NAMES)[number])) {
        const guess = closestName(key, PRESET_NAMES);
        return this.error(
          keyNode,
          "unknown-preset",
          `unknown preset ${quoteName(key)}${guess ? `; did you mean "${guess}"?` : `; presets are ${PRESET_NAMES.join(", ")}`}`,
          guess,
        );
      }
      return this.leaf(node, new PresetRef(key));
    }
    if (v instanceof CallableRef && v.kind === "namespace") {
      if (key === "resnet" || key === "stage" || key === "presets")
        return this.leaf(node, new CallableRef(key, `${v.name}.${key}`));
      return this.leaf(node, new CallableRef("other-import", `${v.name}.${key}`));
    }
    if (isPlainRecord(v) || Array.isArray(v)) {
      if (!Object.prototype.hasOwnProperty.call(v, key)) {
        return this.error(keyNode, "unknown-member", `${describeValue(v)} has no ${quoteName(key)}`);
      }
      this.produce(node, base.sources.size + base.invalid.size);
      const child: Evaluated = {
        value: (v as Record<string, PlainValue>)[key],
        sources: new Map(),
        invalid: new Set(),
      };
      const segment = pathSegment(key);
      for (const [path, range] of base.sources)
        if (path.startsWith(segment + ".")) child.sources.set(path.slice(segment.length + 1), range);
      for (const path of base.invalid)
        if (path === segment || path.startsWith(segment + ".")) child.invalid.add(path.slice(segment.length + 1));
      child.sources.set("", this.range(node));
      return child;
    }
    return this.error(
      node,
      "unsupported-syntax",
      `cannot read ${quoteName(key)} of ${describeValue(v)}; ${LITERAL_HINT}`,
    );
  }

  private elementAccess(node: ts.ElementAccessExpression): Evaluated {
    const index = this.evaluate(node.argumentExpression);
    if (index.value === undefined) return invalidValue();
    if (typeof index.value !== "number" && typeof index.value !== "string") {
      return this.error(
        node.argumentExpression,
        "invalid-operand",
        `an index must be a number or a string, not ${describeValue(index.value)}`,
      );
    }
    return this.member(node, node.expression, String(index.value), node.argumentExpression);
  }

  /** The builder a callee names, or null (then the call is reported). */
  /** The identifier a member chain starts from: `presets` in `presets.resnet50`, `rs` in `rs["presets"].resnet18`. */
  private chainRoot(node: ts.Expression): ts.Identifier | null {
    let current = node;
    while (ts.isPropertyAccessExpression(current) || ts.isElementAccessExpression(current))
      current = current.expression;
    return ts.isIdentifier(current) ? current : null;
  }

  /** The builder a callee names, or null (then the call is reported). */
  private callee(node: ts.Expression): CallableRef | PresetRef | null | "invalid" {
    // Only chains rooted at an import are evaluated; other callees (e.g. Math.random) are named, not evaluated.
    const root = this.chainRoot(node);
    const binding = root ? this.bindings.get(root.text) : undefined;
    if (binding?.kind === "broken") return "invalid";
    if (binding?.kind !== "callable") return null;
    const ref = this.evaluate(node);
    if (ref.value === undefined) return "invalid";
    return ref.value instanceof CallableRef || ref.value instanceof PresetRef ? ref.value : null;
  }

  private call(node: ts.CallExpression): Evaluated {
    const callee = this.callee(node.expression);
    if (callee === "invalid") return invalidValue();
    const calleeText = node.expression.getText(this.sourceFile);
    if (
      callee === null ||
      (callee instanceof CallableRef &&
        (callee.kind === "other-import" || callee.kind === "namespace" || callee.kind === "presets"))
    ) {
      return this.error(
        node,
        "unsupported-call",
        `calls to ${calleeText}(...) are not evaluated (the file is read, never run); only resnet(...), stage(...) and presets.<name>(...) from "${SPEC_MODULE}" are allowed; ${LITERAL_HINT}`,
      );
    }
    const spreadArg = node.arguments.find(ts.isSpreadElement);
    if (spreadArg)
      return this.error(
        spreadArg,
        "unsupported-syntax",
        "spread arguments are not allowed; pass the options object directly",
      );
    if (callee instanceof PresetRef) return this.presetCall(node, callee);
    const label = callee.kind;
    if (node.arguments.length !== 1) {
      return this.error(
        node,
        "wrong-arguments",
        `${label}() takes exactly one options object, got ${node.arguments.length} arguments`,
      );
    }
    const arg = this.plain(node.arguments[0]);
    if (arg.value !== undefined && !isPlainRecord(arg.value)) {
      const example =
        label === "stage" ? "{ channels: 64, blocks: 2 }" : "{ stages: [stage({ channels: 64, blocks: 2 })] }";
      return this.error(
        node.arguments[0],
        "invalid-type",
        `${label}() takes an options object like ${example}, not ${describeValue(arg.value)}`,
      );
    }
    arg.sources.set("", this.range(node));
    if (label === "stage") return arg;
    return {
      value: new NetworkValue(arg.value === undefined ? {} : arg.value, "resnet"),
      sources: arg.sources,
      invalid: arg.invalid,
    };
  }

  private presetCall(node: ts.CallExpression, preset: PresetRef): Evaluated {
    const origin = `presets.${preset.name}`;
    if (node.arguments.length > 1)
      return this.error(
        node,
        "wrong-arguments",
        `${origin}() takes at most one overrides object, got ${node.arguments.length} arguments`,
      );
    let overrides: Evaluated = { value: {}, sources: new Map(), invalid: new Set() };
    if (node.arguments.length === 1) {
      overrides = this.plain(node.arguments[0]);
      if (overrides.value !== undefined && !isPlainRecord(overrides.value)) {
        return this.error(
          node.arguments[0],
          "invalid-type",
          `${origin}() takes an overrides object like { classes: 10 }, not ${describeValue(overrides.value)}`,
        );
      }
    }
    const record: PlainRecord = isPlainRecord(overrides.value) ? { ...overrides.value } : {};
    for (const fixed of ["stages", "block"]) {
      if (fixed in record) {
        const where = overrides.sources.get(fixed);
        this.diagnostics.push(
          errorAt(
            where ?? this.range(node),
            "preset-fixed-key",
            `a preset fixes "${fixed}"; to change it write resnet({ ... }) with your own stages instead of ${origin}()`,
          ),
        );
        delete record[fixed];
        overrides.invalid.add(fixed);
      }
    }
    const options = presetOptions(preset.name, record);
    const sources = new Map(overrides.sources);
    sources.set("", this.range(node));
    return {
      value: new NetworkValue((options ?? {}) as unknown as PlainValue, origin),
      sources,
      invalid: overrides.invalid,
    };
  }
}

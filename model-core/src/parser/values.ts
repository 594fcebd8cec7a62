/** The values the spec evaluator produces, each with the source ranges of its parts. */
import { quoteName, type SourceRange } from "../diagnostics";

/** A plain-data value of the declarative subset. */
export type PlainValue = number | string | boolean | null | PlainValue[] | PlainRecord;
export interface PlainRecord {
  [key: string]: PlainValue;
}

/** What `resnet({...})` or `presets.<name>(...)` evaluates to: the network's loose options, still unvalidated. */
export class NetworkValue {
  constructor(
    readonly options: PlainValue,
    /** "resnet" or "presets.<name>", for messages. */
    readonly origin: string,
  ) {}
}

/** A builder that may be called but is not itself data: `resnet`, `stage`, `presets`, or an `import * as` namespace. */
export class CallableRef {
  constructor(
    readonly kind: "resnet" | "stage" | "presets" | "namespace" | "other-import",
    readonly name: string,
  ) {}
}

/** A preset looked up as `presets.resnet50` but not yet called. */
export class PresetRef {
  constructor(readonly name: string) {}
}

export type SpecValue = PlainValue | NetworkValue | CallableRef | PresetRef;

/**
 * An evaluated expression. `sources` maps paths relative to this value ("" = the value itself, "1", "channels",
 * "stages.0.blocks") to where they were written. `invalid` holds relative paths whose value could not be
 * evaluated (already reported); the value is missing there, so later validation must not complain about it again.
 */
export interface Evaluated {
  value: SpecValue | undefined;
  sources: Map<string, SourceRange>;
  invalid: Set<string>;
}

export function joinPath(prefix: string, key: string): string {
  if (prefix === "") return key;
  if (key === "") return prefix;
  return `${prefix}.${key}`;
}

/** Copy a child's sources and invalid paths under `key` of a parent. */
export function nestInto(parent: Evaluated, key: string, child: Evaluated): void {
  for (const [path, range] of child.sources) parent.sources.set(joinPath(key, path), range);
  for (const path of child.invalid) parent.invalid.add(joinPath(key, path));
}

export function invalidValue(): Evaluated {
  return { value: undefined, sources: new Map(), invalid: new Set([""]) };
}

export function isPlainRecord(value: unknown): value is PlainRecord {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    Object.getPrototypeOf(value) === Object.prototype
  );
}

export function describeValue(value: SpecValue | undefined): string {
  if (value === undefined) return "an invalid value";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof NetworkValue) return `a network (${value.origin}(...))`;
  if (value instanceof CallableRef) return `the function ${value.name}`;
  if (value instanceof PresetRef) return `the preset function presets.${value.name}`;
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return quoteName(JSON.stringify(value).slice(1, -1));
  return String(value);
}

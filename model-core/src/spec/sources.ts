import type { SourceRange } from "../diagnostics";

/**
 * Where each element of a parsed spec came from, keyed by its path into the options object joined with
 * ".": "" is the whole builder or preset call, "stages.1" a stage, "stages.1.channels" one value. Each key is one
 * segment (pathSegment): a key written "stages.0.channels" is not the path stages → 0 → channels.
 */
export type SpecSourceMap = ReadonlyMap<string, SourceRange>;

/** One key of a source path: "%" and "." escaped, so a key holding dots stays one segment. */
export function pathSegment(key: string | number): string {
  const text = String(key);
  return /[%.]/.test(text) ? text.replace(/%/g, "%25").replace(/\./g, "%2E") : text;
}

/** The source-map key of a path of keys and indices. */
export function sourcePath(path: readonly (string | number)[]): string {
  return path.map(pathSegment).join(".");
}

/** The range of `path`, or of its nearest ancestor that has one. */
export function sourceAt(sources: SpecSourceMap | undefined, path: readonly (string | number)[]): SourceRange | null {
  if (!sources) return null;
  for (let n = path.length; n >= 0; n--) {
    const hit = sources.get(sourcePath(path.slice(0, n)));
    if (hit) return hit;
  }
  return null;
}

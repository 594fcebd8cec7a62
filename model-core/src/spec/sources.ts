import type { SourceRange } from "../diagnostics";

/**
 * Where each element of a parsed spec came from, keyed by its path into the options object joined with
 * ".": "" is the whole builder or preset call, "stages.1" a stage, "stages.1.channels" one value.
 */
export type SpecSourceMap = ReadonlyMap<string, SourceRange>;

/** The range of `path`, or of its nearest ancestor that has one. */
export function sourceAt(sources: SpecSourceMap | undefined, path: readonly (string | number)[]): SourceRange | null {
  if (!sources) return null;
  for (let n = path.length; n >= 0; n--) {
    const hit = sources.get(path.slice(0, n).join("."));
    if (hit) return hit;
  }
  return null;
}

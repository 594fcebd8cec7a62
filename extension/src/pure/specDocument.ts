/**
 * One spec document's analysis, as the extension uses it: model-core's single pass (parse, then analyze once) and
 * the views derived from it. Pure (strings in, plain objects out): the extension caches results per document version.
 */
import { analyze } from "resnet-studio/analysis/analyze";
import type { ModelGraph } from "resnet-studio/analysis/graph";
import type { ResNetSpec } from "resnet-studio/spec/types";

export { analyzeSpecText, type SpecAnalysis } from "resnet-studio/specAnalysis";

/** The same network without shortcuts (He et al. 2015's plain baseline), for the side-by-side gradient chart. */
export function plainTwin(spec: ResNetSpec): ModelGraph | null {
  if (!spec.residual) return null;
  try {
    return analyze({ ...spec, residual: false, name: `${spec.name} (plain)` }).graph;
  } catch {
    return null;
  }
}

/** Debounce that the tests can drive with fake timers; the last call in a burst wins. */
export function debounce<A extends unknown[]>(
  fn: (...args: A) => void,
  ms: number,
): ((...args: A) => void) & { cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const wrapped = (...args: A): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      fn(...args);
    }, ms);
  };
  return Object.assign(wrapped, {
    cancel: () => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  });
}

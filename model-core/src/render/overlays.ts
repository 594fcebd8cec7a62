/** Overlay helpers: log-scale normalisation, the heat ramp and gradient look-ups by node id. */
import type { AddSplit, GradientFlowResult } from "../analysis/gradflow";

/** Maps a value to [0,1] on a log scale spanning the positive values it was built from. */
export type LogScale = (value: number) => number;

/** A log scale over the positive finite values; zero/negative map to 0, a constant set maps to 1. */
export function logScale(values: readonly number[]): LogScale {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (Number.isFinite(v) && v > 0) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
  }
  if (!Number.isFinite(min)) return () => 0;
  const lo = Math.log10(min);
  const span = Math.log10(max) - lo;
  return (value: number) => {
    if (!Number.isFinite(value) || value <= 0) return 0;
    if (span <= 0) return 1;
    return Math.min(1, Math.max(0, (Math.log10(value) - lo) / span));
  };
}

/** Heat ramp from cool blue (t=0) through green and yellow to red (t=1). */
export function heatColor(t: number): string {
  const clamped = Number.isFinite(t) ? Math.min(1, Math.max(0, t)) : 0;
  const hue = Math.round(220 * (1 - clamped));
  return `hsl(${hue}, 80%, 50%)`;
}

export interface GradientIndex {
  /** Largest ‖∂L/∂out‖₂ over the given graph nodes (a folded group shows its strongest member); null if none known. */
  nodeNorm(nodeIds: readonly string[]): number | null;
  /** The identity/residual split at an Add node (by the Add's id or its block's id). */
  addSplit(id: string): AddSplit | null;
}

export function buildGradientIndex(result: GradientFlowResult): GradientIndex {
  const norms = new Map<string, number>();
  for (const n of result.nodes) {
    const l2 = n.activation?.l2;
    if (typeof l2 === "number" && Number.isFinite(l2)) norms.set(n.id, l2);
  }
  const splits = new Map<string, AddSplit>();
  for (const a of result.adds) {
    splits.set(a.id, a);
    if (a.block && !splits.has(a.block)) splits.set(a.block, a);
  }
  return {
    nodeNorm(nodeIds) {
      let best: number | null = null;
      for (const id of nodeIds) {
        const v = norms.get(id);
        if (v !== undefined && (best === null || v > best)) best = v;
      }
      return best;
    },
    addSplit(id) {
      return splits.get(id) ?? null;
    },
  };
}

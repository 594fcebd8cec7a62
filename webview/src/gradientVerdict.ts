/**
 * What the gradient-flow chart says, in words: where ‖dL/dx‖ grows or shrinks and by how much, how the plain twin
 * compares, and what to try. Computed from the same numbers the chart and caption show (the block-input series and
 * each result's ratio), so the words and the picture cannot disagree. Pure: tested under node.
 */
import type { GradientPair } from "resnet-studio/protocol";
import type { ResNetSpec } from "resnet-studio/spec/types";
import { formatNorm } from "resnet-studio/presentation/format";
import { alignSeries } from "./blockSeries";

/**
 * Within this factor either way from the last block's output to the first block's input, the flow is steady. Measured
 * on ResNet-20 (seeded batch of 8, wasm): with BN ×8.5, its plain twin ×25; without BN ×12.7 and ×0.34 (the plain
 * net's vanishing gradient), so a factor of 2 separates all four from steady.
 */
export const STEADY_FACTOR = 2;
/** One curve's change must exceed the other's by this factor to count as "more". */
const CLEARLY_MORE = 1.5;

/** One curve's label on the chart; the network itself is plain when its spec has no shortcuts. */
export function curveLabel(name: string, role: "network" | "twin", withoutBn: boolean, plainNetwork: boolean): string {
  const what = role === "twin" ? "plain twin" : plainNetwork ? "plain, no shortcuts" : "residual";
  return `${name} (${what}${withoutBn ? ", no BN" : ""})`;
}

export interface VerdictInput {
  pair: GradientPair;
  /** The same network and twin without BN, when the chart shows them. */
  withoutBn: GradientPair | null;
  /** The spec of the network shown (what it already has: BN, pre-activation, zero-init residual, shortcuts). */
  spec: Pick<ResNetSpec, "norm" | "preActivation" | "zeroInitResidual" | "residual">;
}

export interface Verdict {
  /** Where the network's gradient grows or shrinks and by how much, and how the plain twin compares. */
  finding: string;
  /** What to try, or that nothing needs changing. */
  advice: string;
  /** The batch the pass used, and why it is smaller than asked when it is. */
  batch: string;
}

/** How far a ratio is from 1, either way: 8 and 1/8 both change by ×8. */
function spread(ratio: number): number {
  return ratio >= 1 ? ratio : 1 / ratio;
}

/** "grows ×8.26 toward the input", "shrinks ×12 toward the input (to 8.3e-2 of the output's)", "stays within ×1.4". */
function change(ratio: number): string {
  if (!(ratio > 0) || !Number.isFinite(ratio)) return "cannot be compared (a norm is zero or not finite)";
  if (spread(ratio) <= STEADY_FACTOR) return `stays steady (×${formatNorm(ratio)} from output to input)`;
  return ratio > 1
    ? `grows ×${formatNorm(ratio)} toward the input`
    : `shrinks ×${formatNorm(1 / ratio)} toward the input`;
}

/** The block boundary where the series changes most, as "layer2.0 (×3.1)"; null with fewer than two values. */
function steepestStep(blocks: readonly string[], values: readonly (number | null)[]): string | null {
  let best: { block: string; factor: number } | null = null;
  for (let i = 0; i + 1 < values.length; i++) {
    const here = values[i],
      next = values[i + 1];
    if (here === null || next === null || !(here > 0) || !(next > 0)) continue;
    // Input side first: going from block i+1 back to block i the gradient is multiplied by here / next.
    const factor = here / next;
    if (!best || spread(factor) > spread(best.factor)) best = { block: blocks[i + 1], factor };
  }
  if (!best || spread(best.factor) < 1.2) return null;
  return `${best.block} (×${formatNorm(best.factor)})`;
}

function finiteRatio(ratio: number): boolean {
  return ratio > 0 && Number.isFinite(ratio);
}

export function gradientVerdict(input: VerdictInput): Verdict {
  const { pair, spec } = input;
  const residual = pair.residual;
  const r = residual.ratio.value;
  const { blocks, series } = alignSeries([residual]);
  const steepest = steepestStep(blocks, series[0] ?? []);
  const withBn = spec.norm !== "none";
  let finding = `${residual.model}: ‖dL/dx‖ ${change(r)}${steepest && spread(r) > STEADY_FACTOR ? `, most across ${steepest}` : ""}`;

  const plain = pair.plain;
  if (!spec.residual) {
    finding += "; this network has no shortcuts, so there is no plain twin (set residual: true to compare).";
  } else if (!plain) {
    finding += "; no plain twin was measured.";
  } else if (!finiteRatio(r) || !finiteRatio(plain.ratio.value)) {
    finding += `; its plain twin's ${change(plain.ratio.value)}.`;
  } else {
    const p = plain.ratio.value;
    const twin = `its plain twin's ${change(p)}`;
    if (spread(p) > CLEARLY_MORE * spread(r)) {
      const times = formatNorm(spread(p) / spread(r));
      finding +=
        p > 1 && withBn
          ? `; ${twin}, ${times}× more. Measured, not the textbook story: with BN at initialisation the plain net's gradients are larger, not vanishing, and the shortcuts keep the residual net's closer to constant.`
          : `; ${twin}, ${times}× more: the shortcuts keep the gradient from ${p > 1 ? "exploding" : "vanishing"} (He et al. 2015).`;
    } else if (spread(r) > CLEARLY_MORE * spread(p)) {
      finding += `; ${twin}, less than the residual net's: unlike the textbook story, here the shortcuts do not steady the gradient at initialisation.`;
    } else {
      finding += `; ${twin}, about the same: at this depth the shortcuts make little difference at initialisation.`;
    }
  }
  if (input.withoutBn) {
    const nb = input.withoutBn;
    finding += ` Without BN, the network's ${change(nb.residual.ratio.value)}${nb.plain ? ` and the plain twin's ${change(nb.plain.ratio.value)}` : ""}.`;
  }
  if (!/[.]$/.test(finding)) finding += ".";

  const tries: string[] = [];
  if (!finiteRatio(r) || spread(r) > STEADY_FACTOR) {
    if (!spec.residual) tries.push("shortcuts (residual: true)");
    if (!withBn) tries.push("BN (norm: batchnorm)");
    if (withBn && !spec.zeroInitResidual && spec.residual)
      tries.push("zero-init residual (each block starts as the identity, Goyal et al. 2017)");
    if (!spec.preActivation && spec.residual) tries.push("pre-activation blocks (He et al. 2016)");
    if (r > 1 || !finiteRatio(r)) tries.push("a lower learning rate (or a warm-up) for the first epochs");
  }
  const advice = tries.length
    ? `To steady it, try ${tries.length === 1 ? tries[0] : `${tries.slice(0, -1).join(", ")} or ${tries[tries.length - 1]}`}.`
    : "The gradient reaches the input at about the size it leaves the output: nothing to change for gradient flow.";

  const used = residual.batch;
  const notes = pair.notes ?? [];
  // The memory guard's note: "note: batch 4 instead of 8: at 8, a gradient-flow pass of … would need about …".
  const reduced = notes.map((n) => /^note: batch \d+ instead of (\d+): (.*)$/.exec(n)).find((m) => m !== null);
  const why = reduced ? ` (reduced from ${reduced[1]}: ${reduced[2]})` : "";
  const batch = `One forward/backward pass at initialisation on a seeded random batch of ${used}${why}.`;
  return { finding, advice, batch };
}

/**
 * Fitting a spec to a training run: the explicit adaptation to a dataset's images and labels, and the "small variant"
 * that keeps a network's design (block kind, shortcut option and variant, pre-activation, groups, stage pattern) but
 * scales its widths and depth down until an epoch fits a time budget by the estimator (estimate.ts). Also writes a
 * spec back as `.resnet.ts` source, so a variant can be saved and edited. Pure: specs and graphs in, specs out.
 */
import type { ResNetSpec, Shape3, StageSpec } from "../spec/types";
import { defaultShortcutVariant } from "../spec/builders";
import { formatShape } from "../presentation/format";
import { escapeJsonText, printable } from "../diagnostics";
import { analyze } from "./analyze";
import type { ModelGraph } from "./graph";
import { estimateTraining, type Throughput, type TrainingEstimate } from "./estimate";

/** What a dataset feeds a network: its image shape, its label count, and how many images an epoch trains on. */
export interface DatasetTarget {
  /** "mnist", "cifar10[0,2]" ... */
  name: string;
  input: Shape3;
  classes: number;
  trainSamples: number;
}

export interface AdaptedSpec {
  spec: ResNetSpec;
  graph: ModelGraph;
  /** One line per change, for people ("classes 1000 → 10 (mnist's labels)"); empty when the spec already fits. */
  changes: string[];
}

/**
 * The spec with the dataset's input shape and class count. When the dataset's smaller images would shrink a stage to
 * nothing (an ImageNet stem on 8×8 inputs, say), the spec's input is kept and the images are padded to it instead.
 * Returns null only when the spec itself does not analyse.
 */
export function adaptToDataset(spec: ResNetSpec, target: DatasetTarget): AdaptedSpec | null {
  const changes: string[] = [];
  let adapted: ResNetSpec = spec;
  const classesChange =
    spec.classes !== target.classes ? `classes ${spec.classes} → ${target.classes} (${target.name}'s labels)` : null;
  if (classesChange) adapted = { ...adapted, classes: target.classes };
  let graph: ModelGraph | null = null;
  if (!sameInput(spec.input, target.input)) {
    graph = analyze({ ...adapted, input: [...target.input] }).graph;
    if (graph) {
      adapted = graph.spec;
      changes.push(`input ${formatShape(spec.input)} → ${formatShape(target.input)} (${target.name}'s images)`);
    } else {
      changes.push(
        `input kept at ${formatShape(spec.input)}: ${formatShape(target.input)} would shrink a stage to nothing; ${target.name}'s images are padded to it`,
      );
    }
  }
  if (classesChange) changes.push(classesChange);
  graph ??= analyze(adapted).graph;
  return graph ? { spec: adapted, graph, changes } : null;
}

export interface SmallVariantOptions {
  throughput: Throughput;
  batchSize: number;
  /** Seconds one epoch's training steps may take (about a minute in the editor). */
  budgetSeconds: number;
}

export interface SmallVariant extends AdaptedSpec {
  estimate: TrainingEstimate;
  /** False when even the smallest variant (one block per stage, narrowest widths) is over the budget. */
  fits: boolean;
}

/** The narrowest first-stage width the scaling goes down to. */
const MIN_WIDTH = 4;
/** CIFAR nets start at 16 channels (He et al. 2015 §4.2): the variant starts from there at most. */
const START_WIDTH = 16;
/** Width shrink per round of the search. */
const WIDTH_STEP = 0.75;
const MAX_ROUNDS = 64;

/**
 * Same design, the dataset's input and classes, a CIFAR-style stem (3×3/1 conv, no max-pool: small images keep their
 * resolution), and widths and blocks per stage scaled down, alternately, until an epoch of `target.trainSamples`
 * images fits `budgetSeconds` on `throughput` (then the groups of a grouped network, if it is still too slow).
 * Returns null only when the spec itself does not analyse.
 */
export function smallVariant(
  spec: ResNetSpec,
  target: DatasetTarget,
  options: SmallVariantOptions,
): SmallVariant | null {
  if (!analyze(spec).graph) return null;
  // Bottleneck and grouped blocks need floor(channels · widthPerGroup / 64) ≥ 1 for a non-empty inner width.
  const minChannels = Math.max(MIN_WIDTH, Math.ceil(64 / spec.widthPerGroup));
  const firstWidth = spec.stages[0].channels;
  let widthScale = Math.min(1, START_WIDTH / firstWidth);
  let blocks = spec.stages.map((s) => s.blocks);
  let groups = spec.groups;
  const build = (): ResNetSpec => ({
    ...spec,
    name: `${spec.name} (small, ${target.name})`,
    input: [...target.input],
    stem: "cifar",
    classes: target.classes,
    groups,
    stages: scaledStages(spec.stages, widthScale, blocks, minChannels, spec.block === "basic" ? groups : 1),
  });
  const estimateOf = (graph: ModelGraph): TrainingEstimate =>
    estimateTraining(graph, {
      batchSize: options.batchSize,
      trainSamples: target.trainSamples,
      throughput: options.throughput,
    });

  let best: { spec: ResNetSpec; graph: ModelGraph; estimate: TrainingEstimate } | null = null;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const candidate = build();
    const graph = analyze(candidate).graph;
    if (graph) {
      const estimate = estimateOf(graph);
      best = { spec: candidate, graph, estimate };
      if (estimate.secondsPerEpoch <= options.budgetSeconds)
        return { ...best, changes: variantChanges(spec, best.spec, target), fits: true };
    }
    // Alternate halving the depth and narrowing the widths; at the narrowest, halve the cardinality (a grouped
    // network stays grouped: never below 2 groups); stop when nothing can shrink further.
    const canShrinkBlocks = blocks.some((b) => b > 1);
    const canShrinkWidth = Math.round(firstWidth * widthScale) > minChannels;
    if (canShrinkBlocks && (round % 2 === 0 || !canShrinkWidth))
      blocks = blocks.map((b) => Math.max(1, Math.ceil(b / 2)));
    else if (canShrinkWidth) widthScale *= WIDTH_STEP;
    else if (groups >= 4 && groups % 2 === 0) groups /= 2;
    else break;
  }
  if (!best) return null;
  return { ...best, changes: variantChanges(spec, best.spec, target), fits: false };
}

function scaledStages(
  stages: readonly StageSpec[],
  widthScale: number,
  blocks: readonly number[],
  minChannels: number,
  multiple: number,
): StageSpec[] {
  // The first width is a multiple of 4 (SIMD lanes; readable widths); the others keep their ratio to it (×2 per stage).
  const first = Math.max(minChannels, 4 * Math.round((stages[0].channels * widthScale) / 4));
  let previous = 0;
  return stages.map((s, i) => {
    let channels = Math.max(minChannels, Math.round((first * s.channels) / stages[0].channels));
    channels = Math.ceil(channels / multiple) * multiple;
    // Never narrower than the stage before when the original widened or kept its width (option A can't drop channels).
    if (i > 0 && s.channels >= stages[i - 1].channels) channels = Math.max(channels, previous);
    previous = channels;
    return { channels, blocks: blocks[i], stride: s.stride };
  });
}

function variantChanges(original: ResNetSpec, variant: ResNetSpec, target: DatasetTarget): string[] {
  const changes: string[] = [];
  if (!sameInput(original.input, variant.input))
    changes.push(`input ${formatShape(original.input)} → ${formatShape(variant.input)} (${target.name}'s images)`);
  if (original.classes !== variant.classes)
    changes.push(`classes ${original.classes} → ${variant.classes} (${target.name}'s labels)`);
  if (original.stem !== variant.stem) changes.push(`stem ${original.stem} → ${variant.stem} (3×3 conv, no max-pool)`);
  const widths = (s: ResNetSpec) => s.stages.map((st) => st.channels).join("/");
  const depths = (s: ResNetSpec) => s.stages.map((st) => st.blocks).join("/");
  if (widths(original) !== widths(variant)) changes.push(`stage widths ${widths(original)} → ${widths(variant)}`);
  if (depths(original) !== depths(variant)) changes.push(`blocks per stage ${depths(original)} → ${depths(variant)}`);
  if (original.groups !== variant.groups) changes.push(`groups ${original.groups} → ${variant.groups}`);
  return changes;
}

function sameInput(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * `.resnet.ts` source for a resolved spec: every option that differs from the builder's default, stages with their
 * strides written out. Parsing the text gives back the same spec (tested).
 */
export function specSourceText(spec: ResNetSpec, comment?: string): string {
  const lines: string[] = [];
  // printable: a CR, U+2028 or U+2029 in the comment (a spec's name) would end the comment and start live code.
  if (comment) for (const line of comment.split("\n")) lines.push(`// ${printable(line)}`);
  lines.push(`import { resnet, stage } from "resnet-studio";`, "", "export default resnet({");
  lines.push(`  name: ${escapeJsonText(JSON.stringify(spec.name))},`);
  lines.push(`  input: [${spec.input.join(", ")}],`);
  lines.push(`  stem: ${JSON.stringify(spec.stem)},`);
  lines.push(`  block: ${JSON.stringify(spec.block)},`);
  lines.push("  stages: [");
  for (const s of spec.stages)
    lines.push(`    stage({ channels: ${s.channels}, blocks: ${s.blocks}, stride: ${s.stride} }),`);
  lines.push("  ],");
  lines.push(`  shortcut: ${JSON.stringify(spec.shortcut)},`);
  if (spec.shortcutVariant.kind !== "identity") {
    const standard =
      JSON.stringify(defaultShortcutVariant(spec.shortcutVariant.kind)) === JSON.stringify(spec.shortcutVariant);
    lines.push(
      `  shortcutVariant: ${standard ? JSON.stringify(spec.shortcutVariant.kind) : objectLiteral(spec.shortcutVariant)},`,
    );
  }
  if (spec.preActivation) lines.push("  preActivation: true,");
  if (!spec.residual) lines.push("  residual: false,");
  if (spec.norm !== "batchnorm") lines.push(`  norm: ${JSON.stringify(spec.norm)},`);
  if (spec.groups !== 1) lines.push(`  groups: ${spec.groups},`);
  if (spec.widthPerGroup !== 64) lines.push(`  widthPerGroup: ${spec.widthPerGroup},`);
  lines.push(`  classes: ${spec.classes},`);
  if (spec.zeroInitResidual) lines.push("  zeroInitResidual: true,");
  lines.push("});", "");
  return lines.join("\n");
}

function objectLiteral(value: object): string {
  return `{ ${Object.entries(value)
    .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
    .join(", ")} }`;
}

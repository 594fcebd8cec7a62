/**
 * What the editor shows about a spec: hover text for a position and inlay hints after each stage.
 * Pure: works on the graph IR and offsets, so it is tested under node without VS Code.
 */
import type { GraphNode, ModelGraph, StageGroup, BlockGroup } from "resnet-studio/analysis/graph";
import type { SourceRange } from "resnet-studio/diagnostics";
import { formatBytes, formatCount, formatExactCount, formatShape } from "resnet-studio/presentation/format";
import { evaluatePlan, planMemory, type MemoryPlan, type TrainingMemory } from "resnet-studio/analysis/memory";

/** What the hover says about memory: one training step at this batch (the Train Small Model batch). */
export interface MemoryHoverOptions {
  batch: number;
}

/** One plan per graph (batch-independent) and its last evaluation, reused by every hover and hint on that graph. */
const plans = new WeakMap<ModelGraph, { plan: MemoryPlan; last: TrainingMemory | null }>();

function memoryOf(graph: ModelGraph, batch: number): TrainingMemory {
  let entry = plans.get(graph);
  if (!entry) {
    entry = { plan: planMemory(graph), last: null };
    plans.set(graph, entry);
  }
  if (entry.last?.batch !== batch) entry.last = evaluatePlan(entry.plan, batch);
  return entry.last;
}

/** An element of the graph that came from a place in the spec. */
interface Located {
  level: "stage" | "block" | "node";
  title: string;
  range: SourceRange;
  inputShape: number[];
  outputShape: number[];
  params: number;
  macs: number;
  receptiveField: { size: number; stride: number } | null;
  detail: string | null;
  /** The stage's id, for stage-level elements. */
  stageId?: string;
}

function contains(range: SourceRange, offset: number): boolean {
  return range.startOffset <= offset && offset <= range.endOffset;
}

type Level = Located["level"];
const LEVELS: readonly Level[] = ["stage", "block", "node"];
/** More elements of one level than this on one range: the hover shows the model totals instead. */
const MAX_LISTED = 3;

/** The elements written at one source range: how many of each level, and the first few of each to describe. */
interface RangeEntry {
  range: SourceRange;
  count: Record<Level, number>;
  listed: Record<Level, Located[]>;
}

/**
 * Graph elements grouped by source range, built once per graph. A 10,000-block spec has 140k nodes but only as many
 * ranges as spec elements (at most the parser's element budget), so a hover scans the ranges, never the nodes.
 */
interface HoverIndex {
  entries: RangeEntry[];
  start: number;
  end: number;
}

const hoverIndexes = new WeakMap<ModelGraph, HoverIndex>();

function hoverIndex(graph: ModelGraph): HoverIndex {
  const known = hoverIndexes.get(graph);
  if (known) return known;
  const byId = new Map(graph.nodes.map((n) => [n.id, n] as const));
  const lastNode = (ids: readonly string[]): GraphNode | undefined =>
    ids.length ? byId.get(ids[ids.length - 1]) : undefined;
  const byRange = new Map<string, RangeEntry>();
  const index: HoverIndex = { entries: [], start: Infinity, end: -Infinity };
  const add = (level: Level, range: SourceRange | null, make: () => Located) => {
    if (!range) return;
    const key = `${range.startOffset}:${range.endOffset}`;
    let entry = byRange.get(key);
    if (!entry) {
      entry = { range, count: { stage: 0, block: 0, node: 0 }, listed: { stage: [], block: [], node: [] } };
      byRange.set(key, entry);
      index.entries.push(entry);
      index.start = Math.min(index.start, range.startOffset);
      index.end = Math.max(index.end, range.endOffset);
    }
    // Only the first few are described; the rest are only counted (no objects built for 140k nodes).
    if (++entry.count[level] <= MAX_LISTED + 1) entry.listed[level].push(make());
  };
  for (const stage of graph.stages) {
    add("stage", stage.source, () => fromStage(stage, lastNode(stage.nodeIds)));
    for (const block of stage.blocks) add("block", block.source, () => fromBlock(block, lastNode(block.nodeIds)));
  }
  for (const node of graph.nodes) add("node", node.source, () => fromNode(node));
  hoverIndexes.set(graph, index);
  return index;
}

/** What a stage's and a block's hover share. */
function fromGroup(
  level: "stage" | "block",
  group: StageGroup | BlockGroup,
  last: GraphNode | undefined,
  detail: string | null,
): Located {
  return {
    level,
    title: `${group.id} · ${group.label}`,
    range: group.source!,
    inputShape: group.inputShape,
    outputShape: group.outputShape,
    params: group.params,
    macs: group.macs,
    receptiveField: last?.receptiveField ?? null,
    detail,
  };
}

function fromStage(stage: StageGroup, last: GraphNode | undefined): Located {
  const detail = stage.blocks.length > 0 ? `${stage.blocks.length} block${stage.blocks.length === 1 ? "" : "s"}` : null;
  return { ...fromGroup("stage", stage, last, detail), stageId: stage.id };
}

function fromBlock(block: BlockGroup, last: GraphNode | undefined): Located {
  return fromGroup("block", block, last, block.addId ? "residual" : "plain (no shortcut)");
}

function fromNode(node: GraphNode): Located {
  return {
    level: "node",
    title: `${node.id} · ${node.op.kind}`,
    range: node.source!,
    inputShape: node.inputShape,
    outputShape: node.outputShape,
    params: node.params,
    macs: node.macs,
    receptiveField: node.receptiveField,
    detail: null,
  };
}

function width(r: SourceRange): number {
  return r.endOffset - r.startOffset;
}

/**
 * Markdown for a hover at `offset`: the spec element with the narrowest range containing the position.
 * A stage call produces the stage, its blocks and their layers, all with the same range: the coarsest level
 * that has an element there is shown (the stage). A range shared by many elements of one level (e.g. the
 * whole builder call) is summarised by the model totals. Cost: one pass over the distinct source ranges.
 */
export function hoverMarkdown(graph: ModelGraph, offset: number, memory?: MemoryHoverOptions): string | null {
  const { entries, start, end } = hoverIndex(graph);
  if (entries.length === 0) return null;
  let narrowest = Infinity;
  for (const e of entries) if (contains(e.range, offset)) narrowest = Math.min(narrowest, width(e.range));
  // Inside the builder call but on no element of its own (e.g. `name`), or on the whole call: the model totals.
  if (narrowest === Infinity || narrowest >= end - start)
    return start <= offset && offset <= end ? modelSummaryMarkdown(graph, memory) : null;
  const inner = entries.filter((e) => contains(e.range, offset) && width(e.range) === narrowest);
  for (const level of LEVELS) {
    const count = inner.reduce((sum, e) => sum + e.count[level], 0);
    if (count === 0) continue;
    if (count > MAX_LISTED) return modelSummaryMarkdown(graph, memory);
    const stageMemory = level === "stage" && memory ? memoryOf(graph, memory.batch) : null;
    return inner
      .flatMap((e) => e.listed[level])
      .map((l) => describe(l, stageMemory))
      .join("\n\n---\n\n");
  }
  return null;
}

function describe(l: Located, memory: TrainingMemory | null): string {
  const lines = [
    `**${l.title}**${l.detail ? ` (${l.detail})` : ""}`,
    "",
    `| | |`,
    `|---|---|`,
    `| shape | ${formatShape(l.inputShape)} → ${formatShape(l.outputShape)} |`,
    `| params | ${formatCount(l.params)} (${formatExactCount(l.params)}) |`,
    `| MACs | ${formatCount(l.macs)} |`,
  ];
  if (l.receptiveField)
    lines.push(
      `| receptive field | ${l.receptiveField.size}×${l.receptiveField.size}, stride ${l.receptiveField.stride} |`,
    );
  const saved = memory && l.stageId ? memory.stages.find((s) => s.id === l.stageId) : undefined;
  if (memory && saved)
    lines.push(`| saved for backward @ batch ${memory.batch} | ${formatBytes(saved.savedActivationBytes)} |`);
  return lines.join("\n");
}

/** Totals of the whole network, and with `memory` what one training step costs (analysis/memory.ts). */
export function modelSummaryMarkdown(graph: ModelGraph, memory?: MemoryHoverOptions): string {
  const t = graph.totals;
  const lines = [
    `**${graph.name}**: ${t.depth} weight layers`,
    "",
    `| | |`,
    `|---|---|`,
    `| input → output | ${formatShape(graph.input)} → ${formatShape(graph.output)} |`,
    `| params | ${formatCount(t.params)} (${formatExactCount(t.params)}) |`,
    `| MACs | ${formatCount(t.macs)} |`,
    `| activations | ${formatCount(t.activations)} |`,
  ];
  if (memory) {
    const m = memoryOf(graph, memory.batch);
    lines.push(
      `| saved for backward @ batch ${m.batch} | ${formatBytes(m.savedActivationBytes)} |`,
      `| params + grads + SGD momentum | ${formatBytes(m.parameterBytes + m.gradientBytes + m.optimizerBytes)} |`,
      `| training peak @ batch ${m.batch} | ${formatBytes(m.trainPeakBytes)} (float32, as PyTorch keeps it) |`,
      `| inference peak @ batch ${m.batch} | ${formatBytes(m.inferencePeakBytes)} |`,
    );
  }
  return lines.join("\n");
}

export interface InlayHintText {
  /** Where the hint goes: the end of the stage's spec element. */
  offset: number;
  label: string;
  tooltip: string;
}

/** One hint after each stage that has its own spec element, e.g. `→ [128,28,28] · 0.5M params`. */
export function stageInlayHints(graph: ModelGraph, memory?: MemoryHoverOptions): InlayHintText[] {
  const hints: InlayHintText[] = [];
  const stepMemory = memory ? memoryOf(graph, memory.batch) : null;
  const seen = new Set<number>();
  for (const stage of graph.stages) {
    if (!stage.source || seen.has(stage.source.endOffset)) continue;
    // Stages without their own element (stem, head) inherit the whole call's range; skip them.
    if (stage.id === "stem" || stage.id === "head") continue;
    seen.add(stage.source.endOffset);
    hints.push({
      offset: stage.source.endOffset,
      label: `→ ${formatShape(stage.outputShape)} · ${formatCount(stage.params)} params`,
      tooltip:
        `${stage.id}: ${stage.label}, ${formatShape(stage.inputShape)} → ${formatShape(stage.outputShape)}, ${formatCount(stage.macs)} MACs` +
        (stepMemory
          ? `, ${formatBytes(stepMemory.stages.find((s) => s.id === stage.id)?.savedActivationBytes ?? 0)} saved for backward at batch ${stepMemory.batch}`
          : ""),
    });
  }
  return hints;
}

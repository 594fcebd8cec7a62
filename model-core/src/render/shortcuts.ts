/**
 * Which shortcuts a folded box stands for, so the diagram can draw them beside it at every level of folding
 * (He et al. 2015, Fig. 3: solid arcs for identity shortcuts, dashed for projections). Pure data.
 */
import type { BlockGroup, ModelGraph } from "../analysis/graph";
import type { ShortcutOption } from "../spec/types";

export type ShortcutKind = "identity" | "projection";

/** One arc: `count` residual blocks of the same shortcut kind inside one folded box. */
export interface ShortcutArcSpec {
  /** The folded box (block, stage or model id) the arc is drawn beside. */
  unitId: string;
  kind: ShortcutKind;
  /** The residual blocks the arc stands for, in order. */
  blocks: string[];
  /** The network's shortcut option (He et al. 2015 §4.1). */
  option: ShortcutOption;
}

/**
 * Per graph, the blocks whose shortcut carries a conv, found in one pass over the nodes: asking once per block by
 * scanning every node was quadratic (a 10,000-block spec never finished rendering).
 */
const projectionBlocksOf = new WeakMap<ModelGraph, ReadonlySet<string>>();

function projectionBlocks(graph: ModelGraph): ReadonlySet<string> {
  let blocks = projectionBlocksOf.get(graph);
  if (!blocks) {
    const found = new Set<string>();
    for (const n of graph.nodes) if (n.role === "shortcut" && n.op.kind === "conv" && n.block) found.add(n.block);
    projectionBlocksOf.set(graph, (blocks = found));
  }
  return blocks;
}

/** A shortcut with a weight layer on it (1×1 conv, with or without BN) is a projection; padding and gates are not. */
export function shortcutKind(graph: ModelGraph, block: BlockGroup): ShortcutKind | null {
  if (!block.addId) return null;
  return projectionBlocks(graph).has(block.id) ? "projection" : "identity";
}

interface BlockIndex {
  all: BlockGroup[];
  byId: Map<string, BlockGroup>;
  byStage: Map<string, BlockGroup[]>;
}
/** Per graph, every residual block in order, by id and by stage, so a unit's blocks are found without a scan. */
const blocksOf = new WeakMap<ModelGraph, BlockIndex>();

/** The residual blocks inside a folded box: the block itself, a stage's blocks, or every block of a folded model. */
function blocksOfUnit(graph: ModelGraph, unitId: string, unitKind: string): BlockGroup[] {
  let blocks = blocksOf.get(graph);
  if (!blocks) {
    const all = graph.stages.flatMap((s) => s.blocks);
    const byStage = new Map(graph.stages.map((s) => [s.id, s.blocks]));
    blocksOf.set(graph, (blocks = { all, byId: new Map(all.map((b) => [b.id, b])), byStage }));
  }
  if (unitKind === "model") return blocks.all;
  if (unitKind === "stage") return blocks.byStage.get(unitId) ?? [];
  if (unitKind === "block") {
    const block = blocks.byId.get(unitId);
    return block ? [block] : [];
  }
  return [];
}

/**
 * The arcs beside a folded box: one per shortcut kind present, in block order (a folded "BasicBlock ×2" stage
 * of ResNet-18's layer2 gets a dashed projection arc and a solid identity arc). None for the plain twin.
 */
export function shortcutArcs(graph: ModelGraph, unitId: string, unitKind: string): ShortcutArcSpec[] {
  const arcs: ShortcutArcSpec[] = [];
  for (const block of blocksOfUnit(graph, unitId, unitKind)) {
    const kind = shortcutKind(graph, block);
    if (!kind) continue;
    const arc = arcs.find((a) => a.kind === kind);
    if (arc) arc.blocks.push(block.id);
    else arcs.push({ unitId, kind, blocks: [block.id], option: graph.spec.shortcut });
  }
  return arcs;
}

/**
 * The arc's label: the option letter, and ×N when one arc stands for N blocks ("B", "A ×8"). Under option B an
 * identity arc is a plain identity (B projects only where the shape changes), so it carries no letter: "B" beside
 * it would read as a projection.
 */
export function shortcutLabel(arc: { option: ShortcutOption; kind: ShortcutKind; blocks: readonly string[] }): string {
  const letter = arc.option === "B" && arc.kind === "identity" ? "" : arc.option;
  const count = arc.blocks.length > 1 ? `×${arc.blocks.length}` : "";
  return [letter, count].filter(Boolean).join(" ");
}

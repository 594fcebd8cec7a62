/**
 * The view model: which boxes are visible for a given expansion of the hierarchy
 * model → stages → blocks → layers, and which edges connect them. Pure data, no layout yet.
 */
import type { GraphNode, ModelGraph, NodeOp, ReceptiveField, Shape, StageGroup, BlockGroup } from "../analysis/graph";
import type { SourceRange } from "../diagnostics";
import { formatShape } from "../presentation/format";

export type ExpandLevel = "stages" | "blocks" | "all";

/** Which stage/block groups are expanded (ids like "layer2", "layer2.0"). */
export interface ExpansionState {
  expanded: string[];
  /** True when the whole model is folded into one box (toggle the group id "model"). */
  modelCollapsed?: boolean;
  /** Lay the network out in this many columns side by side (stages next to each other) to use a wide panel; 1 when absent. */
  columns?: number;
}

/** The id that folds the whole network into one box. */
export const MODEL_GROUP_ID = "model";

export type ViewGroupKind = "node" | "block" | "stage";

/** One visible box: a layer, a collapsed block or a collapsed stage. */
export interface ViewUnit {
  id: string;
  label: string;
  sublabel?: string;
  /** The op kind for layers; "block", "stage" or "model" for collapsed groups. */
  kind: string;
  group: ViewGroupKind;
  expandable: boolean;
  expanded: boolean;
  params: number;
  macs: number;
  outputShape: Shape;
  receptiveField?: ReceptiveField;
  role: "main" | "shortcut";
  source: SourceRange | null;
  /** The graph nodes this box stands for (one for a layer). */
  nodeIds: string[];
  /** The expanded container this box sits in, or null at the top level. */
  parent: string | null;
}

/** An expanded stage or block, drawn as a frame around its children. */
export interface ViewContainer {
  id: string;
  label: string;
  sublabel?: string;
  group: "block" | "stage";
  parent: string | null;
  params: number;
  macs: number;
  source: SourceRange | null;
}

export interface ViewEdge {
  id: string;
  from: string;
  to: string;
  /** Output shape of the graph node where the edge starts. */
  shape: Shape;
  kind: "main" | "shortcut";
  /** The graph node whose output the edge carries (for gradient widths). */
  sourceNodeId: string;
}

export interface GraphView {
  units: ViewUnit[];
  containers: ViewContainer[];
  edges: ViewEdge[];
}

/** Beyond this many residual blocks a network opens at stage level (ResNet-50 has 16, ResNet-101 has 33). */
const BLOCK_LEVEL_MAX_BLOCKS = 20;
/** Networks this small open fully expanded. */
const FULL_LEVEL_MAX_NODES = 40;

export function initialExpansion(graph: ModelGraph, level?: ExpandLevel): ExpansionState {
  const blockCount = graph.stages.reduce((n, s) => n + s.blocks.length, 0);
  const chosen: ExpandLevel =
    level ??
    (graph.nodes.length <= FULL_LEVEL_MAX_NODES ? "all" : blockCount <= BLOCK_LEVEL_MAX_BLOCKS ? "blocks" : "stages");
  if (chosen === "stages") return { expanded: [] };
  const expanded = graph.stages.map((s) => s.id);
  if (chosen === "all") for (const s of graph.stages) for (const b of s.blocks) expanded.push(b.id);
  return { expanded };
}

export function toggleExpansion(state: ExpansionState, groupId: string): ExpansionState {
  const columns = state.columns && state.columns > 1 ? { columns: state.columns } : {};
  if (groupId === MODEL_GROUP_ID)
    return { expanded: [...state.expanded], modelCollapsed: !state.modelCollapsed, ...columns };
  const expanded = state.expanded.includes(groupId)
    ? state.expanded.filter((id) => id !== groupId)
    : [...state.expanded, groupId];
  return state.modelCollapsed ? { expanded, modelCollapsed: true, ...columns } : { expanded, ...columns };
}

/** Short human label of a layer, in the paper's notation ("3×3 conv, 64, /2"). */
export function opLabel(op: NodeOp): string {
  switch (op.kind) {
    case "input":
      return "input";
    case "conv": {
      const parts = [`${op.kernel}×${op.kernel} conv, ${op.outChannels}`];
      if (op.stride !== 1) parts.push(`/${op.stride}`);
      if (op.groups !== 1) parts.push(`g${op.groups}`);
      return parts.join(", ");
    }
    case "batchnorm":
      return "BN";
    case "relu":
      return "ReLU";
    case "sigmoid":
      return "sigmoid";
    case "maxpool":
      return `${op.kernel}×${op.kernel} max pool${op.stride !== 1 ? `, /${op.stride}` : ""}`;
    case "globalavgpool":
      return "avg pool";
    case "fc":
      return `fc ${op.outFeatures}`;
    case "padshortcut":
      return `pad shortcut${op.stride !== 1 ? `, /${op.stride}` : ""}`;
    case "dropout":
      return `dropout ${op.rate}`;
    case "add":
      return op.mode === "plain" ? "+" : op.mode === "exclusiveGate" ? "+ (gate)" : "+ (shortcut gate)";
  }
}

function localName(node: GraphNode): string {
  const prefix = node.block ? `${node.block}.` : "";
  return prefix && node.id.startsWith(prefix) ? node.id.slice(prefix.length) : node.id;
}

function shapeChange(input: Shape, output: Shape): string {
  const a = formatShape(input);
  const b = formatShape(output);
  return a === b ? a : `${a} → ${b}`;
}

function lastNode(byId: Map<string, GraphNode>, ids: string[]): GraphNode | undefined {
  return ids.length ? byId.get(ids[ids.length - 1]) : undefined;
}

function stageLabel(stage: StageGroup): string {
  if (stage.label) return stage.label;
  return stage.id === "stem" ? "Stem" : stage.id === "head" ? "Head" : stage.id;
}

/** Raw edges that carry the shortcut: into a shortcut-lane node, out of one, or into an Add's identity input. */
function isShortcutEdge(from: GraphNode, to: GraphNode, inputIndex: number): boolean {
  return (
    from.role === "shortcut" ||
    to.role === "shortcut" ||
    (to.op.kind === "add" && inputIndex === 0 && to.inputs.length > 1)
  );
}

/** The visible boxes, frames and edges for one expansion state. */
export function buildView(graph: ModelGraph, expansion: ExpansionState): GraphView {
  const expanded = new Set(expansion.expanded);
  const byId = new Map(graph.nodes.map((n) => [n.id, n] as const));
  const units: ViewUnit[] = [];
  const containers: ViewContainer[] = [];
  /** graph node id → id of the visible box that contains it. */
  const unitOf = new Map<string, string>();

  const nodeUnit = (n: GraphNode, parent: string | null): ViewUnit => ({
    id: n.id,
    label: opLabel(n.op),
    sublabel: n.op.kind === "input" ? formatShape(n.outputShape) : localName(n),
    kind: n.op.kind,
    group: "node",
    expandable: false,
    expanded: false,
    params: n.params,
    macs: n.macs,
    outputShape: n.outputShape,
    receptiveField: n.receptiveField,
    role: n.role,
    source: n.source,
    nodeIds: [n.id],
    parent,
  });

  const foldModel = () => {
    const body = graph.nodes.filter((n) => n.stage !== null);
    const last = body[body.length - 1];
    units.push({
      id: MODEL_GROUP_ID,
      label: graph.name,
      sublabel: shapeChange(graph.input, graph.output),
      kind: "model",
      group: "stage",
      expandable: true,
      expanded: false,
      params: graph.totals.params,
      macs: graph.totals.macs,
      outputShape: graph.output,
      receptiveField: last?.receptiveField,
      role: "main",
      source: graph.stages[0]?.source ?? null,
      nodeIds: body.map((n) => n.id),
      parent: null,
    });
    for (const n of body) unitOf.set(n.id, MODEL_GROUP_ID);
  };

  /** One expandable box standing for a folded block or stage and every node inside it. */
  const pushFolded = (
    folded: BlockGroup | StageGroup,
    kind: "block" | "stage",
    label: string,
    parent: string | null,
  ): void => {
    units.push({
      id: folded.id,
      label,
      sublabel: shapeChange(folded.inputShape, folded.outputShape),
      kind,
      group: kind,
      expandable: true,
      expanded: false,
      params: folded.params,
      macs: folded.macs,
      outputShape: folded.outputShape,
      receptiveField: lastNode(byId, folded.nodeIds)?.receptiveField,
      role: "main",
      source: folded.source,
      nodeIds: [...folded.nodeIds],
      parent,
    });
    for (const id of folded.nodeIds) unitOf.set(id, folded.id);
  };

  const pushBlock = (block: BlockGroup, stageId: string) => {
    if (expanded.has(block.id)) {
      containers.push({
        id: block.id,
        label: block.label,
        sublabel: shapeChange(block.inputShape, block.outputShape),
        group: "block",
        parent: stageId,
        params: block.params,
        macs: block.macs,
        source: block.source,
      });
      for (const id of block.nodeIds) {
        const n = byId.get(id);
        if (!n) continue;
        units.push(nodeUnit(n, block.id));
        unitOf.set(id, id);
      }
      return;
    }
    pushFolded(block, "block", block.label, stageId);
  };

  const stageOfNode = new Map<string, StageGroup>();
  for (const s of graph.stages) for (const id of s.nodeIds) stageOfNode.set(id, s);
  const emittedStages = new Set<string>();

  // Walk nodes in topological order so units come out in data-flow order.
  for (const n of graph.nodes) {
    if (unitOf.has(n.id)) continue;
    const stage = stageOfNode.get(n.id);
    if (stage && expansion.modelCollapsed) {
      foldModel();
      continue;
    }
    if (!stage) {
      units.push(nodeUnit(n, null));
      unitOf.set(n.id, n.id);
      continue;
    }
    if (emittedStages.has(stage.id)) continue;
    emittedStages.add(stage.id);
    if (!expanded.has(stage.id)) {
      pushFolded(stage, "stage", stageLabel(stage), null);
      continue;
    }
    containers.push({
      id: stage.id,
      label: stageLabel(stage),
      sublabel: shapeChange(stage.inputShape, stage.outputShape),
      group: "stage",
      parent: null,
      params: stage.params,
      macs: stage.macs,
      source: stage.source,
    });
    const blockOf = new Map<string, BlockGroup>();
    for (const b of stage.blocks) for (const id of b.nodeIds) blockOf.set(id, b);
    const emittedBlocks = new Set<string>();
    for (const id of stage.nodeIds) {
      const block = blockOf.get(id);
      if (block) {
        if (!emittedBlocks.has(block.id)) {
          emittedBlocks.add(block.id);
          pushBlock(block, stage.id);
        }
        continue;
      }
      const m = byId.get(id);
      if (!m) continue;
      units.push(nodeUnit(m, stage.id));
      unitOf.set(id, id);
    }
  }

  // Edges between distinct visible boxes; a pair joined by both lanes is drawn once, as the main lane.
  const edgesByKey = new Map<string, ViewEdge>();
  for (const to of graph.nodes) {
    const toUnit = unitOf.get(to.id);
    if (!toUnit) continue;
    to.inputs.forEach((inputId, index) => {
      const from = byId.get(inputId);
      const fromUnit = unitOf.get(inputId);
      if (!from || !fromUnit || fromUnit === toUnit) return;
      const kind = isShortcutEdge(from, to, index) ? "shortcut" : "main";
      const key = `${fromUnit}->${toUnit}`;
      const existing = edgesByKey.get(key);
      if (existing) {
        if (existing.kind === "shortcut" && kind === "main") {
          existing.kind = "main";
          existing.shape = from.outputShape;
          existing.sourceNodeId = from.id;
        }
        return;
      }
      edgesByKey.set(key, {
        id: key,
        from: fromUnit,
        to: toUnit,
        shape: from.outputShape,
        kind,
        sourceNodeId: from.id,
      });
    });
  }
  return { units, containers, edges: [...edgesByKey.values()] };
}

/**
 * Diagram layout. The network is a chain of segments joined at single tensors (stem layers, blocks, head),
 * so the main lane is laid out here as one straight vertical line, and elkjs (layered, top-down, orthogonal
 * routing, Brandes–Köpf placement) lays out the inside of every expanded residual block, where the shortcut
 * runs beside the residual branch into the Add. Identical blocks share one elkjs result (a cache keyed by
 * the block's structure), which keeps ResNet-1202 fully expanded fast. The result is plain JSON with absolute
 * coordinates, safe to post between threads.
 */
import ELK from "elkjs/lib/elk.bundled.js";
import type { ElkExtendedEdge, ElkNode } from "elkjs/lib/elk-api";
import type { ModelGraph } from "../analysis/graph";
import type { SourceRange } from "../diagnostics";
import { ADD_GLYPH, FRAME_TOP, NODE_SIZE, TITLE_OFFSET } from "./sizes";
import {
  buildView,
  type ExpansionState,
  type ViewUnit,
  type GraphView,
  type ViewEdge,
  type ViewContainer,
} from "./view";
import { shortcutArcs, shortcutKind, shortcutLabel, type ShortcutArcSpec, type ShortcutKind } from "./shortcuts";
import type { ShortcutOption } from "../spec/types";

export { ADD_GLYPH, NODE_SIZE } from "./sizes";

export interface LaidOutNode {
  id: string;
  label: string;
  sublabel?: string;
  kind: string;
  x: number;
  y: number;
  width: number;
  height: number;
  group: "node" | "block" | "stage";
  expandable: boolean;
  expanded: boolean;
  params: number;
  macs: number;
  outputShape: number[];
  receptiveField?: { size: number; stride: number };
  role: "main" | "shortcut";
  source: SourceRange | null;
  /** Graph node ids this box stands for (several for a collapsed group); used to aggregate gradients. */
  nodeIds: string[];
}

export interface LaidOutEdge {
  id: string;
  from: string;
  to: string;
  points: { x: number; y: number }[];
  shape: number[];
  kind: "main" | "shortcut";
  /** The graph node whose output this edge carries. */
  sourceNodeId: string;
  /** On the shortcut edges of an expanded block: what its shortcut is (the edge into the Add stands for all of it). */
  shortcut?: ShortcutKind;
}

/** A shortcut arc beside a folded block, stage or model (He et al. 2015, Fig. 3). */
export interface LaidOutShortcut {
  id: string;
  /** The folded box it runs beside. */
  unitId: string;
  kind: ShortcutKind;
  option: ShortcutOption;
  /** The residual blocks it stands for (more than one: drawn once, marked ×N). */
  blocks: string[];
  /** The lane's x, where the arc forks off above the box and rejoins below it. */
  laneX: number;
  top: number;
  bottom: number;
  /** x of the arc's vertical run, right of the box. */
  reach: number;
  /** Where its label ("B", "A ×8") sits. */
  labelX: number;
  labelY: number;
}

/** An expanded stage or block, drawn as a frame; clicking its header collapses it. */
export interface LaidOutContainer {
  id: string;
  label: string;
  sublabel?: string;
  group: "block" | "stage";
  x: number;
  y: number;
  width: number;
  height: number;
  params: number;
  macs: number;
  source: SourceRange | null;
  /** 0 for a top-level frame, 1 for a block inside a stage. */
  depth: number;
  /** x of the lane through the frame; the title sits right of it so the lane never crosses the text. */
  laneX: number;
}

export interface LaidOutGraph {
  /** The model's name, for titles. */
  name: string;
  width: number;
  height: number;
  nodes: LaidOutNode[];
  edges: LaidOutEdge[];
  containers: LaidOutContainer[];
  /** Shortcut arcs beside folded boxes (an expanded block draws its shortcut as edges). */
  shortcuts: LaidOutShortcut[];
  /** Milliseconds spent in elkjs for this layout (0 when every block came from the cache). */
  layoutMillis: number;
}

/** Vertical gap between consecutive segments; holds the shape label of the edge between them. */
const LANE_GAP = 30;
const ROOT_PADDING = 16;
const FRAME_PADDING = { left: 14, right: 14, bottom: 12 };
const CHAR_WIDTH = 7;
/** Shortcut arcs: the first runs this far right of its box, each further one ARC_STEP further; they fork off
 *  the lane ARC_FORK above the box and rejoin ARC_FORK below it. */
const ARC_REACH = 16;
const ARC_STEP = 10;
const ARC_FORK = 5;
/** Space between columns; an edge that continues in the next column runs up the middle of it. */
const COLUMN_GAP = 48;
const ENTRY_ID = "__in";
const ENTRY_HEIGHT = 2;

const BLOCK_LAYOUT_OPTIONS: Record<string, string> = {
  "elk.algorithm": "layered",
  "elk.direction": "DOWN",
  "elk.edgeRouting": "ORTHOGONAL",
  // NETWORK_SIMPLEX is slow on long chains; Brandes–Köpf keeps the residual branch straight.
  "elk.layered.nodePlacement.strategy": "BRANDES_KOEPF",
  "elk.layered.considerModelOrder.strategy": "NODES_AND_EDGES",
  "elk.spacing.nodeNode": "28",
  "elk.layered.spacing.nodeNodeBetweenLayers": "26",
  "elk.spacing.edgeNode": "18",
  "elk.spacing.edgeEdge": "12",
  "elk.layered.spacing.edgeNodeBetweenLayers": "12",
  "elk.padding": "[top=0,left=0,bottom=0,right=0]",
};

let elkInstance: InstanceType<typeof ELK> | null = null;
function elk(): InstanceType<typeof ELK> {
  elkInstance ??= new ELK();
  return elkInstance;
}

export function unitSize(unit: ViewUnit): { width: number; height: number } {
  const base =
    unit.group === "stage"
      ? NODE_SIZE.stage
      : unit.group === "block"
        ? NODE_SIZE.block
        : unit.kind === "add"
          ? NODE_SIZE.add
          : NODE_SIZE.layer;
  const textWidth = Math.max(unit.label.length * CHAR_WIDTH + 36, (unit.sublabel?.length ?? 0) * (CHAR_WIDTH - 1) + 24);
  return { width: Math.max(base.width, Math.ceil(textWidth)), height: base.height };
}

interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}
interface Point {
  x: number;
  y: number;
}

/** elkjs's answer for one block, in the block's local ids and coordinates. */
interface BlockLayout {
  width: number;
  height: number;
  /** Lane x: centre of the entry node. */
  laneX: number;
  nodes: Map<string, Rect>;
  /** Edge points by local edge key "from->to" (from may be the entry node). */
  edges: Map<string, Point[]>;
}

const blockCache = new Map<string, BlockLayout>();
const BLOCK_CACHE_LIMIT = 256;

/** Segments of the lane: a box, an expanded block (elkjs inside), or an expanded stage (a sub-lane in a frame). */
type Segment =
  | { kind: "unit"; unit: ViewUnit; size: { width: number; height: number }; arcs: ShortcutArcSpec[] }
  | {
      kind: "block";
      frame: ViewContainer;
      units: ViewUnit[];
      layout: BlockLayout | null;
      key: string;
      elkGraph: ElkNode;
    }
  | { kind: "stage"; frame: ViewContainer; children: Segment[] };

interface Extent {
  left: number;
  right: number;
  height: number;
}

/** Lay out the visible boxes of `graph` for `expansion`. */
export async function layoutView(graph: ModelGraph, expansion: ExpansionState): Promise<LaidOutGraph> {
  const view = buildView(graph, expansion);
  const unitsById = new Map(view.units.map((u) => [u.id, u] as const));
  const segments = buildSegments(view, graph);

  // Run elkjs once per distinct block structure not already cached.
  const blocks: Extract<Segment, { kind: "block" }>[] = [];
  const collect = (s: Segment) => {
    if (s.kind === "block") blocks.push(s);
    else if (s.kind === "stage") s.children.forEach(collect);
  };
  segments.forEach(collect);
  const pending = new Map<string, ElkNode>();
  for (const b of blocks) if (!blockCache.has(b.key) && !pending.has(b.key)) pending.set(b.key, b.elkGraph);
  const started = performance.now();
  for (const [key, elkGraph] of pending) {
    const result = await elk().layout(elkGraph);
    if (blockCache.size >= BLOCK_CACHE_LIMIT) blockCache.clear();
    blockCache.set(key, readBlockLayout(result));
  }
  const layoutMillis = pending.size ? Math.round((performance.now() - started) * 10) / 10 : 0;
  for (const b of blocks) b.layout = blockCache.get(b.key) ?? null;

  // Place the lane.
  const extents = segments.map(extentOf);
  const placed: Placement = {
    nodes: new Map(),
    containers: [],
    blockEdges: new Map(),
    unitBlock: new Map(),
    shortcuts: [],
    column: new Map(),
    columns: [],
  };
  // One lane, or (for a wide panel) the top-level segments split into columns side by side, each its own lane.
  let y = ROOT_PADDING;
  let columnLeft = ROOT_PADDING;
  splitIntoColumns(extents, expansion.columns ?? 1).forEach((members, column) => {
    const laneX = columnLeft + Math.max(0, ...members.map((i) => extents[i].left));
    let bottom = ROOT_PADDING;
    members.forEach((i, k) => {
      if (k > 0) bottom += LANE_GAP;
      bottom = place(segments[i], laneX, bottom, 0, placed);
    });
    for (const id of placed.nodes.keys()) if (!placed.column.has(id)) placed.column.set(id, column);
    const right = laneX + Math.max(0, ...members.map((i) => extents[i].right));
    placed.columns.push({ laneX, right });
    y = Math.max(y, bottom);
    columnLeft = right + COLUMN_GAP;
  });

  const nodes: LaidOutNode[] = [];
  let maxX = 0;
  for (const u of view.units) {
    const r = placed.nodes.get(u.id);
    if (!r) continue;
    nodes.push(laidOutNode(u, r));
    maxX = Math.max(maxX, r.x + r.width);
  }
  for (const c of placed.containers) maxX = Math.max(maxX, c.x + c.width);
  for (const a of placed.shortcuts) maxX = Math.max(maxX, a.labelX + shortcutLabel(a).length * CHAR_WIDTH);
  const order = new Map(view.units.map((u, i) => [u.id, i] as const));
  const blockShortcut = new Map<string, ShortcutKind>();
  for (const stage of graph.stages)
    for (const b of stage.blocks) {
      const kind = shortcutKind(graph, b);
      if (kind) blockShortcut.set(b.id, kind);
    }
  const edges = view.edges
    .map((e) => routeEdge(e, placed, unitsById, order, blockShortcut))
    .filter((e): e is LaidOutEdge => e !== null);
  for (const e of edges) for (const p of e.points) maxX = Math.max(maxX, p.x);
  placed.containers.sort((a, b) => a.depth - b.depth);
  return {
    name: graph.name,
    width: Math.ceil(maxX + ROOT_PADDING),
    height: Math.ceil(y + ROOT_PADDING),
    nodes,
    edges,
    containers: placed.containers,
    shortcuts: placed.shortcuts,
    layoutMillis,
  };
}

/** Group the view's units into lane segments, in data-flow order. */
function buildSegments(view: GraphView, graph: ModelGraph): Segment[] {
  const framesById = new Map(view.containers.map((c) => [c.id, c] as const));
  const top: Segment[] = [];
  const stageSegments = new Map<string, Extract<Segment, { kind: "stage" }>>();
  const blockSegments = new Map<string, { frame: ViewContainer; units: ViewUnit[] }>();
  const blockOrder: { parent: ViewContainer | null; id: string }[] = [];

  const containerFor = (frame: ViewContainer | undefined): Segment[] => {
    if (!frame) return top;
    if (frame.group === "stage") {
      let s = stageSegments.get(frame.id);
      if (!s) {
        s = { kind: "stage", frame, children: [] };
        stageSegments.set(frame.id, s);
        containerFor(frame.parent ? framesById.get(frame.parent) : undefined).push(s);
      }
      return s.children;
    }
    return top;
  };

  for (const unit of view.units) {
    const parent = unit.parent ? framesById.get(unit.parent) : undefined;
    if (parent?.group === "block") {
      let b = blockSegments.get(parent.id);
      if (!b) {
        b = { frame: parent, units: [] };
        blockSegments.set(parent.id, b);
        const holder = containerFor(parent.parent ? framesById.get(parent.parent) : undefined);
        // Reserve the block's slot in the lane now; it is filled once all its units are known.
        holder.push({ kind: "block", frame: parent, units: b.units, layout: null, key: "", elkGraph: { id: "" } });
        blockOrder.push({ parent: parent.parent ? (framesById.get(parent.parent) ?? null) : null, id: parent.id });
      }
      b.units.push(unit);
      continue;
    }
    const arcs = unit.group === "node" ? [] : shortcutArcs(graph, unit.id, unit.kind);
    containerFor(parent).push({ kind: "unit", unit, size: unitSize(unit), arcs });
  }

  const fill = (list: Segment[]) => {
    list.forEach((s, i) => {
      if (s.kind === "stage") fill(s.children);
      else if (s.kind === "block") {
        const { key, elkGraph } = blockElkGraph(s.frame.id, s.units, view.edges);
        list[i] = { ...s, key, elkGraph };
      }
    });
  };
  fill(top);
  return top;
}

function localId(blockId: string, id: string): string {
  return id.startsWith(`${blockId}.`) ? id.slice(blockId.length + 1) : id;
}

/** The residual branch runs straight; the shortcut bends beside it. */
const MAIN_EDGE_OPTIONS: Record<string, string> = {
  "elk.layered.priority.straightness": "10",
  "elk.layered.priority.direction": "10",
};
const SHORTCUT_EDGE_OPTIONS: Record<string, string> = { "elk.layered.priority.straightness": "0" };
const FIXED_SIDES: Record<string, string> = { "elk.portConstraints": "FIXED_SIDE" };
function port(id: string, side: "NORTH" | "SOUTH" | "EAST") {
  return { id, width: 1, height: 1, layoutOptions: { "elk.port.side": side } };
}

/**
 * The elkjs graph of one expanded block, with an entry node standing for the block's input; and its cache key.
 * The entry and the Add take the shortcut through ports on their east side, which makes Brandes–Köpf keep the
 * residual branch in one straight column under the entry, with the shortcut beside it.
 */
function blockElkGraph(blockId: string, units: ViewUnit[], allEdges: ViewEdge[]): { key: string; elkGraph: ElkNode } {
  const inside = new Map(units.map((u) => [u.id, u] as const));
  const byLocal = new Map(units.map((u) => [localId(blockId, u.id), u] as const));
  const children: ElkNode[] = [
    {
      id: ENTRY_ID,
      width: NODE_SIZE.layer.width,
      height: ENTRY_HEIGHT,
      layoutOptions: FIXED_SIDES,
      ports: [port(`${ENTRY_ID}.main`, "SOUTH"), port(`${ENTRY_ID}.shortcut`, "EAST")],
    },
  ];
  const edgeKeys = new Map<string, "main" | "shortcut">();
  for (const e of allEdges) {
    if (!inside.has(e.to)) continue;
    const from = inside.has(e.from) ? localId(blockId, e.from) : ENTRY_ID;
    const key = `${from}->${localId(blockId, e.to)}`;
    if (!edgeKeys.has(key) || e.kind === "main") edgeKeys.set(key, e.kind);
  }
  // A main-lane node where the shortcut leaves or joins (the Add; a pre-activation ReLU shared by both paths)
  // gets ports: main in from the north, out to the south, the shortcut on the east side.
  const withPorts = new Set<string>();
  for (const [key, kind] of edgeKeys) {
    if (kind !== "shortcut") continue;
    const [from, to] = key.split("->");
    for (const end of [from, to]) if (end !== ENTRY_ID && byLocal.get(end)?.role === "main") withPorts.add(end);
  }
  for (const u of units) if (u.kind === "add") withPorts.add(localId(blockId, u.id));
  for (const u of units) {
    const id = localId(blockId, u.id);
    const node: ElkNode = { id, ...unitSize(u) };
    if (withPorts.has(id)) {
      node.layoutOptions = FIXED_SIDES;
      node.ports = [port(`${id}.main`, "NORTH"), port(`${id}.shortcut`, "EAST"), port(`${id}.out`, "SOUTH")];
    }
    children.push(node);
  }
  const edges: ElkExtendedEdge[] = [...edgeKeys].map(([key, kind]) => {
    const [from, to] = key.split("->");
    const source =
      from === ENTRY_ID
        ? `${ENTRY_ID}.${kind}`
        : withPorts.has(from)
          ? `${from}.${kind === "main" ? "out" : "shortcut"}`
          : from;
    const target = withPorts.has(to) ? `${to}.${kind}` : to;
    return {
      id: key,
      sources: [source],
      targets: [target],
      layoutOptions: kind === "main" ? MAIN_EDGE_OPTIONS : SHORTCUT_EDGE_OPTIONS,
    };
  });
  const key = JSON.stringify([children.map((c) => [c.id, c.width, c.height, c.ports?.length ?? 0]), [...edgeKeys]]);
  return { key, elkGraph: { id: "block", layoutOptions: BLOCK_LAYOUT_OPTIONS, children, edges } };
}

function readBlockLayout(result: ElkNode): BlockLayout {
  const nodes = new Map<string, Rect>();
  for (const c of result.children ?? [])
    nodes.set(c.id, { x: c.x ?? 0, y: c.y ?? 0, width: c.width ?? 0, height: c.height ?? 0 });
  const entry = nodes.get(ENTRY_ID);
  const edges = new Map<string, Point[]>();
  for (const e of result.edges ?? []) {
    const points: Point[] = [];
    for (const s of e.sections ?? []) {
      points.push({ x: s.startPoint.x, y: s.startPoint.y });
      for (const b of s.bendPoints ?? []) points.push({ x: b.x, y: b.y });
      points.push({ x: s.endPoint.x, y: s.endPoint.y });
    }
    edges.set(e.id, points);
  }
  return {
    width: result.width ?? 0,
    height: result.height ?? 0,
    laneX: entry ? entry.x + entry.width / 2 : (result.width ?? 0) / 2,
    nodes,
    edges,
  };
}

function extentOf(s: Segment): Extent {
  if (s.kind === "unit")
    return { left: s.size.width / 2, right: s.size.width / 2 + arcSpace(s.arcs), height: s.size.height };
  const title = titleWidth(s.frame);
  if (s.kind === "block") {
    const l = s.layout;
    if (!l) return { left: 0, right: 0, height: 0 };
    return {
      left: l.laneX + FRAME_PADDING.left,
      right: Math.max(l.width - l.laneX, title) + FRAME_PADDING.right,
      height: l.height + FRAME_TOP.block + FRAME_PADDING.bottom,
    };
  }
  const inner = s.children.map(extentOf);
  return {
    left: Math.max(0, ...inner.map((e) => e.left)) + FRAME_PADDING.left,
    right: Math.max(title, ...inner.map((e) => e.right)) + FRAME_PADDING.right,
    height:
      inner.reduce((h, e) => h + e.height, 0) +
      LANE_GAP * Math.max(0, inner.length - 1) +
      FRAME_TOP.stage +
      FRAME_PADDING.bottom,
  };
}

/** Room right of the lane for a frame's title ("layer2 · BasicBlock ×2") and shape line. */
function titleWidth(frame: ViewContainer): number {
  return (
    TITLE_OFFSET +
    Math.max(`${frame.id} · ${frame.label}`.length * CHAR_WIDTH, (frame.sublabel?.length ?? 0) * (CHAR_WIDTH - 0.5))
  );
}

/** Room right of a box for its shortcut arcs and their labels. */
function arcSpace(arcs: ShortcutArcSpec[]): number {
  if (!arcs.length) return 0;
  return (
    ARC_REACH + (arcs.length - 1) * ARC_STEP + 6 + Math.max(...arcs.map((a) => shortcutLabel(a).length)) * CHAR_WIDTH
  );
}

/** The arcs of one folded box, nested beside it; labels stacked right of the outermost arc. */
function placeArcs(unitId: string, arcs: ShortcutArcSpec[], r: Rect): LaidOutShortcut[] {
  const outer = r.x + r.width + ARC_REACH + (arcs.length - 1) * ARC_STEP;
  const mid = r.y + r.height / 2;
  return arcs.map((a, i) => ({
    id: `${unitId}#shortcut${arcs.length > 1 ? `.${i}` : ""}`,
    unitId,
    kind: a.kind,
    option: a.option,
    blocks: [...a.blocks],
    laneX: round(r.x + r.width / 2),
    top: round(r.y - ARC_FORK - i * 2),
    bottom: round(r.y + r.height + ARC_FORK + i * 2),
    reach: round(r.x + r.width + ARC_REACH + i * ARC_STEP),
    labelX: round(outer + 5),
    labelY: round(mid + 4 + (i - (arcs.length - 1) / 2) * 14),
  }));
}

interface Placement {
  nodes: Map<string, Rect>;
  containers: LaidOutContainer[];
  /** Absolute edge points of block-internal edges, by "blockId|localFrom->localTo". */
  blockEdges: Map<string, Point[]>;
  /** unit id → id of the expanded block it sits in. */
  unitBlock: Map<string, string>;
  shortcuts: LaidOutShortcut[];
  /** unit id → the column it was placed in; and each column's lane x and right edge. */
  column: Map<string, number>;
  columns: { laneX: number; right: number }[];
}

/**
 * Top-level segments (in data-flow order) into at most `columns` runs of about equal height: a segment goes to the
 * column its middle falls in. Stages are top-level segments, so a wide panel shows stages side by side.
 */
function splitIntoColumns(extents: Extent[], columns: number): number[][] {
  const count = Math.max(1, Math.min(extents.length, Math.floor(Number.isFinite(columns) ? columns : 1)));
  const total = extents.reduce((h, e) => h + e.height + LANE_GAP, 0);
  const out: number[][] = Array.from({ length: count }, () => []);
  let top = 0;
  extents.forEach((e, i) => {
    const column = Math.min(count - 1, Math.floor(((top + e.height / 2) / total) * count));
    out[column].push(i);
    top += e.height + LANE_GAP;
  });
  return out.filter((c) => c.length > 0);
}

/** Place a segment with its lane at x=laneX and its top at y; returns its bottom. */
function place(s: Segment, laneX: number, y: number, depth: number, out: Placement): number {
  if (s.kind === "unit") {
    const r = { x: laneX - s.size.width / 2, y, width: s.size.width, height: s.size.height };
    out.nodes.set(s.unit.id, r);
    if (s.arcs.length) out.shortcuts.push(...placeArcs(s.unit.id, s.arcs, r));
    return y + s.size.height;
  }
  const e = extentOf(s);
  out.containers.push(
    frameOf(s.frame, { x: laneX - e.left, y, width: e.left + e.right, height: e.height }, depth, laneX),
  );
  if (s.kind === "block") {
    const l = s.layout;
    if (!l) return y + e.height;
    const ox = laneX - l.laneX;
    const oy = y + FRAME_TOP.block;
    for (const u of s.units) {
      const r = l.nodes.get(localId(s.frame.id, u.id));
      if (!r) continue;
      out.nodes.set(u.id, { x: ox + r.x, y: oy + r.y, width: r.width, height: r.height });
      out.unitBlock.set(u.id, s.frame.id);
    }
    for (const [key, points] of l.edges)
      out.blockEdges.set(
        `${s.frame.id}|${key}`,
        points.map((p) => ({ x: ox + p.x, y: oy + p.y })),
      );
    return y + e.height;
  }
  let cy = y + FRAME_TOP.stage;
  s.children.forEach((child, i) => {
    if (i > 0) cy += LANE_GAP;
    cy = place(child, laneX, cy, depth + 1, out);
  });
  return y + e.height;
}

function frameOf(frame: ViewContainer, r: Rect, depth: number, laneX: number): LaidOutContainer {
  const c: LaidOutContainer = {
    id: frame.id,
    label: frame.label,
    group: frame.group,
    x: round(r.x),
    y: round(r.y),
    width: round(r.width),
    height: round(r.height),
    params: frame.params,
    macs: frame.macs,
    source: frame.source,
    depth,
    laneX: round(laneX),
  };
  if (frame.sublabel !== undefined) c.sublabel = frame.sublabel;
  return c;
}

function routeEdge(
  e: ViewEdge,
  placed: Placement,
  units: Map<string, ViewUnit>,
  order: Map<string, number>,
  blockShortcut: Map<string, ShortcutKind>,
): LaidOutEdge | null {
  let from = placed.nodes.get(e.from);
  const to = placed.nodes.get(e.to);
  if (!from || !to) return null;
  // Into the next column: down out of the box, along the gutter to the top, over to the next lane; from there the
  // edge is routed as if it came from just above that lane.
  let prefix: Point[] = [];
  const fromColumn = placed.column.get(e.from) ?? 0,
    toColumn = placed.column.get(e.to) ?? 0;
  if (fromColumn !== toColumn) {
    const exit: Point = { x: from.x + from.width / 2, y: from.y + from.height };
    const gutter = (placed.columns[Math.min(fromColumn, toColumn)]?.right ?? exit.x) + COLUMN_GAP / 2;
    const lane = placed.columns[toColumn]?.laneX ?? exit.x;
    const topY = ROOT_PADDING / 2;
    prefix = [
      exit,
      { x: exit.x, y: exit.y + LANE_GAP / 2 },
      { x: gutter, y: exit.y + LANE_GAP / 2 },
      { x: gutter, y: topY },
      { x: lane, y: topY },
    ];
    from = { x: lane, y: topY, width: 0, height: 0 };
  }
  const start: Point = { x: from.x + from.width / 2, y: from.y + from.height };
  const toBlock = placed.unitBlock.get(e.to);
  const fromBlock = placed.unitBlock.get(e.from);
  let points: Point[];
  if (toBlock) {
    const local = (id: string) => localId(toBlock, id);
    const key = fromBlock === toBlock ? `${local(e.from)}->${local(e.to)}` : `${ENTRY_ID}->${local(e.to)}`;
    const inner = placed.blockEdges.get(`${toBlock}|${key}`) ?? [];
    if (fromBlock === toBlock) points = inner.length ? inner : [start, { x: to.x + to.width / 2, y: to.y }];
    else if (inner.length) {
      // From the previous segment's exit down the lane to the entry, then along elkjs's route.
      // The shortcut forks off the lane at the entry; the main edge already runs down to it.
      const first = inner[0];
      const fork = { x: start.x, y: first.y };
      points = e.kind === "shortcut" ? [fork, ...inner] : [start, fork, ...inner];
    } else points = [start, { x: to.x + to.width / 2, y: to.y }];
  } else {
    const end: Point = { x: to.x + to.width / 2, y: to.y };
    const neighbours = (order.get(e.to) ?? 0) - (order.get(e.from) ?? 0) === 1;
    if (!neighbours) {
      // Not neighbours in the lane: a bracket on the right of both boxes.
      const bx = Math.max(from.x + from.width, to.x + to.width) + 20;
      points = [
        { x: from.x + from.width, y: from.y + from.height / 2 },
        { x: bx, y: from.y + from.height / 2 },
        { x: bx, y: to.y + to.height / 2 },
        { x: to.x + to.width, y: to.y + to.height / 2 },
      ];
    } else if (Math.abs(end.x - start.x) < 0.5) points = [start, end];
    else {
      const mid = (start.y + end.y) / 2;
      points = [start, { x: start.x, y: mid }, { x: end.x, y: mid }, end];
    }
  }
  const target = units.get(e.to);
  if (target?.kind === "add") points = joinAddFromSide(points, to);
  const edge: LaidOutEdge = {
    id: e.id,
    from: e.from,
    to: e.to,
    points: simplify([...prefix, ...points]),
    shape: [...e.shape],
    kind: e.kind,
    sourceNodeId: e.sourceNodeId,
  };
  const block = toBlock ?? fromBlock;
  const shortcut = e.kind === "shortcut" && block ? blockShortcut.get(block) : undefined;
  if (shortcut) edge.shortcut = shortcut;
  return edge;
}

/** An edge that lands on the Add box away from its circle turns and enters the circle from the side. */
function joinAddFromSide(points: Point[], add: Rect): Point[] {
  if (points.length < 2) return points;
  const end = points[points.length - 1];
  const cx = add.x + add.width / 2;
  const cy = add.y + ADD_GLYPH.cy;
  if (Math.abs(end.x - cx) <= ADD_GLYPH.r) return [...points.slice(0, -1), { x: end.x, y: add.y }];
  const side = end.x > cx ? cx + ADD_GLYPH.r : cx - ADD_GLYPH.r;
  const rest = points.slice(0, -1);
  const prev = rest[rest.length - 1];
  // Keep the route orthogonal: slide the last vertical run to the circle's height, then go in sideways.
  if (Math.abs(prev.x - end.x) < 0.5) return [...rest, { x: end.x, y: cy }, { x: side, y: cy }];
  return [...rest.slice(0, -1), { x: prev.x, y: cy }, { x: side, y: cy }];
}

/** Round and drop repeated and collinear points. */
function simplify(points: Point[]): Point[] {
  const rounded = points.map((p) => ({ x: round(p.x), y: round(p.y) }));
  const out: Point[] = [];
  for (const p of rounded) {
    const last = out[out.length - 1];
    if (last && last.x === p.x && last.y === p.y) continue;
    const prev = out[out.length - 2];
    if (prev && last && ((prev.x === last.x && last.x === p.x) || (prev.y === last.y && last.y === p.y)))
      out[out.length - 1] = p;
    else out.push(p);
  }
  return out;
}

function round(v: number): number {
  return Math.round(v * 10) / 10;
}

function laidOutNode(unit: ViewUnit, r: Rect): LaidOutNode {
  const node: LaidOutNode = {
    id: unit.id,
    label: unit.label,
    kind: unit.kind,
    x: round(r.x),
    y: round(r.y),
    width: round(r.width),
    height: round(r.height),
    group: unit.group,
    expandable: unit.expandable,
    expanded: unit.expanded,
    params: unit.params,
    macs: unit.macs,
    outputShape: [...unit.outputShape],
    role: unit.role,
    source: unit.source,
    nodeIds: unit.nodeIds,
  };
  if (unit.sublabel !== undefined) node.sublabel = unit.sublabel;
  if (unit.receptiveField) node.receptiveField = { size: unit.receptiveField.size, stride: unit.receptiveField.stride };
  return node;
}

/** elkjs's first layout is slow (its code is compiled on first use); a worker calls this at startup so the user's first diagram is not. */
export async function warmUpLayout(): Promise<void> {
  const chain = ["a", "b", "c", "add"];
  const units: ViewUnit[] = chain.map((id) => ({
    id: `warm.${id}`,
    label: id,
    kind: id === "add" ? "add" : "conv",
    group: "node",
    expandable: false,
    expanded: false,
    params: 0,
    macs: 0,
    outputShape: [1],
    role: "main",
    source: null,
    nodeIds: [`warm.${id}`],
    parent: "warm",
  }));
  const edges: ViewEdge[] = [
    { id: "in->a", from: "outside", to: "warm.a", shape: [1], kind: "main", sourceNodeId: "outside" },
    { id: "in->add", from: "outside", to: "warm.add", shape: [1], kind: "shortcut", sourceNodeId: "outside" },
    ...chain.slice(1).map((id, i): ViewEdge => ({
      id: `${chain[i]}->${id}`,
      from: `warm.${chain[i]}`,
      to: `warm.${id}`,
      shape: [1],
      kind: "main",
      sourceNodeId: `warm.${chain[i]}`,
    })),
  ];
  await elk().layout(blockElkGraph("warm", units, edges).elkGraph);
}

/** Forget cached block layouts (tests and benchmarks measure cold layouts with it). */
export function clearLayoutCache(): void {
  blockCache.clear();
}

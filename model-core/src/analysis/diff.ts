/**
 * The difference between two analysed networks, node by node and stage by stage. Nodes are matched by id
 * (torchvision's module paths), so `layer3.5` of ResNet-34 is "added" against ResNet-18. Memory deltas come from
 * the training-memory planner (memory.ts) at one batch, float32, SGD with momentum, as `summary --batch` reports.
 */
import type { GraphNode, ModelGraph } from "./graph";
import { trainingMemory, type MemoryDtype, type TrainingMemory } from "./memory";
import type { OptimizerName } from "../runtime/trainTypes";
import { formatByteDelta, formatBytes } from "../presentation/format";

/** The batch of the memory columns when none is given: the same as `summary`'s, so both report the same bytes. */
export const DEFAULT_DIFF_BATCH = 1;

export type ChangeStatus = "added" | "removed" | "changed" | "same";

export interface NodeDiff {
  id: string;
  status: Exclude<ChangeStatus, "same">;
  kind: string;
  stage: string | null;
  block: string | null;
  /** What differs, for a changed node: "op", "input shape", "output shape", "params". */
  differences: string[];
  paramsA: number;
  paramsB: number;
  macsA: number;
  macsB: number;
}

export interface StageDiff {
  id: string;
  status: ChangeStatus;
  labelA: string | null;
  labelB: string | null;
  paramsA: number;
  paramsB: number;
  deltaParams: number;
  macsA: number;
  macsB: number;
  deltaMacs: number;
  /** Bytes autograd keeps for the backward pass from this stage's layers, at the diff's memory batch. */
  savedActivationBytesA: number;
  savedActivationBytesB: number;
  deltaSavedActivationBytes: number;
}

/** One training step of each network at the same batch (memory.ts). */
export interface MemoryDiff {
  batch: number;
  dtype: MemoryDtype;
  optimizer: OptimizerName | "none";
  savedActivationBytesA: number;
  savedActivationBytesB: number;
  deltaSavedActivationBytes: number;
  trainPeakBytesA: number;
  trainPeakBytesB: number;
  deltaTrainPeakBytes: number;
}

export interface BlockDiff {
  id: string;
  stage: string;
  status: ChangeStatus;
}

export interface NetworkSide {
  name: string;
  params: number;
  macs: number;
  depth: number;
  input: number[];
  output: number[];
}

export interface NetworkDiff {
  a: NetworkSide;
  b: NetworkSide;
  deltaParams: number;
  deltaMacs: number;
  memory: MemoryDiff;
  /** Block ids (`layer3.5`) only in B, only in A, or in both with a difference inside. */
  addedBlocks: string[];
  removedBlocks: string[];
  changedBlocks: string[];
  /** Every stage of either network, in order (A's order, then B's extra stages). */
  stages: StageDiff[];
  /** Every block of either network, with its status, in order. */
  blocks: BlockDiff[];
  /** Nodes that differ (unchanged nodes are left out). */
  nodes: NodeDiff[];
}

function side(graph: ModelGraph): NetworkSide {
  return {
    name: graph.name,
    params: graph.totals.params,
    macs: graph.totals.macs,
    depth: graph.totals.depth,
    input: graph.input,
    output: graph.output,
  };
}

/** What differs between two nodes with the same id; wiring by id is ignored (a new block renames its neighbours' inputs). */
function nodeDifferences(a: GraphNode, b: GraphNode): string[] {
  const out: string[] = [];
  if (JSON.stringify(a.op) !== JSON.stringify(b.op)) out.push("op");
  if (a.inputShape.join() !== b.inputShape.join()) out.push("input shape");
  if (a.outputShape.join() !== b.outputShape.join()) out.push("output shape");
  if (a.params !== b.params) out.push("params");
  if (a.role !== b.role) out.push("role");
  return out;
}

/** Ids of `a` followed by those only in `b`, keeping each network's order. */
function unionOrder(a: readonly string[], b: readonly string[]): string[] {
  const seen = new Set(a);
  return [...a, ...b.filter((id) => !seen.has(id))];
}

export interface DiffOptions {
  /** Batch of the memory columns (default DEFAULT_DIFF_BATCH). */
  batch?: number;
}

export function diffNetworks(a: ModelGraph, b: ModelGraph, options: DiffOptions = {}): NetworkDiff {
  const batch = options.batch ?? DEFAULT_DIFF_BATCH;
  const memoryA = trainingMemory(a, { batch });
  const memoryB = trainingMemory(b, { batch });
  const savedOf = (m: TrainingMemory) => new Map(m.stages.map((s) => [s.id, s.savedActivationBytes]));
  const savedA = savedOf(memoryA);
  const savedB = savedOf(memoryB);
  const nodesA = new Map(a.nodes.map((n) => [n.id, n]));
  const nodesB = new Map(b.nodes.map((n) => [n.id, n]));
  const nodes: NodeDiff[] = [];
  const statusOf = new Map<string, ChangeStatus>();
  for (const id of unionOrder(
    a.nodes.map((n) => n.id),
    b.nodes.map((n) => n.id),
  )) {
    const x = nodesA.get(id);
    const y = nodesB.get(id);
    const any = (x ?? y)!;
    const differences = x && y ? nodeDifferences(x, y) : [];
    const status: ChangeStatus = !x ? "added" : !y ? "removed" : differences.length ? "changed" : "same";
    statusOf.set(id, status);
    if (status === "same") continue;
    nodes.push({
      id,
      status,
      kind: any.op.kind,
      stage: any.stage,
      block: any.block,
      differences,
      paramsA: x?.params ?? 0,
      paramsB: y?.params ?? 0,
      macsA: x?.macs ?? 0,
      macsB: y?.macs ?? 0,
    });
  }

  const blocksA = new Map(
    a.stages.flatMap((s) => s.blocks.map((bl) => [bl.id, { stage: s.id, nodeIds: bl.nodeIds }] as const)),
  );
  const blocksB = new Map(
    b.stages.flatMap((s) => s.blocks.map((bl) => [bl.id, { stage: s.id, nodeIds: bl.nodeIds }] as const)),
  );
  const blocks: BlockDiff[] = [];
  for (const id of unionOrder([...blocksA.keys()], [...blocksB.keys()])) {
    const x = blocksA.get(id);
    const y = blocksB.get(id);
    let status: ChangeStatus;
    if (!x) status = "added";
    else if (!y) status = "removed";
    else {
      const ids = new Set([...x.nodeIds, ...y.nodeIds]);
      status = [...ids].some((n) => statusOf.get(n) !== "same") ? "changed" : "same";
    }
    blocks.push({ id, stage: (x ?? y)!.stage, status });
  }

  const stagesA = new Map(a.stages.map((s) => [s.id, s]));
  const stagesB = new Map(b.stages.map((s) => [s.id, s]));
  const stages: StageDiff[] = unionOrder(
    a.stages.map((s) => s.id),
    b.stages.map((s) => s.id),
  ).map((id) => {
    const x = stagesA.get(id);
    const y = stagesB.get(id);
    const ids = new Set([...(x?.nodeIds ?? []), ...(y?.nodeIds ?? [])]);
    const status: ChangeStatus = !x
      ? "added"
      : !y
        ? "removed"
        : [...ids].some((n) => statusOf.get(n) !== "same")
          ? "changed"
          : "same";
    const paramsA = x?.params ?? 0,
      paramsB = y?.params ?? 0,
      macsA = x?.macs ?? 0,
      macsB = y?.macs ?? 0;
    const bytesA = savedA.get(id) ?? 0,
      bytesB = savedB.get(id) ?? 0;
    return {
      id,
      status,
      labelA: x?.label ?? null,
      labelB: y?.label ?? null,
      paramsA,
      paramsB,
      deltaParams: paramsB - paramsA,
      macsA,
      macsB,
      deltaMacs: macsB - macsA,
      savedActivationBytesA: bytesA,
      savedActivationBytesB: bytesB,
      deltaSavedActivationBytes: bytesB - bytesA,
    };
  });

  return {
    a: side(a),
    b: side(b),
    deltaParams: b.totals.params - a.totals.params,
    deltaMacs: b.totals.macs - a.totals.macs,
    memory: {
      batch,
      dtype: memoryA.dtype,
      optimizer: memoryA.optimizer,
      savedActivationBytesA: memoryA.savedActivationBytes,
      savedActivationBytesB: memoryB.savedActivationBytes,
      deltaSavedActivationBytes: memoryB.savedActivationBytes - memoryA.savedActivationBytes,
      trainPeakBytesA: memoryA.trainPeakBytes,
      trainPeakBytesB: memoryB.trainPeakBytes,
      deltaTrainPeakBytes: memoryB.trainPeakBytes - memoryA.trainPeakBytes,
    },
    addedBlocks: blocks.filter((x) => x.status === "added").map((x) => x.id),
    removedBlocks: blocks.filter((x) => x.status === "removed").map((x) => x.id),
    changedBlocks: blocks.filter((x) => x.status === "changed").map((x) => x.id),
    stages,
    blocks,
    nodes,
  };
}

/** `+1,234` / `−1,234` / `0`. */
export function formatDelta(value: number): string {
  if (value === 0) return "0";
  return `${value > 0 ? "+" : "−"}${Math.abs(value).toLocaleString("en-US")}`;
}

/** The diff as a plain-text report (the CLI's default output). */
export function formatNetworkDiff(diff: NetworkDiff): string {
  const n = (v: number) => v.toLocaleString("en-US");
  const m = diff.memory;
  const rows: string[][] = [["stage", "A", "B", "Δparams", "ΔMACs", `Δmemory @${m.batch}`]];
  for (const s of diff.stages) {
    rows.push([
      `${s.id}${s.status === "same" ? "" : ` (${s.status})`}`,
      s.labelA ?? "—",
      s.labelB ?? "—",
      formatDelta(s.deltaParams),
      formatDelta(s.deltaMacs),
      formatByteDelta(s.deltaSavedActivationBytes),
    ]);
  }
  rows.push([
    "total",
    n(diff.a.params),
    n(diff.b.params),
    formatDelta(diff.deltaParams),
    formatDelta(diff.deltaMacs),
    formatByteDelta(m.deltaSavedActivationBytes),
  ]);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const table = rows.map((r) =>
    r
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join("  ")
      .trimEnd(),
  );
  const list = (label: string, ids: string[]) => (ids.length ? [`${label} (${ids.length}): ${ids.join(", ")}`] : []);
  return [
    `A: ${diff.a.name}: ${n(diff.a.params)} params, ${n(diff.a.macs)} MACs`,
    `B: ${diff.b.name}: ${n(diff.b.params)} params, ${n(diff.b.macs)} MACs`,
    "",
    ...table,
    `Δmemory: saved activations of a training step at batch ${m.batch} (${m.dtype}); training peak ${formatBytes(m.trainPeakBytesA)} → ${formatBytes(m.trainPeakBytesB)} (${formatByteDelta(m.deltaTrainPeakBytes)}, optimizer ${m.optimizer})`,
    "",
    ...list("added blocks", diff.addedBlocks),
    ...list("removed blocks", diff.removedBlocks),
    ...list("changed blocks", diff.changedBlocks),
    ...(diff.addedBlocks.length + diff.removedBlocks.length + diff.changedBlocks.length === 0 && diff.nodes.length === 0
      ? ["the networks have the same layers"]
      : []),
  ].join("\n");
}

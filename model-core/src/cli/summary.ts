/** `resnet-studio summary`: a torchinfo-like table of a network, or one JSON object with `--json`. */
import type { Command } from "commander";
import { formatDiagnostic, printable, printableJson, type Diagnostic, type SourceRange } from "../diagnostics";
import type { GraphNode, ModelGraph, NodeOp, ReceptiveField, Shape } from "../analysis/graph";
import { loadSpec, parseShapeArg, type LoadedSpec } from "../load";
import type { Shape3 } from "../spec/types";
import {
  DTYPE_BYTES,
  checkpointWhatIf,
  evaluatePlan,
  largestBatch,
  parseByteSize,
  planMemory,
  type CheckpointOption,
  type MemoryDtype,
  type TrainingMemory,
} from "../analysis/memory";
import type { OptimizerName } from "../runtime/trainTypes";
import { formatByteDelta, formatBytes, formatCount, formatExactCount, formatShape } from "../presentation/format";

/** float32: every parameter and activation is 4 bytes. */
const BYTES_PER_VALUE = 4;

export interface SummaryLayer {
  id: string;
  kind: NodeOp["kind"];
  /** Short description of the op's attributes, e.g. "3×3, stride 2". */
  detail: string;
  input: Shape;
  output: Shape;
  params: number;
  macs: number;
  receptiveField: ReceptiveField;
  stage: string | null;
  block: string | null;
  role: GraphNode["role"];
  source: SourceRange | null;
  /** Bytes the backward pass keeps that this layer is the first to save, at the summary's batch. */
  savedActivationBytes: number;
}

export interface SummaryStage {
  name: string;
  label: string;
  input: Shape;
  output: Shape;
  params: number;
  macs: number;
  savedActivationBytes: number;
}

/** One training step's memory at `batch` (analysis/memory.ts), as PyTorch keeps it. */
export interface SummaryMemory extends Pick<
  TrainingMemory,
  | "batch"
  | "dtype"
  | "optimizer"
  | "savedActivationBytes"
  | "parameterBytes"
  | "bufferBytes"
  | "gradientBytes"
  | "optimizerBytes"
  | "trainPeakBytes"
  | "inferencePeakBytes"
> {
  /** The budget given with --memory, and the largest batch whose training peak fits in it (0: none). */
  budgetBytes?: number;
  largestBatch?: number;
  /** What-if: each residual stage under torch.utils.checkpoint, then all of them. */
  checkpointing: CheckpointOption[];
}

export interface SummaryJson {
  name: string;
  file: string | null;
  input: Shape;
  output: Shape;
  params: number;
  macs: number;
  /** Weighted layers on the longest path (the number in a ResNet's name). */
  depth: number;
  /** Output elements of all layers for one sample. */
  activations: number;
  /** Estimated forward-pass activation memory for one float32 sample, in bytes. */
  activationBytes: number;
  memory: SummaryMemory;
  stages: SummaryStage[];
  layers: SummaryLayer[];
  /** Warnings (a summarized spec has no errors). */
  diagnostics: Diagnostic[];
}

export function opDetail(op: NodeOp): string {
  switch (op.kind) {
    case "conv": {
      const parts = [`${op.kernel}×${op.kernel}`];
      if (op.stride !== 1) parts.push(`stride ${op.stride}`);
      if (op.groups !== 1) parts.push(`groups ${op.groups}`);
      return parts.join(", ");
    }
    case "maxpool":
      return `${op.kernel}×${op.kernel}, stride ${op.stride}`;
    case "padshortcut":
      return `option A, stride ${op.stride}, +${op.padBefore + op.padAfter} ch`;
    case "dropout":
      return `rate ${op.rate}`;
    case "add":
      return op.mode === "plain"
        ? op.shortcutScale !== 1 || op.residualScale !== 1
          ? `${op.shortcutScale}·x + ${op.residualScale}·F`
          : ""
        : op.mode;
    default:
      return "";
  }
}

export interface SummaryMemoryOptions {
  batch?: number;
  dtype?: MemoryDtype;
  optimizer?: OptimizerName | "none";
  /** A memory budget in bytes: the summary then answers with the largest batch that fits. */
  budgetBytes?: number;
}

export function summarize(
  graph: ModelGraph,
  file: string | null,
  diagnostics: Diagnostic[] = [],
  memoryOptions: SummaryMemoryOptions = {},
): SummaryJson {
  const plan = planMemory(graph, { dtype: memoryOptions.dtype, optimizer: memoryOptions.optimizer });
  const memory: TrainingMemory = evaluatePlan(plan, memoryOptions.batch ?? 1);
  const savedById = new Map(memory.nodes.map((m) => [m.id, m.savedActivationBytes]));
  const savedByStage = new Map(memory.stages.map((m) => [m.id, m.savedActivationBytes]));
  return {
    name: graph.name,
    file,
    input: graph.input,
    output: graph.output,
    params: graph.totals.params,
    macs: graph.totals.macs,
    depth: graph.totals.depth,
    activations: graph.totals.activations,
    activationBytes: graph.totals.activations * BYTES_PER_VALUE,
    memory: {
      batch: memory.batch,
      dtype: memory.dtype,
      optimizer: memory.optimizer,
      savedActivationBytes: memory.savedActivationBytes,
      parameterBytes: memory.parameterBytes,
      bufferBytes: memory.bufferBytes,
      gradientBytes: memory.gradientBytes,
      optimizerBytes: memory.optimizerBytes,
      trainPeakBytes: memory.trainPeakBytes,
      inferencePeakBytes: memory.inferencePeakBytes,
      checkpointing: checkpointWhatIf(
        graph,
        { batch: memory.batch, dtype: memory.dtype, optimizer: memory.optimizer },
        plan,
      ).options,
      ...(memoryOptions.budgetBytes === undefined
        ? {}
        : { budgetBytes: memoryOptions.budgetBytes, largestBatch: largestBatch(plan, memoryOptions.budgetBytes) }),
    },
    stages: graph.stages.map((s) => ({
      name: s.id,
      label: s.label,
      input: s.inputShape,
      output: s.outputShape,
      params: s.params,
      macs: s.macs,
      savedActivationBytes: savedByStage.get(s.id) ?? 0,
    })),
    layers: graph.nodes.map((n) => ({
      id: n.id,
      kind: n.op.kind,
      detail: opDetail(n.op),
      input: n.inputShape,
      output: n.outputShape,
      params: n.params,
      macs: n.macs,
      receptiveField: n.receptiveField,
      stage: n.stage,
      block: n.block,
      role: n.role,
      source: n.source,
      savedActivationBytes: savedById.get(n.id) ?? 0,
    })),
    diagnostics: diagnostics.filter((d) => d.severity !== "error"),
  };
}

interface Row {
  name: string;
  type: string;
  output: string;
  params: string;
  macs: string;
  rf: string;
  saved: string;
}

/** How deep the table goes: 1 stages, 2 blocks, 3 every layer (torchinfo's `depth`). */
export type TableDepth = 1 | 2 | 3;

/** The table printed on a terminal: layers indented by depth (stage, block, layer), then totals. */
export function formatSummaryTable(summary: SummaryJson, graph: ModelGraph, depth: TableDepth = 3): string {
  const rows: Row[] = [];
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const savedById = new Map(summary.layers.map((l) => [l.id, l.savedActivationBytes]));
  const savedText = (bytes: number) => (bytes > 0 ? formatBytes(bytes) : "--");
  const blockSaved = (ids: readonly string[]) => ids.reduce((sum, id) => sum + (savedById.get(id) ?? 0), 0);
  const nodeRow = (node: GraphNode, depth: number): Row => ({
    name: `${"  ".repeat(depth)}${node.id}`,
    type: [node.op.kind, opDetail(node.op)].filter(Boolean).join(" "),
    output: formatShape(node.outputShape),
    params: node.params ? formatExactCount(node.params) : "--",
    macs: node.macs ? formatCount(node.macs) : "--",
    rf: node.op.kind === "input" ? "" : String(node.receptiveField.size),
    saved: savedText(savedById.get(node.id) ?? 0),
  });
  const input = graph.nodes[0];
  if (input) rows.push(nodeRow(input, 0));
  for (const stage of graph.stages) {
    rows.push({
      name: stage.id,
      type: stage.label,
      output: formatShape(stage.outputShape),
      params: formatExactCount(stage.params),
      macs: formatCount(stage.macs),
      rf: "",
      saved: savedText(blockSaved(stage.nodeIds)),
    });
    const blocks = new Map(stage.blocks.map((b) => [b.id, b]));
    let openBlock: string | null = null;
    for (const id of stage.nodeIds) {
      const node = byId.get(id);
      if (!node) continue;
      if (depth >= 2 && node.block && node.block !== openBlock && blocks.has(node.block)) {
        const block = blocks.get(node.block)!;
        rows.push({
          name: `  ${block.id}`,
          type: block.label,
          output: formatShape(block.outputShape),
          params: formatExactCount(block.params),
          macs: formatCount(block.macs),
          rf: "",
          saved: savedText(blockSaved(block.nodeIds)),
        });
      }
      openBlock = node.block;
      if (depth >= 3) rows.push(nodeRow(node, node.block ? 2 : 1));
    }
  }
  const m = summary.memory;
  const header: Row = {
    name: "Layer",
    type: "Type",
    output: "Output shape",
    params: "Params",
    macs: "MACs",
    rf: "RF",
    saved: `Saved @${m.batch}`,
  };
  // A loop, not Math.max(...rows): a 10,000-block net has 140k rows, more than a spread can pass.
  const width = (key: keyof Row) => [header, ...rows].reduce((most, r) => Math.max(most, r[key].length), 0);
  const w = {
    name: width("name"),
    type: width("type"),
    output: width("output"),
    params: width("params"),
    macs: width("macs"),
    rf: width("rf"),
    saved: width("saved"),
  };
  const line = (r: Row) =>
    `${r.name.padEnd(w.name)}  ${r.type.padEnd(w.type)}  ${r.output.padEnd(w.output)}  ${r.params.padStart(w.params)}  ${r.macs.padStart(w.macs)}  ${r.rf.padStart(w.rf)}  ${r.saved.padStart(w.saved)}`.trimEnd();
  const total = w.name + w.type + w.output + w.params + w.macs + w.rf + w.saved + 12;
  const rule = "─".repeat(total);
  const paramBytes = summary.params * BYTES_PER_VALUE;
  const inputBytes = summary.input.reduce((a, b) => a * b, 1) * BYTES_PER_VALUE;
  const out = [
    printable(`${summary.name}${summary.file ? ` (${summary.file})` : ""}`),
    rule,
    line(header),
    rule,
    ...rows.map(line),
    rule,
    `Total params: ${formatExactCount(summary.params)} (${formatCount(summary.params)})`,
    `Total MACs: ${formatExactCount(summary.macs)} (${formatCount(summary.macs)})`,
    `Depth (weighted layers): ${summary.depth}`,
    `Input size: ${formatShape(summary.input)}, ${formatBytes(inputBytes)}`,
    `Output: ${formatShape(summary.output)}`,
    `Forward activations (one sample, float32): ${formatBytes(summary.activationBytes)}`,
    `Params size (float32): ${formatBytes(paramBytes)}`,
    `Estimated total size: ${formatBytes(inputBytes + summary.activationBytes + paramBytes)}`,
    rule,
    `Training step at batch ${m.batch} (${m.dtype}, ${m.optimizer === "none" ? "no optimiser state" : m.optimizer === "sgd" ? "SGD momentum" : "Adam"}), as PyTorch keeps it:`,
    `  saved activations ${formatBytes(m.savedActivationBytes)} · parameters ${formatBytes(m.parameterBytes)} · gradients ${formatBytes(m.gradientBytes)} · optimiser state ${formatBytes(m.optimizerBytes)}`,
    `  training peak ${formatBytes(m.trainPeakBytes)} · inference peak (no_grad) ${formatBytes(m.inferencePeakBytes)}`,
    ...(m.budgetBytes === undefined || m.largestBatch === undefined
      ? []
      : [
          m.largestBatch > 0
            ? `  largest batch within ${formatBytes(m.budgetBytes)}: ${m.largestBatch}`
            : `  not even batch 1 fits in ${formatBytes(m.budgetBytes)}`,
        ]),
    `  with torch.utils.checkpoint on (peak, saved against none, extra MACs per step):`,
    ...m.checkpointing.map(
      (c) =>
        `    ${c.stages.join(", ")}: ${formatBytes(c.trainPeakBytes)} ` +
        `(${c.peakSavedBytes === 0 ? "unchanged" : formatByteDelta(-c.peakSavedBytes)}), +${formatCount(c.recomputeMacs)} MACs`,
    ),
    rule,
  ];
  return out.join("\n") + "\n";
}

export interface SummaryOptions {
  input?: string;
  json?: boolean;
  /** "1" stages, "2" blocks, "3" layers (default). */
  depth?: string;
  /** Batch of the memory estimate (default 1). */
  batch?: string;
  /** A memory budget such as 24GB: the summary answers with the largest batch that fits. */
  memory?: string;
  dtype?: string;
  optimizer?: string;
}

/** The value of an integer option such as `--batch <N>`, at least `min`. */
export function parseIntegerOption(text: string, flag: string, min: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`${flag} must be an integer ≥ ${min}, got "${text}"`);
  return value;
}

function parseMemoryOptions(options: SummaryOptions): SummaryMemoryOptions {
  const out: SummaryMemoryOptions = {};
  if (options.batch !== undefined) out.batch = parseIntegerOption(options.batch, "--batch", 1);
  if (options.memory !== undefined) out.budgetBytes = parseByteSize(options.memory);
  if (options.dtype !== undefined) {
    if (!(options.dtype in DTYPE_BYTES))
      throw new Error(`--dtype must be float32, bfloat16 or float16, got "${options.dtype}"`);
    out.dtype = options.dtype as MemoryDtype;
  }
  if (options.optimizer !== undefined) {
    if (!["sgd", "adam", "none"].includes(options.optimizer))
      throw new Error(`--optimizer must be sgd, adam or none, got "${options.optimizer}"`);
    out.optimizer = options.optimizer as OptimizerName | "none";
  }
  return out;
}

function parseDepth(text: string | undefined): TableDepth {
  if (text === undefined) return 3;
  if (text === "1" || text === "2" || text === "3") return Number(text) as TableDepth;
  throw new Error(`--depth must be 1 (stages), 2 (blocks) or 3 (layers), got "${text}"`);
}

/** Print every diagnostic to stderr; true when at least one is an error. */
export function reportDiagnostics(loaded: LoadedSpec, arg: string): boolean {
  const sorted = [...loaded.diagnostics].sort((a, b) => (a.range?.startOffset ?? -1) - (b.range?.startOffset ?? -1));
  for (const d of sorted) process.stderr.write(formatDiagnostic(d, loaded.file ?? arg) + "\n");
  return loaded.diagnostics.some((d) => d.severity === "error");
}

/**
 * Load a spec and print its diagnostics (only the errors with `errorsOnly`). Null, with exit code 1, when it has
 * errors or could not be analysed.
 */
export function loadAnalyzed(
  arg: string,
  input: Shape3 | undefined,
  { errorsOnly = false }: { errorsOnly?: boolean } = {},
): (LoadedSpec & { graph: ModelGraph }) | null {
  const loaded = loadSpec(arg, { input });
  const shown = errorsOnly ? loaded.diagnostics.filter((d) => d.severity === "error") : loaded.diagnostics;
  const failed = reportDiagnostics({ ...loaded, diagnostics: shown }, arg);
  if (failed || !loaded.graph) {
    if (!failed) process.stderr.write(`${loaded.file ?? arg}: error: the network could not be analyzed\n`);
    process.exitCode = 1;
    return null;
  }
  return { ...loaded, graph: loaded.graph };
}

/** Write and wait until flushed: the launcher calls process.exit right after, which would cut a piped stdout short. */
export function writeStdout(text: string): Promise<void> {
  // A failed write (the reader closed the pipe) goes to the stream's "error" listener (main.ts), which ends the
  // command; rejecting here as well would report it twice.
  return new Promise((resolve) => process.stdout.write(text, () => resolve()));
}

/** Load and print a summary. Returns the loaded spec, or null after reporting errors (exit code set to 1). */
export async function runSummary(arg: string, options: SummaryOptions): Promise<LoadedSpec | null> {
  const input = options.input === undefined ? undefined : parseShapeArg(options.input);
  const depth = parseDepth(options.depth);
  const memoryOptions = parseMemoryOptions(options);
  const loaded = loadAnalyzed(arg, input);
  if (!loaded) return null;
  const summary = summarize(loaded.graph, loaded.file, loaded.diagnostics, memoryOptions);
  await writeStdout(options.json ? printableJson(summary) + "\n" : formatSummaryTable(summary, loaded.graph, depth));
  return loaded;
}

export function registerSummary(program: Command): void {
  program
    .command("summary")
    .description("print layers, output shapes, parameters and MACs of a .resnet.ts spec or a preset (e.g. resnet50)")
    .argument("<spec>", "path to a .resnet.ts file, or a preset name such as resnet18, resnet56, plain20")
    .option("--input <C,H,W>", "override the input shape, e.g. 3,32,32")
    .option("--json", "print one JSON object instead of the table")
    .option("--depth <1|2|3>", "table rows: 1 stages, 2 blocks, 3 every layer (default)")
    .option("--batch <N>", "batch of the training-memory estimate (default 1)")
    .option(
      "--memory <size>",
      "a memory budget such as 24GB or 16GiB: also print the largest batch whose training step fits",
    )
    .option("--dtype <float32|bfloat16|float16>", "element type of activations and parameters (default float32)")
    .option("--optimizer <sgd|adam|none>", "optimiser state: SGD momentum 1×, Adam 2× the parameters (default sgd)")
    .action(async (spec: string, options: SummaryOptions) => {
      await runSummary(spec, options);
    });
}

/**
 * `resnet-studio render`: the block diagram of a spec or preset as a standalone .svg or .html file, with
 * optional overlays (shapes, params, MACs, receptive field, gradient flow from one forward/backward pass).
 */
import type { Command } from "commander";
import { extname } from "node:path";
import { SpecError, formatDiagnostic, printable } from "../diagnostics";
import { writeFileAtomic } from "../safeFiles";
import type { ModelGraph } from "../analysis/graph";
import type { GradientFlowResult } from "../analysis/gradflow";
import { loadSpec, parseShapeArg } from "../load";
import { trainingMemory } from "../analysis/memory";
import {
  initialExpansion,
  layoutView,
  memoryOverlayData,
  renderSvg,
  escapeXml,
  NO_OVERLAYS,
  type ExpandLevel,
  type OverlayOptions,
} from "../render/index";
import { OVERLAYS } from "../presentation/overlays";
import { formatCount, formatShape } from "../presentation/format";

export interface RenderCliOptions {
  out: string;
  expand?: string;
  overlay?: string;
  input?: string;
  backend?: string;
  batch?: string;
  seed?: string;
}

const EXPAND_LEVELS: readonly ExpandLevel[] = ["stages", "blocks", "all"];
/** Parse "--overlay shapes,params" (also "all" and "none"); the names come from the overlay list. */
export function parseOverlayArg(text: string): OverlayOptions {
  const overlays: OverlayOptions = { ...NO_OVERLAYS };
  for (const raw of text
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean)) {
    if (raw === "none") continue;
    if (raw === "all") {
      for (const overlay of OVERLAYS) if (overlay.inAll) overlays[overlay.key] = true;
      continue;
    }
    const overlay = OVERLAYS.find((o) => (o.cli as readonly string[]).includes(raw));
    if (!overlay) {
      const names = [...OVERLAYS.map((o) => o.cli[0]), "all", "none"].join(", ");
      throw new Error(`--overlay: unknown overlay "${raw}" (expected a comma-separated list of: ${names})`);
    }
    overlays[overlay.key] = true;
  }
  return overlays;
}

function parseExpand(text: string | undefined): ExpandLevel | undefined {
  if (text === undefined) return undefined;
  const v = text.trim().toLowerCase() as ExpandLevel;
  if (!EXPAND_LEVELS.includes(v))
    throw new Error(`--expand: expected one of ${EXPAND_LEVELS.join(", ")}, got "${text}"`);
  return v;
}

function parsePositiveInt(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag}: expected a positive integer, got "${text}"`);
  return n;
}

/** One forward/backward pass on a random batch with the tfjs runtime (loaded only when asked for). */
async function computeGradients(
  graph: ModelGraph,
  backend: string | undefined,
  batchSize: number,
  seed: number,
  io: RenderOutput,
): Promise<GradientFlowResult> {
  const runtime = await import("../runtime/index");
  const tf = await import("@tensorflow/tfjs-core");
  const info = await runtime.initBackend(runtime.parseBackendChoice(backend ?? "auto", "--backend"));
  io.err(`gradient flow: ${info.detail}\n`);
  const model = runtime.buildModel(graph, { seed });
  const [c, h, w] = graph.input;
  const classes = graph.output[0] ?? 1;
  const x = tf.randomNormal<import("@tensorflow/tfjs-core").Rank.R4>([batchSize, h, w, c], 0, 1, "float32", seed);
  const labels = Array.from({ length: batchSize }, (_, i) => (i * 7 + seed) % classes);
  try {
    return await runtime.gradientFlow(model, { x, labels });
  } finally {
    x.dispose();
    model.dispose();
  }
}

/** A standalone page: the diagram with its title and totals, light theme, no scripts. */
export function standaloneHtml(graph: ModelGraph, svg: string): string {
  const title = escapeXml(graph.name);
  const facts = `${formatShape(graph.input)} → ${formatShape(graph.output)} · ${formatCount(graph.totals.params)} params · ${formatCount(graph.totals.macs)} MACs · depth ${graph.totals.depth}`;
  return [
    "<!doctype html>",
    `<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<title>${title} — ResNet Studio</title>`,
    `<style>body{margin:0;padding:16px 24px;background:#ffffff;color:#1f2328;font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif}`,
    `h1{font-size:18px;margin:0 0 4px}p{margin:0 0 12px;color:#59636e;font-size:13px}.diagram{overflow:auto}svg{max-width:none;height:auto}</style>`,
    `</head><body><h1>${title}</h1><p>${escapeXml(facts)}</p>`,
    `<div class="diagram">${svg.replace(/^<\?xml[^>]*\?>\s*/, "")}</div>`,
    "</body></html>",
    "",
  ].join("\n");
}

/** Where the command prints (swappable in tests). */
export interface RenderOutput {
  out(text: string): void;
  err(text: string): void;
}
const PROCESS_OUTPUT: RenderOutput = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};

export async function runRender(
  arg: string,
  options: RenderCliOptions,
  io: RenderOutput = PROCESS_OUTPUT,
): Promise<void> {
  const out = options.out;
  const ext = extname(out).toLowerCase();
  if (ext !== ".svg" && ext !== ".html" && ext !== ".htm")
    throw new Error(`--out must end in .svg or .html, got "${out}"`);
  const level = parseExpand(options.expand);
  const overlays = parseOverlayArg(options.overlay ?? "shapes");
  const batchSize = parsePositiveInt(options.batch, "--batch", 4);
  const seed = parsePositiveInt(options.seed, "--seed", 1);
  const input = options.input ? parseShapeArg(options.input) : undefined;

  const loaded = loadSpec(arg, { input });
  if (!loaded.graph) throw new SpecError(loaded.diagnostics);
  for (const d of loaded.diagnostics) io.err(formatDiagnostic(d, loaded.file ?? arg) + "\n");
  const graph = loaded.graph;

  const gradients = overlays.gradients ? await computeGradients(graph, options.backend, batchSize, seed, io) : null;
  const laid = await layoutView(graph, initialExpansion(graph, level));
  const memory = overlays.memory ? memoryOverlayData(trainingMemory(graph, { batch: batchSize })) : null;
  const svg = renderSvg(laid, overlays, gradients, { standalone: true, memory });
  const text = ext === ".svg" ? svg : standaloneHtml(graph, svg);
  writeFileAtomic(out, text);
  io.out(
    `wrote ${printable(out)}: ${laid.nodes.length} boxes, ${laid.edges.length} edges, ${laid.width}×${laid.height} px\n`,
  );
}

export function registerRender(program: Command): void {
  program
    .command("render")
    .description("draw the block diagram of a .resnet.ts spec or a preset to a standalone .svg or .html file")
    .argument("<spec>", "path to a .resnet.ts file, or a preset name such as resnet18, resnet56, plain20")
    .requiredOption("--out <file>", "output file: .svg or .html")
    .option("--expand <level>", "stages | blocks | all (default: deep nets at stage level, small ones at block level)")
    .option("--overlay <list>", "comma-separated: shapes, params, macs, rf, gradients, memory, all, none", "shapes")
    .option("--input <C,H,W>", "override the input shape, e.g. 3,32,32")
    .option("--backend <name>", "for --overlay gradients: auto | tensorflow | wasm | cpu", "auto")
    .option("--batch <n>", "for --overlay gradients and memory: samples in the batch", "4")
    .option("--seed <n>", "for --overlay gradients: seed of weights and batch", "1")
    .action(async (spec: string, options: RenderCliOptions) => {
      await runRender(spec, options);
    });
}

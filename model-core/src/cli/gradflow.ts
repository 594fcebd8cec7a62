/**
 * `resnet-studio gradflow <spec|preset>`: one forward/backward pass at initialisation on seeded standard-normal
 * inputs and random labels, printed as a per-block table (or one GradientFlowResult JSON object with --json).
 */
import type { Command } from "commander";
import { SpecError, formatDiagnostic, printable, printableJson } from "../diagnostics";
import type { ModelGraph } from "../analysis/graph";
import type { GradientFlowResult } from "../analysis/gradflow";
import { analyze } from "../analysis/analyze";
import { loadSpec, parseShapeArg } from "../load";
import { SeededRng } from "../data/rng";
import { backendChoicesText } from "../runtime/backendNames";
import type { ApplyMode } from "../runtime/model";
import { gradientFlowTable, seededFlowBatch } from "../runtime/gradflow";
import { parseIntegerOption, writeStdout } from "./summary";
import { backendFromOptions } from "./backendOption";

export interface GradflowCliOptions {
  batch?: string;
  seed?: string;
  /** commander's `--no-bn` sets bn: false. */
  bn?: boolean;
  input?: string;
  mode?: string;
  backend?: string;
  python?: string;
  device?: string;
  threads?: string;
  /** Load these weights (a checkpoint) instead of the seeded initialisation. */
  weights?: string;
  json?: boolean;
}

/** The batch He et al.'s CIFAR comparison uses; large inputs default to a small batch to bound memory. */
const DEFAULT_BATCH = 32;
const LARGE_INPUT_BATCH = 2;
const LARGE_INPUT_PIXELS = 64 * 64;

/** Loads the network (with BN removed when asked); throws SpecError with located diagnostics on bad specs. */
export function loadGradflowGraph(
  arg: string,
  options: Pick<GradflowCliOptions, "input" | "bn">,
): { graph: ModelGraph; warnings: string[] } {
  const input = options.input === undefined ? undefined : parseShapeArg(options.input);
  const loaded = loadSpec(arg, { input });
  const errors = loaded.diagnostics.filter((d) => d.severity === "error");
  if (!loaded.graph || errors.length > 0) {
    throw new SpecError(
      errors.length > 0
        ? errors
        : [{ severity: "error", code: "analysis-failed", message: "the network could not be analyzed", range: null }],
    );
  }
  const warnings = loaded.diagnostics.map((d) => formatDiagnostic(d, loaded.file ?? arg));
  if (options.bn !== false || loaded.graph.spec.norm === "none") return { graph: loaded.graph, warnings };
  const withoutBn = analyze({ ...loaded.graph.spec, norm: "none" });
  if (!withoutBn.graph) throw new SpecError(withoutBn.diagnostics.filter((d) => d.severity === "error"));
  return { graph: withoutBn.graph, warnings };
}

export async function runGradflow(arg: string, options: GradflowCliOptions): Promise<GradientFlowResult> {
  const { graph, warnings } = loadGradflowGraph(arg, options);
  const [c, h, w] = graph.input;
  const requested = options.batch === undefined ? null : parseIntegerOption(options.batch, "--batch", 1);
  const seed = options.seed === undefined ? 1 : parseIntegerOption(options.seed, "--seed", 0);
  const mode = (options.mode ?? "train") as ApplyMode;
  if (mode !== "train" && mode !== "eval") throw new Error(`--mode must be train or eval, got "${options.mode}"`);
  const backend = backendFromOptions(options);
  const described = await backend.ready();
  // Estimate before allocating: refuse a --batch that would exhaust the backend, or shrink the default batch.
  const preferred = h * w > LARGE_INPUT_PIXELS ? LARGE_INPUT_BATCH : DEFAULT_BATCH;
  const chosen = await backend.fitBatch({
    graph,
    kind: "gradflow",
    requested,
    preferred,
    what: "a gradient-flow pass",
  });
  const batch = chosen.batch;
  if (chosen.note) process.stderr.write(chosen.note + "\n");

  const result = await backend.gradientFlow({
    graph,
    batch: seededFlowBatch(graph, batch, new SeededRng(seed + 1)),
    mode,
    weights: options.weights ? { checkpoint: options.weights } : { seed },
  });
  await report(result, described.name, described.detail);
  return result;

  async function report(result: GradientFlowResult, name: string, detail: string): Promise<void> {
    if (options.json) {
      await writeStdout(printableJson(result) + "\n");
    } else {
      for (const warning of warnings) process.stderr.write(warning + "\n");
      await writeStdout(
        [
          `backend: ${name} (${detail})`,
          `input: ${batch} seeded standard-normal samples ${c}×${h}×${w}, random labels, BN in ${mode} mode, seed ${seed}${options.weights ? `, weights from ${printable(options.weights)}` : ""}`,
          gradientFlowTable(result, graph),
          "",
        ].join("\n"),
      );
    }
  }
}

export function registerGradflow(program: Command): void {
  program
    .command("gradflow")
    .description(
      "measure gradient flow at initialisation: ‖dL/dx‖ per block, the shortcut/branch split at each Add, and the first/last ratio",
    )
    .argument("<spec>", "path to a .resnet.ts file, or a preset name such as resnet56, plain56")
    .option("--batch <N>", `batch size (default ${DEFAULT_BATCH}; ${LARGE_INPUT_BATCH} for inputs larger than 64×64)`)
    .option("--seed <N>", "seed for weights, inputs and labels (default 1)")
    .option("--no-bn", "remove batch normalisation (convs get biases, PyTorch's default init)")
    .option("--input <C,H,W>", "override the input shape, e.g. 3,32,32")
    .option("--mode <train|eval>", "BN with batch statistics (train, default) or running statistics (eval)")
    .option("--backend <name>", `${backendChoicesText()} (default auto)`)
    .option(
      "--python <path>",
      "with --backend torch: the Python with PyTorch (default: RESNET_STUDIO_PYTHON, then python3 on PATH)",
    )
    .option("--device <name>", "with --backend torch: cpu | cuda | auto")
    .option("--threads <n>", "with --backend torch: torch threads (default: one per core)")
    .option(
      "--weights <checkpoint>",
      "measure these weights (a checkpoint file or folder; same spec) instead of the seeded initialisation",
    )
    .option("--json", "print one GradientFlowResult JSON object instead of the table")
    .action(async (spec: string, options: GradflowCliOptions) => {
      await runGradflow(spec, options);
    });
}

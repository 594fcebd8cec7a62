/**
 * `resnet-studio eval <spec|run dir|checkpoint>`: loss, accuracy, per-class accuracy and the confusion matrix of
 * trained weights on the validation images their training held out, on tfjs or PyTorch (--backend torch).
 */
import type { Command } from "commander";
import type { EvaluationResult } from "../analysis/evaluation";
import { printable, printableJson } from "../diagnostics";
import { formatExactCount, formatPercent } from "../presentation/format";
import { initBackend, parseBackendChoice } from "../runtime/backend";
import { backendChoicesText } from "../runtime/backendNames";
import {
  evaluateOnTfjs,
  evaluationSet,
  resolveEvaluationTarget,
  type EvaluationSet,
  type EvaluationTarget,
} from "../runtime/evaluate";
import { buildModel } from "../runtime/model";
import { evaluateOnTorch, parseDevice, probeTorch, resolvePython } from "../runtime/torchBackend";
import { loadWeightsInto } from "../runtime/weightsFile";
import { convertTorchWeights } from "../weights/torchWeights";
import { writeStdout } from "./summary";
import { isTorchBackend, parseThreads } from "./train";

export interface EvalCliOptions {
  spec?: string;
  dataset?: string;
  backend?: string;
  python?: string;
  device?: string;
  threads?: string;
  json?: boolean;
}

/** Evaluates a resolved target on tfjs: builds the model, loads and checks the weights, runs the set. */
export async function evaluateTargetOnTfjs(
  target: EvaluationTarget,
  set: EvaluationSet,
  backend: string,
): Promise<EvaluationResult> {
  const model = buildModel(target.graph, { seed: 1 });
  try {
    if (target.weights) loadWeightsInto(model, target.weights);
    return await evaluateOnTfjs(model, set, { backend, weights: target.weights?.path ?? null });
  } finally {
    model.dispose();
  }
}

export async function runEval(arg: string, options: EvalCliOptions): Promise<EvaluationResult> {
  // A pickle is never read here: torch.load(weights_only=True) in the user's Python converts it to safetensors.
  const converted = /\.(pt|pth)$/i.test(arg)
    ? await convertTorchWeights(arg, resolvePython(options.python).command)
    : null;
  try {
    return await evaluateArg(converted?.file ?? arg, options, converted ? arg : null);
  } catch (err) {
    if (converted && err instanceof Error) err.message = err.message.split(converted.file).join(arg);
    throw err;
  } finally {
    converted?.dispose();
  }
}

async function evaluateArg(arg: string, options: EvalCliOptions, torchFile: string | null): Promise<EvaluationResult> {
  const target = resolveEvaluationTarget(arg, { spec: options.spec, dataset: options.dataset });
  if (torchFile) {
    target.notes.push(`${torchFile}: read through torch.load(weights_only=True)`);
    if (target.weights) target.weights = { ...target.weights, path: torchFile };
  }
  const set = await evaluationSet(target.datasetArg, target.graph, target.valFraction);
  let result: EvaluationResult;
  if (isTorchBackend(options.backend)) {
    const python = resolvePython(options.python);
    await probeTorch(python);
    result = await evaluateOnTorch({
      graph: target.graph,
      set,
      weights: target.weights,
      python,
      device: parseDevice(options.device ?? "auto"),
      threads: options.threads === undefined ? undefined : parseThreads(options.threads),
    });
  } else {
    const backend = await initBackend(parseBackendChoice(options.backend ?? "auto", "--backend"));
    result = await evaluateTargetOnTfjs(target, set, backend.name);
  }
  if (options.json) await writeStdout(printableJson(result) + "\n");
  else {
    for (const note of target.notes) process.stderr.write(printable(note) + "\n");
    await writeStdout(evaluationTable(result) + "\n");
  }
  return result;
}

/** The human report: totals, per-class accuracy and the confusion matrix (rows true, columns predicted). */
export function evaluationTable(result: EvaluationResult): string {
  const names = result.perClass.map((c) => c.name);
  const width = Math.max(5, ...names.map((n) => n.length), ...result.confusion.flat().map((v) => String(v).length));
  const pad = (s: string) => s.padStart(width);
  const lines = [
    `model: ${result.model}   dataset: ${result.dataset} (${formatExactCount(result.samples)} validation images)   backend: ${result.backend}`,
    `weights: ${result.weights ?? "seeded initialisation"}`,
    `loss ${result.loss.toFixed(4)}   accuracy ${formatPercent(result.accuracy, 2)}`,
    "",
    "per class:",
    ...result.perClass.map(
      (c) =>
        `  ${c.name.padEnd(width)}  ${c.accuracy === null ? "–" : formatPercent(c.accuracy, 1).padStart(6)}  (${formatExactCount(c.correct)}/${formatExactCount(c.total)})`,
    ),
    "",
    "confusion matrix (rows: true class, columns: predicted):",
    `  ${pad("")} ${names.map(pad).join(" ")}`,
    ...result.confusion.map((row, i) => `  ${pad(names[i])} ${row.map((v) => pad(String(v))).join(" ")}`),
  ];
  return lines.map(printable).join("\n");
}

export function registerEval(program: Command): void {
  program
    .command("eval")
    .description(
      "evaluate trained weights on the validation images: loss, accuracy, per-class accuracy, confusion matrix",
    )
    .argument(
      "<target>",
      "a run folder (run.json + checkpoint.safetensors), a checkpoint or weights-only state_dict (.safetensors), or a spec (its seeded initialisation)",
    )
    .option(
      "--spec <spec>",
      "the network of a weights-only state_dict (a .resnet.ts file or a preset such as resnet18)",
    )
    .option("--dataset <D>", "the dataset (default: the run's, else mnist)")
    .option("--backend <name>", `${backendChoicesText()} (default auto)`)
    .option("--python <path>", "with --backend torch: the Python with PyTorch")
    .option("--device <name>", "with --backend torch: cpu | cuda | auto")
    .option("--threads <n>", "with --backend torch: torch threads (default: one per core)")
    .option("--json", "print one JSON object")
    .action(async (target: string, options: EvalCliOptions) => {
      await runEval(target, options);
    });
}

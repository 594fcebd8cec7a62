/** `resnet-studio export`: a spec or preset as a PyTorch module (model.py), optionally with a torchrun script. */
import type { Command } from "commander";
import { basename, dirname, join } from "node:path";
import { exportPytorch } from "../export/pytorch";
import { exportTrainScript, FAST_MODULE_FILE, fastModuleSource, type TrainScriptDataset } from "../export/trainScript";
import { CHECKPOINT_FILE_NAME, resolveCheckpointPath, specHash } from "../runtime/checkpoint";
import { epochsText, exportTrainedModel, TRAINED_SNIPPET_FILE } from "../weights/exportTrained";
import { formatExactCount } from "../presentation/format";
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from "../runtime/trainTypes";
import { parseShapeArg } from "../load";
import { loadAnalyzed, writeStdout } from "./summary";
import { datasetDefaults } from "./train";
import { printable } from "../diagnostics";
import { writeFileAtomic } from "../safeFiles";

export interface ExportCliOptions {
  to?: string;
  out?: string;
  input?: string;
  withTrainScript?: boolean;
  weights?: string;
}

const TRAIN_SCRIPT_NAME = "train_ddp.py";

/**
 * The CLI `train` defaults for each dataset the script reads; an ImageFolder gets the paper's SGD recipe, as CIFAR-10
 * does, and an MNIST-format IDX folder the MNIST recipe.
 */
function trainDefaults(): Record<TrainScriptDataset, TrainConfig> {
  const of = (dataset: string): TrainConfig => ({ ...DEFAULT_TRAIN_CONFIG, ...datasetDefaults(dataset) });
  return { cifar10: of("cifar10"), imagefolder: of("cifar10"), idx: of("mnist"), synthetic: of("synthetic") };
}

export async function runExport(arg: string | undefined, options: ExportCliOptions): Promise<void> {
  if (options.weights !== undefined) return runExportTrained(arg, options);
  if (arg === undefined) throw new Error("export: give a spec (a .resnet.ts file or a preset name), or --weights");
  const target = (options.to ?? "pytorch").toLowerCase();
  if (target !== "pytorch") throw new Error(`--to: the only export target is pytorch, got "${options.to}"`);
  if (options.withTrainScript && !options.out)
    throw new Error(`--with-train-script writes ${TRAIN_SCRIPT_NAME} beside the model: give --out model.py`);
  if (options.out && !options.out.endsWith(".py")) throw new Error(`--out must name a .py file, got "${options.out}"`);
  const input = options.input === undefined ? undefined : parseShapeArg(options.input);
  const loaded = loadAnalyzed(arg, input);
  if (!loaded) return;
  const graph = loaded.graph;
  const code = exportPytorch(graph, { source: loaded.file ?? `preset ${arg}` });
  if (!options.out) {
    await writeStdout(code);
    return;
  }
  writeFileAtomic(options.out, code);
  const written = [options.out];
  if (options.withTrainScript) {
    const script = join(dirname(options.out), TRAIN_SCRIPT_NAME);
    writeFileAtomic(
      script,
      exportTrainScript(graph, {
        modelFile: basename(options.out),
        specHash: specHash(graph.spec),
        defaults: trainDefaults(),
      }),
    );
    written.push(script);
    // The fast-path module the script imports (shared with the torch backend's runner), shipped beside it.
    const fastModule = join(dirname(options.out), FAST_MODULE_FILE);
    writeFileAtomic(fastModule, fastModuleSource());
    written.push(fastModule);
  }
  await writeStdout(
    printable(`wrote ${written.join(", ")}: ${graph.name}, ${graph.totals.params.toLocaleString("en-US")} parameters`) +
      "\n",
  );
}

/** `export [spec] --weights <checkpoint|run dir> --out DIR`: the trained model as model.py + checkpoint.safetensors + load_trained.py. */
async function runExportTrained(arg: string | undefined, options: ExportCliOptions): Promise<void> {
  if (options.withTrainScript)
    throw new Error("--with-train-script and --weights: export the script without --weights");
  if (!options.out || options.out.endsWith(".py"))
    throw new Error(
      `--weights writes a folder (model.py, ${CHECKPOINT_FILE_NAME}, ${TRAINED_SNIPPET_FILE}): give --out DIR`,
    );
  let spec;
  if (arg !== undefined) {
    const loaded = loadAnalyzed(arg, options.input === undefined ? undefined : parseShapeArg(options.input));
    if (!loaded) return;
    spec = loaded.graph.spec;
  }
  const result = exportTrainedModel({ checkpoint: resolveCheckpointPath(options.weights!), folder: options.out, spec });
  await writeStdout(
    printable(
      `wrote ${result.files.join(", ")}: ${result.spec.name} after ${epochsText(result.epoch)}, ${formatExactCount(result.params)} parameters`,
    ) + "\n",
  );
}

export function registerExport(program: Command): void {
  program
    .command("export")
    .description(
      "write a .resnet.ts spec or a preset as a PyTorch module (torchvision-style model.py); with --weights, a trained checkpoint with it",
    )
    .argument(
      "[spec]",
      "path to a .resnet.ts file, or a preset name such as resnet18, resnet56, plain20 (with --weights: the checkpoint's spec by default)",
    )
    .option("--to <target>", "export target: pytorch", "pytorch")
    .option("--out <file>", "write the module here (default: print it)")
    .option("--input <C,H,W>", "override the input shape, e.g. 3,32,32")
    .option(
      "--with-train-script",
      `also write ${TRAIN_SCRIPT_NAME} (torchrun, DDP) and the ${FAST_MODULE_FILE} it imports beside --out`,
    )
    .option(
      "--weights <checkpoint>",
      `a checkpoint or run folder: write model.py, its weights as ${CHECKPOINT_FILE_NAME} (torchvision's state_dict) and ${TRAINED_SNIPPET_FILE} into --out DIR`,
    )
    .action(async (spec: string | undefined, options: ExportCliOptions) => {
      await runExport(spec, options);
    });
}

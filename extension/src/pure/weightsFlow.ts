/**
 * "New Spec from Weights…" and "Export Trained Model as PyTorch" as plain steps over a small UI interface, so the
 * flows run under node with a fake UI; extension/src/weightsCommands.ts supplies VS Code's dialogs. Pure of vscode.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { CHECKPOINT_FILE_NAME, resolveCheckpointPath } from "resnet-studio/runtime/checkpoint";
import { formatExactCount } from "resnet-studio/presentation/format";
import { importWeights, weightsStem } from "resnet-studio/weights/importWeights";
import { isTorchWeightsFile } from "resnet-studio/weights/torchWeights";
import {
  epochsText,
  exportTrainedModel,
  TRAINED_MODULE_FILE,
  TRAINED_SNIPPET_FILE,
} from "resnet-studio/weights/exportTrained";

export interface WeightsUi {
  /** A weights file (or, for export, a run folder) chosen in a dialog; null when cancelled. */
  pickWeights(purpose: "import" | "export"): Promise<string | null>;
  /** A folder to export into, starting at `suggested`; null when cancelled. */
  pickFolder(suggested: string): Promise<string | null>;
  /** Runs `work` under a progress notification. */
  progress<T>(title: string, work: () => Promise<T>): Promise<T>;
  /** Writes a new text file (never over an existing one). */
  writeNewFile(path: string, text: string): Promise<void>;
  open(path: string, withDiagram: boolean): Promise<void>;
  info(message: string): void;
  error(message: string): void;
}

/** `net.resnet.ts`, else `net-2.resnet.ts` …: a new spec never overwrites a file. */
export function freeSpecPath(folder: string, stem: string): string {
  for (let i = 1; ; i++) {
    const path = join(folder, i === 1 ? `${stem}.resnet.ts` : `${stem}-${i}.resnet.ts`);
    if (!existsSync(path)) return path;
  }
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** New Spec from Weights…: infers the spec, writes `<stem>.resnet.ts` beside the weights (or in `folder`), opens it. */
export async function newSpecFromWeights(
  ui: WeightsUi,
  weights: string | null,
  options: { python: () => string; folder?: string },
): Promise<string | null> {
  const file = weights ?? (await ui.pickWeights("import"));
  if (!file) return null;
  try {
    const { inferred, text } = await ui.progress("ResNet Studio: inferring the spec from the weights…", () =>
      importWeights(file, { python: options.python, source: file }),
    );
    const target = freeSpecPath(options.folder ?? dirname(file), weightsStem(file));
    await ui.writeNewFile(target, text);
    await ui.open(target, true);
    ui.info(
      `ResNet Studio: ${inferred.options.name}, ${formatExactCount(inferred.params)} parameters, inferred from ${file}; ` +
        `${inferred.notes.length} thing${inferred.notes.length === 1 ? "" : "s"} the weights do not store ${inferred.notes.length === 1 ? "is" : "are"} listed at the top of the spec.`,
    );
    return target;
  } catch (err) {
    ui.error(`ResNet Studio: ${messageOf(err)}`);
    return null;
  }
}

/** Export Trained Model as PyTorch: a checkpoint or run folder into a chosen folder (never the run's own). */
export async function exportTrainedFlow(ui: WeightsUi, source: string | null): Promise<string | null> {
  const picked = source ?? (await ui.pickWeights("export"));
  if (!picked) return null;
  if (isTorchWeightsFile(picked)) {
    ui.error(
      `ResNet Studio: ${picked} is a PyTorch file already; Export Trained Model reads ResNet Studio checkpoints (${CHECKPOINT_FILE_NAME}). Use New Spec from Weights… to get its spec.`,
    );
    return null;
  }
  const checkpoint = resolveCheckpointPath(picked);
  const folder = await ui.pickFolder(join(dirname(checkpoint), "pytorch"));
  if (!folder) return null;
  try {
    const result = await ui.progress("ResNet Studio: exporting the trained model…", () =>
      Promise.resolve(exportTrainedModel({ checkpoint, folder })),
    );
    await ui.open(join(folder, TRAINED_SNIPPET_FILE), false);
    ui.info(
      `ResNet Studio: ${result.spec.name} after ${epochsText(result.epoch)} exported to ${folder} (${TRAINED_MODULE_FILE}, ${CHECKPOINT_FILE_NAME}, ${TRAINED_SNIPPET_FILE}).`,
    );
    return folder;
  } catch (err) {
    ui.error(`ResNet Studio: ${messageOf(err)}`);
    return null;
  }
}

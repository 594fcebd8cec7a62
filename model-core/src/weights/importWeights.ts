/** `resnet-studio import` and "New Spec from Weights…": a weights file in, a commented `.resnet.ts` text out. */
import { basename } from "node:path";
import { importedSpecText } from "./importedSpecText";
import { inferSpec, type InferredSpec } from "./inferSpec";
import { readWeightShapes } from "./torchWeights";

export interface ImportedWeights {
  inferred: InferredSpec;
  text: string;
  /** How a .pt/.pth file was read ("torch.load(weights_only=True)…"), null for safetensors. */
  via: string | null;
}

/** The file name without its weights extension: `runs/resnet50.pth` → `resnet50`. */
export function weightsStem(file: string): string {
  return basename(file).replace(/\.(safetensors|pth?)$/i, "") || "imported";
}

/** Infers the spec of `file` (`.safetensors`, or `.pt`/`.pth` through `python`); `source` is how the text names the file. */
export async function importWeights(
  file: string,
  options: { python: () => string; name?: string; source?: string },
): Promise<ImportedWeights> {
  const header = await readWeightShapes(file, options.python);
  const inferred = inferSpec(header.tensors, file, options.name ?? weightsStem(file));
  return { inferred, text: importedSpecText(inferred, options.source ?? file, header.via), via: header.via };
}

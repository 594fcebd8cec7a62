/** `resnet-studio import`: a spec inferred from a weights file's tensor names and shapes. */
import type { Command } from "commander";
import { printable } from "../diagnostics";
import { formatExactCount } from "../presentation/format";
import { resolvePython } from "../runtime/torchBackend";
import { writeFileAtomic } from "../safeFiles";
import { importWeights } from "../weights/importWeights";
import { writeStdout } from "./summary";

export interface ImportCliOptions {
  out?: string;
  name?: string;
  python?: string;
  json?: boolean;
}

export async function runImport(file: string, options: ImportCliOptions): Promise<void> {
  if (options.out !== undefined && !options.out.endsWith(".resnet.ts"))
    throw new Error(`--out must name a .resnet.ts file, got "${options.out}"`);
  const { inferred, text } = await importWeights(file, {
    python: () => resolvePython(options.python).command,
    name: options.name,
  });
  if (options.out !== undefined) writeFileAtomic(options.out, text);
  if (options.json) {
    await writeStdout(
      JSON.stringify({
        options: inferred.options,
        params: inferred.params,
        notes: inferred.notes,
        out: options.out ?? null,
      }) + "\n",
    );
    return;
  }
  if (options.out === undefined) await writeStdout(text);
  else {
    for (const note of inferred.notes) process.stderr.write(printable(`note: ${note}`) + "\n");
    await writeStdout(
      printable(`wrote ${options.out}: ${inferred.options.name}, ${formatExactCount(inferred.params)} parameters`) +
        "\n",
    );
  }
}

export function registerImport(program: Command): void {
  program
    .command("import")
    .description(
      "infer a .resnet.ts spec from a ResNet state_dict (torchvision names): .safetensors, or .pt/.pth via PyTorch",
    )
    .argument("<weights>", "a .safetensors file, or a .pt/.pth state_dict (read with torch.load(weights_only=True))")
    .option("--out <file>", "write the spec here (default: print it)")
    .option("--name <name>", "the network's name in the spec (default: the file name)")
    .option(
      "--python <path>",
      "for .pt/.pth: the Python with PyTorch (default: RESNET_STUDIO_PYTHON, then python3 on PATH)",
    )
    .option("--json", "print the inferred options, parameter count and notes as one JSON object")
    .action(async (weights: string, options: ImportCliOptions) => {
      await runImport(weights, options);
    });
}

/** `resnet-studio diff A B [--json] [--batch N]`: what changes from network A to network B, stage by stage. */
import type { Command } from "commander";
import { SpecError, printableJson, printableLines } from "../diagnostics";
import type { ModelGraph } from "../analysis/graph";
import {
  DEFAULT_DIFF_BATCH,
  diffNetworks,
  formatNetworkDiff,
  type DiffOptions,
  type NetworkDiff,
} from "../analysis/diff";
import { loadSpec } from "../load";
import { parseIntegerOption } from "./summary";

function loadGraph(arg: string): ModelGraph {
  const loaded = loadSpec(arg);
  const errors = loaded.diagnostics.filter((d) => d.severity === "error");
  if (!loaded.graph || errors.length > 0) {
    throw new SpecError(
      errors.length > 0
        ? errors
        : [
            {
              severity: "error",
              code: "analysis-failed",
              message: `${arg}: the network could not be analyzed`,
              range: null,
            },
          ],
    );
  }
  return loaded.graph;
}

/** Both arguments are `.resnet.ts` paths or preset names. Throws SpecError with located diagnostics. */
export function runDiff(a: string, b: string, options: DiffOptions = {}): NetworkDiff {
  return diffNetworks(loadGraph(a), loadGraph(b), options);
}

export function registerDiff(program: Command): void {
  program
    .command("diff")
    .description(
      "compare two networks (spec files or presets): added, removed and changed blocks, Δparams, ΔMACs and Δmemory per stage",
    )
    .argument("<a>", "a .resnet.ts file or a preset name")
    .argument("<b>", "a .resnet.ts file or a preset name")
    .option("--json", "print one JSON object")
    .option(
      "--batch <N>",
      `batch of the Δmemory column (saved activations and training peak, float32; default ${DEFAULT_DIFF_BATCH}, as summary)`,
    )
    .action((a: string, b: string, options: { json?: boolean; batch?: string }) => {
      const diff = runDiff(
        a,
        b,
        options.batch === undefined ? {} : { batch: parseIntegerOption(options.batch, "--batch", 1) },
      );
      process.stdout.write((options.json ? printableJson(diff, 2) : printableLines(formatNetworkDiff(diff))) + "\n");
    });
}

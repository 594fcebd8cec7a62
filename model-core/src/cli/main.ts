/** The `resnet-studio` command line. Each subcommand lives in its own module and registers itself here. */
import { Command, CommanderError } from "commander";
import { SpecError, formatDiagnostic, printable } from "../diagnostics";
import { registerSummary } from "./summary";
import { registerStart } from "./start";
import { registerTrain } from "./train";
import { registerBench } from "./bench";
import { registerRender } from "./render";
import { registerGradflow } from "./gradflow";
import { registerExport } from "./export";
import { registerDiff } from "./diff";
import { registerExperiment } from "./experiment";

export async function main(argv: string[]): Promise<number> {
  const program = new Command("resnet-studio")
    .description("Design, inspect and train residual networks from .resnet.ts specs")
    .exitOverride()
    .showHelpAfterError();
  registerSummary(program);
  registerStart(program);
  registerTrain(program);
  registerBench(program);
  registerRender(program);
  registerGradflow(program);
  registerExport(program);
  registerDiff(program);
  registerExperiment(program);
  try {
    await program.parseAsync(argv, { from: "user" });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (err) {
    return reportError(err);
  }
}

/** Bad input prints located diagnostics, never a stack (set RESNET_STUDIO_DEBUG=1 for one). */
export function reportError(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode;
  if (err instanceof SpecError) {
    for (const d of err.diagnostics) process.stderr.write(formatDiagnostic(d) + "\n");
    return 1;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`resnet-studio: error: ${printable(message)}\n`);
  if (process.env.RESNET_STUDIO_DEBUG && err instanceof Error && err.stack) process.stderr.write(err.stack + "\n");
  return 1;
}

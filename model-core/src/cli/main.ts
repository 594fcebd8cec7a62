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
import { registerImport } from "./import";
import { registerRuns } from "./runs";
import { registerEval } from "./eval";

let closedReaderHandled = false;

/**
 * A reader that went away (`summary --json | head -c 100`) ends the command quietly with status 0, as `git log | head`
 * does, instead of an unhandled EPIPE with a stack trace. Other stream errors are reported as errors.
 */
export function exitQuietlyWhenReaderCloses(): void {
  if (closedReaderHandled) return;
  closedReaderHandled = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPIPE" || err.code === "ERR_STREAM_DESTROYED") process.exit(0);
      process.exitCode = 1;
    });
  }
}

export async function main(argv: string[]): Promise<number> {
  exitQuietlyWhenReaderCloses();
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
  registerImport(program);
  registerRuns(program);
  registerEval(program);
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

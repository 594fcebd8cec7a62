/**
 * `npm run fuzz -- --cases 10000 [--checkpoint-cases 1000] [--torch-cases 60] [--seed 1]`: the long fuzz run of the
 * spec reader, then of the checkpoint reader, then of the torch worker with fake Pythons; exits 1 on any crash,
 * over-budget or unlocated case, unnamed checkpoint refusal, or torch-child failure.
 */
import { runFuzz } from "./specFuzz";
import { runCheckpointFuzz } from "./checkpointFuzz";
import { runTorchFuzz } from "./torchChildFuzz";

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isSafeInteger(value) || value < 0) {
    process.stderr.write(`--${name} must be a non-negative integer\n`);
    process.exit(2);
  }
  return value;
}

const cases = option("cases", 10_000);
const seed = option("seed", 1);
const checkpointCases = option("checkpoint-cases", 1000);
const torchCases = option("torch-cases", 60);

async function main(): Promise<void> {
  const report = runFuzz(seed, cases, (done) => process.stderr.write(`${done}/${cases}\r`));
  const checkpoints = await runCheckpointFuzz(seed, checkpointCases, (done) =>
    process.stderr.write(`checkpoints ${done}/${checkpointCases}\r`),
  );
  const torch = await runTorchFuzz(seed, torchCases, (done) =>
    process.stderr.write(`torch child ${done}/${torchCases}\r`),
  );
  const checkpointFailures =
    checkpoints.crashes + checkpoints.unnamed + checkpoints.unreadableWrites + checkpoints.tempFilesLeft;
  process.stdout.write(
    [
      `fuzz: ${report.cases} cases, seed ${seed}`,
      `crashes: ${report.crashes}, over budget: ${report.overBudget}, unlocated errors: ${report.unlocated}`,
      `cases with errors: ${report.withErrors}, cases analyzed to a graph: ${report.withGraph}`,
      `time: ${(report.totalMillis / 1000).toFixed(1)} s in all, slowest case ${report.slowestMillis.toFixed(0)} ms`,
      ...report.failures,
      `checkpoint fuzz: ${checkpoints.cases} cases, seed ${seed}: ${checkpoints.accepted} accepted (loaded, saved, read back), ${checkpoints.refused} refused naming the file`,
      `crashes: ${checkpoints.crashes}, messages not naming the file: ${checkpoints.unnamed}, unreadable writes: ${checkpoints.unreadableWrites}, temp files left: ${checkpoints.tempFilesLeft}`,
      `mutators: ${Object.entries(checkpoints.byMutator)
        .map(([name, n]) => `${name} ${n}`)
        .join(", ")}`,
      `time: ${(checkpoints.totalMillis / 1000).toFixed(1)} s in all, slowest case ${checkpoints.slowestMillis.toFixed(0)} ms`,
      ...checkpoints.failures,
      `torch child: ${torch.cases} fake Pythons, ${torch.failures.length} failed (late, unnamed, orphan or temp folder left)`,
      `time: ${(torch.totalMillis / 1000).toFixed(1)} s in all, slowest case ${torch.slowestMillis.toFixed(0)} ms`,
      ...torch.failures,
      "",
    ].join("\n"),
    () =>
      process.exit(
        report.crashes + report.overBudget + report.unlocated + checkpointFailures + torch.failures.length > 0 ? 1 : 0,
      ),
  );
}

void main();

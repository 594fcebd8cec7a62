/**
 * `npm run fuzz -- --cases 10000 [--seed 1] [--torch-cases 60]`: the long fuzz run of the spec reader, then of the
 * torch worker with fake Pythons; exits 1 on any crash, over-budget or unlocated case, or a torch-child failure.
 */
import { runFuzz } from "./specFuzz";
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
const torchCases = option("torch-cases", 60);
const report = runFuzz(seed, cases, (done) => process.stderr.write(`${done}/${cases}\r`));
void runTorchFuzz(seed, torchCases, (done) => process.stderr.write(`torch child ${done}/${torchCases}\r`)).then(
  (torch) => {
    process.stdout.write(
      [
        `fuzz: ${report.cases} cases, seed ${seed}`,
        `crashes: ${report.crashes}, over budget: ${report.overBudget}, unlocated errors: ${report.unlocated}`,
        `cases with errors: ${report.withErrors}, cases analyzed to a graph: ${report.withGraph}`,
        `time: ${(report.totalMillis / 1000).toFixed(1)} s in all, slowest case ${report.slowestMillis.toFixed(0)} ms`,
        ...report.failures,
        `torch child: ${torch.cases} fake Pythons, ${torch.failures.length} failed (late, unnamed, orphan or temp folder left)`,
        `time: ${(torch.totalMillis / 1000).toFixed(1)} s in all, slowest case ${torch.slowestMillis.toFixed(0)} ms`,
        ...torch.failures,
        "",
      ].join("\n"),
      () => process.exit(report.crashes + report.overBudget + report.unlocated + torch.failures.length > 0 ? 1 : 0),
    );
  },
);

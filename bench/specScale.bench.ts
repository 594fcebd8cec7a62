/**
 * The reader and analyser on very large and budget-edge specs (issue 21): CPU time and peak memory of `summary` and
 * `render` without writing any output, each case in its own process so its peak resident memory is its own.
 * Bars: a 10,000-block spec ≤ 5 s and ≤ 1 GB for each command; any spec within the reader's budget ≤ 10 s and ≤ 1 GB.
 * One JSON line per metric; a missed bar makes `npm run bench` exit 1.
 * Run: node --import tsx bench/specScale.bench.ts
 */
import { spawnSync } from "node:child_process";
import { loadSpecText } from "../model-core/src/load";
import { summarize } from "../model-core/src/cli/summary";
import { initialExpansion, layoutView, renderSvg, NO_OVERLAYS } from "../model-core/src/render/index";

const HEADER = 'import { resnet, stage } from "resnet-studio";\n';
const STAGE = "stage({ channels: 16, blocks: 1, stride: 1 })";

/** The spec texts measured, each at the edge of what the budget lets through. */
const SPECS: Record<string, () => string> = {
  tenThousandBlocks: () =>
    HEADER +
    'export default resnet({ input: [3, 8, 8], stem: "cifar", stages: [stage({ channels: 16, blocks: 10000 })] });\n',
  // Once 67 s in summary: a memory plan per stage for the checkpoint what-if.
  nineteenHundredStages: () =>
    HEADER +
    `export default resnet({ input: [3, 8, 8], stem: "cifar", stages: [${Array(1900).fill(STAGE).join(",\n")}] });\n`,
  // Near the element bar: 10 spreads of a 9,900-key object (once quadratic in the keys); read whole, then reported
  // as an unknown key, since no option takes free-form data.
  spreadsNearTheBar: () => {
    const keys = Array.from({ length: 9900 }, (_, i) => `k${i}: ${i}`).join(", ");
    return (
      HEADER +
      `const a = { ${keys} };\nconst b = { ${Array(10).fill("...a").join(", ")} };\n` +
      'export default resnet({ input: [3, 32, 32], stem: "cifar", stages: [stage({ channels: 16, blocks: 2 })], extra: b });\n'
    );
  },
};

interface CaseResult {
  seconds: number;
  peakMB: number;
}

type Command = "summary" | "render";

/** In the child: read, analyse and build the command's result in memory; print time and peak RSS. */
async function runCase(spec: string, command: Command): Promise<void> {
  const text = SPECS[spec]();
  // CPU time, not wall time: the bench machine is shared (2 cores), and the work is single-threaded.
  const started = process.cpuUsage();
  const loaded = loadSpecText(text, `${spec}.resnet.ts`);
  if (command === "summary" && loaded.graph) summarize(loaded.graph, loaded.file);
  if (command === "render" && loaded.graph) {
    const laid = await layoutView(loaded.graph, initialExpansion(loaded.graph, undefined));
    renderSvg(laid, { ...NO_OVERLAYS, shapes: true }, null, { standalone: true, memory: null });
  }
  const used = process.cpuUsage(started);
  const seconds = (used.user + used.system) / 1e6;
  const errors = loaded.diagnostics.filter((d) => d.severity === "error").length;
  const result: CaseResult & { errors: number } = {
    seconds,
    peakMB: process.resourceUsage().maxRSS / 1024,
    errors,
  };
  process.stdout.write(JSON.stringify(result) + "\n");
}

function emit(metric: string, value: number, unit: string, bar: number, note: string): void {
  const line = { bench: "specScale", metric, value: Math.round(value * 100) / 100, unit, backend: "none", bar, note };
  process.stdout.write(JSON.stringify({ ...line, pass: value <= bar }) + "\n");
}

async function main(): Promise<void> {
  const caseArg = process.argv.indexOf("--case");
  if (caseArg >= 0) {
    await runCase(process.argv[caseArg + 1], process.argv[caseArg + 2] as Command);
    return;
  }
  for (const spec of Object.keys(SPECS)) {
    for (const command of ["summary", "render"] as const) {
      const child = spawnSync(process.execPath, ["--import", "tsx", __filename, "--case", spec, command], {
        encoding: "utf8",
        timeout: 120_000,
      });
      const line = child.stdout.trim().split("\n").at(-1) ?? "";
      if (child.status !== 0 || !line.startsWith("{")) {
        process.stderr.write(`${spec} ${command} failed (${child.status ?? child.signal}):\n${child.stderr}\n`);
        process.exitCode = 1;
        continue;
      }
      const result = JSON.parse(line) as CaseResult & { errors: number };
      const tenThousand = spec === "tenThousandBlocks";
      const note = `${command}, no output${result.errors ? `, ${result.errors} located error(s)` : ""}`;
      emit(
        `${spec}${command === "summary" ? "Summary" : "Render"}CpuSeconds`,
        result.seconds,
        "s",
        tenThousand ? 5 : 10,
        note,
      );
      emit(`${spec}${command === "summary" ? "Summary" : "Render"}PeakMB`, result.peakMB, "MB", 1024, note);
    }
  }
}

void main();

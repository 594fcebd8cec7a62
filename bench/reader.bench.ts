/**
 * The spec reader's cost on hostile and very large specs, one JSON object per line (CPU milliseconds of parse +
 * analysis, median of 3). The budget (model-core/src/parser/budget.ts) bounds the work; these bars check the bound stays
 * cheap. In VS Code it runs on the spec worker, so this is the wait for diagnostics, not a freeze of the host.
 * Run: node --import tsx bench/reader.bench.ts
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { analyzeSpecText } from "../extension/src/pure/specDocument";
import { hoverMarkdown } from "../extension/src/pure/specInfo";

/** Every hostile fixture stops at the budget within this much CPU time. */
const HOSTILE_BAR_MS = 1000;
/** The largest allowed network (10,000 blocks, 70k nodes): analysis plus one hover. */
const LARGEST_BAR_MS = 3000;

function emit(metric: string, value: number, extra: Record<string, unknown> = {}): void {
  const line: Record<string, unknown> = {
    bench: "reader",
    metric,
    value: Math.round(value * 10) / 10,
    unit: "ms",
    backend: "none",
    ...extra,
  };
  if (typeof extra.bar === "number") line.pass = value <= extra.bar;
  process.stdout.write(JSON.stringify(line) + "\n");
}

function cpuMillis(work: () => void): number {
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const start = process.cpuUsage();
    work();
    const used = process.cpuUsage(start);
    runs.push((used.user + used.system) / 1000);
  }
  return runs.sort((a, b) => a - b)[1];
}

const dir = join(__dirname, "../test/fixtures/hostile");
for (const name of readdirSync(dir)
  .filter((f) => f.endsWith(".resnet.ts"))
  .sort()) {
  const text = readFileSync(join(dir, name), "utf8");
  emit(
    name.replace(".resnet.ts", ""),
    cpuMillis(() => analyzeSpecText(text, name)),
    { bar: HOSTILE_BAR_MS, chars: text.length },
  );
}
const largest =
  'import { resnet, stage } from "resnet-studio";\nexport default resnet({ input: [3, 8, 8], stem: "cifar", stages: [stage({ channels: 16, blocks: 10000 })] });\n';
emit(
  "tenThousandBlocksAnalysisAndHover",
  cpuMillis(() => {
    const { graph } = analyzeSpecText(largest, "largest.resnet.ts");
    hoverMarkdown(graph!, largest.indexOf("stage("));
  }),
  { bar: LARGEST_BAR_MS },
);

// The training-cost estimator against measured step times. Calibrates the backend (runtime/calibrate.ts, as the
// extension does once per machine), then measures real training steps (median of BENCH_ESTIMATE_STEPS after a warm-up,
// batch 64, the default replica count) of networks of very different cost, each adapted to MNIST as "Train Small
// Model" adapts them, and prints the estimate's relative error. BENCH_ESTIMATE_ROUNDS repeats calibration + measurement
// (the machine's speed drifts; see BENCHMARKS.md). JSON lines {bench, metric, value, unit, backend, note}.
import { initBackend, parseBackendChoice } from "../model-core/src/runtime/backend";
import { calibrateThroughput, measureStepSeconds } from "../model-core/src/runtime/calibrate";
import { loadSpec } from "../model-core/src/load";
import { adaptToDataset } from "../model-core/src/analysis/adapt";
import { stepSeconds } from "../model-core/src/analysis/estimate";
import { datasetTarget } from "../model-core/src/data/resolve";
import { SMOKE, repeats } from "./smoke";

const NETWORKS = [
  "examples/small.resnet.ts",
  "examples/cifar-resnet20.resnet.ts",
  "examples/resnet18.resnet.ts",
  "examples/preact-resnet110.resnet.ts",
];
const BATCH = 64;
const rounds = repeats(Number(process.env.BENCH_ESTIMATE_ROUNDS ?? 2));
const steps = SMOKE ? 1 : Number(process.env.BENCH_ESTIMATE_STEPS ?? 3);

function emit(line: Record<string, unknown>): void {
  console.log(JSON.stringify(line));
}

async function main(): Promise<void> {
  const backend = await initBackend(parseBackendChoice(process.env.RESNET_STUDIO_BACKEND ?? "auto"));
  const target = datasetTarget("mnist", 0.1)!;
  for (let round = 1; round <= rounds; round++) {
    const calibration = await calibrateThroughput({ batchSize: BATCH });
    const t = calibration.throughput;
    emit({
      bench: `estimate-calibration-r${round}`,
      metric: "calibrationSeconds",
      value: Number(calibration.seconds.toFixed(2)),
      unit: "s",
      backend: backend.name,
      note: `${t.workers} workers; ${(t.macsPerSecond / 1e9).toFixed(2)} GMAC/s, overhead ${(t.stepOverheadSeconds * 1000).toFixed(0)} ms/step, ${(t.secondsPerParam * 1e9).toFixed(1)} ns/param`,
    });
    for (const file of SMOKE ? NETWORKS.slice(0, 1) : NETWORKS) {
      const loaded = loadSpec(file);
      const adapted = loaded.graph ? adaptToDataset(loaded.graph.spec, target) : null;
      if (!adapted) throw new Error(`${file}: does not analyse`);
      const measured = await measureStepSeconds(adapted.spec, BATCH, undefined, steps);
      const estimated = stepSeconds(
        { macsPerImage: adapted.graph.totals.macs, params: adapted.graph.totals.params },
        BATCH,
        t,
      );
      const error = (estimated - measured.seconds) / measured.seconds;
      emit({
        bench: `estimate-${adapted.spec.name}-r${round}`,
        metric: "stepSecondsError",
        value: Number((error * 100).toFixed(1)),
        unit: "%",
        backend: backend.name,
        note: `${(adapted.graph.totals.macs / 1e6).toFixed(1)} M MACs, ${(adapted.graph.totals.params / 1e6).toFixed(2)} M params: measured ${measured.seconds.toFixed(3)} s/step, estimated ${estimated.toFixed(3)} s/step`,
      });
    }
  }
  process.exit(0);
}

void main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});

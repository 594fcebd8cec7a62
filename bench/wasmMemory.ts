/**
 * The wasm heap high-water mark of one pass against the memory planner's figures, for the factors in
 * model-core/src/runtime/memoryGuard.ts (BENCHMARKS.md, "Memory planner").
 * Usage: npx tsx bench/wasmMemory.ts NET C,H,W BATCH [gradflow|train]   → one JSON line.
 * The heap only grows, so its length after the pass is the pass's high-water mark (one pass per process).
 */
import * as tf from "@tensorflow/tfjs-core";
import { loadSpec } from "../model-core/src/load";
import { trainingMemory } from "../model-core/src/analysis/memory";
import { initBackend } from "../model-core/src/runtime/backend";
import { buildModel } from "../model-core/src/runtime/model";
import { gradientFlow } from "../model-core/src/runtime/gradflow";
import { TrainStepper } from "../model-core/src/runtime/stepper";
import { Optimizer } from "../model-core/src/runtime/optim";
import { tfjsPassEstimate } from "../model-core/src/runtime/memoryGuard";

async function main(): Promise<void> {
  const [net, input, batchText, kindText] = process.argv.slice(2);
  if (!net || !input || !batchText) throw new Error("usage: wasmMemory.ts NET C,H,W BATCH [gradflow|train]");
  const kind = kindText === "train" ? "train" : "gradflow";
  const batch = Number(batchText);
  const loaded = loadSpec(net, { input: input.split(",").map(Number) as [number, number, number] });
  if (!loaded.graph) throw new Error(`cannot analyse ${net}`);
  const graph = loaded.graph;
  await initBackend("wasm");
  const heap = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;
  const model = buildModel(graph, { seed: 1 });
  const [c, h, w] = graph.input as [number, number, number];
  const x = tf.randomNormal<tf.Rank.R4>([batch, h, w, c]);
  const labels = Array.from({ length: batch }, (_, i) => i % graph.output[0]);
  if (kind === "train") {
    const optimizer = new Optimizer(model.params, { kind: "sgd", momentum: 0.9, weightDecay: 0, decayed: new Set() });
    const stepper = new TrainStepper(model, optimizer);
    const y = tf.tensor1d(labels, "int32");
    for (let i = 0; i < 2; i++) await stepper.step(x, y, 0.01);
  } else {
    await gradientFlow(model, { x, labels }, { mode: "train" });
  }
  const planned = trainingMemory(graph, { batch, optimizer: kind === "train" ? "sgd" : "none" });
  console.log(
    JSON.stringify({
      net,
      input,
      batch,
      kind,
      heapBytes: heap(),
      estimateBytes: Math.round(tfjsPassEstimate(graph, kind)(batch)),
      plannerPeakBytes: planned.trainPeakBytes,
      savedActivationBytes: planned.savedActivationBytes,
      parameterBytes: planned.parameterBytes,
    }),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

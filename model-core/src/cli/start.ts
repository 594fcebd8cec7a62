/**
 * `resnet-studio start` (what `npm start` runs): the quick tour on the bundled small example.
 * Step 1 loads and summarizes the spec; later steps (training) append to runStart.
 */
import { existsSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import type { Command } from "commander";
import * as tf from "@tensorflow/tfjs-core";
import { runSummary, writeStdout } from "./summary";
import { runTrain } from "./train";
import { BatchAdapter, splitDataset } from "../data/dataset";
import { DEFAULT_TRAIN_CONFIG } from "../runtime/trainTypes";
import { gradientFlow, gradientFlowTable } from "../runtime/gradflow";

export const DEFAULT_START_SPEC = "examples/small.resnet.ts";

export interface StartOptions {
  /** A .resnet.ts file or preset; defaults to examples/small.resnet.ts. */
  spec?: string;
  input?: string;
  json?: boolean;
  /** false (--no-train): stop after the summary. */
  train?: boolean;
  /** Training epochs (default: train's MNIST default). */
  epochs?: string;
  backend?: string;
  /** Data-parallel training threads: "auto" (default) or a number. */
  workers?: string;
}

/** Where examples/small.resnet.ts is: under the working directory, or next to the installed package. */
export function findDefaultStartSpec(): string | null {
  const roots = [process.cwd()];
  // The bundled CLI lives in model-core/dist; the repository root is two levels up.
  if (typeof __dirname === "string") roots.push(resolve(__dirname, "..", ".."), resolve(__dirname, "..", "..", ".."));
  for (let dir of roots) {
    for (let up = 0; up < 4; up++) {
      const candidate = join(dir, DEFAULT_START_SPEC);
      if (existsSync(candidate)) {
        // Relative to the working directory when inside it, so diagnostics and titles stay short.
        const short = relative(process.cwd(), candidate);
        return short.startsWith("..") || isAbsolute(short) ? candidate : short;
      }
      dir = dirname(dir);
    }
  }
  return null;
}

export async function runStart(options: StartOptions): Promise<void> {
  const spec = options.spec ?? findDefaultStartSpec();
  if (spec === null)
    throw new Error(
      `cannot find ${DEFAULT_START_SPEC}; run from the repository root or pass a spec: resnet-studio start <file.resnet.ts>`,
    );
  const loaded = await runSummary(spec, { input: options.input, json: options.json });
  if (!loaded) return;
  if (options.train === false || options.json) return;
  await trainAndShowGradientFlow(spec, options);
}

/**
 * Step 2 (training): train the network on the embedded MNIST digits with `train`'s defaults, print the validation
 * accuracy, then one forward/backward pass on validation images and the per-stage gradient-flow table.
 */
async function trainAndShowGradientFlow(spec: string, options: StartOptions): Promise<void> {
  await writeStdout(`\nTraining on the embedded MNIST digits (Ctrl-C stops between steps)...\n`);
  const run = await runTrain(spec, {
    dataset: "mnist",
    input: options.input,
    epochs: options.epochs,
    backend: options.backend,
    workers: options.workers,
  });
  if (!run) return;
  try {
    if (run.result.reason === "diverged") return;
    const { graph, model, data } = run;
    const adapter = new BatchAdapter(data.train, graph.spec.input);
    const { val } = splitDataset(data.train, DEFAULT_TRAIN_CONFIG.valFraction);
    const n = Math.min(32, val.length);
    // Evenly spaced over the (class-sorted) validation indices, so the batch mixes all digits as BN expects.
    const picked = Uint32Array.from({ length: n }, (_, i) => val[Math.floor((i * val.length) / n)]);
    const pixels = new Float32Array(n * adapter.sampleSize);
    const labels = new Int32Array(n);
    adapter.fill(picked, 0, n, pixels);
    adapter.labels(picked, 0, n, labels);
    const [c, h, w] = graph.spec.input;
    const x = tf.tensor4d(pixels, [n, h, w, c]);
    try {
      const flow = await gradientFlow(model, { x, labels: Array.from(labels) });
      await writeStdout(
        `\nGradient flow after training (one batch of ${n} validation digits, BN in train mode):\n${gradientFlowTable(flow, graph)}\n`,
      );
    } finally {
      x.dispose();
    }
  } finally {
    run.model.dispose();
  }
}

export function registerStart(program: Command): void {
  program
    .command("start")
    .description(
      "quick tour: summarize examples/small.resnet.ts (or the given spec), train it on MNIST, show gradient flow",
    )
    .argument("[spec]", "a .resnet.ts file or preset name")
    .option("--input <C,H,W>", "override the input shape")
    .option("--json", "print the summary as JSON (no training)")
    .option("--no-train", "only print the summary")
    .option("--epochs <n>", "training epochs on MNIST")
    .option("--backend <name>", "auto | wasm | cpu | tensorflow")
    .option("--workers <n>", "training threads: auto (one per core on wasm) or N; 1 = single-threaded")
    .action(async (spec: string | undefined, options: Omit<StartOptions, "spec">) => {
      await runStart({ ...options, spec });
    });
}

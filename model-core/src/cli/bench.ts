/**
 * `resnet-studio bench`: training and forward throughput (images/s, after warm-up) of a preset, CIFAR ResNet-20 at
 * batch 64 by default, on random data. Training runs the stepper `train` uses, with the same worker count rule
 * (data-parallel replicas on wasm when ≥ 2 cores; --workers overrides): forward, cross-entropy, backward, averaged
 * gradients, SGD update. Forward runs eval mode on this thread.
 */
import { printable, printableJson } from "../diagnostics";
import * as tf from "@tensorflow/tfjs-core";
import type { Command } from "commander";
import { loadSpec } from "../load";
import { reportDiagnostics, writeStdout } from "./summary";
import { initBackend, parseBackendChoice } from "../runtime/backend";
import { backendChoicesText } from "../runtime/backendNames";
import { buildModel } from "../runtime/model";
import { LocalBatchStepper, type BatchStepper } from "../runtime/stepper";
import { DataParallelStepper, resolveWorkerCount } from "../runtime/parallel";
import { decayedParameterNames, Optimizer } from "../runtime/optim";
import { SeededRng } from "../data/rng";
import { isTorchBackend, parseThreads, parseWorkers, UsageError } from "./train";
import { benchOnTorch, parseDevice, resolvePython, torchThreads } from "../runtime/torchBackend";
import type { ModelGraph } from "../analysis/graph";

export interface BenchCliOptions {
  model?: string;
  batch?: string;
  backend?: string;
  seconds?: string;
  workers?: string;
  python?: string;
  device?: string;
  /** --backend torch: torch threads (default one per core) and alternating rounds (default from --seconds). */
  threads?: string;
  rounds?: string;
  precision?: string;
  json?: boolean;
}

export interface BenchResult {
  model: string;
  batch: number;
  backend: string;
  backendDetail: string;
  /** Data-parallel replicas (threads) of the training measurement: what `train` uses with the same options. */
  workers: number;
  trainImagesPerSecond: number;
  forwardImagesPerSecond: number;
  trainStepMs: number;
  forwardMs: number;
  trainSteps: number;
  forwardPasses: number;
  params: number;
  /** --backend torch only: the hand-written PyTorch loop measured in the same run, and our ratio to it. */
  torchReference?: {
    referenceImagesPerSecond: number;
    ratio: number;
    bar: number;
    /** CUDA only (issue 23): the reference written with PyTorch's performance guide, and our ratio to it. */
    tuned?: { imagesPerSecond: number; ratio: number; bar: number };
  };
}

/** Runs `fn` once or more until `seconds` have passed (at least `minRuns` times); returns runs and mean ms per run. */
async function timeRuns(
  fn: () => Promise<void>,
  seconds: number,
  minRuns: number,
): Promise<{ runs: number; meanMs: number }> {
  const start = performance.now();
  let runs = 0;
  while (runs < minRuns || performance.now() - start < seconds * 1000) {
    await fn();
    runs++;
  }
  return { runs, meanMs: (performance.now() - start) / runs };
}

export async function runBench(options: BenchCliOptions): Promise<BenchResult | null> {
  const modelArg = options.model ?? "resnet20";
  const batch = options.batch === undefined ? 64 : Number(options.batch);
  if (!Number.isInteger(batch) || batch < 2)
    throw new UsageError(`--batch must be an integer ≥ 2, got "${options.batch}"`);
  const seconds = options.seconds === undefined ? 10 : Number(options.seconds);
  if (!(seconds > 0)) throw new UsageError(`--seconds must be a positive number, got "${options.seconds}"`);
  const onTorch = isTorchBackend(options.backend);
  const backendChoice = onTorch ? "cpu" : parseBackendChoice(options.backend ?? "auto", "--backend");
  const requestedWorkers = options.workers === undefined ? undefined : parseWorkers(options.workers);
  const loaded = loadSpec(modelArg);
  const failed = reportDiagnostics(
    { ...loaded, diagnostics: loaded.diagnostics.filter((d) => d.severity === "error") },
    modelArg,
  );
  if (failed || !loaded.graph) {
    process.exitCode = 1;
    return null;
  }
  const graph = loaded.graph;
  if (onTorch) return runTorchBench(graph, modelArg, batch, seconds, options);
  const backend = await initBackend(backendChoice);
  const model = buildModel(graph, { seed: 1 });
  const [channels, height, width] = graph.spec.input;
  const rng = new SeededRng(1);
  const pixels = new Float32Array(batch * channels * height * width).map(() => rng.normal());
  const labelValues = Int32Array.from({ length: batch }, () => rng.int(graph.spec.classes));
  const x = tf.tensor4d(pixels, [batch, height, width, channels]);
  const optimizer = new Optimizer(model.params, {
    kind: "sgd",
    momentum: 0.9,
    weightDecay: 1e-4,
    decayed: decayedParameterNames(graph),
  });
  const workers = resolveWorkerCount(requestedWorkers, backend.name, batch);
  let stepper: BatchStepper | null = null;
  try {
    stepper =
      workers > 1
        ? await DataParallelStepper.create(model, optimizer, { workers, backend: backend.name, seed: 1 })
        : new LocalBatchStepper(model, optimizer);
    const active = stepper;
    const trainStep = async () => {
      await active.step(pixels, labelValues, batch, 1e-3);
    };
    const forward = async () => {
      const logits = tf.tidy(() => model.apply(x, "eval"));
      await logits.data();
      logits.dispose();
    };
    // Warm-up: first calls compile wasm paths and allocate buffers.
    await trainStep();
    await trainStep();
    await forward();
    await forward();
    const trained = await timeRuns(trainStep, seconds / 2, 3);
    const forwarded = await timeRuns(forward, seconds / 2, 3);
    const result: BenchResult = {
      model: graph.spec.name,
      batch,
      backend: backend.name,
      backendDetail: backend.detail,
      workers: active.workers,
      trainImagesPerSecond: Math.round(((batch * 1000) / trained.meanMs) * 10) / 10,
      forwardImagesPerSecond: Math.round(((batch * 1000) / forwarded.meanMs) * 10) / 10,
      trainStepMs: Math.round(trained.meanMs * 10) / 10,
      forwardMs: Math.round(forwarded.meanMs * 10) / 10,
      trainSteps: trained.runs,
      forwardPasses: forwarded.runs,
      params: graph.totals.params,
    };
    if (options.json) await writeStdout(printableJson(result) + "\n");
    else {
      await writeStdout(
        `${printable(result.model)}, batch ${batch}, ${result.backend} (${result.backendDetail})\n` +
          `  training: ${result.trainImagesPerSecond} images/s (${result.trainStepMs} ms/step over ${result.trainSteps} steps, ${result.workers} worker${result.workers === 1 ? "" : "s"})\n` +
          `  forward:  ${result.forwardImagesPerSecond} images/s (${result.forwardMs} ms/pass over ${result.forwardPasses} passes)\n`,
      );
    }
    return result;
  } finally {
    await stepper?.dispose();
    optimizer.dispose();
    x.dispose();
    model.dispose();
  }
}

/** The bar of issue 7: the torch backend with its event stream reaches ≥ 0.95× the hand-written PyTorch loop. */
export const TORCH_RATIO_BAR = 0.95;
/** The bar of issue 23 on CUDA: the fast path at least matches the loop written with PyTorch's performance guide. */
export const TORCH_TUNED_RATIO_BAR = 1.0;

/**
 * `bench --backend torch`: the exported module trained through the runner (events on every step) against
 * bench/pytorch_reference.py's hand-written ResNet-20 loop, in one Python process, alternating rounds. Exits 1 below
 * the bar.
 */
async function runTorchBench(
  graph: ModelGraph,
  modelArg: string,
  batch: number,
  seconds: number,
  options: BenchCliOptions,
): Promise<BenchResult | null> {
  const spec = graph.spec;
  const isResNet20 =
    spec.stem === "cifar" &&
    spec.block === "basic" &&
    spec.shortcut === "A" &&
    spec.classes === 10 &&
    spec.stages.length === 3 &&
    spec.stages.every((s, i) => s.blocks === 3 && s.channels === 16 << i) &&
    spec.input.join(",") === "3,32,32";
  if (!isResNet20)
    throw new UsageError(
      `bench --backend torch compares against bench/pytorch_reference.py's CIFAR ResNet-20; "${modelArg}" is another network (use --model resnet20)`,
    );
  const python = resolvePython(options.python);
  const precision = options.precision ?? "fp32";
  if (precision !== "fp32" && precision !== "bf16")
    throw new UsageError(`--precision must be fp32 or bf16, got "${options.precision}"`);
  // As `train --backend torch`: one thread per core unless --threads says otherwise.
  const threads = torchThreads(options.threads === undefined ? undefined : parseThreads(options.threads));
  const steps = 5;
  // About `seconds` in all at ~400 img/s on 2 free cores (both loops run each round).
  const rounds =
    options.rounds === undefined
      ? Math.max(4, Math.round((seconds * 400) / (2 * steps * batch)))
      : Number(options.rounds);
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new UsageError(`--rounds must be an integer ≥ 1, got "${options.rounds}"`);
  const torch = await benchOnTorch({
    graph,
    batch,
    steps,
    rounds,
    threads,
    python,
    device: parseDevice(options.device ?? "auto"),
    precision,
  });
  const tuned =
    torch.tunedImagesPerSecond === undefined
      ? undefined
      : {
          imagesPerSecond: Math.round(torch.tunedImagesPerSecond * 10) / 10,
          ratio: Math.round((torch.trainImagesPerSecond / torch.tunedImagesPerSecond) * 1000) / 1000,
          bar: TORCH_TUNED_RATIO_BAR,
        };
  const result: BenchResult = {
    model: spec.name,
    batch,
    backend: "torch",
    backendDetail: `torch ${torch.torch} (${torch.device}), ${torch.threads} threads, ${precision}`,
    workers: 1,
    trainImagesPerSecond: Math.round(torch.trainImagesPerSecond * 10) / 10,
    forwardImagesPerSecond: NaN,
    trainStepMs: Math.round(((batch * 1000) / torch.trainImagesPerSecond) * 10) / 10,
    forwardMs: NaN,
    trainSteps: torch.rounds * torch.steps,
    forwardPasses: 0,
    params: graph.totals.params,
    torchReference: {
      referenceImagesPerSecond: Math.round(torch.referenceImagesPerSecond * 10) / 10,
      ratio: Math.round(torch.ratio * 1000) / 1000,
      bar: TORCH_RATIO_BAR,
      ...(tuned ? { tuned } : {}),
    },
  };
  const passed = torch.ratio >= TORCH_RATIO_BAR && (!tuned || tuned.ratio >= tuned.bar);
  if (options.json) await writeStdout(printableJson(result) + "\n");
  else {
    await writeStdout(
      `${printable(result.model)}, batch ${batch}, torch backend (${result.backendDetail})\n` +
        `  training: ${result.trainImagesPerSecond} images/s through the runner (events every step), best of ${torch.rounds} alternating rounds of ${torch.steps} steps\n` +
        `  reference: ${result.torchReference!.referenceImagesPerSecond} images/s, bench/pytorch_reference.py's hand-written loop, same process\n` +
        (tuned
          ? `  tuned reference: ${tuned.imagesPerSecond} images/s, the same loop with channels_last and cudnn.benchmark, same process (ratio ${tuned.ratio}, bar ≥ ${tuned.bar})\n`
          : "") +
        `  ratio ${result.torchReference!.ratio} (bar ≥ ${TORCH_RATIO_BAR}): ${passed ? "pass" : "FAIL"}\n`,
    );
  }
  if (torch.ratio < TORCH_RATIO_BAR) {
    process.stderr.write(
      `resnet-studio: error: the torch backend reached ${result.torchReference!.ratio}× the hand-written PyTorch loop, below the bar of ${TORCH_RATIO_BAR}\n`,
    );
  }
  if (tuned && tuned.ratio < tuned.bar) {
    process.stderr.write(
      `resnet-studio: error: the torch backend reached ${tuned.ratio}× the hand-tuned PyTorch loop on CUDA, below the bar of ${tuned.bar}\n`,
    );
  }
  if (!passed) process.exitCode = 1;
  return result;
}

export function registerBench(program: Command): void {
  program
    .command("bench")
    .description("training and forward throughput of a preset (default CIFAR ResNet-20, batch 64) after warm-up")
    .option("--model <preset>", "preset name or .resnet.ts file", "resnet20")
    .option("--batch <n>", "batch size", "64")
    .option(
      "--backend <name>",
      `${backendChoicesText()} (torch: against bench/pytorch_reference.py; exits 1 below 0.95×)`,
      "auto",
    )
    .option("--python <path>", "with --backend torch: the Python with PyTorch")
    .option("--device <name>", "with --backend torch: cpu | cuda | auto (cuda also runs the hand-tuned reference)")
    .option("--threads <n>", "with --backend torch: torch threads for both loops (default: one per core)")
    .option("--rounds <n>", "with --backend torch: alternating rounds of 5 steps each (default: from --seconds)")
    .option("--precision <p>", "with --backend torch: fp32 | bf16 (autocast in every loop)", "fp32")
    .option("--seconds <s>", "measuring time, split between training and forward", "10")
    .option("--workers <n>", "training threads as `train` would use them: auto (one per core on wasm) or N")
    .option("--json", "print one JSON object")
    .action(async (options: BenchCliOptions) => {
      await runBench(options);
    });
}

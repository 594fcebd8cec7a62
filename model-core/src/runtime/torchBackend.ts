/**
 * The torch backend: `train`, `gradflow` and `bench` on the user's PyTorch. The spec is exported as a PyTorch module
 * (export/pytorch.ts) into a temp folder with the job, the data and the initial weights, and
 * model-core/python/resnet_studio_torch.py runs it in a child process that streams JSON lines (torchProtocol.ts).
 * Initial weights come from the tfjs runtime's seeded initialisation, and the data through the same normalisation
 * tables and split, so a seed means the same run on both backends; checkpoints are the shared safetensors format.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { analyzeOrThrow } from "../analysis/analyze";
import { fitThroughput, type StepSample } from "../analysis/estimate";
import type { ModelGraph } from "../analysis/graph";
import { normalizeSpec } from "../spec/builders";
import { CALIBRATION_PROBES, type Calibration } from "./calibrate";
import type { GradientFlowResult, TensorStats } from "../analysis/gradflow";
import { BatchAdapter, DatasetError, type ImageDataset } from "../data/dataset";
import { SeededRng } from "../data/rng";
import { exportPytorch } from "../export/pytorch";
import { currentBackend, initBackend } from "./backend";
import type { Backend, BackendDescription, BackendTrainOptions } from "./backends";
import {
  assertResumable,
  assertSameSpec,
  CHECKPOINT_FILE_NAME,
  encodeSafetensors,
  loadCheckpointInto,
  readCheckpoint,
  removeStaleTempFiles,
  resolveCheckpointPath,
  specHash,
  torchLayoutTensors,
  type StoredTensor,
} from "./checkpoint";
import { EvaluationAccumulator, type EvaluationResult } from "../analysis/evaluation";
import { outputClassNames, type EvaluationSet } from "./evaluate";
import { assertWeightsFit, expectedStateDict, readWeights, type LoadedWeights } from "./weightsFile";
import { assembleGradientFlow, laneEdges } from "./gradflow";
import { buildModel, isGraphModel } from "./model";
import { SHUFFLE_SEED_SALT, trainValIndices } from "./train";
import {
  type DatasetFiles,
  type EdgeTap,
  type JobGraph,
  type RawGradientFlow,
  type RawStats,
  type TorchDevice,
  type TorchHello,
  type TrainJob,
} from "./torchProtocol";
import { validateConfig, type TrainEvent, type TrainResult } from "./trainTypes";
import {
  TorchRunError,
  TorchUnavailableError,
  torchWorkerFor,
  type PythonChoice,
  type TorchWorker,
} from "./torchWorker";
import {
  DEFAULT_LR_RANGE,
  suggestLearningRate,
  smoothLosses,
  type LrPoint,
  type LrRangeOptions,
  type LrRangeResult,
} from "./lrFinder";

export { TorchRunError, TorchUnavailableError, type PythonChoice } from "./torchWorker";

/**
 * The Python to run: --python (CLI), then the Python extension's interpreter for the workspace (VS Code), then the
 * resnetStudio.python setting, then RESNET_STUDIO_PYTHON, then python3 on PATH.
 */
export function resolvePython(flag?: string, setting?: string, pythonExtension?: string): PythonChoice {
  if (flag && flag.trim()) return { command: flag.trim(), origin: "--python" };
  if (pythonExtension && pythonExtension.trim())
    return { command: pythonExtension.trim(), origin: "the Python extension's interpreter" };
  if (setting && setting.trim()) return { command: setting.trim(), origin: "the setting resnetStudio.python" };
  const env = process.env.RESNET_STUDIO_PYTHON;
  if (env && env.trim()) return { command: env.trim(), origin: "RESNET_STUDIO_PYTHON" };
  return { command: "python3", origin: "python3 on PATH" };
}

/**
 * The torch threads of a run: the flag or setting when given, else RESNET_STUDIO_TORCH_THREADS, else one per core
 * (PyTorch's own default is often 1 here). On a loaded machine fewer can be faster: at load 12 on 2 cores, 20 conv
 * passes took 0.6 s on 1 thread and 8.4 s on 2 (OpenMP threads spin waiting for each other).
 */
export function torchThreads(requested?: number): number {
  if (requested !== undefined && requested > 0) return Math.floor(requested);
  const env = Number(process.env.RESNET_STUDIO_TORCH_THREADS);
  return Number.isInteger(env) && env > 0 ? env : availableParallelism();
}

/** Pythons worth naming when the chosen one lacks torch. */
const KNOWN_PYTHONS = ["/usr/bin/python3", "/usr/local/bin/python3", "python3"];
const torchOf = new Map<string, Promise<string | null>>();

/** Runs `command args` detached, bounded to `timeoutMs` and 4 KB of output; its stdout, or null when it failed. */
function outputOf(command: string, args: string[], timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "ignore"], detached: true });
    let out = "";
    const done = (text: string | null) => {
      clearTimeout(timer);
      if (child.pid !== undefined)
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          /* gone */
        }
      resolve(text);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    child.stdout.on("data", (c: Buffer) => (out = (out + c.toString()).slice(-4096)));
    child.on("error", () => done(null));
    child.on("close", (code) => done(code === 0 ? out : null));
  });
}

/** torch.__version__ of `command`, or null; checked once per command, bounded to 20 s, never blocking the thread. */
function torchVersionOf(command: string): Promise<string | null> {
  let version = torchOf.get(command);
  if (!version) {
    version = outputOf(command, ["-c", "import torch; print(torch.__version__)"], 20_000).then((out) => {
      const last = out?.trim().split("\n").pop() ?? "";
      return /^\d+\.\d+/.test(last) ? last : null;
    });
    torchOf.set(command, version);
  }
  return version;
}

/** " /usr/bin/python3 has torch 1.13.0: …" when another known Python has torch, else "". */
export async function otherPythonHint(chosen: PythonChoice): Promise<string> {
  const candidates = [process.env.RESNET_STUDIO_PYTHON?.trim(), ...KNOWN_PYTHONS].filter(
    (c): c is string => Boolean(c) && c !== chosen.command,
  );
  for (const command of new Set(candidates)) {
    const version = await torchVersionOf(command);
    if (version)
      return ` Note: ${command} has torch ${version}; use it with --python ${command}, RESNET_STUDIO_PYTHON or the setting resnetStudio.python.`;
  }
  return "";
}

const descriptions = new Map<string, Promise<string>>();

/**
 * One line for the user: which Python the torch backend runs, chosen how, with which torch and CUDA (or why it can't,
 * and which other known Python has torch). Checked once per interpreter, bounded to 20 s, never started as a worker.
 */
export function describePython(python: PythonChoice): Promise<string> {
  let line = descriptions.get(python.command);
  if (!line) {
    line = new Promise<string>((resolve) => {
      const child = spawn(
        python.command,
        [
          "-c",
          "import json, sys, torch; print(json.dumps([sys.executable, sys.version.split()[0], torch.__version__, torch.cuda.is_available()]))",
        ],
        { stdio: ["ignore", "pipe", "pipe"], detached: true },
      );
      let out = "";
      let err = "";
      const done = (text: string) => {
        clearTimeout(timer);
        if (child.pid !== undefined)
          try {
            process.kill(-child.pid, "SIGKILL");
          } catch {
            /* gone */
          }
        resolve(text);
      };
      const who = `torch backend: \`${python.command}\` (${python.origin})`;
      const timer = setTimeout(() => done(`${who} did not answer within 20 s`), 20_000);
      child.stdout.on("data", (c: Buffer) => (out = (out + c.toString()).slice(-4096)));
      child.stderr.on("data", (c: Buffer) => (err = (err + c.toString()).slice(-4096)));
      let failedToStart = false;
      child.on("error", (e) => {
        failedToStart = true;
        void otherPythonHint(python).then((hint) => done(`${who} could not be started (${e.message}).${hint}`));
      });
      child.on("close", (code) => {
        if (failedToStart) return;
        try {
          const [executable, version, torch, cuda] = JSON.parse(out.trim()) as [string, string, string, boolean];
          done(
            `${who}: Python ${version} at ${executable}, torch ${torch}, CUDA ${cuda ? "available" : "not available"}`,
          );
        } catch {
          const last = err.trim().split("\n").pop() ?? "";
          void otherPythonHint(python).then((hint) =>
            done(`${who} cannot import torch (exit code ${code}${last ? `: ${last}` : ""}).${hint}`),
          );
        }
      });
    });
    descriptions.set(python.command, line);
  }
  return line;
}

/** The shared warm worker of `python`. */
export function torchWorker(python: PythonChoice): TorchWorker {
  return torchWorkerFor(python, runnerScript());
}

/**
 * Starts (or reuses) the worker of `python` and says which Python and torch answered. A Python without torch gets
 * TorchUnavailableError saying what to install, and which other known Python has torch.
 */
export async function probeTorch(python: PythonChoice): Promise<TorchHello> {
  try {
    return await torchWorker(python).start();
  } catch (err) {
    if (err instanceof TorchUnavailableError)
      throw new TorchUnavailableError(err.message + (await otherPythonHint(python)));
    throw err;
  }
}

/** "torch 1.13.0 (cpu, 2 threads), /usr/bin/python3 3.11.2": the start line's backend. */
export function describeTorch(hello: TorchHello, device: string, threads: number): string {
  return `torch ${hello.torch} (${device}, ${threads} thread${threads === 1 ? "" : "s"}), Python ${hello.python} at ${hello.executable}`;
}

/** A device the worker can use; cuda where torch sees none is refused in one line. */
async function readyWorker(
  python: PythonChoice,
  device: TorchDevice,
): Promise<{ worker: TorchWorker; hello: TorchHello }> {
  const hello = await probeTorch(python);
  if (device === "cuda" && !hello.cuda)
    throw new TorchUnavailableError(
      `--device cuda: torch ${hello.torch} at ${hello.executable} sees no CUDA device (torch.cuda.is_available() is False); use --device cpu or auto`,
    );
  return { worker: torchWorker(python), hello };
}

export function parseDevice(value: string, origin = "--device"): TorchDevice {
  const v = value.trim().toLowerCase();
  if (v === "cpu" || v === "cuda" || v === "auto") return v;
  throw new Error(`${origin}: unknown device "${value}" (expected cpu, cuda or auto)`);
}

/** The runner script: next to the bundle (dist/, copied by scripts/build.mjs) or in model-core/python/ from source. */
export function runnerScript(): string {
  const name = "resnet_studio_torch.py";
  const candidates = [
    join(__dirname, name),
    join(__dirname, "..", "python", name),
    join(__dirname, "..", "..", "python", name),
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found)
    throw new TorchRunError(
      `the torch runner ${name} is missing (looked in ${candidates.join(", ")}); rebuild with node scripts/build.mjs`,
    );
  return found;
}

// ---------------------------------------------------------------------------------------------------------------
// Job parts

function jobGraph(graph: ModelGraph): JobGraph {
  return {
    nodes: graph.nodes.map((n) => ({ id: n.id, op: n.op, inputs: n.inputs })),
  };
}

/** The edges runtime/gradflow.ts taps: every Add's residual argument, and the shortcut/branch lanes at each fork. */
export function edgeTaps(graph: ModelGraph): EdgeTap[] {
  const lanes = laneEdges(graph);
  const taps: EdgeTap[] = [];
  for (const node of graph.nodes) {
    node.inputs.forEach((_, index) => {
      if (node.op.kind === "add" && index === 1) taps.push({ node: node.id, index, key: `${node.id}#residual` });
      else {
        const lane = lanes.byEdge.get(`${node.id}#${index}`);
        if (lane) taps.push({ node: node.id, index, key: lane });
      }
    });
  }
  return taps;
}

const statsOf = ([l2, meanAbs, maxAbs]: RawStats): TensorStats => ({ l2, meanAbs, maxAbs });

/** Parameter name → owning node and role, as GraphModel names them ("gamma"/"beta" for BN weight/bias). */
function paramOwners(graph: ModelGraph): Map<string, { nodeId: string; role: string }> {
  const owners = new Map<string, { nodeId: string; role: string }>();
  for (const node of graph.nodes) {
    if (node.op.kind === "conv" || node.op.kind === "fc") {
      owners.set(`${node.id}.weight`, { nodeId: node.id, role: "weight" });
      owners.set(`${node.id}.bias`, { nodeId: node.id, role: "bias" });
    } else if (node.op.kind === "batchnorm") {
      owners.set(`${node.id}.weight`, { nodeId: node.id, role: "gamma" });
      owners.set(`${node.id}.bias`, { nodeId: node.id, role: "beta" });
    }
  }
  return owners;
}

/** The runner's raw pass as the GradientFlowResult the wasm runtime reports. */
export function assembleTorchGradientFlow(
  graph: ModelGraph,
  raw: RawGradientFlow,
  backend: string,
): GradientFlowResult {
  const owners = paramOwners(graph);
  const paramsByNode = new Map<string, Record<string, TensorStats>>();
  for (const [name, stats] of Object.entries(raw.params)) {
    const owner = owners.get(name);
    if (!owner)
      throw new TorchRunError(`torch backend: parameter "${name}" of the exported module is not in the graph`);
    const record = paramsByNode.get(owner.nodeId) ?? {};
    record[owner.role] = statsOf(stats);
    paramsByNode.set(owner.nodeId, record);
  }
  return assembleGradientFlow(graph, {
    loss: raw.loss,
    batch: raw.batch,
    backend,
    millis: raw.millis,
    activation: new Map(Object.entries(raw.nodes).map(([k, v]) => [k, statsOf(v)])),
    edges: new Map(Object.entries(raw.edges).map(([k, v]) => [k, statsOf(v)])),
    paramsByNode,
  });
}

/** A job folder of the worker with model.py; removed by the caller (or when the worker stops). */
function workdirFor(worker: TorchWorker, graph: ModelGraph): { dir: string; moduleFile: string } {
  const dir = worker.jobFolder();
  const moduleFile = join(dir, "model.py");
  writeFileSync(moduleFile, exportPytorch(graph));
  return { dir, moduleFile };
}

/** The tfjs runtime's seeded initial weights, as a safetensors file the runner loads strictly. */
async function writeInitialWeights(graph: ModelGraph, seed: number, file: string): Promise<void> {
  if (!currentBackend()) await initBackend("cpu");
  const model = buildModel(graph, { seed });
  try {
    if (!isGraphModel(model)) throw new TorchRunError("initial weights need a model made by buildModel");
    const tensors = await torchLayoutTensors(model.params, model.buffers, [], 0);
    writeFileSync(
      file,
      Buffer.concat(encodeSafetensors(tensors, { format: "resnet-studio-weights", model: graph.spec.name })),
    );
  } finally {
    model.dispose();
  }
}

/**
 * Weights checked against the network (readWeights/assertWeightsFit), written as exactly its state_dict for the
 * runner's strict load: num_batches_tracked filled in where another writer dropped it, optimiser slots left out.
 */
function writeCheckedWeights(weights: LoadedWeights, graph: ModelGraph, file: string): void {
  assertWeightsFit(weights, graph);
  const tensors = [...expectedStateDict(graph)].map(
    ([name, shape]): StoredTensor =>
      weights.tensors.get(name) ?? { name, dtype: "I64", shape, values: Float64Array.of(0) },
  );
  writeFileSync(file, Buffer.concat(encodeSafetensors(tensors, {})));
}

/** The one way an ImageDataset reaches Python: its pixels and labels as files, with the normalisation tables. */
export function writeDataset(dataset: ImageDataset, adapter: BatchAdapter, dir: string, tag: string): DatasetFiles {
  const images = join(dir, `${tag}-images.u8`);
  const labels = join(dir, `${tag}-labels.u8`);
  writeFileSync(images, dataset.images.subarray(0, dataset.count * dataset.height * dataset.width * dataset.channels));
  writeFileSync(labels, dataset.labels.subarray(0, dataset.count));
  return {
    images,
    labels,
    count: dataset.count,
    height: dataset.height,
    width: dataset.width,
    channels: dataset.channels,
    luts: adapter.lookupTables().map((lut) => Array.from(lut)),
  };
}

function writeIndices(indices: Uint32Array, file: string): string {
  writeFileSync(file, new Uint8Array(indices.buffer, indices.byteOffset, indices.byteLength));
  return file;
}

// ---------------------------------------------------------------------------------------------------------------
// Train

/** A training run on PyTorch: the Backend's options (no tfjs model to fill) with the Python settings. */
export type TorchTrainOptions = Omit<BackendTrainOptions, "model"> & TorchSettings;

/** train() on PyTorch: same config, data order, events, checkpoints and stop reasons. */
export async function trainOnTorch(options: TorchTrainOptions): Promise<TrainResult> {
  const { graph, data, config } = options;
  validateConfig(config);
  const { worker, hello } = await readyWorker(options.python, options.device);
  const threads = torchThreads(options.threads);
  const spec = graph.spec;
  const { trainIndices, valIndices } = trainValIndices(data, config.valFraction, spec);
  if (Math.min(config.batchSize, trainIndices.length) < 2)
    throw new DatasetError(`dataset ${data.train.name} has ${trainIndices.length} training images: too few to train`);
  let resume: TrainJob["resume"];
  if (options.resumeFrom) {
    const checkpoint = readCheckpoint(options.resumeFrom);
    assertResumable(checkpoint, spec, config);
    const h = checkpoint.header;
    resume = {
      path: checkpoint.path,
      epoch: h.epoch,
      globalStep: h.globalStep,
      rngState: h.rngState,
      history: h.history,
      optimizerStep: h.optimizer.step,
    };
  }
  const checkpointFile = options.checkpoint ? resolveCheckpointPath(options.checkpoint) : undefined;
  if (checkpointFile) removeStaleTempFiles(checkpointFile);

  const { dir, moduleFile } = workdirFor(worker, graph);
  const started = performance.now();
  try {
    const init = join(dir, "init.safetensors");
    if (options.initialWeights) writeCheckedWeights(readWeights(options.initialWeights), graph, init);
    else await writeInitialWeights(graph, config.seed, init);
    const trainAdapter = new BatchAdapter(data.train, spec.input);
    const job: TrainJob = {
      kind: "train",
      moduleFile,
      device: options.device,
      threads,
      init,
      graph: jobGraph(graph),
      taps: edgeTaps(graph),
      input: spec.input,
      classes: spec.classes,
      config,
      rngState: new SeededRng((config.seed ^ SHUFFLE_SEED_SALT) >>> 0).getState(),
      data: {
        name: data.train.name,
        train: writeDataset(data.train, trainAdapter, dir, "train"),
        val: data.val ? writeDataset(data.val, new BatchAdapter(data.val, spec.input), dir, "val") : null,
        trainIndices: writeIndices(trainIndices, join(dir, "train-indices.u32")),
        trainCount: trainIndices.length,
        valIndices: writeIndices(valIndices, join(dir, "val-indices.u32")),
        valCount: valIndices.length,
      },
      checkpoint: checkpointFile,
      resume,
      snapshot: options.snapshot ? { count: options.snapshot.count } : undefined,
      meta: { model: spec.name, spec: JSON.stringify(spec), specHash: specHash(spec) },
    };
    let device = "";
    let usedThreads = threads;
    const emit = (event: TrainEvent) => options.onEvent?.(event);
    const done = await worker.run(job, {
      signal: options.signal,
      onPush: (message) => {
        switch (message.type) {
          case "ready":
            device = message.device;
            usedThreads = message.threads ?? threads;
            break;
          case "start":
            emit({
              type: "start",
              model: message.model,
              backend: describeTorch(hello, device, usedThreads),
              dataset: message.dataset,
              trainSamples: message.trainSamples,
              valSamples: message.valSamples,
              config,
              startEpoch: message.startEpoch,
              params: message.params,
              workers: 1,
            });
            break;
          case "step": {
            const { type: _, ...metrics } = message;
            emit({ type: "step", ...metrics });
            break;
          }
          case "epoch": {
            const { type: _, gradients, ...metrics } = message;
            if (gradients && options.snapshot)
              options.snapshot.onGradients(metrics.epoch, assembleTorchGradientFlow(graph, gradients, "torch"));
            emit({ type: "epoch", ...metrics });
            break;
          }
          case "checkpoint":
            emit({ type: "checkpoint", path: message.path, epoch: message.epoch });
            break;
          default:
            break;
        }
      },
    });
    const result: TrainResult = {
      reason: done.reason,
      message: done.message,
      epochsCompleted: done.epochsCompleted,
      globalStep: done.globalStep,
      history: done.history,
      final: done.history.length > 0 ? done.history[done.history.length - 1] : null,
      backend: "torch",
      workers: 1,
      seconds: (performance.now() - started) / 1000,
    };
    emit({ type: "done", ...result });
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Gradient flow

export interface TorchGradflowOptions {
  graph: ModelGraph;
  /** NHWC float32 input and its shape [N, H, W, C]. */
  x: Float32Array;
  shape: [number, number, number, number];
  labels: number[];
  mode: "train" | "eval";
  /** Weights: a checkpoint to load, or the seeded initialisation. */
  weights: { checkpoint: string } | { seed: number };
  python: PythonChoice;
  device: TorchDevice;
  threads?: number;
}

/** Model keys each worker process has built (a restarted worker has none): those requests skip writing the model. */
const builtModels = new WeakMap<TorchWorker, { starts: number; keys: Set<string> }>();

function builtOn(worker: TorchWorker): Set<string> {
  let entry = builtModels.get(worker);
  if (!entry || entry.starts !== worker.starts) {
    entry = { starts: worker.starts, keys: new Set() };
    builtModels.set(worker, entry);
  }
  return entry.keys;
}

/** gradientFlow() on PyTorch: the same GradientFlowResult, node by node. The warm worker keeps the built network. */
export async function gradientFlowOnTorch(options: TorchGradflowOptions): Promise<GradientFlowResult> {
  const { worker, hello } = await readyWorker(options.python, options.device);
  const threads = torchThreads(options.threads);
  const { graph } = options;
  let weightsKey: string;
  let checkpointPath: string | null = null;
  if ("checkpoint" in options.weights) {
    const checkpoint = readCheckpoint(options.weights.checkpoint);
    assertSameSpec(checkpoint, graph.spec);
    checkpointPath = checkpoint.path;
    const stat = statSync(checkpoint.path);
    weightsKey = `file:${checkpoint.path}:${stat.size}:${stat.mtimeMs}`;
  } else weightsKey = `seed:${options.weights.seed}`;
  const modelKey = `${specHash(graph.spec)}|${weightsKey}`;
  const dir = worker.jobFolder();
  try {
    const xFile = join(dir, "x.f32");
    writeFileSync(xFile, new Uint8Array(options.x.buffer, options.x.byteOffset, options.x.byteLength));
    let device = "";
    const request = async (withModel: boolean) => {
      let moduleFile: string | undefined;
      let init: string | undefined;
      if (withModel) {
        moduleFile = join(dir, "model.py");
        writeFileSync(moduleFile, exportPytorch(graph));
        if (checkpointPath) init = checkpointPath;
        else {
          init = join(dir, "init.safetensors");
          await writeInitialWeights(graph, (options.weights as { seed: number }).seed, init);
        }
      }
      return worker.run(
        {
          kind: "gradflow",
          modelKey,
          moduleFile: moduleFile ?? "",
          device: options.device,
          threads,
          init,
          graph: jobGraph(graph),
          taps: edgeTaps(graph),
          input: graph.spec.input,
          classes: graph.spec.classes,
          x: { file: xFile, shape: options.shape },
          labels: options.labels,
          mode: options.mode,
        },
        {
          onPush: (message) => {
            if (message.type === "ready") device = message.device;
          },
        },
      );
    };
    const known = builtOn(worker);
    let raw: RawGradientFlow;
    try {
      raw = await request(!known.has(modelKey));
    } catch (err) {
      // The worker dropped it from its cache (or restarted): send the model this time.
      if (!(err instanceof TorchRunError && /unknown model/.test(err.message))) throw err;
      raw = await request(true);
    }
    builtOn(worker).add(modelKey);
    return assembleTorchGradientFlow(graph, raw, describeTorch(hello, device, threads).split(", Python")[0]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Bench

export interface TorchBenchResult {
  device: string;
  torch: string;
  threads: number;
  trainImagesPerSecond: number;
  referenceImagesPerSecond: number;
  /** ours / reference (issue 7 asks ≥ 0.95: the event stream may cost at most 5 %). */
  ratio: number;
  /** CUDA only: the hand-tuned reference (channels_last, cudnn.benchmark), measured in the same rounds. */
  tunedImagesPerSecond?: number;
  rounds: number;
  steps: number;
}

/** The reference loop of bench/pytorch_reference.py, found from the source tree or the bundle. */
export function referenceScript(): string | null {
  const candidates = [
    join(__dirname, "..", "..", "..", "bench", "pytorch_reference.py"),
    join(__dirname, "..", "..", "bench", "pytorch_reference.py"),
  ];
  return candidates.find((p) => existsSync(p)) ?? null;
}

export async function benchOnTorch(options: {
  graph: ModelGraph;
  batch: number;
  steps: number;
  rounds: number;
  threads: number;
  python: PythonChoice;
  device: TorchDevice;
  precision?: "fp32" | "bf16";
  onStep?: () => void;
}): Promise<TorchBenchResult> {
  const { worker } = await readyWorker(options.python, options.device);
  const reference = referenceScript();
  if (!reference)
    throw new TorchRunError(
      "bench --backend torch needs bench/pytorch_reference.py (run it from a clone of the repository)",
    );
  const { graph } = options;
  const { dir, moduleFile } = workdirFor(worker, graph);
  try {
    const init = join(dir, "init.safetensors");
    await writeInitialWeights(graph, 1, init);
    const message = await worker.run(
      {
        kind: "bench",
        moduleFile,
        device: options.device,
        threads: options.threads,
        init,
        graph: jobGraph(graph),
        taps: [],
        input: graph.spec.input,
        classes: graph.spec.classes,
        reference,
        referenceModel: "CifarResNet",
        precision: options.precision ?? "fp32",
        batch: options.batch,
        steps: options.steps,
        rounds: options.rounds,
      },
      { onPush: (m) => (m.type === "step" ? options.onStep?.() : undefined) },
    );
    const { type: _, ...rest } = message;
    return { ...rest, ratio: rest.trainImagesPerSecond / rest.referenceImagesPerSecond };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Calibration

/** The calibration probes as graphs (runtime/calibrate.ts), the same networks the tfjs calibration times. */
export function calibrationProbeGraphs(): ModelGraph[] {
  return CALIBRATION_PROBES.map((probe) => {
    const { spec } = normalizeSpec(probe);
    if (!spec) throw new Error(`${probe.name ?? "probe"}: not a valid spec`);
    return analyzeOrThrow(spec);
  });
}

/** The runner's step times of the probes, fitted as the tfjs calibration is; the throughput is named "torch <version> (<device>)". */
export function torchCalibrationFrom(
  probes: readonly ModelGraph[],
  measured: { device: string; torch: string; seconds: readonly number[] },
  batchSize: number,
  seconds: number,
): Calibration {
  if (measured.seconds.length !== probes.length)
    throw new TorchRunError(
      `the torch runner timed ${measured.seconds.length} calibration probes, expected ${probes.length}`,
    );
  const samples: StepSample[] = probes.map((graph, i) => ({
    macsPerImage: graph.totals.macs,
    params: graph.totals.params,
    batchSize,
    seconds: measured.seconds[i],
  }));
  return {
    throughput: fitThroughput(samples, { backend: `torch ${measured.torch} (${measured.device})`, workers: 1 }),
    samples,
    seconds,
  };
}

/** calibrateThroughput() for PyTorch: the same probes, timed in the worker on the chosen device. */
export async function calibrateOnTorch(options: {
  python: PythonChoice;
  device: TorchDevice;
  batchSize: number;
  threads?: number;
  timedSteps?: number;
  signal?: AbortSignal;
}): Promise<Calibration & { device: string }> {
  const { worker } = await readyWorker(options.python, options.device);
  const started = performance.now();
  const probes = calibrationProbeGraphs();
  const dir = worker.jobFolder();
  try {
    const modules = probes.map((graph, i) => {
      const moduleFile = join(dir, `probe${i}.py`);
      writeFileSync(moduleFile, exportPytorch(graph));
      return { moduleFile, input: graph.spec.input, classes: graph.spec.classes };
    });
    const result = await worker.run(
      {
        kind: "calibrate",
        device: options.device,
        threads: torchThreads(options.threads),
        batch: options.batchSize,
        warmupSteps: 2,
        timedSteps: options.timedSteps ?? 5,
        probes: modules,
      },
      { signal: options.signal },
    );
    return {
      ...torchCalibrationFrom(probes, result, options.batchSize, (performance.now() - started) / 1000),
      device: result.device,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Learning-rate range test

/** lrRangeTest() on PyTorch: the runner steps, this side smooths, stops on divergence and suggests, as on tfjs. */
export async function lrRangeOnTorch(options: {
  graph: ModelGraph;
  dataset: ImageDataset;
  options: Partial<LrRangeOptions>;
  python: PythonChoice;
  device: TorchDevice;
  threads?: number;
  signal?: AbortSignal;
  onPoint?: (point: LrPoint, index: number) => void;
}): Promise<LrRangeResult> {
  const o = { ...DEFAULT_LR_RANGE, ...options.options };
  if (!(o.minLr > 0 && o.maxLr > o.minLr && o.steps >= 3))
    throw new Error(
      `LR range test: need 0 < minLr < maxLr and at least 3 steps (got ${o.minLr}, ${o.maxLr}, ${o.steps})`,
    );
  const { worker } = await readyWorker(options.python, options.device);
  const { graph } = options;
  const { dir, moduleFile } = workdirFor(worker, graph);
  // Divergence is judged here, as lrFinder.ts does; it cancels the runner's loop.
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted) stop.abort();
  const points: LrPoint[] = [];
  const losses: number[] = [];
  let lowest = Infinity;
  let diverged = false;
  try {
    const init = join(dir, "init.safetensors");
    await writeInitialWeights(graph, o.seed, init);
    await worker.run(
      {
        kind: "lrRange",
        model: graph.spec.name,
        moduleFile,
        device: options.device,
        threads: torchThreads(options.threads),
        init,
        graph: jobGraph(graph),
        taps: [],
        input: graph.spec.input,
        classes: graph.spec.classes,
        data: writeDataset(options.dataset, new BatchAdapter(options.dataset, graph.spec.input), dir, "data"),
        options: {
          minLr: o.minLr,
          maxLr: o.maxLr,
          steps: o.steps,
          batchSize: o.batchSize,
          optimizer: o.optimizer,
          momentum: o.momentum,
          weightDecay: o.weightDecay,
          seed: o.seed,
        },
      },
      {
        signal: stop.signal,
        onPush: (message) => {
          if (message.type !== "lrPoint" || diverged || message.index !== points.length) return;
          const loss = message.loss ?? NaN;
          losses.push(Number.isFinite(loss) ? loss : Infinity);
          const smoothed = smoothLosses(losses, o.smoothing)[points.length];
          const point = { lr: message.lr, loss, smoothed };
          points.push(point);
          options.onPoint?.(point, points.length - 1);
          lowest = Math.min(lowest, smoothed);
          if (!Number.isFinite(smoothed) || smoothed > o.divergence * lowest) {
            diverged = true;
            stop.abort();
          }
        },
      },
    );
    return { model: graph.spec.name, points, suggested: suggestLearningRate(points), diverged };
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Evaluate

/**
 * Logits of the evaluation set on PyTorch (BN on running statistics), accumulated into the same EvaluationResult as
 * on tfjs. Weights are checked here (readWeights/assertWeightsFit) and handed over as the checked tensors only, with
 * num_batches_tracked filled in where another writer dropped it, so the runner's strict load sees a full state_dict.
 */
export async function evaluateOnTorch(options: {
  graph: ModelGraph;
  set: EvaluationSet;
  /** Null: the seeded initialisation (seed 1). */
  weights: LoadedWeights | null;
  python: PythonChoice;
  device: TorchDevice;
  threads?: number;
  signal?: AbortSignal;
}): Promise<EvaluationResult> {
  const { graph, set } = options;
  const { worker, hello } = await readyWorker(options.python, options.device);
  const { dir, moduleFile } = workdirFor(worker, graph);
  const threads = torchThreads(options.threads);
  // The worker removes its temp root when its last job ends, so the logits go to a folder of this call's own.
  const out = mkdtempSync(join(tmpdir(), "resnet-studio-eval-"));
  try {
    const init = join(dir, "weights.safetensors");
    if (options.weights) writeCheckedWeights(options.weights, graph, init);
    else await writeInitialWeights(graph, 1, init);
    const logitsFile = join(out, "logits.f32");
    let device = options.device as string;
    const result = await worker.run(
      {
        kind: "evaluate",
        moduleFile,
        device: options.device,
        threads,
        init,
        graph: jobGraph(graph),
        taps: [],
        input: graph.spec.input,
        classes: graph.spec.classes,
        data: writeDataset(set.dataset, new BatchAdapter(set.dataset, graph.spec.input), dir, "eval"),
        indices: writeIndices(set.indices, join(dir, "eval-indices.u32")),
        count: set.indices.length,
        logits: logitsFile,
      },
      {
        signal: options.signal,
        onPush: (message) => {
          if (message.type === "ready") device = message.device;
        },
      },
    );
    const classes = graph.spec.classes;
    if (result.rows !== set.indices.length || result.classes !== classes)
      throw new TorchRunError(
        `torch backend: evaluation returned ${result.rows}×${result.classes} logits for ${set.indices.length} images of ${classes} classes`,
      );
    const bytes = readFileSync(logitsFile);
    if (bytes.length !== result.rows * classes * 4)
      throw new TorchRunError(
        `torch backend: ${logitsFile} holds ${bytes.length} bytes, expected ${result.rows * classes * 4}`,
      );
    const logits = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    const accumulator = new EvaluationAccumulator(outputClassNames(graph, set.dataset));
    accumulator.add(
      logits,
      result.rows,
      Int32Array.from(set.indices, (i) => set.dataset.labels[i]),
      set.indices,
    );
    return accumulator.result({
      model: graph.name,
      dataset: set.dataset.name,
      backend: `torch (${describeTorch(hello, device, threads).split(", Python")[0]})`,
      weights: options.weights?.path ?? null,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The Backend (backends.ts) on PyTorch

/** Which Python, on which device, with how many torch threads (default: one per core). */
export interface TorchSettings {
  python: PythonChoice;
  device: TorchDevice;
  threads?: number;
}

/** The Backend on the warm worker of `settings.python`; tfjs (on cpu) only draws the seeded weights. */
export function torchBackend(settings: TorchSettings): Backend {
  const ready = async (): Promise<BackendDescription & { hello: TorchHello }> => {
    if (!currentBackend()) await initBackend("cpu");
    const { hello } = await readyWorker(settings.python, settings.device);
    const device = settings.device === "auto" ? (hello.cuda ? "cuda" : "cpu") : settings.device;
    return { name: "torch", detail: describeTorch(hello, device, torchThreads(settings.threads)), hello };
  };
  return {
    ready: async () => {
      const { name, detail } = await ready();
      return { name, detail };
    },
    // PyTorch reports its own out-of-memory errors.
    fitBatch: (request) => Promise.resolve({ batch: request.requested ?? request.preferred, note: null }),
    memoryLimitBytes: () => Promise.resolve(null),
    train: async (options) => {
      await ready();
      // Without a checkpoint of the caller's, a run that must hand back its weights checkpoints to a scratch folder.
      const scratch = options.model && !options.checkpoint ? mkdtempSync(join(tmpdir(), "resnet-studio-run-")) : null;
      const removeScratch = () => {
        if (scratch) rmSync(scratch, { recursive: true, force: true });
      };
      process.on("exit", removeScratch);
      try {
        const target = options.checkpoint ?? (scratch ? join(scratch, CHECKPOINT_FILE_NAME) : undefined);
        const result = await trainOnTorch({
          graph: options.graph,
          data: options.data,
          config: options.config,
          ...settings,
          signal: options.signal,
          snapshot: options.snapshot,
          checkpoint: target,
          resumeFrom: options.resumeFrom,
          initialWeights: options.initialWeights,
          onEvent: (event) => (scratch && event.type === "checkpoint" ? undefined : options.onEvent?.(event)),
        });
        if (options.model && target && existsSync(resolveCheckpointPath(target)))
          loadCheckpointInto(options.model, target);
        return result;
      } finally {
        process.removeListener("exit", removeScratch);
        removeScratch();
      }
    },
    gradientFlow: async (options) =>
      gradientFlowOnTorch({
        graph: options.graph,
        ...options.batch,
        mode: options.mode ?? "train",
        weights: options.weights,
        ...settings,
      }),
    calibrate: async (options) =>
      calibrateOnTorch({
        ...settings,
        batchSize: options.batchSize,
        timedSteps: options.timedSteps,
        signal: options.signal,
      }),
    lrRange: async (options) => lrRangeOnTorch({ ...options, ...settings }),
  };
}

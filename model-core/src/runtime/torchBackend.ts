/**
 * The torch backend: `train`, `gradflow` and `bench` on the user's PyTorch. The spec is exported as a PyTorch module
 * (export/pytorch.ts) into a temp folder with the job, the data and the initial weights, and
 * model-core/python/resnet_studio_torch.py runs it in a child process that streams JSON lines (torchProtocol.ts).
 * Initial weights come from the tfjs runtime's seeded initialisation, and the data through the same normalisation
 * tables and split, so a seed means the same run on both backends; checkpoints are the shared safetensors format.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
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
import {
  assertResumable,
  assertSameSpec,
  encodeSafetensors,
  readCheckpoint,
  removeStaleTempFiles,
  resolveCheckpointPath,
  specHash,
  torchLayoutTensors,
} from "./checkpoint";
import { assembleGradientFlow, laneEdges } from "./gradflow";
import { buildModel, isGraphModel } from "./model";
import type { TrainData } from "./train";
import { SHUFFLE_SEED_SALT, trainValIndices } from "./train";
import {
  parseRunnerLine,
  TORCH_PROTOCOL_VERSION,
  type DatasetFiles,
  type EdgeTap,
  type JobGraph,
  type RawGradientFlow,
  type RawStats,
  type RunnerMessage,
  type TorchDevice,
  type TorchJob,
  type TrainJob,
} from "./torchProtocol";
import { validateConfig, type TrainConfig, type TrainEvent, type TrainResult } from "./trainTypes";

/** Python or PyTorch is missing or unusable: the message says what to install or set. Never shown with a stack. */
export class TorchUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TorchUnavailableError";
  }
}

/** The runner reported an error, or broke the protocol. */
export class TorchRunError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TorchRunError";
  }
}

export interface PythonChoice {
  command: string;
  /** Where the choice came from, quoted in messages. */
  origin: string;
}

const INSTALL_HINT =
  "The torch backend needs Python 3 with PyTorch (torch ≥ 1.13): install it (`pip install torch`, or on Debian/Ubuntu `apt install python3-torch`), " +
  "then point ResNet Studio at that Python with the setting resnetStudio.python, --python, or RESNET_STUDIO_PYTHON; or use --backend wasm";

/** The Python to run: --python (CLI), then the resnetStudio.python setting, then RESNET_STUDIO_PYTHON, then python3 on PATH. */
export function resolvePython(flag?: string, setting?: string): PythonChoice {
  if (flag && flag.trim()) return { command: flag.trim(), origin: "--python" };
  if (setting && setting.trim()) return { command: setting.trim(), origin: "the setting resnetStudio.python" };
  const env = process.env.RESNET_STUDIO_PYTHON;
  if (env && env.trim()) return { command: env.trim(), origin: "RESNET_STUDIO_PYTHON" };
  return { command: "python3", origin: "python3 on PATH" };
}

export interface TorchInfo {
  torch: string;
  cuda: boolean;
  python: string;
}

const probed = new Map<string, TorchInfo>();
const PROBE =
  "import json, sys\nimport torch\nprint(json.dumps({'torch': torch.__version__, 'cuda': bool(torch.cuda.is_available()), 'python': sys.version.split()[0]}))";

/** Checks that the Python starts and imports torch (cached per command); throws TorchUnavailableError saying what to do. */
export function probeTorch(python: PythonChoice): TorchInfo {
  const cached = probed.get(python.command);
  if (cached) return cached;
  const r = spawnSync(python.command, ["-c", PROBE], { encoding: "utf8", timeout: 120_000 });
  const who = `\`${python.command}\` (${python.origin})`;
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    throw new TorchUnavailableError(
      code === "ENOENT"
        ? `Python not found: ${who} does not exist. ${INSTALL_HINT}`
        : `${who} could not be started (${code ?? r.error.message}). ${INSTALL_HINT}`,
    );
  }
  if (r.status !== 0) {
    const noTorch = /No module named ['"]?torch/.test(r.stderr);
    const lastLine = r.stderr.trim().split("\n").pop() ?? "";
    throw new TorchUnavailableError(
      noTorch
        ? `${who} has no PyTorch (import torch failed). ${INSTALL_HINT}`
        : `${who} could not import torch (${lastLine}). ${INSTALL_HINT}`,
    );
  }
  try {
    const info = JSON.parse(r.stdout.trim().split("\n").pop() ?? "") as TorchInfo;
    probed.set(python.command, info);
    return info;
  } catch {
    throw new TorchUnavailableError(
      `${who} printed something unexpected when asked for its torch version. ${INSTALL_HINT}`,
    );
  }
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
// The child process

export interface RunOptions {
  python: PythonChoice;
  signal?: AbortSignal;
  onMessage: (message: RunnerMessage) => void;
}

/** Runs one job to its end. Resolves when the child exits cleanly; rejects with its error message otherwise. */
export function runTorchJob(job: TorchJob, workdir: string, options: RunOptions): Promise<void> {
  const jobFile = join(workdir, "job.json");
  writeFileSync(jobFile, JSON.stringify(job));
  const child = spawn(options.python.command, [runnerScript(), jobFile], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1" },
  });
  let stderrTail = "";
  let failure: Error | null = null;
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-4000);
  });
  child.stdin.on("error", () => undefined); // the child may exit before reading "cancel"
  const cancel = () => child.stdin.write("cancel\n");
  if (options.signal?.aborted) cancel();
  options.signal?.addEventListener("abort", cancel, { once: true });
  const lines = createInterface({ input: child.stdout });
  lines.on("line", (line) => {
    if (failure || line.trim() === "") return;
    try {
      const message = parseRunnerLine(line);
      if (message.type === "error") {
        failure = new TorchRunError(`torch backend: ${message.message}`);
        return;
      }
      if (message.type === "ready" && message.protocol !== TORCH_PROTOCOL_VERSION) {
        throw new TorchRunError(
          `the torch runner speaks protocol ${message.protocol}, this ResNet Studio ${TORCH_PROTOCOL_VERSION}; rebuild`,
        );
      }
      options.onMessage(message);
    } catch (err) {
      failure =
        err instanceof Error ? new TorchRunError(`torch backend: ${err.message}`) : new TorchRunError(String(err));
      child.kill("SIGTERM");
    }
  });
  return new Promise<void>((resolve, reject) => {
    child.on("error", (err: NodeJS.ErrnoException) => {
      failure = new TorchUnavailableError(
        `\`${options.python.command}\` (${options.python.origin}) could not be started (${err.code ?? err.message}). ${INSTALL_HINT}`,
      );
    });
    child.on("close", (code, signal) => {
      options.signal?.removeEventListener("abort", cancel);
      if (failure) reject(failure);
      else if (code !== 0) {
        const last = stderrTail.trim().split("\n").slice(-3).join(" | ");
        reject(
          new TorchRunError(`the torch runner stopped (${signal ?? `exit code ${code}`})${last ? `: ${last}` : ""}`),
        );
      } else resolve();
    });
  });
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

/** A temp folder with model.py; removed by the caller. */
function workdirFor(graph: ModelGraph): { dir: string; moduleFile: string } {
  const dir = mkdtempSync(join(tmpdir(), "resnet-studio-torch-"));
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

function writeDataset(dataset: ImageDataset, adapter: BatchAdapter, dir: string, tag: string): DatasetFiles {
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

export interface TorchTrainOptions {
  graph: ModelGraph;
  data: TrainData;
  config: TrainConfig;
  python: PythonChoice;
  device: TorchDevice;
  signal?: AbortSignal;
  onEvent?: (event: TrainEvent) => void;
  /** A gradient-flow snapshot on the first `count` training images after every epoch, delivered before its epoch event. */
  snapshot?: { count: number; onGradients: (epoch: number, result: GradientFlowResult) => void };
  checkpoint?: string;
  resumeFrom?: string;
}

/** train() on PyTorch: same config, data order, events, checkpoints and stop reasons. */
export async function trainOnTorch(options: TorchTrainOptions): Promise<TrainResult> {
  const { graph, data, config } = options;
  validateConfig(config);
  const info = probeTorch(options.python);
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

  const { dir, moduleFile } = workdirFor(graph);
  const started = performance.now();
  try {
    const init = join(dir, "init.safetensors");
    await writeInitialWeights(graph, config.seed, init);
    const trainAdapter = new BatchAdapter(data.train, spec.input);
    const job: TrainJob = {
      kind: "train",
      moduleFile,
      device: options.device,
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
    let result: TrainResult | null = null;
    let device = "";
    const emit = (event: TrainEvent) => options.onEvent?.(event);
    await runTorchJob(job, dir, {
      python: options.python,
      signal: options.signal,
      onMessage: (message) => {
        switch (message.type) {
          case "ready":
            device = message.device;
            break;
          case "start":
            emit({
              type: "start",
              model: message.model,
              backend: `torch ${info.torch} (${device})`,
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
          case "done":
            result = {
              reason: message.reason,
              message: message.message,
              epochsCompleted: message.epochsCompleted,
              globalStep: message.globalStep,
              history: message.history,
              final: message.history.length > 0 ? message.history[message.history.length - 1] : null,
              backend: "torch",
              workers: 1,
              seconds: (performance.now() - started) / 1000,
            };
            emit({ type: "done", ...result });
            break;
          default:
            throw new TorchRunError(`unexpected "${message.type}" message during training`);
        }
      },
    });
    if (!result) throw new TorchRunError("the torch runner ended without reporting the run's result");
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
}

/** gradientFlow() on PyTorch: the same GradientFlowResult, node by node. */
export async function gradientFlowOnTorch(options: TorchGradflowOptions): Promise<GradientFlowResult> {
  const info = probeTorch(options.python);
  const { graph } = options;
  let init: string;
  const { dir, moduleFile } = workdirFor(graph);
  try {
    if ("checkpoint" in options.weights) {
      const checkpoint = readCheckpoint(options.weights.checkpoint);
      assertSameSpec(checkpoint, graph.spec);
      init = checkpoint.path;
    } else {
      init = join(dir, "init.safetensors");
      await writeInitialWeights(graph, options.weights.seed, init);
    }
    const xFile = join(dir, "x.f32");
    writeFileSync(xFile, new Uint8Array(options.x.buffer, options.x.byteOffset, options.x.byteLength));
    let raw: RawGradientFlow | null = null;
    let device = "";
    await runTorchJob(
      {
        kind: "gradflow",
        moduleFile,
        device: options.device,
        init,
        graph: jobGraph(graph),
        taps: edgeTaps(graph),
        input: graph.spec.input,
        classes: graph.spec.classes,
        x: { file: xFile, shape: options.shape },
        labels: options.labels,
        mode: options.mode,
      },
      dir,
      {
        python: options.python,
        onMessage: (message) => {
          if (message.type === "ready") device = message.device;
          else if (message.type === "gradflow") raw = message;
        },
      },
    );
    if (!raw) throw new TorchRunError("the torch runner ended without a gradient-flow result");
    return assembleTorchGradientFlow(graph, raw, `torch ${info.torch} (${device})`);
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
  probeTorch(options.python);
  const reference = referenceScript();
  if (!reference)
    throw new TorchRunError(
      "bench --backend torch needs bench/pytorch_reference.py (run it from a clone of the repository)",
    );
  const { graph } = options;
  const { dir, moduleFile } = workdirFor(graph);
  try {
    const init = join(dir, "init.safetensors");
    await writeInitialWeights(graph, 1, init);
    let result: TorchBenchResult | null = null;
    await runTorchJob(
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
      dir,
      {
        python: options.python,
        onMessage: (message) => {
          if (message.type === "step") options.onStep?.();
          else if (message.type === "bench") {
            const { type: _, ...rest } = message;
            result = { ...rest, ratio: rest.trainImagesPerSecond / rest.referenceImagesPerSecond };
          }
        },
      },
    );
    if (!result) throw new TorchRunError("the torch runner ended without a benchmark result");
    return result;
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

/** calibrateThroughput() for PyTorch: the same probes, timed in one child process on the chosen device. */
export async function calibrateOnTorch(options: {
  python: PythonChoice;
  device: TorchDevice;
  batchSize: number;
  timedSteps?: number;
  signal?: AbortSignal;
}): Promise<Calibration & { device: string }> {
  probeTorch(options.python);
  const started = performance.now();
  const probes = calibrationProbeGraphs();
  const dir = mkdtempSync(join(tmpdir(), "resnet-studio-torch-"));
  try {
    const modules = probes.map((graph, i) => {
      const moduleFile = join(dir, `probe${i}.py`);
      writeFileSync(moduleFile, exportPytorch(graph));
      return { moduleFile, input: graph.spec.input, classes: graph.spec.classes };
    });
    const measured: { result: { device: string; torch: string; seconds: number[] } | null } = { result: null };
    await runTorchJob(
      {
        kind: "calibrate",
        device: options.device,
        batch: options.batchSize,
        warmupSteps: 2,
        timedSteps: options.timedSteps ?? 5,
        probes: modules,
      },
      dir,
      {
        python: options.python,
        signal: options.signal,
        onMessage: (message) => {
          if (message.type === "calibration") measured.result = message;
        },
      },
    );
    const result = measured.result;
    if (!result) throw new TorchRunError("the torch runner ended without calibration times");
    return {
      ...torchCalibrationFrom(probes, result, options.batchSize, (performance.now() - started) / 1000),
      device: result.device,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

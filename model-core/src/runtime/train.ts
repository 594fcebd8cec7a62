/**
 * The training loop: seeded shuffling, mini-batches adapted to the spec's input, softmax cross-entropy, SGD/Adam with
 * weight decay and an LR schedule, validation after every epoch, checkpoints, resume, cancellation between steps, and
 * a stop on a non-finite loss. Tensor count is flat across steps: every step disposes all it creates. Each batch is
 * split between data-parallel replica threads (parallel.ts) when config.workers (or the automatic choice) says so.
 */
import * as tf from "@tensorflow/tfjs-core";
// Gradients of the core ops are registered by this side-effect module (tfjs-core alone ships none).
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import { BatchAdapter, DatasetError, splitDataset, type ImageDataset } from "../data/dataset";
import { SeededRng, shuffledIndices } from "../data/rng";
import {
  assertNoExtraTensors,
  assertResumable,
  readCheckpoint,
  removeStaleTempFiles,
  restoreVariables,
  saveCheckpoint,
  type Checkpoint,
} from "./checkpoint";
import { decayedParameterNames, Optimizer } from "./optim";
import { loadWeightsInto, readWeights } from "./weightsFile";
import { DataParallelStepper, resolveWorkerCount } from "./parallel";
import { backendLimitBytes, checkPassMemory, passMemoryMessage } from "./memoryGuard";
import { LocalBatchStepper, type BatchStepper, type TrainableModel } from "./stepper";
import {
  TrainConfigError,
  validateConfig,
  type EpochMetrics,
  type LrSchedule,
  type StepMetrics,
  type StopReason,
  type TrainConfig,
  type TrainEvent,
  type TrainResult,
} from "./trainTypes";

export { validateConfig, TrainConfigError } from "./trainTypes";

export {
  TrainStepper,
  LocalBatchStepper,
  type BatchStepper,
  type BatchGradients,
  type TrainableModel,
} from "./stepper";

export interface TrainData {
  train: ImageDataset;
  /** A separate validation set; null = hold out `config.valFraction` of `train`. */
  val: ImageDataset | null;
}

export interface TrainOptions {
  model: TrainableModel;
  data: TrainData;
  config: TrainConfig;
  /** Cancels between steps; train() then resolves with reason "aborted". */
  signal?: AbortSignal;
  onStep?: (metrics: StepMetrics) => void;
  onEpoch?: (metrics: EpochMetrics) => void;
  /** Every event, in order (start, steps, epochs, checkpoints, done). */
  onEvent?: (event: TrainEvent) => void;
  /** Save a checkpoint here (a folder, or a .safetensors file) after every epoch. */
  checkpoint?: string;
  /** Resume from this checkpoint (folder or file): weights, BN statistics, optimiser state, epoch counter, RNG state. */
  resumeFrom?: string;
  /**
   * Start from these weights (a weights-only state_dict, runtime/weightsFile.ts) at epoch 0 with a fresh optimiser:
   * `--resume` of a file that has no optimiser state to resume.
   */
  initialWeights?: string;
}

/** Batch size of validation passes (no gradients, so larger than training). */
const VAL_BATCH = 256;
/** Offset between the weight-init seed and the shuffling seed, so the two streams differ. */
export const SHUFFLE_SEED_SALT = 0x5f3759df;

export function learningRateAt(config: TrainConfig, globalStep: number, stepsPerEpoch: number): number {
  const schedule: LrSchedule = config.schedule;
  const epoch = Math.floor(globalStep / stepsPerEpoch);
  switch (schedule.kind) {
    case "constant":
      return config.lr;
    case "step":
      return config.lr * Math.pow(schedule.gamma, schedule.milestones.filter((m) => m <= epoch).length);
    case "cosine": {
      const total = Math.max(1, config.epochs * stepsPerEpoch);
      const warmup = Math.round((schedule.warmupEpochs ?? 0) * stepsPerEpoch);
      const minLr = schedule.minLr ?? 0;
      if (globalStep < warmup) return (config.lr * (globalStep + 1)) / warmup;
      const progress = Math.min(1, (globalStep - warmup) / Math.max(1, total - warmup));
      return minLr + (config.lr - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
    }
  }
}

/**
 * The training and validation image indices: every image of each set when a separate validation set is given,
 * else a fixed split of the training set. Throws when a set has more classes than the model has outputs.
 */
export function trainValIndices(
  data: TrainData,
  valFraction: number,
  spec: { name: string; classes: number },
): { trainIndices: Uint32Array; valIndices: Uint32Array } {
  const { train: trainIndices, val: valIndices } = data.val
    ? {
        train: Uint32Array.from({ length: data.train.count }, (_, i) => i),
        val: Uint32Array.from({ length: data.val.count }, (_, i) => i),
      }
    : splitDataset(data.train, valFraction);
  for (const set of data.val ? [data.train, data.val] : [data.train]) {
    if (set.classes > spec.classes)
      throw new DatasetError(
        `dataset ${set.name} has ${set.classes} classes but the model "${spec.name}" has ${spec.classes} outputs`,
      );
  }
  return { trainIndices, valIndices };
}

const nextTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function train(options: TrainOptions): Promise<TrainResult> {
  const { model, data, config, signal } = options;
  validateConfig(config);
  // Temp files of a writer that was killed mid-write (issue 12); the finished checkpoint is never touched.
  if (options.checkpoint) removeStaleTempFiles(options.checkpoint);
  const started = performance.now();
  const spec = model.graph.spec;
  const emit = (event: TrainEvent) => options.onEvent?.(event);

  const { trainIndices, valIndices } = trainValIndices(data, config.valFraction, spec);
  const trainAdapter = new BatchAdapter(data.train, spec.input);
  const valAdapter = data.val ? new BatchAdapter(data.val, spec.input) : trainAdapter;
  const batchSize = Math.min(config.batchSize, trainIndices.length);
  if (batchSize < 2)
    throw new DatasetError(`dataset ${data.train.name} has ${trainIndices.length} training images: too few to train`);
  const epochSamples =
    config.samplesPerEpoch === undefined
      ? trainIndices.length
      : Math.min(trainIndices.length, Math.max(batchSize, config.samplesPerEpoch));
  const stepsPerEpoch = Math.floor(epochSamples / batchSize);
  // Estimate before allocating the optimiser and replicas: a step past the backend's memory would abort wasm.
  const plannedWorkers = resolveWorkerCount(config.workers, tf.getBackend(), batchSize);
  const memory = checkPassMemory({
    graph: model.graph,
    batch: Math.ceil(batchSize / plannedWorkers),
    kind: "train",
    optimizer: config.optimizer,
    limitBytes: backendLimitBytes(tf.getBackend()),
  });
  if (!memory.fits)
    throw new TrainConfigError(passMemoryMessage(model.graph, memory, "a training step", { replicas: plannedWorkers }));

  if (options.initialWeights) loadWeightsInto(model, readWeights(options.initialWeights));
  const optimizer = new Optimizer(model.params, {
    kind: config.optimizer,
    momentum: config.momentum,
    weightDecay: config.weightDecay,
    decayed: decayedParameterNames(model.graph),
  });

  let rng = new SeededRng((config.seed ^ SHUFFLE_SEED_SALT) >>> 0);
  let startEpoch = 0;
  let globalStep = 0;
  const history: EpochMetrics[] = [];
  if (options.resumeFrom) {
    const checkpoint = readCheckpoint(options.resumeFrom);
    try {
      resume(checkpoint, model, optimizer, config);
    } catch (err) {
      optimizer.dispose();
      throw err;
    }
    startEpoch = checkpoint.header.epoch;
    globalStep = checkpoint.header.globalStep;
    rng = SeededRng.fromState(checkpoint.header.rngState);
    history.push(...checkpoint.header.history);
  }

  const backend = tf.getBackend();
  const paramsCount = model.graph.totals.params;
  // After resume: replicas start from this model's (restored) weights, statistics and optimiser state.
  const workers = resolveWorkerCount(config.workers, backend, batchSize);
  let stepper: BatchStepper;
  try {
    stepper =
      workers > 1
        ? await DataParallelStepper.create(model, optimizer, { workers, backend, seed: config.seed })
        : new LocalBatchStepper(model, optimizer);
  } catch (err) {
    optimizer.dispose();
    throw err;
  }
  emit({
    type: "start",
    model: spec.name,
    backend,
    dataset: data.train.name,
    trainSamples: trainIndices.length,
    valSamples: valIndices.length,
    config,
    startEpoch,
    params: paramsCount,
    workers: stepper.workers,
  });

  const firstGlobalStep = globalStep;
  const xBuffer = new Float32Array(batchSize * trainAdapter.sampleSize);
  const labelBuffer = new Int32Array(batchSize);
  let reason: StopReason = "completed";
  let message: string | undefined;
  let epoch = startEpoch;

  try {
    for (; epoch < config.epochs; epoch++) {
      if (
        config.timeBudgetSeconds !== undefined &&
        epoch > startEpoch &&
        (performance.now() - started) / 1000 >= config.timeBudgetSeconds
      ) {
        reason = "timeBudget";
        break;
      }
      const order = shuffledIndices(trainIndices.length, rng);
      for (let i = 0; i < order.length; i++) order[i] = trainIndices[order[i]];
      const epochStart = performance.now();
      let lossSum = 0;
      let correctSum = 0;
      let seen = 0;
      let lastLogTime = epochStart;
      let lastLogSeen = 0;
      let lr = learningRateAt(config, globalStep, stepsPerEpoch);
      let step = 0;
      for (; step < stepsPerEpoch; step++) {
        if (signal?.aborted) {
          reason = "aborted";
          break;
        }
        if (config.maxSteps !== undefined && globalStep >= config.maxSteps) {
          reason = "maxSteps";
          break;
        }
        lr = learningRateAt(config, globalStep, stepsPerEpoch);
        trainAdapter.fill(order, step * batchSize, batchSize, xBuffer);
        trainAdapter.labels(order, step * batchSize, batchSize, labelBuffer);
        const outcome = await stepper.step(xBuffer, labelBuffer, batchSize, lr);
        const { loss } = outcome;
        const correctValue = [outcome.correct];
        if (!Number.isFinite(loss)) {
          reason = "diverged";
          message =
            `training diverged: the loss became ${loss} at epoch ${epoch + 1}, step ${step + 1} (learning rate ${lr}); ` +
            `lower the learning rate (--lr) or use a warm-up`;
          break;
        }
        globalStep++;
        lossSum += loss * batchSize;
        correctSum += correctValue[0];
        seen += batchSize;
        const now = performance.now();
        const firstOfRun = globalStep === firstGlobalStep + 1;
        const overdue = config.logEverySeconds !== undefined && (now - lastLogTime) / 1000 >= config.logEverySeconds;
        if (firstOfRun || overdue || (step + 1) % config.logEvery === 0 || step + 1 === stepsPerEpoch) {
          const metrics: StepMetrics = {
            epoch,
            step,
            stepsPerEpoch,
            globalStep,
            loss,
            accuracy: correctValue[0] / batchSize,
            lr,
            imagesPerSecond: ((seen - lastLogSeen) * 1000) / Math.max(1e-6, now - lastLogTime),
            epochSeconds: (now - epochStart) / 1000,
          };
          lastLogTime = now;
          lastLogSeen = seen;
          options.onStep?.(metrics);
          emit({ type: "step", ...metrics });
        }
        // Let timers and abort events run between steps.
        await nextTick();
      }
      if (reason !== "completed") break;
      const trainSeconds = (performance.now() - epochStart) / 1000;
      // Nothing held out (valFraction 0): the epoch has no validation figures, and only the training loss can diverge.
      const val = valIndices.length > 0 ? await evaluate(model, valAdapter, valIndices) : null;
      const metrics: EpochMetrics = {
        epoch,
        epochs: config.epochs,
        loss: lossSum / Math.max(1, seen),
        accuracy: correctSum / Math.max(1, seen),
        ...(val ? { valLoss: val.loss, valAccuracy: val.accuracy } : {}),
        lr,
        imagesPerSecond: seen / Math.max(1e-9, trainSeconds),
        seconds: (performance.now() - epochStart) / 1000,
        trainSamples: seen,
        valSamples: valIndices.length,
      };
      history.push(metrics);
      options.onEpoch?.(metrics);
      emit({ type: "epoch", ...metrics });
      if (val && !Number.isFinite(val.loss)) {
        reason = "diverged";
        message = `training diverged: the validation loss became ${val.loss} after epoch ${epoch + 1}; lower the learning rate (--lr)`;
        epoch++;
        break;
      }
      if (options.checkpoint) {
        const path = await saveCheckpoint(options.checkpoint, {
          meta: {
            model: spec.name,
            spec,
            epoch: epoch + 1,
            globalStep,
            rngState: rng.getState(),
            optimizer: { kind: optimizer.kind, step: optimizer.step },
            config,
            history,
            backend,
          },
          params: model.params,
          buffers: model.buffers,
          optimizer: optimizer.stateTensors(),
        });
        emit({ type: "checkpoint", path, epoch: epoch + 1 });
      }
    }
  } finally {
    await stepper.dispose();
    optimizer.dispose();
  }
  const completedEpochs = history.length;
  const result: TrainResult = {
    reason,
    message,
    epochsCompleted: completedEpochs,
    globalStep,
    history,
    final: history.length > 0 ? history[history.length - 1] : null,
    backend,
    workers: stepper.workers,
    seconds: (performance.now() - started) / 1000,
  };
  emit({ type: "done", ...result });
  return result;
}

function resume(checkpoint: Checkpoint, model: TrainableModel, optimizer: Optimizer, config: TrainConfig): void {
  assertResumable(checkpoint, model.graph.spec, config);
  const state = optimizer.stateTensors();
  assertNoExtraTensors(checkpoint, [...model.params.keys(), ...model.buffers.keys(), ...state.map(([n]) => n)], []);
  restoreVariables(checkpoint, "parameter", model.params);
  restoreVariables(checkpoint, "buffer", model.buffers);
  restoreVariables(checkpoint, "optimizer state", state);
  optimizer.step = checkpoint.header.optimizer.step;
}

/** Mean loss and accuracy in eval mode (BN running statistics, no dropout). */
export async function evaluate(
  model: TrainableModel,
  adapter: BatchAdapter,
  indices: Uint32Array,
): Promise<{ loss: number; accuracy: number }> {
  if (indices.length === 0) return { loss: NaN, accuracy: NaN };
  const classes = model.graph.spec.classes;
  const [channels, height, width] = adapter.target;
  const batch = Math.min(VAL_BATCH, indices.length);
  const xBuffer = new Float32Array(batch * adapter.sampleSize);
  const labelBuffer = new Int32Array(batch);
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < indices.length; start += batch) {
    const n = Math.min(batch, indices.length - start);
    adapter.fill(indices, start, n, xBuffer);
    adapter.labels(indices, start, n, labelBuffer);
    const [lossTensor, correctTensor] = tf.tidy((): [tf.Scalar, tf.Scalar] => {
      const x = tf.tensor4d(xBuffer.subarray(0, n * adapter.sampleSize), [n, height, width, channels]);
      const labels = tf.tensor1d(labelBuffer.subarray(0, n), "int32");
      const logits = model.apply(x, "eval");
      const oneHot = tf.cast(tf.oneHot(labels, classes), "float32") as tf.Tensor2D;
      const loss = tf.neg(tf.sum<tf.Scalar>(tf.mul(oneHot, tf.logSoftmax(logits))));
      return [loss, tf.sum<tf.Scalar>(tf.cast(tf.equal(tf.argMax(logits, 1), labels), "float32"))];
    });
    const [l, c] = await Promise.all([lossTensor.data(), correctTensor.data()]);
    tf.dispose([lossTensor, correctTensor]);
    lossSum += l[0];
    correct += c[0];
  }
  return { loss: lossSum / indices.length, accuracy: correct / indices.length };
}

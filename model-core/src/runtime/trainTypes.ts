/**
 * Plain-data types of a training run (no tfjs, no node APIs), shared by the trainer, the CLI, the extension's
 * worker thread and the webview. Every value here survives structured cloning and JSON.
 */

export type OptimizerName = "adam" | "sgd";

/** Learning-rate schedule. Epoch numbers are 0-based and count from the start of the run (resumes included). */
export type LrSchedule =
  | { kind: "constant" }
  /** lr × gamma^(number of milestones ≤ epoch); He et al. 2015 §4.2 divide by 10 at 32k and 48k iterations. */
  | { kind: "step"; milestones: number[]; gamma: number }
  /** Cosine annealing per step from lr to minLr over the whole run (Loshchilov & Hutter 2017), after an optional linear warm-up. */
  | { kind: "cosine"; minLr?: number; warmupEpochs?: number };

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerName;
  /** Peak learning rate. */
  lr: number;
  /** SGD momentum (ignored by Adam). He et al. 2015 use 0.9. */
  momentum: number;
  /** L2 penalty added to the gradient of conv and fc weights only; BN γ/β and biases are not decayed. He et al. 2015 use 1e-4. */
  weightDecay: number;
  schedule: LrSchedule;
  /** Seeds weight init (buildModel) and the shuffling RNG: same seed, same data order, same run. */
  seed: number;
  /** Fraction of the dataset held out for validation (the split is fixed by the dataset, not by `seed`). */
  valFraction: number;
  /** Stop after this many optimisation steps in total (for smoke tests and quick budgets); undefined = no limit. */
  maxSteps?: number;
  /** Stop starting new epochs once this many seconds have passed (the epoch in progress still finishes and is validated). */
  timeBudgetSeconds?: number;
  /** Emit a step event every `logEvery` steps (the first step of the run and the last step of an epoch always emit). */
  logEvery: number;
  /** Also emit a step event once this many seconds have passed since the last one (for slow steps); undefined = never. */
  logEverySeconds?: number;
  /** Train on at most this many images per epoch (a fresh shuffled subset each epoch); undefined = all of them. */
  samplesPerEpoch?: number;
  /**
   * Data-parallel replicas (threads), each training on an equal share of every batch; undefined = automatic (one per
   * core, up to 4, on wasm; 1 elsewhere), 1 = single-threaded. BN then normalises over each replica's share of the
   * batch (like PyTorch DDP without SyncBatchNorm), so results depend on this number; the seed fixes them for a given one.
   */
  workers?: number;
}

/**
 * Defaults sized for the embedded MNIST digits and examples/small.resnet.ts: ≥ 97% validation accuracy in under two
 * minutes on two CPU cores (wasm). Adam with coupled L2 gains little from weight decay here, so it is off.
 */
export const DEFAULT_TRAIN_CONFIG: TrainConfig = {
  epochs: 5,
  batchSize: 64,
  optimizer: "adam",
  lr: 1e-2,
  momentum: 0.9,
  weightDecay: 0,
  schedule: { kind: "cosine", warmupEpochs: 0 },
  seed: 1,
  valFraction: 0.1,
  logEvery: 10,
};

export interface StepMetrics {
  epoch: number;
  /** Step inside the epoch, 0-based. */
  step: number;
  stepsPerEpoch: number;
  /** Steps done since the run began (resumes continue the count). */
  globalStep: number;
  loss: number;
  /** Accuracy on this batch. */
  accuracy: number;
  lr: number;
  /** Training images per second over the steps since the previous step event. */
  imagesPerSecond: number;
  /** Wall seconds since the epoch's first step began (at step 0: the first step's time). */
  epochSeconds: number;
}

export interface EpochMetrics {
  epoch: number;
  epochs: number;
  /** Mean training loss and accuracy over the epoch's batches (BN in train mode). */
  loss: number;
  accuracy: number;
  /** Loss and accuracy on the held-out images; absent when none were held out (`--val-fraction 0`). */
  valLoss?: number;
  valAccuracy?: number;
  /** Learning rate at the epoch's last step. */
  lr: number;
  /** Training images per second over the epoch (validation excluded). */
  imagesPerSecond: number;
  seconds: number;
  trainSamples: number;
  valSamples: number;
}

export type StopReason = "completed" | "aborted" | "diverged" | "maxSteps" | "timeBudget";

export interface TrainResult {
  reason: StopReason;
  /** Set when reason is "diverged": which step produced a non-finite loss, and what to try. */
  message?: string;
  epochsCompleted: number;
  globalStep: number;
  history: EpochMetrics[];
  /** The last epoch's metrics, null if no epoch completed. */
  final: EpochMetrics | null;
  backend: string;
  /** Data-parallel replicas used (1 = single-threaded; absent from results made before workers existed). */
  workers?: number;
  seconds: number;
}

/** What a run announces as it starts, on any backend. */
export interface TrainStart {
  model: string;
  dataset: string;
  trainSamples: number;
  valSamples: number;
  config: TrainConfig;
  startEpoch: number;
  params: number;
}

/** Events streamed to the CLI, the extension worker and the webview. */
export type TrainEvent =
  | ({ type: "start"; backend: string; workers?: number } & TrainStart)
  | ({ type: "step" } & StepMetrics)
  | ({ type: "epoch" } & EpochMetrics)
  | { type: "checkpoint"; path: string; epoch: number }
  | ({ type: "done" } & TrainResult)
  | { type: "error"; message: string };

/** A config that cannot train; the message lists every bad field. */
export class TrainConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TrainConfigError";
  }
}

const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** The most data-parallel replicas (threads) a run starts, from the flag, a setting or a checkpoint's config. */
export const MAX_WORKERS = 64;

/** Checks every field by type and range (configs also arrive from checkpoint files, so nothing is trusted). */
export function validateConfig(config: TrainConfig): void {
  const problems: string[] = [];
  const c = config as unknown as Record<string, unknown>;
  if (!(Number.isInteger(c.epochs) && (c.epochs as number) >= 1))
    problems.push(`epochs must be a positive integer, got ${JSON.stringify(c.epochs)}`);
  if (!(Number.isInteger(c.batchSize) && (c.batchSize as number) >= 2))
    problems.push(
      `batch size must be an integer ≥ 2 (BatchNorm needs two samples), got ${JSON.stringify(c.batchSize)}`,
    );
  if (!(isNumber(c.lr) && c.lr > 0)) problems.push(`learning rate must be positive, got ${JSON.stringify(c.lr)}`);
  if (!(isNumber(c.weightDecay) && c.weightDecay >= 0))
    problems.push(`weight decay must be ≥ 0, got ${JSON.stringify(c.weightDecay)}`);
  if (!(isNumber(c.momentum) && c.momentum >= 0 && c.momentum < 1))
    problems.push(`momentum must be in [0, 1), got ${JSON.stringify(c.momentum)}`);
  if (c.optimizer !== "adam" && c.optimizer !== "sgd")
    problems.push(`optimizer must be adam or sgd, got ${JSON.stringify(c.optimizer)}`);
  if (!Number.isInteger(c.seed)) problems.push(`seed must be an integer, got ${JSON.stringify(c.seed)}`);
  if (!(isNumber(c.valFraction) && c.valFraction >= 0 && c.valFraction < 1))
    problems.push(`validation fraction must be in [0, 1), got ${JSON.stringify(c.valFraction)}`);
  if (!(Number.isInteger(c.logEvery) && (c.logEvery as number) >= 1))
    problems.push(`logEvery must be a positive integer, got ${JSON.stringify(c.logEvery)}`);
  if (c.maxSteps !== undefined && !(Number.isInteger(c.maxSteps) && (c.maxSteps as number) >= 1))
    problems.push(`maxSteps must be a positive integer, got ${JSON.stringify(c.maxSteps)}`);
  if (c.timeBudgetSeconds !== undefined && !(isNumber(c.timeBudgetSeconds) && c.timeBudgetSeconds > 0))
    problems.push(`timeBudgetSeconds must be positive, got ${JSON.stringify(c.timeBudgetSeconds)}`);
  if (
    c.workers !== undefined &&
    !(Number.isInteger(c.workers) && (c.workers as number) >= 1 && (c.workers as number) <= MAX_WORKERS)
  )
    problems.push(`workers must be an integer from 1 to ${MAX_WORKERS}, got ${JSON.stringify(c.workers)}`);
  if (c.samplesPerEpoch !== undefined && !(Number.isInteger(c.samplesPerEpoch) && (c.samplesPerEpoch as number) >= 1))
    problems.push(`samples per epoch must be a positive integer, got ${JSON.stringify(c.samplesPerEpoch)}`);
  if (c.logEverySeconds !== undefined && !(isNumber(c.logEverySeconds) && c.logEverySeconds > 0))
    problems.push(`logEverySeconds must be positive, got ${JSON.stringify(c.logEverySeconds)}`);
  const schedule = c.schedule as Record<string, unknown> | null | undefined;
  if (typeof schedule !== "object" || schedule === null)
    problems.push(`schedule must be an object, got ${JSON.stringify(schedule)}`);
  else if (schedule.kind === "step") {
    if (!(Array.isArray(schedule.milestones) && schedule.milestones.every((m) => Number.isInteger(m) && m >= 0)))
      problems.push("schedule.milestones must be a list of epoch numbers");
    if (!(isNumber(schedule.gamma) && schedule.gamma > 0))
      problems.push(`schedule.gamma must be positive, got ${JSON.stringify(schedule.gamma)}`);
  } else if (schedule.kind === "cosine") {
    if (schedule.minLr !== undefined && !(isNumber(schedule.minLr) && schedule.minLr >= 0))
      problems.push(`schedule.minLr must be ≥ 0, got ${JSON.stringify(schedule.minLr)}`);
    if (schedule.warmupEpochs !== undefined && !(isNumber(schedule.warmupEpochs) && schedule.warmupEpochs >= 0))
      problems.push(`schedule.warmupEpochs must be ≥ 0, got ${JSON.stringify(schedule.warmupEpochs)}`);
  } else if (schedule.kind !== "constant")
    problems.push(`schedule.kind must be constant, step or cosine, got ${JSON.stringify(schedule.kind)}`);
  if (problems.length > 0) throw new TrainConfigError(problems.join("; "));
}

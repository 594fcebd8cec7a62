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
  valLoss: number;
  valAccuracy: number;
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

/** Events streamed to the CLI, the extension worker and the webview. */
export type TrainEvent =
  | { type: "start"; model: string; backend: string; dataset: string; trainSamples: number; valSamples: number; config: TrainConfig; startEpoch: number; params: number; workers?: number }
  | ({ type: "step" } & StepMetrics)
  | ({ type: "epoch" } & EpochMetrics)
  | { type: "checkpoint"; path: string; epoch: number }
  | ({ type: "done" } & TrainResult)
  | { type: "error"; message: string };

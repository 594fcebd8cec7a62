/**
 * One training step on one batch (forward, softmax cross-entropy, backward, optimiser update) and the BatchStepper
 * interface that train() drives: single-threaded here, data-parallel in parallel.ts. Shared by the trainer, its
 * replica workers and the throughput benchmark, so all measure the same work.
 */
import * as tf from "@tensorflow/tfjs-core";
// Gradients of the core ops are registered by this side-effect module (tfjs-core alone ships none).
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import type { ModelGraph } from "../analysis/graph";
import type { Optimizer } from "./optim";

/** What the trainer needs of a model (runtime/model.ts's TfModel fits it). */
export interface TrainableModel {
  readonly graph: ModelGraph;
  readonly params: Map<string, tf.Variable>;
  readonly buffers: Map<string, tf.Variable>;
  apply(x: tf.Tensor4D, mode: "train" | "eval"): tf.Tensor2D;
}

function crossEntropy(logits: tf.Tensor2D, oneHot: tf.Tensor2D): tf.Scalar {
  return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), 1))) as tf.Scalar;
}

/** Gradients of one batch (or one replica's share of it), keyed by parameter name; the caller disposes them. */
export interface BatchGradients {
  /** Mean loss over the batch. */
  loss: number;
  /** Correct predictions in the batch. */
  correct: number;
  grads: Map<string, tf.Tensor>;
}

/**
 * One optimisation step on one batch: forward in train mode, softmax cross-entropy, backward, optimiser update.
 * Used by train() (directly or inside each data-parallel replica) and by the throughput benchmark, so all measure
 * the same work. A non-finite loss skips the update.
 */
export class TrainStepper {
  private readonly paramNameByVariable = new Map<string, string>();
  private readonly variables: tf.Variable[];

  constructor(
    private readonly model: TrainableModel,
    readonly optimizer: Optimizer,
  ) {
    for (const [name, v] of model.params) this.paramNameByVariable.set(v.name, name);
    this.variables = [...model.params.values()];
  }

  /** Forward and backward only (BN running statistics are updated, parameters are not). */
  async gradients(x: tf.Tensor4D, labels: tf.Tensor1D): Promise<BatchGradients> {
    const classes = this.model.graph.spec.classes;
    let correct: tf.Scalar | null = null;
    const { value, grads } = tf.variableGrads(() => {
      const logits = this.model.apply(x, "train");
      correct = tf.keep(tf.sum<tf.Scalar>(tf.cast(tf.equal(tf.argMax(logits, 1), labels), "float32")));
      const oneHot = tf.cast(tf.oneHot(labels, classes), "float32") as tf.Tensor2D;
      return crossEntropy(logits, oneHot);
    }, this.variables);
    const correctTensor = correct as tf.Scalar | null;
    const byName = new Map<string, tf.Tensor>();
    try {
      const [lossValue, correctValue] = await Promise.all([
        value.data(),
        correctTensor ? correctTensor.data() : Promise.resolve([0]),
      ]);
      for (const [varName, g] of Object.entries(grads)) {
        const name = this.paramNameByVariable.get(varName);
        if (name) byName.set(name, g);
        else g.dispose();
      }
      return { loss: lossValue[0], correct: correctValue[0], grads: byName };
    } catch (err) {
      tf.dispose(grads);
      throw err;
    } finally {
      value.dispose();
      correctTensor?.dispose();
    }
  }

  /** Returns the batch's mean loss and number of correct predictions; disposes everything it creates. */
  async step(x: tf.Tensor4D, labels: tf.Tensor1D, lr: number): Promise<{ loss: number; correct: number }> {
    const { loss, correct, grads } = await this.gradients(x, labels);
    try {
      if (Number.isFinite(loss)) this.optimizer.apply(grads, lr);
      return { loss, correct };
    } finally {
      tf.dispose([...grads.values()]);
    }
  }
}

/**
 * Runs `use` on the first `count` NHWC images of `pixels` (shaped as `model`'s input) and their labels as tensors, and
 * disposes those tensors once it settles.
 */
export async function withBatchTensors<T>(
  model: TrainableModel,
  pixels: Float32Array,
  labels: Int32Array,
  count: number,
  use: (x: tf.Tensor4D, labels: tf.Tensor1D) => Promise<T>,
): Promise<T> {
  const [channels, height, width] = model.graph.spec.input;
  const x = tf.tensor4d(pixels.subarray(0, count * channels * height * width), [count, height, width, channels]);
  const y = tf.tensor1d(labels.subarray(0, count), "int32");
  try {
    return await use(x, y);
  } finally {
    tf.dispose([x, y]);
  }
}

/** One training step on a batch held in plain arrays: what train() drives, single-threaded or data-parallel. */
export interface BatchStepper {
  /** Replicas sharing each batch (1 = this thread only). */
  readonly workers: number;
  /** `pixels` holds `count` NHWC images. Returns the batch's mean loss and correct predictions. */
  step(pixels: Float32Array, labels: Int32Array, count: number, lr: number): Promise<{ loss: number; correct: number }>;
  dispose(): Promise<void>;
}

/** The single-threaded stepper: the whole batch on this thread's backend. */
export class LocalBatchStepper implements BatchStepper {
  readonly workers = 1;
  private readonly stepper: TrainStepper;
  constructor(
    private readonly model: TrainableModel,
    optimizer: Optimizer,
  ) {
    this.stepper = new TrainStepper(model, optimizer);
  }

  step(
    pixels: Float32Array,
    labels: Int32Array,
    count: number,
    lr: number,
  ): Promise<{ loss: number; correct: number }> {
    return withBatchTensors(this.model, pixels, labels, count, (x, y) => this.stepper.step(x, y, lr));
  }

  async dispose(): Promise<void> {
    /* nothing beyond the optimiser, which train() owns */
  }
}

/**
 * Data-parallel training on worker threads. tfjs-backend-wasm runs single-threaded under Node, so the second core
 * is used by model replicas: the thread that owns the model is replica 0 and each worker thread holds another
 * replica on its own backend instance. Every step, each replica computes the gradients of an equal share of the batch;
 * the owner averages them (weighted by share size) into a SharedArrayBuffer, and every replica applies the same
 * optimiser update to the same float32 values, so the replicas stay bit-identical without copying weights.
 *
 * BatchNorm: each replica normalises over its own share (PyTorch DDP without SyncBatchNorm). The running statistics
 * are averaged after every step: the running mean then equals a full-batch update exactly; the running variance is
 * the mean of the shares' unbiased variances (it omits the spread between the shares' means).
 */
import { Worker } from "node:worker_threads";
import { availableParallelism } from "node:os";
import { existsSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import type { Optimizer } from "./optim";
import { TrainStepper, withBatchTensors, type BatchStepper, type TrainableModel } from "./stepper";
import { RpcError } from "../rpc";
import { WorkerClient } from "../rpcWorker";
import {
  sharedLayout,
  type ReplicaNote,
  type ReplicaPush,
  type ReplicaRequest,
  type ReplicaResults,
  type SharedLayout,
} from "./replicaProtocol";

/** Automatic worker count: one per core up to this many, on wasm only. */
export const MAX_AUTO_WORKERS = 4;
/** Automatic mode gives every replica at least this many images per step (smaller shares make BN noisy and convs slow). */
export const MIN_AUTO_SHARE = 16;

/**
 * Replicas for a run. An explicit count is honoured up to one replica per two images (BN needs two samples);
 * automatic (undefined) uses RESNET_STUDIO_WORKERS when set, else one replica per core on wasm, and 1 on other
 * backends (tfjs-node is multi-threaded itself; cpu is for checks).
 */
export function resolveWorkerCount(requested: number | undefined, backend: string, batchSize: number): number {
  const byBatch = Math.max(1, Math.floor(batchSize / 2));
  let explicit = requested;
  const fromEnv = process.env.RESNET_STUDIO_WORKERS;
  if (explicit === undefined && fromEnv !== undefined && fromEnv.trim() !== "") {
    const n = Number(fromEnv);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`RESNET_STUDIO_WORKERS must be a positive integer, got "${fromEnv}"`);
    explicit = n;
  }
  if (explicit !== undefined) return Math.min(explicit, byBatch);
  if (backend !== "wasm") return 1;
  return Math.max(1, Math.min(availableParallelism(), MAX_AUTO_WORKERS, Math.floor(batchSize / MIN_AUTO_SHARE)));
}

/** Splits `count` images into `parts` shares differing by at most one. */
export function shareSizes(count: number, parts: number): number[] {
  const base = Math.floor(count / parts);
  return Array.from({ length: parts }, (_, i) => base + (i < count % parts ? 1 : 0));
}

/**
 * One replica's side of a step, the same code on the owner and in the workers: gradients and BN statistics of its
 * share into its shared slot, then the averaged values back from the shared buffer.
 */
export class ReplicaCore {
  private readonly stepper: TrainStepper;
  private readonly paramNames: string[];
  private readonly bufferNames: string[];

  constructor(
    private readonly model: TrainableModel,
    readonly optimizer: Optimizer,
    private readonly shared: Float32Array,
    private readonly layout: SharedLayout,
    private readonly slot: number,
  ) {
    this.stepper = new TrainStepper(model, optimizer);
    this.paramNames = [...model.params.keys()];
    this.bufferNames = [...model.buffers.keys()];
  }

  /** Forward and backward on this replica's share; writes gradients and BN running statistics to its slot. */
  async computeShare(
    pixels: Float32Array,
    labels: Int32Array,
    count: number,
  ): Promise<{ loss: number; correct: number }> {
    const result = await withBatchTensors(this.model, pixels, labels, count, (x, y) => this.stepper.gradients(x, y));
    try {
      let offset = this.layout.gradOffset(this.slot);
      this.paramNames.forEach((name, i) => {
        const g = result.grads.get(name);
        // A parameter the loss does not reach has a zero gradient.
        if (g) this.shared.set(g.dataSync(), offset);
        else this.shared.fill(0, offset, offset + this.layout.paramSizes[i]);
        offset += this.layout.paramSizes[i];
      });
      offset = this.layout.bufferOffset(this.slot);
      this.bufferNames.forEach((name, i) => {
        this.shared.set(this.model.buffers.get(name)!.dataSync(), offset);
        offset += this.layout.bufferSizes[i];
      });
    } finally {
      tf.dispose([...result.grads.values()]);
    }
    return { loss: result.loss, correct: result.correct };
  }

  /** Takes the averaged BN statistics and, when `update`, applies the averaged gradients. */
  applyAveraged(lr: number, update: boolean): void {
    let offset = this.layout.averagedBufferOffset;
    this.bufferNames.forEach((name, i) => {
      const size = this.layout.bufferSizes[i];
      const v = this.model.buffers.get(name)!;
      tf.tidy(() => v.assign(tf.tensor(this.shared.slice(offset, offset + size), v.shape, "float32")));
      offset += size;
    });
    if (!update) return;
    const grads = new Map<string, tf.Tensor>();
    offset = this.layout.averagedGradOffset;
    this.paramNames.forEach((name, i) => {
      const size = this.layout.paramSizes[i];
      // slice, not a view: the cpu backend keeps the array it is given, and the shared buffer is rewritten next step.
      grads.set(
        name,
        tf.tensor(this.shared.slice(offset, offset + size), this.model.params.get(name)!.shape, "float32"),
      );
      offset += size;
    });
    try {
      this.optimizer.apply(grads, lr);
    } finally {
      tf.dispose([...grads.values()]);
    }
  }
}

/** Where the replica worker's entry is: built next to this bundle, or the TypeScript source (tests, run via tsx). */
function replicaWorkerEntry(): { filename: string; eval: boolean } {
  const override = process.env.RESNET_STUDIO_REPLICA_WORKER;
  if (override) return { filename: override, eval: false };
  const here = typeof __dirname === "string" ? __dirname : process.cwd();
  for (const name of ["trainReplicaWorker.cjs", "trainReplicaWorker.js"]) {
    const built = join(here, name);
    if (existsSync(built)) return { filename: built, eval: false };
  }
  const source = join(here, "replicaWorker.ts");
  if (existsSync(source)) {
    // Worker threads take no .ts entry: register tsx's require hook first (only when running from source).
    // Indirect, so bundlers do not try to resolve tsx (a dev dependency the bundles never reach).
    const req: NodeRequire = require;
    const tsx = req.resolve("tsx/cjs");
    return { filename: `require(${JSON.stringify(tsx)}); require(${JSON.stringify(source)});`, eval: true };
  }
  throw new Error(
    `the training worker (trainReplicaWorker.cjs) is missing next to ${here}; run \`npm run build\`, or train with --workers 1`,
  );
}

/**
 * One worker thread holding a replica (./replicaProtocol.ts). Requests are answered in order; "apply" is a
 * notification. The first failure (an error response, a failed "apply", a crash or an exit) fails what is in flight
 * and every later request: a replica that missed a step is no longer the owner's twin.
 */
class ReplicaHandle {
  private failure: Error | null = null;
  private readonly worker: WorkerClient<ReplicaRequest, ReplicaResults, ReplicaPush, ReplicaNote>;

  constructor(spawn: () => Worker) {
    this.worker = new WorkerClient({
      name: "training worker",
      spawn,
      onPush: (push) => this.fail(`training worker: ${push.message}`),
      onLost: (message) => (this.failure ??= new Error(message)),
    });
  }

  private fail(message: string): void {
    this.failure ??= new Error(message);
    // The replica is broken: stop it, failing what is in flight with the first failure.
    void this.worker.stop(this.failure.message);
  }

  async request<K extends ReplicaRequest["kind"]>(
    body: Extract<ReplicaRequest, { kind: K }>,
  ): Promise<ReplicaResults[K]> {
    if (this.failure) throw this.failure;
    try {
      return await this.worker.request(body);
    } catch (err) {
      if (err instanceof RpcError && err.reason === "failed") this.fail(`training worker: ${err.message}`);
      throw this.failure ?? err;
    }
  }

  notify(note: ReplicaNote): void {
    if (!this.failure) this.worker.notify(note);
  }

  async close(): Promise<void> {
    this.failure ??= new Error("training worker closed");
    await this.worker.stop(this.failure.message);
  }
}

export interface DataParallelOptions {
  /** Replicas in all, the owning thread included (≥ 2). */
  workers: number;
  /** The owner's tfjs backend; every worker starts the same one. */
  backend: string;
  /** Seed the model was built with (workers rebuild the graph, then take the owner's exact values). */
  seed?: number;
}

/** BatchStepper over `workers` replicas: this thread's model plus workers − 1 worker threads. */
export class DataParallelStepper implements BatchStepper {
  /** tf.memory().numTensors of each worker replica after every step, latest last (tests check they stay flat). */
  readonly workerTensorCounts: number[][];
  private disposed = false;

  private constructor(
    private readonly model: TrainableModel,
    private readonly handles: ReplicaHandle[],
    private readonly owner: ReplicaCore,
    private readonly shared: Float32Array,
    private readonly layout: SharedLayout,
  ) {
    this.workerTensorCounts = handles.map(() => []);
  }

  get workers(): number {
    return this.handles.length + 1;
  }

  /** Starts the workers and hands them the model's current weights, BN statistics and optimiser state. */
  static async create(
    model: TrainableModel,
    optimizer: Optimizer,
    options: DataParallelOptions,
  ): Promise<DataParallelStepper> {
    if (!Number.isInteger(options.workers) || options.workers < 2)
      throw new Error(`data-parallel training needs ≥ 2 workers, got ${options.workers}`);
    const params = [...model.params];
    const buffers = [...model.buffers];
    const layout = sharedLayout(
      params.map(([, v]) => v.size),
      buffers.map(([, v]) => v.size),
      options.workers,
    );
    const shared = new Float32Array(new SharedArrayBuffer(layout.totalFloats * Float32Array.BYTES_PER_ELEMENT));
    const entry = replicaWorkerEntry();
    const handles: ReplicaHandle[] = [];
    try {
      const snapshot = (vars: tf.Variable[]) => vars.map((v) => (v.dataSync() as Float32Array).slice());
      const state = {
        params: snapshot(params.map(([, v]) => v)),
        buffers: snapshot(buffers.map(([, v]) => v)),
        optimizerState: snapshot(optimizer.stateTensors().map(([, v]) => v)),
      };
      for (let slot = 1; slot < options.workers; slot++) {
        handles.push(new ReplicaHandle(() => new Worker(entry.filename, { eval: entry.eval })));
      }
      await Promise.all(
        handles.map((handle, i) =>
          handle.request({
            kind: "init",
            graph: model.graph,
            seed: options.seed ?? 0,
            backend: options.backend,
            slot: i + 1,
            replicas: options.workers,
            shared: shared.buffer,
            paramNames: params.map(([name]) => name),
            bufferNames: buffers.map(([name]) => name),
            optimizer: { ...optimizer.options, decayed: [...optimizer.options.decayed] },
            optimizerStep: optimizer.step,
            ...state,
          }),
        ),
      );
    } catch (err) {
      await Promise.all(handles.map((h) => h.close()));
      throw err;
    }
    return new DataParallelStepper(
      model,
      handles,
      new ReplicaCore(model, optimizer, shared, layout, 0),
      shared,
      layout,
    );
  }

  async step(
    pixels: Float32Array,
    labels: Int32Array,
    count: number,
    lr: number,
  ): Promise<{ loss: number; correct: number }> {
    if (this.disposed) throw new Error("data-parallel stepper has been disposed");
    const shares = shareSizes(count, this.workers);
    const [channels, height, width] = this.model.graph.spec.input;
    const sample = channels * height * width;
    // Workers first, so they compute while this thread does its own share.
    let start = shares[0];
    const replies = this.handles.map((handle, i) => {
      const n = shares[i + 1];
      const request = handle.request({
        kind: "step",
        pixels: pixels.slice(start * sample, (start + n) * sample),
        labels: labels.slice(start, start + n),
        count: n,
      });
      start += n;
      return request;
    });
    let own: { loss: number; correct: number };
    try {
      own = await this.owner.computeShare(pixels, labels, shares[0]);
    } catch (err) {
      await Promise.allSettled(replies);
      throw err;
    }
    const others = await Promise.all(replies);
    others.forEach((r, i) => this.workerTensorCounts[i].push(r.numTensors));
    const weights = shares.map((n) => n / count);
    const results = [own, ...others];
    const loss = results.reduce((sum, r, i) => sum + weights[i] * r.loss, 0);
    const correct = results.reduce((sum, r) => sum + r.correct, 0);
    this.average(
      this.layout.gradOffset.bind(this.layout),
      this.layout.averagedGradOffset,
      this.layout.paramTotal,
      weights,
    );
    this.average(
      this.layout.bufferOffset.bind(this.layout),
      this.layout.averagedBufferOffset,
      this.layout.bufferTotal,
      weights,
    );
    const update = Number.isFinite(loss);
    for (const handle of this.handles) handle.notify({ type: "apply", lr, update });
    this.owner.applyAveraged(lr, update);
    return { loss, correct };
  }

  /** averaged[j] = Σ_r weight_r · slot_r[j], summed in slot order (one result that every replica then reads). */
  private average(slotOffset: (slot: number) => number, target: number, length: number, weights: number[]): void {
    const shared = this.shared;
    const offsets = weights.map((_, r) => slotOffset(r));
    for (let j = 0; j < length; j++) {
      let sum = 0;
      for (let r = 0; r < weights.length; r++) sum += weights[r] * shared[offsets[r] + j];
      shared[target + j] = sum;
    }
  }

  /** Each worker's parameters, buffers and optimiser state (for tests: replicas must equal the owner's model). */
  async snapshots(): Promise<Array<ReplicaResults["snapshot"]>> {
    return Promise.all(this.handles.map((h) => h.request({ kind: "snapshot" })));
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await Promise.all(this.handles.map((h) => h.close()));
  }
}

/**
 * A gradient-flow worker kept warm between requests: the backend (wasm compile, kernels) and the built models
 * (by spec hash, inside the worker) survive, so a second Show Gradient Flow costs one pass, not a cold start.
 * Cancelling terminates the worker (a pass cannot stop half-way); the next request starts a fresh one.
 * No vscode here: tested and benchmarked under node.
 */
import type { Worker } from "node:worker_threads";
import type { GradientPair } from "resnet-studio/protocol";
import { WorkerClient } from "resnet-studio/rpcWorker";
import type { TorchSettings, TrainJob, TrainJobResults, TrainWorkerNote, TrainWorkerPush } from "./pure/workerProtocol";

export type GradientJob = Extract<TrainJob, { kind: "gradientFlow" }>;

export class CancelledError extends Error {
  constructor() {
    super("cancelled");
    this.name = "CancelledError";
  }
}

export class WarmGradientWorker {
  private readonly worker: WorkerClient<TrainJob, TrainJobResults, TrainWorkerPush, TrainWorkerNote>;
  /** Rejects the running request with CancelledError. */
  private cancelCurrent: (() => void) | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  /** Requests not yet settled (running or queued); a cancel drops all of them. */
  private pending = 0;
  private generation = 0;

  constructor(spawn: () => Worker) {
    this.worker = new WorkerClient({
      name: "gradient-flow worker",
      spawn: () => {
        const worker = spawn();
        worker.unref();
        return worker;
      },
    });
  }

  /** Start the worker and its backend (on torch, its Python) ahead of the first request. */
  warmUp(backend: GradientJob["backend"], wasmDir: string, torch: TorchSettings = {}): void {
    this.worker.notify({ type: "warmUp", backend, wasmDir, ...torch });
  }

  /** One job at a time, in order. */
  run(job: GradientJob): Promise<GradientPair> {
    const generation = this.generation;
    this.pending++;
    const start = (): Promise<GradientPair> =>
      generation === this.generation ? this.runNow(job) : Promise.reject(new CancelledError());
    const next = this.queue.then(start, start).finally(() => {
      this.pending--;
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Stop the running pass and drop queued ones (their promises reject with CancelledError); false when idle. */
  cancel(): boolean {
    if (this.pending === 0) return false;
    this.generation++;
    const cancelCurrent = this.cancelCurrent;
    this.cancelCurrent = null;
    cancelCurrent?.();
    return true;
  }

  get busy(): boolean {
    return this.pending > 0;
  }

  dispose(): void {
    this.cancel();
    void this.worker.stop("the gradient-flow worker was disposed");
  }

  private runNow(job: GradientJob): Promise<GradientPair> {
    return new Promise<GradientPair>((resolve, reject) => {
      const cancel = (): void => {
        // First the caller hears "cancelled"; the worker's own failure then finds the promise settled.
        reject(new CancelledError());
        void this.worker.stop("cancelled");
      };
      this.cancelCurrent = cancel;
      this.worker
        .request(job)
        .then(resolve, reject)
        .finally(() => {
          if (this.cancelCurrent === cancel) this.cancelCurrent = null;
        });
    });
  }
}

/**
 * Two warm workers: the network's pass and its plain twin's run at the same time, one per core (the passes are
 * independent; on a 2-core machine this halves the wait). Same interface as one worker.
 */
export class WarmGradientPair {
  private readonly network: WarmGradientWorker;
  private readonly twin: WarmGradientWorker;

  constructor(spawn: () => Worker) {
    this.network = new WarmGradientWorker(spawn);
    this.twin = new WarmGradientWorker(spawn);
  }

  warmUp(backend: GradientJob["backend"], wasmDir: string, torch: TorchSettings = {}): void {
    this.network.warmUp(backend, wasmDir, torch);
    this.twin.warmUp(backend, wasmDir, torch);
  }

  async run(job: GradientJob): Promise<GradientPair> {
    const network = this.network.run({ ...job, plain: null });
    const twin = job.plain ? this.twin.run({ ...job, graph: job.plain, plain: null }) : null;
    try {
      const [a, b] = await Promise.all([network, twin]);
      return { residual: a.residual, plain: b ? b.residual : null };
    } catch (err) {
      // One failed or was cancelled: stop the other too.
      this.cancel();
      await Promise.allSettled([network, twin]);
      throw err;
    }
  }

  cancel(): boolean {
    const a = this.network.cancel();
    const b = this.twin.cancel();
    return a || b;
  }

  get busy(): boolean {
    return this.network.busy || this.twin.busy;
  }

  dispose(): void {
    this.network.dispose();
    this.twin.dispose();
  }
}

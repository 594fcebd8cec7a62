/**
 * A gradient-flow worker kept warm between requests: the backend (wasm compile, kernels) and the built models
 * (by spec hash, inside the worker) survive, so a second Show Gradient Flow costs one pass, not a cold start.
 * Cancelling terminates the worker (a pass cannot stop half-way); the next request starts a fresh one.
 * No vscode here: tested and benchmarked under node.
 */
import type { Worker } from "node:worker_threads";
import type { GradientPair } from "resnet-studio/protocol";
import type { HostToWorker, WorkerToHost } from "./pure/workerProtocol";

export type GradientJob = Extract<HostToWorker, { type: "gradientFlow" }>;

export class CancelledError extends Error {
  constructor() {
    super("cancelled");
    this.name = "CancelledError";
  }
}

export class WarmGradientWorker {
  private worker: Worker | null = null;
  private current: { reject: (err: Error) => void } | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  /** Requests not yet settled (running or queued); a cancel drops all of them. */
  private pending = 0;
  private generation = 0;

  constructor(private readonly spawn: () => Worker) {}

  /** Start the worker and its backend ahead of the first request. */
  warmUp(backend: GradientJob["backend"], wasmDir: string): void {
    this.ensure().postMessage({ type: "warmUp", backend, wasmDir } satisfies HostToWorker);
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
    const current = this.current;
    this.current = null;
    if (current) {
      this.stop();
      current.reject(new CancelledError());
    }
    return true;
  }

  get busy(): boolean {
    return this.pending > 0;
  }

  dispose(): void {
    this.cancel();
    this.stop();
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const worker = this.spawn();
    worker.unref();
    worker.on("exit", () => {
      if (this.worker === worker) this.worker = null;
    });
    this.worker = worker;
    return worker;
  }

  private stop(): void {
    const worker = this.worker;
    this.worker = null;
    if (worker) void worker.terminate();
  }

  private runNow(job: GradientJob): Promise<GradientPair> {
    const worker = this.ensure();
    return new Promise<GradientPair>((resolve, reject) => {
      const cleanup = (): void => {
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
        if (this.current === entry) this.current = null;
      };
      const entry = {
        reject: (err: Error) => {
          cleanup();
          reject(err);
        },
      };
      const onMessage = (m: WorkerToHost): void => {
        if (m.type === "gradients") {
          cleanup();
          resolve(m.pair);
        } else if (m.type === "error") {
          cleanup();
          reject(new Error(m.message));
        }
      };
      const onError = (err: Error): void => {
        cleanup();
        this.stop();
        reject(err);
      };
      const onExit = (code: number): void => {
        cleanup();
        reject(new Error(`gradient-flow worker exited with code ${code}`));
      };
      this.current = entry;
      worker.on("message", onMessage);
      worker.on("error", onError);
      worker.on("exit", onExit);
      worker.postMessage(job);
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

  warmUp(backend: GradientJob["backend"], wasmDir: string): void {
    this.network.warmUp(backend, wasmDir);
    this.twin.warmUp(backend, wasmDir);
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

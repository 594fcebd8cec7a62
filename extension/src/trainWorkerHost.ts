/**
 * Host side of the training worker (./trainWorker.ts, protocol ./pure/workerProtocol.ts): one job at a time. The
 * worker thread stays warm between jobs, so what it started survives: the tfjs backend, and on torch the Python worker
 * with torch imported (a calibration and the run after it share one Python, and a second run starts at its first
 * step). It stops after a while idle. A job ends when its response arrives, or when the worker crashes, exits or is
 * stopped: its promise then rejects once, naming what happened. No vscode here: tested under node.
 */
import type { Worker } from "node:worker_threads";
import { WorkerClient } from "resnet-studio/rpcWorker";
import type { TrainJob, TrainJobResults, TrainWorkerNote, TrainWorkerPush } from "./pure/workerProtocol";

export type TrainJobKind = TrainJob["kind"];

/** Idle time after which the warm worker (and its Python) stops: the torch worker's own idle stop is also 5 min. */
export const TRAIN_WORKER_IDLE_MS = 300_000;

/** Runs training-worker jobs; Train Small Model's calibration takes this interface (trainSmall.ts). */
export interface TrainJobRunner {
  run<K extends TrainJobKind>(
    job: Extract<TrainJob, { kind: K }>,
    onPush?: (push: TrainWorkerPush) => void,
  ): Promise<TrainJobResults[K]>;
}

const ignore = (): void => undefined;

export class TrainWorkerHost implements TrainJobRunner {
  private readonly worker: WorkerClient<TrainJob, TrainJobResults, TrainWorkerPush, TrainWorkerNote>;
  /** The running job (its identity only), and where its pushes go. */
  private current: object | null = null;
  private onPush: (push: TrainWorkerPush) => void = ignore;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  private spawned = 0;
  private thread: Worker | null = null;

  constructor(
    spawn: () => Worker,
    private readonly idleMs = TRAIN_WORKER_IDLE_MS,
  ) {
    this.worker = new WorkerClient<TrainJob, TrainJobResults, TrainWorkerPush, TrainWorkerNote>({
      name: "training worker",
      spawn: () => {
        const worker = spawn();
        // A warm, idle worker never keeps its process alive.
        worker.unref();
        this.thread = worker;
        this.spawned++;
        return worker;
      },
      onPush: (push) => this.onPush(push),
    });
  }

  /** Whether a job is running. */
  get busy(): boolean {
    return this.current !== null;
  }

  /** Worker threads started so far (a warm worker serves several jobs). */
  get threadsStarted(): number {
    return this.spawned;
  }

  /** Runs `job` on the warm worker (stopping any running job first); `onPush` sees what it streams until it ends. */
  async run<K extends TrainJobKind>(
    job: Extract<TrainJob, { kind: K }>,
    onPush: (push: TrainWorkerPush) => void = ignore,
  ): Promise<TrainJobResults[K]> {
    if (this.busy) this.stop();
    this.clearIdle();
    const token = {};
    this.current = token;
    this.onPush = onPush;
    try {
      const answer = this.worker.request(job);
      // Only an idle worker is unreferenced: a process waits for its running job.
      this.thread?.ref();
      return await answer;
    } finally {
      this.thread?.unref();
      if (this.current === token) {
        this.current = null;
        this.onPush = ignore;
        this.idleTimer = setTimeout(() => this.stop(), this.idleMs);
        this.idleTimer.unref();
      }
    }
  }

  /** Asks the running job to stop between steps (it then answers); false when none runs. */
  cancel(): boolean {
    if (!this.busy || !this.worker.running) return false;
    this.worker.notify({ type: "cancel" });
    return true;
  }

  /** Terminates the worker (and its Python): the running job's promise rejects; the next job starts a fresh one. */
  stop(): void {
    this.current = null;
    this.onPush = ignore;
    this.clearIdle();
    void this.worker.stop("the training worker was stopped");
  }

  private clearIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }
}

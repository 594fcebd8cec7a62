/**
 * Host side of the training worker (./trainWorker.ts, protocol ./pure/workerProtocol.ts): one job at a time, each on a
 * fresh worker thread. A job ends when its response arrives, or when the worker crashes, exits or is stopped: its
 * promise then rejects once, naming what happened. No vscode here: tested under node.
 */
import type { Worker } from "node:worker_threads";
import { WorkerClient } from "resnet-studio/rpcWorker";
import type { TrainJob, TrainJobResults, TrainWorkerNote, TrainWorkerPush } from "./pure/workerProtocol";

export type TrainJobKind = TrainJob["kind"];

/** Runs training-worker jobs; Train Small Model's calibration takes this interface (trainSmall.ts). */
export interface TrainJobRunner {
  run<K extends TrainJobKind>(
    job: Extract<TrainJob, { kind: K }>,
    onPush?: (push: TrainWorkerPush) => void,
  ): Promise<TrainJobResults[K]>;
}

export class TrainWorkerHost implements TrainJobRunner {
  private current: WorkerClient<TrainJob, TrainJobResults, TrainWorkerPush, TrainWorkerNote> | null = null;

  constructor(private readonly spawn: () => Worker) {}

  /** Whether a job is running. */
  get busy(): boolean {
    return this.current !== null;
  }

  /** Runs `job` on a new worker (stopping any running job); `onPush` sees what it streams until it ends. */
  async run<K extends TrainJobKind>(
    job: Extract<TrainJob, { kind: K }>,
    onPush: (push: TrainWorkerPush) => void = () => undefined,
  ): Promise<TrainJobResults[K]> {
    this.stop();
    const worker = new WorkerClient<TrainJob, TrainJobResults, TrainWorkerPush, TrainWorkerNote>({
      name: "training worker",
      spawn: this.spawn,
      onPush,
    });
    this.current = worker;
    try {
      return await worker.request(job);
    } finally {
      if (this.current === worker) this.current = null;
      void worker.stop("the job has ended");
    }
  }

  /** Asks the running job to stop between steps (it then answers); false when none runs. */
  cancel(): boolean {
    if (!this.current?.running) return false;
    this.current.notify({ type: "cancel" });
    return true;
  }

  /** Terminates the running job's worker; its promise rejects. */
  stop(): void {
    const worker = this.current;
    this.current = null;
    void worker?.stop("the training worker was stopped");
  }
}

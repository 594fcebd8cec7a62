/** Messages of a training worker (extension/src/trainWorker.ts) as tests see them. */
import type { Worker } from "node:worker_threads";
import type { WorkerToHost } from "../extension/src/pure/workerProtocol";

/** Every message `worker` posts until `done` accepts one; rejects when the worker fails or exits first. */
export function collect(worker: Worker, done: (m: WorkerToHost) => boolean): Promise<WorkerToHost[]> {
  const seen: WorkerToHost[] = [];
  return new Promise((resolve, reject) => {
    worker.on("message", (m: WorkerToHost) => {
      seen.push(m);
      if (done(m)) resolve(seen);
    });
    worker.on("error", reject);
    worker.on("exit", (code) =>
      reject(new Error(`worker exited (${code}) after ${JSON.stringify(seen.map((s) => s.type))}`)),
    );
  });
}

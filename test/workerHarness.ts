/** The extension's training worker (extension/src/trainWorker.ts) as tests start it, and what it pushes. */
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import type { TrainingEvent } from "../model-core/src/protocol";
import type { TrainWorkerPush } from "../extension/src/pure/workerProtocol";

const root = join(__dirname, "..");
const SOURCE_WORKER = join(root, "extension", "src", "trainWorker.ts");
/** The worker as the extension ships it (esbuild bundle, every tfjs backend inside; needs `npm run build`). */
export const BUNDLED_WORKER = join(root, "dist", "trainWorker.js");

/** The worker from source on the cpu backend (worker threads take no .ts entry: tsx's require hook first). */
export function spawnSourceWorker(): Worker {
  return new Worker(`require("tsx/cjs"); require(${JSON.stringify(SOURCE_WORKER)});`, {
    eval: true,
    env: { ...process.env, RESNET_STUDIO_BACKEND: "cpu" },
  });
}

export function spawnBundledWorker(): Worker {
  return new Worker(BUNDLED_WORKER);
}

/** The training events among `pushes`. */
export function trainingEvents(pushes: TrainWorkerPush[]): TrainingEvent[] {
  return pushes.flatMap((m): TrainingEvent[] => (m.type === "training" ? [m.event] : []));
}

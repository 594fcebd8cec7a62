/**
 * Host side of the spec worker (./specWorker.ts): one worker thread, requests answered in order. The reader's budget
 * (model-core/src/parser/budget.ts) bounds the work deterministically; the worker adds what a budget can't promise on
 * the host's thread: a memory cap, and a time limit after which the worker is replaced and the spec gets a diagnostic.
 * Measured CPU per analysis (2-core machine under load): hostile fixtures ≤ 160 ms, a 10,000-block spec ≈ 750 ms,
 * which is why analysis does not run on the host's thread at all. No vscode import: tested under node.
 */
import { Worker, type ResourceLimits } from "node:worker_threads";
import { RpcError } from "resnet-studio/rpc";
import { WorkerClient } from "resnet-studio/rpcWorker";
import type { SpecAnalysis } from "./pure/specDocument";
import type { SpecRequestBody, SpecResults } from "./pure/specProtocol";
import { failedAnalysis } from "resnet-studio/specAnalysis";

export interface SpecAnalysisOptions {
  /** An analysis taking longer than this is abandoned (the worker restarts). */
  timeoutMs: number;
  resourceLimits?: ResourceLimits;
}

/** How to start the worker: a built script, or source run through tsx (tests). */
export type WorkerEntry = { filename: string; eval: boolean };

/** A heap of 512 MiB holds the largest allowed graph (10,000 blocks) several times over. */
const DEFAULT_LIMITS: ResourceLimits = { maxOldGenerationSizeMb: 512 };

/** One request in the worker at a time, so each one's time limit covers only its own analysis. Never rejects. */
export class SpecAnalysisClient {
  private readonly worker: WorkerClient<SpecRequestBody, SpecResults>;
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;

  constructor(
    entry: WorkerEntry,
    private readonly options: SpecAnalysisOptions,
  ) {
    this.worker = new WorkerClient({
      name: "spec worker",
      spawn: () => {
        const worker = new Worker(entry.filename, {
          eval: entry.eval,
          resourceLimits: options.resourceLimits ?? DEFAULT_LIMITS,
        });
        worker.unref();
        return worker;
      },
    });
  }

  /** The analysis of `text`, or one located diagnostic saying why there is none. */
  analyze(text: string, file: string): Promise<SpecAnalysis> {
    const next = this.queue.then(() => this.analyzeNow(text, file));
    this.queue = next;
    return next;
  }

  dispose(): void {
    this.disposed = true;
    void this.worker.stop("was stopped");
  }

  private async analyzeNow(text: string, file: string): Promise<SpecAnalysis> {
    if (this.disposed) return failedAnalysis(file, "ResNet Studio stopped before analyzing this spec");
    try {
      return await this.worker.request({ kind: "analyze", text, file }, { timeoutMs: this.options.timeoutMs });
    } catch (err) {
      // A timeout has replaced the worker (it may be stuck); a lost worker (out of memory, crashed, missing script)
      // is started again by the next request.
      const why =
        err instanceof RpcError && err.reason === "timeout"
          ? `took longer than ${this.options.timeoutMs} ms`
          : this.disposed
            ? "was stopped"
            : `failed: ${err instanceof Error ? err.message : String(err)}`;
      return failedAnalysis(file, `ResNet Studio's analysis of this spec ${why}; simplify the spec`);
    }
  }
}

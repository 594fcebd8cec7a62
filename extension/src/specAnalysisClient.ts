/**
 * Host side of the spec worker (./specWorker.ts): one worker thread, requests answered in order. The reader's budget
 * (model-core/src/parser/budget.ts) bounds the work deterministically; the worker adds what a budget can't promise on
 * the host's thread: a memory cap, and a time limit after which the worker is replaced and the spec gets a diagnostic.
 * Measured CPU per analysis (2-core machine under load): hostile fixtures ≤ 160 ms, a 10,000-block spec ≈ 750 ms,
 * which is why analysis does not run on the host's thread at all. No vscode import: tested under node.
 */
import { Worker, type ResourceLimits } from "node:worker_threads";
import type { SpecAnalysis } from "./pure/specDocument";
import { failedAnalysis } from "resnet-studio/specAnalysis";

export interface SpecRequest {
  id: number;
  text: string;
  file: string;
}

export interface SpecReply {
  id: number;
  analysis: SpecAnalysis;
}

export interface SpecAnalysisOptions {
  /** An analysis taking longer than this is abandoned (the worker restarts). */
  timeoutMs: number;
  resourceLimits?: ResourceLimits;
}

/** How to start the worker: a built script, or source run through tsx (tests). */
export type WorkerEntry = { filename: string; eval: boolean };

/** A heap of 512 MiB holds the largest allowed graph (10,000 blocks) several times over. */
const DEFAULT_LIMITS: ResourceLimits = { maxOldGenerationSizeMb: 512 };

interface Job {
  request: SpecRequest;
  resolve: (analysis: SpecAnalysis) => void;
}

/** One request in the worker at a time, so each one's time limit covers only its own analysis. */
export class SpecAnalysisClient {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly queue: Job[] = [];
  private current: { job: Job; timer: ReturnType<typeof setTimeout> } | null = null;

  constructor(
    private readonly entry: WorkerEntry,
    private readonly options: SpecAnalysisOptions,
  ) {}

  analyze(text: string, file: string): Promise<SpecAnalysis> {
    return new Promise((resolve) => {
      this.queue.push({ request: { id: this.nextId++, text, file }, resolve });
      this.pump();
    });
  }

  dispose(): void {
    for (const job of this.queue.splice(0))
      job.resolve(failedAnalysis(job.request.file, "ResNet Studio stopped before analyzing this spec"));
    this.abandonCurrent("was stopped");
  }

  private pump(): void {
    if (this.current) return;
    const job = this.queue.shift();
    if (!job) return;
    const timer = setTimeout(() => {
      this.abandonCurrent(`took longer than ${this.options.timeoutMs} ms`);
      this.pump();
    }, this.options.timeoutMs);
    this.current = { job, timer };
    try {
      this.started().postMessage(job.request);
    } catch (err) {
      // E.g. the worker script is missing from the install: say so on the spec instead of never answering.
      this.abandonCurrent(`could not start: ${err instanceof Error ? err.message : String(err)}`);
      this.pump();
    }
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(this.entry.filename, {
      eval: this.entry.eval,
      resourceLimits: this.options.resourceLimits ?? DEFAULT_LIMITS,
    });
    worker.on("message", (reply: SpecReply) => {
      const current = this.current;
      if (!current || current.job.request.id !== reply.id) return;
      clearTimeout(current.timer);
      this.current = null;
      current.job.resolve(reply.analysis);
      this.pump();
    });
    const lost = (why: string) => {
      if (this.worker !== worker) return;
      this.abandonCurrent(why);
      this.pump();
    };
    worker.on("error", (err) => lost(`failed: ${err.message}`));
    worker.on("exit", () => lost("stopped unexpectedly (out of memory?)"));
    worker.unref();
    this.worker = worker;
    return worker;
  }

  /** Answer the request in the worker with a diagnostic and drop the worker; the next request starts a fresh one. */
  private abandonCurrent(why: string): void {
    const worker = this.worker;
    this.worker = null;
    const current = this.current;
    this.current = null;
    if (current) {
      clearTimeout(current.timer);
      current.job.resolve(
        failedAnalysis(current.job.request.file, `ResNet Studio's analysis of this spec ${why}; simplify the spec`),
      );
    }
    void worker?.terminate();
  }
}

/**
 * Host side of the layout worker (./layoutProtocol.ts): posts layout requests, enforces a timeout, and restarts the
 * worker after a timeout or a crash so one bad graph never leaves the diagram stuck. Node only (worker_threads).
 */
import { Worker } from "node:worker_threads";
import type { ModelGraph } from "../analysis/graph";
import { RpcError } from "../rpc";
import { WorkerClient } from "../rpcWorker";
import type { LaidOutGraph } from "./layout";
import type { LayoutRequestBody, LayoutResults } from "./layoutProtocol";
import type { ExpansionState } from "./view";

export interface LayoutClient {
  /** Lay out in the worker; `options.timeoutMs` overrides the client's timeout for this request. */
  layout(graph: ModelGraph, expansion: ExpansionState, options?: { timeoutMs?: number }): Promise<LaidOutGraph>;
  dispose(): void;
}

export interface LayoutClientOptions {
  /** Reject a layout that takes longer than this (default 10 s); the worker is then restarted. */
  timeoutMs?: number;
  /** Extra execArgv for the worker (e.g. ["--import", "tsx"] to run the TypeScript entry directly). */
  execArgv?: string[];
}

export class LayoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LayoutError";
  }
}

export function createLayoutClient(workerPath: string, opts: LayoutClientOptions = {}): LayoutClient {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  let disposed = false;
  const worker = new WorkerClient<LayoutRequestBody, LayoutResults>({
    name: "diagram layout worker",
    spawn: () => {
      const w = new Worker(workerPath, { execArgv: opts.execArgv });
      w.unref();
      return w;
    },
  });

  return {
    async layout(graph, expansion, options) {
      const limit = options?.timeoutMs ?? timeoutMs;
      if (disposed) throw new LayoutError("layout client is disposed");
      try {
        return await worker.request({ kind: "layout", graph, expansion }, { timeoutMs: limit });
      } catch (err) {
        if (!(err instanceof RpcError)) throw err;
        if (err.reason === "timeout")
          throw new LayoutError(`diagram layout timed out after ${limit} ms (${graph.nodes?.length ?? 0} nodes)`);
        throw new LayoutError(err.reason === "failed" ? `diagram layout failed: ${err.message}` : err.message);
      }
    },
    dispose() {
      disposed = true;
      void worker.stop("layout client disposed");
    },
  };
}

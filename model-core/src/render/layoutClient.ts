/**
 * Host side of the layout worker: posts layout requests, enforces a timeout, and restarts the worker after a
 * timeout or a crash so one bad graph never leaves the diagram stuck. Node only (worker_threads).
 */
import { Worker } from "node:worker_threads";
import type { ModelGraph } from "../analysis/graph";
import type { LaidOutGraph } from "./layout";
import type { ExpansionState } from "./view";
import type { LayoutReply, LayoutRequest } from "./layoutWorker";

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

interface Pending {
  resolve: (laid: LaidOutGraph) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export function createLayoutClient(workerPath: string, opts: LayoutClientOptions = {}): LayoutClient {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  let worker: Worker | null = null;
  let disposed = false;
  let nextId = 1;
  const pending = new Map<number, Pending>();

  const failAll = (message: string) => {
    for (const [id, p] of pending) {
      clearTimeout(p.timer);
      pending.delete(id);
      p.reject(new LayoutError(message));
    }
  };

  const stop = () => {
    const w = worker;
    worker = null;
    if (w) {
      w.removeAllListeners();
      w.on("error", () => undefined);
      void w.terminate();
    }
  };

  const start = (): Worker => {
    if (worker) return worker;
    const w = new Worker(workerPath, { execArgv: opts.execArgv });
    w.unref();
    w.on("message", (reply: LayoutReply) => {
      const p = pending.get(reply.id);
      if (!p) return;
      pending.delete(reply.id);
      clearTimeout(p.timer);
      if (reply.ok) p.resolve(reply.laid);
      else p.reject(new LayoutError(`diagram layout failed: ${reply.error}`));
    });
    w.on("error", (err) => {
      if (worker !== w) return;
      stop();
      failAll(`diagram layout worker crashed: ${err.message}`);
    });
    w.on("exit", (code) => {
      if (worker !== w) return;
      worker = null;
      failAll(`diagram layout worker exited (code ${code})`);
    });
    worker = w;
    return w;
  };

  return {
    layout(graph, expansion, options) {
      const limit = options?.timeoutMs ?? timeoutMs;
      if (disposed) return Promise.reject(new LayoutError("layout client is disposed"));
      return new Promise<LaidOutGraph>((resolve, reject) => {
        const id = nextId++;
        const timer = setTimeout(() => {
          if (!pending.has(id)) return;
          pending.delete(id);
          // The worker may be stuck in elkjs: replace it; other requests in flight fail with it.
          stop();
          failAll("diagram layout worker restarted after a timeout");
          reject(new LayoutError(`diagram layout timed out after ${limit} ms (${graph.nodes?.length ?? 0} nodes)`));
        }, limit);
        pending.set(id, { resolve, reject, timer });
        try {
          const request: LayoutRequest = { id, graph, expansion };
          start().postMessage(request);
        } catch (err) {
          clearTimeout(timer);
          pending.delete(id);
          reject(
            new LayoutError(
              `could not send the graph to the layout worker: ${err instanceof Error ? err.message : String(err)}`,
            ),
          );
        }
      });
    },
    dispose() {
      disposed = true;
      stop();
      failAll("layout client disposed");
    },
  };
}

/**
 * worker_threads entry: lays out diagrams off the extension host's main thread. Built to
 * model-core/dist/layoutWorker.cjs; the extension's own worker entry may import this module.
 * Protocol: request { id, graph, expansion } → reply { id, ok: true, laid } | { id, ok: false, error }.
 */
import { isMainThread, parentPort, type MessagePort } from "node:worker_threads";
import type { ModelGraph } from "../analysis/graph";
import { layoutView, warmUpLayout, type LaidOutGraph } from "./layout";
import type { ExpansionState } from "./view";

export interface LayoutRequest {
  id: number;
  graph: ModelGraph;
  expansion: ExpansionState;
}

export type LayoutReply = { id: number; ok: true; laid: LaidOutGraph } | { id: number; ok: false; error: string };

/** Answer layout requests arriving on `port`, one at a time, in order. */
export function serveLayoutRequests(port: MessagePort): void {
  // Warm elkjs first; requests queue behind it (a failed warm-up only costs the speed-up).
  let queue: Promise<void> = warmUpLayout().catch(() => undefined);
  port.on("message", (request: LayoutRequest) => {
    queue = queue.then(async () => {
      let reply: LayoutReply;
      try {
        if (!request || typeof request.id !== "number" || !request.graph || !Array.isArray(request.graph.nodes)) {
          throw new Error("malformed layout request (expected { id, graph, expansion })");
        }
        const laid = await layoutView(request.graph, request.expansion ?? { expanded: [] });
        reply = { id: request.id, ok: true, laid };
      } catch (err) {
        reply = {
          id: typeof request?.id === "number" ? request.id : -1,
          ok: false,
          error: err instanceof Error ? err.message : String(err),
        };
      }
      port.postMessage(reply);
    });
  });
}

if (!isMainThread && parentPort) serveLayoutRequests(parentPort);

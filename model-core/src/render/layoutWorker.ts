/**
 * worker_threads entry: lays out diagrams off the extension host's main thread. Built to
 * model-core/dist/layoutWorker.cjs; the extension's own worker entry imports this module.
 * Protocol: ./layoutProtocol.ts (a "layout" request answered with the LaidOutGraph).
 */
import { isMainThread, parentPort, type MessagePort } from "node:worker_threads";
import { serveRequests } from "../rpcWorker";
import { layoutView, warmUpLayout } from "./layout";
import type { LayoutRequestBody, LayoutResults } from "./layoutProtocol";

/** Answer layout requests arriving on `port`, one at a time, in order. */
export function serveLayoutRequests(port: MessagePort): void {
  serveRequests<LayoutRequestBody, LayoutResults>(
    port,
    {
      layout: ({ graph, expansion }) => {
        if (!graph || !Array.isArray(graph.nodes))
          throw new Error("malformed layout request (expected a graph with nodes)");
        return layoutView(graph, expansion ?? { expanded: [] });
      },
    },
    // Warm elkjs first; requests queue behind it (a failed warm-up only costs the speed-up).
    { inOrder: true, after: warmUpLayout() },
  );
}

if (!isMainThread && parentPort) serveLayoutRequests(parentPort);

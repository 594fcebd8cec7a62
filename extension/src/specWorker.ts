/**
 * worker_threads entry (dist/specWorker.js): parses and analyzes spec text off the extension host's thread, so a
 * large or hostile spec never blocks hovers, diagnostics or other extensions while it is read. Protocol:
 * ./pure/specProtocol.ts.
 */
import { parentPort } from "node:worker_threads";
import { serveRequests } from "resnet-studio/rpcWorker";
import { analyzeSpecText } from "./pure/specDocument";
import type { SpecRequestBody, SpecResults } from "./pure/specProtocol";

if (parentPort)
  serveRequests<SpecRequestBody, SpecResults>(parentPort, {
    analyze: ({ text, file }) => analyzeSpecText(text, file),
  });

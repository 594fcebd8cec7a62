/**
 * worker_threads entry (dist/specWorker.js): parses and analyzes spec text off the extension host's thread, so a
 * large or hostile spec never blocks hovers, diagnostics or other extensions while it is read.
 */
import { parentPort } from "node:worker_threads";
import { analyzeSpecText } from "./pure/specDocument";
import type { SpecRequest, SpecReply } from "./specAnalysisClient";

parentPort?.on("message", (request: SpecRequest) => {
  const reply: SpecReply = { id: request.id, analysis: analyzeSpecText(request.text, request.file) };
  parentPort?.postMessage(reply);
});

#!/usr/bin/env node
"use strict";
// Thin launcher: the CLI is bundled by `npm run build` (run automatically by `npm install`).
const path = require("node:path");
const fs = require("node:fs");
const cli = path.join(__dirname, "..", "dist", "cli.cjs");

/** Resolves once everything written to `stream` so far has been handed to the OS (or the reader has gone). */
function flushed(stream) {
  return new Promise((resolve) => {
    if (stream.destroyed || stream.writableEnded) return resolve();
    stream.once("error", resolve);
    stream.write("", resolve);
  });
}

/** process.exit drops what a pipe has not taken yet (a slow reader got 64 KiB of gradflow's JSON), so flush first. */
async function exitFlushed(code) {
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}

if (!fs.existsSync(cli)) {
  process.stderr.write("resnet-studio: not built yet; run `npm run build` at the repository root\n");
  exitFlushed(1);
} else {
  require(cli).main(process.argv.slice(2)).then(exitFlushed);
}

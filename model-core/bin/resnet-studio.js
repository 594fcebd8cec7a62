#!/usr/bin/env node
"use strict";
// Thin launcher: the CLI is bundled by `npm run build` (run automatically by `npm install`).
const path = require("node:path");
const fs = require("node:fs");
const cli = path.join(__dirname, "..", "dist", "cli.cjs");
if (!fs.existsSync(cli)) {
  process.stderr.write("resnet-studio: not built yet; run `npm run build` at the repository root\n");
  process.exit(1);
}
require(cli)
  .main(process.argv.slice(2))
  .then((code) => process.exit(code));

/**
 * The network "Train Small Model" uses when no spec is open: examples/small.resnet.ts, as text so it goes through
 * the same parser as user specs. The build inlines the file into the extension bundle (scripts/bundledExample.mjs),
 * so the installed extension reads no file; run from source (tests), it is read from the repository.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const BUNDLED_SPEC_FILE = "small.resnet.ts";

/** The example's text where esbuild's `define` provides it; undeclared in unbundled runs. */
declare const BUNDLED_EXAMPLE_TEXT: string | undefined;

export const BUNDLED_SPEC_TEXT: string =
  typeof BUNDLED_EXAMPLE_TEXT === "string"
    ? BUNDLED_EXAMPLE_TEXT
    : readFileSync(join(__dirname, "..", "..", "..", "examples", BUNDLED_SPEC_FILE), "utf8");

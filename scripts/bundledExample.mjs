// examples/small.resnet.ts, the network "Train Small Model" falls back to, inlined into the extension bundle as the
// constant BUNDLED_EXAMPLE_TEXT by esbuild's `define` (read by extension/src/pure/bundledSpec.ts): the .vsix ships
// no examples folder, and the sources keep no copy of the text.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const BUNDLED_EXAMPLE = "examples/small.resnet.ts";

/** esbuild `define` entries that inline the example, read from the repository at `root`. */
export function bundledExampleDefine(root) {
  return { BUNDLED_EXAMPLE_TEXT: JSON.stringify(readFileSync(join(root, BUNDLED_EXAMPLE), "utf8")) };
}

/** An inferred spec written as a `.resnet.ts` file: what the weights could not say sits in comments at the top. */
import { formatExactCount } from "../presentation/format";
import { OPTION_KEYS } from "../spec/builders";
import { optionsPropertyLines } from "../edit/spellOut";
import type { InferredSpec } from "./inferSpec";

/** `source` is the weights file as the user named it (quoted in the first comment); `via` how it was read, if not directly. */
export function importedSpecText(inferred: InferredSpec, source: string, via: string | null = null): string {
  const { options } = inferred;
  const keys = OPTION_KEYS.filter((k) => options[k] !== undefined);
  const lines = optionsPropertyLines(options, keys, { indent: "  ", unit: "  ", quote: '"', stage: "stage" });
  const oneLine = (text: string) => text.replace(/[\r\n\u2028\u2029]+/g, " ");
  return [
    `// Inferred from the tensor names and shapes of ${oneLine(source)}${via ? ` (read through ${via})` : ""}.`,
    `// ${formatExactCount(inferred.params)} parameters.`,
    "// Its weights load into this network strictly. Not stored in the weights, so check these:",
    ...inferred.notes.map((note) => `//   - ${oneLine(note)}`),
    `import { resnet, stage } from "resnet-studio";`,
    "",
    "export default resnet({",
    ...lines.map((l) => `${l},`),
    "});",
    "",
  ].join("\n");
}

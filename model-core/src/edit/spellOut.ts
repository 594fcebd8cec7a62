/**
 * A network's options written out as spec source: the properties of `resnet({...})` with one `stage({...})` per
 * line. Used to spell a preset out (editing its stages; "New Spec from Preset").
 */
import { analyze } from "../analysis/analyze";
import { formatCount, formatExactCount, formatShape } from "../presentation/format";
import { normalizeSpec, OPTION_KEYS } from "../spec/builders";
import { presetOptions, type PresetName } from "../spec/presets";
import type { ResNetOptions } from "../spec/types";

export interface IndentStyle {
  /** Leading whitespace of each property line. */
  indent: string;
  /** One level of indentation. */
  unit: string;
  /** `"` or `'`. */
  quote: string;
  /** How the file names the stage builder. */
  stage: string;
}

function literal(value: unknown, quote: string): string {
  if (typeof value === "string") {
    const json = JSON.stringify(value);
    return quote === "'" ? `'${json.slice(1, -1).replace(/'/g, "\\'").replace(/\\"/g, '"')}'` : json;
  }
  if (Array.isArray(value)) return `[${value.map((v) => literal(v, quote)).join(", ")}]`;
  if (typeof value === "object" && value !== null)
    return `{ ${Object.entries(value)
      .map(([k, v]) => `${k}: ${literal(v, quote)}`)
      .join(", ")} }`;
  return String(value);
}

/** One `key: value` per key (no trailing comma), each starting with `style.indent`; stages span several lines. */
export function optionsPropertyLines(
  options: ResNetOptions,
  keys: readonly (keyof ResNetOptions)[],
  style: IndentStyle,
): string[] {
  return keys
    .filter((k) => options[k] !== undefined)
    .map((key) => {
      if (key !== "stages") return `${style.indent}${key}: ${literal(options[key], style.quote)}`;
      const inner = style.indent + style.unit;
      const stages = options.stages.map(
        (s) =>
          `${inner}${style.stage}({ channels: ${s.channels}, blocks: ${s.blocks}${s.stride === undefined ? "" : `, stride: ${s.stride}`} }),`,
      );
      return `${style.indent}stages: [\n${stages.join("\n")}\n${style.indent}]`;
    });
}

/** Parameter count of a preset (its canonical form). */
export function presetParams(name: PresetName): number {
  const { spec } = normalizeSpec(presetOptions(name));
  return spec ? (analyze(spec).graph?.totals.params ?? 0) : 0;
}

/** A commented `.resnet.ts` file that spells preset `name` out as stages, so every part of it can be edited. */
export function presetSpecText(name: PresetName): string {
  const options = presetOptions(name)!;
  const { spec } = normalizeSpec(options);
  const graph = spec ? analyze(spec).graph : null;
  const totals = graph
    ? `${formatExactCount(graph.totals.params)} parameters, ${formatCount(graph.totals.macs)} MACs at ${options.input ? formatShape(options.input) : "3×224×224"}`
    : "";
  const keys = OPTION_KEYS.filter((k) => options[k] !== undefined);
  const lines = optionsPropertyLines(options, keys, { indent: "  ", unit: "  ", quote: '"', stage: "stage" });
  const stageNote = `// stage({ channels, blocks, stride }): channels is torchvision's planes (a block outputs channels × ${options.block === "bottleneck" ? 4 : 1}); stride applies to the stage's first block.`;
  return [
    `// ${name} spelled out from presets.${name}${totals ? ` (${totals})` : ""}.`,
    "// Change any stage or option: the diagram, hovers and diagnostics follow as you type.",
    `import { resnet, stage } from "resnet-studio";`,
    "",
    stageNote,
    "export default resnet({",
    ...lines.map((l) => `${l},`),
    "});",
    "",
  ].join("\n");
}

/**
 * The public spec API users import from "resnet-studio" in `.resnet.ts` files: the entry of the declaration file the
 * extension ships (dist/types/resnet-studio.d.ts, see build.mjs here). Only what a spec can use: the builders the
 * static parser evaluates (resnet, stage, presets) and the option types. Nothing here may reach tfjs or node types.
 */
export type * from "../../model-core/src/spec/types";
export { resnet, stage } from "../../model-core/src/spec/builders";
export { presets, type PresetName } from "../../model-core/src/spec/presets";

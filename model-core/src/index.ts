/** The `resnet-studio` package: the spec language users import in `.resnet.ts` files, plus the pure analysis. */
export * from "./spec/types";
export * from "./diagnostics";
export * from "./spec/sources";
export * from "./analysis/graph";
export * from "./analysis/gradflow";
export * from "./analysis/memory";
export * from "./spec/builders";
export * from "./spec/presets";
export * from "./analysis/layers";
export * from "./analysis/analyze";
export * from "./parser/index";
export * from "./render/index";
export { createLayoutClient, LayoutError } from "./render/layoutClient";
export type { LayoutClient, LayoutClientOptions } from "./render/layoutClient";
export * from "./protocol";
export * from "./runtime/trainTypes";

/**
 * The diagram: view model (what is expanded), elkjs layout, and the pure SVG renderer with overlays.
 * No DOM and no tfjs here, so the extension host, a worker, the webview and the CLI all share it.
 */
export { initialExpansion, toggleExpansion, buildView, opLabel, MODEL_GROUP_ID } from "./view";
export type { ExpandLevel, ExpansionState, GraphView, ViewUnit, ViewContainer, ViewEdge } from "./view";
export { layoutView, clearLayoutCache, warmUpLayout, unitSize, NODE_SIZE, ADD_GLYPH } from "./layout";
export type { LaidOutNode, LaidOutEdge, LaidOutContainer, LaidOutGraph, LaidOutShortcut } from "./layout";
export { renderSvg, renderLegendSvg, escapeXml, memoryOverlayData, NO_OVERLAYS, DEFAULT_OVERLAYS } from "./svg";
export type { OverlayOptions, RenderOptions, Viewport, MemoryOverlayData } from "./svg";
export { heatLegend, shortcutShare, buildGradientIndex, type GradientIndex } from "./overlays";
export { shortcutArcs, shortcutKind, type ShortcutArcSpec, type ShortcutKind } from "./shortcuts";
// Formatting and colour scales are defined in ../presentation/; re-exported for the renderer's callers.
export { logScale, heatColor, logHeatScale, type HeatScale, type LogScale } from "../presentation/colors";
export { formatShape, formatCount, formatExactCount, formatNorm, formatBytes } from "../presentation/format";

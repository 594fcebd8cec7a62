/**
 * Gradients over training: a depth × step heatmap of ‖dL/dx‖ at each block's input, one column per gradient
 * snapshot that training takes (after every epoch), on the shared log viridis scale. Pure: returns SVG text.
 */
import type { GradientFlowResult } from "resnet-studio/analysis/gradflow";
import { heatLegend } from "resnet-studio/render/overlays";
import { logHeatScale } from "resnet-studio/presentation/colors";
import { formatNorm } from "resnet-studio/presentation/format";
import { alignSeries } from "./blockSeries";

/** Smallest cells (many epochs, deep networks); few epochs and blocks get larger cells up to the maxima. */
const MIN_CELL_W = 28;
const MAX_CELL_W = 120;
const MIN_CELL_H = 12;
const MAX_CELL_H = 26;
/** The grid's target size: a 3-epoch run of ResNet-20 (9 blocks) fills it instead of 84 × 108 px. */
const GRID_WIDTH = 480;
const GRID_HEIGHT = 240;
const LEFT = 70;
const TOP = 8;

export interface Heatmap {
  svg: string;
  /** Columns (snapshots) and rows (blocks) drawn. */
  steps: number;
  blocks: number;
}

/** `snapshots[i]` is the gradient flow after epoch i (null when that epoch took none). */
export function gradientHeatmap(snapshots: readonly (GradientFlowResult | null)[]): Heatmap {
  const taken = snapshots
    .map((g, epoch) => ({ g, epoch }))
    .filter((x): x is { g: GradientFlowResult; epoch: number } => x.g !== null);
  if (taken.length === 0) return { svg: "", steps: 0, blocks: 0 };
  const { blocks, series } = alignSeries(taken.map((t) => t.g));
  const scale = logHeatScale(series.flat().map((v) => v ?? 0));
  const CELL_W = Math.round(Math.min(MAX_CELL_W, Math.max(MIN_CELL_W, GRID_WIDTH / taken.length)));
  const CELL_H = Math.round(Math.min(MAX_CELL_H, Math.max(MIN_CELL_H, GRID_HEIGHT / Math.max(1, blocks.length))));
  const rowStep = Math.max(1, Math.ceil((blocks.length * MIN_CELL_H) / (24 * CELL_H)));
  const cells: string[] = [];
  const labels: string[] = [];
  series.forEach((column, x) => {
    column.forEach((value, y) => {
      if (value === null) return;
      cells.push(
        `<rect class="rs-heat-cell" x="${LEFT + x * CELL_W}" y="${TOP + y * CELL_H}" width="${CELL_W - 1}" height="${CELL_H - 1}" fill="${scale.color(value)}" data-block="${blocks[y]}" data-epoch="${taken[x].epoch + 1}"><title>${blocks[y]} after epoch ${taken[x].epoch + 1}: ‖dL/dx‖ ${formatNorm(value)}</title></rect>`,
      );
    });
    labels.push(
      `<text class="rs-sub" x="${LEFT + x * CELL_W + CELL_W / 2}" y="${TOP + blocks.length * CELL_H + 12}" text-anchor="middle">${taken[x].epoch + 1}</text>`,
    );
  });
  blocks.forEach((b, y) => {
    if (y % rowStep === 0)
      labels.push(
        `<text class="rs-sub" x="${LEFT - 6}" y="${TOP + y * CELL_H + CELL_H - 2}" text-anchor="end">${b}</text>`,
      );
  });
  const gridBottom = TOP + blocks.length * CELL_H + 18;
  const width = Math.max(LEFT + taken.length * CELL_W + 8, 560);
  const height = gridBottom + 40;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" class="rs-heatmap" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" data-steps="${taken.length}" data-blocks="${blocks.length}">` +
    `<style>.rs-sub{fill:var(--vscode-descriptionForeground, #9d9d9d);font-size:11px}</style>` +
    cells.join("") +
    labels.join("") +
    `<text class="rs-sub" x="${LEFT}" y="${gridBottom + 2}">epoch →  (block input side at the top)</text>` +
    heatLegend(scale, "‖dL/dx‖ at block input", LEFT, gridBottom + 12, formatNorm) +
    `</svg>`;
  return { svg, steps: taken.length, blocks: blocks.length };
}

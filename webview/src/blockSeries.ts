/**
 * The finding of He et al. 2015 in one picture: ‖dL/dx‖ at each residual block's input, block by block, for the
 * network and its plain twin (and both without BN). Read from a gradient-flow result alone, so the plain twin's
 * result needs no graph: node ids follow torchvision's paths ("layer2.0.conv1") and come in topological order,
 * so a block's input gradient is that of the last node before the block's first node.
 */
import type { GradientFlowResult } from "resnet-studio/analysis/gradflow";

export interface BlockSeries {
  /** Block ids ("layer1.0"), input side first. */
  blocks: string[];
  /** ‖dL/dx‖₂ at each block's input. */
  values: number[];
}

const BLOCK_OF = /^(layer\d+\.\d+)\./;

export function blockInputSeries(result: GradientFlowResult): BlockSeries {
  const blocks: string[] = [];
  const values: number[] = [];
  let previous: number | null = null;
  const seen = new Set<string>();
  for (const node of result.nodes) {
    const block = BLOCK_OF.exec(node.id)?.[1];
    if (block && !seen.has(block)) {
      seen.add(block);
      if (previous !== null) {
        blocks.push(block);
        values.push(previous);
      }
    }
    previous = node.activation.l2;
  }
  return { blocks, values };
}

/** One series per result, aligned on the first result's blocks (a missing block is a gap). */
export function alignSeries(results: readonly GradientFlowResult[]): { blocks: string[]; series: (number | null)[][] } {
  const all = results.map(blockInputSeries);
  const blocks = all[0]?.blocks ?? [];
  return {
    blocks,
    series: all.map((s) => {
      const byBlock = new Map(s.blocks.map((b, i) => [b, s.values[i]] as const));
      return blocks.map((b) => byBlock.get(b) ?? null);
    }),
  };
}

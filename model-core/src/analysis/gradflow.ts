/**
 * What one forward/backward pass reports about gradients, as plain data (no tfjs), so the CLI, the
 * diagram overlay and the webview all read the same shape. Node ids are the graph IR's.
 */

/** Statistics of one gradient tensor. */
export interface TensorStats {
  l2: number;
  meanAbs: number;
  maxAbs: number;
}

export interface NodeGradient {
  id: string;
  /** dL/d(output of this node), over the whole batch. */
  activation: TensorStats;
  /** Per parameter of the node ("weight", "bias", "gamma", "beta"), its gradient. */
  params: Record<string, TensorStats>;
}

/** At a residual Add: how much gradient (L2 norm) reaches it through each input. */
export interface AddSplit {
  /** The Add node's id, e.g. "layer2.0.add". */
  id: string;
  block: string;
  /** ‖dL/d(shortcut input)‖₂, the identity path (or its projection / padding). */
  identity: number;
  /** ‖dL/d(residual branch output)‖₂. */
  residual: number;
  /**
   * ‖gradient reaching the block's input through the residual branch‖₂, measured where the shortcut forks off,
   * so it compares directly with `identity` (measured at the same tensor). Optional in results saved before it existed.
   */
  residualAtInput?: number;
}

export interface GradientFlowResult {
  model: string;
  backend: string;
  batch: number;
  loss: number;
  nodes: NodeGradient[];
  adds: AddSplit[];
  /** ‖dL/dx‖ at the first block's input over ‖dL/dx‖ at the last block's output: >1 grows toward the input, <1 vanishes. */
  ratio: { firstBlockInput: number; lastBlockOutput: number; value: number };
  millis: number;
}

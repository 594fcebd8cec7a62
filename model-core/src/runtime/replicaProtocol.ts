/**
 * Messages between the data-parallel trainer (parallel.ts, the thread that owns the model) and its replica worker
 * threads (replicaWorker.ts). Bulk data (gradients, BN statistics) goes through one SharedArrayBuffer laid out as
 * described by `sharedLayout`; messages carry control, the replica's share of the batch and scalars.
 */
import type { ModelGraph } from "../analysis/graph";
import type { OptimizerName } from "./trainTypes";

/** Plain-data optimiser settings (OptimizerOptions with the decayed set as an array). */
export interface ReplicaOptimizerSettings {
  kind: OptimizerName;
  momentum: number;
  weightDecay: number;
  decayed: string[];
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

export interface ReplicaInit {
  type: "init";
  graph: ModelGraph;
  seed: number;
  backend: string;
  /** This replica's slot in the shared buffer (1-based: slot 0 is the owning thread's). */
  slot: number;
  replicas: number;
  shared: SharedArrayBuffer;
  paramNames: string[];
  bufferNames: string[];
  optimizer: ReplicaOptimizerSettings;
  optimizerStep: number;
  /** Exact starting values, so every replica begins bit-identical to the owner (fresh or resumed). */
  params: Float32Array[];
  buffers: Float32Array[];
  /** Optimiser slots in Optimizer.stateTensors() order. */
  optimizerState: Float32Array[];
}

/** Forward + backward on this replica's share; gradients and BN statistics go to the replica's shared slot. */
export interface ReplicaStep {
  type: "step";
  pixels: Float32Array;
  labels: Int32Array;
  count: number;
}

/** Take the averaged BN statistics and (when `update`) apply the averaged gradients, both from the shared buffer. */
export interface ReplicaApply {
  type: "apply";
  lr: number;
  update: boolean;
}

/** Reply with the replica's parameters, buffers and optimiser state (tests check replicas stay identical). */
export interface ReplicaSnapshotRequest {
  type: "snapshot";
}

export type ReplicaRequest = ReplicaInit | ReplicaStep | ReplicaApply | ReplicaSnapshotRequest;

export type ReplicaReply =
  | { type: "ready"; numTensors: number }
  | { type: "stepped"; loss: number; correct: number; numTensors: number }
  | {
      type: "snapshot";
      params: Float32Array[];
      buffers: Float32Array[];
      optimizerState: Float32Array[];
      numTensors: number;
    }
  | { type: "error"; message: string };

export interface SharedLayout {
  paramSizes: number[];
  bufferSizes: number[];
  paramTotal: number;
  bufferTotal: number;
  /** Per-slot gradient region, then the averaged gradients, then per-slot BN buffers, then the averaged buffers. */
  gradOffset(slot: number): number;
  averagedGradOffset: number;
  bufferOffset(slot: number): number;
  averagedBufferOffset: number;
  totalFloats: number;
}

export function sharedLayout(paramSizes: number[], bufferSizes: number[], replicas: number): SharedLayout {
  const paramTotal = paramSizes.reduce((a, b) => a + b, 0);
  const bufferTotal = bufferSizes.reduce((a, b) => a + b, 0);
  const buffersStart = (replicas + 1) * paramTotal;
  return {
    paramSizes,
    bufferSizes,
    paramTotal,
    bufferTotal,
    gradOffset: (slot) => slot * paramTotal,
    averagedGradOffset: replicas * paramTotal,
    bufferOffset: (slot) => buffersStart + slot * bufferTotal,
    averagedBufferOffset: buffersStart + replicas * bufferTotal,
    totalFloats: buffersStart + (replicas + 1) * bufferTotal,
  };
}

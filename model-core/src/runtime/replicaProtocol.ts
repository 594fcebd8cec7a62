/**
 * Messages between the data-parallel trainer (parallel.ts, the thread that owns the model) and its replica worker
 * threads (replicaWorker.ts), on ../rpc.ts. Bulk data (gradients, BN statistics) goes through one SharedArrayBuffer laid
 * out as described by `sharedLayout`; messages carry control, the replica's share of the batch and scalars.
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

/** Requests from the owner to a replica (../rpc.ts); each gets one response, answered in arrival order. */
export type ReplicaRequest =
  /** Build the replica's model and optimiser from the owner's exact values and attach the shared buffer. */
  | {
      kind: "init";
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
  | { kind: "step"; pixels: Float32Array; labels: Int32Array; count: number }
  /** The replica's parameters, buffers and optimiser state (tests check replicas stay identical). */
  | { kind: "snapshot" };

/** What each request's response carries; `numTensors` is the replica's tf.memory().numTensors after it. */
export interface ReplicaResults {
  init: { numTensors: number };
  step: { loss: number; correct: number; numTensors: number };
  snapshot: {
    params: Float32Array[];
    buffers: Float32Array[];
    optimizerState: Float32Array[];
    numTensors: number;
  };
}

/** Notifications from the owner: no response, taken in order with the requests. */
export type ReplicaNote =
  /** Take the averaged BN statistics and (when `update`) apply the averaged gradients, both from the shared buffer.
   *  Unanswered so the owner never waits on it; it lands before the next "step" because messages are taken in order. */
  { type: "apply"; lr: number; update: boolean };

/** Pushes from a replica: its only one says that a notification failed, so the replica is no longer the owner's twin. */
export type ReplicaPush =
  /** An "apply" failed; the owner fails what is in flight and stops using the replica. */
  { type: "failed"; message: string };

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

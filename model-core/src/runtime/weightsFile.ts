/**
 * Trained weights from any safetensors file with torchvision's state_dict names: a full ResNet Studio checkpoint
 * (optimiser slots and metadata), or a weights-only state_dict as torchvision's models, the exported module's
 * `state_dict()` or other writers save it (no metadata, no optimiser). Either is checked name by name and shape by
 * shape against the network, and every mismatch is listed with its layer, so a wrong file says what is wrong.
 */
import { existsSync } from "node:fs";
import * as tf from "@tensorflow/tfjs-core";
import type { ModelGraph } from "../analysis/graph";
import { readRegularFile } from "../safeFiles";
import { formatExactCount, formatShape } from "../presentation/format";
import {
  CHECKPOINT_FORMAT,
  CheckpointError,
  MAX_CHECKPOINT_BYTES,
  assertSameSpec,
  checkTensorValues,
  decodeSafetensors,
  fromTorchLayout,
  readCheckpoint,
  resolveCheckpointPath,
  tfShapeOf,
  type Checkpoint,
  type StoredTensor,
  type WeightHolder,
} from "./checkpoint";

/** Weights read from a file: the full checkpoint when the file is one, else a plain state_dict. */
export interface LoadedWeights {
  path: string;
  tensors: Map<string, StoredTensor>;
  /** Null for a weights-only state_dict. */
  checkpoint: Checkpoint | null;
}

/** How many mismatch lines a message lists before "and N more": enough to see a pattern, short enough to read. */
export const MISMATCH_LIST_CAP = 20;

/** Reads a checkpoint or a weights-only state_dict (a file, or a folder holding checkpoint.safetensors). */
export function readWeights(path: string): LoadedWeights {
  const file = resolveCheckpointPath(path);
  if (!existsSync(file)) throw new CheckpointError(`${file}: no checkpoint there`);
  if (/\.(pt|pth|bin|ckpt)$/i.test(file))
    throw new CheckpointError(
      `${file}: a pickled PyTorch file; ResNet Studio reads safetensors only (never a pickle). Save it with the exported module's write_safetensors(path, net.state_dict(), {})`,
    );
  let bytes: Buffer;
  try {
    bytes = readRegularFile(file, MAX_CHECKPOINT_BYTES, "checkpoint");
  } catch (err) {
    throw new CheckpointError(err instanceof Error ? err.message : String(err));
  }
  const { metadata, tensors } = decodeSafetensors(bytes, file, { weightsOnly: true });
  if (metadata.format === CHECKPOINT_FORMAT) {
    const checkpoint = readCheckpoint(file); // every metadata field checked as a resume would
    return { path: checkpoint.path, tensors: checkpoint.tensors, checkpoint };
  }
  checkTensorValues(tensors, file);
  return { path: file, tensors, checkpoint: null };
}

/** The state_dict a network has, name → PyTorch shape (conv OIHW, fc [out, in]), num_batches_tracked included. */
export function expectedStateDict(graph: ModelGraph): Map<string, number[]> {
  const expected = new Map<string, number[]>();
  for (const node of graph.nodes) {
    const op = node.op;
    if (op.kind === "conv") {
      expected.set(`${node.id}.weight`, [op.outChannels, op.inChannels / op.groups, op.kernel, op.kernel]);
      if (op.bias) expected.set(`${node.id}.bias`, [op.outChannels]);
    } else if (op.kind === "batchnorm") {
      for (const name of ["weight", "bias", "running_mean", "running_var"])
        expected.set(`${node.id}.${name}`, [op.channels]);
      expected.set(`${node.id}.num_batches_tracked`, []);
    } else if (op.kind === "fc") {
      expected.set(`${node.id}.weight`, [op.outFeatures, op.inFeatures]);
      expected.set(`${node.id}.bias`, [op.outFeatures]);
    }
  }
  return expected;
}

export interface WeightMismatch {
  /** The module path: `layer2.0.conv1` for `layer2.0.conv1.weight`. */
  layer: string;
  tensor: string;
  problem: "missing" | "unexpected" | "shape";
  /** PyTorch layout; null where that side has no such tensor. */
  fileShape: number[] | null;
  modelShape: number[] | null;
}

const layerOf = (tensor: string): string => tensor.slice(0, Math.max(0, tensor.lastIndexOf("."))) || tensor;

/**
 * Every difference between the file's model tensors and the network's state_dict, in the network's order (then the
 * file's extras). Optimiser slots are not model tensors; a missing num_batches_tracked is no mismatch (it only
 * counts batches, and other writers drop it).
 */
export function weightMismatches(tensors: Map<string, StoredTensor>, graph: ModelGraph): WeightMismatch[] {
  const expected = expectedStateDict(graph);
  const out: WeightMismatch[] = [];
  for (const [name, shape] of expected) {
    const stored = tensors.get(name);
    if (!stored) {
      if (!name.endsWith(".num_batches_tracked"))
        out.push({ layer: layerOf(name), tensor: name, problem: "missing", fileShape: null, modelShape: shape });
    } else if (stored.shape.join(",") !== shape.join(",")) {
      out.push({ layer: layerOf(name), tensor: name, problem: "shape", fileShape: stored.shape, modelShape: shape });
    }
  }
  for (const [name, stored] of tensors) {
    if (expected.has(name) || name.startsWith("optimizer.")) continue;
    out.push({ layer: layerOf(name), tensor: name, problem: "unexpected", fileShape: stored.shape, modelShape: null });
  }
  return out;
}

const shapeText = (shape: number[] | null): string => (shape ? formatShape(shape) : "none");

const leaf = (m: WeightMismatch): string => m.tensor.slice(m.layer.length + 1) || m.tensor;

/**
 * One line per layer and kind of mismatch, naming the layer and the shapes: a layer's missing or extra tensors share
 * a line, each wrong shape gets its own.
 */
export function mismatchLines(mismatches: WeightMismatch[]): string[] {
  const lines: string[] = [];
  let previous: WeightMismatch | null = null;
  for (const m of mismatches) {
    const item = `${leaf(m)} ${shapeText(m.problem === "unexpected" ? m.fileShape : m.modelShape)}`;
    if (previous && m.problem !== "shape" && previous.problem === m.problem && previous.layer === m.layer) {
      lines[lines.length - 1] += `, ${item}`;
    } else if (m.problem === "missing") lines.push(`${m.layer}: missing from the file: ${item}`);
    else if (m.problem === "unexpected") lines.push(`${m.layer}: in the file, not in the network: ${item}`);
    else
      lines.push(
        `${m.layer}: ${leaf(m)} is ${shapeText(m.fileShape)} in the file, ${shapeText(m.modelShape)} in the network`,
      );
    previous = m;
  }
  return lines;
}

/**
 * Refuses weights that do not fit the network, listing up to MISMATCH_LIST_CAP mismatches with their layers. A full
 * checkpoint that fits by shape must also be for the same architecture (its spec hash), since ops without weights
 * (shortcut scaling, gates' wiring, pre-activation order) change what the same tensors compute.
 */
export function assertWeightsFit(weights: LoadedWeights, graph: ModelGraph): void {
  const mismatches = weightMismatches(weights.tensors, graph);
  if (mismatches.length > 0) {
    const lines = mismatchLines(mismatches);
    const listed = lines.slice(0, MISMATCH_LIST_CAP).map((line) => `  ${line}`);
    const more = lines.length - listed.length;
    throw new CheckpointError(
      [
        `${weights.path}: the weights do not fit "${graph.name}": ${formatExactCount(mismatches.length)} ${mismatches.length === 1 ? "mismatch" : "mismatches"}`,
        ...listed,
        ...(more > 0 ? [`  … and ${formatExactCount(more)} more ${more === 1 ? "layer" : "layers"}`] : []),
      ].join("\n"),
    );
  }
  if (weights.checkpoint) assertSameSpec(weights.checkpoint, graph.spec);
}

/** Loads checked weights (parameters and BN statistics) into a tfjs model built from `graph`. */
export function loadWeightsInto(model: WeightHolder & { graph: ModelGraph }, weights: LoadedWeights): void {
  assertWeightsFit(weights, model.graph);
  for (const [name, variable] of [...model.params, ...model.buffers]) {
    const stored = weights.tensors.get(name)!;
    if (stored.dtype !== "F32")
      throw new CheckpointError(`${weights.path}: tensor "${name}": dtype ${stored.dtype}, expected F32`);
    if (tfShapeOf(stored.shape).join("x") !== variable.shape.join("x"))
      throw new CheckpointError(`${weights.path}: tensor "${name}": shape ${formatShape(stored.shape)} does not fit`);
    tf.tidy(() => variable.assign(fromTorchLayout(stored.values as Float32Array, stored.shape)));
  }
}

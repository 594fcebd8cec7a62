/**
 * Export Trained Model as PyTorch: a checkpoint (or run folder) becomes a folder a PyTorch user opens directly:
 *   model.py                 the module for the checkpoint's spec (export/pytorch.ts);
 *   checkpoint.safetensors   the weights alone, as torchvision's state_dict (no optimiser slots), BN counters as I64;
 *   load_trained.py          the snippet: model.build() + load_state_dict(strict=True), torch 1.13 or 2.x, no
 *                            safetensors package needed (model.py reads the format by hand).
 */
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { analyze } from "../analysis/analyze";
import { docText, exportPytorch } from "../export/pytorch";
import { formatTensorShape } from "../presentation/format";
import {
  assertSameSpec,
  CHECKPOINT_FILE_NAME,
  CheckpointError,
  encodeSafetensors,
  readCheckpoint,
  resolveCheckpointPath,
  specHash,
  type StoredTensor,
} from "../runtime/checkpoint";
import { writeFileAtomic } from "../safeFiles";
import type { ResNetSpec } from "../spec/types";
import { expectedStateShapes } from "./stateShapes";

export const TRAINED_MODULE_FILE = "model.py";
export const TRAINED_SNIPPET_FILE = "load_trained.py";

/** "1 epoch", "2 epochs". */
export const epochsText = (epochs: number): string => `${epochs} epoch${epochs === 1 ? "" : "s"}`;

export interface TrainedExport {
  folder: string;
  /** Written files, the module first. */
  files: string[];
  spec: ResNetSpec;
  epoch: number;
  params: number;
}

function snippet(spec: ResNetSpec, epoch: number, source: string): string {
  return `"""The trained ${docText(spec.name)} (${epochsText(epoch)}, from ${docText(source)}), exported by ResNet Studio.

    python ${TRAINED_SNIPPET_FILE}      # prints the output shape of one forward pass

Needs only torch (1.13 or 2.x). Feed images normalised as in training ((pixel/255 - mean) / std per channel, with the
training set's mean and std), at model.INPUT_SHAPE. With the safetensors package installed,
safetensors.torch.load_file("checkpoint.safetensors") gives the same state_dict.
"""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import model  # noqa: E402  (model.py beside this file)

net = model.build()
metadata, state = model.read_safetensors(os.path.join(HERE, "${CHECKPOINT_FILE_NAME}"))
net.load_state_dict(state, strict=True)
net.eval()

if __name__ == "__main__":
    with torch.no_grad():
        logits = net(torch.zeros(1, *model.INPUT_SHAPE))
    print(f"{model.SPEC['name']}: {sum(p.numel() for p in net.parameters()):,} parameters, logits {tuple(logits.shape)}")
`;
}

/**
 * Writes the trained export of `checkpoint` (a file or a run folder) into `folder`. `spec`, when given, must be the
 * checkpoint's architecture (its name may differ) and names the module; otherwise the checkpoint's own spec is used.
 */
export function exportTrainedModel(options: { checkpoint: string; folder: string; spec?: ResNetSpec }): TrainedExport {
  // Deleting a run is the only thing that removes data: never write over the run's checkpoint or an earlier export.
  const source = resolveCheckpointPath(options.checkpoint);
  if (resolve(options.folder) === resolve(dirname(source)))
    throw new CheckpointError(
      `${options.folder}: the checkpoint's own folder; its ${CHECKPOINT_FILE_NAME} would be replaced. Export into another folder`,
    );
  if (existsSync(options.folder) && !statSync(options.folder).isDirectory())
    throw new CheckpointError(`${options.folder}: a file, not a folder`);
  const existing = [TRAINED_MODULE_FILE, CHECKPOINT_FILE_NAME, TRAINED_SNIPPET_FILE].filter((f) =>
    existsSync(join(options.folder, f)),
  );
  if (existing.length > 0)
    throw new CheckpointError(`${options.folder}: already has ${existing.join(", ")}; export into an empty folder`);
  const checkpoint = readCheckpoint(source);
  if (options.spec) assertSameSpec(checkpoint, options.spec);
  const spec = options.spec ?? checkpoint.header.spec;
  const { graph, diagnostics } = analyze(spec);
  if (!graph)
    throw new CheckpointError(
      `${checkpoint.path}: its spec is refused: ${diagnostics.map((d) => d.message).join("; ")}`,
    );
  const tensors: StoredTensor[] = expectedStateShapes(graph).map(({ name, shape }) => {
    const stored = checkpoint.tensors.get(name);
    if (!stored) throw new CheckpointError(`${checkpoint.path}: tensor "${name}": missing (the module has it)`);
    if (stored.shape.join(",") !== shape.join(","))
      throw new CheckpointError(
        `${checkpoint.path}: tensor "${name}": shape ${formatTensorShape(stored.shape)}, the module's is ${formatTensorShape(shape)}`,
      );
    return stored;
  });
  mkdirSync(options.folder, { recursive: true });
  const moduleFile = join(options.folder, TRAINED_MODULE_FILE);
  const weightsFile = join(options.folder, CHECKPOINT_FILE_NAME);
  const snippetFile = join(options.folder, TRAINED_SNIPPET_FILE);
  writeFileAtomic(moduleFile, exportPytorch(graph, { source: checkpoint.path }));
  // "pt" is what safetensors.torch.save_file writes: a plain state_dict, loadable by any safetensors reader.
  writeFileAtomic(
    weightsFile,
    encodeSafetensors(tensors, {
      format: "pt",
      model: spec.name,
      spec: JSON.stringify(spec),
      specHash: specHash(spec),
      epoch: String(checkpoint.header.epoch),
    }),
  );
  writeFileAtomic(snippetFile, snippet(spec, checkpoint.header.epoch, checkpoint.path));
  return {
    folder: options.folder,
    files: [moduleFile, weightsFile, snippetFile],
    spec,
    epoch: checkpoint.header.epoch,
    params: graph.totals.params,
  };
}

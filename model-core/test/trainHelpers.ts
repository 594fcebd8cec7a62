/** Shared by the train/checkpoint tests: a tiny CIFAR-style ResNet and a small learnable dataset, on the cpu backend. */
import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import type { ModelGraph } from "../src/analysis/graph";
import { analyze } from "../src/analysis/analyze";
import type { ResNetSpec } from "../src/spec/types";
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from "../src/runtime/trainTypes";

export async function useCpu(): Promise<void> {
  await tf.setBackend("cpu");
  await tf.ready();
}

export function tinySpec(overrides: Partial<ResNetSpec> = {}): ResNetSpec {
  return {
    name: "tiny",
    input: [1, 8, 8],
    stem: "cifar",
    block: "basic",
    stages: [
      { channels: 4, blocks: 1, stride: 1 },
      { channels: 8, blocks: 1, stride: 2 },
    ],
    shortcut: "A",
    shortcutVariant: { kind: "identity" },
    preActivation: false,
    residual: true,
    norm: "batchnorm",
    groups: 1,
    widthPerGroup: 64,
    classes: 3,
    zeroInitResidual: false,
    ...overrides,
  };
}

export function tinyGraph(overrides: Partial<ResNetSpec> = {}): ModelGraph {
  const { graph, diagnostics } = analyze(tinySpec(overrides));
  if (!graph) throw new Error(diagnostics.map((d) => d.message).join("\n"));
  return graph;
}

export function tinyConfig(overrides: Partial<TrainConfig> = {}): TrainConfig {
  return { ...DEFAULT_TRAIN_CONFIG, epochs: 2, batchSize: 16, lr: 0.01, logEvery: 1, seed: 7, ...overrides };
}

/** The smallest useful net: 4×4 grayscale, one stage of one 2-channel block (a training step takes a few ms on cpu). */
export function microGraph(overrides: Partial<ResNetSpec> = {}): ModelGraph {
  return tinyGraph({
    name: "micro",
    input: [1, 4, 4],
    stages: [{ channels: 2, blocks: 1, stride: 1 }],
    classes: 2,
    ...overrides,
  });
}

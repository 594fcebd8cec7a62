/**
 * The canonical networks as data, the way torchvision lists them (`resnet18: basic, [2, 2, 2, 2]`).
 * How stages downsample and where shortcuts project is decided once, in the analysis, not per preset.
 */
import { resnet } from "./builders";
import type { BlockKind, PresetOverrides, ResNetOptions, ResNetSpec, StageOptions } from "./types";

/** ImageNet nets (He et al. 2015 Table 1; torchvision): base widths 64, 128, 256, 512. */
const IMAGENET_NETS = {
  resnet18: { block: "basic", blocks: [2, 2, 2, 2] },
  resnet34: { block: "basic", blocks: [3, 4, 6, 3] },
  resnet50: { block: "bottleneck", blocks: [3, 4, 6, 3] },
  resnet101: { block: "bottleneck", blocks: [3, 4, 23, 3] },
  resnet152: { block: "bottleneck", blocks: [3, 8, 36, 3] },
} as const satisfies Record<string, { block: BlockKind; blocks: readonly number[] }>;

/** CIFAR-10 nets (He et al. 2015 §4.2): depth 6n+2, three stages of n basic blocks with 16, 32, 64 channels. */
const CIFAR_NETS = {
  resnet20: 3,
  resnet32: 5,
  resnet44: 7,
  resnet56: 9,
  resnet110: 18,
  resnet1202: 200,
} as const satisfies Record<string, number>;

/** Wide ResNet-50/101-2 (Zagoruyko & Komodakis 2016, torchvision) and ResNeXt (Xie et al. 2017): bottleneck nets with a wider or grouped 3×3. */
const WIDE_AND_GROUPED_NETS = {
  wide_resnet50_2: { blocks: [3, 4, 6, 3], groups: 1, widthPerGroup: 128 },
  wide_resnet101_2: { blocks: [3, 4, 23, 3], groups: 1, widthPerGroup: 128 },
  resnext50_32x4d: { blocks: [3, 4, 6, 3], groups: 32, widthPerGroup: 4 },
  resnext101_32x8d: { blocks: [3, 4, 23, 3], groups: 32, widthPerGroup: 8 },
} as const satisfies Record<string, { blocks: readonly number[]; groups: number; widthPerGroup: number }>;

type ImageNetName = keyof typeof IMAGENET_NETS;
type CifarName = keyof typeof CIFAR_NETS;
type PlainTwinName<N extends string> = N extends `resnet${infer Depth}` ? `plain${Depth}` : never;

export type PresetName =
  ImageNetName | CifarName | PlainTwinName<ImageNetName | CifarName> | keyof typeof WIDE_AND_GROUPED_NETS;

const IMAGENET_WIDTHS = [64, 128, 256, 512];
const CIFAR_WIDTHS = [16, 32, 64];

function imagenetStages(blocks: readonly number[]): StageOptions[] {
  return blocks.map((count, i) => ({ channels: IMAGENET_WIDTHS[i], blocks: count, stride: i === 0 ? 1 : 2 }));
}

function imagenetOptions(name: string, block: BlockKind, blocks: readonly number[]): ResNetOptions {
  return {
    name,
    input: [3, 224, 224],
    stem: "imagenet",
    block,
    stages: imagenetStages(blocks),
    shortcut: "B",
    classes: 1000,
  };
}

function cifarOptions(name: string, n: number): ResNetOptions {
  // The paper's CIFAR nets use option A (zero-padding identity shortcuts), so they have no projection parameters.
  return {
    name,
    input: [3, 32, 32],
    stem: "cifar",
    block: "basic",
    stages: CIFAR_WIDTHS.map((channels, i) => ({ channels, blocks: n, stride: i === 0 ? 1 : 2 })),
    shortcut: "A",
    classes: 10,
  };
}

function canonicalOptions(name: PresetName): ResNetOptions {
  if (name in IMAGENET_NETS) {
    const net = IMAGENET_NETS[name as ImageNetName];
    return imagenetOptions(name, net.block, net.blocks);
  }
  if (name in CIFAR_NETS) return cifarOptions(name, CIFAR_NETS[name as CifarName]);
  if (name in WIDE_AND_GROUPED_NETS) {
    const net = WIDE_AND_GROUPED_NETS[name as keyof typeof WIDE_AND_GROUPED_NETS];
    return { ...imagenetOptions(name, "bottleneck", net.blocks), groups: net.groups, widthPerGroup: net.widthPerGroup };
  }
  // A plain twin: the same network without shortcuts (He et al. 2015 "plain" baselines).
  const residualName = name.replace(/^plain/, "resnet") as PresetName;
  return { ...canonicalOptions(residualName), name, residual: false };
}

export const PRESET_NAMES: readonly PresetName[] = [
  ...(Object.keys(IMAGENET_NETS) as ImageNetName[]),
  ...(Object.keys(CIFAR_NETS) as CifarName[]),
  ...([...Object.keys(IMAGENET_NETS), ...Object.keys(CIFAR_NETS)].map((n) =>
    n.replace(/^resnet/, "plain"),
  ) as PresetName[]),
  ...(Object.keys(WIDE_AND_GROUPED_NETS) as (keyof typeof WIDE_AND_GROUPED_NETS)[]),
];

export function isPresetName(name: string): name is PresetName {
  return (PRESET_NAMES as readonly string[]).includes(name);
}

/**
 * The options of a preset with `overrides` applied (e.g. `{ classes: 10, input: [3, 64, 64] }`), or null
 * for an unknown name. Overrides are not validated here; normalizeSpec / resnet() do that.
 */
export function presetOptions(name: string, overrides?: PresetOverrides): ResNetOptions | null {
  if (!isPresetName(name)) return null;
  const options = canonicalOptions(name);
  const defined = Object.fromEntries(Object.entries(overrides ?? {}).filter(([, v]) => v !== undefined));
  return { ...options, ...defined, stages: options.stages.map((s) => ({ ...s })) };
}

function presetBuilder(name: PresetName): (overrides?: PresetOverrides) => ResNetSpec {
  return (overrides) => resnet(presetOptions(name, overrides)!);
}

export const presets = Object.fromEntries(PRESET_NAMES.map((name) => [name, presetBuilder(name)])) as {
  [K in PresetName]: (overrides?: PresetOverrides) => ResNetSpec;
};

/**
 * A spec from a state_dict's names and shapes (torchvision's ResNet module paths, PyTorch layouts). Everything the
 * tensors decide is read from them: stem, block kind, stage widths and blocks, groups and width per group, shortcut
 * option, pre-activation, norm, classes and input channels. What tensors cannot show (the input's height and width,
 * most strides, option A against a plain net, constant-scaling and dropout shortcuts) is reported as a note beside
 * the value chosen, never chosen silently. The result is then checked tensor by tensor against the network the spec
 * builds, so a spec is only returned when the weights load into it strictly.
 */
import { analyze } from "../analysis/analyze";
import { normalizeSpec } from "../spec/builders";
import { formatTensorShape } from "../presentation/format";
import type { ResNetOptions, ShortcutOption, StageOptions } from "../spec/types";
import { describeDifference, expectedStateShapes, stateDifferences, type TensorShape } from "./stateShapes";

export interface InferredSpec {
  options: ResNetOptions;
  /** What the tensors could not decide, and the value used instead; one sentence each. */
  notes: string[];
  params: number;
}

/** The tensors do not describe a network the spec language can write; the message names the file and the tensor. */
export class InferenceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InferenceError";
  }
}

/** At most this many differences are listed when the inferred network does not take the weights. */
const MAX_LISTED = 8;

const IMAGENET_STEM_WIDTH = 64;

export function inferSpec(tensors: readonly TensorShape[], file: string, name = "Imported ResNet"): InferredSpec {
  const fail = (message: string): never => {
    throw new InferenceError(`${file}: ${message}`);
  };
  const notes: string[] = [];
  let list = tensors.slice();
  // DistributedDataParallel saves its module's state under "module.".
  if (list.length > 0 && list.every((t) => t.name.startsWith("module."))) {
    list = list.map((t) => ({ name: t.name.slice("module.".length), shape: t.shape }));
    notes.push(`the tensor names start with "module." (DistributedDataParallel); read without it`);
  }
  const shapes = new Map(list.map((t) => [t.name, t.shape]));
  const shapeOf = (tensor: string, rank: number): number[] => {
    const s = shapes.get(tensor);
    if (!s) return fail(`tensor "${tensor}" is missing`);
    if (s.length !== rank)
      return fail(`tensor "${tensor}" has shape ${formatTensorShape(s)}, expected ${rank} dimensions`);
    return s;
  };

  // A ResNet has a stem conv, residual stages named layer<s>.<b>, and a classifier.
  const blockPattern = /^layer(\d+)\.(\d+)\./;
  const missing: string[] = [];
  if (!shapes.has("conv1.weight")) missing.push(`conv1.weight (the stem convolution)`);
  if (!list.some((t) => t.name.startsWith("layer1.0."))) missing.push(`layer1.0.* (the first residual block)`);
  if (!shapes.has("fc.weight")) missing.push(`fc.weight (the classifier)`);
  if (missing.length > 0) {
    const sample = list.slice(0, 4).map((t) => t.name);
    fail(
      `not a ResNet state_dict (torchvision names): missing ${missing.join(", ")}; ` +
        (sample.length === 0
          ? "the file holds no tensors"
          : `its ${list.length} tensors start ${sample.join(", ")}${list.length > sample.length ? ", …" : ""}`),
    );
  }

  // Stem.
  const conv1 = shapeOf("conv1.weight", 4);
  const [stemWidth, inChannels, kernel] = conv1;
  const stem = kernel === 7 ? "imagenet" : kernel === 3 ? "cifar" : null;
  if (stem === null)
    return fail(
      `conv1.weight is a ${kernel}×${kernel} convolution; the spec language has the 7×7 ImageNet stem and the 3×3 CIFAR stem`,
    );
  if (stem === "imagenet" && stemWidth !== IMAGENET_STEM_WIDTH)
    fail(`conv1.weight has ${stemWidth} output channels; the ImageNet stem has ${IMAGENET_STEM_WIDTH} (torchvision's)`);

  // Stages and blocks.
  const blocksPerStage: number[][] = [];
  for (const t of list) {
    const m = blockPattern.exec(t.name);
    if (!m) continue;
    const s = Number(m[1]) - 1;
    (blocksPerStage[s] ??= []).push(Number(m[2]));
  }
  const stageCount = blocksPerStage.length;
  const blockCounts = Array.from({ length: stageCount }, (_, s) => {
    const indices = new Set(blocksPerStage[s] ?? []);
    if (indices.size === 0) fail(`there is no layer${s + 1}.* although layer${stageCount}.* exists`);
    for (let b = 0; b < indices.size; b++)
      if (!indices.has(b)) fail(`layer${s + 1} has blocks up to ${Math.max(...indices)} but no layer${s + 1}.${b}`);
    return indices.size;
  });

  const bottleneck = shapes.has("layer1.0.conv3.weight");
  const block = bottleneck ? "bottleneck" : "basic";
  const batchnorm = shapes.has("layer1.0.bn1.weight") || shapes.has("layer1.0.bn2.weight");
  if (!batchnorm) notes.push(`no BatchNorm tensors: norm "none" (every conv has a bias)`);
  const preActivation = shapes.has("bn_final.weight");
  if (!batchnorm)
    notes.push(
      "without BatchNorm, pre-activation and post-activation blocks have the same tensors; post-activation assumed (set preActivation: true if the network was trained so)",
    );

  // Per stage: planes (torchvision's), inner width and groups, from block 0.
  const planes: number[] = [];
  const widths: number[] = [];
  let groups: number | null = null;
  for (let s = 0; s < stageCount; s++) {
    const id = `layer${s + 1}.0`;
    const first = shapeOf(`${id}.conv1.weight`, 4);
    const second = shapeOf(`${id}.conv2.weight`, 4);
    const width = first[0];
    let stagePlanes: number;
    if (bottleneck) {
      const out = shapeOf(`${id}.conv3.weight`, 4)[0];
      if (out % 4 !== 0)
        fail(`${id}.conv3.weight has ${out} output channels, not a multiple of the bottleneck's expansion 4`);
      stagePlanes = out / 4;
    } else stagePlanes = second[0];
    if (second[1] <= 0 || width % second[1] !== 0)
      fail(`${id}.conv2.weight takes ${second[1]} channels per group, which does not divide conv1's ${width} outputs`);
    const stageGroups = width / second[1];
    if (groups !== null && stageGroups !== groups)
      fail(
        `${id}.conv2 has ${stageGroups} groups, layer1's have ${groups}; the spec has one groups value for every stage`,
      );
    groups = stageGroups;
    planes.push(stagePlanes);
    widths.push(width);
  }
  const groupCount = groups ?? 1;

  // widthPerGroup: torchvision's inner width is floor(planes · widthPerGroup / 64) · groups.
  const fits = (wpg: number) => planes.every((p, s) => Math.floor((p * wpg) / 64) * groupCount === widths[s]);
  let widthPerGroup = 64;
  if (!fits(64)) {
    const perGroup = widths[0] / groupCount;
    const low = Math.ceil((64 * perGroup) / planes[0]);
    const high = Math.ceil((64 * (perGroup + 1)) / planes[0]) - 1;
    const candidates: number[] = [];
    for (let w = Math.max(1, low); w <= high; w++) if (fits(w)) candidates.push(w);
    if (candidates.length === 0)
      fail(
        `no width per group gives the inner widths ${widths.join(", ")} of stages with ${planes.join(", ")} channels and ${groupCount} groups`,
      );
    widthPerGroup = candidates[0];
    if (candidates.length > 1)
      notes.push(
        `widthPerGroup ${candidates.join(", ")} all give these widths; ${widthPerGroup} chosen (the network is the same)`,
      );
  }

  // Shortcuts: which blocks project, and where the shape changes.
  const expansion = bottleneck ? 4 : 1;
  const stemOut = stem === "imagenet" ? IMAGENET_STEM_WIDTH : stemWidth;
  if (stem === "cifar" && stemWidth !== planes[0])
    fail(`conv1.weight has ${stemWidth} output channels; the CIFAR stem outputs layer1's ${planes[0]} channels`);
  interface BlockInfo {
    stage: number;
    block: number;
    projects: boolean;
    channelsChange: boolean;
    gated: boolean;
  }
  const infos: BlockInfo[] = [];
  let inChannelsOfStage = stemOut;
  for (let s = 0; s < stageCount; s++) {
    const out = planes[s] * expansion;
    for (let b = 0; b < blockCounts[s]; b++) {
      const id = `layer${s + 1}.${b}`;
      infos.push({
        stage: s,
        block: b,
        projects: shapes.has(`${id}.downsample.0.weight`),
        channelsChange: b === 0 && inChannelsOfStage !== out,
        gated: shapes.has(`${id}.gate.weight`),
      });
    }
    inChannelsOfStage = out;
  }
  const projecting = infos.filter((i) => i.projects);
  const gatedCount = infos.filter((i) => i.gated).length;
  if (gatedCount !== 0 && gatedCount !== infos.length)
    fail(`${gatedCount} of ${infos.length} blocks have a gate (…gate.weight); a gated spec gates every block`);
  const blockName = (i: BlockInfo) => `layer${i.stage + 1}.${i.block}`;

  let shortcut: ShortcutOption = "B";
  let variant: ResNetOptions["shortcutVariant"] = "identity";
  const strides: (number | null)[] = Array.from({ length: stageCount }, () => null);
  const projectionHasBn = projecting.some((i) => shapes.has(`layer${i.stage + 1}.${i.block}.downsample.1.weight`));
  if (projecting.length === infos.length && batchnorm && !projectionHasBn) {
    variant = "conv1x1";
    notes.push("every shortcut is a 1×1 conv without BatchNorm: the conv1x1 shortcut variant (He et al. 2016 Fig. 2e)");
  } else if (projecting.length === 0) {
    if (infos.some((i) => i.channelsChange)) {
      shortcut = "A";
      notes.push(
        "no shortcut has weights: option A (identity, zero-padded channels); a plain network (residual: false) has the same tensors, so residual is assumed",
      );
    } else
      notes.push(
        "no shortcut has weights and no stage changes its channels: options A and B are the same here; B written",
      );
  } else if (projecting.length === infos.length && infos.some((i) => !i.channelsChange)) {
    shortcut = "C";
  } else {
    // Option B projects exactly where the shape changes: where the channels change, or where a stage's stride is 2.
    const stray = projecting.find((i) => i.block !== 0);
    if (stray)
      fail(
        `${blockName(stray)} has a projection shortcut (downsample.0) but is not a stage's first block, and not every block has one: no shortcut option gives this`,
      );
    const unprojected = infos.find((i) => i.channelsChange && !i.projects);
    if (unprojected)
      fail(
        `${blockName(unprojected)} changes the channels but has no projection shortcut, while other blocks have one: no shortcut option gives this`,
      );
    for (const info of infos.filter((i) => i.block === 0 && !i.channelsChange))
      strides[info.stage] = info.projects ? 2 : 1;
  }
  if (gatedCount > 0) {
    variant = "exclusiveGating";
    notes.push(
      "every block has a gate (1×1 conv): exclusive gating assumed; shortcut-only gating has the same tensors (He et al. 2016 Fig. 2c, 2d)",
    );
  }
  if (variant === "identity")
    notes.push("constant-scaling and dropout shortcuts have no weights; plain identity shortcuts assumed");

  // Strides that no tensor decides: torchvision's (1 for the first stage, 2 after).
  const guessed: string[] = [];
  const stages: StageOptions[] = planes.map((channels, s) => {
    let stride = strides[s];
    if (stride === null) {
      stride = s === 0 ? 1 : 2;
      guessed.push(`layer${s + 1}: ${stride}`);
    }
    return { channels, blocks: blockCounts[s], stride };
  });
  if (guessed.length > 0)
    notes.push(`strides are not stored in weights; assumed as torchvision's (${guessed.join(", ")})`);

  const classes = shapeOf("fc.weight", 2)[0];
  const size = stem === "imagenet" ? 224 : 32;
  notes.push(
    `the input's height and width are not stored in weights; ${size}×${size} assumed (input channels ${inChannels} are)`,
  );

  const options: ResNetOptions = {
    name,
    input: [inChannels, size, size],
    stem,
    block,
    stages,
    shortcut,
    ...(variant === "identity"
      ? {}
      : { shortcutVariant: variant === "exclusiveGating" ? { kind: "exclusiveGating", gateBias: -6 } : variant }),
    ...(preActivation ? { preActivation } : {}),
    ...(batchnorm ? {} : { norm: "none" as const }),
    ...(groupCount !== 1 ? { groups: groupCount } : {}),
    ...(widthPerGroup !== 64 ? { widthPerGroup } : {}),
    classes,
  };

  // The check that makes the inference trustworthy: the network the spec builds takes exactly these tensors.
  const { spec, issues } = normalizeSpec(options);
  if (!spec) return fail(`the inferred spec is refused: ${issues.map((i) => i.message).join("; ")}`);
  const { graph, diagnostics } = analyze(spec);
  if (!graph)
    return fail(
      `the inferred spec is refused: ${diagnostics
        .filter((d) => d.severity === "error")
        .map((d) => d.message)
        .join("; ")}`,
    );
  const differences = stateDifferences(expectedStateShapes(graph), list);
  if (differences.length > 0) {
    const listed = differences.slice(0, MAX_LISTED).map((d) => describeDifference(d, "the inferred spec", "the file"));
    fail(
      `the weights do not fit the closest spec (${differences.length} difference${differences.length === 1 ? "" : "s"}): ${listed.join("; ")}${differences.length > MAX_LISTED ? "; …" : ""}`,
    );
  }
  return { options, notes, params: graph.totals.params };
}

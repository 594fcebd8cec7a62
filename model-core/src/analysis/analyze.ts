/**
 * Spec → graph IR. Shapes, parameters, MACs and receptive fields are computed arithmetically, so a
 * spec that would be absurdly large is refused before anything big exists.
 *
 * Node ids follow torchvision's module paths (so weights and numbers line up with PyTorch):
 *   input                               the image
 *   conv1, bn1, relu, maxpool           the stem (CIFAR stem: no maxpool; pre-activation CIFAR stem: conv1 only)
 *   layer{s}.{b}.conv{k}, .bn{k}        residual branch of block b of stage s (1-based stages, 0-based blocks)
 *   layer{s}.{b}.relu{k}                ReLU after bn{k} (post-activation) / before conv{k} (pre-activation)
 *   layer{s}.{b}.downsample.0 / .1      projection shortcut: 1×1 conv / its BN (also the conv1x1 variant's conv)
 *   layer{s}.{b}.shortcut               option A: subsample + zero-pad channels
 *   layer{s}.{b}.shortcut_dropout       dropout-shortcut variant
 *   layer{s}.{b}.gate, .gate_sigmoid    gating variants: 1×1 conv with bias, then σ
 *   layer{s}.{b}.add                    the residual merge
 *   layer{s}.{b}.relu_out               ReLU after the merge (post-activation; the plain twin's block-final ReLU)
 *   bn_final, relu_final                pre-activation nets: BN + ReLU before pooling (He et al. 2016)
 *   avgpool, fc                         the classifier
 *
 * Design decisions:
 * - Stem width: the ImageNet stem outputs 64 channels (torchvision's inplanes = 64); the CIFAR stem outputs
 *   stages[0].channels (16 in the paper's CIFAR nets).
 * - Bottleneck: 1×1, 3×3 (carries the stride and the groups: torchvision v1.5), 1×1 with expansion 4.
 *   Inner width = floor(channels · widthPerGroup / 64) · groups for both block kinds, which is `channels`
 *   for plain ResNets; basic blocks apply `groups` to both 3×3 convs.
 * - A block's shape "changes" when its stride is not 1 or its input channels differ from its output.
 * - Pre-activation follows the paper's code (fb.resnet.torch preresnet): a block's BN-ReLU is shared by both
 *   paths (so projections take the pre-activated input) on the first block of each stage and on every
 *   block with a projection; elsewhere it sits on the residual branch only, keeping the identity path clean.
 *   The ImageNet stem already ends in BN-ReLU, so layer1.0 has no pre-activation; the CIFAR stem is conv1
 *   alone and layer1.0 pre-activates it.
 */
import type { Diagnostic, DiagnosticCode, Suggestion } from "../diagnostics";
import { SpecError } from "../diagnostics";
import { normalizeSpec } from "../spec/builders";
import { sourceAt, type SpecSourceMap } from "../spec/sources";
import { nearestCommonDivisor, nearestMultiple } from "../spec/nearest";
import type { ResNetSpec } from "../spec/types";
import type { BlockGroup, GraphNode, GraphTotals, ModelGraph, NodeOp, NodeRole, Shape, StageGroup } from "./graph";
import { convOutputSize, macsOf, outputShapeOf, paramsOf, receptiveFieldOf, shapeElements } from "./layers";

/** Refusal thresholds: beyond these a spec is a typo, not a network (ResNet-152 has 6·10⁷ params). */
export const MAX_PARAMS = 1e9;
export const MAX_ACTIVATIONS = 1e9;
export const MAX_BLOCKS = 10_000;

/** PyTorch BatchNorm2d defaults. */
const BN_EPS = 1e-5;
const BN_MOMENTUM = 0.1;
const BOTTLENECK_EXPANSION = 4;

type SpecPath = (string | number)[];

interface NodeContext {
  role: NodeRole;
  stage: string | null;
  block: string | null;
  sourcePath: SpecPath;
}

/** Appends nodes, computing each one's numbers from its already-added inputs. */
class GraphBuilder {
  readonly nodes: GraphNode[] = [];
  private readonly byId = new Map<string, GraphNode>();

  constructor(private readonly sources: SpecSourceMap | undefined) {}

  get(id: string): GraphNode {
    const node = this.byId.get(id);
    if (!node) throw new Error(`internal: unknown node ${id}`);
    return node;
  }

  add(id: string, op: NodeOp, inputs: string[], context: NodeContext, inputShapeOverride?: Shape): GraphNode {
    if (this.byId.has(id)) throw new Error(`internal: duplicate node id ${id}`);
    const inputNodes = inputs.map((i) => this.get(i));
    const inputShapes = inputNodes.map((n) => n.outputShape);
    const inputShape = inputShapeOverride ?? inputShapes[0] ?? [];
    const outputShape = op.kind === "input" ? [...inputShape] : outputShapeOf(op, inputShapes);
    const node: GraphNode = {
      id,
      op,
      inputs,
      inputShape,
      outputShape,
      params: paramsOf(op),
      macs: macsOf(op, outputShape),
      receptiveField: receptiveFieldOf(
        op,
        inputNodes.map((n) => n.receptiveField),
        inputShape,
      ),
      role: context.role,
      stage: context.stage,
      block: context.block,
      source: sourceAt(this.sources, context.sourcePath),
    };
    this.nodes.push(node);
    this.byId.set(id, node);
    return node;
  }
}

type ConvOp = Extract<NodeOp, { kind: "conv" }>;

function conv(
  inChannels: number,
  outChannels: number,
  kernel: number,
  stride: number,
  groups: number,
  bias: boolean,
): ConvOp {
  // "Same" padding for odd kernels: 3×3 pad 1, 1×1 pad 0, 7×7 pad 3.
  return { kind: "conv", inChannels, outChannels, kernel, stride, padding: (kernel - 1) / 2, groups, bias };
}

function batchnorm(channels: number, zeroInit = false): NodeOp {
  return { kind: "batchnorm", channels, eps: BN_EPS, momentum: BN_MOMENTUM, zeroInit };
}

/** Everything about one block that does not depend on node ids. */
interface BlockPlan {
  stageIndex: number;
  blockIndex: number;
  inChannels: number;
  stride: number;
  width: number;
  outChannels: number;
}

function expansionOf(spec: ResNetSpec): number {
  return spec.block === "bottleneck" ? BOTTLENECK_EXPANSION : 1;
}

/** torchvision: width = int(planes · (base_width / 64.)) · groups. */
function innerWidth(spec: ResNetSpec, channels: number): number {
  return Math.floor((channels * spec.widthPerGroup) / 64) * spec.groups;
}

function stemOutputChannels(spec: ResNetSpec): number {
  return spec.stem === "imagenet" ? 64 : spec.stages[0].channels;
}

function shapeChanges(plan: BlockPlan): boolean {
  return plan.stride !== 1 || plan.inChannels !== plan.outChannels;
}

function hasProjection(spec: ResNetSpec, plan: BlockPlan): boolean {
  if (!spec.residual) return false;
  if (spec.shortcutVariant.kind === "conv1x1") return true;
  return spec.shortcut === "C" || (spec.shortcut === "B" && shapeChanges(plan));
}

function blockLabel(spec: ResNetSpec): string {
  const kind = spec.block === "bottleneck" ? "Bottleneck" : "BasicBlock";
  return `${spec.residual ? "" : "Plain"}${spec.preActivation ? "PreAct" : ""}${kind}`;
}

/** Adds one block's nodes; returns the id of its output node. */
function buildBlock(
  builder: GraphBuilder,
  spec: ResNetSpec,
  plan: BlockPlan,
  inputId: string,
): { outputId: string; addId: string | null } {
  const stageId = `layer${plan.stageIndex + 1}`;
  const blockId = `${stageId}.${plan.blockIndex}`;
  const main: NodeContext = { role: "main", stage: stageId, block: blockId, sourcePath: ["stages", plan.stageIndex] };
  const side: NodeContext = { ...main, role: "shortcut" };
  const useBn = spec.norm === "batchnorm";
  const bias = !useBn;
  const projection = hasProjection(spec, plan);
  // Zero-init needs a BN that ends the residual branch: only post-activation residual blocks have one.
  const zeroInitLastBn = spec.zeroInitResidual && spec.residual && !spec.preActivation;

  const convs: ConvOp[] =
    spec.block === "bottleneck"
      ? [
          conv(plan.inChannels, plan.width, 1, 1, 1, bias),
          conv(plan.width, plan.width, 3, plan.stride, spec.groups, bias),
          conv(plan.width, plan.outChannels, 1, 1, 1, bias),
        ]
      : [
          conv(plan.inChannels, plan.width, 3, plan.stride, spec.groups, bias),
          conv(plan.width, plan.outChannels, 3, 1, spec.groups, bias),
        ];

  let branch = inputId;
  let shortcutInput = inputId;

  if (spec.preActivation) {
    const afterImagenetStem = spec.stem === "imagenet" && plan.stageIndex === 0 && plan.blockIndex === 0;
    const shared = plan.blockIndex === 0 || projection;
    convs.forEach((op, k) => {
      const n = k + 1;
      const preActivate = k > 0 || !afterImagenetStem;
      if (preActivate) {
        if (useBn) branch = builder.add(`${blockId}.bn${n}`, batchnorm(op.inChannels), [branch], main).id;
        branch = builder.add(`${blockId}.relu${n}`, { kind: "relu" }, [branch], main).id;
        if (k === 0 && shared) shortcutInput = branch;
      }
      branch = builder.add(`${blockId}.conv${n}`, op, [branch], main).id;
    });
  } else {
    convs.forEach((op, k) => {
      const n = k + 1;
      const last = k === convs.length - 1;
      branch = builder.add(`${blockId}.conv${n}`, op, [branch], main).id;
      if (useBn)
        branch = builder.add(`${blockId}.bn${n}`, batchnorm(op.outChannels, last && zeroInitLastBn), [branch], main).id;
      if (!last) branch = builder.add(`${blockId}.relu${n}`, { kind: "relu" }, [branch], main).id;
    });
  }

  if (!spec.residual) {
    const outputId = spec.preActivation
      ? branch
      : builder.add(`${blockId}.relu_out`, { kind: "relu" }, [branch], main).id;
    return { outputId, addId: null };
  }

  let shortcut = shortcutInput;
  if (projection) {
    const conv1x1Variant = spec.shortcutVariant.kind === "conv1x1";
    shortcut = builder.add(
      `${blockId}.downsample.0`,
      conv(plan.inChannels, plan.outChannels, 1, plan.stride, 1, bias),
      [shortcut],
      side,
    ).id;
    if (useBn && !conv1x1Variant)
      shortcut = builder.add(`${blockId}.downsample.1`, batchnorm(plan.outChannels), [shortcut], side).id;
  } else if (shapeChanges(plan)) {
    // Option A (He et al. 2015 §4.1): subsample, then zero-pad the new channels, half on each side.
    const extra = plan.outChannels - plan.inChannels;
    const padBefore = Math.floor(extra / 2);
    const op: NodeOp = { kind: "padshortcut", stride: plan.stride, padBefore, padAfter: extra - padBefore };
    shortcut = builder.add(`${blockId}.shortcut`, op, [shortcut], side).id;
  }

  const variant = spec.shortcutVariant;
  let gate: string | null = null;
  if (variant.kind === "dropout") {
    shortcut = builder.add(`${blockId}.shortcut_dropout`, { kind: "dropout", rate: variant.rate }, [shortcut], side).id;
  } else if (variant.kind === "exclusiveGating" || variant.kind === "shortcutOnlyGating") {
    const gateConv = builder.add(
      `${blockId}.gate`,
      conv(plan.inChannels, plan.outChannels, 1, plan.stride, 1, true),
      [shortcutInput],
      side,
    );
    gate = builder.add(`${blockId}.gate_sigmoid`, { kind: "sigmoid" }, [gateConv.id], side).id;
  }

  const addOp: NodeOp =
    variant.kind === "constantScaling"
      ? { kind: "add", mode: "plain", shortcutScale: variant.lambda, residualScale: variant.residualScale }
      : variant.kind === "exclusiveGating"
        ? { kind: "add", mode: "exclusiveGate", shortcutScale: 1, residualScale: 1 }
        : variant.kind === "shortcutOnlyGating"
          ? { kind: "add", mode: "shortcutGate", shortcutScale: 1, residualScale: 1 }
          : { kind: "add", mode: "plain", shortcutScale: 1, residualScale: 1 };
  const add = builder.add(`${blockId}.add`, addOp, gate ? [shortcut, branch, gate] : [shortcut, branch], main);
  const outputId = spec.preActivation
    ? add.id
    : builder.add(`${blockId}.relu_out`, { kind: "relu" }, [add.id], main).id;
  return { outputId, addId: add.id };
}

/** Plans of every block, computed from channel counts alone. */
function planBlocks(spec: ResNetSpec): BlockPlan[][] {
  const expansion = expansionOf(spec);
  let channels = stemOutputChannels(spec);
  return spec.stages.map((stage, stageIndex) => {
    const plans: BlockPlan[] = [];
    for (let blockIndex = 0; blockIndex < stage.blocks; blockIndex++) {
      const outChannels = stage.channels * expansion;
      plans.push({
        stageIndex,
        blockIndex,
        inChannels: channels,
        stride: blockIndex === 0 ? stage.stride : 1,
        width: innerWidth(spec, stage.channels),
        outChannels,
      });
      channels = outChannels;
    }
    return plans;
  });
}

interface StageCost {
  params: number;
  activations: number;
  outputShape: Shape;
}

/** Params and activations of a stage by building its first and second block in a scratch graph. */
function estimateStage(spec: ResNetSpec, stageIndex: number, inputShape: Shape): StageCost {
  const stage = spec.stages[stageIndex];
  const scratch = new GraphBuilder(undefined);
  scratch.add("input", { kind: "input" }, [], { role: "main", stage: null, block: null, sourcePath: [] }, inputShape);
  const outChannels = stage.channels * expansionOf(spec);
  const first: BlockPlan = {
    stageIndex,
    blockIndex: 0,
    inChannels: inputShape[0],
    stride: stage.stride,
    width: innerWidth(spec, stage.channels),
    outChannels,
  };
  const firstBlock = buildBlock(scratch, spec, first, "input");
  const cost = (nodes: GraphNode[]) => ({
    params: nodes.reduce((n, node) => n + node.params, 0),
    activations: nodes.reduce((n, node) => n + shapeElements(node.outputShape), 0),
  });
  const firstCost = cost(scratch.nodes.slice(1));
  let params = firstCost.params;
  let activations = firstCost.activations;
  if (stage.blocks > 1) {
    const before = scratch.nodes.length;
    buildBlock(scratch, spec, { ...first, blockIndex: 1, inChannels: outChannels, stride: 1 }, firstBlock.outputId);
    const repeated = cost(scratch.nodes.slice(before));
    params += repeated.params * (stage.blocks - 1);
    activations += repeated.activations * (stage.blocks - 1);
  }
  return { params, activations, outputShape: scratch.get(firstBlock.outputId).outputShape };
}

function dims(shape: Shape): string {
  return shape.join("×");
}

/**
 * The nearest fixes of a stage whose channels do not divide into the groups: its channels rounded to a multiple of
 * the groups, and the groups rounded to a divisor of the channels.
 */
function groupsSuggestions(
  spec: ResNetSpec,
  sources: SpecSourceMap | undefined,
  stageIndex: number,
  inChannels: number,
  outChannels: number,
): Suggestion[] {
  const suggestions: Suggestion[] = [];
  const channels = sourceAt(sources, ["stages", stageIndex, "channels"]);
  // Only where this stage's own output is what does not divide (its input comes from the stem or the stage before).
  const ownInput = stageIndex === 0 && spec.stem === "cifar"; // the CIFAR stem's width is the first stage's
  if (channels && (ownInput || inChannels % spec.groups === 0) && outChannels % spec.groups !== 0)
    suggestions.push({
      kind: "value",
      value: nearestMultiple(spec.stages[stageIndex].channels, spec.groups),
      range: channels,
      option: "channels",
    });
  const groups = sourceAt(sources, ["groups"]);
  if (groups)
    suggestions.push({
      kind: "value",
      value: nearestCommonDivisor([inChannels, outChannels], spec.groups),
      range: groups,
      option: "groups",
    });
  return suggestions;
}

/** Refusals that need no graph: each located at the stage (or option) responsible. */
function checkSpec(spec: ResNetSpec, sources: SpecSourceMap | undefined): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const refuse = (path: SpecPath, code: DiagnosticCode, message: string) =>
    diagnostics.push({ severity: "error", code, message, range: sourceAt(sources, path) });

  const [inChannels, height, width] = spec.input;
  // The ImageNet stem halves the map twice (7×7/2 conv, 3×3/2 pool); the CIFAR stem keeps it.
  const stemStride = spec.stem === "imagenet" ? 4 : 1;
  if (height < stemStride || width < stemStride) {
    refuse(
      ["input"],
      "spatial-collapse",
      `input ${dims(spec.input)} is too small for the imagenet stem, which subsamples by 4; use an input of at least 4×4 or stem: "cifar"`,
    );
    return diagnostics;
  }
  const stemChannels = stemOutputChannels(spec);
  let shape: Shape;
  let params: number;
  let activations = shapeElements(spec.input);
  if (spec.stem === "imagenet") {
    const convShape = [stemChannels, convOutputSize(height, 7, 2, 3), convOutputSize(width, 7, 2, 3)];
    shape = [stemChannels, convOutputSize(convShape[1], 3, 2, 1), convOutputSize(convShape[2], 3, 2, 1)];
    params = stemChannels * inChannels * 49 + 2 * stemChannels;
    activations += 3 * shapeElements(convShape) + shapeElements(shape);
  } else {
    shape = [stemChannels, height, width];
    params = stemChannels * inChannels * 9 + 2 * stemChannels;
    activations += 3 * shapeElements(shape);
  }
  if (activations > MAX_ACTIVATIONS) {
    refuse(
      ["input"],
      "absurd-size",
      `input ${dims(spec.input)}: the stem alone makes ${activations.toExponential(2)} activations per sample (limit 1e9); use a smaller input`,
    );
    return diagnostics;
  }
  let blocks = 0;
  let minimumSide = stemStride;

  for (const [i, stage] of spec.stages.entries()) {
    const path: SpecPath = ["stages", i];
    const layer = `layer${i + 1}`;
    const [c, h, w] = [shape[0], shape[1], shape[2]];
    minimumSide *= stage.stride;
    blocks += stage.blocks;
    if (blocks > MAX_BLOCKS) {
      refuse(
        path,
        "absurd-size",
        `${layer} brings the network to ${blocks} blocks (limit ${MAX_BLOCKS}); use fewer blocks`,
      );
      return diagnostics;
    }
    if (h < stage.stride || w < stage.stride) {
      refuse(
        path,
        "spatial-collapse",
        `${layer} has stride ${stage.stride} but its input is only ${h}×${w}: the feature map would shrink below one pixel; ` +
          `use stride: 1 here, fewer stages, or an input of at least ${minimumSide}×${minimumSide}`,
      );
      return diagnostics;
    }
    const outChannels = stage.channels * expansionOf(spec);
    const inner = innerWidth(spec, stage.channels);
    if (inner === 0) {
      refuse(
        path,
        "groups-mismatch",
        `${layer}: the grouped width floor(${stage.channels} × widthPerGroup ${spec.widthPerGroup} / 64) is 0; ` +
          `use channels of at least ${Math.ceil(64 / spec.widthPerGroup)} or a larger widthPerGroup`,
      );
      return diagnostics;
    }
    if (spec.block === "basic" && spec.groups > 1) {
      const bad = [c, outChannels].find((n) => n % spec.groups !== 0);
      if (bad !== undefined) {
        refuse(
          path,
          "groups-mismatch",
          `${layer}: ${bad} channels do not divide into ${spec.groups} groups; use channels that are a multiple of ${spec.groups} or groups: 1`,
        );
        diagnostics[diagnostics.length - 1].suggestions = groupsSuggestions(spec, sources, i, c, outChannels);
        return diagnostics;
      }
    }
    const plan: BlockPlan = {
      stageIndex: i,
      blockIndex: 0,
      inChannels: c,
      stride: stage.stride,
      width: inner,
      outChannels,
    };
    if (spec.residual && spec.shortcut === "A" && !hasProjection(spec, plan) && outChannels < c) {
      refuse(
        path,
        "shortcut-a-drops-channels",
        `${layer} goes from ${c} to ${outChannels} channels, but shortcut option A can only zero-pad channels, never drop them; ` +
          `use shortcut: "B" (1×1 projection where the shape changes) or at least ${Math.ceil(c / expansionOf(spec))} channels`,
      );
      return diagnostics;
    }
    const cost = estimateStage(spec, i, shape);
    params += cost.params;
    activations += cost.activations;
    shape = cost.outputShape;
    if (params > MAX_PARAMS || activations > MAX_ACTIVATIONS) {
      const what =
        params > MAX_PARAMS
          ? `${params.toExponential(2)} parameters`
          : `${activations.toExponential(2)} activations per sample`;
      refuse(
        path,
        "absurd-size",
        `${layer} brings the network to ${what} (limit 1e9); use fewer channels, fewer blocks or a smaller input`,
      );
      return diagnostics;
    }
  }
  const classifierParams = (shape[0] + 1) * spec.classes;
  if (params + classifierParams > MAX_PARAMS) {
    refuse(
      ["classes"],
      "absurd-size",
      `${spec.classes} classes make the classifier alone ${classifierParams.toExponential(2)} parameters (limit 1e9); use fewer classes`,
    );
  }
  return diagnostics;
}

function warnings(spec: ResNetSpec, sources: SpecSourceMap | undefined): Diagnostic[] {
  const out: Diagnostic[] = [];
  const warn = (path: SpecPath, code: DiagnosticCode, message: string) =>
    out.push({ severity: "warning", code, message, range: sourceAt(sources, path) });
  if (spec.zeroInitResidual && !spec.residual) {
    warn(
      ["zeroInitResidual"],
      "zero-init-ignored",
      "zeroInitResidual is ignored in a plain network: zeroing a block's last BN would cut the only path",
    );
  } else if (spec.zeroInitResidual && spec.preActivation) {
    warn(
      ["zeroInitResidual"],
      "zero-init-ignored",
      "zeroInitResidual is ignored with preActivation: no BN ends the residual branch",
    );
  }
  if (!spec.residual && spec.shortcutVariant.kind !== "identity") {
    warn(
      ["shortcutVariant"],
      "shortcut-variant-ignored",
      "shortcutVariant is ignored because residual is false (a plain network has no shortcuts)",
    );
  }
  return out;
}

/** Layers with weights (conv, fc) on the longest input→output path: the depth in a ResNet's name. */
function weightedDepth(nodes: GraphNode[]): number {
  const depth = new Map<string, number>();
  let deepest = 0;
  for (const node of nodes) {
    const own = node.op.kind === "conv" || node.op.kind === "fc" ? 1 : 0;
    const d = own + Math.max(0, ...node.inputs.map((i) => depth.get(i) ?? 0));
    depth.set(node.id, d);
    deepest = Math.max(deepest, d);
  }
  return deepest;
}

function sum(nodes: GraphNode[], key: "params" | "macs"): number {
  return nodes.reduce((n, node) => n + node[key], 0);
}

function buildGraph(spec: ResNetSpec, sources: SpecSourceMap | undefined): ModelGraph {
  const builder = new GraphBuilder(sources);
  const useBn = spec.norm === "batchnorm";
  builder.add("input", { kind: "input" }, [], { role: "main", stage: null, block: null, sourcePath: ["input"] }, [
    ...spec.input,
  ]);

  const stages: StageGroup[] = [];
  const group = (id: string, label: string, sourcePath: SpecPath, from: number, blocks: BlockGroup[]): void => {
    const nodes = builder.nodes.slice(from);
    if (nodes.length === 0) return;
    stages.push({
      id,
      label,
      blocks,
      nodeIds: nodes.map((n) => n.id),
      inputShape: nodes[0].inputShape,
      outputShape: nodes[nodes.length - 1].outputShape,
      params: sum(nodes, "params"),
      macs: sum(nodes, "macs"),
      source: sourceAt(sources, sourcePath),
    });
  };

  // Stem.
  const stem: NodeContext = { role: "main", stage: "stem", block: null, sourcePath: ["stem"] };
  let current = "input";
  let from = builder.nodes.length;
  const stemChannels = stemOutputChannels(spec);
  const inChannels = spec.input[0];
  if (spec.stem === "imagenet") {
    current = builder.add("conv1", conv(inChannels, stemChannels, 7, 2, 1, !useBn), [current], stem).id;
  } else {
    current = builder.add("conv1", conv(inChannels, stemChannels, 3, 1, 1, !useBn), [current], stem).id;
  }
  // The pre-activation CIFAR net leaves BN-ReLU of the stem to layer1.0 (He et al. 2016 code).
  if (spec.stem === "imagenet" || !spec.preActivation) {
    if (useBn) current = builder.add("bn1", batchnorm(stemChannels), [current], stem).id;
    current = builder.add("relu", { kind: "relu" }, [current], stem).id;
  }
  if (spec.stem === "imagenet")
    current = builder.add("maxpool", { kind: "maxpool", kernel: 3, stride: 2, padding: 1 }, [current], stem).id;
  group("stem", spec.stem === "imagenet" ? "ImageNet stem" : "CIFAR stem", ["stem"], from, []);

  // Residual stages.
  const label = blockLabel(spec);
  for (const [stageIndex, plans] of planBlocks(spec).entries()) {
    from = builder.nodes.length;
    const blocks: BlockGroup[] = [];
    for (const plan of plans) {
      const blockFrom = builder.nodes.length;
      const blockInput = builder.get(current);
      const { outputId, addId } = buildBlock(builder, spec, plan, current);
      const nodes = builder.nodes.slice(blockFrom);
      blocks.push({
        id: `layer${stageIndex + 1}.${plan.blockIndex}`,
        label,
        nodeIds: nodes.map((n) => n.id),
        inputShape: blockInput.outputShape,
        outputShape: builder.get(outputId).outputShape,
        params: sum(nodes, "params"),
        macs: sum(nodes, "macs"),
        addId,
        source: sourceAt(sources, ["stages", stageIndex]),
      });
      current = outputId;
    }
    group(`layer${stageIndex + 1}`, `${label} ×${plans.length}`, ["stages", stageIndex], from, blocks);
    // A stage's input is its first block's input, not its first node's (a projection may come later in order).
    const last = stages[stages.length - 1];
    last.inputShape = blocks[0].inputShape;
  }

  // Head.
  from = builder.nodes.length;
  if (spec.preActivation) {
    const finalContext: NodeContext = { role: "main", stage: "head", block: null, sourcePath: ["preActivation"] };
    const channels = builder.get(current).outputShape[0];
    if (useBn) current = builder.add("bn_final", batchnorm(channels), [current], finalContext).id;
    current = builder.add("relu_final", { kind: "relu" }, [current], finalContext).id;
  }
  current = builder.add("avgpool", { kind: "globalavgpool" }, [current], {
    role: "main",
    stage: "head",
    block: null,
    sourcePath: [],
  }).id;
  const features = builder.get(current).outputShape[0];
  builder.add("fc", { kind: "fc", inFeatures: features, outFeatures: spec.classes }, [current], {
    role: "main",
    stage: "head",
    block: null,
    sourcePath: ["classes"],
  });
  group("head", `AvgPool, FC ${spec.classes}`, ["classes"], from, []);

  const nodes = builder.nodes;
  const totals: GraphTotals = {
    params: sum(nodes, "params"),
    macs: sum(nodes, "macs"),
    activations: nodes.reduce((n, node) => n + shapeElements(node.outputShape), 0),
    depth: weightedDepth(nodes),
  };
  return {
    name: spec.name,
    spec,
    input: [...spec.input],
    output: [...nodes[nodes.length - 1].outputShape],
    nodes,
    stages,
    totals,
  };
}

/**
 * Analyze a resolved spec. Never throws for bad specs: `graph` is null when any error diagnostic was
 * found, and each diagnostic points at the spec element responsible (via `sources`, when given).
 */
export function analyze(
  spec: ResNetSpec,
  sources?: SpecSourceMap,
): { graph: ModelGraph | null; diagnostics: Diagnostic[] } {
  // Specs built by hand (not through resnet()) may be malformed: validate them the same way.
  const { issues } = normalizeSpec(spec);
  if (issues.length > 0) {
    const diagnostics: Diagnostic[] = issues.map((issue) => ({
      severity: "error",
      code: issue.code,
      message: issue.message,
      range: sourceAt(sources, issue.path),
    }));
    return { graph: null, diagnostics };
  }
  const refusals = checkSpec(spec, sources);
  const diagnostics = [...refusals, ...warnings(spec, sources)];
  if (refusals.length > 0) return { graph: null, diagnostics };
  return { graph: buildGraph(spec, sources), diagnostics };
}

/** analyze(), throwing SpecError when the spec is refused. */
export function analyzeOrThrow(spec: ResNetSpec, sources?: SpecSourceMap): ModelGraph {
  const { graph, diagnostics } = analyze(spec, sources);
  if (!graph) throw new SpecError(diagnostics.filter((d) => d.severity === "error"));
  return graph;
}

/**
 * The spec language: a plain-data description of one residual network.
 * He et al. 2015 ("Deep Residual Learning") and He et al. 2016 ("Identity Mappings").
 */
import type { DiagnosticCode } from "../diagnostics";

/** A feature-map shape [channels, height, width]. */
export type Shape3 = [channels: number, height: number, width: number];

/** imagenet: 7×7/2 conv, BN, ReLU, 3×3/2 max-pool. cifar: 3×3/1 conv, BN, ReLU. */
export type StemKind = "imagenet" | "cifar";
/** basic: 3×3, 3×3 (expansion 1). bottleneck: 1×1, 3×3, 1×1 (expansion 4). */
export type BlockKind = "basic" | "bottleneck";
/**
 * The paper's shortcut options (He et al. 2015, §4.1):
 * A: identity, zero-padded extra channels, stride-2 subsampling, no parameters;
 * B: 1×1 projection + BN only where the shape changes; C: projection on every block.
 */
export type ShortcutOption = "A" | "B" | "C";
export type NormKind = "batchnorm" | "none";

/** Shortcut variants studied in He et al. 2016 §3 (Fig. 2). */
export type ShortcutVariant =
  | { kind: "identity" }
  /** Shortcut multiplied by λ; the residual branch by `residualScale` (paper: 1 or 1−λ). */
  | { kind: "constantScaling"; lambda: number; residualScale: number }
  /** g = σ(1×1 conv(x)); out = g⊙F + (1−g)⊙x. */
  | { kind: "exclusiveGating"; gateBias: number }
  /** g = σ(1×1 conv(x)); out = F + (1−g)⊙x. */
  | { kind: "shortcutOnlyGating"; gateBias: number }
  /** A 1×1 conv (no BN) on every shortcut. */
  | { kind: "conv1x1" }
  /** Dropout with `rate` on the shortcut. */
  | { kind: "dropout"; rate: number };

export interface StageSpec {
  /** Base channels of the stage (torchvision's `planes`); the block output is channels × expansion. */
  channels: number;
  blocks: number;
  /** Stride of the first block of the stage. */
  stride: number;
}

/** A fully resolved spec: every option has a value. */
export interface ResNetSpec {
  name: string;
  input: Shape3;
  stem: StemKind;
  block: BlockKind;
  stages: StageSpec[];
  shortcut: ShortcutOption;
  shortcutVariant: ShortcutVariant;
  preActivation: boolean;
  /** false: the plain twin (no shortcuts at all). */
  residual: boolean;
  norm: NormKind;
  /** Convolution groups of the 3×3 conv (ResNeXt cardinality). */
  groups: number;
  /** torchvision's width_per_group: inner width = floor(channels × widthPerGroup / 64) × groups. 64 is plain ResNet, 128 is Wide ResNet-50-2. */
  widthPerGroup: number;
  classes: number;
  /** Zero-init the last BN γ of each residual branch (Goyal et al. 2017). */
  zeroInitResidual: boolean;
}

/** What users write: everything but `stages` optional. */
export interface StageOptions {
  channels: number;
  blocks: number;
  stride?: number;
}

export interface ResNetOptions {
  name?: string;
  input?: Shape3;
  stem?: StemKind;
  block?: BlockKind;
  stages: StageOptions[];
  shortcut?: ShortcutOption;
  shortcutVariant?: ShortcutVariant | ShortcutVariant["kind"];
  preActivation?: boolean;
  residual?: boolean;
  norm?: NormKind;
  groups?: number;
  widthPerGroup?: number;
  classes?: number;
  zeroInitResidual?: boolean;
}

/** Options a preset accepts to change the canonical network. */
export type PresetOverrides = Partial<Omit<ResNetOptions, "stages" | "block">>;

/** One validation problem, located by a path into the options object, e.g. ["stages", 1, "channels"]. */
export interface SpecIssue {
  path: (string | number)[];
  message: string;
  code: DiagnosticCode;
  /** The nearest valid value at `path` (a key's nearest known name for unknown-key). */
  suggestion?: { kind: "value" | "name"; value: string | number };
}

/**
 * Graph → PyTorch source. The generated `model.py` reads like torchvision's resnet.py (block classes with
 * `expansion`, one shortcut rule in `_make_layer`, a forward that follows the paper) but is written for this one
 * spec, so it carries no option it does not use. Every graph node except the input becomes a module whose name is
 * the node id (`layer2.0.downsample.0`, `layer1.0.relu_out`, `layer1.0.add`), so `state_dict` keys are
 * torchvision's and forward hooks can find every node the diagram shows.
 *
 * Semantics follow the TF.js runtime (runtime/model.ts) exactly: option A subsamples with x[:, :, ::s, ::s] and pads
 * ⌊extra/2⌋ channels before, the rest after; gates are σ(1×1 conv(shortcut input) + bias) starting at `gateBias`;
 * constant scaling is λ·x + residualScale·F. Initialisation follows runtime/init.ts (torchvision's scheme).
 *
 * The file also holds a dependency-free safetensors reader/writer and `load_checkpoint` for the shared checkpoint
 * format (CHECKPOINT-FORMAT: torchvision names, PyTorch layouts, metadata strings).
 */
import type { ModelGraph } from "../analysis/graph";
import type { ResNetSpec } from "../spec/types";
import { escapeJsonText, printable } from "../diagnostics";

export interface PytorchExportOptions {
  /** Where the spec came from (a file path or a preset name), quoted in the module docstring. */
  source?: string;
}

/** A Python literal for a JS number: integers keep a trailing ".0" where a float is meant. */
export function pyFloat(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`cannot export the non-finite number ${value}`);
  return Number.isInteger(value) ? value.toFixed(1) : String(value);
}

/** A Python string literal: JSON's escapes are valid Python; controls, bidi marks and U+FFFE become `\uXXXX`. */
export function pyString(text: string): string {
  return escapeJsonText(JSON.stringify(text));
}

/** A Python literal of plain JSON data (strings use JSON's escapes, which are valid Python). */
export function pyLiteral(value: unknown, indent = ""): string {
  if (value === null || value === undefined) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : pyFloat(value);
  if (typeof value === "string") return pyString(value);
  if (Array.isArray(value)) return `[${value.map((v) => pyLiteral(v, indent)).join(", ")}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  if (indent !== "") return `{${entries.map(([k, v]) => `${pyString(k)}: ${pyLiteral(v, indent)}`).join(", ")}}`;
  return `{\n${entries.map(([k, v]) => `    ${pyString(k)}: ${pyLiteral(v, "    ")},`).join("\n")}\n}`;
}

/**
 * Text safe inside a """docstring""": no closing quotes, no backslash of its own (paths keep their "/"), and every
 * control character, bidi mark or noncharacter shown as an escape (`\\x00`, doubled so Python keeps it visible): a
 * raw NUL makes the module unimportable, a raw CR or U+202E shows the reader other code than Python runs.
 */
export function docText(text: string): string {
  return printable(text.replace(/\\/g, "/").replace(/"""/g, "'''")).replace(/\\/g, "\\\\");
}

function blockClassName(spec: ResNetSpec): string {
  const kind = spec.block === "bottleneck" ? "Bottleneck" : "BasicBlock";
  return `${spec.residual ? "" : "Plain"}${spec.preActivation ? "PreAct" : ""}${kind}`;
}

interface Flags {
  bn: boolean;
  preact: boolean;
  residual: boolean;
  bottleneck: boolean;
  variant: ResNetSpec["shortcutVariant"];
  /** Shortcut modules are option A's PadShortcut (`shortcut`), not projections (`downsample`). */
  padShortcut: boolean;
  gated: boolean;
}

function flagsOf(spec: ResNetSpec): Flags {
  const variant = spec.residual ? spec.shortcutVariant : { kind: "identity" as const };
  return {
    bn: spec.norm === "batchnorm",
    preact: spec.preActivation,
    residual: spec.residual,
    bottleneck: spec.block === "bottleneck",
    variant,
    padShortcut: spec.residual && spec.shortcut === "A" && variant.kind !== "conv1x1",
    gated: variant.kind === "exclusiveGating" || variant.kind === "shortcutOnlyGating",
  };
}

function header(graph: ModelGraph, options: PytorchExportOptions): string[] {
  const spec = graph.spec;
  const from = options.source ? ` from ${docText(options.source)}` : "";
  return [
    `"""${docText(spec.name)}: a residual network exported by ResNet Studio${from}.`,
    ``,
    `    import model`,
    `    net = model.build()          # ${graph.totals.params.toLocaleString("en-US")} parameters, input ${spec.input.join("×")}, ${spec.classes} classes`,
    `    model.load_checkpoint(net, "checkpoint.safetensors")`,
    ``,
    `Module names are the diagram's node ids, so state_dict keys are torchvision's (layer2.0.downsample.0.weight).`,
    `Needs only torch (1.13 or 2.x).`,
    `"""`,
    `import hashlib`,
    `import json`,
    `import os`,
    `import stat`,
    `import struct`,
    `import sys`,
    `import tempfile`,
    ``,
    `import torch`,
    `import torch.nn.functional as F`,
    `from torch import nn`,
    ``,
    `# The resolved spec this file was generated from; load_checkpoint compares it with a checkpoint's.`,
    `SPEC = ${pyLiteral(spec)}`,
    `INPUT_SHAPE = (${spec.input.join(", ")})`,
    `NUM_CLASSES = ${spec.classes}`,
    `NUM_PARAMS = ${graph.totals.params}`,
    ``,
  ];
}

/** A Python nn.Module class after a blank line: its docstring, then each method (written unindented) after a blank line. */
function moduleClass(name: string, doc: string, ...methods: string[][]): string[] {
  return [
    ``,
    `class ${name}(nn.Module):`,
    `    """${doc}"""`,
    ...methods.flatMap((method) => [``, ...method.map((line) => `    ${line}`)]),
    ``,
  ];
}

function helpers(flags: Flags): string[] {
  const bias = flags.bn ? "False" : "True";
  const lines = [
    ``,
    ...(flags.bn ? [] : [`# norm: "none": no BatchNorm follows a conv, so every conv carries a bias.`]),
    `def conv3x3(in_planes, out_planes, stride=1, groups=1, bias=${bias}):`,
    `    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, groups=groups, bias=bias)`,
    ``,
    ``,
    `def conv1x1(in_planes, out_planes, stride=1, bias=${bias}):`,
    `    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=bias)`,
    ``,
  ];
  if (flags.padShortcut) {
    lines.push(
      ...moduleClass(
        "PadShortcut",
        "Option A (He et al. 2015, §4.1): identity with stride-s subsampling and zero-padded new channels.",
        [
          `def __init__(self, stride, pad_before, pad_after):`,
          `    super().__init__()`,
          `    self.stride = stride`,
          `    self.pad_before = pad_before`,
          `    self.pad_after = pad_after`,
        ],
        [
          `def forward(self, x):`,
          `    if self.stride > 1:`,
          `        x = x[:, :, :: self.stride, :: self.stride]`,
          `    return F.pad(x, (0, 0, 0, 0, self.pad_before, self.pad_after))`,
        ],
      ),
    );
  }
  if (flags.residual) {
    const v = flags.variant;
    if (v.kind === "constantScaling") {
      lines.push(
        ...moduleClass(
          "ScaledAdd",
          "Constant scaling (He et al. 2016, §3.1): λ·x + s·F(x).",
          [
            `def __init__(self, shortcut_scale, residual_scale):`,
            `    super().__init__()`,
            `    self.shortcut_scale = shortcut_scale`,
            `    self.residual_scale = residual_scale`,
          ],
          [
            `def forward(self, shortcut, residual):`,
            `    return self.shortcut_scale * shortcut + self.residual_scale * residual`,
          ],
        ),
      );
    } else if (flags.gated) {
      const exclusive = v.kind === "exclusiveGating";
      lines.push(
        ...moduleClass(
          "GatedAdd",
          exclusive
            ? "Exclusive gating (He et al. 2016, §3.1): g·F(x) + (1 − g)·x, g = σ(1×1 conv(x))."
            : "Shortcut-only gating (He et al. 2016, §3.1): F(x) + (1 − g)·x, g = σ(1×1 conv(x)).",
          [
            `def forward(self, shortcut, residual, gate):`,
            exclusive
              ? `    return gate * residual + (1 - gate) * shortcut`
              : `    return residual + (1 - gate) * shortcut`,
          ],
        ),
      );
    } else {
      lines.push(
        ...moduleClass("Add", "The residual merge x + F(x), as a module so that hooks see both of its inputs.", [
          `def forward(self, shortcut, residual):`,
          `    return shortcut + residual`,
        ]),
      );
    }
  }
  return lines;
}

/** Constructor and forward of the one block class the spec uses. */
function blockClass(spec: ResNetSpec, flags: Flags): string[] {
  const name = blockClassName(spec);
  const convCount = flags.bottleneck ? 3 : 2;
  const out = `planes * self.expansion`;
  // Conv k: [constructor call, input channels (for pre-activation BNs), output channels].
  const convs: [string, string, string][] = flags.bottleneck
    ? [
        [`conv1x1(inplanes, width)`, `inplanes`, `width`],
        [`conv3x3(width, width, stride, groups)`, `width`, `width`],
        [`conv1x1(width, ${out})`, `width`, out],
      ]
    : [
        [`conv3x3(inplanes, width, stride, groups)`, `inplanes`, `width`],
        [`conv3x3(width, ${out}, groups=groups)`, `width`, out],
      ];
  const v = flags.variant;
  const params = [`self`, `inplanes`, `planes`, `stride=1`];
  const shortcutAttr = flags.padShortcut ? "shortcut" : "downsample";
  if (flags.residual) params.push(`${shortcutAttr}=None`);
  params.push(`groups=1`, `base_width=64`);
  if (flags.preact) params.push(`preactivate=True`);
  if (flags.preact && flags.residual) params.push(`shared_preact=False`);

  const doc = flags.residual
    ? flags.preact
      ? `Pre-activation ${flags.bottleneck ? "bottleneck" : "basic"} block (He et al. 2016): BN-ReLU before each conv, a clean identity path.`
      : flags.bottleneck
        ? `Bottleneck (He et al. 2015, Fig. 5 right): 1×1, 3×3, 1×1; the 3×3 carries the stride and the groups.`
        : `Basic block (He et al. 2015, Fig. 2): two 3×3 convs and a shortcut.`
    : `The plain twin of a ${flags.bottleneck ? "bottleneck" : "basic"} block: the same layers without the shortcut (He et al. 2015, §4.1).`;
  const lines = [
    ``,
    `class ${name}(nn.Module):`,
    `    """${doc}"""`,
    ``,
    `    expansion = ${flags.bottleneck ? 4 : 1}`,
    ``,
    `    def __init__(${params.join(", ")}):`,
    `        super().__init__()`,
    `        width = planes * base_width // 64 * groups`,
  ];
  if (flags.preact) lines.push(`        self.preactivate = preactivate`);
  if (flags.preact && flags.residual) lines.push(`        self.shared_preact = shared_preact`);
  for (let k = 0; k < convCount; k++) {
    const n = k + 1;
    const [call, inCh, outCh] = convs[k];
    if (flags.preact) {
      // In the norm-free net relu1 reads the block input, which the shortcut still needs: not in place.
      const relu = !flags.bn && k === 0 ? `nn.ReLU()` : `nn.ReLU(inplace=True)`;
      const indent = k === 0 ? `            ` : `        `;
      if (k === 0) lines.push(`        if preactivate:`);
      if (flags.bn) lines.push(`${indent}self.bn${n} = nn.BatchNorm2d(${inCh})`);
      lines.push(`${indent}self.relu${n} = ${relu}`);
      lines.push(`        self.conv${n} = ${call}`);
    } else {
      lines.push(`        self.conv${n} = ${call}`);
      if (flags.bn) lines.push(`        self.bn${n} = nn.BatchNorm2d(${outCh})`);
      if (k < convCount - 1) lines.push(`        self.relu${n} = nn.ReLU(inplace=True)`);
    }
  }
  if (flags.residual) {
    lines.push(`        self.${shortcutAttr} = ${shortcutAttr}`);
    if (v.kind === "dropout") lines.push(`        self.shortcut_dropout = nn.Dropout(p=${pyFloat(v.rate)})`);
    if (v.kind === "exclusiveGating" || v.kind === "shortcutOnlyGating") {
      lines.push(
        `        self.gate = conv1x1(inplanes, ${out}, stride, bias=True)`,
        `        self.gate_sigmoid = nn.Sigmoid()`,
        `        # A negative bias starts the gate nearly closed: g ≈ σ(${pyFloat(v.gateBias)}) (He et al. 2016, §3.1).`,
        `        nn.init.constant_(self.gate.bias, ${pyFloat(v.gateBias)})`,
        `        self.add = GatedAdd()`,
      );
    } else if (v.kind === "constantScaling") {
      lines.push(`        self.add = ScaledAdd(${pyFloat(v.lambda)}, ${pyFloat(v.residualScale)})`);
    } else {
      lines.push(`        self.add = Add()`);
    }
  }
  if (!flags.preact) lines.push(`        self.relu_out = nn.ReLU(inplace=True)`);

  // forward
  lines.push(``, `    def forward(self, x):`);
  if (flags.preact) {
    const act = flags.bn ? `self.relu1(self.bn1(x))` : `self.relu1(x)`;
    lines.push(`        out = ${act} if self.preactivate else x`);
    if (flags.residual) lines.push(`        identity = out if self.shared_preact else x`);
    lines.push(`        out = self.conv1(out)`);
    for (let n = 2; n <= convCount; n++) {
      const act = flags.bn ? `self.relu${n}(self.bn${n}(out))` : `self.relu${n}(out)`;
      lines.push(`        out = self.conv${n}(${act})`);
    }
  } else {
    if (flags.residual) lines.push(`        identity = x`);
    for (let n = 1; n <= convCount; n++) {
      const input = n === 1 ? "x" : "out";
      const conv = flags.bn ? `self.bn${n}(self.conv${n}(${input}))` : `self.conv${n}(${input})`;
      lines.push(n < convCount ? `        out = self.relu${n}(${conv})` : `        out = ${conv}`);
    }
  }
  if (!flags.residual) {
    lines.push(flags.preact ? `        return out` : `        return self.relu_out(out)`, ``);
    return lines;
  }
  if (flags.gated) lines.push(`        gate = self.gate_sigmoid(self.gate(identity))`);
  lines.push(`        if self.${shortcutAttr} is not None:`, `            identity = self.${shortcutAttr}(identity)`);
  if (v.kind === "dropout") lines.push(`        identity = self.shortcut_dropout(identity)`);
  lines.push(flags.gated ? `        out = self.add(identity, out, gate)` : `        out = self.add(identity, out)`);
  lines.push(flags.preact ? `        return out` : `        return self.relu_out(out)`, ``);
  return lines;
}

/** The shortcut rule, written once: what `_make_layer` hands each block. */
function shortcutRule(spec: ResNetSpec, flags: Flags): string[] {
  const bnLine = flags.bn ? `, nn.BatchNorm2d(outplanes)` : ``;
  const method = (doc: string, ...body: string[]) => [
    `    @staticmethod`,
    `    def _shortcut(inplanes, outplanes, stride):`,
    `        """${doc}"""`,
    ...body.map((line) => `        ${line}`),
  ];
  const keepIdentity = [`if stride == 1 and inplanes == outplanes:`, `    return None`];
  if (flags.variant.kind === "conv1x1") {
    return method(
      `Every shortcut is a 1×1 conv without BN (He et al. 2016, §3.2, "1×1 conv shortcut").`,
      `return nn.Sequential(conv1x1(inplanes, outplanes, stride))`,
    );
  }
  if (spec.shortcut === "A") {
    return method(
      `Option A (He et al. 2015, §4.1): parameter-free; where the shape changes, subsample and zero-pad channels.`,
      ...keepIdentity,
      `extra = outplanes - inplanes`,
      `return PadShortcut(stride, extra // 2, extra - extra // 2)`,
    );
  }
  if (spec.shortcut === "C") {
    return method(
      `Option C (He et al. 2015, §4.1): a 1×1 projection on every shortcut.`,
      `return nn.Sequential(conv1x1(inplanes, outplanes, stride)${bnLine})`,
    );
  }
  return method(
    `Option B (He et al. 2015, §4.1): a 1×1 projection where the shape changes, identity elsewhere.`,
    ...keepIdentity,
    `return nn.Sequential(conv1x1(inplanes, outplanes, stride)${bnLine})`,
  );
}

function networkClass(spec: ResNetSpec, flags: Flags): string[] {
  const block = blockClassName(spec);
  const imagenet = spec.stem === "imagenet";
  const stemWidth = imagenet ? 64 : spec.stages[0].channels;
  const zeroInit = spec.zeroInitResidual && flags.residual && !flags.preact;
  const lines = [
    ``,
    `class ResNet(nn.Module):`,
    `    """${docText(spec.name)}: ${imagenet ? "ImageNet" : "CIFAR"} stem, ${spec.stages.length} stages of ${block}, global average pool, fc."""`,
    ``,
    `    def __init__(self, block=${block}, num_classes=NUM_CLASSES, in_channels=INPUT_SHAPE[0], groups=${spec.groups}, width_per_group=${spec.widthPerGroup}, zero_init_residual=${zeroInit ? "True" : "False"}):`,
    `        super().__init__()`,
    `        self.groups = groups`,
    `        self.base_width = width_per_group`,
    `        self.inplanes = ${stemWidth}`,
  ];
  const bias = flags.bn ? "False" : "True";
  if (imagenet) {
    lines.push(
      `        self.conv1 = nn.Conv2d(in_channels, self.inplanes, kernel_size=7, stride=2, padding=3, bias=${bias})`,
    );
  } else {
    lines.push(`        self.conv1 = conv3x3(in_channels, self.inplanes)`);
  }
  // The pre-activation CIFAR stem is conv1 alone: layer1.0 pre-activates it (He et al. 2016 code).
  const stemActivated = imagenet || !flags.preact;
  if (stemActivated) {
    if (flags.bn) lines.push(`        self.bn1 = nn.BatchNorm2d(self.inplanes)`);
    lines.push(`        self.relu = nn.ReLU(inplace=True)`);
  }
  if (imagenet) lines.push(`        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)`);
  if (flags.preact) {
    lines.push(
      `        # The stem's output is already BN-ReLU'd only after the ImageNet stem; the first block pre-activates otherwise.`,
      `        self._input_activated = ${imagenet ? "True" : "False"}`,
    );
  }
  spec.stages.forEach((stage, i) => {
    const stride = stage.stride === 1 ? "" : `, stride=${stage.stride}`;
    lines.push(`        self.layer${i + 1} = self._make_layer(block, ${stage.channels}, ${stage.blocks}${stride})`);
  });
  if (flags.preact) {
    lines.push(`        # Pre-activation nets end in BN-ReLU before pooling (He et al. 2016).`);
    if (flags.bn) lines.push(`        self.bn_final = nn.BatchNorm2d(self.inplanes)`);
    lines.push(`        self.relu_final = nn.ReLU(inplace=True)`);
  }
  lines.push(
    `        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))`,
    `        self.fc = nn.Linear(self.inplanes, num_classes)`,
    ``,
    `        # Kaiming normal (fan_out) convs, BN γ = 1 and β = 0; biases and fc keep PyTorch's defaults (U(±1/√fan_in)).`,
    `        for m in self.modules():`,
    `            if isinstance(m, nn.Conv2d):`,
    `                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")`,
    `            elif isinstance(m, nn.BatchNorm2d):`,
    `                nn.init.ones_(m.weight)`,
    `                nn.init.zeros_(m.bias)`,
  );
  if (flags.bn && flags.residual && !flags.preact) {
    const last = flags.bottleneck ? "bn3" : "bn2";
    lines.push(
      `        # Zero-initialise each branch's last BN γ so every block starts as the identity (Goyal et al. 2017).`,
      `        if zero_init_residual:`,
      `            for m in self.modules():`,
      `                if isinstance(m, ${block}):`,
      `                    nn.init.zeros_(m.${last}.weight)`,
    );
  }
  lines.push(
    ``,
    `    def _make_layer(self, block, planes, blocks, stride=1):`,
    `        outplanes = planes * block.expansion`,
    `        layers = []`,
    `        for i in range(blocks):`,
    `            s = stride if i == 0 else 1`,
  );
  if (!flags.residual) {
    if (flags.preact) {
      lines.push(
        `            preactivate = not self._input_activated`,
        `            self._input_activated = False`,
        `            layers.append(block(self.inplanes, planes, s, self.groups, self.base_width, preactivate))`,
      );
    } else {
      lines.push(`            layers.append(block(self.inplanes, planes, s, self.groups, self.base_width))`);
    }
  } else {
    lines.push(`            shortcut = self._shortcut(self.inplanes, outplanes, s)`);
    if (flags.preact) {
      lines.push(
        `            preactivate = not self._input_activated`,
        `            self._input_activated = False`,
        `            # The first block of a stage and every projecting block share their BN-ReLU with the shortcut.`,
        `            shared = i == 0 or shortcut is not None`,
        `            layers.append(block(self.inplanes, planes, s, shortcut, self.groups, self.base_width, preactivate, shared))`,
      );
    } else {
      lines.push(`            layers.append(block(self.inplanes, planes, s, shortcut, self.groups, self.base_width))`);
    }
  }
  lines.push(`            self.inplanes = outplanes`, `        return nn.Sequential(*layers)`, ``);
  if (flags.residual) lines.push(...shortcutRule(spec, flags), ``);

  lines.push(`    def forward(self, x):`);
  let stem = `self.conv1(x)`;
  if (stemActivated) {
    if (flags.bn) stem = `self.bn1(${stem})`;
    stem = `self.relu(${stem})`;
  }
  if (imagenet) stem = `self.maxpool(${stem})`;
  lines.push(`        x = ${stem}`);
  spec.stages.forEach((_, i) => lines.push(`        x = self.layer${i + 1}(x)`));
  if (flags.preact)
    lines.push(flags.bn ? `        x = self.relu_final(self.bn_final(x))` : `        x = self.relu_final(x)`);
  lines.push(`        x = torch.flatten(self.avgpool(x), 1)`, `        return self.fc(x)`, ``);
  return lines;
}

function buildFunction(): string[] {
  return [
    ``,
    `def build(seed=None):`,
    `    """The network as the spec defines it, freshly initialised; a seed makes the weights repeatable."""`,
    `    if seed is not None:`,
    `        torch.manual_seed(seed)`,
    `    return ResNet()`,
    ``,
  ];
}

/** The safetensors reader/writer and checkpoint loader: the same text in every export. */
const CHECKPOINT_IO = `

# The shared checkpoint format is safetensors: an 8-byte little-endian header length, a JSON header
# (name -> dtype, shape, data_offsets; "__metadata__" -> strings), then raw little-endian tensor data.
# Read and written here by hand, so the \`safetensors\` package is not needed.
_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
_DTYPE_NAMES = {dtype: name for name, dtype in _DTYPES.items()}
_MAX_HEADER_BYTES = 100 * 1024 * 1024
_MAX_FILE_BYTES = 2**31 - 1  # as ResNet Studio's reader: larger is not a checkpoint


def _element_size(dtype):
    return torch.empty((), dtype=dtype).element_size()


def _tensor_bytes(tensor):
    flat = tensor.detach().cpu().contiguous().reshape(-1)
    if flat.numel() == 0:
        return b""
    raw = flat.view(torch.uint8) if flat.dtype != torch.uint8 else flat
    try:
        return raw.numpy().tobytes()
    except (RuntimeError, TypeError):  # torch built without numpy
        return bytes(raw.tolist())


def read_safetensors(path):
    """-> (metadata: dict[str, str], tensors: dict[str, torch.Tensor]). Errors name the file and the field."""
    if sys.byteorder != "little":
        raise ValueError(f"{path}: safetensors data is little-endian; this machine is not")
    # Stat the file actually opened (non-blocking, so a FIFO cannot hang the open): no devices, no endless reads.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_FILE_BYTES:
        os.close(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{path}: not a regular file (a device, a pipe or a folder), so not a checkpoint")
        raise ValueError(f"{path}: {info.st_size} bytes is more than a checkpoint can be ({_MAX_FILE_BYTES})")
    with os.fdopen(fd, "rb") as f:
        data = f.read(info.st_size)
    if len(data) < 8:
        raise ValueError(f"{path}: not a safetensors file ({len(data)} bytes, the header length alone is 8)")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > _MAX_HEADER_BYTES or 8 + header_len > len(data):
        raise ValueError(f"{path}: header length {header_len} does not fit the file ({len(data)} bytes)")
    try:
        header = json.loads(data[8 : 8 + header_len].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"{path}: the header is not JSON ({err})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path}: the header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError(f"{path}: __metadata__ must map names to strings")
    body = data[8 + header_len :]
    expected_sha = metadata.get("dataSha256")
    if expected_sha is not None and hashlib.sha256(body).hexdigest() != expected_sha:
        raise ValueError(f"{path}: dataSha256 does not match the data (the file is damaged or truncated)")
    tensors = {}
    for name, info in header.items():
        where = f"{path}: tensor {name!r}"
        if not isinstance(info, dict) or info.get("dtype") not in _DTYPES:
            raise ValueError(f"{where}: dtype must be one of {sorted(_DTYPES)}")
        shape, offsets = info.get("shape"), info.get("data_offsets")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise ValueError(f"{where}: shape must be a list of non-negative integers")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            raise ValueError(f"{where}: data_offsets must be [begin, end]")
        dtype = _DTYPES[info["dtype"]]
        count = 1
        for d in shape:
            count *= d
        begin, end = offsets
        if not 0 <= begin <= end <= len(body) or end - begin != count * _element_size(dtype):
            raise ValueError(f"{where}: data_offsets {offsets} do not hold {count} {info['dtype']} values")
        if count == 0:
            tensors[name] = torch.empty(shape, dtype=dtype)
        else:
            tensors[name] = torch.frombuffer(bytearray(body[begin:end]), dtype=dtype).reshape(shape)
    return metadata, tensors


def write_safetensors(path, tensors, metadata=None):
    """Writes atomically (temp file in the same folder, fsync, rename); adds metadata["dataSha256"]."""
    if sys.byteorder != "little":
        raise ValueError(f"{path}: safetensors data is little-endian; this machine is not")
    header, chunks, offset = {}, [], 0
    for name, tensor in tensors.items():
        if tensor.dtype not in _DTYPE_NAMES:
            raise ValueError(f"{path}: tensor {name!r} has dtype {tensor.dtype}, which safetensors cannot hold")
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            # Never write what no reader accepts: the last good checkpoint stays.
            raise ValueError(f"{path}: tensor {name!r} holds NaN or infinite values (training diverged); not written")
        raw = _tensor_bytes(tensor)
        header[name] = {"dtype": _DTYPE_NAMES[tensor.dtype], "shape": list(tensor.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    body = b"".join(chunks)
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    meta["dataSha256"] = hashlib.sha256(body).hexdigest()
    header = {"__metadata__": meta, **header}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-(8 + len(text)) % 8)
    folder = os.path.dirname(os.path.abspath(path))
    # .rs-tmp-<pid>-: the name ResNet Studio looks for to remove a killed writer's temp file.
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".rs-tmp-{os.getpid()}-", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; a checkpoint is an ordinary file
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(text)))
            f.write(text)
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load_checkpoint(net, path, strict=True):
    """Loads a ResNet Studio checkpoint's model tensors into \`net\` (optimizer.* entries are skipped) -> metadata.
    With strict=True the checkpoint's spec must equal SPEC and every state_dict key must match."""
    if os.path.isdir(path):
        path = os.path.join(path, "checkpoint.safetensors")
    metadata, tensors = read_safetensors(path)
    # "pt": a weights-only state_dict (as safetensors.torch.save_file and Export Trained Model write it).
    if metadata.get("format") not in ("resnet-studio-checkpoint", "pt"):
        raise ValueError(f"{path}: metadata field format is {metadata.get('format')!r}, expected 'resnet-studio-checkpoint'")
    if strict and "spec" in metadata:
        try:
            spec = json.loads(metadata["spec"])
        except ValueError:
            raise ValueError(f"{path}: metadata field spec is not JSON") from None
        # The name is for display only: a renamed spec keeps its checkpoints.
        differ = sorted(k for k in set(spec) | set(SPEC) if k != "name" and spec.get(k) != SPEC.get(k))
        if differ:
            raise ValueError(f"{path}: metadata field spec differs from this model's in {', '.join(differ)} (pass strict=False to load anyway)")
    state = {k: v for k, v in tensors.items() if not k.startswith("optimizer.")}
    net.load_state_dict(state, strict=strict)
    return metadata
`;

const MAIN = `
if __name__ == "__main__":
    net = build()
    x = torch.randn(2, *INPUT_SHAPE)
    print(f"{SPEC['name']}: {sum(p.numel() for p in net.parameters()):,} parameters, {tuple(x.shape)} -> {tuple(net.eval()(x).shape)}")
`;

/** The PyTorch source of a network: `model.py`. */
export function exportPytorch(graph: ModelGraph, options: PytorchExportOptions = {}): string {
  const spec = graph.spec;
  const flags = flagsOf(spec);
  const lines = [
    ...header(graph, options),
    ...helpers(flags),
    ...blockClass(spec, flags),
    ...networkClass(spec, flags),
    ...buildFunction(),
  ];
  return lines.join("\n") + CHECKPOINT_IO + MAIN;
}

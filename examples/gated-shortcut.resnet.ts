// A shortcut-variant experiment from He et al. 2016 §3 (Fig. 2): exclusive gating on a CIFAR ResNet-20 layout,
// sharing a stage list and common options through consts and a spread.
import { resnet, stage, type ResNetOptions } from "resnet-studio";

const stages = [
  stage({ channels: 16, blocks: 3 }),
  stage({ channels: 32, blocks: 3, stride: 2 }),
  stage({ channels: 64, blocks: 3, stride: 2 }),
];
const cifar = { input: [3, 32, 32], stem: "cifar", classes: 10 } satisfies Partial<ResNetOptions>;

export default resnet({
  ...cifar,
  name: "ResNet-20, exclusive gating",
  block: "basic",
  stages,
  shortcutVariant: { kind: "exclusiveGating", gateBias: -6 },
});

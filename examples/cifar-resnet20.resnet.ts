// ResNet-20 for CIFAR-10 (He et al. 2015, §4.2): depth 6n+2 with n = 3, widths 16/32/64,
// identity shortcuts with zero-padding where the width grows (option A), so shortcuts add no parameters.
import { resnet, stage } from "resnet-studio";

const n = 3;

export default resnet({
  name: "ResNet-20",
  input: [3, 32, 32],
  stem: "cifar",
  block: "basic",
  stages: [
    stage({ channels: 16, blocks: n, stride: 1 }),
    stage({ channels: 32, blocks: n, stride: 2 }),
    stage({ channels: 64, blocks: n, stride: 2 }),
  ],
  shortcut: "A",
  classes: 10,
});

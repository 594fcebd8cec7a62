// Pre-activation ResNet-110 for CIFAR-10 (He et al. 2016, "Identity Mappings"): BN and ReLU before each conv,
// a clean identity path from input to output; n = 18 basic blocks per stage (6n+2 = 110 layers).
import { resnet, stage } from "resnet-studio";

const n = 18;

export default resnet({
  name: "PreAct-ResNet-110",
  input: [3, 32, 32],
  stem: "cifar",
  block: "basic",
  stages: [
    stage({ channels: 16, blocks: n }),
    stage({ channels: 32, blocks: n, stride: 2 }),
    stage({ channels: 64, blocks: n, stride: 2 }),
  ],
  shortcut: "B",
  preActivation: true,
  classes: 10,
});

// ResNet-18 for ImageNet (He et al. 2015, Table 1): basic blocks [2, 2, 2, 2], projection shortcuts (option B).
import { resnet, stage } from "resnet-studio";

export default resnet({
  name: "ResNet-18",
  input: [3, 224, 224],
  stem: "imagenet",
  block: "basic",
  stages: [
    stage({ channels: 64, blocks: 2 }),
    stage({ channels: 128, blocks: 2, stride: 2 }),
    stage({ channels: 256, blocks: 2, stride: 2 }),
    stage({ channels: 512, blocks: 2, stride: 2 }),
  ],
  shortcut: "B",
  preActivation: false,
  classes: 1000,
});

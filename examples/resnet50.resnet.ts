// ResNet-50 for ImageNet (He et al. 2015, Table 1): bottleneck blocks [3, 4, 6, 3], 25.6 M parameters, ~4.1 G MACs.
import { resnet, stage } from "resnet-studio";

// Base widths double at every stage while the feature map halves.
const width = 64;

export default resnet({
  name: "ResNet-50",
  input: [3, 224, 224],
  stem: "imagenet",
  block: "bottleneck",
  stages: [
    stage({ channels: width, blocks: 3, stride: 1 }),
    stage({ channels: width * 2, blocks: 4, stride: 2 }),
    stage({ channels: width * 4, blocks: 6, stride: 2 }),
    stage({ channels: width * 8, blocks: 3, stride: 2 }),
  ],
  shortcut: "B",
  classes: 1000,
});

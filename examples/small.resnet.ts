// A small residual net for MNIST digits: CIFAR-style 3×3 stem, three stages of one basic block (8/16/32
// channels), about 20 K parameters and 2.4 M MACs, so it trains in well under two minutes on a laptop CPU.
import { resnet, stage } from "resnet-studio";

export default resnet({
  name: "Small ResNet (MNIST)",
  input: [1, 28, 28],
  stem: "cifar",
  block: "basic",
  stages: [
    stage({ channels: 8, blocks: 1 }),
    stage({ channels: 16, blocks: 1, stride: 2 }),
    stage({ channels: 32, blocks: 1, stride: 2 }),
  ],
  shortcut: "B",
  classes: 10,
});

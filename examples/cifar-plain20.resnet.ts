// Plain-20, the residual-free twin of ResNet-20 (He et al. 2015, Fig. 6 left): same layers, no shortcuts.
import { resnet, stage } from "resnet-studio";

const n = 3;
const cifarStages = [
  stage({ channels: 16, blocks: n, stride: 1 }),
  stage({ channels: 32, blocks: n, stride: 2 }),
  stage({ channels: 64, blocks: n, stride: 2 }),
];

export default resnet({
  name: "Plain-20",
  input: [3, 32, 32],
  stem: "cifar",
  block: "basic",
  stages: cifarStages,
  residual: false,
  classes: 10,
});

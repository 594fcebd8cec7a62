// A preset with overrides: torchvision's ResNet-50 layout retargeted to 2 classes at 64×64 pixels.
// Presets fix the stages and the block kind; everything else can be overridden.
import { presets } from "resnet-studio";

export default presets.resnet50({
  name: "ResNet-50 (cats vs dogs, 64 px)",
  input: [3, 64, 64],
  classes: 2,
  zeroInitResidual: true,
});

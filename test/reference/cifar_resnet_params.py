"""Reference parameter counts for the paper's CIFAR-10 ResNets (He et al. 2015 §4.2), option A and B shortcuts.
Cross-check only (not part of the product or the test suite): /usr/bin/python3 test/reference/cifar_resnet_params.py
Also prints torchvision's ImageNet counts and stage shapes for comparison with model-core's analysis."""
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

from saved_memory import PadShortcut  # option A shortcut, the same module as the memory reference


class Basic(nn.Module):
    def __init__(self, cin, cout, stride, option):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = nn.Identity()
        if stride != 1 or cin != cout:
            self.short = (PadShortcut(stride, cout - cin) if option == "A"
                          else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)))

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + self.short(x))


def cifar_resnet(n, option):
    layers, cin = [nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()], 16
    for i, c in enumerate([16, 32, 64]):
        for b in range(n):
            layers.append(Basic(cin, c, 2 if (i > 0 and b == 0) else 1, option))
            cin = c
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)]
    return nn.Sequential(*layers)


def count(m):
    return sum(p.numel() for p in m.parameters())


for n in [3, 5, 7, 9, 18, 200]:
    net = cifar_resnet(n, "A")
    assert net(torch.zeros(1, 3, 32, 32)).shape == (1, 10)
    print(f"resnet{6 * n + 2}: option A {count(net)}, option B {count(cifar_resnet(n, 'B'))}")

for name in ["resnet18", "resnet50", "wide_resnet50_2", "resnext50_32x4d"]:
    m = getattr(torchvision.models, name)()
    x = torch.zeros(1, 3, 224, 224)
    x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
    shapes = [tuple(x.shape[1:])]
    for layer in [m.layer1, m.layer2, m.layer3, m.layer4]:
        x = layer(x)
        shapes.append(tuple(x.shape[1:]))
    print(name, count(m), shapes)

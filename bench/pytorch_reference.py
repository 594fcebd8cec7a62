#!/usr/bin/env python3
"""PyTorch CPU reference for ResNet Studio's benchmarks.

CIFAR ResNet-20 exactly as He et al. 2015 section 4.2 (3 stages x 3 BasicBlocks, 16/32/64 filters, option A
shortcuts: stride-2 subsampling plus zero-padded channels), batch 64, 2 threads. Prints one JSON object per line in
the format of bench/*.bench.ts, backend "pytorch": training and forward images per second, and the per-layer conv
kernel times (forward, dx, dW) under the same bench names as bench/conv.bench.ts.

Run: /usr/bin/python3 bench/pytorch_reference.py   (env BENCH_THREADS, BENCH_STEPS override the defaults)
"""
import json
import os
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:  # the harness checks this too; keep the message short
    print("torch is not installed", file=sys.stderr)
    sys.exit(3)

THREADS = int(os.environ.get("BENCH_THREADS", "2"))
BATCH = 64
STEPS = int(os.environ.get("BENCH_STEPS", "20"))
WARMUP = 3
torch.set_num_threads(THREADS)
torch.manual_seed(0)


def emit(bench, metric, value, unit, **extra):
    line = {"bench": bench, "metric": metric, "value": round(value, 3), "unit": unit, "backend": "pytorch"}
    line.update(extra)
    print(json.dumps(line), flush=True)


class OptionAShortcut(nn.Module):
    """Option A (paper section 3.3): identity with stride-2 subsampling and zero padding for the new channels."""

    def __init__(self, stride, pad_channels):
        super().__init__()
        self.stride = stride
        self.pad_channels = pad_channels

    def forward(self, x):
        x = x[:, :, :: self.stride, :: self.stride]
        half = self.pad_channels // 2
        return F.pad(x, (0, 0, 0, 0, half, self.pad_channels - half))


class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = (
            OptionAShortcut(stride, planes - in_planes) if stride != 1 or in_planes != planes else nn.Identity()
        )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, blocks_per_stage=3, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, in_planes = [], 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for i in range(blocks_per_stage):
                blocks.append(BasicBlock(in_planes, planes, stride if i == 0 else 1))
                in_planes = planes
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def images_per_second(fn, steps):
    for _ in range(WARMUP):
        fn()
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return BATCH * steps / (time.perf_counter() - start)


def bench_model():
    model = CifarResNet()
    params = sum(p.numel() for p in model.parameters())
    x = torch.randn(BATCH, 3, 32, 32)
    y = torch.randint(0, 10, (BATCH,))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)

    def train_step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    model.train()
    train = images_per_second(train_step, STEPS)
    model.eval()
    with torch.no_grad():
        forward = images_per_second(lambda: model(x), STEPS * 2)
    note = f"torch {torch.__version__}, {THREADS} threads, params {params}"
    emit(f"ResNet-20 b{BATCH}", "trainImagesPerSecond", train, "img/s", note=note)
    emit(f"ResNet-20 b{BATCH}", "forwardImagesPerSecond", forward, "img/s", note=note)


# Same shapes and names as bench/conv.bench.ts.
LAYERS = [
    ("stem 3→16 @32", 32, 3, 16, 1),
    ("layer1 16→16 @32", 32, 16, 16, 1),
    ("layer2.0 16→32 s2 @32", 32, 16, 32, 2),
    ("layer2 32→32 @16", 16, 32, 32, 1),
    ("layer3.0 32→64 s2 @16", 16, 32, 64, 2),
    ("layer3 64→64 @8", 8, 64, 64, 1),
]


def median_ms(fn, repeats=7):
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return times[len(times) // 2]


def bench_convs():
    from torch.nn.grad import conv2d_input, conv2d_weight

    for name, size, cin, cout, stride in LAYERS:
        x = torch.randn(BATCH, cin, size, size)
        w = torch.randn(cout, cin, 3, 3)
        out = (size + 2 - 3) // stride + 1
        dy = torch.randn(BATCH, cout, out, out)
        bench = f"conv {name} b{BATCH}"
        with torch.no_grad():
            emit(bench, "forwardMs", median_ms(lambda: F.conv2d(x, w, None, stride, 1)), "ms")
            emit(bench, "dxMs", median_ms(lambda: conv2d_input(x.shape, w, dy, stride, 1)), "ms")
            emit(bench, "dwMs", median_ms(lambda: conv2d_weight(x, w.shape, dy, stride, 1)), "ms")


if __name__ == "__main__":
    bench_model()
    if os.environ.get("BENCH_SKIP_CONVS") != "1":
        bench_convs()

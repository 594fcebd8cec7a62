"""Bytes that autograd really keeps for one training step, per module, measured with saved_tensors_hooks.

Usage: /usr/bin/python3 test/reference/saved_memory.py NET BATCH C,H,W [STAGE,STAGE…]   (NET: resnet18 | resnet50 |
resnext50_32x4d | resnet56 | a model.py written by `resnet-studio export`; the optional stages, e.g. layer1,layer3, run under torch.utils.checkpoint). Prints one
JSON object. Used by model-core/test/memory.test.ts; runs on torch 1.13 and 2.x.

A saved tensor is counted once per storage (in-place ReLU and `out += identity` share storages, and the
ReLU output a block saves is the next conv's saved input). It is attributed to the first module, in
forward order, that saves it. Parameters and buffers that autograd saves (conv and BN weights, running
statistics) are parameter memory, not activations, and are left out here.
"""
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint
import torchvision


class PadShortcut(nn.Module):
    """Option A (He et al. 2015 §4.1): subsample by the stride, zero-pad the new channels half before, half after."""

    def __init__(self, stride, extra):
        super().__init__()
        self.stride, self.before, self.after = stride, extra // 2, extra - extra // 2

    def forward(self, x):
        return F.pad(x[:, :, :: self.stride, :: self.stride], (0, 0, 0, 0, self.before, self.after))


class CifarBasicBlock(nn.Module):
    """torchvision's BasicBlock with an option-A shortcut: one in-place ReLU module called twice, `out += identity`."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = PadShortcut(stride, cout - cin) if (stride != 1 or cin != cout) else None

    def forward(self, x):
        identity = x if self.shortcut is None else self.shortcut(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class CifarResNet(nn.Module):
    """The paper's CIFAR ResNet-(6n+2), named like torchvision: conv1, bn1, relu, layer1..3, avgpool, fc."""

    def __init__(self, n, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        cin, stages = 16, []
        for i, c in enumerate([16, 32, 64]):
            blocks = []
            for b in range(n):
                blocks.append(CifarBasicBlock(cin, c, 2 if (i > 0 and b == 0) else 1))
                cin = c
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def build(name):
    """A torchvision net, the CIFAR resnet56 above, or the network of a model.py from `resnet-studio export`."""
    if name.endswith(".py"):
        import importlib.util

        spec = importlib.util.spec_from_file_location("exported_model", name)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.build()
    if name == "resnet56":
        return CifarResNet(9)
    return getattr(torchvision.models, name)()


def storage_of(t):
    s = t.untyped_storage() if hasattr(t, "untyped_storage") else t.storage()
    return s.data_ptr(), s.nbytes()


def main():
    name, batch, shape = sys.argv[1], int(sys.argv[2]), [int(v) for v in sys.argv[3].split(",")]
    checkpointed = [s for s in sys.argv[4].split(",") if s] if len(sys.argv) > 4 else []
    torch.manual_seed(0)
    model = build(name).train()
    for stage in checkpointed:
        # The stage keeps its module names; its forward runs under checkpoint (reentrant, the 1.13 default).
        seq = getattr(model, stage)
        seq.forward = lambda x, run=seq.forward: torch.utils.checkpoint.checkpoint(run, x)
    classes = model.fc.out_features
    state_ptrs = {storage_of(t)[0] for t in list(model.parameters()) + list(model.buffers())}

    # Which module is running: a stack kept by forward hooks on leaf modules. A block's ReLU module is called
    # once per ReLU of the block; call k of a block with K calls is relu{k+1}, the last one relu_out.
    stack, calls = [], {}
    relu_calls_per_block = 3 if name != "resnet56" and name != "resnet18" else 2
    names = {m: n for n, m in model.named_modules()}

    def module_id(module):
        n = names[module]
        if isinstance(module, nn.ReLU) and n.endswith(".relu") and n.count(".") >= 2:
            k = calls.get(n, 0)
            calls[n] = k + 1
            block = n.rsplit(".", 1)[0]
            return f"{block}.relu_out" if k == relu_calls_per_block - 1 else f"{block}.relu{k + 1}"
        return n

    def pre(module, _inputs):
        stack.append(module_id(module))

    def post(_module, _inputs, _output):
        stack.pop()

    for m in model.modules():
        if not list(m.children()) or isinstance(m, PadShortcut):
            m.register_forward_pre_hook(pre)
            m.register_forward_hook(post)

    seen, per_layer, other = set(), {}, 0

    def pack(t):
        nonlocal other
        ptr, nbytes = storage_of(t)
        if ptr in state_ptrs or ptr in seen:
            return t
        seen.add(ptr)
        if stack:
            per_layer[stack[-1]] = per_layer.get(stack[-1], 0) + nbytes
        else:
            other += nbytes
        return t

    x = torch.randn(batch, *shape)
    labels = torch.randint(0, classes, (batch,))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(x)
    loss = F.cross_entropy(out, labels)
    loss.backward()

    param_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    buffer_bytes = sum(b.numel() * b.element_size() for b in model.buffers())
    grad_bytes = sum(p.grad.numel() * p.grad.element_size() for p in model.parameters())
    optimizer_bytes = {}
    for opt_name, opt in [("sgd", torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)), ("adam", torch.optim.Adam(model.parameters()))]:
        opt.step()
        optimizer_bytes[opt_name] = sum(
            v.numel() * v.element_size() for s in opt.state.values() for v in s.values() if torch.is_tensor(v)
        )
    print(json.dumps({
        "net": name, "batch": batch, "input": shape, "torch": torch.__version__,
        "savedActivationBytes": sum(per_layer.values()) + other, "outsideModules": other, "layers": per_layer,
        "parameterBytes": param_bytes, "bufferBytes": buffer_bytes, "gradientBytes": grad_bytes,
        "optimizerBytes": optimizer_bytes, "parameterTensors": len(list(model.parameters())),
    }))


if __name__ == "__main__":
    main()

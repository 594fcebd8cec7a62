"""Reference side of test/importWeights.test.ts (torch 1.13 or 2.x, torchvision; no downloads).

    import_weights.py make <dir>        torchvision state_dicts as files: <name>.safetensors for the 9 ResNets and two
                                        other networks (names and shapes; the data is a sparse run of zeros, so the
                                        2 GB of all nine costs no disk), and resnet18 as .pth in three forms
    import_weights.py check <manifest>  each exported module (from the inferred spec) takes torchvision's state_dict
                                        with strict=True; prints {name: {params, torchvisionParams, error}}
"""
import json
import os
import struct
import sys

import torch
import torchvision

RESNETS = [
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "wide_resnet50_2",
    "wide_resnet101_2",
    "resnext50_32x4d",
    "resnext101_32x8d",
]
OTHERS = ["vgg11", "mobilenet_v2"]
_DTYPES = {torch.float32: ("F32", 4), torch.int64: ("I64", 8)}


_INITIALISERS = {}


def skip_init():
    """Builds big nets in a blink: the initialisers do nothing (the values are never used, only names and shapes)."""
    for name in ["kaiming_normal_", "kaiming_uniform_", "normal_", "uniform_", "constant_", "zeros_", "ones_", "trunc_normal_", "xavier_uniform_"]:
        if hasattr(torch.nn.init, name):
            _INITIALISERS.setdefault(name, getattr(torch.nn.init, name))
            setattr(torch.nn.init, name, lambda tensor, *args, **kwargs: tensor)


def restore_init():
    for name, function in _INITIALISERS.items():
        setattr(torch.nn.init, name, function)


def torchvision_net(name):
    return getattr(torchvision.models, name)()


def write_shapes_only(path, state):
    header, offset = {}, 0
    for key, tensor in state.items():
        dtype, size = _DTYPES[tensor.dtype]
        length = tensor.numel() * size
        header[key] = {"dtype": dtype, "shape": list(tensor.shape), "data_offsets": [offset, offset + length]}
        offset += length
    text = json.dumps({"__metadata__": {"format": "pt"}, **header}).encode("utf-8")
    text += b" " * (-(8 + len(text)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        f.truncate(8 + len(text) + offset)


def make(folder):
    params = {}
    skip_init()
    for name in RESNETS + OTHERS:
        net = torchvision_net(name)
        params[name] = sum(p.numel() for p in net.parameters())
        write_shapes_only(os.path.join(folder, f"{name}.safetensors"), net.state_dict())
        del net
    restore_init()
    torch.manual_seed(0)
    real = torchvision.models.resnet18(num_classes=10)
    torch.save(real.state_dict(), os.path.join(folder, "resnet18_10.pth"))
    torch.save({"model": real.state_dict(), "epoch": 3}, os.path.join(folder, "resnet18_10_nested.pth"))
    torch.save(real, os.path.join(folder, "resnet18_10_module.pth"))
    print(json.dumps({"params": params}))


def load_module(path, name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check(manifest_path):
    with open(manifest_path) as f:
        manifest = json.load(f)
    out = {}
    for case in manifest["cases"]:
        name = case["name"]
        try:
            mod = load_module(case["module"], f"imported_{name}")
            if case.get("pth"):
                # The real weights: through the file the user gave, then the same logits as torchvision's net.
                torch.manual_seed(0)
                reference = torchvision.models.resnet18(num_classes=10).eval()
                state = torch.load(case["pth"], map_location="cpu", weights_only=True)
                net = mod.build().eval()
                net.load_state_dict(state, strict=True)
                reference.load_state_dict(state, strict=True)
                x = torch.randn(2, *mod.INPUT_SHAPE, generator=torch.Generator().manual_seed(1))
                with torch.no_grad():
                    diff = float((net(x) - reference(x)).abs().max())
                out[name] = {"params": sum(p.numel() for p in net.parameters()), "maxLogitDiff": diff}
                continue
            skip_init()
            reference = torchvision_net(name)
            net = mod.build()
            net.load_state_dict(reference.state_dict(), strict=True)
            out[name] = {
                "params": sum(p.numel() for p in net.parameters()),
                "torchvisionParams": sum(p.numel() for p in reference.parameters()),
            }
            del net, reference
        except Exception as err:  # reported per case, so one failure does not hide the others
            out[name] = {"error": f"{type(err).__name__}: {err}"}
    print(json.dumps(out))


if __name__ == "__main__":
    {"make": make, "check": check}[sys.argv[1]](sys.argv[2])

#!/usr/bin/python3
"""
Runs the exported PyTorch modules for test/exportPytorch.test.ts and prints what it measured as one JSON object;
the TypeScript test compares it with the graph IR and the TF.js runtime. Not part of the product.

Usage: /usr/bin/python3 test/reference/check_pytorch_export.py manifest.json
manifest: {"cases": [{"name", "module": path to model.py, "forward": bool, "backward": bool,
                      "torchvision": model name or null, "parity": {"tfjsState", "x", "xShape", "train", "torchOut"} or null}]}
"""
import importlib.util
import json
import math
import sys

import torch
from torch import nn

torch.set_num_threads(1)


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def leaf_names(net):
    return sorted(name for name, m in net.named_modules() if name and not any(True for _ in m.children()))


def output_shapes(net, x):
    shapes, handles = {}, []
    for name, m in net.named_modules():
        if name:
            handles.append(m.register_forward_hook(lambda _m, _i, out, name=name: shapes.__setitem__(name, list(out.shape[1:]))))
    net.eval()
    with torch.no_grad():
        net(x)
    for h in handles:
        h.remove()
    return shapes


def forward_backward(net, x, classes):
    net.train()
    net.zero_grad(set_to_none=True)
    logits = net(x)
    loss = nn.functional.cross_entropy(logits, torch.arange(x.shape[0]) % classes)
    loss.backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None]
    finite = math.isfinite(loss.item()) and all(bool(torch.isfinite(p.grad).all()) for p in net.parameters() if p.grad is not None)
    nonzero = sum(1 for p in net.parameters() if p.grad is not None and p.grad.abs().sum().item() > 0)
    return {"missingGrads": missing, "finite": finite, "nonzeroGrads": nonzero, "paramTensors": sum(1 for _ in net.parameters())}


def logits_of(net, x, train):
    with torch.no_grad():
        net.eval()
        out = {"eval": net(x).flatten().tolist()}
        if train:
            net.train()
            out["train"] = net(x).flatten().tolist()
    return out


def parity(mod, case):
    p = case["parity"]
    x = torch.tensor(p["x"], dtype=torch.float32).reshape(p["xShape"])
    # TF.js weights (PyTorch layouts) -> the exported module.
    with open(p["tfjsState"]) as f:
        state = {k: torch.tensor(v["data"], dtype=torch.float32).reshape(v["shape"]) for k, v in json.load(f).items()}
    net = mod.build()
    for key in net.state_dict():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(0)
    net.load_state_dict(state, strict=True)
    from_tfjs = logits_of(net, x, p["train"])
    # The exported module's own weights, BN statistics moved off their defaults -> safetensors for the TF.js side.
    net = mod.build(seed=7)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 1.5)
    mod.write_safetensors(p["torchOut"], net.state_dict(), {"format": "resnet-studio-checkpoint", "spec": json.dumps(mod.SPEC)})
    again = mod.build(seed=8)
    metadata = mod.load_checkpoint(again, p["torchOut"])
    same = all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), net.state_dict().values()))
    return {"fromTfjs": from_tfjs, "torch": logits_of(net, x, p["train"]), "checkpointRoundTrip": same, "metadataKeys": sorted(metadata),
            "refusals": refusals(mod, p["torchOut"])}


def refusals(mod, path):
    """The messages load_checkpoint gives for a damaged file and for another spec's checkpoint."""
    out = {}
    with open(path, "rb") as f:
        data = bytearray(f.read())
    data[-1] ^= 0xFF
    damaged = path + ".damaged"
    with open(damaged, "wb") as f:
        f.write(data)
    other = dict(mod.SPEC, classes=mod.SPEC["classes"] + 1)
    foreign = path + ".foreign"
    mod.write_safetensors(foreign, mod.build().state_dict(), {"format": "resnet-studio-checkpoint", "spec": json.dumps(other)})
    for key, file in (("damaged", damaged), ("foreign", foreign)):
        try:
            mod.load_checkpoint(mod.build(), file)
            out[key] = None
        except ValueError as err:
            out[key] = str(err)
    return out


def run_case(case):
    mod = load(case["module"], "exported_" + str(abs(hash(case["name"]))))
    torch.manual_seed(0)
    net = mod.build()
    result = {"params": sum(p.numel() for p in net.parameters()), "leaves": leaf_names(net), "inputShape": list(mod.INPUT_SHAPE)}
    if case.get("torchvision"):
        import torchvision

        reference = getattr(torchvision.models, case["torchvision"])()
        try:
            net.load_state_dict(reference.state_dict(), strict=True)
            result["torchvision"] = "ok"
        except RuntimeError as err:
            result["torchvision"] = str(err)
        del reference
    if case.get("forward"):
        x = torch.randn(2, *mod.INPUT_SHAPE)
        result["shapes"] = output_shapes(net, x)
    if case.get("backward"):
        result["backward"] = forward_backward(net, torch.randn(4, *mod.INPUT_SHAPE), mod.NUM_CLASSES)
    if case.get("parity"):
        result["parity"] = parity(mod, case)
    return result


def main():
    with open(sys.argv[1]) as f:
        manifest = json.load(f)
    results = {}
    for case in manifest["cases"]:
        try:
            results[case["name"]] = run_case(case)
        except Exception as err:  # reported per case, so one failure names itself
            results[case["name"]] = {"error": f"{type(err).__name__}: {err}"}
    json.dump({"torch": torch.__version__, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()

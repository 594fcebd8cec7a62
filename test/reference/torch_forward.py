#!/usr/bin/python3
"""
Reference forward passes in PyTorch for the tfjs runtime test (model-core/test/model.test.ts).

Reads graph-IR JSON (from makeGraphs.ts), interprets every node with torch.nn.functional (NCHW, float64) through
the torch backend's interpreter (run_graph in model-core/python/resnet_studio_torch.py), fills every parameter, BN
buffer and the input batch with values from a closed formula (`formula`, mirrored by the test, so no weights are
stored), and prints a JSON fixture with, per graph: the graph, the logits in eval mode, and the logits
and updated running statistics of one train-mode pass. Not part of the product; CI has no torch, so the fixture is checked in.

Regenerate from the repository root:
  node --import tsx test/reference/makeGraphs.ts > /tmp/graphs.json
  /usr/bin/python3 test/reference/torch_forward.py /tmp/graphs.json > test/reference/torch-forward.fixture.json
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "model-core", "python"))
from resnet_studio_torch import run_graph  # noqa: E402

DTYPE = torch.float64


def name_code(name):
    return sum((k + 1) * ord(ch) for k, ch in enumerate(name)) % 997


def formula(name, shape, rms, offset=0.0):
    """Deterministic quasi-random values, computed identically by the TypeScript test (no weights stored):
    offset + rms·√2·sin(0.61803·i + 0.1·code(name)) over the row-major index i of the PyTorch-layout tensor."""
    n = 1
    for d in shape:
        n *= d
    i = torch.arange(n, dtype=DTYPE)
    return (offset + rms * 2 ** 0.5 * torch.sin(0.61803 * i + 0.1 * name_code(name))).reshape(shape)


def make_state(graph):
    """Values for every tensor the tfjs model owns, keyed by state_dict name (PyTorch layouts)."""
    state = {}
    for node in graph["nodes"]:
        op, nid = node["op"], node["id"]
        if op["kind"] == "conv":
            fan_in = op["inChannels"] // op["groups"] * op["kernel"] ** 2
            shape = (op["outChannels"], op["inChannels"] // op["groups"], op["kernel"], op["kernel"])
            state[nid + ".weight"] = formula(nid + ".weight", shape, (2.0 / fan_in) ** 0.5)
            if op["bias"]:
                state[nid + ".bias"] = formula(nid + ".bias", (op["outChannels"],), 0.3)
        elif op["kind"] == "batchnorm":
            c = (op["channels"],)
            state[nid + ".weight"] = formula(nid + ".weight", c, 0.3, 1.0)
            state[nid + ".bias"] = formula(nid + ".bias", c, 0.3)
            state[nid + ".running_mean"] = formula(nid + ".running_mean", c, 0.3)
            state[nid + ".running_var"] = formula(nid + ".running_var", c, 0.3, 1.0)
        elif op["kind"] == "fc":
            shape = (op["outFeatures"], op["inFeatures"])
            state[nid + ".weight"] = formula(nid + ".weight", shape, op["inFeatures"] ** -0.5)
            state[nid + ".bias"] = formula(nid + ".bias", (op["outFeatures"],), 0.1)
    return state


def forward(graph, state, x, train):
    """The product's graph interpreter; in train mode it updates the running statistics in `state`."""
    params = {k: v for k, v in state.items() if not k.endswith((".running_mean", ".running_var"))}
    return run_graph(graph, params, state, x, "train" if train else "eval", update_running=train)


def plain(t):
    return {"shape": list(t.shape), "data": [float("%.8g" % v) for v in t.flatten().tolist()]}


def main():
    graphs = json.load(open(sys.argv[1]))
    cases = []
    for graph in graphs:
        state = make_state(graph)
        c, h, w = graph["input"]
        x = formula("input", (2, c, h, w), 1.0)
        with torch.no_grad():
            eval_logits = forward(graph, state, x, train=False)
            train_logits = forward(graph, state, x, train=True)
        running = {k: plain(v) for k, v in state.items() if k.endswith("running_mean") or k.endswith("running_var")}
        cases.append({
            "graph": graph,
            "evalLogits": plain(eval_logits),
            "trainLogits": plain(train_logits),
            "runningAfterTrain": running,
        })
    json.dump({"generator": "test/reference/torch_forward.py", "torch": torch.__version__, "cases": cases}, sys.stdout)


if __name__ == "__main__":
    main()

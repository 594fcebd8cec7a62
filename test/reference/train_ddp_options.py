"""Runs an exported train_ddp.py in this one process (one torch import) for each argument list given as JSON on
stdin, and prints one JSON result per run: exit code, the start/epoch/checkpoint events, notes and stderr.

    python train_ddp_options.py <folder with train_ddp.py> < runs.json

With --logits <checkpoint> <precision> <channels_last> instead, it prints the logits of the checkpoint loaded strictly
into the plain exported module (NCHW, fp32, eval) and into one prepared as the fast path runs it, on a fixed batch."""
import contextlib
import importlib.util
import io
import json
import os
import sys


def load(folder):
    sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location("train_ddp", os.path.join(folder, "train_ddp.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_all(folder):
    script = load(folder)
    for argv in json.load(sys.stdin):
        out, err = io.StringIO(), io.StringIO()
        code = 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                script.main(argv)
            except SystemExit as exit:
                code = exit.code if isinstance(exit.code, int) else 1
        events, notes = [], []
        for line in out.getvalue().splitlines():
            (events if line.startswith("{") else notes).append(json.loads(line) if line.startswith("{") else line)
        print(json.dumps({"argv": argv, "code": code, "events": [e for e in events if e["type"] != "step"],
                          "steps": sum(1 for e in events if e["type"] == "step"), "notes": notes, "stderr": err.getvalue()}))


def logits(folder, checkpoint, precision, channels_last):
    import torch

    fast = load(folder).fast
    model = importlib.util.module_from_spec(importlib.util.spec_from_file_location("model", os.path.join(folder, "model.py")))
    model.__spec__.loader.exec_module(model)
    x = torch.randn(16, *model.INPUT_SHAPE, generator=torch.Generator().manual_seed(3))
    plain = model.build()
    model.load_checkpoint(plain, checkpoint, strict=True)
    with torch.no_grad():
        reference = plain.eval()(x)
    options = fast.resolve(torch.device("cpu"), precision, "off", channels_last)
    trained = fast.prepare(model.build(), options)
    model.load_checkpoint(trained, checkpoint, strict=True)
    with torch.no_grad(), options.autocast():
        ours = trained.eval()(options.to_input(x)).float()
    scale = float(reference.abs().max())
    print(json.dumps({"maxRelativeDifference": float((ours - reference).abs().max()) / max(scale, 1e-12), "scale": scale,
                      "dtypes": sorted({str(t.dtype) for t in model.read_safetensors(checkpoint)[1].values()})}))


if __name__ == "__main__":
    if sys.argv[2:3] == ["--logits"]:
        logits(sys.argv[1], sys.argv[3], sys.argv[4], sys.argv[5])
    else:
        run_all(sys.argv[1])

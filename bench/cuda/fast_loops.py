"""Three training loops of the same exported network in one process, interleaved round by round (issue 23):

- naive: the plain hand loop BENCHMARKS.md measured first: NCHW, autocast when asked, cudnn.benchmark on;
- tuned: the same written with PyTorch's performance tuning guide: channels_last model and input, cudnn.benchmark,
  zero_grad(set_to_none=True), no host sync in the step;
- ours: model-core/python/resnet_studio_fast.py's TrainStep as train_ddp.py and the torch backend run it (adds
  torch.compile on CUDA with torch >= 2, and sums loss/accuracy on the device).

Each prints img/s (median and best of the rounds) and the time per 50,000-image epoch, per network, batch and
precision, then the ratios ours/tuned and ours/naive. --e2e adds the wall time of 10 epochs of synthetic CIFAR-shaped
data, data creation and loading included: the naive and tuned loops with a DataLoader, ours as `python train_ddp.py`.

    bash bench/cuda/export-models.sh                    # on a machine with node: writes .bench/cuda/models
    python3 bench/cuda/fast_loops.py --e2e              # on the GPU box (defaults: CUDA, ResNet-20/56, b128/1024, fp32/bf16)
    python3 bench/cuda/fast_loops.py --device cpu --threads 1 --batches 32 --precisions fp32 --nets resnet20

One JSON object per line ({"bench", ...}); the last line is {"summary": ...}. Exit 1 when --bar is given and ours/tuned
(or ours/naive, against --bar-naive when given) falls below it at the largest batch (bf16 where measured).
"""
import argparse
import contextlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EPOCH_IMAGES = 50_000


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fast_module(models):
    """The fast-path module shipped beside the exported train_ddp.py, else the repository's."""
    beside = os.path.join(models, "resnet_studio_fast.py")
    return load(beside if os.path.exists(beside) else os.path.join(ROOT, "model-core/python/resnet_studio_fast.py"), "resnet_studio_fast")


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def sgd(net):
    return torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)


def make_loops(module, fast, device, batch, precision, classes):
    """-> {name: step function}, each with its own network (same seed), optimizer and batch."""
    amp = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    torch.manual_seed(0)
    x = torch.randn(batch, *module.INPUT_SHAPE, device=device)
    y = torch.randint(0, classes, (batch,), device=device)
    loops = {}

    def hand(channels_last):
        net = module.build(seed=1).to(device)
        inputs = x
        if channels_last:
            net = net.to(memory_format=torch.channels_last)
            inputs = x.contiguous(memory_format=torch.channels_last)
        opt = sgd(net)
        scaler = torch.cuda.amp.GradScaler() if precision == "fp16" else None

        def step():
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=amp) if amp else contextlib.nullcontext():
                loss = F.cross_entropy(net(inputs).float(), y)
            if scaler:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()

        return step

    loops["naive"] = hand(False)
    loops["tuned"] = hand(True)
    options = fast.resolve(device, precision, "auto", "auto")
    net = fast.prepare(module.build(seed=1), options)
    train_step = fast.TrainStep(net, sgd(net), options, note=lambda line: print(line, file=sys.stderr))
    sums = fast.Sums(device)
    inputs = options.to_input(x)

    def ours():
        loss, logits = train_step(inputs, y)
        sums.add(loss, logits, y)

    loops["ours"] = ours
    return loops, options


def measure(loops, device, batch, steps, rounds, warmup):
    for step in loops.values():
        for _ in range(warmup):  # cuDNN autotuning, torch.compile, allocator
            step()
    sync(device)
    rates = {name: [] for name in loops}
    for _ in range(rounds):
        for name, step in loops.items():
            sync(device)
            started = time.perf_counter()
            for _ in range(steps):
                step()
            sync(device)
            rates[name].append(batch * steps / (time.perf_counter() - started))
    return rates


def end_to_end(models, net_name, device, epochs, images, batch, threads):
    """Wall seconds of `epochs` epochs of synthetic data shaped as the net's input, data creation and loading included.
    `net_name` is the module exported with --with-train-script (train_ddp.py beside it)."""
    module = load(os.path.join(models, f"{net_name}.py"), net_name)
    classes = module.NUM_CLASSES
    out = {}
    for name, channels_last in (("naive", False), ("tuned", True)):
        started = time.perf_counter()
        g = torch.Generator().manual_seed(1)
        data = torch.utils.data.TensorDataset(torch.randn(images, *module.INPUT_SHAPE, generator=g), torch.randint(0, classes, (images,), generator=g))
        loader = torch.utils.data.DataLoader(data, batch_size=batch, shuffle=True, drop_last=True, num_workers=2, pin_memory=device.type == "cuda")
        net = module.build(seed=1).to(device)
        if channels_last:
            net = net.to(memory_format=torch.channels_last)
        opt = sgd(net)
        for _ in range(epochs):
            for x, y in loader:
                x = x.to(device, non_blocking=True)
                if channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(net(x), y.to(device, non_blocking=True)).backward()
                opt.step()
        sync(device)
        out[name] = time.perf_counter() - started
    started = time.perf_counter()
    command = [sys.executable, os.path.join(models, "train_ddp.py"), "--dataset", f"synthetic:count={images}:classes={classes}", "--epochs", str(epochs),
               "--batch-size", str(batch), "--optimizer", "sgd", "--lr", "0.05", "--schedule", "constant", "--device", device.type,
               "--log-every", "100", "--workers", "0", "--out", os.path.join(models, ".e2e-run")]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads)) if threads else None
    r = subprocess.run(command, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"train_ddp.py failed: {r.stderr.strip()[-500:]}")
    out["ours"] = time.perf_counter() - started
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default=os.path.join(ROOT, ".bench/cuda/models"), help="exported modules (bench/cuda/export-models.sh)")
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--nets", default="resnet20,resnet56")
    p.add_argument("--batches", default="128,1024")
    p.add_argument("--precisions", default="fp32,bf16")
    p.add_argument("--steps", type=int, default=20, help="steps per loop per round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    p.add_argument("--e2e", action="store_true", help="also 10 epochs of synthetic CIFAR-shaped data, loading included")
    p.add_argument("--e2e-epochs", type=int, default=10)
    p.add_argument("--e2e-images", type=int, default=EPOCH_IMAGES)
    p.add_argument("--e2e-batch", type=int, default=512)
    p.add_argument("--e2e-net", default="ddp_resnet20", help="the module exported with --with-train-script")
    p.add_argument("--bar", type=float, help="exit 1 when ours/tuned or ours/naive at the largest batch is below this")
    p.add_argument("--bar-naive", type=float, help="exit 1 when ours/naive at the largest batch is below this (issue 23: 2.5 on CUDA)")
    args = p.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("fast_loops.py: error: --device cuda: this torch sees no CUDA device (use --device cpu)")
    if args.threads:
        torch.set_num_threads(args.threads)
    fast = fast_module(args.models)
    machine = {"torch": torch.__version__, "device": torch.cuda.get_device_name(0) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads",
               "load": os.getloadavg()[0]}
    print(json.dumps({"machine": machine}), flush=True)
    rows = []
    for net_name in args.nets.split(","):
        path = os.path.join(args.models, f"{net_name}.py")
        if not os.path.exists(path):
            sys.exit(f"fast_loops.py: error: {path} is missing; run bash bench/cuda/export-models.sh first")
        module = load(path, net_name)
        for batch in [int(b) for b in args.batches.split(",")]:
            for precision in args.precisions.split(","):
                loops, options = make_loops(module, fast, device, batch, precision, module.NUM_CLASSES)
                rates = measure(loops, device, batch, args.steps, args.rounds, args.warmup)
                row = {"bench": f"{net_name} b{batch} {precision}", "net": net_name, "batch": batch, "precision": precision,
                       "options": options.describe()}
                for name, values in rates.items():
                    median = statistics.median(values)
                    row[name] = {"median": round(median, 1), "best": round(max(values), 1), "epochSeconds": round(EPOCH_IMAGES / median, 2)}
                row["oursOverTuned"] = round(statistics.median(rates["ours"]) / statistics.median(rates["tuned"]), 3)
                row["oursOverNaive"] = round(statistics.median(rates["ours"]) / statistics.median(rates["naive"]), 3)
                rows.append(row)
                print(json.dumps(row), flush=True)
                del loops
                if device.type == "cuda":
                    torch.cuda.empty_cache()
    summary = {"rows": len(rows)}
    if args.e2e:
        summary["e2e"] = {"epochs": args.e2e_epochs, "images": args.e2e_images, "batch": args.e2e_batch,
                          "seconds": {k: round(v, 2) for k, v in end_to_end(args.models, args.e2e_net, device, args.e2e_epochs, args.e2e_images, args.e2e_batch, args.threads).items()}}
    failed = []
    if args.bar is not None and rows:
        largest = max(r["batch"] for r in rows)
        checked = [r for r in rows if r["batch"] == largest and (r["precision"] == "bf16" or "bf16" not in args.precisions.split(","))]
        naive_bar = args.bar if args.bar_naive is None else args.bar_naive
        failed = [r["bench"] for r in checked if r["oursOverTuned"] < args.bar or r["oursOverNaive"] < naive_bar]
        summary["bar"] = {"value": args.bar, "failed": failed, "naive": naive_bar}
    print(json.dumps({"summary": summary}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

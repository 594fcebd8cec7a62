#!/usr/bin/env python3
"""Plain PyTorch reference for the Fashion-MNIST training record in BENCHMARKS.md.

Trains a network exported by `resnet-studio export <spec> --out model.py` on an MNIST-format IDX folder with the recipe
`resnet-studio train --dataset idx:<dir>` uses (model-core/src/cli/train.ts datasetDefaults for "idx"): Adam (betas 0.9,
0.999, eps 1e-8), lr 1e-2 annealed per step to 0 by a cosine (Loshchilov & Hutter 2017), no weight decay, batch 64,
the last partial batch of an epoch dropped, a fresh shuffle per epoch, pixels normalised as (x/255 - mean)/std with the
training images' mean and std. Validation is the t10k split. Nothing here comes from ResNet Studio but the exported
module; the loop is an ordinary PyTorch loop.

Run: /usr/bin/python3 bench/fashion_mnist_reference.py --model model.py --data /usr/share/datasets/fashion-mnist
Prints one JSON object per epoch and a summary line last (env BENCH_THREADS sets torch's threads, default 2).
"""
import argparse
import gzip
import importlib.util
import json
import math
import os
import struct
import time

import torch
import torch.nn.functional as F


def read_idx(path, dims):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    if magic != 0x800 + dims:
        raise SystemExit(f"{path}: magic {magic:#010x}, expected {0x800 + dims:#010x}")
    shape = struct.unpack(">" + "I" * dims, data[4 : 4 + 4 * dims])
    return torch.frombuffer(bytearray(data[4 + 4 * dims :]), dtype=torch.uint8).reshape(shape)


def find(folder, name):
    for candidate in (name + ".gz", name):
        path = os.path.join(folder, candidate)
        if os.path.exists(path):
            return path
    raise SystemExit(f"{folder}: no {name}[.gz]")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, help="model.py written by resnet-studio export")
    parser.add_argument("--data", required=True, help="folder of train-/t10k- IDX files")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    torch.manual_seed(args.seed)

    spec = importlib.util.spec_from_file_location("exported_model", args.model)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    net = module.build(seed=args.seed)

    started = time.perf_counter()
    train_x = read_idx(find(args.data, "train-images-idx3-ubyte"), 3)
    train_y = read_idx(find(args.data, "train-labels-idx1-ubyte"), 1).long()
    val_x = read_idx(find(args.data, "t10k-images-idx3-ubyte"), 3)
    val_y = read_idx(find(args.data, "t10k-labels-idx1-ubyte"), 1).long()
    scaled = train_x.float() / 255
    mean, std = float(scaled.mean()), float(scaled.std(unbiased=False))

    def normalise(x):
        return ((x.float() / 255 - mean) / std).unsqueeze(1)

    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)
    steps_per_epoch = len(train_y) // args.batch
    total = args.epochs * steps_per_epoch
    step = 0
    val_accuracy = 0.0
    for epoch in range(args.epochs):
        net.train()
        order = torch.randperm(len(train_y))
        epoch_started = time.perf_counter()
        correct = 0
        for i in range(steps_per_epoch):
            lr = args.lr * 0.5 * (1 + math.cos(math.pi * min(1, step / total)))
            for group in optimizer.param_groups:
                group["lr"] = lr
            idx = order[i * args.batch : (i + 1) * args.batch]
            x, y = normalise(train_x[idx]), train_y[idx]
            optimizer.zero_grad(set_to_none=True)
            logits = net(x)
            loss = F.cross_entropy(logits, y)
            loss.backward()
            optimizer.step()
            correct += int((logits.argmax(1) == y).sum())
            step += 1
        net.eval()
        with torch.no_grad():
            val_correct = sum(
                int((net(normalise(val_x[j : j + 1000])).argmax(1) == val_y[j : j + 1000]).sum())
                for j in range(0, len(val_y), 1000)
            )
        val_accuracy = val_correct / len(val_y)
        print(json.dumps({
            "type": "epoch", "epoch": epoch, "accuracy": correct / (steps_per_epoch * args.batch),
            "valAccuracy": val_accuracy, "seconds": round(time.perf_counter() - epoch_started, 2),
        }), flush=True)
    print(json.dumps({
        "type": "summary", "backend": "pytorch-loop", "torch": torch.__version__, "threads": torch.get_num_threads(),
        "epochs": args.epochs, "valAccuracy": round(val_accuracy, 5), "mean": round(mean, 4), "std": round(std, 4),
        "totalSeconds": round(time.perf_counter() - started, 2),
    }), flush=True)


if __name__ == "__main__":
    main()

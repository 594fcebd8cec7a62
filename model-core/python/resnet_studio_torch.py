#!/usr/bin/env python3
"""ResNet Studio's torch backend: a long-lived worker that runs jobs (train, gradflow, bench, calibrate, lrRange)
on exported model.py modules.

Started by model-core/src/runtime/torchWorker.ts as `python resnet_studio_torch.py --serve`. It speaks the project's
RPC (model-core/src/rpc.ts) as JSON lines: the parent writes {"type":"request","id","body":{"kind",...}} and
{"type":"cancel","id"}; the worker prints one "hello" line when torch is imported, then per request
{"type":"push","id","message"} lines (progress, as torchProtocol.ts RunnerMessage) and exactly one
{"type":"response","id","ok","kind","body"|"error"}. Requests run one at a time, in order. Anything else printed to
stdout (by a model module or a library) goes to stderr, which is for diagnostics only. A cancel stops the job
between steps (keeping the last completed epoch's checkpoint) and the worker stays up for the next request; stdin
closing ends the worker. Built models are kept by the parent's model key for gradient-flow requests.
Works on torch 1.13 and 2.x, without numpy or safetensors.
"""
import contextlib
import datetime
import importlib.util
import json
import math
import os
import signal
import sys
import queue
import threading
import time
from collections import OrderedDict

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # also when loaded by path from elsewhere
import resnet_studio_fast as fast  # noqa: E402 (beside this file: scripts/build.mjs copies both)

# Protocol version; the parent refuses other versions.
PROTOCOL = 2
VAL_BATCH = 256
# A step line at least this often (unless logEverySeconds says otherwise): the parent's idle timeout counts on it.
KEEPALIVE_SECONDS = 10
MASK = 0xFFFFFFFF

_out_lock = threading.Lock()
# The protocol stream: a private copy of stdout, set up by serve() (fd 1 then points at stderr).
_proto = sys.stdout
# Messages that end a job: they become the body of its response, the others are pushed as progress.
FINAL = ("done", "gradflow", "bench", "calibration", "lrRange", "evaluation")
_job = {"id": None, "result": None}


def _write(obj):
    line = json.dumps(_finite(obj), separators=(",", ":"), allow_nan=False)
    with _out_lock:
        _proto.write(line + "\n")
        _proto.flush()


def emit(message):
    """A job's message: its final one is kept for the response, the others go out now as pushes."""
    if message.get("type") in FINAL:
        _job["result"] = message
    else:
        _write({"type": "push", "id": _job["id"], "message": message})


def _finite(value):
    """JSON has no NaN or Infinity: they travel as null, as JSON.stringify writes them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


class Cancel:
    """One job's cancel flag: set by a "cancel" line naming its id, or by stdin closing; loops poll it between steps."""

    def __init__(self):
        self.flag = threading.Event()

    def __bool__(self):
        return self.flag.is_set()


class SeededRng:
    """mulberry32, bit for bit as model-core/src/data/rng.ts, so shuffles match the wasm trainer's and resume across backends."""

    def __init__(self, state):
        self.state = state & MASK

    def next(self):
        self.state = (self.state + 0x6D2B79F5) & MASK
        t = self.state
        t = _imul(t ^ (t >> 15), t | 1)
        t ^= (t + _imul(t ^ (t >> 7), t | 61)) & MASK
        return (t ^ (t >> 14)) / 4294967296.0

    def shuffled(self, n):
        order = list(range(n))
        for i in range(n - 1, 0, -1):
            j = int(self.next() * (i + 1))
            order[i], order[j] = order[j], order[i]
        return order


def _imul(a, b):
    return (a * b) & MASK


def learning_rate_at(config, global_step, steps_per_epoch):
    """runtime/train.ts learningRateAt."""
    schedule = config["schedule"]
    kind = schedule["kind"]
    lr = config["lr"]
    epoch = global_step // steps_per_epoch
    if kind == "constant":
        return lr
    if kind == "step":
        return lr * math.pow(schedule["gamma"], len([m for m in schedule["milestones"] if m <= epoch]))
    total = max(1, config["epochs"] * steps_per_epoch)
    warmup = round_half_up((schedule.get("warmupEpochs") or 0) * steps_per_epoch)
    min_lr = schedule.get("minLr") or 0
    if global_step < warmup:
        return lr * (global_step + 1) / warmup
    progress = min(1, (global_step - warmup) / max(1, total - warmup))
    return min_lr + (lr - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


def round_half_up(x):
    return int(math.floor(x + 0.5))  # Math.round


def load_module(path):
    spec = importlib.util.spec_from_file_location("resnet_studio_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pick_device(choice):
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("--device cuda: this PyTorch sees no CUDA device (torch.cuda.is_available() is False)")
        return torch.device("cuda")
    return torch.device("cpu")


def read_u8(path, count):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) != count:
        raise RuntimeError(f"{path}: expected {count} bytes, found {len(data)}")
    return torch.frombuffer(bytearray(data), dtype=torch.uint8) if count else torch.empty(0, dtype=torch.uint8)


def read_u32(path, count):
    data = read_u8(path, 4 * count)
    return data.view(torch.int32).long() if count else torch.empty(0, dtype=torch.long)


class Images:
    """A dataset converted to the model's input geometry once (uint8), normalised per batch through the lookup
    tables of data/dataset.ts BatchAdapter: the same floats the wasm trainer sees."""

    def __init__(self, info, target, device):
        n, h, w, c = info["count"], info["height"], info["width"], info["channels"]
        pixels = read_u8(info["images"], n * h * w * c).view(n, h, w, c).permute(0, 3, 1, 2)
        self.labels = read_u8(info["labels"], n).long()
        self.pixels = fast.fit_uint8(pixels, target).to(device)  # the BatchAdapter's geometry, shared with train_ddp.py
        self.labels = self.labels.to(device)
        self.luts = torch.tensor(info["luts"], dtype=torch.float32, device=device)
        self.channels = target[0]

    def batch(self, indices):
        u8 = self.pixels[indices].long()
        if u8.shape[1] == 1:
            x = torch.stack([self.luts[c][u8[:, 0]] for c in range(self.channels)], 1)
        else:
            x = torch.stack([self.luts[c][u8[:, c]] for c in range(self.channels)], 1)
        return x, self.labels[indices]


# ---------------------------------------------------------------------------------------------------------------
# Gradient flow: the graph IR interpreted with the exported module's own parameters, so every node id of the
# diagram gets its ‖dL/dx‖ (the module's forward has no per-node tensors). Checked against the module's logits.


def stats(g):
    g = g.detach().double().abs()
    max_abs = g.max() if g.numel() else torch.zeros((), dtype=torch.float64)
    scaled = g / torch.clamp(max_abs, min=1e-30)
    return [float(torch.sqrt((scaled * scaled).sum()) * max_abs), float(g.mean()) if g.numel() else 0.0, float(max_abs)]


def run_graph(graph, params, buffers, x, mode, node_hook=None, edge_hook=None, update_running=False):
    """The graph IR interpreted with torch.nn.functional. In train mode BN normalises with batch statistics and
    leaves the running buffers alone unless `update_running` (as the module's own forward would update them)."""
    values = {}
    last = x
    for node in graph["nodes"]:
        op = node["op"]
        kind = op["kind"]
        inputs = []
        for index, name in enumerate(node["inputs"]):
            t = values[name]
            inputs.append(edge_hook(node["id"], index, t) if edge_hook else t)
        nid = node["id"]
        if kind == "input":
            out = x
        elif kind == "conv":
            out = F.conv2d(inputs[0], params[nid + ".weight"], params.get(nid + ".bias"), op["stride"], op["padding"], 1, op["groups"])
        elif kind == "batchnorm":
            train = mode == "train"
            running = update_running or not train
            out = F.batch_norm(
                inputs[0],
                buffers[nid + ".running_mean"] if running else None,
                buffers[nid + ".running_var"] if running else None,
                params[nid + ".weight"],
                params[nid + ".bias"],
                train,
                op["momentum"] if update_running else 0.0,
                op["eps"],
            )
        elif kind == "relu":
            out = F.relu(inputs[0])
        elif kind == "sigmoid":
            out = torch.sigmoid(inputs[0])
        elif kind == "maxpool":
            out = F.max_pool2d(inputs[0], op["kernel"], op["stride"], op["padding"])
        elif kind == "globalavgpool":
            out = inputs[0].mean((2, 3))
        elif kind == "fc":
            flat = inputs[0] if inputs[0].dim() == 2 else torch.flatten(inputs[0], 1)
            out = F.linear(flat, params[nid + ".weight"], params[nid + ".bias"])
        elif kind == "padshortcut":
            s = op["stride"]
            y = inputs[0][:, :, ::s, ::s] if s > 1 else inputs[0]
            out = F.pad(y, (0, 0, 0, 0, op["padBefore"], op["padAfter"]))
        elif kind == "dropout":
            out = F.dropout(inputs[0], op["rate"], mode == "train")
        elif kind == "add":
            shortcut, residual = inputs[0], inputs[1]
            if op["mode"] == "plain":
                out = shortcut * op["shortcutScale"] + residual * op["residualScale"]
            elif op["mode"] == "exclusiveGate":
                out = inputs[2] * residual + (1 - inputs[2]) * shortcut
            else:
                out = residual + (1 - inputs[2]) * shortcut
        else:
            raise RuntimeError(f"node {nid}: unknown op {kind}")
        if node_hook:
            out = node_hook(nid, out)
        values[nid] = out
        last = out
    return last


def gradient_flow(net, graph, taps, x, labels, mode, verify=True):
    """One forward/backward pass; raw statistics by node id, edge key and parameter name (the parent assembles them
    into a GradientFlowResult exactly as runtime/gradflow.ts does for wasm)."""
    started = time.perf_counter()
    params = dict(net.named_parameters())
    buffers = dict(net.named_buffers())
    node_stats, edge_sums = {}, {}
    tap_keys = {(t["node"], t["index"]): t["key"] for t in taps}

    def node_hook(nid, out):
        if not out.requires_grad:
            return out
        out = out.view_as(out)
        out.register_hook(lambda g: node_stats.__setitem__(nid, stats(g)))
        return out

    def edge_hook(nid, index, t):
        key = tap_keys.get((nid, index))
        if key is None or not t.requires_grad:
            return t
        e = t.view_as(t)

        def record(g):
            edge_sums[key] = g.detach().clone() if key not in edge_sums else edge_sums[key] + g.detach()

        e.register_hook(record)
        return e

    for p in params.values():
        p.grad = None
    x = x.clone().requires_grad_(True)
    logits = run_graph(graph, params, buffers, x, mode, node_hook, edge_hook)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    # The interpreter must agree with the exported module's own forward pass (once per built model is enough).
    mismatch = 0.0
    if verify:
        with torch.no_grad():
            was_training = net.training
            net.train(mode == "train")
            saved = {k: b.clone() for k, b in buffers.items()}
            reference = net(x.detach())
            for k, b in buffers.items():
                b.copy_(saved[k])
            net.train(was_training)
            mismatch = float((reference - logits.detach()).abs().max() / reference.abs().max().clamp(min=1e-12))
    if mode == "eval" or not any(n["op"]["kind"] == "dropout" for n in graph["nodes"]):
        if mismatch > 1e-4:
            raise RuntimeError(f"gradient flow: the graph and the exported module disagree (max relative logit difference {mismatch:.2e})")
    param_stats = {name: stats(p.grad) if p.grad is not None else [0.0, 0.0, 0.0] for name, p in params.items()}
    for p in params.values():
        p.grad = None
    return {
        "loss": float(loss),
        "batch": int(x.shape[0]),
        "nodes": node_stats,
        "edges": {k: stats(v) for k, v in edge_sums.items()},
        "params": param_stats,
        "millis": (time.perf_counter() - started) * 1000,
    }


# ---------------------------------------------------------------------------------------------------------------
# Weights and checkpoints


def load_weights(net, module, path):
    """Model tensors of a safetensors file (initial weights from the parent, or a checkpoint) into net, strictly."""
    _, tensors = module.read_safetensors(path)
    state = {k: v for k, v in tensors.items() if not k.startswith("optimizer.")}
    net.load_state_dict(state, strict=True)
    return tensors


def decay_groups(net, config):
    decayed = [p for _, p in net.named_parameters() if p.dim() > 1]
    other = [p for _, p in net.named_parameters() if p.dim() <= 1]
    return [{"params": decayed, "weight_decay": config["weightDecay"]}, {"params": other, "weight_decay": 0.0}]


def make_optimizer(net, config):
    groups = decay_groups(net, config)
    if config["optimizer"] == "sgd":
        return torch.optim.SGD(groups, lr=config["lr"], momentum=config["momentum"])
    return torch.optim.Adam(groups, lr=config["lr"], betas=(0.9, 0.999), eps=1e-8)


SLOTS = {"sgd": ["momentum_buffer"], "adam": ["exp_avg", "exp_avg_sq"]}


def restore_optimizer(net, optimizer, kind, step, tensors, device):
    if step == 0:
        return
    for name, p in net.named_parameters():
        state = {}
        for slot in SLOTS[kind]:
            key = f"optimizer.{name}.{slot}"
            if key not in tensors:
                raise RuntimeError(f"checkpoint has no {key}")
            state[slot] = tensors[key].to(device=device, dtype=p.dtype).reshape(p.shape).clone()
        if kind == "adam":
            state["step"] = torch.tensor(float(step))
        optimizer.state[p] = state


def optimizer_tensors(net, optimizer, kind):
    out = {}
    for name, p in net.named_parameters():
        state = optimizer.state.get(p, {})
        for slot in SLOTS[kind]:
            value = state.get(slot)
            out[f"optimizer.{name}.{slot}"] = (value if value is not None else torch.zeros_like(p)).detach().float().cpu()
    return out


def save_checkpoint(module, path, net, optimizer, job, epoch, global_step, rng_state, history, opt_step):
    tensors = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    tensors.update(optimizer_tensors(net, optimizer, job["config"]["optimizer"]))
    meta = job["meta"]
    metadata = {
        "format": "resnet-studio-checkpoint",
        "version": "2",
        "model": meta["model"],
        "spec": meta["spec"],
        "specHash": meta["specHash"],
        "epoch": str(epoch),
        "globalStep": str(global_step),
        "rngState": str(rng_state),
        "optimizer": json.dumps({"kind": job["config"]["optimizer"], "step": opt_step}),
        "config": json.dumps(job["config"]),
        "history": json.dumps(_finite(history), allow_nan=False),
        "backend": "torch",
        "createdAt": datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z"),
    }
    module.write_safetensors(path, tensors, metadata)


# ---------------------------------------------------------------------------------------------------------------
# Jobs


def evaluate(net, images, indices, options):
    """Mean validation loss and accuracy: batches in the model's memory format and precision (fast.Options, as the
    training steps run), loss and correct predictions summed on the device and read once at the end."""
    if len(indices) == 0:
        return float("nan"), float("nan")
    net.eval()
    sums = fast.Sums(options.device)
    with torch.no_grad(), options.autocast():
        for start in range(0, len(indices), VAL_BATCH):
            idx = indices[start : start + VAL_BATCH]
            x, y = images.batch(idx)
            logits = net(options.to_input(x)).float()
            sums.add(F.cross_entropy(logits, y), logits, y)
    net.train()
    loss, accuracy, _ = sums.read()
    return loss, accuracy


def train_job(job, module, net, device, cancel):
    config = job["config"]
    data = job["data"]
    target = job["input"]
    train_images = Images(data["train"], target, device)
    val_images = Images(data["val"], target, device) if data.get("val") else train_images
    train_idx = read_u32(data["trainIndices"], data["trainCount"]).to(device)
    val_idx = read_u32(data["valIndices"], data["valCount"]).to(device)
    batch = min(config["batchSize"], len(train_idx))
    # As runtime/train.ts: each epoch takes the first samplesPerEpoch of a fresh shuffle of the whole split.
    samples = config.get("samplesPerEpoch")
    epoch_samples = len(train_idx) if samples is None else min(len(train_idx), max(batch, samples))
    steps_per_epoch = epoch_samples // batch
    options = fast.resolve(device, job.get("precision", "auto"), job.get("compile", "auto"), job.get("channelsLast", "auto"))
    fast.prepare(net, options)
    optimizer = make_optimizer(net, config)
    step_fn = fast.TrainStep(net, optimizer, options, note=lambda line: print(line, file=sys.stderr))
    resume = job.get("resume")
    start_epoch, global_step, history = 0, 0, []
    rng = SeededRng(job["rngState"])  # the parent seeds it as runtime/train.ts does
    opt_step = 0
    if resume:
        tensors = load_weights(net, module, resume["path"])
        restore_optimizer(net, optimizer, config["optimizer"], resume["optimizerStep"], tensors, device)
        start_epoch, global_step, history = resume["epoch"], resume["globalStep"], list(resume["history"])
        rng = SeededRng(resume["rngState"])
        opt_step = resume["optimizerStep"]
    emit({
        "type": "start", "model": job["meta"]["model"], "backend": "torch", "dataset": data["name"],
        "trainSamples": len(train_idx), "valSamples": len(val_idx), "config": config, "startEpoch": start_epoch,
        "params": sum(p.numel() for p in net.parameters()), "workers": 1, "device": str(device), "torch": torch.__version__,
        "training": options.describe(),
    })
    probe = None
    if job.get("snapshot"):
        count = min(job["snapshot"]["count"], train_images.pixels.shape[0])
        x, y = train_images.batch(torch.arange(count, device=device))
        probe = (options.to_input(x), y)
    started = time.perf_counter()
    reason, message = "completed", None
    net.train()
    epoch = start_epoch
    while epoch < config["epochs"]:
        budget = config.get("timeBudgetSeconds")
        if budget is not None and epoch > start_epoch and time.perf_counter() - started >= budget:
            reason = "timeBudget"
            break
        order = train_idx[torch.tensor(rng.shuffled(len(train_idx)), device=device)]
        epoch_start = time.perf_counter()
        sums, seen = fast.Sums(device), 0
        last_log_time, last_log_seen = epoch_start, 0
        lr = learning_rate_at(config, global_step, steps_per_epoch)
        for step in range(steps_per_epoch):
            if cancel:
                reason = "aborted"
                break
            if config.get("maxSteps") is not None and global_step >= config["maxSteps"]:
                reason = "maxSteps"
                break
            lr = learning_rate_at(config, global_step, steps_per_epoch)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x, y = train_images.batch(order[step * batch : (step + 1) * batch])
            loss_t, logits = step_fn.forward_backward(options.to_input(x), y)
            log_now = (step + 1) % config["logEvery"] == 0 or step + 1 == steps_per_epoch
            # Reading the loss waits for the device: on CUDA only when a step line needs it (fast path, issue 23).
            if options.sync_every_step or log_now:
                loss = float(loss_t)
                if not math.isfinite(loss):
                    reason = "diverged"
                    message = (f"training diverged: the loss became {'NaN' if loss != loss else loss} at epoch {epoch + 1}, "
                               f"step {step + 1} (learning rate {lr}); lower the learning rate (--lr) or use a warm-up")
                    break
            step_fn.apply()
            opt_step += 1
            global_step += 1
            sums.add(loss_t, logits, y)
            seen += batch
            now = time.perf_counter()
            overdue = now - last_log_time >= (config.get("logEverySeconds") or KEEPALIVE_SECONDS)
            if log_now or overdue:
                if not (options.sync_every_step or log_now):
                    loss = float(loss_t)  # a keep-alive line between log steps reads the loss as well
                correct = int((logits.argmax(1) == y).sum())
                emit({
                    "type": "step", "epoch": epoch, "step": step, "stepsPerEpoch": steps_per_epoch, "globalStep": global_step,
                    "loss": loss, "accuracy": correct / batch, "lr": lr,
                    "imagesPerSecond": (seen - last_log_seen) / max(1e-6, now - last_log_time),
                    "epochSeconds": now - epoch_start,
                })
                last_log_time, last_log_seen = now, seen
        if reason != "completed":
            break
        train_seconds = time.perf_counter() - epoch_start
        val_loss, val_acc = evaluate(net, val_images, val_idx, options)
        train_loss, train_accuracy, _ = sums.read()
        metrics = {
            "epoch": epoch, "epochs": config["epochs"], "loss": train_loss, "accuracy": train_accuracy,
            "valLoss": val_loss, "valAccuracy": val_acc, "lr": lr, "imagesPerSecond": seen / max(1e-9, train_seconds),
            "seconds": time.perf_counter() - epoch_start, "trainSamples": seen, "valSamples": len(val_idx),
        }
        history.append(metrics)
        event = {"type": "epoch", **metrics}
        if probe is not None:
            event["gradients"] = gradient_flow(net, job["graph"], job["taps"], probe[0], probe[1], "train")
        emit(event)
        if not math.isfinite(val_loss) and len(val_idx) > 0:
            reason = "diverged"
            message = f"training diverged: the validation loss became {val_loss} after epoch {epoch + 1}; lower the learning rate (--lr)"
            epoch += 1
            break
        if job.get("checkpoint"):
            save_checkpoint(module, job["checkpoint"], net, optimizer, job, epoch + 1, global_step, rng.state, history, opt_step)
            emit({"type": "checkpoint", "path": job["checkpoint"], "epoch": epoch + 1})
        epoch += 1
    emit({
        "type": "done", "reason": reason, **({"message": message} if message else {}), "epochsCompleted": len(history),
        "globalStep": global_step, "history": history, "final": history[-1] if history else None, "backend": "torch",
        "workers": 1, "seconds": time.perf_counter() - started,
    })


def gradflow_job(job, module, net, device, verify=True):
    # The fast path where it keeps the statistics exact: channels_last on CUDA (cuDNN's NHWC kernels), fp32, no compile
    # (the interpreter's hooks read every node's gradient). The CPU stays NCHW unless asked: there channels_last's
    # summation order moved a near-zero BN beta gradient by 4e-3 relative, over the 1e-3 agreement with tfjs
    # (model-core/test/torchBackend.test.ts, preact bottleneck B).
    default = "auto" if device.type == "cuda" else "off"
    options = fast.resolve(device, "fp32", "off", job.get("channelsLast", default))
    fast.prepare(net, options)
    x = options.to_input(read_f32(job["x"]["file"], job["x"]["shape"]).permute(0, 3, 1, 2).contiguous())
    labels = torch.tensor(job["labels"], dtype=torch.long, device=device)
    result = gradient_flow(net, job["graph"], job["taps"], x, labels, job.get("mode", "train"), verify)
    emit({"type": "gradflow", **result})


def evaluate_job(job, module, net, device, cancel):
    """Logits of the listed images in eval mode (BN on running statistics), float32 [count, classes] to a file: the
    parent computes loss, accuracy and the confusion matrix from them as it does for tfjs."""
    images = Images(job["data"], job["input"], device)
    indices = read_u32(job["indices"], job["count"]).to(device)
    net.eval()
    rows = []
    with torch.no_grad():
        for start in range(0, len(indices), VAL_BATCH):
            if cancel:
                raise RuntimeError("cancelled")
            x, _ = images.batch(indices[start : start + VAL_BATCH])
            rows.append(net(x).float().cpu())
    logits = torch.cat(rows) if rows else torch.empty(0, job["classes"])
    with open(job["logits"], "wb") as f:
        f.write(module._tensor_bytes(logits))  # the exported module's writer: works without numpy
    emit({"type": "evaluation", "rows": int(logits.shape[0]), "classes": int(logits.shape[1])})


def read_f32(path, shape):
    count = 1
    for d in shape:
        count *= d
    return read_u8(path, 4 * count).view(torch.float32).reshape(shape)


def bench_job(job, module, net, device, cancel):
    """Training img/s of the exported module with the event stream, against bench/pytorch_reference.py's
    hand-written loop on the same data, interleaved in rounds so that both see the same machine load."""
    reference = load_module(job["reference"])
    if job.get("threads"):  # the reference module sets its own thread count when imported
        torch.set_num_threads(int(job["threads"]))
    batch = job["batch"]
    c, h, w = job["input"]
    torch.manual_seed(0)
    x = torch.randn(batch, c, h, w, device=device)
    y = torch.randint(0, job["classes"], (batch,), device=device)
    config = {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "weightDecay": 1e-4}
    precision = job.get("precision", "fp32")
    options = fast.resolve(device, precision, job.get("compile", "auto"), "auto")
    fast.prepare(net, options)
    ours = make_optimizer(net, config)
    step_fn = fast.TrainStep(net, ours, options, note=lambda line: print(line, file=sys.stderr))
    x_ours = options.to_input(x)
    amp = options.amp_dtype
    ref_net = reference.CifarResNet().to(device) if job.get("referenceModel") == "CifarResNet" else None
    if ref_net is None:
        raise RuntimeError("bench --backend torch compares against bench/pytorch_reference.py's CIFAR ResNet-20; use --model resnet20")
    ref_opt = torch.optim.SGD(ref_net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    net.train()
    ref_net.train()
    step_counter = [0]
    started = time.perf_counter()

    def our_step():
        loss_t, logits = step_fn(x_ours, y)
        step_counter[0] += 1
        if not options.sync_every_step and step_counter[0] % 10:
            return  # on CUDA a step line (it reads the loss) every 10 steps, as training's logEvery
        loss = float(loss_t)
        emit({"type": "step", "epoch": 0, "step": step_counter[0] - 1, "stepsPerEpoch": 1 << 30, "globalStep": step_counter[0],
              "loss": loss, "accuracy": int((logits.detach().argmax(1) == y).sum()) / batch, "lr": 0.1, "imagesPerSecond": 0.0,
              "epochSeconds": time.perf_counter() - started})

    def ref_step():
        ref_opt.zero_grad(set_to_none=True)
        with options.autocast():
            logits = ref_net(x)
        F.cross_entropy(logits.float(), y).backward()
        ref_opt.step()

    # On CUDA also the reference written with PyTorch's performance guide: channels_last model and input (and
    # cudnn.benchmark, which fast.resolve set for every loop). Issue 23: ours >= 1.0x this one.
    tuned = None
    if device.type == "cuda":
        tuned_net = reference.CifarResNet().to(device, memory_format=torch.channels_last).train()
        tuned_opt = torch.optim.SGD(tuned_net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
        x_tuned = x.contiguous(memory_format=torch.channels_last)

        def tuned():
            tuned_opt.zero_grad(set_to_none=True)
            with torch.autocast("cuda", dtype=amp) if amp else contextlib.nullcontext():
                logits = tuned_net(x_tuned)
            F.cross_entropy(logits.float(), y).backward()
            tuned_opt.step()

    def timed(fn, steps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(steps):
            fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return batch * steps / (time.perf_counter() - start)

    for _ in range(3):
        our_step()
        ref_step()
        if tuned:
            tuned()
    ours_rates, ref_rates, tuned_rates = [], [], []
    for _ in range(job["rounds"]):
        if cancel:
            break
        ref_rates.append(timed(ref_step, job["steps"]))
        ours_rates.append(timed(our_step, job["steps"]))
        if tuned:
            tuned_rates.append(timed(tuned, job["steps"]))
    # The best round of each: on a shared machine, load only ever slows a round down.
    emit({
        "type": "bench", "device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
        "trainImagesPerSecond": max(ours_rates), "referenceImagesPerSecond": max(ref_rates),
        "rounds": len(ours_rates), "steps": job["steps"], "training": options.describe(),
        **({"tunedImagesPerSecond": max(tuned_rates)} if tuned_rates else {}),
    })


def calibrate_job(job, device, cancel):
    """Median seconds of a few Adam training steps of each probe network (runtime/calibrate.ts CALIBRATION_PROBES),
    after warm-up steps, all in this one process: the parent fits the estimator's line through them."""
    batch = job["batch"]
    seconds = []
    # Timed as Train Small Model trains: the fast path's memory format and precision (fast.resolve's defaults for the
    # device). Uncompiled: a few warm-up steps would time torch.compile's compilation, not its steps.
    options = fast.resolve(device, job.get("precision", "auto"), "off", job.get("channelsLast", "auto"))
    for probe in job["probes"]:
        if cancel:
            raise RuntimeError("calibration cancelled")
        net = fast.prepare(load_module(probe["moduleFile"]).build(), options)
        net.train()
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        step_fn = fast.TrainStep(net, optimizer, options, note=lambda line: print(line, file=sys.stderr))
        c, h, w = probe["input"]
        torch.manual_seed(7)
        x = options.to_input(torch.randn(batch, c, h, w, device=device))
        y = torch.randint(0, probe["classes"], (batch,), device=device)

        def step():
            loss, _ = step_fn(x, y)
            float(loss)  # waits for the device, so each timed step is the step's whole work

        for _ in range(job.get("warmupSteps", 2)):
            step()
        times = []
        for _ in range(max(1, job["timedSteps"])):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        times.sort()
        n = len(times)
        seconds.append(times[n // 2] if n % 2 else (times[n // 2 - 1] + times[n // 2]) / 2)
    emit({"type": "calibration", "device": str(device), "torch": torch.__version__, "seconds": seconds})


def lr_range_job(job, module, net, device, cancel):
    """runtime/lrFinder.ts lrRangeTest on torch: the rate grows exponentially per step on random batches of the
    dataset (the parent's seeded draw of indices, as mulberry32 here), one "lrPoint" push per step; the parent smooths,
    detects divergence and suggests the rate, so both backends share that logic."""
    o = job["options"]
    images = Images(job["data"], job["input"], device)
    count = job["data"]["count"]
    batch = min(o["batchSize"], count)
    optimizer = make_optimizer(net, {"optimizer": o["optimizer"], "lr": o["minLr"], "momentum": o["momentum"], "weightDecay": o["weightDecay"]})
    rng = SeededRng(o["seed"])
    net.train()
    steps = o["steps"]
    for i in range(steps):
        if cancel:
            break
        indices = torch.tensor([int(rng.next() * count) for _ in range(batch)], dtype=torch.long, device=device)
        lr = o["minLr"] * math.pow(o["maxLr"] / o["minLr"], i / (steps - 1))
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = images.batch(indices)
        optimizer.zero_grad(set_to_none=True)
        loss_t = F.cross_entropy(net(x), y)
        loss_t.backward()
        optimizer.step()
        emit({"type": "lrPoint", "index": i, "lr": lr, "loss": float(loss_t)})
        if job.get("stop") and not math.isfinite(float(loss_t)):
            break
    emit({"type": "lrRange", "model": job["model"]})


# ---------------------------------------------------------------------------------------------------------------
# The worker: requests in order on the main thread; a reader thread takes stdin (requests, cancels, EOF).

MODEL_CACHE_SIZE = 4  # a network and its plain twin, for two recent specs
_models = OrderedDict()


class UnknownModel(RuntimeError):
    pass


def model_for(job, device):
    """The job's module and network. Gradient-flow requests name a model key (spec hash, weights and device) and
    reuse the network built for it: a pass changes neither weights nor BN statistics. Other jobs train, so they build."""
    key = job.get("modelKey")
    if key is not None and job["kind"] == "gradflow":
        key = f"{key}@{device}"
        if key in _models:
            _models.move_to_end(key)
            return _models[key] + (True,)
        if not job.get("moduleFile"):
            raise UnknownModel(f"unknown model {job['modelKey']}")
    module = load_module(job["moduleFile"])
    net = module.build()
    if job.get("init"):
        load_weights(net, module, job["init"])
    net.to(device)
    if key is not None and job["kind"] == "gradflow":
        _models[key] = (module, net)
        while len(_models) > MODEL_CACHE_SIZE:
            _models.popitem(last=False)
    return module, net, False


def run_job(job, cancel):
    if job.get("threads"):
        torch.set_num_threads(int(job["threads"]))
    device = pick_device(job.get("device", "auto"))
    kind = job["kind"]
    ready = {"type": "ready", "protocol": PROTOCOL, "torch": torch.__version__, "device": str(device), "threads": torch.get_num_threads()}
    if kind == "calibrate":
        emit(ready)
        calibrate_job(job, device, cancel)
        return
    if kind not in ("train", "gradflow", "bench", "lrRange", "evaluate"):
        raise RuntimeError(f"unknown job kind {kind!r}")
    module, net, cached = model_for(job, device)
    emit(ready)
    if kind == "train":
        train_job(job, module, net, device, cancel)
    elif kind == "gradflow":
        # The interpreter was checked against this module's forward when it was built.
        gradflow_job(job, module, net, device, verify=not cached)
    elif kind == "bench":
        bench_job(job, module, net, device, cancel)
    elif kind == "evaluate":
        evaluate_job(job, module, net, device, cancel)
    else:
        lr_range_job(job, module, net, device, cancel)


def serve():
    global _proto
    # Keep the protocol on a private copy of stdout; whatever else writes to fd 1 lands on stderr.
    _proto = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    requests = queue.Queue()
    cancels = {}
    lock = threading.Lock()

    def read():
        for line in sys.stdin:
            try:
                message = json.loads(line)
                kind = message.get("type")
                rid = message.get("id")
            except (ValueError, AttributeError):
                print(f"resnet_studio_torch: ignored a line that is not a JSON message: {line[:100]!r}", file=sys.stderr)
                continue
            with lock:
                flag = cancels.setdefault(rid, Cancel())
            if kind == "cancel":
                flag.flag.set()
            elif kind == "request":
                requests.put(message)
        with lock:  # the parent is gone: stop the running job and end
            for flag in cancels.values():
                flag.flag.set()
        requests.put(None)

    threading.Thread(target=read, daemon=True).start()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent cancels; a terminal's Ctrl-C is its to handle
    _write({"type": "hello", "protocol": PROTOCOL, "torch": torch.__version__, "cuda": bool(torch.cuda.is_available()),
            "python": sys.version.split()[0], "executable": sys.executable, "threads": torch.get_num_threads(),
            "pid": os.getpid()})
    while True:
        message = requests.get()
        if message is None:
            return 0
        rid = message.get("id")
        body = message.get("body") if isinstance(message.get("body"), dict) else {}
        kind = body.get("kind", "invalid")
        with lock:
            cancel = cancels.setdefault(rid, Cancel())
        _job["id"], _job["result"] = rid, None
        try:
            if cancel:
                raise RuntimeError("cancelled before it started")
            run_job(body, cancel)
            if _job["result"] is None:
                raise RuntimeError(f"{kind} job ended without a result")
            response = {"type": "response", "id": rid, "ok": True, "kind": kind, "body": _job["result"]}
        except Exception as err:  # one line to the parent, no traceback on its terminal
            text = str(err) if isinstance(err, RuntimeError) else f"{type(err).__name__}: {err}"
            response = {"type": "response", "id": rid, "ok": False, "kind": kind, "error": text}
            if os.environ.get("RESNET_STUDIO_DEBUG"):
                import traceback
                traceback.print_exc()
        finally:
            with lock:
                cancels.pop(rid, None)
            _job["id"], _job["result"] = None, None
        _write(response)


if __name__ == "__main__":
    if sys.argv[1:] != ["--serve"]:
        print("usage: resnet_studio_torch.py --serve  (started by ResNet Studio; speaks JSON lines on stdio)", file=sys.stderr)
        sys.exit(2)
    sys.exit(serve())

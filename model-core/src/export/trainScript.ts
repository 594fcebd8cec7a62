/**
 * `train_ddp.py`: a torchrun script that trains an exported model.py with DistributedDataParallel. It offers the
 * in-editor trainer's choices (Adam or SGD with momentum, coupled L2 on conv/fc weights only, constant/step/cosine
 * schedules computed per step exactly as runtime/train.ts `learningRateAt`) and writes checkpoints in the shared
 * safetensors format through model.py's `write_safetensors` (rank 0, atomic).
 */
import type { ModelGraph } from "../analysis/graph";
import type { TrainConfig } from "../runtime/trainTypes";
import { docText, pyLiteral, pyString } from "./pytorch";

export interface TrainScriptOptions {
  /** File name of the exported model beside the script, e.g. "model.py". */
  modelFile: string;
  /** sha256 of the canonical spec JSON (runtime/checkpoint.ts specHash), written into checkpoint metadata. */
  specHash: string;
  /** Defaults per dataset kind ("cifar10", "imagefolder", "synthetic"), as the CLI's `train` uses them. */
  defaults: Record<"cifar10" | "imagefolder" | "synthetic", TrainConfig>;
}

export function exportTrainScript(graph: ModelGraph, options: TrainScriptOptions): string {
  const head = [
    `"""Distributed training of ${docText(graph.spec.name)} (${docText(options.modelFile)}) with PyTorch DDP; exported by ResNet Studio.`,
    ``,
    `    torchrun --nproc_per_node 4 train_ddp.py --dataset cifar10:./cifar-10-batches-bin --out runs/r1`,
    `    torchrun --nnodes 2 --node_rank 0 --master_addr HOST --master_port 29500 --nproc_per_node 8 train_ddp.py ...`,
    `    python train_ddp.py --dataset synthetic --epochs 1          # one process, no torchrun needed`,
    ``,
    `Datasets: synthetic[:count=N], cifar10:<dir>[:classes=0,2] (the official binary batches), imagefolder:<dir>`,
    `(<dir>/train and <dir>/val if present; needs torchvision). --batch-size is per process. NCCL on CUDA, gloo on CPU.`,
    `Checkpoints: <out>/checkpoint.safetensors after every epoch (rank 0, atomic), in ResNet Studio's shared format.`,
    `"""`,
    `import argparse`,
    `import datetime`,
    `import importlib.util`,
    `import json`,
    `import math`,
    `import os`,
    `import sys`,
    `import time`,
    ``,
    `import torch`,
    `import torch.distributed as dist`,
    `import torch.nn.functional as F`,
    `from torch import nn`,
    `from torch.nn.parallel import DistributedDataParallel`,
    `from torch.utils.data import DataLoader, Dataset, TensorDataset`,
    `from torch.utils.data.distributed import DistributedSampler`,
    ``,
    `MODEL_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), ${pyString(options.modelFile)})`,
    `SPEC_HASH = ${pyString(options.specHash)}`,
    `# The in-editor trainer's defaults per dataset (resnet-studio train).`,
    `DEFAULTS = ${pyLiteral(options.defaults)}`,
    ``,
  ];
  return head.join("\n") + BODY;
}

const BODY = `

def load_model_module():
    spec = importlib.util.spec_from_file_location("exported_model", MODEL_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


model = load_model_module()

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.247, 0.2435, 0.2616)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def fail(message):
    print(f"train_ddp.py: error: {message}", file=sys.stderr)
    sys.exit(1)


def fit_to_input(images, channels, height, width):
    """N×C×H×W float images -> the model's input: 1→C repeats, 3→1 averages, centre pad (zeros) or crop."""
    if images.shape[1] != channels:
        if images.shape[1] == 1:
            images = images.expand(-1, channels, -1, -1)
        elif images.shape[1] == 3 and channels == 1:
            images = images.mean(dim=1, keepdim=True)
        else:
            fail(f"the dataset has {images.shape[1]} channels; the model expects {channels}")
    dy, dx = height - images.shape[2], width - images.shape[3]
    if dy or dx:
        images = F.pad(images, (dx // 2, dx - dx // 2, dy // 2, dy - dy // 2))
    return images.contiguous()


def read_cifar10(files, classes):
    """The official binary batches: 3073-byte records, a label byte then 32×32 R, G, B planes."""
    images, labels = [], []
    for path in files:
        with open(path, "rb") as f:
            data = f.read()
        if not data or len(data) % 3073:
            fail(f"{path}: {len(data)} bytes is not a whole number of CIFAR-10 records (3073 bytes each)")
        records = torch.frombuffer(bytearray(data), dtype=torch.uint8).reshape(-1, 3073)
        labels.append(records[:, 0].long())
        images.append(records[:, 1:].reshape(-1, 3, 32, 32))
    x, y = torch.cat(images), torch.cat(labels)
    if classes:
        relabel = torch.full((256,), -1, dtype=torch.long)
        for i, c in enumerate(classes):
            relabel[c] = i
        y = relabel[y]
        keep = y >= 0
        x, y = x[keep], y[keep]
    mean = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    x = (x.float() / 255 - mean) / std
    return fit_to_input(x, *model.INPUT_SHAPE), y


def synthetic(count, classes, seed):
    """Class-dependent patterns plus noise: learnable, and the same on every rank."""
    g = torch.Generator().manual_seed(seed)
    prototypes = torch.randn(classes, *model.INPUT_SHAPE, generator=g)
    labels = torch.arange(count) % classes
    images = prototypes[labels] + 0.5 * torch.randn(count, *model.INPUT_SHAPE, generator=g)
    return TensorDataset(images, labels), classes


def make_datasets(arg, seed):
    """-> (train, val or None, number of classes), from --dataset."""
    kind, _, rest = arg.partition(":")
    if kind == "synthetic":
        options = dict(part.split("=", 1) for part in rest.split(":") if part)
        unknown = set(options) - {"count", "classes"}
        if unknown:
            fail(f"--dataset {arg}: unknown option {sorted(unknown)[0]} (allowed: count=N, classes=K)")
        count = int(options.get("count", 512))
        classes = int(options.get("classes", model.NUM_CLASSES))
        train, n = synthetic(count, classes, seed)
        val, _ = synthetic(max(classes, count // 8), classes, seed + 1)
        return train, val, n
    if kind == "cifar10":
        parts = rest.split(":")
        classes = None
        if parts and parts[-1].startswith("classes="):
            classes = [int(c) for c in parts.pop()[len("classes="):].split(",")]
            if len(classes) < 2 or len(set(classes)) != len(classes) or not all(0 <= c < 10 for c in classes):
                fail(f"--dataset {arg}: the class filter needs at least two distinct classes in 0..9")
        folder = ":".join(parts)
        inner = os.path.join(folder, "cifar-10-batches-bin")  # the archive's own folder name
        if not os.path.exists(os.path.join(folder, "data_batch_1.bin")) and os.path.isdir(inner):
            folder = inner
        train_files = [os.path.join(folder, f"data_batch_{i}.bin") for i in range(1, 6)]
        train_files = [f for f in train_files if os.path.exists(f)]
        if not train_files:
            fail(f"{folder}: no CIFAR-10 binary files (data_batch_1.bin ... data_batch_5.bin)")
        test_file = os.path.join(folder, "test_batch.bin")
        train = TensorDataset(*read_cifar10(train_files, classes))
        val = TensorDataset(*read_cifar10([test_file], classes)) if os.path.exists(test_file) else None
        return train, val, len(classes) if classes else 10
    if kind == "imagefolder":
        try:
            from torchvision import datasets, transforms
        except ImportError:
            fail("--dataset imagefolder needs torchvision (pip install torchvision)")
        channels, height, width = model.INPUT_SHAPE
        steps = [transforms.Resize((height, width)), transforms.ToTensor()]
        if channels == 1:
            steps.insert(0, transforms.Grayscale(1))
            steps.append(transforms.Normalize((0.5,), (0.25,)))
        else:
            steps.append(transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD))
        transform = transforms.Compose(steps)
        root = rest
        train_dir = os.path.join(root, "train") if os.path.isdir(os.path.join(root, "train")) else root
        val_dir = os.path.join(root, "val")
        train = datasets.ImageFolder(train_dir, transform=transform)
        val = datasets.ImageFolder(val_dir, transform=transform) if os.path.isdir(val_dir) else None
        return train, val, len(train.classes)
    fail(f"unknown dataset {arg!r}: use synthetic[:count=N], cifar10:<dir>[:classes=0,2] or imagefolder:<dir>")


def learning_rate_at(config, global_step, steps_per_epoch):
    """The in-editor trainer's schedule, per step."""
    schedule = config["schedule"]
    epoch = global_step // steps_per_epoch
    if schedule["kind"] == "step":
        return config["lr"] * schedule["gamma"] ** sum(1 for m in schedule["milestones"] if m <= epoch)
    if schedule["kind"] == "cosine":
        total = max(1, config["epochs"] * steps_per_epoch)
        warmup = round(schedule.get("warmupEpochs", 0) * steps_per_epoch)
        min_lr = schedule.get("minLr", 0)
        if global_step < warmup:
            return config["lr"] * (global_step + 1) / warmup
        progress = min(1.0, (global_step - warmup) / max(1, total - warmup))
        return min_lr + (config["lr"] - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))
    return config["lr"]


def make_optimizer(net, config):
    """Coupled L2 on conv and fc weights only; BN γ/β and biases are not decayed (as in the in-editor trainer)."""
    decayed, other = [], []
    for module in net.modules():
        for name, p in module.named_parameters(recurse=False):
            (decayed if name == "weight" and isinstance(module, (nn.Conv2d, nn.Linear)) else other).append(p)
    groups = [{"params": decayed, "weight_decay": config["weightDecay"]}, {"params": other, "weight_decay": 0.0}]
    if config["optimizer"] == "sgd":
        return torch.optim.SGD(groups, lr=config["lr"], momentum=config["momentum"])
    return torch.optim.Adam(groups, lr=config["lr"], betas=(0.9, 0.999), eps=1e-8)


SLOTS = {"sgd": ("momentum_buffer",), "adam": ("exp_avg", "exp_avg_sq")}


def optimizer_tensors(net, optimizer, config):
    out = {}
    for name, p in net.named_parameters():
        state = optimizer.state.get(p, {})
        for slot in SLOTS[config["optimizer"]]:
            if state.get(slot) is not None:
                out[f"optimizer.{name}.{slot}"] = state[slot].detach().float().cpu()
    return out


def restore_optimizer(net, optimizer, config, tensors, step):
    for name, p in net.named_parameters():
        slots = {slot: tensors.get(f"optimizer.{name}.{slot}") for slot in SLOTS[config["optimizer"]]}
        if all(t is not None for t in slots.values()):
            state = {slot: t.to(p.device, p.dtype).reshape(p.shape).clone() for slot, t in slots.items()}
            if config["optimizer"] == "adam":
                state["step"] = torch.tensor(float(step))
            optimizer.state[p] = state


def save_checkpoint(path, net, optimizer, config, epoch, global_step, history, step_count):
    tensors = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    tensors.update(optimizer_tensors(net, optimizer, config))
    hyper = {"kind": config["optimizer"], "step": step_count, "lr": config["lr"], "momentum": config["momentum"],
             "weightDecay": config["weightDecay"], "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}
    metadata = {
        "format": "resnet-studio-checkpoint",
        "version": "2",
        "model": model.SPEC["name"],
        "spec": json.dumps(model.SPEC),
        "specHash": SPEC_HASH,
        "epoch": str(epoch),
        "globalStep": str(global_step),
        "rngState": "0",
        "optimizer": json.dumps(hyper),
        "config": json.dumps(config),
        "history": json.dumps(history),
        "backend": "torch",
        "createdAt": datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z"),
    }
    model.write_safetensors(path, tensors, metadata)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\\n")[0])
    p.add_argument("--dataset", default="synthetic", help="synthetic[:count=N][:classes=K] | cifar10:<dir>[:classes=0,2] | imagefolder:<dir>")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int, help="per process")
    p.add_argument("--optimizer", choices=["adam", "sgd"])
    p.add_argument("--lr", type=float, help="peak learning rate")
    p.add_argument("--momentum", type=float, help="SGD momentum")
    p.add_argument("--weight-decay", type=float, help="L2 on conv and fc weights")
    p.add_argument("--schedule", choices=["constant", "step", "cosine"])
    p.add_argument("--warmup-epochs", type=float, default=0.0, help="cosine: linear warm-up")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--max-steps", type=int, help="stop after this many steps (smoke tests)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--amp", choices=["none", "bf16", "fp16"], default="none", help="autocast on CUDA")
    p.add_argument("--sync-bn", action="store_true", help="SyncBatchNorm: BN statistics over the global batch")
    p.add_argument("--workers", type=int, default=2, help="DataLoader worker processes (0 loads in the main process)")
    p.add_argument("--out", default="runs/ddp", help="folder for checkpoint.safetensors")
    p.add_argument("--resume", help="a checkpoint file or folder to continue from")
    return p.parse_args()


def make_config(args):
    kind = args.dataset.partition(":")[0]
    config = dict(DEFAULTS.get(kind, DEFAULTS["synthetic"]))
    for key, value in (("epochs", args.epochs), ("batchSize", args.batch_size), ("optimizer", args.optimizer), ("lr", args.lr),
                       ("momentum", args.momentum), ("weightDecay", args.weight_decay)):
        if value is not None:
            config[key] = value
    if args.schedule == "step":
        config["schedule"] = {"kind": "step", "milestones": [round(config["epochs"] * 0.5), round(config["epochs"] * 0.75)], "gamma": 0.1}
    elif args.schedule is not None:
        config["schedule"] = {"kind": args.schedule}
    if args.warmup_epochs and config["schedule"]["kind"] == "cosine":
        config["schedule"] = dict(config["schedule"], warmupEpochs=args.warmup_epochs)
    config["seed"] = args.seed
    if args.max_steps is not None:
        config["maxSteps"] = args.max_steps
    return config


def evaluate(net, loader, device):
    net.eval()
    totals = torch.zeros(3, dtype=torch.float64, device=device)
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            logits = net(x).float()
            totals += torch.tensor([F.cross_entropy(logits, y, reduction="sum").item(), (logits.argmax(1) == y).sum().item(), len(y)],
                                   dtype=torch.float64, device=device)
    if dist.is_initialized():
        dist.all_reduce(totals)
    net.train()
    loss, correct, count = totals.tolist()
    return loss / max(1, count), correct / max(1, count)


def main():
    args = parse_args()
    distributed = "WORLD_SIZE" in os.environ
    use_cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    if args.device == "cuda" and not torch.cuda.is_available():
        fail("--device cuda: this torch sees no CUDA device")
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if use_cuda:
        torch.cuda.set_device(local_rank)
        torch.backends.cudnn.benchmark = True  # fixed input size: let cuDNN pick the fastest conv algorithms
    device = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    if distributed:
        dist.init_process_group("nccl" if use_cuda else "gloo")
    rank = dist.get_rank() if distributed else 0
    world = dist.get_world_size() if distributed else 1
    log = print if rank == 0 else (lambda *a, **k: None)

    config = make_config(args)
    torch.manual_seed(config["seed"])
    train_set, val_set, classes = make_datasets(args.dataset, config["seed"])
    if val_set is None and config.get("valFraction", 0) > 0:
        # No separate validation set: hold out a fixed share, as the in-editor trainer does.
        held_out = max(1, round(len(train_set) * config["valFraction"]))
        split = torch.Generator().manual_seed(0)
        train_set, val_set = torch.utils.data.random_split(train_set, [len(train_set) - held_out, held_out], generator=split)
    if classes > model.NUM_CLASSES:
        fail(f"the dataset has {classes} classes; the model has only {model.NUM_CLASSES} outputs")
    net = model.build(seed=config["seed"])

    start_epoch, global_step, history, resumed = 0, 0, [], None
    if args.resume:
        path = os.path.join(args.resume, "checkpoint.safetensors") if os.path.isdir(args.resume) else args.resume
        meta = model.load_checkpoint(net, path)
        start_epoch, global_step = int(meta["epoch"]), int(meta["globalStep"])
        history = json.loads(meta.get("history", "[]"))
        resumed = (model.read_safetensors(path)[1], json.loads(meta["optimizer"]).get("step", global_step))

    if args.sync_bn:
        if use_cuda:
            net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
        else:
            log("--sync-bn: SyncBatchNorm needs CUDA; each process normalises over its own share of the batch")
    net = net.to(device)
    optimizer = make_optimizer(net, config)
    if resumed:
        restore_optimizer(net, optimizer, config, resumed[0], resumed[1])
    ddp = DistributedDataParallel(net, device_ids=[local_rank] if use_cuda else None) if distributed else net

    sampler = DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True, seed=config["seed"], drop_last=True)
    loader_options = dict(num_workers=args.workers, pin_memory=use_cuda, persistent_workers=args.workers > 0)
    loader = DataLoader(train_set, batch_size=config["batchSize"], sampler=sampler, drop_last=True, **loader_options)
    val_loader = None
    if val_set is not None:
        val_sampler = DistributedSampler(val_set, num_replicas=world, rank=rank, shuffle=False)
        val_loader = DataLoader(val_set, batch_size=256, sampler=val_sampler, **loader_options)
    steps_per_epoch = len(loader)
    if steps_per_epoch == 0:
        fail(f"{len(train_set)} samples over {world} processes make no full batch of {config['batchSize']}; lower --batch-size")

    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.amp) if use_cuda else None
    if args.amp != "none" and not use_cuda:
        log(f"--amp {args.amp}: autocast is used on CUDA only; training in float32")
    scaler = None
    if amp_dtype == torch.float16:  # fp16 needs loss scaling; torch.amp.GradScaler is 2.3+, torch.cuda.amp's is deprecated there
        scaler = torch.amp.GradScaler("cuda") if hasattr(torch.amp, "GradScaler") else torch.cuda.amp.GradScaler()
    os.makedirs(args.out, exist_ok=True)
    checkpoint = os.path.join(args.out, "checkpoint.safetensors")
    params = sum(p.numel() for p in net.parameters())
    log(json.dumps({"type": "start", "model": model.SPEC["name"], "backend": "torch", "device": str(device), "world": world,
                    "dataset": args.dataset, "trainSamples": len(train_set), "params": params, "config": config, "startEpoch": start_epoch}))

    optimizer_steps = int(resumed[1]) if resumed else 0
    stop = False
    for epoch in range(start_epoch, config["epochs"]):
        sampler.set_epoch(epoch)
        started, seen = time.time(), 0
        sums = torch.zeros(3, dtype=torch.float64, device=device)
        for step, (x, y) in enumerate(loader):
            lr = learning_rate_at(config, global_step, steps_per_epoch)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with torch.autocast(device_type="cuda", dtype=amp_dtype, enabled=amp_dtype is not None):
                logits = ddp(x)
                loss = F.cross_entropy(logits.float(), y)
            optimizer.zero_grad(set_to_none=True)
            if scaler:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
            global_step += 1
            optimizer_steps += 1
            seen += len(y) * world
            sums += torch.stack([loss.detach().double() * len(y), (logits.argmax(1) == y).sum().double(), torch.tensor(len(y), dtype=torch.float64, device=device)])
            # Reading the loss waits for the device, so it is read (and checked) only every 10 steps.
            if step % 10 == 0 or step == steps_per_epoch - 1:
                value = loss.item()
                if not math.isfinite(value):
                    fail(f"training diverged: the loss became {value} by epoch {epoch + 1}, step {step + 1}; lower --lr")
                log(json.dumps({"type": "step", "epoch": epoch, "step": step, "stepsPerEpoch": steps_per_epoch, "globalStep": global_step,
                                "loss": value, "lr": lr, "imagesPerSecond": seen / max(1e-9, time.time() - started)}))
            if config.get("maxSteps") is not None and global_step >= config["maxSteps"]:
                stop = True
                break
        if distributed:
            dist.all_reduce(sums)
        loss_sum, correct, count = sums.tolist()
        val_loss, val_accuracy = evaluate(ddp, val_loader, device) if val_loader is not None else (None, None)
        metrics = {"epoch": epoch, "epochs": config["epochs"], "loss": loss_sum / max(1, count), "accuracy": correct / max(1, count),
                   "valLoss": val_loss, "valAccuracy": val_accuracy, "lr": lr, "imagesPerSecond": seen / max(1e-9, time.time() - started),
                   "seconds": time.time() - started, "trainSamples": len(train_set), "valSamples": len(val_set) if val_set is not None else 0}
        log(json.dumps(dict(type="epoch", **metrics)))
        # An epoch cut short by --max-steps is not complete: it stays out of the history, and a resumed run repeats it.
        completed = epoch if stop and step < steps_per_epoch - 1 else epoch + 1
        if completed > epoch:
            history.append(metrics)
        if rank == 0:
            save_checkpoint(checkpoint, net, optimizer, config, completed, global_step, history, optimizer_steps)
            log(json.dumps({"type": "checkpoint", "path": checkpoint, "epoch": completed}))
        if distributed:
            dist.barrier()
        if stop:
            break
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
`;

/**
 * `train_ddp.py`: a torchrun script that trains an exported model.py with DistributedDataParallel. It offers the
 * in-editor trainer's choices (Adam or SGD with momentum, coupled L2 on conv/fc weights only, constant/step/cosine
 * schedules computed per step exactly as runtime/train.ts `learningRateAt`) and writes checkpoints in the shared
 * safetensors format through model.py's `write_safetensors` (rank 0, atomic). Its fast path (channels_last, autocast,
 * cudnn.benchmark, torch.compile, data held on the device) is model-core/python/resnet_studio_fast.py, which the torch
 * backend's runner shares: the export ships that file beside the script rather than inlining it, so both run one copy.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ModelGraph } from "../analysis/graph";
import type { TrainConfig } from "../runtime/trainTypes";
import { docText, pyLiteral, pyString } from "./pytorch";

/** The dataset kinds of `--dataset` that have their own training defaults. */
export type TrainScriptDataset = "cifar10" | "imagefolder" | "idx" | "synthetic";

export interface TrainScriptOptions {
  /** File name of the exported model beside the script, e.g. "model.py". */
  modelFile: string;
  /** sha256 of the canonical spec JSON (runtime/checkpoint.ts specHash), written into checkpoint metadata. */
  specHash: string;
  /** Defaults per dataset kind, as the CLI's `train` uses them. */
  defaults: Record<TrainScriptDataset, TrainConfig>;
  /**
   * Per-channel mean and std of pixel/255 on the training split (issue 20: the in-editor trainer's normalisation),
   * used when a run gives no --mean/--std. Without it the script uses the dataset's usual constants, or computes
   * them on an IDX training split.
   */
  normalization?: { mean: number[]; std: number[] };
}

/** The fast-path module train_ddp.py imports; `resnet-studio export --with-train-script` writes it beside the script. */
export const FAST_MODULE_FILE = "resnet_studio_fast.py";

/** model-core/python/resnet_studio_fast.py: next to the bundle (dist/, copied by scripts/build.mjs) or from source. */
export function fastModuleSource(): string {
  const candidates = [
    join(__dirname, FAST_MODULE_FILE),
    join(__dirname, "..", "python", FAST_MODULE_FILE),
    join(__dirname, "..", "..", "python", FAST_MODULE_FILE),
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found)
    throw new Error(
      `${FAST_MODULE_FILE} is missing (looked in ${candidates.join(", ")}); rebuild with node scripts/build.mjs`,
    );
  return readFileSync(found, "utf8");
}

export function exportTrainScript(graph: ModelGraph, options: TrainScriptOptions): string {
  const fastModule = FAST_MODULE_FILE.replace(/\.py$/, "");
  const head = [
    `"""Distributed training of ${docText(graph.spec.name)} (${docText(options.modelFile)}) with PyTorch DDP; exported by ResNet Studio.`,
    ``,
    `    torchrun --nproc_per_node 4 train_ddp.py --dataset cifar10:./cifar-10-batches-bin --out runs/r1`,
    `    torchrun --nnodes 2 --node_rank 0 --master_addr HOST --master_port 29500 --nproc_per_node 8 train_ddp.py ...`,
    `    python train_ddp.py --dataset synthetic --epochs 1          # one process, no torchrun needed`,
    ``,
    `Datasets: synthetic[:count=N], cifar10:<dir>[:classes=0,2] (the official binary batches), idx:<dir> (MNIST-format`,
    `train-/t10k-images-idx3-ubyte[.gz] and -labels-idx1-ubyte[.gz]), imagefolder:<dir> (<dir>/train and <dir>/val if`,
    `present; needs torchvision; decoded once at the model's input as the editor does). --batch-size is per process. NCCL on CUDA, gloo on CPU.`,
    `Speed (${FAST_MODULE_FILE}, beside this script): on CUDA by default channels_last, bf16 autocast (fp16 with loss`,
    `scaling where the GPU has no bf16), cudnn.benchmark, torch.compile (torch >= 2), and a dataset that fits held on the`,
    `GPU (shuffled, augmented and normalised there). --precision, --compile, --channels-last and --data override them.`,
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
    `from torch.utils.data import DataLoader, TensorDataset`,
    `from torch.utils.data.distributed import DistributedSampler`,
    ``,
    `HERE = os.path.dirname(os.path.abspath(__file__))`,
    `sys.path.insert(0, HERE)`,
    `try:`,
    `    import ${fastModule} as fast`,
    `except ImportError as err:`,
    `    sys.exit(f"train_ddp.py: error: ${FAST_MODULE_FILE} must sit beside this script (resnet-studio export --with-train-script writes it): {err}")`,
    ``,
    `MODEL_FILE = os.path.join(HERE, ${pyString(options.modelFile)})`,
    `SPEC_HASH = ${pyString(options.specHash)}`,
    `# The in-editor trainer's defaults per dataset (resnet-studio train).`,
    `DEFAULTS = ${pyLiteral(options.defaults)}`,
    `# Per-channel mean and std of pixel/255 on the training split, baked in at export (None: per dataset, see make_data).`,
    `NORMALIZATION = ${options.normalization ? pyLiteral(options.normalization) : "None"}`,
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


class Data:
    """One dataset: raw training (and validation) images, the source's channel count and its normalisation.
    Tensor datasets hold N x C x H x W images already fitted to the model's input (uint8 pixels, or floats in the
    model's units); an ImageFolder is a torchvision dataset of uint8 images decoded per step."""

    def __init__(self, train, val, classes, source_channels, mean, std, normalization_from, augment, raw=None):
        self.train, self.val, self.classes = train, val, classes
        self.source_channels = source_channels
        self.mean, self.std, self.normalization_from = mean, std, normalization_from
        self.augment = augment
        # The training images as read (before padding to the model's input): what mean and std are computed on.
        self.raw = raw

    @property
    def tensors(self):
        return isinstance(self.train, tuple)

    def count(self, split):
        part = self.train if split == "train" else self.val
        return 0 if part is None else (len(part[1]) if isinstance(part, tuple) else len(part))


def read_cifar10(files, classes):
    """The official binary batches: 3073-byte records, a label byte then 32x32 R, G, B planes."""
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
    return fit(x), y


def fit(pixels):
    try:
        return fast.fit_uint8(pixels, model.INPUT_SHAPE)
    except fast.FastPathError as err:
        fail(str(err))


def synthetic(count, classes, seed):
    """Class-dependent patterns plus noise, in the model's units: learnable, and the same on every rank."""
    g = torch.Generator().manual_seed(seed)
    prototypes = torch.randn(classes, *model.INPUT_SHAPE, generator=g)
    labels = torch.arange(count) % classes
    images = prototypes[labels] + 0.5 * torch.randn(count, *model.INPUT_SHAPE, generator=g)
    return images, labels


def read_idx_folder(arg, folder):
    """MNIST-format IDX: train-images-idx3-ubyte[.gz] + train-labels-idx1-ubyte[.gz]; t10k-* is the validation set."""
    if not os.path.isdir(folder):
        fail(f"--dataset {arg}: {folder} is not a folder")
    try:
        train = fast.read_idx_split(folder, "train")
        val = fast.read_idx_split(folder, "t10k")
    except fast.IdxError as err:
        fail(str(err))
    if train is None:
        fail(f"{folder}: no train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]")
    classes = int(max(train[1].max(), val[1].max() if val else 0)) + 1
    if classes < 2:
        fail(f"{folder}: the labels hold a single class; training needs at least two")
    fitted_val = (fit(val[0]), val[1]) if val else None
    return (fit(train[0]), train[1]), fitted_val, classes, train[0]


def make_data(arg, seed, decode=True, workers=0):
    """-> Data, from --dataset. Normalisation: CIFAR-10's usual constants; an IDX folder's and an ImageFolder's mean
    and std are computed on the training split (after the validation hold-out), as the in-editor trainer does;
    --mean/--std, or values baked in at export (NORMALIZATION), override both. With decode, an ImageFolder under
    IMAGEFOLDER_DECODE_LIMIT_BYTES is decoded once (by the DataLoader's workers) into tensors, held on the device when it fits."""
    kind, _, rest = arg.partition(":")
    channels = model.INPUT_SHAPE[0]
    if kind == "synthetic":
        options = dict(part.split("=", 1) for part in rest.split(":") if part)
        unknown = set(options) - {"count", "classes"}
        if unknown:
            fail(f"--dataset {arg}: unknown option {sorted(unknown)[0]} (allowed: count=N, classes=K)")
        count = int(options.get("count", 512))
        classes = int(options.get("classes", model.NUM_CLASSES))
        train = synthetic(count, classes, seed)
        val = synthetic(max(classes, count // 8), classes, seed + 1)
        return Data(train, val, classes, channels, [0.0] * channels, [1.0] * channels, "none (synthetic data is in the model's units)", "none")
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
        train = read_cifar10(train_files, classes)
        val = read_cifar10([test_file], classes) if os.path.exists(test_file) else None
        # He et al. 2015 section 4.2: 4 pixels of zero padding, a random 32x32 crop, a random horizontal flip.
        return Data(train, val, len(classes) if classes else 10, 3, list(CIFAR10_MEAN), list(CIFAR10_STD), "CIFAR-10 constants", "crop+flip")
    if kind == "idx":
        train, val, classes, raw = read_idx_folder(arg, rest)
        return Data(train, val, classes, 1, None, None, "computed on the training split", "none", raw)
    if kind == "imagefolder":
        return read_image_folder(rest, decode, workers)
    fail(f"unknown dataset {arg!r}: use synthetic[:count=N], cifar10:<dir>[:classes=0,2], idx:<dir> or imagefolder:<dir>")


# An ImageFolder is decoded once into uint8 tensors (then preloaded like the tensor datasets) up to this many bytes of
# pixels at the model's input; a larger one is decoded per step by a DataLoader.
IMAGEFOLDER_DECODE_LIMIT_BYTES = fast.PRELOAD_LIMIT_BYTES


def image_error_line(err):
    """The error's own line, also when a DataLoader worker re-raised it inside the worker's traceback."""
    last = str(err).strip().split("\\n")[-1]
    tag = "ImageFolderError: "
    return last[last.index(tag) + len(tag):] if tag in last else last


class FolderImages(torch.utils.data.Dataset):
    """torchvision's ImageFolder (sorted class folders, PNG and JPEG) with the in-editor trainer's transform
    (data/imageTransform.ts): RGB, or grey by Pillow's convert("L"), then Resize(max(H, W)) and CenterCrop((H, W)), as
    uint8 C x H x W. A file that does not decode raises fast.ImageFolderError naming it."""

    def __init__(self, folder, channels, height, width):
        try:
            from torchvision import datasets, transforms
        except ImportError:
            fail("--dataset imagefolder needs torchvision (pip install torchvision)")
        steps = [transforms.Resize(max(height, width)), transforms.CenterCrop((height, width)), transforms.PILToTensor()]
        if channels == 1:
            steps.insert(0, transforms.Grayscale(1))
        try:
            self.inner = datasets.ImageFolder(folder, transform=transforms.Compose(steps))
        except (FileNotFoundError, OSError) as err:
            fail(f"{folder}: {err}")
        self.classes = self.inner.classes

    def __len__(self):
        return len(self.inner)

    def __getitem__(self, i):
        try:
            return self.inner[i]
        except Exception as err:
            raise fast.ImageFolderError(f"{self.inner.samples[i][0]}: {type(err).__name__}: {err}") from None


def decode_all(images, workers):
    """(N x C x H x W uint8, labels) of every image of a FolderImages, decoded once, a batch at a time."""
    pixels, labels = [], []
    for x, y in DataLoader(images, batch_size=256, num_workers=workers):
        pixels.append(x)
        labels.append(y.long())
    return torch.cat(pixels), torch.cat(labels)


def read_image_folder(root, decode, workers):
    """<root>/train and <root>/val (validation) if there is a train/, else <root> (split by --val-fraction's rule)."""
    if not os.path.isdir(root):
        fail(f"--dataset imagefolder:{root}: {root} is not a folder")
    target, height, width = model.INPUT_SHAPE
    channels = 1 if target == 1 else 3
    train_dir = os.path.join(root, "train") if os.path.isdir(os.path.join(root, "train")) else root
    val_dir = os.path.join(root, "val")
    train = FolderImages(train_dir, channels, height, width)
    val = FolderImages(val_dir, channels, height, width) if train_dir != root and os.path.isdir(val_dir) else None
    if len(train.classes) < 2:
        fail(f"{train_dir}: {len(train.classes)} class folder; training needs at least two")
    classes = len(train.classes)
    nbytes = (len(train) + (len(val) if val is not None else 0)) * channels * height * width
    if decode and nbytes <= IMAGEFOLDER_DECODE_LIMIT_BYTES:
        x, y = decode_all(train, workers)
        fitted_val = None
        if val is not None:
            vx, vy = decode_all(val, workers)
            fitted_val = (fit(vx), vy)
        return Data((fit(x), y), fitted_val, classes, channels, None, None, "computed on the training split", "crop+flip", x)
    return Data(train, val, classes, channels, None, None, "computed on the training split", "crop+flip")


def loader_channel_stats(dataset, workers):
    """Per-channel mean and std of pixel/255 over a dataset decoded per step: one pass, sums in float64."""
    sums = squares = None
    count = 0
    for x, _ in DataLoader(dataset, batch_size=256, num_workers=workers):
        values = x.double().div_(255).transpose(0, 1).reshape(x.shape[1], -1)
        sums = values.sum(1) if sums is None else sums + values.sum(1)
        squares = (values * values).sum(1) if squares is None else squares + (values * values).sum(1)
        count += values.shape[1]
    mean = sums / max(1, count)
    std = torch.sqrt(torch.clamp(squares / max(1, count) - mean * mean, min=1e-12))
    return [float(v) for v in mean], [float(v) for v in std]


def hold_out(data, fraction):
    """No separate validation set: hold out a fixed share, as the in-editor trainer does."""
    n = data.count("train")
    held = max(1, round(n * fraction))
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    if data.tensors:
        x, y = data.train
        data.val = (x[order[:held]], y[order[:held]])
        data.train = (x[order[held:]], y[order[held:]])
        if data.raw is not None:
            data.raw = data.raw[order[held:]]
    else:
        data.val = torch.utils.data.Subset(data.train, order[:held].tolist())
        data.train = torch.utils.data.Subset(data.train, order[held:].tolist())


def parse_floats(flag, text):
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        fail(f"{flag}: expected comma-separated numbers, got {text!r}")
    if not all(math.isfinite(v) for v in values):
        fail(f"{flag}: values must be finite, got {text!r}")
    return values


def resolve_normalization(data, args):
    """Per source channel (mean, std) and where they came from."""
    if (args.mean is None) != (args.std is None):
        fail("--mean and --std go together")
    if args.mean is not None:
        mean, std, origin = parse_floats("--mean", args.mean), parse_floats("--std", args.std), "--mean/--std"
    elif NORMALIZATION is not None and not (data.tensors and data.train[0].dtype != torch.uint8):  # not for synthetic floats
        mean, std, origin = list(NORMALIZATION["mean"]), list(NORMALIZATION["std"]), "baked in at export"
    elif data.mean is None:
        mean, std = fast.channel_stats(data.raw) if data.raw is not None else loader_channel_stats(data.train, args.workers)
        origin = data.normalization_from
    else:
        mean, std, origin = data.mean, data.std, data.normalization_from
    if len(mean) != data.source_channels or len(std) != data.source_channels:
        fail(f"normalisation ({origin}) has {len(mean)} means and {len(std)} stds; the dataset has {data.source_channels} channel(s)")
    if not all(s > 0 for s in std):
        fail(f"normalisation ({origin}): every std must be > 0, got {std}")
    return mean, std, origin


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


def save_checkpoint(path, net, optimizer, config, epoch, global_step, history, step_count, training):
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
        # The fast path's choices and the normalisation, as in the start line: the weights themselves are plain
        # fp32 NCHW tensors (safetensors holds them contiguous), so they load into model.build() as they are.
        "training": json.dumps(training),
        "createdAt": datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z"),
    }
    model.write_safetensors(path, tensors, metadata)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\\n")[0])
    p.add_argument("--dataset", default="synthetic", help="synthetic[:count=N][:classes=K] | cifar10:<dir>[:classes=0,2] | idx:<dir> | imagefolder:<dir>")
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
    p.add_argument("--precision", choices=fast.PRECISIONS, default="auto",
                   help="autocast: auto = bf16 on a GPU that has it, else fp16 (with loss scaling) on CUDA; fp32 on the CPU")
    p.add_argument("--amp", choices=["none", "bf16", "fp16"], help="older spelling of --precision (none = fp32)")
    p.add_argument("--compile", choices=fast.SWITCHES, default="auto", help="torch.compile (torch >= 2): auto = on for CUDA")
    p.add_argument("--no-compile", dest="compile", action="store_const", const="off", help="same as --compile off")
    p.add_argument("--channels-last", choices=fast.SWITCHES, default="auto", help="NHWC model and batches: auto = on (measured faster on CUDA and CPU)")
    p.add_argument("--data", choices=["auto", "device", "loader"], default="auto",
                   help="auto: hold a dataset that fits on the device there (shuffle, augment, normalise on it); loader: a DataLoader per step")
    p.add_argument("--augment", choices=("auto",) + fast.AUGMENTS, default="auto", help="auto: crop+flip for CIFAR-10 and ImageFolder, none otherwise")
    p.add_argument("--crop-padding", type=int, default=4, help="zero padding before the random crop, pixels")
    p.add_argument("--mean", help="per-channel mean of pixel/255, comma-separated (with --std)")
    p.add_argument("--std", help="per-channel std of pixel/255, comma-separated (with --mean)")
    p.add_argument("--log-every", type=int, default=10, help="steps between step lines (each reads the loss: one device sync)")
    p.add_argument("--sync-bn", action="store_true", help="SyncBatchNorm: BN statistics over the global batch")
    p.add_argument("--workers", type=int, default=2, help="DataLoader worker processes (0 loads in the main process)")
    p.add_argument("--out", default="runs/ddp", help="folder for checkpoint.safetensors")
    p.add_argument("--resume", help="a checkpoint file or folder to continue from")
    args = p.parse_args(argv)
    if args.amp is not None:
        args.precision = {"none": "fp32"}.get(args.amp, args.amp)
    if args.log_every < 1:
        p.error("--log-every must be at least 1")
    if args.crop_padding < 0:
        p.error("--crop-padding must be >= 0")
    return args


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


def evaluate(forward, batches, options):
    """Mean loss and accuracy over the batches (already prepared on the device), summed over all ranks."""
    totals = torch.zeros(3, dtype=torch.float64, device=options.device)
    with torch.no_grad(), options.autocast():
        for x, y in batches:
            logits = forward(x).float()
            totals += torch.stack([F.cross_entropy(logits, y, reduction="sum").double(), (logits.argmax(1) == y).sum().double(),
                                   torch.ones((), dtype=torch.float64, device=options.device) * len(y)])
    if dist.is_initialized():
        dist.all_reduce(totals)
    loss, correct, count = totals.tolist()
    return loss / max(1, count), correct / max(1, count)


class LoaderBatches:
    """A DataLoader over raw images, each batch prepared (augmented, normalised) on the device."""

    def __init__(self, dataset, batch, prep, sampler, options, workers):
        self.prep = prep
        self.sampler = sampler
        self.loader = DataLoader(dataset, batch_size=batch, sampler=sampler, drop_last=sampler.drop_last, num_workers=workers,
                                 pin_memory=options.device.type == "cuda", persistent_workers=workers > 0)

    def __len__(self):
        return len(self.loader)

    def set_epoch(self, epoch):
        self.sampler.set_epoch(epoch)

    def __iter__(self):
        for x, y in self.loader:
            yield self.prep(x), y.to(self.prep.options.device, non_blocking=True)


def make_batches(part, batch, prep, options, args, shuffle, seed, rank, world, preload):
    if preload:
        x, y = part
        return fast.DeviceBatches(x, y, batch, prep, seed=seed, shuffle=shuffle, drop_last=shuffle, rank=rank, world=world)
    dataset = TensorDataset(*part) if isinstance(part, tuple) else part
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=shuffle, seed=seed, drop_last=shuffle)
    return LoaderBatches(dataset, batch, prep, sampler, options, args.workers)


def main(argv=None):
    try:
        train(parse_args(argv))
    except fast.ImageFolderError as err:
        fail(image_error_line(err))


def train(args):
    distributed = "WORLD_SIZE" in os.environ
    use_cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    if args.device == "cuda" and not torch.cuda.is_available():
        fail("--device cuda: this torch sees no CUDA device")
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if use_cuda:
        torch.cuda.set_device(local_rank)
    device = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    try:
        options = fast.resolve(device, args.precision, args.compile, args.channels_last)
    except fast.FastPathError as err:
        fail(str(err))
    if distributed:
        dist.init_process_group("nccl" if use_cuda else "gloo")
    rank = dist.get_rank() if distributed else 0
    world = dist.get_world_size() if distributed else 1
    log = print if rank == 0 else (lambda *a, **k: None)
    for note in options.notes:
        log(note)

    config = make_config(args)
    torch.manual_seed(config["seed"])
    data = make_data(args.dataset, config["seed"], decode=args.data != "loader", workers=args.workers)
    if data.val is None and config.get("valFraction", 0) > 0:
        hold_out(data, config["valFraction"])
    if data.classes > model.NUM_CLASSES:
        fail(f"the dataset has {data.classes} classes; the model has only {model.NUM_CLASSES} outputs")
    mean, std, normalization_from = resolve_normalization(data, args)
    channels = model.INPUT_SHAPE[0]
    input_mean, input_std = fast.input_normalization(data.source_channels, channels, mean, std)
    augment = data.augment if args.augment == "auto" else args.augment
    prep = fast.BatchPrep(options, input_mean, input_std, channels, augment, args.crop_padding, seed=config["seed"] * 101 + rank)
    plain = fast.BatchPrep(options, input_mean, input_std, channels)
    if data.tensors:
        nbytes = sum(t.numel() * t.element_size() for part in (data.train, data.val) if part is not None for t in part)
        fits = fast.fits_on_device(nbytes, device)
        if args.data == "device" and not fits:
            fail(f"--data device: the dataset ({nbytes} bytes) does not fit the preload limit on {device}; use --data loader")
        preload = args.data != "loader" and fits
    else:
        if args.data == "device":
            fail(f"--data device: the ImageFolder is over {IMAGEFOLDER_DECODE_LIMIT_BYTES} bytes at the model's input, so it is decoded per step; use --data loader or auto")
        preload = False

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
    net = fast.prepare(net, options)
    optimizer = make_optimizer(net, config)
    if resumed:
        restore_optimizer(net, optimizer, config, resumed[0], resumed[1])
    ddp = DistributedDataParallel(net, device_ids=[local_rank] if use_cuda else None) if distributed else net
    step_fn = fast.TrainStep(ddp, optimizer, options, note=log)

    loader = make_batches(data.train, config["batchSize"], prep, options, args, True, config["seed"], rank, world, preload)
    val_loader = make_batches(data.val, 256, plain, options, args, False, 0, rank, world, preload) if data.val is not None else None
    steps_per_epoch = len(loader)
    if steps_per_epoch == 0:
        fail(f"{data.count('train')} samples over {world} processes make no full batch of {config['batchSize']}; lower --batch-size")

    os.makedirs(args.out, exist_ok=True)
    checkpoint = os.path.join(args.out, "checkpoint.safetensors")
    params = sum(p.numel() for p in net.parameters())
    training = dict(options.describe(), data="device" if preload else "loader", augment=augment,
                    cropPadding=args.crop_padding if "crop" in augment else 0, logEvery=args.log_every,
                    normalization={"mean": mean, "std": std, "from": normalization_from})
    log(json.dumps({"type": "start", "model": model.SPEC["name"], "backend": "torch", "device": str(device), "world": world,
                    "dataset": args.dataset, "trainSamples": data.count("train"), "valSamples": data.count("val"), "params": params,
                    "config": config, "startEpoch": start_epoch, "training": training}))

    optimizer_steps = int(resumed[1]) if resumed else 0
    stop = False
    for epoch in range(start_epoch, config["epochs"]):
        loader.set_epoch(epoch)
        net.train()
        started, seen = time.time(), 0
        sums = fast.Sums(device)
        for step, (x, y) in enumerate(loader):
            lr = learning_rate_at(config, global_step, steps_per_epoch)
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss, logits = step_fn(x, y)
            global_step += 1
            optimizer_steps += 1
            seen += len(y) * world
            sums.add(loss, logits, y)
            # Reading the loss waits for the device, so it is read (and checked) only every --log-every steps.
            if step % args.log_every == 0 or step == steps_per_epoch - 1:
                value = loss.item()
                if not math.isfinite(value):
                    fail(f"training diverged: the loss became {value} by epoch {epoch + 1}, step {step + 1}; lower --lr")
                log(json.dumps({"type": "step", "epoch": epoch, "step": step, "stepsPerEpoch": steps_per_epoch, "globalStep": global_step,
                                "loss": value, "lr": lr, "imagesPerSecond": seen / max(1e-9, time.time() - started)}))
            if config.get("maxSteps") is not None and global_step >= config["maxSteps"]:
                stop = True
                break
        totals = sums.totals()
        if distributed:
            dist.all_reduce(totals)
        loss_sum, correct, count = totals.tolist()
        train_seconds = time.time() - started
        net.eval()
        val_loss, val_accuracy = evaluate(ddp, val_loader, options) if val_loader is not None else (None, None)
        metrics = {"epoch": epoch, "epochs": config["epochs"], "loss": loss_sum / max(1, count), "accuracy": correct / max(1, count),
                   "valLoss": val_loss, "valAccuracy": val_accuracy, "lr": lr, "imagesPerSecond": seen / max(1e-9, train_seconds),
                   "seconds": time.time() - started, "trainSamples": data.count("train"), "valSamples": data.count("val")}
        log(json.dumps(dict(type="epoch", **metrics)))
        # An epoch cut short by --max-steps is not complete: it stays out of the history, and a resumed run repeats it.
        completed = epoch if stop and step < steps_per_epoch - 1 else epoch + 1
        if completed > epoch:
            history.append(metrics)
        if rank == 0:
            # A compile that failed on the first step changed the options after the start line: record what ran.
            ran = dict(training, compile=options.compile, notes=list(options.notes))
            save_checkpoint(checkpoint, net, optimizer, config, completed, global_step, history, optimizer_steps, ran)
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

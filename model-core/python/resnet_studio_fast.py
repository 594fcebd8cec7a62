"""ResNet Studio's fast training path, shared by the torch backend's runner (resnet_studio_torch.py) and the exported
train_ddp.py (which ships this file beside itself).

What it does, following PyTorch's performance tuning guide and airbench's CIFAR loop:
- channels_last for the model and every batch (cuDNN's NHWC kernels; on this repository's CPU, torch 1.13, it also
  measured faster: BENCHMARKS.md "Fast path");
- autocast: bf16 where the GPU has it, else fp16 with a GradScaler; fp32 stays the default on the CPU;
- cudnn.benchmark (fixed input size: cuDNN picks the fastest algorithms once);
- torch.compile where torch >= 2 has it, falling back to eager with a note when it is missing or fails;
- no host sync in the step: loss and accuracy are summed on the device and read when a log line needs them;
- datasets that fit in memory are held on the device as uint8, shuffled, cropped, flipped and normalised there.
Works on torch 1.13 and 2.x, without numpy.
"""
import contextlib
import gzip
import math
import os
import struct

import torch
import torch.nn.functional as F

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
SWITCHES = ("auto", "on", "off")
# On this repository's 2-vCPU machine (torch 1.13, 1 thread, ResNet-20, batch 64) channels_last trained 1.17x (fp32)
# and 1.26x (bf16) as fast as NCHW, and 1.19-1.47x in bench/cuda/fast_loops.py (BENCHMARKS.md "Fast path"): kept.
CPU_CHANNELS_LAST = True
# Datasets up to this many bytes (uint8, after fitting to the model's input) are held on the device.
PRELOAD_LIMIT_BYTES = 4 << 30
# ... and never more than this share of the GPU's free memory.
PRELOAD_FREE_SHARE = 0.25


class FastPathError(ValueError):
    """An option this machine cannot honour; the message says which and what to use instead."""


def torch_major():
    try:
        return int(torch.__version__.split(".")[0])
    except ValueError:
        return 0


def compile_available():
    return torch_major() >= 2 and hasattr(torch, "compile")


def bf16_supported(device):
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    return device.type == "cpu"  # CPU autocast has bfloat16 since torch 1.10


class Options:
    """The resolved fast-path choices for one device. `notes` are the lines a run prints about fallbacks."""

    def __init__(self, device, precision, channels_last, compile, cudnn_benchmark, notes):
        self.device = device
        self.precision = precision
        self.channels_last = channels_last
        self.compile = compile
        self.cudnn_benchmark = cudnn_benchmark
        self.notes = notes

    @property
    def amp_dtype(self):
        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)

    @property
    def memory_format(self):
        return torch.channels_last if self.channels_last else torch.contiguous_format

    @property
    def sync_every_step(self):
        """CPU kernels run synchronously, so reading the loss there costs nothing; CUDA's would stall the queue."""
        return self.device.type != "cuda"

    def describe(self):
        """Every choice, for the start line and the checkpoint's metadata."""
        return {
            "device": str(self.device),
            "precision": self.precision,
            "channelsLast": self.channels_last,
            "compile": self.compile,
            "cudnnBenchmark": self.cudnn_benchmark,
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "notes": list(self.notes),
        }

    def autocast(self):
        # fp32: no autocast context at all (torch 1.13's CPU autocast refuses any dtype but bfloat16, even disabled).
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def to_input(self, x):
        """A batch on the device in the model's memory format."""
        x = x.to(self.device, non_blocking=True)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last and x.dim() == 4 else x


def resolve(device, precision="auto", compile="auto", channels_last="auto"):
    """-> Options for `device` (a torch.device). Raises FastPathError for a precision the device cannot run."""
    if precision not in PRECISIONS:
        raise FastPathError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    for flag, value in (("--compile", compile), ("--channels-last", channels_last)):
        if value not in SWITCHES:
            raise FastPathError(f"{flag} must be one of {', '.join(SWITCHES)}, got {value!r}")
    cuda = device.type == "cuda"
    notes = []
    if precision == "auto":
        precision = ("bf16" if bf16_supported(device) else "fp16") if cuda else "fp32"
    elif precision == "fp16" and not cuda:
        raise FastPathError("--precision fp16 needs CUDA: autocast on the CPU has bfloat16 only; use --precision bf16 or fp32")
    elif precision == "bf16" and not bf16_supported(device):
        raise FastPathError(f"--precision bf16: this GPU ({torch.cuda.get_device_name(device)}) has no bfloat16; use --precision fp16 or fp32")
    use_channels_last = (cuda or CPU_CHANNELS_LAST) if channels_last == "auto" else channels_last == "on"
    want_compile = cuda if compile == "auto" else compile == "on"
    compiled = False
    if want_compile:
        if compile_available():
            compiled = True
        elif compile == "on":
            notes.append(f"--compile: torch.compile needs torch >= 2 (this is {torch.__version__}); training uncompiled")
    benchmark = cuda
    if benchmark:
        torch.backends.cudnn.benchmark = True
    return Options(device, precision, use_channels_last, compiled, benchmark, notes)


def prepare(net, options):
    """Moves `net` to the device in the chosen memory format (in place) and returns it."""
    return net.to(device=options.device, memory_format=options.memory_format)


def compiled(module, options):
    """torch.compile(module) when the options ask for it, else the module itself."""
    return torch.compile(module) if options.compile else module


def make_scaler(options):
    """fp16 needs loss scaling; bf16 has fp32's range and does not."""
    if options.precision != "fp16":
        return None
    return torch.amp.GradScaler("cuda") if hasattr(torch.amp, "GradScaler") else torch.cuda.amp.GradScaler()


class TrainStep:
    """forward + cross-entropy + backward + optimizer step, with no host sync (except GradScaler's own, fp16 only).

    `model` is what runs the forward (the DDP wrapper or the network); `options.compile` wraps it in torch.compile,
    and a compile failure on the first step falls back to eager with a note instead of ending the run."""

    def __init__(self, model, optimizer, options, note=print):
        self.eager = model
        self.model = compiled(model, options)
        self.optimizer = optimizer
        self.options = options
        self.scaler = make_scaler(options)
        self.note = note
        self.calls = 0

    def forward_backward(self, x, y):
        """-> (loss, logits), both detached; gradients are in the parameters, the optimizer has not stepped."""
        try:
            out = self._forward_backward(x, y)
        except Exception as err:  # torch.compile errors surface on the first call
            if self.calls > 0 or self.model is self.eager:
                raise
            first = str(err).strip().split("\n")[0][:200]
            message = f"torch.compile failed on the first step ({type(err).__name__}: {first}); training uncompiled"
            self.note(message)
            self.options.notes.append(message)
            self.model = self.eager
            self.options.compile = False
            out = self._forward_backward(x, y)
        self.calls += 1
        return out

    def _forward_backward(self, x, y):
        self.optimizer.zero_grad(set_to_none=True)
        with self.options.autocast():
            logits = self.model(x)
        loss = F.cross_entropy(logits.float(), y)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
        else:
            loss.backward()
        return loss.detach(), logits.detach()

    def apply(self):
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()

    def __call__(self, x, y):
        loss, logits = self.forward_backward(x, y)
        self.apply()
        return loss, logits


class Sums:
    """Loss x count and correct predictions summed on the device (read, one sync, only when asked); the count on the host."""

    def __init__(self, device):
        self.values = torch.zeros(2, dtype=torch.float64, device=device)
        self.count = 0

    def add(self, loss, logits, y):
        n = y.shape[0]
        self.values += torch.stack([loss.double() * n, (logits.argmax(1) == y).sum().double()])
        self.count += n

    def totals(self):
        """-> a float64 tensor [loss x count, correct, count] on the device (for all_reduce)."""
        return torch.cat([self.values, self.values.new_tensor([float(self.count)])])

    def read(self):
        """-> (mean loss, accuracy, count)."""
        loss, correct = self.values.tolist()
        return loss / max(1, self.count), correct / max(1, self.count), self.count


# ---------------------------------------------------------------------------------------------------------------
# Data: uint8 images fitted to the model's input, normalised on the device


def fit_uint8(pixels, target):
    """N x C x H x W uint8 -> the model's input geometry as the in-editor trainer builds it (data/dataset.ts
    BatchAdapter): 3->1 channels by the rounded mean, zero (black) pixels padded around the centre or a centre crop.
    A 1-channel source stays 1-channel here; normalise() repeats it."""
    tc, th, tw = target
    n, c, h, w = pixels.shape
    if c == 3 and tc == 1:
        pixels = ((pixels.int().sum(1, keepdim=True) + 1) // 3).to(torch.uint8)
    elif c != tc and c != 1:
        raise FastPathError(f"the dataset has {c} channels; the model expects {tc} (only equal counts, 1->N and 3->1 convert)")
    if (h, w) == (th, tw):
        return pixels.contiguous()
    top, left = (th - h) // 2, (tw - w) // 2
    canvas = torch.zeros(n, pixels.shape[1], th, tw, dtype=torch.uint8)
    y0, y1 = max(0, top), min(th, top + h)
    x0, x1 = max(0, left), min(tw, left + w)
    if y1 > y0 and x1 > x0:
        canvas[:, :, y0:y1, x0:x1] = pixels[:, :, y0 - top : y1 - top, x0 - left : x1 - left]
    return canvas


def channel_stats(pixels):
    """Per-channel mean and (population) std of pixel/255 over N x C x H x W uint8, as data/dataset.ts channelStats."""
    c = pixels.shape[1]
    sums = torch.zeros(c, dtype=torch.float64)
    squares = torch.zeros(c, dtype=torch.float64)
    count = 0
    for start in range(0, pixels.shape[0], 4096):  # bounded temporaries
        chunk = pixels[start : start + 4096].double().div_(255).transpose(0, 1).reshape(c, -1)
        sums += chunk.sum(1)
        squares += (chunk * chunk).sum(1)
        count += chunk.shape[1]
    mean = sums / max(1, count)
    std = torch.sqrt(torch.clamp(squares / max(1, count) - mean * mean, min=1e-12))
    return [float(v) for v in mean], [float(v) for v in std]


def input_normalization(source_channels, target_channels, mean, std):
    """Per model-input channel (mean, std), as BatchAdapter maps a source's statistics: 1->N repeats, 3->1 averages."""
    if len(mean) != source_channels or len(std) != source_channels:
        raise FastPathError(f"normalisation has {len(mean)} means and {len(std)} stds; the dataset has {source_channels} channels")
    if source_channels == target_channels:
        return list(mean), list(std)
    if source_channels == 1:
        return [mean[0]] * target_channels, [std[0]] * target_channels
    return [sum(mean) / len(mean)], [sum(std) / len(std)]


AUGMENTS = ("none", "crop", "flip", "crop+flip")


class BatchPrep:
    """A batch of raw images on the device -> augmented (random crop after zero padding, horizontal flip), normalised
    model input in the model's memory format. Random numbers come from a generator on the device: no host sync.

    Raw images are uint8 (pixel values; normalised as (v/255 - mean)/std, as BatchAdapter's lookup tables) or float
    (already in the model's units: mean 0, std 1 leaves them as they are). A 1-channel source feeding a C-channel model
    is repeated after normalisation; `mean`/`std` are per model-input channel."""

    def __init__(self, options, mean, std, channels, augment="none", padding=4, seed=0):
        if augment not in AUGMENTS:
            raise FastPathError(f"--augment must be one of {', '.join(AUGMENTS)}, got {augment!r}")
        device = options.device
        self.options = options
        self.channels = channels
        self.mean = torch.tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        self.crop = "crop" in augment and padding > 0
        self.flip = "flip" in augment
        self.padding = padding
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed)

    def _augment(self, raw):
        n, c, h, w = raw.shape
        device, g = raw.device, self.generator
        if self.crop:
            p = self.padding
            padded = F.pad(raw, (p, p, p, p)).reshape(n, c, -1)
            dy = torch.randint(0, 2 * p + 1, (n, 1, 1), generator=g, device=device)
            dx = torch.randint(0, 2 * p + 1, (n, 1, 1), generator=g, device=device)
            rows = dy + torch.arange(h, device=device).view(1, h, 1)
            cols = dx + torch.arange(w, device=device).view(1, 1, w)
            flat = (rows * (w + 2 * p) + cols).view(n, 1, h * w).expand(n, c, h * w)
            raw = padded.gather(2, flat).view(n, c, h, w)
        if self.flip:
            mask = torch.rand(n, generator=g, device=device).lt(0.5).view(n, 1, 1, 1)
            raw = torch.where(mask, raw.flip(3), raw)
        return raw

    def __call__(self, raw):
        raw = raw.to(self.options.device, non_blocking=True)
        if self.crop or self.flip:
            raw = self._augment(raw)
        x = raw.float().div_(255) if raw.dtype == torch.uint8 else raw.float()
        x = (x - self.mean) / self.std
        if x.shape[1] != self.channels:
            x = x.expand(-1, self.channels, -1, -1)
        return self.options.to_input(x)


class DeviceBatches:
    """A whole split held on the device, reshuffled every epoch (a seeded permutation, the same on every rank),
    sharded over DDP ranks as DistributedSampler does, and prepared (augment, normalise) there: one gather per batch
    instead of a DataLoader."""

    def __init__(self, pixels, labels, batch, prep, seed=0, shuffle=True, drop_last=True, rank=0, world=1):
        device = prep.options.device
        self.pixels = pixels.to(device)
        self.labels = labels.to(device).long()
        self.batch = batch
        self.prep = prep
        self.seed = seed
        self.shuffle = shuffle
        self.rank, self.world = rank, world
        self.epoch = 0
        self.per_rank = len(self.labels) // world if drop_last else math.ceil(len(self.labels) / world)
        self.steps = self.per_rank // batch if drop_last else math.ceil(self.per_rank / batch)

    def __len__(self):
        return self.steps

    def set_epoch(self, epoch):
        self.epoch = epoch

    def _order(self):
        n = len(self.labels)
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 1000003 + self.epoch)
            order = torch.randperm(n, generator=g).to(self.labels.device)  # once per epoch
        else:
            order = torch.arange(n, device=self.labels.device)
        if self.per_rank * self.world > n:  # pad by wrapping, as DistributedSampler does
            order = torch.cat([order, order[: self.per_rank * self.world - n]])
        return order[self.rank : self.per_rank * self.world : self.world]

    def __iter__(self):
        order = self._order()
        for step in range(self.steps):
            idx = order[step * self.batch : (step + 1) * self.batch]
            yield self.prep(self.pixels.index_select(0, idx)), self.labels.index_select(0, idx)


def fits_on_device(nbytes, device):
    """Whether a dataset of `nbytes` may be preloaded on `device`."""
    if nbytes > PRELOAD_LIMIT_BYTES:
        return False
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return nbytes <= PRELOAD_FREE_SHARE * free
    return True


# ---------------------------------------------------------------------------------------------------------------
# MNIST-format IDX files (http://yann.lecun.com/exdb/mnist/): big-endian header, magic 0x00 0x00 type ndims.

IDX_UBYTE = 0x08
IDX_MAX_BYTES = 1 << 31  # bounded work on untrusted input: 2 GiB of pixels


class ImageFolderError(ValueError):
    """An image of an ImageFolder that does not decode; the message names the file. Defined here, in an importable
    module, so that a DataLoader worker can send it back to the main process (pickled by its module's name)."""


class IdxError(ValueError):
    """A malformed IDX file; the message names the file."""


def _read_maybe_gzip(path, limit):
    with open(path, "rb") as f:
        head = f.read(2)
    try:
        if head == b"\x1f\x8b":
            with gzip.open(path, "rb") as f:
                data = f.read(limit + 1)
        else:
            with open(path, "rb") as f:
                data = f.read(limit + 1)
    except (EOFError, OSError, gzip.BadGzipFile if hasattr(gzip, "BadGzipFile") else OSError) as err:
        raise IdxError(f"{path}: the gzip stream is truncated or damaged ({err})") from None
    if len(data) > limit:
        raise IdxError(f"{path}: more than {limit} bytes; IDX files up to {IDX_MAX_BYTES} bytes are read")
    return data


def read_idx(path, expected_dims):
    """-> uint8 tensor of the file's shape. Checks magic, element type, dimension count and the data length."""
    data = _read_maybe_gzip(path, IDX_MAX_BYTES + 64)
    if len(data) < 4:
        raise IdxError(f"{path}: {len(data)} bytes is too short for an IDX header")
    zero, kind, ndims = struct.unpack(">HBB", data[:4])
    if zero != 0 or kind != IDX_UBYTE:
        raise IdxError(f"{path}: magic {data[:4].hex()} is not an unsigned-byte IDX file (expected 0000 08 0{expected_dims})")
    if ndims != expected_dims:
        raise IdxError(f"{path}: {ndims} dimensions, expected {expected_dims} ({'images N x H x W' if expected_dims == 3 else 'labels N'})")
    if len(data) < 4 + 4 * ndims:
        raise IdxError(f"{path}: the header is cut short")
    dims = struct.unpack(f">{ndims}I", data[4 : 4 + 4 * ndims])
    count = 1
    for d in dims:
        count *= d
    body = len(data) - 4 - 4 * ndims
    if count > IDX_MAX_BYTES:
        raise IdxError(f"{path}: dimensions {list(dims)} make {count} bytes, over the limit of {IDX_MAX_BYTES}")
    if body != count:
        raise IdxError(f"{path}: dimensions {list(dims)} need {count} bytes of data, the file has {body}")
    if count == 0:
        return torch.empty(dims, dtype=torch.uint8)
    return torch.frombuffer(bytearray(data[4 + 4 * ndims :]), dtype=torch.uint8).reshape(dims)


def _idx_file(folder, stem):
    for name in (stem, stem + ".gz"):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    return None


def read_idx_split(folder, prefix):
    """-> (N x 1 x H x W uint8, N labels) for `prefix` "train" or "t10k", or None when the images file is absent."""
    images_path = _idx_file(folder, f"{prefix}-images-idx3-ubyte")
    labels_path = _idx_file(folder, f"{prefix}-labels-idx1-ubyte")
    if images_path is None and labels_path is None:
        return None
    if images_path is None or labels_path is None:
        have = images_path or labels_path
        missing = f"{prefix}-images-idx3-ubyte[.gz]" if images_path is None else f"{prefix}-labels-idx1-ubyte[.gz]"
        raise IdxError(f"{folder}: {os.path.basename(have)} has no {missing} beside it")
    images = read_idx(images_path, 3)
    labels = read_idx(labels_path, 1)
    if images.shape[0] != labels.shape[0]:
        raise IdxError(f"{images_path}: {images.shape[0]} images, but {labels_path} has {labels.shape[0]} labels")
    if images.shape[0] == 0:
        raise IdxError(f"{images_path}: no images")
    return images.unsqueeze(1), labels.long()

"""Converts a PyTorch .pt/.pth state_dict into safetensors for ResNet Studio, which never reads a pickle itself.

    python resnet_studio_weights.py <weights.pt> <out.safetensors>

The file is opened with torch.load(..., map_location="cpu", weights_only=True), so only tensors and plain containers
are unpickled. A state_dict may sit at the top level or under "state_dict" or "model" (training scripts' habit).
Prints one JSON line {"tensors": N, "nestedUnder": key or null}; any error is one line on stderr and exit status 2.
Needs only torch (1.13 or 2.x); the safetensors file is written by hand, as in the exported model.py.
"""
import json
import os
import pickle
import struct
import sys
import tempfile

import torch

_DTYPE_NAMES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}
NESTING_KEYS = ("state_dict", "model")


def fail(message):
    print(message.replace("\n", " "), file=sys.stderr)
    sys.exit(2)


def is_state_dict(value):
    return isinstance(value, dict) and len(value) > 0 and all(torch.is_tensor(v) for v in value.values())


def tensor_bytes(tensor):
    flat = tensor.detach().cpu().contiguous().reshape(-1)
    if flat.numel() == 0:
        return b""
    raw = flat.view(torch.uint8) if flat.dtype != torch.uint8 else flat
    try:
        return raw.numpy().tobytes()
    except (RuntimeError, TypeError):  # torch built without numpy
        return bytes(raw.tolist())


def write_safetensors(path, state):
    header, chunks, offset = {}, [], 0
    for name, tensor in state.items():
        if tensor.dtype not in _DTYPE_NAMES:
            fail(f"tensor {name!r} has dtype {tensor.dtype}, which safetensors cannot hold")
        raw = tensor_bytes(tensor)
        header[name] = {"dtype": _DTYPE_NAMES[tensor.dtype], "shape": list(tensor.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    header = {"__metadata__": {"format": "pt"}, **header}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-(8 + len(text)) % 8)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=f".rs-tmp-{os.getpid()}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(text)))
            f.write(text)
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv):
    if len(argv) != 3:
        fail("usage: resnet_studio_weights.py <weights.pt> <out.safetensors>")
    source, target = argv[1], argv[2]
    if sys.byteorder != "little":
        fail("safetensors data is little-endian; this machine is not")
    try:
        loaded = torch.load(source, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        text = " ".join(str(err).split())
        # torch's message goes on to suggest weights_only=False, which would run the pickle's code: keep the cause.
        first = text.split("WeightsUnpickler error:")[-1].strip() or type(err).__name__
        fail(
            f"{source}: torch.load(weights_only=True) refused it: {first}. The file holds more than tensors "
            "(a pickled module or optimizer object); save the weights alone with torch.save(net.state_dict(), path)"
        )
    except (OSError, RuntimeError, EOFError, ValueError) as err:
        fail(f"{source}: torch.load could not read it: {str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__}")
    nested = None
    state = loaded
    if not is_state_dict(state) and isinstance(state, dict):
        for key in NESTING_KEYS:
            if is_state_dict(state.get(key)):
                state, nested = state[key], key
                break
    if not is_state_dict(state):
        if isinstance(loaded, dict):
            odd = [k for k, v in loaded.items() if not torch.is_tensor(v)][:3]
            keys = ", ".join(repr(k) for k in list(loaded)[:5])
            fail(
                f"{source}: not a state_dict: the top level has keys {keys} and {', '.join(repr(k) for k in odd)} "
                f"{'is' if len(odd) == 1 else 'are'} not tensors, and neither {' nor '.join(repr(k) for k in NESTING_KEYS)} holds one"
            )
        fail(f"{source}: not a state_dict: torch.load gave a {type(loaded).__name__}, not a dict of tensors")
    write_safetensors(target, {str(k): v for k, v in state.items()})
    print(json.dumps({"tensors": len(state), "nestedUnder": nested}))


if __name__ == "__main__":
    main(sys.argv)

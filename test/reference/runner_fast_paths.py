"""The torch runner's evaluation, gradient-flow and calibration jobs on the fast path's options, on the CPU: prints
one JSON object comparing each with the plain (NCHW, fp32) run of the same weights and data.

    python runner_fast_paths.py <model-core/python> <model.py> <job graph and taps .json>"""
import json
import struct
import sys

import torch

sys.path.insert(0, sys.argv[1])
import resnet_studio_torch as runner  # noqa: E402

fast = runner.fast
MODEL, GRAPH = sys.argv[2], sys.argv[3]
cpu = torch.device("cpu")
module = runner.load_module(MODEL)
c, h, w = module.INPUT_SHAPE
g = torch.Generator().manual_seed(5)
x = torch.randn(24, c, h, w, generator=g)
y = torch.arange(24) % module.NUM_CLASSES


class Images:
    def batch(self, idx):
        return x[idx], y[idx]


def net_with(options):
    net = module.build(seed=3)
    return fast.prepare(net, options)


out = {}
plain = fast.resolve(cpu, "fp32", "off", "off")
evaluated = {}
for name, options in (("plain", plain), ("channelsLast", fast.resolve(cpu, "fp32", "off", "on")),
                      ("bf16", fast.resolve(cpu, "bf16", "off", "on"))):
    net = net_with(options)
    evaluated[name] = runner.evaluate(net, Images(), torch.arange(24), options)
    out.setdefault("evalNetChannelsLast", {})[name] = net.conv1.weight.is_contiguous(memory_format=torch.channels_last)
out["evaluate"] = evaluated
# The plain reference written out: the module's own eval forward, one batch.
with torch.no_grad():
    reference = module.build(seed=3).eval()(x)
out["referenceLoss"] = float(torch.nn.functional.cross_entropy(reference, y))
out["referenceAccuracy"] = int((reference.argmax(1) == y).sum()) / len(y)

job_parts = json.load(open(GRAPH))
messages = []
runner.emit = messages.append
nhwc = x.permute(0, 2, 3, 1).contiguous()
path = GRAPH + ".x.f32"
with open(path, "wb") as f:
    f.write(struct.pack(f"<{nhwc.numel()}f", *nhwc.flatten().tolist()))
flows = {}
for switch in ("off", "on"):
    net = module.build(seed=3)
    job = {"x": {"file": path, "shape": list(nhwc.shape)}, "labels": y.tolist(), "graph": job_parts["graph"],
           "taps": job_parts["taps"], "mode": "train", "channelsLast": switch}
    runner.gradflow_job(job, module, net, cpu)
    flows[switch] = messages[-1]
    out.setdefault("flowNetChannelsLast", {})[switch] = net.conv1.weight.is_contiguous(memory_format=torch.channels_last)
worst = 0.0
for nid, stats in flows["off"]["nodes"].items():
    for a, b in zip(stats, flows["on"]["nodes"][nid]):
        worst = max(worst, abs(a - b) / max(abs(a), 1e-12))
out["flowNodes"] = len(flows["off"]["nodes"])
out["flowMaxRelativeDifference"] = worst
out["flowLoss"] = [flows["off"]["loss"], flows["on"]["loss"]]

probe = {"moduleFile": MODEL, "input": [c, h, w], "classes": module.NUM_CLASSES}
calibrations = {}
for precision in ("fp32", "bf16"):
    runner.calibrate_job({"batch": 4, "probes": [probe], "timedSteps": 1, "warmupSteps": 1, "precision": precision,
                          "channelsLast": "on"}, cpu, False)
    calibrations[precision] = messages[-1]
out["calibrations"] = calibrations
try:
    runner.calibrate_job({"batch": 4, "probes": [probe], "timedSteps": 1, "precision": "fp16"}, cpu, False)
    out["fp16"] = "ran"
except fast.FastPathError as err:
    out["fp16"] = str(err)
print(json.dumps(out))

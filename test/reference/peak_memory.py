"""Measured CPU peak of one training step, against which BENCHMARKS.md documents the planner's peak estimate.

Usage: /usr/bin/python3 test/reference/peak_memory.py NET BATCH C,H,W [STAGE,STAGE…]   (as saved_memory.py). Prints JSON.

Two measures, both taken after a warm-up step (so optimiser state, thread pools and the allocator exist) and with
zero_grad(set_to_none=True), as the planner assumes:
- tensorPeakBytes: the running sum of the profiler's allocation events ([memory] events, profile_memory=True)
  over the step, plus what was live before it (parameters, buffers, optimiser state, the input batch): tensors
  only, no allocator overhead;
- rssPeakBytes: ru_maxrss of the step above the resident size before it, with glibc returning freed blocks
  (MALLOC_MMAP_THRESHOLD_), so allocator caching, fragmentation and library workspaces are included.
"""
import json
import os
import resource
import sys

import torch
import torch.nn.functional as F
import torch.utils.checkpoint

sys.path.insert(0, os.path.dirname(__file__))
from saved_memory import build  # noqa: E402


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main():
    name, batch, shape = sys.argv[1], int(sys.argv[2]), [int(v) for v in sys.argv[3].split(",")]
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = build(name).train()
    for stage in [s for s in sys.argv[4].split(",") if s] if len(sys.argv) > 4 else []:
        seq = getattr(model, stage)
        seq.forward = lambda x, run=seq.forward: torch.utils.checkpoint.checkpoint(run, x)
    classes = model.fc.out_features
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    step(torch.randn(2, *shape), torch.randint(0, classes, (2,)))
    opt.zero_grad(set_to_none=True)
    x = torch.randn(batch, *shape)
    y = torch.randint(0, classes, (batch,))
    persistent = sum(t.numel() * t.element_size() for t in list(model.parameters()) + list(model.buffers()))
    persistent += sum(v.numel() * v.element_size() for s in opt.state.values() for v in s.values() if torch.is_tensor(v))
    persistent += x.numel() * x.element_size() + y.numel() * y.element_size()

    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True) as prof:
        step(x, y)
    # Each op's own allocations net of its own frees (children excluded), at its start; frees outside any op are
    # "[memory]" events. Their running sum is the live tensor total over the step.
    deltas = sorted(
        (e.time_range.start, e.cpu_memory_usage if e.name == "[memory]" else e.self_cpu_memory_usage)
        for e in prof.events()
        if (e.cpu_memory_usage if e.name == "[memory]" else e.self_cpu_memory_usage) != 0
    )
    live, peak = 0, 0
    for _, delta in deltas:
        live += delta
        peak = max(peak, live)

    # A second, unprofiled step for the resident-size measure.
    opt.zero_grad(set_to_none=True)
    before = rss_bytes()
    max_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    step(x, y)
    max_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({
        "net": name, "batch": batch, "input": shape, "persistentBytes": persistent,
        "tensorPeakBytes": persistent + peak,
        "rssPeakAboveStartBytes": max_after - before if max_after > max_before else None,
    }))


if __name__ == "__main__":
    main()

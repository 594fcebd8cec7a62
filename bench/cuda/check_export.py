"""CUDA check, run by bench/cuda/run.sh on a GPU machine. Device check (torch 2.x + CUDA): exported modules, torchvision keys, shared checkpoint, CUDA memory peak, throughput."""
import glob, importlib.util, json, os, sys, time
import torch
R = {"torch": torch.__version__, "cuda": torch.cuda.is_available(), "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
dev = "cuda"
def load(path):
    s = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path); m = importlib.util.module_from_spec(s); s.loader.exec_module(m); return m
# 1. every exported module: params and output shape equal summary --json; forward+backward on CUDA
rows = []
for py in sorted(glob.glob(".bench/cuda/models/*.py")):
    js = py[:-3] + ".json"
    if not os.path.exists(js): continue
    info = json.load(open(js)); m = load(py); net = m.build(seed=1).to(dev)
    n = sum(p.numel() for p in net.parameters())
    x = torch.randn(2, *info["input"], device=dev); y = net.train()(x); y.sum().backward()
    ok = n == info["params"] and list(y.shape[1:]) == info["output"] and all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)
    rows.append({"name": os.path.basename(py), "params": n, "expected": info["params"], "ok": bool(ok)})
R["export"] = {"cases": len(rows), "failed": [r for r in rows if not r["ok"]]}
del net, x, y; torch.cuda.empty_cache()  # the CUDA peaks below must not include the last case
# 2. torchvision state_dict, strict
try:
    import torchvision
    tv = {}
    for name in ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "wide_resnet50_2", "resnext50_32x4d"]:
        net = load(f".bench/cuda/models/{name}.py").build()
        try: net.load_state_dict(getattr(torchvision.models, name)().state_dict(), strict=True); tv[name] = "ok"
        except Exception as e: tv[name] = str(e)[:300]
    R["torchvision"] = {"version": torchvision.__version__, "strict": tv}
except ImportError as e: R["torchvision"] = f"not importable: {e}"
# 3. a checkpoint written by the wasm trainer loads strictly on torch 2.x
m = load(".bench/cuda/models/ckpt_model.py"); net = m.build()
try: meta = m.load_checkpoint(net, ".bench/cuda/ckpt/checkpoint.safetensors", strict=True); R["wasmCheckpoint"] = {"ok": True, "backend": meta.get("backend"), "epoch": meta.get("epoch")}
except Exception as e: R["wasmCheckpoint"] = {"ok": False, "error": str(e)[:300]}
# 4. CUDA peak of one SGD step against the planner's trainPeakBytes
torch.backends.cudnn.benchmark = False
mem = []
for name, batch in [("resnet18", 32), ("resnet50", 32), ("resnet56", 128), ("resnet110", 128)]:
    info = json.load(open(f".bench/cuda/models/{name}.json")); net = load(f".bench/cuda/models/{name}.py").build().to(dev).train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch, *info["input"], device=dev); t = torch.randint(0, info["output"][0], (batch,), device=dev)
    def step():
        opt.zero_grad(set_to_none=True); torch.nn.functional.cross_entropy(net(x), t).backward(); opt.step()
    step(); torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats(); step(); torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated(); est = info["memory"]["trainPeakBytes"]
    mem.append({"name": name, "batch": batch, "cudaPeak": peak, "planner": est, "ratio": round(peak / est, 4)})
    del net, opt, x; torch.cuda.empty_cache()
R["cudaMemory"] = mem
# 5. throughput of the exported CIFAR ResNet-20 (option A), SGD momentum, fp32 and bf16 autocast
torch.backends.cudnn.benchmark = True
tp = []
for batch, amp in [(64, None), (1024, None), (1024, torch.bfloat16)]:
    net = load(".bench/cuda/models/resnet20.py").build().to(dev).train(); opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(batch, 3, 32, 32, device=dev); t = torch.randint(0, 10, (batch,), device=dev)
    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=amp, enabled=amp is not None):
            loss = torch.nn.functional.cross_entropy(net(x), t)
        loss.backward(); opt.step()
    for _ in range(15): step()
    torch.cuda.synchronize(); n = 60 if batch == 64 else 30; t0 = time.perf_counter()
    for _ in range(n): step()
    torch.cuda.synchronize(); tp.append({"batch": batch, "amp": str(amp), "imgPerSec": round(n * batch / (time.perf_counter() - t0))})
R["throughput"] = tp
print("RESULT " + json.dumps(R))

"""CUDA: exported CIFAR ResNet-20 against bench/pytorch_reference.py's model in one run; where the CUDA peak of a
forward+backward stands against the memory planner, with and without cuDNN. Run by bench/cuda/run.sh."""
import importlib.util, json, os, time, torch
dev = "cuda"
def load(path, name=None):
    s = importlib.util.spec_from_file_location(name or os.path.basename(path)[:-3], path); m = importlib.util.module_from_spec(s); s.loader.exec_module(m); return m
R = {}
# Same-run throughput: exported CIFAR ResNet-20 vs bench/pytorch_reference.py's hand-written model, CUDA.
ref = load("bench/pytorch_reference.py", "pytorch_reference")
torch.set_num_threads(16)
torch.backends.cudnn.benchmark = True
def ips(net, batch, amp, steps):
    net = net.to(dev).train(); opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(batch, 3, 32, 32, device=dev); t = torch.randint(0, 10, (batch,), device=dev)
    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            loss = torch.nn.functional.cross_entropy(net(x), t)
        loss.backward(); opt.step()
    for _ in range(20): step()
    torch.cuda.synchronize(); t0 = time.perf_counter()
    for _ in range(steps): step()
    torch.cuda.synchronize(); return steps * batch / (time.perf_counter() - t0)
tp = []
for batch, amp, steps in [(64, False, 200), (1024, False, 60), (1024, True, 60)]:
    a, b = [], []
    for _ in range(3):  # alternate, best of 3 each
        a.append(ips(load(".bench/cuda/models/resnet20.py").build(), batch, amp, steps)); b.append(ips(ref.CifarResNet(), batch, amp, steps))
    tp.append({"batch": batch, "bf16": amp, "exported": round(max(a)), "reference": round(max(b)), "ratio": round(max(a) / max(b), 3)})
R["throughput"] = tp
# Memory breakdown: where CUDA's peak differs from the planner.
mem = []
for name, batch in [("resnet50", 32), ("resnet56", 128)]:
    info = json.load(open(f".bench/cuda/models/{name}.json"))
    for cudnn in (True, False):
        torch.backends.cudnn.enabled = cudnn; torch.backends.cudnn.benchmark = False
        net = load(f".bench/cuda/models/{name}.py").build().to(dev).train()
        x = torch.randn(batch, *info["input"], device=dev); t = torch.randint(0, info["output"][0], (batch,), device=dev)
        seen, saved = set(), [0]
        def pack(tensor):
            if tensor.device.type == "cuda":
                key = (tensor.untyped_storage().data_ptr() if hasattr(tensor, "untyped_storage") else tensor.storage().data_ptr())
                if key not in seen:
                    seen.add(key); saved[0] += tensor.untyped_storage().nbytes()
            return tensor
        torch.cuda.synchronize(); base = torch.cuda.memory_allocated(); torch.cuda.reset_peak_memory_stats()
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = torch.nn.functional.cross_entropy(net(x), t)
        afterFwd = torch.cuda.memory_allocated() - base
        loss.backward(); torch.cuda.synchronize()
        mem.append({"name": name, "batch": batch, "cudnn": cudnn, "savedByHooks": saved[0], "plannerSaved": info["memory"]["savedActivationBytes"],
                    "liveAfterForward": afterFwd, "fwdBwdPeakAboveParams": torch.cuda.max_memory_allocated() - base,
                    "plannerPeakMinusParamsOpt": info["memory"]["trainPeakBytes"] - info["memory"]["parameterBytes"] - info["memory"]["bufferBytes"] - info["memory"]["optimizerBytes"]})
        del net, x, loss; torch.cuda.empty_cache()
R["memory"] = mem
print("RESULT2 " + json.dumps(R))

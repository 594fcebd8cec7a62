// Show Gradient Flow on the torch backend (issue 18): gradflowLatency.bench.ts with BENCH_BACKEND=torch, so that
// `npm run bench` measures both backends. Bars: ≤ 300 ms warm, ≤ 3 s cold (Python start and torch import included).
// The Python is RESNET_STUDIO_PYTHON (default /usr/bin/python3 here).
process.env.BENCH_BACKEND = "torch";
process.env.RESNET_STUDIO_PYTHON ??= process.env.BENCH_PYTHON ?? "/usr/bin/python3";
void import("./gradflowLatency.bench");

/**
 * Broken and hostile "Pythons" for the torch worker (issues 18 and 21): each is an executable script that the worker
 * starts as `<script> -u resnet_studio_torch.py --serve`, and a scenario says what to ask of it and what one-line
 * answer to expect. Shared by model-core/test/torchChild.test.ts and the torch-child fuzzer (fuzz/torchChildFuzz.ts).
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TorchWorker, type TorchWorkerLimits } from "../src/runtime/torchWorker";
import { TORCH_PROTOCOL_VERSION, type CalibrateJob } from "../src/runtime/torchProtocol";

/** A hello line as the real runner prints it, with `torch` and `cuda` as given. */
export function helloLine(torch = "2.1.0", cuda = false): string {
  return JSON.stringify({
    type: "hello",
    protocol: TORCH_PROTOCOL_VERSION,
    torch,
    cuda,
    python: "3.11.2",
    executable: "/fake/python3",
    threads: 1,
    pid: 1,
  });
}

/**
 * A fake Python written in Python (no torch): prints `hello` (unless null), then for each request runs `onRequest`,
 * Python code with `rid` (the request id), `out(obj)` (one protocol line) and `cancelled()` in scope.
 */
export function pythonScript(hello: string | null, onRequest: string): string {
  return `#!/usr/bin/env python3
import json, os, sys, threading, time
PIDFILE = os.environ.get("FAKE_PID_FILE")
if PIDFILE:
    open(PIDFILE, "w").write(str(os.getpid()))
lock = threading.Lock()
cancels = set()
def out(obj):
    with lock:
        sys.stdout.write(json.dumps(obj) + "\\n")
        sys.stdout.flush()
def cancelled():
    return rid_now[0] in cancels
rid_now = [None]
requests = []
cv = threading.Condition()
def reader():
    for line in sys.stdin:
        m = json.loads(line)
        if m["type"] == "cancel":
            cancels.add(m["id"])
        else:
            with cv:
                requests.append(m)
                cv.notify()
    os._exit(0)
threading.Thread(target=reader, daemon=True).start()
${hello === null ? "" : `sys.stdout.write(${JSON.stringify(hello + "\n")}); sys.stdout.flush()`}
while True:
    with cv:
        while not requests:
            cv.wait()
        m = requests.pop(0)
    rid = m["id"]
    rid_now[0] = rid
${onRequest
  .split("\n")
  .map((l) => "    " + l)
  .join("\n")}
`;
}

const CALIBRATION_DONE = `out({"type": "response", "id": rid, "ok": True, "kind": "calibrate", "body": {"type": "calibration", "device": "cpu", "torch": "2.1.0", "seconds": [0.1]}})`;

/** A well-behaved worker: answers each calibrate request; a cancel makes it answer with an error, as the runner does. */
export const WELL_BEHAVED = pythonScript(
  helloLine(),
  `out({"type": "push", "id": rid, "message": {"type": "ready", "protocol": ${TORCH_PROTOCOL_VERSION}, "torch": "2.1.0", "device": "cpu"}})
for _ in range(200):
    if cancelled():
        break
    time.sleep(0.01)
if cancelled():
    out({"type": "response", "id": rid, "ok": False, "kind": "calibrate", "error": "calibration cancelled"})
else:
    ${CALIBRATION_DONE}`,
);

export interface Scenario {
  name: string;
  /** The executable's text. */
  script: string;
  /** What to do: start it only, run one job, or run one and cancel it at once. */
  action: "start" | "job" | "cancel";
  /** The one line the failure must match (it must also name the script). */
  expect: RegExp;
  limits?: Partial<TorchWorkerLimits>;
}

const sh = (body: string) => `#!/bin/sh\n${body}\n`;

export const SCENARIOS: Scenario[] = [
  {
    name: "crashes at import",
    script: sh(
      'echo "Traceback (most recent call last):" >&2\necho "  File \\"x.py\\", line 1" >&2\necho "ImportError: libtorch_cpu.so: cannot open shared object file" >&2\nexit 1',
    ),
    action: "start",
    expect: /the torch worker stopped \(exit code 1\): .*ImportError: libtorch_cpu\.so/,
  },
  {
    name: "has no torch",
    script: sh("echo \"ModuleNotFoundError: No module named 'torch'\" >&2\nexit 1"),
    action: "start",
    expect: /has no PyTorch \(import torch failed\)/,
  },
  {
    name: "prints garbage",
    script: sh('echo "Welcome to Python!"\nsleep 30'),
    action: "start",
    expect: /broke the protocol: not a JSON line: "Welcome to Python!"/,
  },
  {
    name: "prints partial JSON and exits",
    script: sh('printf \'{"type":"hello","proto\'\nexit 0'),
    action: "start",
    expect: /the torch worker stopped \(exit code 0\)/,
  },
  {
    name: "prints a 10 MB line",
    script: sh("head -c 10485760 /dev/zero | tr '\\0' 'x'\necho\nsleep 30"),
    action: "start",
    expect: /broke the protocol: not a JSON line: "xxxx/,
  },
  {
    name: "prints a line over the cap with no newline",
    script: sh("head -c 8388608 /dev/zero | tr '\\0' 'x'\nsleep 30"),
    action: "start",
    expect: /printed a line of more than [\d.]+ MiB \(the limit is 2\.00 MiB\)/,
    limits: { maxLineBytes: 2 * 2 ** 20 },
  },
  {
    name: "never answers",
    script: sh("sleep 60"),
    action: "start",
    expect: /did not start the torch worker within 1 s \(no "hello" line/,
    limits: { startMs: 1000 },
  },
  {
    name: "prints hello, then sleeps on a job",
    script: sh(`echo '${helloLine()}'\nsleep 60`),
    action: "job",
    expect: /sent nothing for 1 s during a job \(hung\?\); it was killed/,
    limits: { idleMs: 1000 },
  },
  {
    name: "has a torch that is too old",
    script: sh(`echo '${helloLine("1.4.0")}'\nsleep 60`),
    action: "start",
    expect: /torch 1\.4\.0 is too old: the torch backend needs torch ≥ 1\.13/,
  },
  {
    name: "exits while a background child keeps stdout open",
    script: sh('(sleep 60) &\necho "RuntimeError: out of memory" >&2\nexit 1'),
    action: "start",
    expect: /the torch worker stopped \(exit code 1\): RuntimeError: out of memory/,
  },
  {
    name: "ignores cancel",
    script: pythonScript(
      helloLine(),
      `while True:
    time.sleep(0.05)
    out({"type": "push", "id": rid, "message": {"type": "ready", "protocol": ${TORCH_PROTOCOL_VERSION}, "torch": "2.1.0", "device": "cpu"}})`,
    ),
    action: "cancel",
    expect: /did not stop within 1 s of the cancel; it was killed/,
    limits: { cancelGraceMs: 1000 },
  },
  {
    name: "answers a request that was never sent",
    script: pythonScript(
      helloLine(),
      `out({"type": "response", "id": rid + 7, "ok": True, "kind": "calibrate", "body": {"type": "calibration", "device": "cpu", "torch": "2", "seconds": [1]}})
time.sleep(60)`,
    ),
    action: "job",
    expect: /answered request \d+, which is not in flight/,
  },
  {
    name: "answers with a body of the wrong kind",
    script: pythonScript(
      helloLine(),
      `out({"type": "response", "id": rid, "ok": True, "kind": "calibrate", "body": {"type": "lrRange", "model": "x"}})
time.sleep(60)`,
    ),
    action: "job",
    expect: /its body must be a "calibration" message, got "lrRange"/,
  },
];

/** A calibrate job that names no files: the fakes never read them. */
export const FAKE_JOB: CalibrateJob = {
  kind: "calibrate",
  device: "cpu",
  batch: 2,
  warmupSteps: 0,
  timedSteps: 1,
  probes: [],
};

export interface Outcome {
  /** The error's message, or null when the request succeeded. */
  message: string | null;
  millis: number;
  /** The process group still has members after the failure. */
  orphans: boolean;
  /** The worker's temp folder survived. */
  tempLeft: boolean;
  starts: number;
}

/** Writes the scenario's script, runs its action on a fresh worker, and checks what it left behind. */
export async function runScenario(scenario: Scenario, root: string): Promise<Outcome> {
  const dir = mkdtempSync(join(root, "fake-"));
  const script = join(dir, "python");
  writeFileSync(script, scenario.script);
  chmodSync(script, 0o755);
  const pidFile = join(dir, "pid");
  process.env.FAKE_PID_FILE = pidFile;
  const worker = new TorchWorker({ command: script, origin: "fake" }, join(dir, "runner.py"), {
    startMs: 20_000,
    idleMs: 20_000,
    cancelGraceMs: 10_000,
    stopWhenIdleMs: 60_000,
    maxLineBytes: 64 * 2 ** 20,
    ...scenario.limits,
  });
  const started = performance.now();
  let message: string | null = null;
  let pid: number | null = null;
  let temp: string | null = null;
  try {
    if (scenario.action === "start") {
      const starting = worker.start();
      pid = worker.pid;
      await starting;
    } else {
      await worker.start();
      pid = worker.pid;
      temp = worker.jobFolder();
      const abort = new AbortController();
      const running = worker.run(FAKE_JOB, { signal: abort.signal });
      if (scenario.action === "cancel") setTimeout(() => abort.abort(), 100);
      await running;
    }
  } catch (err) {
    message = err instanceof Error ? err.message : String(err);
  }
  const millis = performance.now() - started;
  if (pid === null && existsSync(pidFile)) pid = Number(readFileSync(pidFile, "utf8"));
  if (message === null) worker.stop("scenario done");
  // Give SIGKILL a moment to land before looking.
  await new Promise((resolve) => setTimeout(resolve, 100));
  return {
    message,
    millis,
    orphans: pid !== null && groupAlive(pid),
    tempLeft: temp !== null && existsSync(temp),
    starts: worker.starts,
  };
}

/** Whether any process of the group led by `pid` is still alive (zombies of a reaped leader don't count). */
export function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
  } catch {
    return false;
  }
  // A member may be a zombie waiting for its parent: check the states of the group's members.
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pid && fields[0] !== "Z") return true;
    } catch {
      /* gone meanwhile */
    }
  }
  return false;
}

export function scratchRoot(): string {
  return mkdtempSync(join(tmpdir(), "rs-fake-python-"));
}

// The torch worker against broken and hostile Pythons (issues 18 and 21): one clear line naming the interpreter for
// each, within the case's timeout, with no process of its group left and no temp folder left; and the warm worker's
// success path: requests answered in order, a cancel that keeps it alive, a restart after a crash.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LineSplitter, TorchWorker, torchVersionAtLeast } from "../src/runtime/torchWorker";
import { calibrateOnTorch, otherPythonHint, torchThreads } from "../src/runtime/torchBackend";
import {
  FAKE_JOB,
  groupAlive,
  helloLine,
  runScenario,
  SCENARIOS,
  scratchRoot,
  WELL_BEHAVED,
  pythonScript,
} from "./fakePythons";

const root = scratchRoot();
test.after(() => rmSync(root, { recursive: true, force: true }));

function writeFake(text: string): string {
  const dir = mkdtempSync(join(root, "py-"));
  const file = join(dir, "python");
  writeFileSync(file, text);
  chmodSync(file, 0o755);
  return file;
}

for (const scenario of SCENARIOS) {
  test(`a Python that ${scenario.name}: one clear line, no orphan, no temp folder`, async () => {
    const outcome = await runScenario(scenario, root);
    assert.ok(outcome.message !== null, "the request must fail");
    assert.match(outcome.message, scenario.expect);
    assert.match(outcome.message, /`[^`]*\/python` \(fake\)/, "the message names the interpreter");
    assert.equal(outcome.message.includes("\n"), false, "one line");
    assert.doesNotMatch(outcome.message, /\n\s+at /, "no stack trace");
    assert.equal(outcome.orphans, false, "the worker's process group is gone");
    assert.equal(outcome.tempLeft, false, "the job's temp folder is removed");
  });
}

test("the warm worker answers requests in order on one process; a cancel keeps it; a crash restarts it", async () => {
  const worker = new TorchWorker({ command: writeFake(WELL_BEHAVED), origin: "fake" }, "runner.py");
  try {
    const hello = await worker.start();
    assert.equal(hello.torch, "2.1.0");
    const pid = worker.pid;
    const pushes: string[] = [];
    const results = await Promise.all([
      worker.run(FAKE_JOB, { onPush: (m) => pushes.push(m.type) }),
      worker.run(FAKE_JOB, { onPush: (m) => pushes.push(m.type) }),
    ]);
    assert.deepEqual(
      results.map((r) => r.seconds),
      [[0.1], [0.1]],
    );
    assert.deepEqual(pushes, ["ready", "ready"]);
    const abort = new AbortController();
    const cancelled = worker.run(FAKE_JOB, { signal: abort.signal });
    setTimeout(() => abort.abort(), 50);
    await assert.rejects(cancelled, /calibration cancelled/);
    assert.equal(worker.pid, pid, "a cancel keeps the worker");
    assert.equal((await worker.run(FAKE_JOB)).type, "calibration");
    assert.equal(worker.starts, 1);
    // A crash (here: killed from outside) fails nothing idle and the next job starts a fresh process.
    process.kill(pid!, "SIGKILL");
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(worker.pid, null);
    assert.equal((await worker.run(FAKE_JOB)).type, "calibration");
    assert.equal(worker.starts, 2);
    assert.notEqual(worker.pid, pid);
  } finally {
    const pid = worker.pid;
    worker.stop();
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (pid !== null) assert.equal(groupAlive(pid), false);
  }
});

test("a crash during a job fails that job with the reason, and the worker restarts for the next", async () => {
  const crashing = writeFake(
    pythonScript(
      helloLine(),
      `if os.path.exists(os.environ["CRASH_MARK"]):
    ${"out"}({"type": "response", "id": rid, "ok": True, "kind": "calibrate", "body": {"type": "calibration", "device": "cpu", "torch": "2.1.0", "seconds": [0.2]}})
else:
    open(os.environ["CRASH_MARK"], "w").write("1")
    sys.stderr.write("Segmentation fault in libtorch\\n")
    sys.stderr.flush()
    os._exit(139)`,
    ),
  );
  process.env.CRASH_MARK = join(root, "crash-mark");
  const worker = new TorchWorker({ command: crashing, origin: "fake" }, "runner.py");
  try {
    await assert.rejects(
      worker.run(FAKE_JOB),
      /the torch worker stopped \(exit code 139\): Segmentation fault in libtorch/,
    );
    assert.deepEqual((await worker.run(FAKE_JOB)).seconds, [0.2]);
    assert.equal(worker.starts, 2);
  } finally {
    worker.stop();
  }
});

test("--device cuda where torch sees none is refused in one line before any job", async () => {
  const fake = writeFake(WELL_BEHAVED);
  await assert.rejects(
    calibrateOnTorch({ python: { command: fake, origin: "fake" }, device: "cuda", batchSize: 2 }),
    (e: Error) =>
      /--device cuda: torch 2\.1\.0 at \/fake\/python3 sees no CUDA device/.test(e.message) &&
      !e.message.includes("\n"),
  );
});

test("lines are split at newlines across chunks, and a line over the cap is refused without being held", () => {
  const lines: string[] = [];
  const tooLong: number[] = [];
  const split = new LineSplitter(
    10,
    (l) => lines.push(l),
    (n) => tooLong.push(n),
  );
  split.push(Buffer.from("ab"));
  split.push(Buffer.from("c\nde\n\nf"));
  split.push(Buffer.from("g\n"));
  assert.deepEqual(lines, ["abc", "de", "", "fg"]);
  split.push(Buffer.from("0123456789A"));
  assert.deepEqual(tooLong, [11]);
  split.push(Buffer.from("0123456\n"));
  split.push(Buffer.from("78\n"));
  assert.deepEqual(lines.slice(4), ["0123456", "78"]);
  split.push(Buffer.from("01234"));
  split.push(Buffer.from("56789xyz\n"));
  assert.deepEqual(tooLong, [11, 13]);
});

test("torch versions below 1.13 are too old; threads default to the cores unless set", () => {
  assert.equal(torchVersionAtLeast("1.13.0a0+gitabc"), true);
  assert.equal(torchVersionAtLeast("2.0.1+cu118"), true);
  assert.equal(torchVersionAtLeast("1.12.1"), false);
  assert.equal(torchVersionAtLeast("0.4.1"), false);
  assert.equal(torchVersionAtLeast("nightly"), false);
  assert.equal(torchThreads(3), 3);
  const saved = process.env.RESNET_STUDIO_TORCH_THREADS;
  try {
    process.env.RESNET_STUDIO_TORCH_THREADS = "5";
    assert.equal(torchThreads(), 5);
    delete process.env.RESNET_STUDIO_TORCH_THREADS;
    assert.ok(torchThreads() >= 1);
  } finally {
    if (saved === undefined) delete process.env.RESNET_STUDIO_TORCH_THREADS;
    else process.env.RESNET_STUDIO_TORCH_THREADS = saved;
  }
});

test("when the chosen Python lacks torch and a known one has it, the message names that one", async () => {
  const withTorch = writeFake(sh("echo 9.9.0"));
  const saved = process.env.RESNET_STUDIO_PYTHON;
  try {
    process.env.RESNET_STUDIO_PYTHON = withTorch;
    const hint = await otherPythonHint({ command: "/no/such/python", origin: "--python" });
    assert.match(hint, new RegExp(`Note: ${withTorch} has torch 9\\.9\\.0; use it with --python`));
    assert.equal(existsSync(withTorch), true);
  } finally {
    if (saved === undefined) delete process.env.RESNET_STUDIO_PYTHON;
    else process.env.RESNET_STUDIO_PYTHON = saved;
  }
});

function sh(body: string): string {
  return `#!/bin/sh\n${body}\n`;
}

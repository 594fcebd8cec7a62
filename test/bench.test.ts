// `npm run bench` fails when a bar is missed or the PyTorch reference can't run (re-printing saved results is enough
// to test the verdict, so nothing is measured here).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(__dirname, "..");
const bench = join(root, "scripts/bench.mjs");

function verdict(results: object[], runs: object[] = []): number | null {
  const file = join(mkdtempSync(join(tmpdir(), "bench-")), "results.json");
  writeFileSync(
    file,
    JSON.stringify({
      meta: { machine: { cpus: 2, cpuModel: "x", memoryGiB: 1, node: "v20", loadAverage: "0" }, runs },
      results,
    }),
  );
  return spawnSync(process.execPath, [bench, "--from", file], { cwd: root, encoding: "utf8" }).status;
}

test("bench exits 0 when every bar is met and 1 when one is missed or a run failed", () => {
  const line = {
    bench: "webview",
    metric: "resnet1202AllLongestMainThreadTask",
    unit: "ms",
    backend: "chromium",
    bar: 200,
  };
  assert.equal(verdict([{ ...line, value: 150, pass: true }]), 0);
  assert.equal(verdict([{ ...line, value: 204, pass: false }]), 1);
  assert.equal(
    verdict(
      [{ ...line, value: 150, pass: true }],
      [{ file: "pytorch_reference.py", ok: false, error: "torch not importable" }],
    ),
    1,
  );
});

test("bench fails when the PyTorch reference can't run", () => {
  const r = spawnSync(process.execPath, [bench, "--pytorch-only"], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, BENCH_PYTHON: "/nonexistent/python3" },
  });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /PyTorch reference can't run/);
});

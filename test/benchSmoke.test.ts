// Every benchmark of `npm run bench`, once, in smoke mode (BENCH_SMOKE=1, bench/smoke.ts): one short round, no bar.
// Each must exit 0 and print JSON result lines with the fields scripts/bench.mjs reads, so a benchmark that breaks
// (as `bench --backend torch` did, three runs out of three, while the suite stayed green) fails `npm test`.
// Needs the build (dist/): npm test builds first. Benchmarks needing Chromium or torch skip without them, and fail
// under CI=true.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { skipWithoutTool } from "./toolSkip";
import { CHROMIUM_PATH } from "./browser/harness";

const root = join(__dirname, "..");
const python = process.env.RESNET_STUDIO_PYTHON ?? "/usr/bin/python3";
const haveTorch =
  spawnSync(python, ["-c", "import torch"], { encoding: "utf8", timeout: 60_000 }).status === 0
    ? false
    : `${python} cannot import torch`;
const haveChromium = existsSync(CHROMIUM_PATH) ? false : `Chromium not found at ${CHROMIUM_PATH}`;
/** What each benchmark needs beyond node. */
const NEEDS: Record<string, string | false> = {
  "torchBackend.bench.ts": haveTorch,
  "torchWarm.bench.ts": haveTorch,
  "gradflowLatencyTorch.bench.ts": haveTorch,
  "webview.bench.ts": haveChromium,
};

// Its smoke run is test/fashionBench.test.ts, on a tiny generated IDX folder: on the real 70,000 images one round
// is three 5-epoch trainings (about 45 minutes here).
const SMOKED_ELSEWHERE = new Set(["fashionMnist.bench.ts"]);

const files = readdirSync(join(root, "bench"))
  .filter((f) => f.endsWith(".bench.ts") && !SMOKED_ELSEWHERE.has(f))
  .sort();

test("every benchmark file is covered by the smoke run", () => {
  assert.ok(files.length >= 10, files.join(", "));
  for (const torchBench of ["torchBackend.bench.ts", "torchWarm.bench.ts", "gradflowLatencyTorch.bench.ts"])
    assert.ok(files.includes(torchBench), torchBench);
});

for (const file of files) {
  test(
    `${file} runs in smoke mode and prints its JSON result lines`,
    { skip: skipWithoutTool(NEEDS[file] ?? false) },
    () => {
      const r = spawnSync(process.execPath, ["--import", "tsx", join("bench", file)], {
        cwd: root,
        encoding: "utf8",
        timeout: 600_000,
        maxBuffer: 64 * 2 ** 20,
        env: { ...process.env, BENCH_SMOKE: "1", RESNET_STUDIO_PYTHON: python },
      });
      assert.equal(r.status, 0, `exit ${r.status}\n${r.stderr.slice(-2000)}`);
      const lines = r.stdout
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.ok(lines.length > 0, `no JSON lines:\n${r.stdout.slice(-2000)}`);
      for (const line of lines) {
        assert.equal(typeof line.bench, "string", JSON.stringify(line));
        assert.equal(typeof line.metric, "string", JSON.stringify(line));
        assert.ok(typeof line.value === "number" && Number.isFinite(line.value), JSON.stringify(line));
        assert.equal(typeof line.unit, "string", JSON.stringify(line));
      }
    },
  );
}

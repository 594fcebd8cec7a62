// bench/fashionMnist.bench.ts and bench/fashion_mnist_reference.py on a tiny generated IDX folder: every line is
// printed, and the exit status is the 1-point accuracy bar's verdict (the real run is in BENCHMARKS.md).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { skipWithoutTool } from "./toolSkip";
import { buildCliIfStale } from "./cli/harness";
import { writeIdxFolder } from "../model-core/test/datasetFixtures";

const root = join(__dirname, "..");
const python = process.env.RESNET_STUDIO_PYTHON ?? "/usr/bin/python3";
const hasTorch = spawnSync(python, ["-c", "import torch"]).status === 0;

test(
  "fashionMnist bench: wasm, torch and the plain PyTorch loop each report accuracy and time; the gap decides the exit",
  { skip: skipWithoutTool(hasTorch ? false : `${python} cannot import torch`) },
  () => {
    buildCliIfStale();
    const work = mkdtempSync(join(tmpdir(), "rs-fashion-bench-test-"));
    try {
      const labels = Array.from({ length: 64 }, (_, i) => i % 10);
      const { dir } = writeIdxFolder(work, "tiny-fashion", {
        gzip: true,
        side: 28,
        train: labels,
        t10k: labels.slice(0, 20),
      });
      const run = spawnSync(process.execPath, ["--import", "tsx", "bench/fashionMnist.bench.ts"], {
        cwd: root,
        encoding: "utf8",
        env: { ...process.env, BENCH_FASHION_DIR: dir, BENCH_FASHION_EPOCHS: "1" },
      });
      const lines = run.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { metric: string; backend: string; value: number; pass?: boolean });
      const find = (metric: string, backend: string) => lines.find((l) => l.metric === metric && l.backend === backend);
      for (const backend of ["wasm", "torch", "pytorch-loop"]) {
        const accuracy = find("valAccuracy", backend);
        assert.ok(accuracy && accuracy.value >= 0 && accuracy.value <= 100, `${backend}: ${run.stderr}`);
        assert.ok((find("totalSeconds", backend)?.value ?? 0) > 0, backend);
      }
      const gaps = ["wasm", "torch"].map((b) => find("accuracyGapToPytorchLoop", b));
      const reference = find("valAccuracy", "pytorch-loop")!.value;
      gaps.forEach((gap, i) => {
        const backend = ["wasm", "torch"][i];
        assert.ok(gap);
        assert.ok(Math.abs(gap.value - Math.abs(find("valAccuracy", backend)!.value - reference)) < 1e-2);
        assert.equal(gap.pass, gap.value <= 1);
      });
      assert.equal(run.status, gaps.every((g) => g?.pass) ? 0 : 1);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  },
);

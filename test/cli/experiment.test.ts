import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import type { ExperimentState } from "../../model-core/src/experiment/plainVsResidual";
import type { RunRecord } from "../../model-core/src/experiment/run";
import { readCheckpoint } from "../../model-core/src/runtime/checkpoint";
import { listRunsPage, type Liveness } from "../../model-core/src/runs/listing";
import { runCliFromSource } from "./harness";

const tiny = [
  "experiment",
  "plain-vs-residual",
  "--depths",
  "8,14",
  "--dataset",
  "synthetic:count=120:classes=3",
  "--input",
  "1,8,8",
  "--epochs",
  "2",
  "--batch",
  "16",
  "--width",
  "4",
  "--backend",
  "wasm",
  "--workers",
  "1",
];

test("experiment plain-vs-residual on a tiny budget: estimate, a run folder per net, the chart, the table and the verdict", () => {
  // Laid out as the default folder is: <runs root>/plain-vs-residual/<UTC time>/<net>/.
  const root = mkdtempSync(join(tmpdir(), "rs-cli-experiment-"));
  const out = join(root, "plain-vs-residual", "2026-12-08T00-00-00-000Z");
  try {
    const run = runCliFromSource([...tiny, "--json", "--out", out]);
    assert.equal(run.status, 0, run.stderr);
    const lines = run.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string } & Record<string, unknown>);
    const estimate = lines[0];
    assert.equal(estimate.type, "estimate");
    assert.deepEqual(estimate.depths, [8, 14]);
    assert.equal((estimate.nets as unknown[]).length, 4);
    assert.ok((estimate.seconds as number) > 0);
    assert.equal(lines.filter((l) => l.type === "epoch").length, 8, "two epochs of four nets");
    const last = lines[lines.length - 1] as unknown as ExperimentState & { type: string; files: { chart: string } };
    assert.equal(last.type, "experiment");
    assert.deepEqual(
      last.series.map((s) => [s.key, s.status, s.points.length]),
      [
        ["plain-8", "completed", 2],
        ["resnet-8", "completed", 2],
        ["plain-14", "completed", 2],
        ["resnet-14", "completed", 2],
      ],
    );
    assert.ok(last.verdict, "a verdict");
    assert.match(last.verdict.lines[0], /^(Reproduced|Not reproduced) on this data and budget/);
    // Same validation images for every net: the table compares like with like.
    assert.equal(new Set(last.series.map((s) => s.valSamples)).size, 1);

    assert.deepEqual(readdirSync(out).sort(), [
      "chart.html",
      "chart.svg",
      "experiment.json",
      "plain-14",
      "plain-8",
      "resnet-14",
      "resnet-8",
    ]);
    const svg = readFileSync(join(out, "chart.svg"), "utf8");
    assert.equal((svg.match(/<path class="train"[^>]*stroke-dasharray/g) ?? []).length, 4);
    assert.equal((svg.match(/<path class="val"/g) ?? []).length, 4);
    const page = readFileSync(join(out, "chart.html"), "utf8");
    assert.match(page, /<svg /);
    assert.match(page, /<td>ResNet-14<\/td>/);
    const record = JSON.parse(readFileSync(join(out, "experiment.json"), "utf8")) as ExperimentState;
    assert.deepEqual(record.verdict, last.verdict);

    for (const key of ["plain-8", "resnet-8", "plain-14", "resnet-14"]) {
      const dir = join(out, key);
      assert.deepEqual(readdirSync(dir).sort(), ["checkpoint.safetensors", "run.json", "spec.resnet.ts"]);
      const run = JSON.parse(readFileSync(join(dir, "run.json"), "utf8")) as RunRecord;
      assert.equal(run.format, "resnet-studio-run");
      assert.equal(run.status, "completed");
      assert.equal(run.history.length, 2);
      assert.equal(run.config.seed, 1);
      assert.equal(run.dataset.sha256.length, 64);
      assert.match(run.specText, new RegExp(`residual: false|stages`));
      assert.equal(run.specText.includes("residual: false"), key.startsWith("plain"));
      assert.equal(readCheckpoint(dir).header.epoch, 2);
    }
    // Every net trained with the same recipe and saw the same data.
    const configs = ["plain-8", "resnet-14"].map(
      (k) => (JSON.parse(readFileSync(join(out, k, "run.json"), "utf8")) as RunRecord).config,
    );
    assert.deepEqual(configs[0], configs[1]);
    // The Runs view and `runs list` show each net as a run of the experiment's group.
    const live: Liveness = { now: new Date(), hostname: hostname(), isAlive: () => false };
    const listed = listRunsPage(root, "plain-vs-residual", live);
    assert.deepEqual(
      listed.entries.map((e) => [e.name, e.kind, e.kind === "run" ? e.state : e.error]),
      ["plain-14", "plain-8", "resnet-14", "resnet-8"].map((k) => [
        `2026-12-08T00-00-00-000Z/${k}`,
        "run",
        "completed",
      ]),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("experiment plain-vs-residual prints the estimate, the table and the verdict for people", () => {
  const out = mkdtempSync(join(tmpdir(), "rs-cli-experiment-"));
  try {
    const run = runCliFromSource([...tiny, "--epochs", "1", "--depths", "8,14", "--out", out]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /plain vs residual on synthetic, depths 8, 14, 1 epoch each, on wasm/);
    assert.match(run.stderr, /estimate: about .* in all/);
    assert.match(run.stderr, /plain-14 epoch 1\/1: training error \d+\.\d\d%, validation error/);
    assert.match(run.stdout, /^net\s+params\s+epochs\s+train error\s+val error\s+status\s+time$/m);
    assert.match(run.stdout, /^ResNet-14\s+[\d,]+\s+1\s+\d+\.\d\d%/m);
    assert.match(run.stdout, /on this data and budget/);
    assert.ok(existsSync(join(out, "chart.svg")));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("experiment plain-vs-residual: bad flags get one clear line, no stack", () => {
  const cases: [string[], RegExp][] = [
    [["--depths", "20,21"], /--depths: "21" is not a CIFAR-style depth 6n\+2/],
    [["--depths", "20"], /--depths needs at least two depths/],
    [["--budget", "soon"], /--budget must be a number of minutes > 0, got "soon"/],
    [["--budget", "3", "--quick"], /--budget and --quick both set a budget/],
    [["--backend", "cpu", "--quick"], /--budget and --quick need a measured speed.*--backend wasm/],
    [["--width", "2"], /--width must be at least 4/],
    [["--dataset", "imagenet"], /unknown dataset "imagenet"/],
  ];
  for (const [flags, expected] of cases) {
    const run = runCliFromSource(["experiment", "plain-vs-residual", "--out", join(tmpdir(), "never"), ...flags]);
    assert.equal(run.status, 1, flags.join(" "));
    assert.match(run.stderr, expected);
    assert.doesNotMatch(run.stderr, /\n\s+at /, "no stack trace");
  }
});

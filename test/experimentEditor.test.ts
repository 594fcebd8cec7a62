/**
 * "Run Experiment: Plain vs Residual" in the editor: the variants offered with their estimates, the page's message
 * checks, and the worker's experiment job (from source, cpu backend) pushing its state after every epoch, writing its
 * run folders and answering with the verdict; cancel stops it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DEPTH_CHOICES,
  experimentChoices,
  experimentProgressText,
  expectedValSamples,
} from "../extension/src/pure/experimentChoices";
import { TrainWorkerHost } from "../extension/src/trainWorkerHost";
import type { TrainJob, TrainWorkerPush } from "../extension/src/pure/workerProtocol";
import type { Throughput } from "../model-core/src/analysis/estimate";
import type { ExperimentState } from "../model-core/src/experiment/plainVsResidual";
import { checkExperimentHostMessage, checkExperimentState } from "../model-core/src/experiment/viewProtocol";
import { spawnSourceWorker } from "./workerHarness";

const root = join(__dirname, "..");
const throughput: Throughput = {
  backend: "wasm",
  workers: 2,
  macsPerSecond: 3e9,
  stepOverheadSeconds: 0.003,
  secondsPerParam: 0,
};

test("the variants: as asked first, then each shorter budget it exceeds, with their changes and estimates", () => {
  assert.deepEqual(DEPTH_CHOICES[0].depths, [20, 56]);
  const fashion = {
    name: "fashion-mnist",
    input: [1, 28, 28] as [number, number, number],
    classes: 10,
    trainSamples: 60_000,
  };
  assert.equal(expectedValSamples(fashion), 10_000);
  assert.equal(expectedValSamples({ ...fashion, name: "mnist", trainSamples: 9000 }), 1000);
  const choices = experimentChoices({ depths: [20, 56], target: fashion, epochs: 3, batchSize: 64, throughput });
  assert.equal(choices.length, 3);
  assert.match(choices[0].label, /^As in the paper's setup: about \d/);
  assert.deepEqual(choices[0].plan.changes, []);
  assert.equal(choices[0].plan.samplesPerEpoch, 60_000);
  for (const [choice, budget] of [
    [choices[1], 20 * 60],
    [choices[2], 5 * 60],
  ] as const) {
    assert.ok(choice.plan.seconds <= budget, `${choice.plan.seconds} ≤ ${budget}`);
    assert.ok(choice.plan.changes.length > 0);
    assert.match(choice.label, /^Shorter: about/);
    assert.match(choice.detail, /plain-20 ~.* · ResNet-20 ~.* · plain-56 ~.* · ResNet-56 ~/);
  }
  // A run that already fits five minutes is offered as it is, alone.
  const tiny = { ...fashion, input: [1, 8, 8] as [number, number, number], trainSamples: 200 };
  assert.equal(experimentChoices({ depths: [8, 14], target: tiny, epochs: 1, batchSize: 16, throughput }).length, 1);
});

const STATE: ExperimentState = {
  dataset: "mnist",
  backend: "wasm",
  epochs: 2,
  depths: [8, 14],
  width: 4,
  series: [
    {
      key: "plain-8",
      label: "plain-8",
      depth: 8,
      residual: false,
      params: 100,
      status: "running",
      points: [{ epoch: 1, trainError: 0.5, valError: 0.4 }],
      trainSamples: 100,
      valSamples: 20,
      seconds: 1,
    },
  ],
  verdict: null,
  seconds: 3,
};

test("the page draws only checked states; the progress line names the net and the epoch", () => {
  assert.deepEqual(checkExperimentHostMessage({ type: "state", state: STATE }), { type: "state", state: STATE });
  assert.equal(checkExperimentHostMessage({ type: "other", state: STATE }), null);
  assert.equal(checkExperimentState({ ...STATE, series: [{ ...STATE.series[0], status: "exploded" }] }), null);
  assert.equal(checkExperimentState({ ...STATE, series: [{ ...STATE.series[0], points: [{ epoch: "1" }] }] }), null);
  assert.equal(checkExperimentState({ ...STATE, verdict: { reproduced: "yes", lines: [] } }), null);
  assert.equal(checkExperimentState(null), null);
  assert.match(experimentProgressText(STATE), /^plain-8, epoch 2\/2 · 0\/1 nets done · 3\.0 s$/);
});

test(
  "the worker's experiment job: state pushed per epoch, run folders written, verdict in the answer; cancel stops it",
  { timeout: 600_000 },
  async () => {
    const out = mkdtempSync(join(tmpdir(), "rs-experiment-job-"));
    try {
      const host = new TrainWorkerHost(spawnSourceWorker);
      const job: Extract<TrainJob, { kind: "experiment" }> = {
        kind: "experiment",
        depths: [8, 14],
        scale: { width: 4, samplesPerEpoch: 32, valSamples: 8 },
        backend: "cpu",
        config: { epochs: 1, batchSize: 16 },
        dataset: "synthetic:count=60:classes=3",
        dataDir: join(root, "dist", "data"),
        wasmDir: "",
        out,
      };
      const pushes: TrainWorkerPush[] = [];
      const { cancelled, state } = await host.run(job, (p) => pushes.push(p));
      assert.equal(cancelled, false);
      assert.deepEqual(
        state.series.map((s) => [s.key, s.status, s.points.length]),
        [
          ["plain-8", "completed", 1],
          ["resnet-8", "completed", 1],
          ["plain-14", "completed", 1],
          ["resnet-14", "completed", 1],
        ],
      );
      assert.ok(state.verdict);
      const states = pushes.flatMap((p) => (p.type === "experiment" ? [p.state] : []));
      assert.ok(states.length >= 4, "at least one push per epoch");
      assert.ok(
        states.every((s) => checkExperimentState(s) !== null),
        "every push passes the page's check",
      );
      assert.ok(existsSync(join(out, "resnet-14", "checkpoint.safetensors")));
      assert.equal(
        (JSON.parse(readFileSync(join(out, "plain-8", "run.json"), "utf8")) as { status: string }).status,
        "completed",
      );

      // Cancel after the first epoch: that net ends cancelled, the rest never start, the verdict says so.
      const cancelOut = join(out, "cancelled");
      const running = host.run({ ...job, config: { epochs: 3, batchSize: 16 }, out: cancelOut }, (p) => {
        if (p.type === "experiment" && p.state.series[0].points.length === 1) host.cancel();
      });
      const stopped = await running;
      assert.equal(stopped.cancelled, true);
      assert.equal(stopped.state.series[0].status, "cancelled");
      assert.ok(stopped.state.series.slice(1).every((s) => s.status === "cancelled"));
      assert.match(stopped.state.verdict!.lines.join("\n"), /Not every run completed/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  },
);

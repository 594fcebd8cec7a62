/**
 * The torch backend's calibration (issue 13): the runner's probe step times parse, fit and give an estimate, and a
 * real run on this machine's PyTorch (CPU) times all three probes in one child process. Needs a Python with torch
 * (RESNET_STUDIO_PYTHON, default /usr/bin/python3); without one the real run skips, and fails under CI=true.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { analyzeOrThrow } from "../src/analysis/analyze";
import { estimateTraining } from "../src/analysis/estimate";
import { presets } from "../src/spec/presets";
import { CALIBRATION_PROBES } from "../src/runtime/calibrate";
import {
  calibrateOnTorch,
  calibrationProbeGraphs,
  TorchRunError,
  TorchUnavailableError,
  torchCalibrationFrom,
} from "../src/runtime/torchBackend";
import { parseRunnerLine, TorchProtocolError } from "../src/runtime/torchProtocol";

import { needsTorch, python, torchVersion } from "./torchHelpers";

test("torch calibration: the runner's line parses, fits the probes' MACs and params, and estimates a bigger network as slower", () => {
  const probes = calibrationProbeGraphs();
  assert.equal(probes.length, CALIBRATION_PROBES.length);
  // Step times made from known constants: 20 ms overhead, 4 GMAC/s, 2 ns per parameter.
  const truth = { overhead: 0.02, macsPerSecond: 4e9, perParam: 2e-9 };
  const batch = 32;
  const seconds = probes.map(
    (g) => truth.overhead + (batch * 3 * g.totals.macs) / truth.macsPerSecond + g.totals.params * truth.perParam,
  );
  const message = parseRunnerLine(JSON.stringify({ type: "calibration", device: "cpu", torch: "1.13.1", seconds }));
  assert.equal(message.type, "calibration");
  if (message.type !== "calibration") return;
  const calibration = torchCalibrationFrom(probes, message, batch, 3.5);
  assert.equal(calibration.throughput.backend, "torch 1.13.1 (cpu)");
  assert.equal(calibration.throughput.workers, 1);
  assert.equal(calibration.seconds, 3.5);
  assert.deepEqual(
    calibration.samples.map((s) => s.params),
    probes.map((g) => g.totals.params),
  );
  // Three exact samples, three unknowns: the fit recovers the constants.
  assert.ok(
    Math.abs(calibration.throughput.macsPerSecond / truth.macsPerSecond - 1) < 1e-6,
    `${calibration.throughput.macsPerSecond}`,
  );
  assert.ok(Math.abs(calibration.throughput.stepOverheadSeconds - truth.overhead) < 1e-9);
  assert.ok(Math.abs(calibration.throughput.secondsPerParam - truth.perParam) < 1e-14);
  const small = estimateTraining(probes[0], {
    batchSize: batch,
    trainSamples: 9000,
    throughput: calibration.throughput,
  });
  const r18 = estimateTraining(analyzeOrThrow(presets.resnet18()), {
    batchSize: batch,
    trainSamples: 9000,
    throughput: calibration.throughput,
  });
  assert.equal(small.stepsPerEpoch, 281); // ⌊9000 / 32⌋
  assert.ok(Math.abs(small.secondsPerStep - seconds[0]) < 1e-9);
  assert.ok(r18.secondsPerEpoch > 100 * small.secondsPerEpoch);
});

test("torch calibration: a malformed or short answer is a protocol error naming the field, not a wrong estimate", () => {
  assert.throws(
    () =>
      parseRunnerLine(JSON.stringify({ type: "calibration", device: "cpu", torch: "2.1", seconds: [0.1, -1, 0.2] })),
    (e: unknown) =>
      e instanceof TorchProtocolError &&
      /field "seconds" must be a non-empty array of positive numbers/.test(e.message),
  );
  assert.throws(
    () => parseRunnerLine(JSON.stringify({ type: "calibration", device: "cpu", torch: "2.1", seconds: [] })),
    TorchProtocolError,
  );
  assert.throws(
    () => torchCalibrationFrom(calibrationProbeGraphs(), { device: "cpu", torch: "2.1", seconds: [0.1, 0.2] }, 32, 1),
    (e: unknown) => e instanceof TorchRunError && /timed 2 calibration probes, expected 3/.test(e.message),
  );
});

test("torch calibration: without Python the backend's one-line message, no stack", async () => {
  await assert.rejects(
    calibrateOnTorch({ python: { command: "/nonexistent/python3", origin: "test" }, device: "cpu", batchSize: 8 }),
    (e: unknown) =>
      e instanceof TorchUnavailableError &&
      /^Python not found: `\/nonexistent\/python3` \(test\) does not exist\./.test(e.message),
  );
});

test("torch calibration: a real run times the three probes in one child process on the CPU", async (t) => {
  if (!needsTorch(t)) return;
  const calibration = await calibrateOnTorch({ python, device: "cpu", batchSize: 8, timedSteps: 1 });
  assert.equal(calibration.device, "cpu");
  assert.equal(calibration.throughput.backend, `torch ${torchVersion} (cpu)`);
  assert.equal(calibration.samples.length, 3);
  assert.ok(calibration.samples.every((s) => s.seconds > 0 && s.batchSize === 8));
  assert.ok(calibration.throughput.macsPerSecond > 0 && Number.isFinite(calibration.throughput.macsPerSecond));
  const r18 = estimateTraining(analyzeOrThrow(presets.resnet18()), {
    batchSize: 8,
    trainSamples: 9000,
    throughput: calibration.throughput,
  });
  assert.ok(r18.secondsPerEpoch > 0 && Number.isFinite(r18.secondsPerEpoch));
});

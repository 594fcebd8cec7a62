/**
 * The runtime estimates a pass's memory before tfjs allocates: gradflow and train refuse with the estimate and a
 * batch that fits, or lower the default batch. No wasm abort ("Aborted()", "memory access out of bounds") reaches the user.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { analyzeOrThrow } from "../src/analysis/analyze";
import { presets, type PresetName } from "../src/spec/presets";
import {
  checkPassMemory,
  passBatch,
  PassMemoryError,
  tfjsPassEstimate,
  WASM_HEAP_LIMIT_BYTES,
} from "../src/runtime/memoryGuard";
import type { GradientFlowResult } from "../src/analysis/gradflow";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/runtime/backend";
import { buildModel } from "../src/runtime/model";
import { train, TrainConfigError } from "../src/runtime/train";
import { syntheticDataset } from "../src/data/synthetic";
import { microGraph, tinyConfig } from "./trainHelpers";
import { runCliFromSource } from "../../test/cli/harness";

const root = join(__dirname, "../..");
const hugeInput = join(root, "test/fixtures/memory/input-2048.resnet.ts");

const cli = (...args: string[]) => runCliFromSource(args, { timeoutMs: 600_000 });

function assertNoAbort(r: { stderr: string }): void {
  assert.doesNotMatch(r.stderr, /Aborted\(|out of bounds|RangeError|\n\s+at /, "no wasm abort, range error or stack");
}

const graph = (name: PresetName, input?: [number, number, number]) =>
  analyzeOrThrow(presets[name](input ? { input } : {}));

test("the estimate lies above every wasm heap high-water mark measured (BENCHMARKS.md)", () => {
  // HEAPU8.length after one pass on tfjs-backend-wasm 4.x, this machine: [net, input, batch, kind, bytes].
  const measured: [PresetName, [number, number, number], number, "gradflow" | "train", number][] = [
    ["resnet20", [3, 32, 32], 32, "gradflow", 374_865_920],
    ["resnet56", [3, 32, 32], 32, "gradflow", 945_553_408],
    ["resnet110", [3, 32, 32], 16, "gradflow", 943_652_864],
    ["plain56", [3, 32, 32], 32, "gradflow", 741_539_840],
    ["resnet20", [3, 32, 32], 128, "gradflow", 1_333_854_208],
    ["resnet20", [3, 32, 32], 256, "gradflow", 2_570_649_600],
    ["resnet18", [3, 64, 64], 8, "gradflow", 334_364_672],
    ["resnet18", [3, 224, 224], 2, "gradflow", 577_896_448],
    ["resnet50", [3, 64, 64], 4, "gradflow", 772_538_368],
    ["resnet50", [3, 112, 112], 4, "gradflow", 1_172_701_184],
    ["resnext50_32x4d", [3, 64, 64], 4, "gradflow", 864_681_984],
    ["resnet20", [3, 32, 32], 64, "train", 462_422_016],
    ["resnet56", [3, 32, 32], 32, "train", 642_973_696],
    ["resnet18", [3, 64, 64], 8, "train", 401_276_928],
    ["resnet1202", [3, 32, 32], 4, "gradflow", 2_656_698_368],
  ];
  for (const [name, input, batch, kind, bytes] of measured) {
    const estimate = tfjsPassEstimate(graph(name, input), kind)(batch);
    assert.ok(
      estimate >= bytes,
      `${name} ${input.join("×")} batch ${batch} ${kind}: estimate ${estimate} < measured ${bytes}`,
    );
    // And not wildly above it: the refusal must not turn away passes that run.
    assert.ok(
      estimate <= 2.5 * bytes,
      `${name} ${input.join("×")} batch ${batch} ${kind}: estimate ${estimate} is over 2.5× measured ${bytes}`,
    );
  }
});

test("the largest batch fits the wasm heap and the next does not", () => {
  const r1202 = graph("resnet1202");
  const check = checkPassMemory({ graph: r1202, batch: 32, kind: "gradflow" });
  assert.equal(check.fits, false);
  assert.equal(check.limitBytes, WASM_HEAP_LIMIT_BYTES);
  const b = check.largestBatch;
  assert.ok(b >= 1);
  const estimate = tfjsPassEstimate(r1202, "gradflow");
  assert.ok(estimate(b) <= WASM_HEAP_LIMIT_BYTES && estimate(b + 1) > WASM_HEAP_LIMIT_BYTES);
  // A default batch shrinks with a note; an explicit one is refused with the estimate and that batch.
  const lowered = passBatch({
    graph: r1202,
    kind: "gradflow",
    backend: "wasm",
    requested: null,
    preferred: 32,
    what: "a gradient-flow pass",
  });
  assert.equal(lowered.batch, b);
  assert.match(
    lowered.note!,
    new RegExp(`^note: batch ${b} instead of 32: .*GiB, more than the 4\\.00 GiB the wasm backend can hold$`),
  );
  assert.throws(
    () =>
      passBatch({
        graph: r1202,
        kind: "gradflow",
        backend: "wasm",
        requested: 32,
        preferred: 32,
        what: "a gradient-flow pass",
      }),
    (err: unknown) => err instanceof PassMemoryError && new RegExp(`use --batch ${b} or smaller$`).test(err.message),
  );
  // Something small passes untouched.
  assert.deepEqual(
    passBatch({
      graph: graph("resnet20"),
      kind: "gradflow",
      backend: "wasm",
      requested: null,
      preferred: 32,
      what: "x",
    }).note,
    null,
  );
});

test("gradflow resnet1202 --batch 32 and a 3×2048×2048 spec are refused with the estimate, exit 1, no abort", () => {
  const r = cli("gradflow", "resnet1202", "--batch", "32", "--backend", "wasm", "--json");
  assert.equal(r.status, 1);
  assert.equal(r.stdout, "");
  const b = checkPassMemory({ graph: graph("resnet1202"), batch: 32, kind: "gradflow" }).largestBatch;
  assert.match(
    r.stderr,
    new RegExp(
      `^resnet-studio: error: a gradient-flow pass of resnet1202 at batch 32 on 3×32×32 inputs needs about [\\d.]+ GiB, more than the 4\\.00 GiB the backend can hold; use --batch ${b} or smaller\\n$`,
    ),
  );
  assertNoAbort(r);
  for (const args of [
    ["gradflow", hugeInput],
    ["gradflow", hugeInput, "--batch", "1"],
    ["train", hugeInput, "--dataset", "synthetic", "--max-steps", "1"],
  ]) {
    const huge = cli(...args, "--backend", "wasm");
    assert.equal(huge.status, 1, args.join(" "));
    assert.match(
      huge.stderr,
      /^resnet-studio: error: a (gradient-flow pass|training step) of resnet18 at .* on 3×2048×2048 inputs needs about [\d.]+ GiB, .*even one sample needs about [\d.]+ GiB: use a smaller input \(--input\) or a smaller network\n$/,
    );
    assertNoAbort(huge);
  }
  const train = cli(
    "train",
    "resnet1202",
    "--dataset",
    "synthetic",
    "--batch",
    "256",
    "--max-steps",
    "1",
    "--backend",
    "wasm",
  );
  assert.equal(train.status, 1);
  assert.match(
    train.stderr,
    /^resnet-studio: error: a training step of resnet1202 .* needs about [\d.]+ GiB, more than the 4\.00 GiB the backend can hold; use --batch \d+ or smaller\n$/,
  );
  assertNoAbort(train);
});

test("gradflow resnet1202 without --batch runs at the largest batch that fits, with a note", () => {
  const b = checkPassMemory({ graph: graph("resnet1202"), batch: 32, kind: "gradflow" }).largestBatch;
  const r = cli("gradflow", "resnet1202", "--backend", "wasm", "--json");
  assert.equal(r.status, 0, r.stderr);
  assertNoAbort(r);
  assert.match(r.stderr, new RegExp(`note: batch ${b} instead of 32`));
  const result = JSON.parse(r.stdout) as GradientFlowResult;
  assert.equal(result.batch, b);
  assert.equal(result.adds.length, 600);
  assert.ok(Number.isFinite(result.loss));
});

test("train() itself refuses a step that would not fit the backend, before the optimiser or replicas allocate (the extension's path)", async () => {
  await initBackend("wasm");
  const big = microGraph({ input: [1, 1024, 1024] });
  const check = checkPassMemory({ graph: big, batch: 16, kind: "train", optimizer: "sgd" });
  assert.equal(check.fits, false, "precondition: batch 16 of this net is past the wasm heap");
  assert.ok(check.largestBatch >= 1);
  const model = buildModel(big, { seed: 1 });
  const before = tf.memory().numTensors;
  try {
    await assert.rejects(
      train({
        model,
        data: { train: syntheticDataset({ count: 40, classes: 2, shape: [1, 8, 8], seed: 1 }), val: null },
        config: tinyConfig({ batchSize: 16, workers: 1, optimizer: "sgd" }),
      }),
      (err: unknown) =>
        err instanceof TrainConfigError &&
        new RegExp(
          `^a training step of micro at batch 16 on 1×1024×1024 inputs needs about [\\d.]+ GiB, more than the 4\\.00 GiB the backend can hold; use --batch ${check.largestBatch} or smaller$`,
        ).test(err.message),
    );
    assert.equal(tf.memory().numTensors, before, "nothing was allocated for the refused run");
  } finally {
    model.dispose();
  }
});

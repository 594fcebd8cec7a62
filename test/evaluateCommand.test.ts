/**
 * The logic behind Evaluate and Show in Diagram, without VS Code: the worker's job on a run folder (evaluation, and
 * the overlays at the trained weights), the page's markup and its message check, and how a command's argument names
 * its target.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSpec } from "../model-core/src/load";
import { CHECKPOINT_FILE_NAME, specHash } from "../model-core/src/runtime/checkpoint";
import { initBackend } from "../model-core/src/runtime/backend";
import {
  checkEvaluationHostMessage,
  evaluationBodyHtml,
  layerResponseSvg,
} from "../model-core/src/presentation/evaluationReport";
import { seededWeightsFile } from "../model-core/test/weightsHelpers";
import { evaluate } from "../extension/src/evaluateWorker";
import { targetLabel, targetPathOf } from "../extension/src/pure/evaluateProtocol";

const SPEC = join(__dirname, "../examples/small.resnet.ts");
let dir = "";
const runDir = (name: string) => join(dir, "runs", "small", name);

function writeRun(name: string, specText: string, seed: number): void {
  mkdirSync(runDir(name), { recursive: true });
  const graph = loadSpec(SPEC).graph!;
  writeFileSync(join(runDir(name), CHECKPOINT_FILE_NAME), seededWeightsFile(graph, seed));
  writeFileSync(
    join(runDir(name), "run.json"),
    JSON.stringify({
      version: 1,
      status: "completed",
      specText,
      specFile: null,
      architectureHash: specHash(graph.spec),
      dataset: { arg: "mnist", sha256: "", valFraction: 0.1 },
      backend: "wasm",
      startedAt: "2026-12-07T22:40:05Z",
    }),
  );
}

before(async () => {
  await initBackend("wasm");
  dir = mkdtempSync(join(tmpdir(), "rs-evaluate-command-"));
  writeRun("2026-12-07T22-40-05Z", readFileSync(SPEC, "utf8"), 4);
  writeRun("2026-12-07T23-10-00Z", readFileSync(SPEC, "utf8"), 9);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("Evaluate's job: the run's figures, no overlays", async () => {
  const outcome = await evaluate({
    kind: "evaluate",
    target: runDir("2026-12-07T22-40-05Z"),
    backend: "wasm",
    overlays: false,
  });
  assert.equal(outcome.entry.label, "small/2026-12-07T22-40-05Z");
  assert.equal(outcome.entry.evaluation.samples, 1000);
  assert.equal(outcome.entry.layerResponse, null);
  assert.equal(outcome.gradients, null);
  assert.equal(outcome.graph.name, "Small ResNet (MNIST)");
});

test("Show in Diagram's job: gradient flow, layer responses, mean |γ| and misclassified tiles at the trained weights; the page draws two runs on one chart", async () => {
  const first = await evaluate({
    kind: "evaluate",
    target: runDir("2026-12-07T22-40-05Z"),
    backend: "wasm",
    overlays: true,
  });
  const second = await evaluate({
    kind: "evaluate",
    target: runDir("2026-12-07T23-10-00Z"),
    backend: "wasm",
    overlays: true,
  });
  const { entry, gradients } = first;
  assert.ok(gradients && gradients.nodes.length > 0, "gradient flow for the diagram");
  assert.equal(entry.layerResponse?.length, 7, "the stem's and six block convs are 3×3");
  assert.ok(entry.layerResponse.every((p) => Number.isFinite(p.std) && p.std > 0));
  assert.equal(entry.gamma?.length, 9, "every BN, the projections' included");
  assert.ok(entry.misclassified.length > 0);
  assert.match(entry.misclassified[0].png, /^data:image\/png;base64,iVBORw0KGgo/);

  const message = checkEvaluationHostMessage({ type: "entries", entries: [first.entry, second.entry] });
  assert.ok(message, "the page accepts the host's message");
  const svg = layerResponseSvg(message.entries);
  assert.equal((svg.match(/<path /g) ?? []).length, 4, "one line per run, in the original and the sorted panel");
  assert.match(svg, /small\/2026-12-07T22-40-05Z/);
  assert.match(svg, /small\/2026-12-07T23-10-00Z/);
  const html = evaluationBodyHtml(message.entries);
  assert.match(html, /<table class="confusion">/);
  assert.match(html, /<table class="per-class">/);
  assert.equal((html.match(/<img src="data:image\/png;base64,/g) ?? []).length, second.entry.misclassified.length);
});

test("the page refuses malformed messages and escapes labels", () => {
  assert.equal(checkEvaluationHostMessage({ type: "entries", entries: [{ label: "x" }] }), null);
  assert.equal(checkEvaluationHostMessage({ type: "other", entries: [] }), null);
  const evaluation = {
    model: "m",
    dataset: "d",
    backend: "b",
    weights: null,
    samples: 1,
    loss: 0.5,
    accuracy: 1,
    perClass: [{ name: "<img onerror=x>", total: 1, correct: 1, accuracy: 1 }],
    confusion: [[1]],
    misclassified: [],
  };
  const entry = { label: "<script>", evaluation, layerResponse: null, gamma: null, misclassified: [] };
  const html = evaluationBodyHtml(checkEvaluationHostMessage({ type: "entries", entries: [entry] })!.entries);
  assert.doesNotMatch(html, /<script>|<img onerror/);
  assert.match(html, /&lt;script&gt;/);
});

test("a command's argument: a Uri, a Runs view element with a uri, or nothing (then the dialog asks)", () => {
  assert.equal(targetPathOf({ fsPath: "/w/run" }), "/w/run");
  assert.equal(targetPathOf({ uri: { fsPath: "/w/run/checkpoint.safetensors" } }), "/w/run/checkpoint.safetensors");
  assert.equal(targetPathOf(undefined), null);
  assert.equal(targetPathOf({ uri: "not a uri" }), null);
  assert.equal(targetLabel("/w/.resnet-studio/runs/small/2026-12-07T22-40-05Z"), "small/2026-12-07T22-40-05Z");
  assert.equal(
    targetLabel("/w/.resnet-studio/runs/small/2026-12-07T22-40-05Z/checkpoint.safetensors"),
    "small/2026-12-07T22-40-05Z",
  );
  assert.equal(targetLabel("/models/resnet18.safetensors"), "resnet18.safetensors");
});

/** The extension host's pure logic under node: spec analysis, hovers, inlay hints, the webview HTML/CSP, event mapping. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import { compileFunction } from "node:vm";
import { buildSync } from "esbuild";
import { BUNDLED_EXAMPLE, bundledExampleDefine } from "../scripts/bundledExample.mjs";
import { analyzeSpecText, debounce, plainTwin } from "../extension/src/pure/specDocument";
import { analyzeSpecText as analyzeSpecSource } from "../model-core/src/specAnalysis";
import { hoverMarkdown, modelSummaryMarkdown, stageInlayHints } from "../extension/src/pure/specInfo";
import { contentSecurityPolicy, makeNonce, webviewHtml } from "../extension/src/pure/html";
import { toTrainingEvent, workersSetting } from "../extension/src/pure/trainEvents";
import { BUNDLED_SPEC_TEXT } from "../extension/src/pure/bundledSpec";
import { applyTrainingEvent, EMPTY_TRAINING, isHostToWebview } from "../model-core/src/protocol";
import { isWebviewToHost } from "../model-core/src/protocolValidate";
import { DEFAULT_TRAIN_CONFIG } from "../model-core/src/runtime/trainTypes";
import { trainingMemory } from "../model-core/src/analysis/memory";
import {
  formatBytes,
  formatCount,
  formatExactCount,
  formatNorm,
  formatPercent,
  formatShape,
} from "../model-core/src/presentation/format";

const root = join(__dirname, "..");

const SPEC = `import { resnet, stage } from "resnet-studio";

export default resnet({
  name: "tiny",
  input: [3, 32, 32],
  stem: "cifar",
  block: "basic",
  stages: [
    stage({ channels: 16, blocks: 2 }),
    stage({ channels: 32, blocks: 2, stride: 2 }),
  ],
  classes: 10,
});
`;

test("analyzeSpecText gives a graph for a valid spec and located diagnostics for a broken one, never throwing", () => {
  const ok = analyzeSpecText(SPEC, "tiny.resnet.ts");
  assert.ok(ok.graph, ok.diagnostics.map((d) => d.message).join("\n"));
  assert.deepEqual(ok.graph.output, [10]);
  assert.equal(ok.diagnostics.filter((d) => d.severity === "error").length, 0);

  const bad = analyzeSpecText(SPEC.replace("channels: 32", "channels: -32"), "tiny.resnet.ts");
  assert.equal(bad.graph, null);
  const err = bad.diagnostics.find((d) => d.severity === "error");
  assert.ok(err?.range, "the error is located");
  assert.equal(err.range.line, 10, `error on the line of the bad value: ${JSON.stringify(err)}`);

  const garbage = analyzeSpecText("export default 42 +", "x.resnet.ts");
  assert.equal(garbage.graph, null);
  assert.ok(garbage.diagnostics.length > 0 && garbage.diagnostics.every((d) => d.range !== null));
});

test("the editor reads specs through model-core's single pass: a warning comes once, with the graph", () => {
  assert.equal(analyzeSpecText, analyzeSpecSource, "no second analysis wrapped around model-core's");
  const warned = analyzeSpecText(
    SPEC.replace("classes: 10,", "classes: 10,\n  residual: false,\n  zeroInitResidual: true,"),
    "tiny.resnet.ts",
  );
  assert.ok(warned.graph);
  assert.deepEqual(
    warned.diagnostics.map((d) => `${d.range?.line}:${d.range?.column} ${d.severity} ${d.code}`),
    ["14:21 warning zero-init-ignored"],
  );
});

test("hover over a stage shows its output shape, params and MACs; over the call, the model totals", () => {
  const { graph } = analyzeSpecText(SPEC, "tiny.resnet.ts");
  assert.ok(graph);
  const offset = SPEC.indexOf("channels: 32");
  const md = hoverMarkdown(graph, offset);
  assert.ok(md, "a hover for the second stage");
  assert.match(md, /layer2/);
  // Second stage of a CIFAR net: 16×32×32 → 32×16×16.
  assert.match(md, /16×32×32 → 32×16×16/);
  const layer2 = graph.stages.find((s) => s.id === "layer2")!;
  assert.ok(md.includes(layer2.params.toLocaleString("en-US")), "exact parameter count");
  assert.match(md, /receptive field/);

  const onName = hoverMarkdown(graph, SPEC.indexOf('name: "tiny"'));
  assert.ok(onName);
  assert.match(onName, /tiny/);
  assert.equal(hoverMarkdown(graph, 0), null, "nothing over the import line");
  assert.match(modelSummaryMarkdown(graph), /params/);
});

test("hovers show one training step's memory at the configured batch: the model's totals and each stage's saved bytes", () => {
  const { graph } = analyzeSpecText(SPEC, "tiny.resnet.ts");
  assert.ok(graph);
  const memory = trainingMemory(graph, { batch: 64 });
  const stage = hoverMarkdown(graph, SPEC.indexOf("channels: 32"), { batch: 64 });
  assert.ok(stage);
  const layer2 = memory.stages.find((s) => s.id === "layer2")!;
  assert.ok(layer2.savedActivationBytes > 0);
  assert.ok(stage.includes(`| saved for backward @ batch 64 | ${formatBytes(layer2.savedActivationBytes)} |`), stage);
  const model = modelSummaryMarkdown(graph, { batch: 64 });
  assert.ok(model.includes(`| training peak @ batch 64 | ${formatBytes(memory.trainPeakBytes)} `), model);
  assert.ok(model.includes(`| saved for backward @ batch 64 | ${formatBytes(memory.savedActivationBytes)} |`));
  assert.ok(model.includes(`| inference peak @ batch 64 | ${formatBytes(memory.inferencePeakBytes)} |`));
  // Without a batch, no memory rows.
  assert.doesNotMatch(modelSummaryMarkdown(graph), /peak/);
  const hint = stageInlayHints(graph, { batch: 64 }).find((h) => h.tooltip.startsWith("layer2"))!;
  assert.ok(
    hint.tooltip.endsWith(`, ${formatBytes(layer2.savedActivationBytes)} saved for backward at batch 64`),
    hint.tooltip,
  );
});

test("inlay hints: one after each stage with its output shape and params", () => {
  const { graph } = analyzeSpecText(SPEC, "tiny.resnet.ts");
  assert.ok(graph);
  const hints = stageInlayHints(graph);
  assert.equal(hints.length, 2);
  const [h1, h2] = hints;
  assert.ok(h1 && h2);
  assert.match(h1.label, /^→ 16×32×32 · [\d.]+K params$/);
  assert.match(h2.label, /^→ 32×16×16 · [\d.]+K params$/);
  // Placed at the end of each stage(...) call.
  assert.equal(SPEC.slice(h1.offset - 1, h1.offset), ")");
  assert.ok(SPEC.slice(0, h2.offset).endsWith("stride: 2 })"));
});

test("formatting", () => {
  assert.equal(formatCount(11_689_512), "11.7M");
  assert.equal(formatCount(1817), "1.82K");
  assert.equal(formatCount(4_089_184_256), "4.09G");
  assert.equal(formatCount(512), "512");
  assert.equal(formatExactCount(11_689_512), "11,689,512");
  assert.equal(formatShape([128, 28, 28]), "128×28×28");
  assert.equal(formatNorm(0), "0");
  assert.equal(formatNorm(1.23456), "1.23");
  assert.equal(formatNorm(5e7), "5.0e+7");
  assert.equal(formatPercent(0.5), "50%");
  assert.equal(formatPercent(0.9312, 2), "93.12%");
  assert.equal(formatPercent(0.871, 1), "87.1%");
});

test("the webview HTML has a strict CSP: nothing by default, scripts only with the nonce", () => {
  const nonce = makeNonce();
  assert.match(nonce, /^[A-Za-z0-9]{32}$/);
  assert.notEqual(makeNonce(), nonce);
  const csp = contentSecurityPolicy("https://file+.vscode-resource.vscode-cdn.net", nonce);
  assert.match(csp, /^default-src 'none'; /);
  assert.match(csp, new RegExp(`script-src 'nonce-${nonce}'(;|$)`));
  assert.doesNotMatch(csp, /unsafe-eval/);
  assert.doesNotMatch(csp.match(/script-src[^;]*/)![0], /unsafe-inline/);
  const html = webviewHtml({
    cspSource: "vscode-resource:",
    nonce,
    scriptUri: "vscode-resource:/dist/webview.js",
    title: "T <x>",
  });
  assert.ok(html.includes(`<script nonce="${nonce}" src="vscode-resource:/dist/webview.js"></script>`));
  assert.ok(html.includes("T &lt;x&gt;"));
  assert.equal((html.match(/<script/g) ?? []).length, 1, "one script, the bundle");
});

test("plain twin: same network without shortcuts", () => {
  const { spec, graph } = analyzeSpecText(SPEC, "tiny.resnet.ts");
  assert.ok(spec && graph);
  const plain = plainTwin(spec);
  assert.ok(plain);
  assert.equal(plain.nodes.filter((n) => n.op.kind === "add").length, 0);
  assert.ok(graph.nodes.some((n) => n.op.kind === "add"));
  assert.deepEqual(plain.output, graph.output);
  assert.equal(plainTwin({ ...spec, residual: false }), null, "a plain net has no twin");
});

test("the bundled example is examples/small.resnet.ts, inlined by the build, and analyses cleanly", () => {
  const example = readFileSync(join(root, BUNDLED_EXAMPLE), "utf8");
  assert.equal(BUNDLED_SPEC_TEXT, example);
  // Bundled with the build's define, the module must carry the text itself: its file system reads nothing.
  const bundle = buildSync({
    entryPoints: [join(root, "extension/src/pure/bundledSpec.ts")],
    bundle: true,
    write: false,
    platform: "node",
    format: "cjs",
    define: bundledExampleDefine(root),
    logLevel: "error",
  });
  const load = createRequire(__filename);
  const noFiles = (id: string): unknown => {
    if (id !== "node:fs") return load(id);
    return { readFileSync: () => assert.fail("the bundled example was read from a file") };
  };
  const module = { exports: {} as { BUNDLED_SPEC_TEXT?: string } };
  const run = compileFunction(bundle.outputFiles[0].text, ["module", "exports", "require", "__dirname"]) as (
    ...args: [typeof module, typeof module.exports, typeof noFiles, string]
  ) => void;
  run(module, module.exports, noFiles, "/nonexistent");
  assert.equal(module.exports.BUNDLED_SPEC_TEXT, example);
  const r = analyzeSpecText(BUNDLED_SPEC_TEXT, "small.resnet.ts");
  assert.ok(r.graph, r.diagnostics.map((d) => d.message).join("\n"));
});

test("debounce: a burst runs once, with the last arguments", async () => {
  const calls: number[] = [];
  const d = debounce((n: number) => calls.push(n), 20);
  d(1);
  d(2);
  d(3);
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(calls, [3]);
  d(4);
  d.cancel();
  await new Promise((r) => setTimeout(r, 40));
  assert.deepEqual(calls, [3]);
});

test("trainer events map to protocol events and fold into the training state", () => {
  const ctx = { backend: "cpu", gradients: null, millis: 5 };
  const config = { ...DEFAULT_TRAIN_CONFIG, epochs: 2, batchSize: 16 };
  let state = EMPTY_TRAINING;
  const fold = (e: Parameters<typeof toTrainingEvent>[0]) => {
    const t = toTrainingEvent(e, ctx);
    if (t) state = applyTrainingEvent(state, t);
  };
  fold({
    type: "start",
    model: "small",
    backend: "cpu",
    dataset: "mnist",
    trainSamples: 9000,
    valSamples: 1000,
    config,
    startEpoch: 0,
    params: 1000,
  });
  assert.equal(state.status, "running");
  assert.equal(state.epochs, 2);
  fold({
    type: "step",
    epoch: 0,
    step: 9,
    stepsPerEpoch: 100,
    globalStep: 10,
    loss: 1.5,
    accuracy: 0.5,
    lr: 0.01,
    imagesPerSecond: 300,
    epochSeconds: 2,
  });
  assert.equal(state.lastStep?.loss, 1.5);
  const epoch = {
    epoch: 0,
    epochs: 2,
    loss: 1.2,
    accuracy: 0.6,
    valLoss: 1.1,
    valAccuracy: 0.65,
    lr: 0.01,
    imagesPerSecond: 300,
    seconds: 3,
    trainSamples: 9000,
    valSamples: 1000,
  };
  fold({ type: "epoch", ...epoch });
  assert.equal(state.history.length, 1);
  assert.equal(state.history[0].valAccuracy, 0.65);
  assert.equal(state.gradientSnapshots.length, 1);
  assert.equal(toTrainingEvent({ type: "checkpoint", path: "/x", epoch: 1 }, ctx), null);
  fold({
    type: "done",
    reason: "aborted",
    epochsCompleted: 1,
    globalStep: 10,
    history: [],
    final: null,
    backend: "cpu",
    seconds: 1,
  });
  assert.equal(state.status, "cancelled");
  fold({
    type: "done",
    reason: "diverged",
    message: "loss became NaN",
    epochsCompleted: 1,
    globalStep: 10,
    history: [],
    final: null,
    backend: "cpu",
    seconds: 1,
  });
  assert.equal(state.status, "failed");
  assert.match(state.message ?? "", /NaN/);
});

test("message guards accept protocol messages and reject junk", () => {
  assert.ok(isWebviewToHost({ type: "ready" }));
  assert.ok(isWebviewToHost({ type: "request", id: 1, body: { kind: "layout", expansion: { expanded: [] } } }));
  assert.ok(!isWebviewToHost({ type: "request", id: "1", body: { kind: "layout" } }));
  assert.ok(!isWebviewToHost({ type: "evil" }));
  assert.ok(!isWebviewToHost(null));
  assert.ok(isHostToWebview({ type: "diagnostics", diagnostics: [] }));
  assert.ok(isHostToWebview({ type: "response", id: 3, ok: true, kind: "train", body: { started: true } }));
  assert.ok(isHostToWebview({ type: "response", id: 4, ok: false, kind: "invalid", error: "bad request" }));
  assert.ok(!isHostToWebview({ type: "response", id: "4", ok: true }), "a response needs the envelope's id and ok");
  assert.ok(!isHostToWebview("snapshot"));
});

test("the trainWorkers setting: 0 leaves the choice to the trainer, n forces n replicas, junk is ignored", () => {
  assert.deepEqual(workersSetting(0), {});
  assert.deepEqual(workersSetting(1), { workers: 1 });
  assert.deepEqual(workersSetting(2), { workers: 2 });
  assert.deepEqual(workersSetting(1.5), {});
  assert.deepEqual(workersSetting("2"), {});
});

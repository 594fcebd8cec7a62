/** The pure parts of editing from the diagram and comparing, under node: the edit menu's items and the comparison page. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { editMenuSections, stageIndexOf } from "../webview/src/editItems";
import { compareHtml } from "../extension/src/pure/compareView";
import { diffNetworks } from "../model-core/src/analysis/diff";
import { applySpecEdit, isSpecEdit } from "../model-core/src/edit/specEdit";
import { loadSpec } from "../model-core/src/load";
import { formatBytes } from "../model-core/src/presentation/format";
import { isWebviewToHost } from "../model-core/src/protocolValidate";

const root = join(__dirname, "..");

test("stage index of diagram ids follows torchvision's layerN naming", () => {
  assert.equal(stageIndexOf("layer1"), 0);
  assert.equal(stageIndexOf("layer3.1"), 2);
  assert.equal(stageIndexOf("layer12.0.conv1"), 11);
  assert.equal(stageIndexOf("conv1"), null);
  assert.equal(stageIndexOf("fc"), null);
  assert.equal(stageIndexOf("layerx"), null);
  assert.equal(stageIndexOf(null), null);
});

test("the edit menu offers the stage's and the network's edits, each one a valid edit that applies to the example", () => {
  const file = join(root, "examples", "resnet18.resnet.ts");
  const text = readFileSync(file, "utf8");
  const spec = loadSpec(file).spec!;
  const onBlock = editMenuSections(spec, "layer2.1");
  assert.deepEqual(
    onBlock.map((s) => s.title),
    ["Stage layer2", "Network ResNet-18"],
  );
  assert.deepEqual(
    onBlock[0].items.map((i) => i.label),
    ["Blocks 2 → 3", "Blocks 2 → 1", "Channels 128 → 256", "Channels 128 → 64", "Channels…", "Stride 2 → 1"],
  );
  assert.deepEqual(
    onBlock[1].items.map((i) => i.label),
    [
      "Block kind basic → bottleneck",
      "Shortcut B → A",
      "Shortcut B → C",
      "Pre-activation off → on",
      "Residual on → off",
      "Norm batchnorm → none",
      "Groups (1)…",
      "Width per group (64)…",
    ],
  );
  assert.deepEqual(
    editMenuSections(spec, "fc").map((s) => s.title),
    ["Network ResNet-18"],
  );
  assert.deepEqual(
    editMenuSections(spec, null).map((s) => s.title),
    ["Network ResNet-18"],
  );
  for (const item of onBlock.flatMap((s) => s.items)) {
    assert.ok(isSpecEdit(item.edit), item.label);
    if (item.ask) continue;
    const result = applySpecEdit(text, file, item.edit);
    assert.ok(result.ok, `${item.label}: ${result.ok ? "" : result.reason}`);
  }
  // The request that carries an edit passes the protocol's guard.
  assert.ok(isWebviewToHost({ type: "request", id: 3, body: { kind: "editSpec", edit: onBlock[0].items[0].edit } }));
});

test("the comparison page marks added blocks per stage and tabulates Δparams, ΔMACs and Δmemory", () => {
  const a = loadSpec("resnet18").graph!;
  const b = loadSpec("resnet34").graph!;
  // Batch 64: resnetStudio.trainBatchSize's default, which the extension passes.
  const diff = diffNetworks(a, b, { batch: 64 });
  const html = compareHtml(
    diff,
    a,
    b,
    { titleA: "preset resnet18", titleB: "resnet34.resnet.ts" },
    { cspSource: "vscode-resource:", nonce: "N0NCE" },
  );
  assert.match(html, /Content-Security-Policy" content="default-src 'none'; script-src 'nonce-N0NCE'/);
  assert.doesNotMatch(html, /<script/);
  assert.match(html, /Parameters 11,689,512 → 21,797,672 \(\+10,108,160\)/);
  assert.match(html, /8 added blocks/);
  for (const id of diff.addedBlocks)
    assert.match(html, new RegExp(`<div class="cell added" data-block="${id.replace(".", "\\.")}">`));
  assert.equal((html.match(/class="cell added"/g) ?? []).length, 8, "an added block appears once, in B's column");
  assert.equal(
    (html.match(/<div class="cell gap"><\/div>/g) ?? []).length,
    8,
    "A's column has a gap beside each added block",
  );
  assert.match(
    html,
    /<tr class="changed"><td>layer3<\/td><td>BasicBlock ×2<\/td><td>BasicBlock ×6<\/td><td class="num">2,099,712<\/td><td class="num">6,822,400<\/td><td class="num">\+4,722,688<\/td>/,
  );
  // layer3 gains four BasicBlock(256) at 14×14: 4 · (4 · 256·14·14 · 4 B · 64 + 2 BNs · 2 · 256 · 4 B) = 205,537,280 B.
  assert.equal(diff.stages.find((s) => s.id === "layer3")!.deltaSavedActivationBytes, 205_537_280);
  assert.match(html, /<th class="num" title="bytes autograd keeps for backward, float32">Δmemory @64<\/th>/);
  assert.match(
    html,
    /<tr class="changed"><td>layer3<\/td>.*?<td class="num">\+924,844,032<\/td><td class="num" title="[^"]+ → [^"]+">\+196 MiB<\/td><\/tr>/,
  );
  assert.match(html, /Δparams \+4,722,688 · ΔMACs \+924,844,032 · Δmemory \+196 MiB/);
  assert.match(
    html,
    new RegExp(
      `training peak at batch 64 ${formatBytes(diff.memory.trainPeakBytesA)} → ${formatBytes(diff.memory.trainPeakBytesB)} \\(\\+${formatBytes(diff.memory.deltaTrainPeakBytes)}\\)`,
    ),
  );
  assert.match(html, /<section class="stage" data-stage="stem"><h2>stem <span class="labels">/);
  // Hostile names are escaped.
  const named = { ...b, name: "<img src=x onerror=alert(1)>" };
  assert.doesNotMatch(
    compareHtml(diffNetworks(a, named), a, named, { titleA: "a", titleB: "b" }, { cspSource: "x", nonce: "n" }),
    /<img/,
  );
});

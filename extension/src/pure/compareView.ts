/**
 * The comparison page: two networks side by side, stage by stage, with added, removed and changed blocks and
 * layers marked, and a per-stage table of Δparams, ΔMACs and Δmemory (saved activations at the diff's batch). Static HTML (no script), built from
 * model-core's diffNetworks; pure, so it tests under node.
 */
import type { BlockGroup, ModelGraph, StageGroup } from "resnet-studio/analysis/graph";
import { formatDelta, type ChangeStatus, type NetworkDiff, type NodeDiff } from "resnet-studio/analysis/diff";
import { formatByteDelta, formatBytes, formatCount } from "resnet-studio/presentation/format";
import { contentSecurityPolicy } from "./html";

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const STATUS_TEXT: Record<ChangeStatus, string> = { added: "added", removed: "removed", changed: "changed", same: "" };

function nodeLines(nodes: NodeDiff[], side: "a" | "b"): string {
  const shown = nodes.filter((n) => (side === "a" ? n.status !== "added" : n.status !== "removed"));
  if (shown.length === 0) return "";
  return `<ul>${shown.map((n) => `<li class="${n.status}" data-node="${esc(n.id)}">${esc(n.id)} <span class="k">${esc(n.kind)}</span>${n.status === "changed" ? ` <span class="why">${esc(n.differences.join(", "))}</span>` : ""}</li>`).join("")}</ul>`;
}

function blockCell(block: BlockGroup | undefined, status: ChangeStatus, nodes: NodeDiff[], side: "a" | "b"): string {
  if (!block) return `<div class="cell gap"></div>`;
  const mark = STATUS_TEXT[status] ? ` <span class="badge ${status}">${STATUS_TEXT[status]}</span>` : "";
  return `<div class="cell ${status}" data-block="${esc(block.id)}"><b>${esc(block.id)}</b> ${esc(block.label)} · ${formatCount(block.params)} params · ${formatCount(block.macs)} MACs${mark}${status === "added" || status === "removed" ? "" : nodeLines(nodes, side)}</div>`;
}

function stageSection(diff: NetworkDiff, id: string, a: StageGroup | undefined, b: StageGroup | undefined): string {
  const stage = diff.stages.find((s) => s.id === id)!;
  const blocksA = new Map((a?.blocks ?? []).map((x) => [x.id, x]));
  const blocksB = new Map((b?.blocks ?? []).map((x) => [x.id, x]));
  const nodesOf = (blockId: string | null) => diff.nodes.filter((n) => n.stage === id && n.block === blockId);
  const rows: string[] = [];
  // Layers outside blocks (stem, head).
  const loose = nodesOf(null);
  if ((a?.blocks.length ?? 0) === 0 && (b?.blocks.length ?? 0) === 0) {
    const cell = (g: StageGroup | undefined, side: "a" | "b") =>
      g
        ? `<div class="cell ${stage.status}">${esc(g.label)} · ${formatCount(g.params)} params${nodeLines(loose, side)}</div>`
        : `<div class="cell gap"></div>`;
    rows.push(`<div class="row">${cell(a, "a")}${cell(b, "b")}</div>`);
  }
  let unchanged: string[] = [];
  const flush = () => {
    if (unchanged.length === 0) return;
    const text =
      unchanged.length === 1
        ? `${unchanged[0]} unchanged`
        : `${unchanged[0]} – ${unchanged[unchanged.length - 1]}: ${unchanged.length} unchanged blocks`;
    rows.push(
      `<div class="row"><div class="cell same">${esc(text)}</div><div class="cell same">${esc(text)}</div></div>`,
    );
    unchanged = [];
  };
  for (const block of diff.blocks.filter((x) => x.stage === id)) {
    if (block.status === "same") {
      unchanged.push(block.id);
      continue;
    }
    flush();
    const nodes = nodesOf(block.id);
    rows.push(
      `<div class="row">${blockCell(blocksA.get(block.id), block.status, nodes, "a")}${blockCell(blocksB.get(block.id), block.status, nodes, "b")}</div>`,
    );
  }
  flush();
  const badge = STATUS_TEXT[stage.status]
    ? ` <span class="badge ${stage.status}">${STATUS_TEXT[stage.status]}</span>`
    : "";
  return `<section class="stage" data-stage="${esc(id)}"><h2>${esc(id)}${badge} <span class="labels">${esc(stage.labelA ?? "—")} → ${esc(stage.labelB ?? "—")}</span> <span class="delta">Δparams ${formatDelta(stage.deltaParams)} · ΔMACs ${formatDelta(stage.deltaMacs)} · Δmemory ${formatByteDelta(stage.deltaSavedActivationBytes)}</span></h2>${rows.join("")}</section>`;
}

export interface CompareSides {
  /** Where each network came from: a file, "preset resnet34", "HEAD". */
  titleA: string;
  titleB: string;
}

export function compareHtml(
  diff: NetworkDiff,
  a: ModelGraph,
  b: ModelGraph,
  sides: CompareSides,
  page: { cspSource: string; nonce: string },
): string {
  const n = (v: number) => v.toLocaleString("en-US");
  const m = diff.memory;
  const stagesA = new Map(a.stages.map((s) => [s.id, s]));
  const stagesB = new Map(b.stages.map((s) => [s.id, s]));
  const table = diff.stages
    .map(
      (s) =>
        `<tr class="${s.status}"><td>${esc(s.id)}</td><td>${esc(s.labelA ?? "—")}</td><td>${esc(s.labelB ?? "—")}</td><td class="num">${n(s.paramsA)}</td><td class="num">${n(s.paramsB)}</td><td class="num">${formatDelta(s.deltaParams)}</td><td class="num">${formatDelta(s.deltaMacs)}</td><td class="num" title="${formatBytes(s.savedActivationBytesA)} → ${formatBytes(s.savedActivationBytesB)}">${formatByteDelta(s.deltaSavedActivationBytes)}</td></tr>`,
    )
    .join("");
  const total = `<tr class="total"><td>total</td><td></td><td></td><td class="num">${n(diff.a.params)}</td><td class="num">${n(diff.b.params)}</td><td class="num">${formatDelta(diff.deltaParams)}</td><td class="num">${formatDelta(diff.deltaMacs)}</td><td class="num" title="${formatBytes(m.savedActivationBytesA)} → ${formatBytes(m.savedActivationBytesB)}">${formatByteDelta(m.deltaSavedActivationBytes)}</td></tr>`;
  const summary =
    [
      diff.addedBlocks.length
        ? `${diff.addedBlocks.length} added block${diff.addedBlocks.length === 1 ? "" : "s"}`
        : "",
      diff.removedBlocks.length ? `${diff.removedBlocks.length} removed` : "",
      diff.changedBlocks.length ? `${diff.changedBlocks.length} changed` : "",
    ]
      .filter(Boolean)
      .join(", ") || (diff.nodes.length ? "layers outside blocks differ" : "the networks have the same layers");
  const sections = diff.stages.map((s) => stageSection(diff, s.id, stagesA.get(s.id), stagesB.get(s.id))).join("");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${esc(contentSecurityPolicy(page.cspSource, page.nonce))}">
<title>Compare ${esc(diff.a.name)} ↔ ${esc(diff.b.name)}</title>
<style nonce="${esc(page.nonce)}">
body { font-family: var(--vscode-font-family, sans-serif); font-size: var(--vscode-font-size, 13px); color: var(--vscode-editor-foreground); background: var(--vscode-editor-background); padding: 8px 16px; }
h1 { font-size: 1.2em; } h2 { font-size: 1em; margin: 14px 0 4px; }
table { border-collapse: collapse; } td, th { padding: 2px 10px; text-align: left; border-bottom: 1px solid var(--vscode-panel-border, #8884); }
.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: 600; }
.row { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; margin: 2px 0; }
.cell { padding: 3px 6px; border-left: 3px solid transparent; }
.cell.same { opacity: 0.65; }
.cell.gap { border: 1px dashed var(--vscode-panel-border, #8884); opacity: 0.4; }
.added { border-left-color: var(--vscode-gitDecoration-addedResourceForeground, #81b88b); }
.removed { border-left-color: var(--vscode-gitDecoration-deletedResourceForeground, #c74e39); }
.changed { border-left-color: var(--vscode-gitDecoration-modifiedResourceForeground, #e2c08d); }
li.added { color: var(--vscode-gitDecoration-addedResourceForeground, #81b88b); }
li.removed { color: var(--vscode-gitDecoration-deletedResourceForeground, #c74e39); }
li.changed { color: var(--vscode-gitDecoration-modifiedResourceForeground, #e2c08d); }
.badge { font-size: 0.8em; padding: 0 4px; border-radius: 3px; border: 1px solid currentColor; }
.badge.added { color: var(--vscode-gitDecoration-addedResourceForeground, #81b88b); }
.badge.removed { color: var(--vscode-gitDecoration-deletedResourceForeground, #c74e39); }
.badge.changed { color: var(--vscode-gitDecoration-modifiedResourceForeground, #e2c08d); }
.labels, .delta, .k, .why { opacity: 0.8; font-weight: normal; }
.heads { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; font-weight: 600; }
ul { margin: 2px 0 2px 16px; padding: 0; }
</style>
</head>
<body>
<h1>A: ${esc(diff.a.name)} <span class="labels">(${esc(sides.titleA)})</span> ↔ B: ${esc(diff.b.name)} <span class="labels">(${esc(sides.titleB)})</span></h1>
<p>Parameters ${n(diff.a.params)} → ${n(diff.b.params)} (${formatDelta(diff.deltaParams)}); MACs ${n(diff.a.macs)} → ${n(diff.b.macs)} (${formatDelta(diff.deltaMacs)}); training peak at batch ${m.batch} ${formatBytes(m.trainPeakBytesA)} → ${formatBytes(m.trainPeakBytesB)} (${formatByteDelta(m.deltaTrainPeakBytes)}); ${esc(summary)}.</p>
<table class="stages"><thead><tr><th>stage</th><th>A</th><th>B</th><th class="num">params A</th><th class="num">params B</th><th class="num">Δparams</th><th class="num">ΔMACs</th><th class="num" title="bytes autograd keeps for backward, ${m.dtype}">Δmemory @${m.batch}</th></tr></thead><tbody>${table}${total}</tbody></table>
<div class="heads"><div>A: ${esc(diff.a.name)}</div><div>B: ${esc(diff.b.name)}</div></div>
${sections}
</body>
</html>`;
}

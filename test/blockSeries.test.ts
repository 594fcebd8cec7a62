/** The combined gradient chart's series: ‖dL/dx‖ at each block's input, read from a gradient-flow result alone. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { analyze } from "../model-core/src/analysis/analyze";
import { presets } from "../model-core/src/spec/presets";
import { alignSeries, blockInputSeries } from "../webview/src/blockSeries";
import { gradientHeatmap } from "../webview/src/gradientHeatmap";
import { syntheticGradients } from "./browser/harness";

test("block input series: one value per block, the gradient of the node feeding it; the plain twin aligns by block id", () => {
  const r18 = analyze(presets.resnet18()).graph!;
  const plain = analyze(presets.plain18()).graph!;
  const res = syntheticGradients(r18);
  const series = blockInputSeries(res);
  assert.deepEqual(series.blocks, [
    "layer1.0",
    "layer1.1",
    "layer2.0",
    "layer2.1",
    "layer3.0",
    "layer3.1",
    "layer4.0",
    "layer4.1",
  ]);
  const l2 = new Map(res.nodes.map((n) => [n.id, n.activation.l2]));
  assert.equal(series.values[0], l2.get("maxpool"), "layer1.0 is fed by the stem's max pool");
  for (const [i, block] of series.blocks.entries()) {
    const first = r18.nodes.find((n) => n.block === block)!;
    assert.equal(series.values[i], l2.get(first.inputs[0]), `${block}: gradient of ${first.inputs[0]}`);
  }
  const aligned = alignSeries([res, syntheticGradients(plain)]);
  assert.equal(aligned.series.length, 2);
  assert.equal(aligned.blocks.length, 8);
  assert.ok(
    aligned.series[1].every((v) => v !== null && v > 0),
    "the plain twin has a value at every block",
  );
});

test("gradient heatmap: one row per block, one column per snapshot, coloured on the shared log viridis scale", () => {
  const r18 = analyze(presets.resnet18()).graph!;
  assert.equal(gradientHeatmap([]).steps, 0);
  const one = gradientHeatmap([syntheticGradients(r18)]);
  assert.equal(one.steps, 1);
  assert.equal(one.blocks, 8);
  const three = gradientHeatmap([syntheticGradients(r18), null, syntheticGradients(r18)]);
  assert.equal(three.steps, 2, "an epoch without a snapshot adds no column");
  assert.equal((three.svg.match(/class="rs-heat-cell"/g) ?? []).length, 16);
  assert.match(three.svg, /data-epoch="3"/);
  // Synthetic gradients grow toward the input: the first block is the brightest (viridis yellow), the last the darkest.
  assert.match(three.svg, /fill="#fde725" data-block="layer1.0"/);
  assert.match(three.svg, /fill="#440154" data-block="layer4.1"/);
  assert.match(three.svg, /class="rs-legend"/);
});

test("the gradient heatmap of a short run of a small network is readable: cells widen to fill the grid", () => {
  const r20 = analyze(presets.resnet20()).graph!;
  const map = gradientHeatmap([syntheticGradients(r20), syntheticGradients(r20), syntheticGradients(r20)]);
  const widths = [...map.svg.matchAll(/class="rs-heat-cell"[^>]* width="(\d+)" height="(\d+)"/g)];
  assert.equal(widths.length, 3 * map.blocks);
  for (const [, w, h] of widths) {
    assert.ok(Number(w) >= 100, `cell width ${w}`);
    assert.ok(Number(h) >= 20, `cell height ${h}`);
  }
});

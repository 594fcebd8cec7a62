import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ExperimentError,
  experimentNet,
  experimentNets,
  fitToBudget,
  formatResultTable,
  parseDepths,
  planAt,
  plainVsResidualVerdict,
  type ErrorPoint,
  type ExperimentSeries,
  type ExperimentState,
} from "../src/experiment/plainVsResidual";
import { errorAxisMax, errorCurvesSvg } from "../src/render/errorCurves";
import { experimentBodyHtml, experimentReportHtml } from "../src/experiment/report";
import { experimentData, subsetDataset } from "../src/experiment/run";
import { syntheticDataset } from "../src/data/synthetic";
import { seriesColor } from "../src/presentation/colors";
import type { Throughput } from "../src/analysis/estimate";

const FASHION = { name: "fashion-mnist", input: [1, 28, 28] as [number, number, number], classes: 10 };

test("depths: 6n+2, sorted, at least two; anything else is named", () => {
  assert.deepEqual(parseDepths("56,20"), [20, 56]);
  assert.deepEqual(parseDepths(" 8, 14 ,20"), [8, 14, 20]);
  assert.throws(() => parseDepths("20,52"), /"52" is not a CIFAR-style depth 6n\+2/);
  assert.throws(() => parseDepths("20"), /at least two depths/);
  assert.throws(() => parseDepths("20,20"), /20 is listed twice/);
  assert.throws(() => parseDepths("20,,56"), ExperimentError);
  assert.throws(() => parseDepths("2,8"), /"2" is not/);
});

test("the nets: CIFAR-style 6n+2 layers, scaled to the dataset, plain and residual with the same parameters", () => {
  const plain = experimentNet(20, false, 16, FASHION);
  const residual = experimentNet(20, true, 16, FASHION);
  assert.equal(plain.graph.spec.residual, false);
  assert.equal(residual.graph.spec.residual, true);
  assert.deepEqual(plain.graph.spec.input, [1, 28, 28]);
  assert.equal(plain.graph.spec.classes, 10);
  assert.deepEqual(
    plain.graph.spec.stages.map((s) => [s.channels, s.blocks, s.stride]),
    [
      [16, 3, 1],
      [32, 3, 2],
      [64, 3, 2],
    ],
  );
  // Option A shortcuts have no parameters: the twins differ only in the additions.
  assert.equal(plain.graph.totals.params, residual.graph.totals.params);
  // 19 weighted conv layers + the fc layer = 20 (He et al. 2015 §4.2).
  const weighted = plain.graph.nodes.filter((n) => n.op.kind === "conv" || n.op.kind === "fc").length;
  assert.equal(weighted, 20);
  // The paper's resnet20 on CIFAR has 0.27M parameters; at 1 input channel and 16 wide the first conv is smaller.
  assert.ok(
    plain.graph.totals.params > 260_000 && plain.graph.totals.params < 275_000,
    String(plain.graph.totals.params),
  );
  const narrow = experimentNet(56, true, 8, FASHION);
  assert.equal(narrow.label, "ResNet-56");
  assert.match(narrow.graph.spec.name, /width 8/);
  assert.deepEqual(
    experimentNets([8, 14], 4, FASHION).map((n) => n.key),
    ["plain-8", "resnet-8", "plain-14", "resnet-14"],
  );
});

const throughput: Throughput = {
  backend: "wasm",
  workers: 1,
  macsPerSecond: 2e9,
  stepOverheadSeconds: 0.002,
  secondsPerParam: 0,
};
const planOptions = { depths: [20, 56], target: FASHION, epochs: 3, batchSize: 64, throughput };
const asked = { width: 16, samplesPerEpoch: 60_000, valSamples: 10_000 };

test("budget: the widths halve first, then the images per epoch; depths and epochs stay; the smallest is returned when none fits", () => {
  const full = planAt(asked, planOptions, asked);
  assert.equal(full.changes.length, 0);
  assert.equal(full.nets.length, 4);
  // The 56-layer nets cost about (56-2)/(20-2) = 3 times the 20-layer ones.
  const ratio = full.nets[2].seconds / full.nets[0].seconds;
  assert.ok(ratio > 2.5 && ratio < 3.2, String(ratio));
  const budget = full.seconds / 10;
  const fitted = fitToBudget(asked, planOptions, budget);
  assert.ok(fitted.seconds <= budget, `${fitted.seconds} ≤ ${budget}`);
  assert.equal(fitted.width, 8, "widths halve before the data shrinks");
  assert.ok(fitted.samplesPerEpoch < 60_000);
  assert.ok(fitted.valSamples >= 1000 && fitted.valSamples < 10_000);
  assert.equal(fitted.epochs, 3);
  assert.deepEqual(
    fitted.nets.map((n) => n.key),
    full.nets.map((n) => n.key),
  );
  assert.ok(fitted.changes.some((c) => c.startsWith("widths 16/32/64 → 8/16/32")));
  // A budget the full experiment fits keeps it as asked.
  assert.deepEqual(fitToBudget(asked, planOptions, full.seconds * 2).changes, []);
  // One second cannot hold four nets: the smallest variant comes back, over budget.
  const smallest = fitToBudget(asked, planOptions, 1);
  assert.ok(smallest.seconds > 1);
  assert.equal(smallest.width, 4);
  assert.equal(smallest.samplesPerEpoch, 20 * 64);
});

function series(
  label: string,
  depth: number,
  residual: boolean,
  errors: [number, number][],
  n = 5000,
): ExperimentSeries {
  const points: ErrorPoint[] = errors.map(([trainError, valError], i) => ({ epoch: i + 1, trainError, valError }));
  return {
    key: label.toLowerCase(),
    label,
    depth,
    residual,
    params: 1000,
    status: "completed",
    points,
    trainSamples: n,
    valSamples: n,
    seconds: 10,
  };
}

test("verdict: the paper's result is claimed only when the deep plain net trained worse and the ResNets did not", () => {
  const paperLike = plainVsResidualVerdict([
    series("plain-20", 20, false, [
      [0.2, 0.22],
      [0.1, 0.12],
    ]),
    series("ResNet-20", 20, true, [
      [0.19, 0.21],
      [0.09, 0.11],
    ]),
    series("plain-56", 56, false, [
      [0.3, 0.31],
      [0.18, 0.2],
    ]),
    series("ResNet-56", 56, true, [
      [0.17, 0.2],
      [0.07, 0.1],
    ]),
  ]);
  assert.equal(paperLike.reproduced, true);
  assert.equal(paperLike.plain?.train, "worse");
  assert.equal(paperLike.residual?.train, "better");
  assert.equal(paperLike.atDepth?.train, "worse");
  assert.match(paperLike.lines[0], /^Reproduced on this data and budget/);
  assert.match(paperLike.lines.join("\n"), /plain-56 trained worse than plain-20: training error 8\.0 points higher/);

  // The deep plain net is as good as the shallow one: said plainly, the paper's result not claimed.
  const flat = plainVsResidualVerdict([
    series("plain-20", 20, false, [[0.1, 0.12]]),
    series("ResNet-20", 20, true, [[0.1, 0.12]]),
    series("plain-56", 56, false, [[0.095, 0.118]]),
    series("ResNet-56", 56, true, [[0.094, 0.117]]),
  ]);
  assert.equal(flat.reproduced, false);
  assert.equal(flat.plain?.train, "same");
  assert.match(flat.lines[0], /^Not reproduced on this data and budget: this run does not show the paper's result/);
  assert.match(
    flat.lines.join("\n"),
    /plain-56 was not worse than plain-20 on this data and budget.*did not degrade here/,
  );
  assert.doesNotMatch(flat.lines.join("\n"), /degradation He et al/);

  // A better deep plain net is "better", also not the paper's result.
  const better = plainVsResidualVerdict([
    series("plain-20", 20, false, [[0.2, 0.2]]),
    series("plain-56", 56, false, [[0.1, 0.1]]),
    series("ResNet-20", 20, true, [[0.2, 0.2]]),
    series("ResNet-56", 56, true, [[0.1, 0.1]]),
  ]);
  assert.equal(better.plain?.train, "better");
  assert.equal(better.reproduced, false);

  // The noise margin grows as the sets shrink: 8 points on 50 images is noise.
  const small = plainVsResidualVerdict([
    series("plain-20", 20, false, [[0.1, 0.1]], 50),
    series("plain-56", 56, false, [[0.18, 0.18]], 50),
    series("ResNet-20", 20, true, [[0.1, 0.1]], 50),
    series("ResNet-56", 56, true, [[0.1, 0.1]], 50),
  ]);
  assert.equal(small.plain?.train, "same");
  assert.ok(small.plain.trainMargin > 0.08);

  // Unfinished runs are named; without two plain nets there is no comparison and no claim.
  const cancelled = plainVsResidualVerdict([
    series("plain-20", 20, false, [[0.1, 0.1]]),
    { ...series("plain-56", 56, false, []), status: "cancelled" },
    series("ResNet-20", 20, true, [[0.1, 0.1]]),
  ]);
  assert.equal(cancelled.reproduced, false);
  assert.equal(cancelled.plain, null);
  assert.match(cancelled.lines.join("\n"), /plain-56: cancelled/);
});

function stateOf(list: ExperimentSeries[]): ExperimentState {
  return {
    dataset: "fashion-mnist",
    backend: "wasm",
    epochs: 2,
    depths: [20, 56],
    width: 16,
    series: list,
    verdict: plainVsResidualVerdict(list),
    seconds: 40,
  };
}

test("the chart: two panels as Fig. 6, dashed thin training and bold validation lines, one colour per depth", () => {
  const state = stateOf([
    series("plain-20", 20, false, [
      [0.3, 0.25],
      [0.2, 0.18],
    ]),
    series("ResNet-20", 20, true, [
      [0.28, 0.24],
      [0.19, 0.17],
    ]),
    series("plain-56", 56, false, [
      [0.4, 0.35],
      [0.3, 0.27],
    ]),
    series("ResNet-56", 56, true, [
      [0.26, 0.22],
      [0.15, 0.14],
    ]),
  ]);
  const svg = errorCurvesSvg(state);
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /data-panel="plain"[\s\S]*data-panel="residual"/);
  const paths = [
    ...svg.matchAll(
      /<path class="(train|val)" d="[^"]+" fill="none" stroke="(#[0-9a-f]+)" stroke-width="([\d.]+)"( stroke-dasharray="5 3")?/g,
    ),
  ];
  assert.equal(paths.length, 8, "a training and a validation line per net");
  for (const [, kind, , width, dash] of paths) {
    if (kind === "train") {
      assert.ok(dash, "training lines are dashed");
      assert.equal(width, "1.2");
    } else {
      assert.equal(dash, undefined, "validation lines are solid");
      assert.equal(width, "2.8");
    }
  }
  const colorOf = (key: string) => new RegExp(`data-series="${key}"[^]*?stroke="(#[0-9a-f]+)"`).exec(svg)?.[1];
  assert.equal(colorOf("plain-20"), seriesColor(0));
  assert.equal(colorOf("resnet-20"), seriesColor(0));
  assert.equal(colorOf("plain-56"), seriesColor(1));
  assert.notEqual(seriesColor(0), seriesColor(1));
  assert.equal(errorAxisMax(state.series), 0.4);
  assert.match(svg, />20 layers</);
  assert.match(svg, />56 layers</);
  // A one-epoch run still shows: markers, no lines.
  const single = errorCurvesSvg(stateOf([series("plain-20", 20, false, [[0.3, 0.25]])]));
  assert.doesNotMatch(single, /<path class="train"/);
  assert.match(single, /<circle class="val"/);

  const table = formatResultTable(state);
  assert.match(table, /^net\s+params\s+epochs\s+train error\s+val error\s+status\s+time$/m);
  assert.match(table, /^plain-56\s+1,000\s+2\s+30\.00%\s+27\.00%\s+completed/m);
  const page = experimentReportHtml(state);
  assert.match(page, /Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"/);
  assert.doesNotMatch(page, /<script/);
  assert.match(experimentBodyHtml(state), /<td>ResNet-56<\/td>[^]*?15\.00%/);
});

test("the data every net sees: the same fixed validation subset, held out from the training set when there is no test split", () => {
  const dataset = syntheticDataset({ count: 300, classes: 3, shape: [1, 8, 8], seed: 4 });
  const held = experimentData({ train: dataset, val: null }, 0.1, Infinity);
  assert.equal(held.val.count, 30);
  assert.equal(held.train.count, 270);
  const capped = experimentData({ train: dataset, val: null }, 0.1, 12);
  assert.equal(capped.val.count, 12);
  const again = experimentData({ train: dataset, val: null }, 0.1, 12);
  assert.deepEqual(capped.val.labels, again.val.labels);
  assert.deepEqual(capped.val.images, again.val.images);
  const withTest = experimentData({ train: dataset, val: subsetDataset(dataset, [0, 1, 2, 3]) }, 0.1, 2);
  assert.equal(withTest.train.count, 300, "a dataset's own validation set leaves its training set whole");
  assert.equal(withTest.val.count, 2);
});

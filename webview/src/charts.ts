/**
 * The two chart views: plain vs residual per-layer gradient norms side by side, and live training curves
 * with a gradient-flow snapshot per epoch. Drawn with chart.js in the page's theme colours.
 */
import { trainingProgress } from "resnet-studio/runtime/progress";
import {
  Chart,
  BarController,
  BarElement,
  LineController,
  LineElement,
  PointElement,
  CategoryScale,
  LinearScale,
  LogarithmicScale,
  Legend,
  Tooltip,
  type ChartConfiguration,
} from "chart.js";
import type { ModelGraph } from "resnet-studio/analysis/graph";
import type { GradientPair, TrainingState } from "resnet-studio/protocol";
import { layerGradientSeries } from "./details";
import { alignSeries } from "./blockSeries";
import { gradientHeatmap } from "./gradientHeatmap";
import type { LrRangeResult } from "resnet-studio/runtime/lrFinder";
import { formatNorm } from "resnet-studio/render/format";

Chart.register(
  BarController,
  BarElement,
  LineController,
  LineElement,
  PointElement,
  CategoryScale,
  LinearScale,
  LogarithmicScale,
  Legend,
  Tooltip,
);

function themeColor(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

function palette(): { text: string; grid: string; residual: string; plain: string; val: string; series: string[] } {
  return {
    text: themeColor("--vscode-editor-foreground", "#cccccc"),
    grid: themeColor("--vscode-panel-border", "#80808040"),
    residual: themeColor("--vscode-charts-blue", "#3794ff"),
    plain: themeColor("--vscode-charts-orange", "#d18616"),
    val: themeColor("--vscode-charts-green", "#89d185"),
    series: [
      "--vscode-charts-blue",
      "--vscode-charts-purple",
      "--vscode-charts-green",
      "--vscode-charts-yellow",
      "--vscode-charts-orange",
      "--vscode-charts-red",
    ].map((v, i) => themeColor(v, ["#3794ff", "#b180d7", "#89d185", "#cca700", "#d18616", "#f14c4c"][i]!)),
  };
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls: string, text = ""): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

function axes(
  log: boolean,
  yTitle: string,
  min?: number,
  max?: number,
): NonNullable<ChartConfiguration<"bar" | "line">["options"]>["scales"] {
  const p = palette();
  return {
    x: { ticks: { color: p.text, maxRotation: 60, autoSkip: true }, grid: { color: p.grid } },
    y: {
      type: log ? "logarithmic" : "linear",
      min,
      max,
      title: { display: true, text: yTitle, color: p.text },
      ticks: { color: p.text, ...(log ? { callback: logTickLabel } : {}) },
      grid: { color: p.grid },
    },
  };
}

/** On a log axis, label only 1, 2 and 5 × 10ᵏ: chart.js labels every minor tick, and near a decade they overlap. */
function logTickLabel(value: string | number): string {
  const v = Number(value);
  if (!(v > 0)) return "";
  const mantissa = Math.round(v / 10 ** Math.floor(Math.log10(v) + 1e-9));
  return mantissa === 1 || mantissa === 2 || mantissa === 5 ? v.toPrecision(1).replace(/\.?0+e/, "e") : "";
}

/** The y-axis of the combined gradient chart. */
export const BLOCK_INPUT_AXIS = "‖dL/dx‖ at block input";

/**
 * Residual net and plain twin on one pair of log axes, ‖dL/dx‖ at each block's input over block index; a toggle
 * adds the same pair without BN, so the four curves of the finding share the axes (He et al. 2015 §4.1).
 */
export class GradientCharts {
  private readonly caption: HTMLElement;
  private readonly canvas = document.createElement("canvas");
  private chart: Chart | null = null;
  private readonly withoutBnBox: HTMLInputElement;
  private pair: GradientPair | null = null;
  private withoutBn: GradientPair | null = null;

  constructor(
    host: HTMLElement,
    onCompute: () => void,
    private readonly onComputeWithoutBn: () => Promise<GradientPair | null>,
  ) {
    const root = el("div", "charts");
    this.caption = el("p", "chart-caption", "No gradient flow yet.");
    const compute = document.createElement("vscode-button");
    compute.textContent = "Compute gradient flow";
    compute.setAttribute("data-action-local", "compute-gradients");
    compute.addEventListener("click", onCompute);
    const toggle = el("label", "chart-toggle");
    this.withoutBnBox = document.createElement("input");
    this.withoutBnBox.type = "checkbox";
    this.withoutBnBox.setAttribute("data-toggle", "without-bn");
    toggle.append(this.withoutBnBox, " add both without BN");
    this.withoutBnBox.addEventListener("change", () => void this.toggleWithoutBn());
    const box = el("div", "chart-box");
    box.append(this.canvas);
    this.canvas.setAttribute("data-chart", "blocks");
    const note = el(
      "p",
      "chart-note",
      "One forward/backward pass at initialisation on a seeded random batch (cross-entropy on random labels): the L2 norm of the gradient at each residual block's input, input side on the left. What is plotted is measured, not the textbook story: with BN, deep plain nets' gradients grow toward the input; without BN they vanish.",
    );
    root.append(this.caption, compute, toggle, box, note);
    host.append(root);
  }

  setBusy(busy: boolean): void {
    if (busy) this.caption.textContent = "Computing gradient flow…";
  }

  private async toggleWithoutBn(): Promise<void> {
    if (this.withoutBnBox.checked && !this.withoutBn) {
      this.caption.textContent = "Computing gradient flow without BN…";
      this.withoutBn = await this.onComputeWithoutBn().catch(() => null);
      if (!this.withoutBn) this.withoutBnBox.checked = false;
    }
    this.redraw();
  }

  update(pair: GradientPair | null, _graph: ModelGraph | null): void {
    // Another network's no-BN curves would be stale.
    if (pair?.residual.model !== this.pair?.residual.model || pair === null) this.withoutBn = null;
    this.pair = pair;
    this.redraw();
  }

  private redraw(): void {
    const pair = this.pair;
    if (!pair) {
      this.caption.textContent =
        "No gradient flow yet: run “Gradient flow” to compare this network with its plain twin.";
      return;
    }
    if (this.canvas.offsetParent === null) return; // hidden: drawn when the tab is shown
    const p = palette();
    const runs: { result: GradientPair["residual"]; label: string; color: string; dashed: boolean }[] = [
      { result: pair.residual, label: `${pair.residual.model} (residual)`, color: p.residual, dashed: false },
    ];
    if (pair.plain)
      runs.push({
        result: pair.plain,
        label: /plain/i.test(pair.plain.model) ? pair.plain.model : `${pair.plain.model} (plain twin)`,
        color: p.plain,
        dashed: false,
      });
    const extra = this.withoutBnBox.checked ? this.withoutBn : null;
    if (extra) {
      runs.push({
        result: extra.residual,
        label: `${pair.residual.model} (residual, no BN)`,
        color: p.residual,
        dashed: true,
      });
      if (extra.plain)
        runs.push({
          result: extra.plain,
          label: `${pair.residual.model} (plain twin, no BN)`,
          color: p.plain,
          dashed: true,
        });
    }
    const { blocks, series } = alignSeries(runs.map((r) => r.result));
    const all = series.flat().filter((v): v is number => v !== null && v > 0 && Number.isFinite(v));
    const min = all.length ? 10 ** Math.floor(Math.log10(Math.min(...all))) : undefined;
    const max = all.length ? 10 ** Math.ceil(Math.log10(Math.max(...all))) : undefined;
    const ratio = (r: GradientPair["residual"]): string =>
      `${formatNorm(r.ratio.value)} (‖g‖ first block input / last block output)`;
    this.caption.textContent =
      `${pair.residual.model}: ratio ${ratio(pair.residual)}` +
      (pair.plain ? ` · plain twin: ratio ${ratio(pair.plain)}` : " · no plain twin") +
      ` · backend ${pair.residual.backend}, batch ${pair.residual.batch}`;
    this.chart?.destroy();
    this.chart = new Chart(this.canvas, {
      type: "line",
      data: {
        labels: blocks.map((b, i) => `${i + 1} ${b}`),
        datasets: runs.map((r, i) => ({
          label: r.label,
          data: series[i]!,
          borderColor: r.color,
          backgroundColor: r.color,
          borderDash: r.dashed ? [6, 4] : [],
          pointRadius: 2,
          tension: 0,
          spanGaps: true,
        })),
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: { legend: { labels: { color: p.text } } },
        scales: {
          ...axes(true, BLOCK_INPUT_AXIS, min, max),
          x: {
            title: { display: true, text: "block (input side first)", color: p.text },
            ticks: { color: p.text, maxRotation: 60, autoSkip: true },
            grid: { color: p.grid },
          },
        },
      },
    });
    // What the browser tests read: how many curves share this one pair of axes.
    this.canvas.setAttribute("data-series", String(runs.length));
    this.canvas.setAttribute("data-y-axis", BLOCK_INPUT_AXIS);
  }
}

/** Live training: progress, loss and accuracy per epoch, and each epoch's gradient-flow snapshot. */
export class TrainingCharts {
  private readonly statusLine: HTMLElement;
  private readonly progress: HTMLProgressElement;
  private readonly metrics: HTMLElement;
  private readonly lossCanvas = document.createElement("canvas");
  private readonly accCanvas = document.createElement("canvas");
  private readonly gradCanvas = document.createElement("canvas");
  private lossChart: Chart | null = null;
  private accChart: Chart | null = null;
  private gradChart: Chart | null = null;
  private drawnEpochs = -1;
  private last: TrainingState | null = null;
  private readonly heatmap = el("div", "chart-heatmap");
  private readonly lrCaption = el("p", "chart-note", "");
  private readonly lrCanvas = document.createElement("canvas");
  private lrChart: Chart | null = null;
  private lrResult: LrRangeResult | null = null;

  constructor(host: HTMLElement, onTrain: () => void, onCancel: () => void) {
    const root = el("div", "charts");
    this.statusLine = el(
      "p",
      "chart-caption",
      "Not trained yet. “Train” trains the open spec (or a small bundled network) on the embedded MNIST digits.",
    );
    this.progress = document.createElement("progress");
    this.progress.max = 1;
    this.progress.value = 0;
    const train = document.createElement("vscode-button");
    train.textContent = "Train";
    train.addEventListener("click", onTrain);
    const cancel = document.createElement("vscode-button");
    cancel.textContent = "Cancel";
    cancel.setAttribute("secondary", "");
    cancel.addEventListener("click", onCancel);
    this.metrics = el("div", "metrics");
    const row = el("div", "chart-row");
    const a = el("div", "chart-box short"),
      b = el("div", "chart-box short");
    a.append(this.lossCanvas);
    b.append(this.accCanvas);
    this.lossCanvas.setAttribute("data-chart", "loss");
    this.accCanvas.setAttribute("data-chart", "accuracy");
    row.append(a, b);
    const gradBox = el("div", "chart-box");
    this.gradCanvas.setAttribute("data-chart", "epoch-gradients");
    gradBox.append(this.gradCanvas);
    this.heatmap.setAttribute("data-chart", "gradient-heatmap");
    const lrBox = el("div", "chart-box short");
    this.lrCanvas.setAttribute("data-chart", "lr-range");
    lrBox.append(this.lrCanvas);
    root.append(
      this.statusLine,
      this.progress,
      train,
      cancel,
      this.metrics,
      row,
      el("p", "chart-note", "Gradient flow after each epoch (‖dL/d output‖₂ per weight layer, log scale):"),
      gradBox,
      el(
        "p",
        "chart-note",
        "Gradients over training: ‖dL/dx‖ at each block's input (rows, input side at the top) after each epoch (columns):",
      ),
      this.heatmap,
      this.lrCaption,
      lrBox,
    );
    host.append(root);
  }

  update(state: TrainingState): void {
    this.last = state;
    const step = state.lastStep;
    const progress = trainingProgress(state);
    this.progress.value = state.status === "finished" ? 1 : (progress?.fraction ?? 0);
    const head =
      state.status === "idle"
        ? null
        : `${state.model ?? "model"} on ${state.dataset ?? "?"} · backend ${state.backend ?? "?"} · batch ${state.batch} · ${state.status}`;
    if (head) this.statusLine.textContent = head + (state.message ? ` — ${state.message}` : "");
    const lastEpoch = state.history[state.history.length - 1];
    this.metrics.textContent = [
      ...state.notes,
      step && progress
        ? `${progress.text} · loss ${step.loss.toFixed(4)}`
        : state.status === "running"
          ? "waiting for the first step…"
          : "",
      lastEpoch
        ? `last epoch: val accuracy ${(lastEpoch.valAccuracy * 100).toFixed(2)}% · val loss ${lastEpoch.valLoss.toFixed(4)} · ${Math.round(lastEpoch.imagesPerSecond)} img/s`
        : "",
    ]
      .filter(Boolean)
      .join("\n");
    if (this.lossCanvas.offsetParent === null) return; // hidden: charts need a size; drawn when shown
    if (this.drawnEpochs === state.history.length && this.lossChart) return;
    this.drawHeatmap(state);
    this.drawnEpochs = state.history.length;
    this.drawCurves(state);
  }

  private drawCurves(state: TrainingState): void {
    const p = palette();
    const labels = state.history.map((h) => String(h.epoch + 1));
    const line = (
      chart: Chart | null,
      canvas: HTMLCanvasElement,
      sets: { label: string; data: number[]; color: string }[],
      yTitle: string,
      log = false,
      xLabels = labels,
    ): Chart => {
      chart?.destroy();
      return new Chart(canvas, {
        type: "line",
        data: {
          labels: xLabels,
          datasets: sets.map((s) => ({
            label: s.label,
            data: s.data,
            borderColor: s.color,
            backgroundColor: s.color,
            pointRadius: 2,
            tension: 0,
          })),
        },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          plugins: { legend: { labels: { color: p.text } } },
          scales: axes(log, yTitle),
        },
      });
    };
    this.lossChart = line(
      this.lossChart,
      this.lossCanvas,
      [
        { label: "train loss", data: state.history.map((h) => h.loss), color: p.residual },
        { label: "val loss", data: state.history.map((h) => h.valLoss), color: p.val },
      ],
      "loss (per epoch)",
    );
    this.accChart = line(
      this.accChart,
      this.accCanvas,
      [
        { label: "train accuracy", data: state.history.map((h) => h.accuracy), color: p.residual },
        { label: "val accuracy", data: state.history.map((h) => h.valAccuracy), color: p.val },
      ],
      "accuracy",
    );
    const snaps = state.gradientSnapshots
      .map((g, i) => ({ g, i }))
      .filter((x): x is { g: NonNullable<typeof x.g>; i: number } => x.g !== null);
    if (snaps.length === 0) return;
    const first = layerGradientSeries(snaps[0]!.g, null);
    this.gradChart = line(
      this.gradChart,
      this.gradCanvas,
      snaps.map(({ g, i }, k) => ({
        label: `epoch ${i + 1}`,
        data: layerGradientSeries(g, null).values,
        color: p.series[k % p.series.length]!,
      })),
      "‖dL/d output‖₂ (log)",
      true,
      first.labels,
    );
  }

  /** Find Learning Rate: loss against the rate on a log axis, and the suggested rate (Smith 2017's range test). */
  showLrRange(result: LrRangeResult | null): void {
    this.lrResult = result;
    if (!result) return;
    this.lrCaption.textContent =
      `Learning-rate range test of ${result.model}: ${result.points.length} steps` +
      (result.suggested !== null
        ? ` · suggested rate ${formatNorm(result.suggested)} (steepest fall of the smoothed loss)`
        : " · no rate suggested: the loss never fell") +
      (result.diverged ? " · stopped when the loss diverged" : "");
    if (this.lrCanvas.offsetParent === null) return;
    const p = palette();
    this.lrChart?.destroy();
    const xy = (pick: (q: LrRangeResult["points"][number]) => number) =>
      result.points.map((q) => ({ x: q.lr, y: pick(q) }));
    this.lrChart = new Chart(this.lrCanvas, {
      type: "line",
      data: {
        datasets: [
          {
            label: "loss",
            data: xy((q) => q.loss),
            borderColor: p.grid,
            backgroundColor: p.grid,
            pointRadius: 1,
            tension: 0,
          },
          {
            label: "smoothed loss",
            data: xy((q) => q.smoothed),
            borderColor: p.residual,
            backgroundColor: p.residual,
            pointRadius: 0,
            tension: 0,
          },
        ],
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: { legend: { labels: { color: p.text } } },
        scales: {
          x: {
            type: "logarithmic",
            title: { display: true, text: "learning rate (log)", color: p.text },
            ticks: { color: p.text, callback: logTickLabel },
            grid: { color: p.grid },
          },
          y: {
            type: "linear",
            title: { display: true, text: "training loss", color: p.text },
            ticks: { color: p.text },
            grid: { color: p.grid },
          },
        },
      },
    });
    this.lrCanvas.setAttribute("data-points", String(result.points.length));
    this.lrCanvas.setAttribute("data-suggested", result.suggested === null ? "" : String(result.suggested));
  }

  /** Live: one column more with every snapshot the run takes. */
  private drawHeatmap(state: TrainingState): void {
    const map = gradientHeatmap(state.gradientSnapshots);
    this.heatmap.innerHTML = map.svg;
    this.heatmap.setAttribute("data-steps", String(map.steps));
  }

  /** Redraw after the pane becomes visible. */
  refresh(): void {
    if (this.last) {
      this.drawnEpochs = -1;
      this.update(this.last);
    }
    this.showLrRange(this.lrResult);
  }
}

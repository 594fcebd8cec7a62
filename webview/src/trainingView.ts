/**
 * The training view: live progress, loss and accuracy per step (smoothed as TensorBoard does), each epoch's gradient-flow snapshot (as curves and
 * as a depth × epoch heatmap) and the learning-rate range test, drawn with chart.js in the page's theme colours.
 */
import { trainingProgress, trainingStatusLine } from "resnet-studio/runtime/progress";
import type { TrainingState } from "resnet-studio/protocol";
import type { LrRangeResult } from "resnet-studio/runtime/lrFinder";
import { formatNorm } from "resnet-studio/presentation/format";
import { smoothed } from "resnet-studio/runtime/stepCurves";
import { layerGradientSeries } from "./details";
import { gradientHeatmap } from "./gradientHeatmap";
import { Chart, axes, curve, lineOptions, logTickLabel, palette, withClass } from "./chartTheme";
import { DatasetPreviewView } from "./datasetPreview";

/** Live training: progress, loss and accuracy per epoch, and each epoch's gradient-flow snapshot. */
export class TrainingView {
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
  private readonly heatmap = withClass("div", "chart-heatmap");
  private readonly lrCaption = withClass("p", "chart-note", "");
  private readonly lrCanvas = document.createElement("canvas");
  private lrChart: Chart | null = null;
  private lrResult: LrRangeResult | null = null;
  private readonly preview = new DatasetPreviewView();

  constructor(host: HTMLElement, onTrain: () => void, onCancel: () => void, onTrainOn: () => void = () => undefined) {
    const root = withClass("div", "charts");
    this.statusLine = withClass(
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
    const trainOn = document.createElement("vscode-button");
    trainOn.textContent = "Train on…";
    trainOn.setAttribute("secondary", "");
    trainOn.title =
      "Choose the dataset (embedded MNIST digits, a folder of IDX files or an ImageFolder, a recent one), then train";
    trainOn.addEventListener("click", onTrainOn);
    this.metrics = withClass("div", "metrics");
    const row = withClass("div", "chart-row");
    const a = withClass("div", "chart-box short"),
      b = withClass("div", "chart-box short");
    a.append(this.lossCanvas);
    b.append(this.accCanvas);
    this.lossCanvas.setAttribute("data-chart", "loss");
    this.accCanvas.setAttribute("data-chart", "accuracy");
    row.append(a, b);
    const gradBox = withClass("div", "chart-box");
    this.gradCanvas.setAttribute("data-chart", "epoch-gradients");
    gradBox.append(this.gradCanvas);
    this.heatmap.setAttribute("data-chart", "gradient-heatmap");
    const lrBox = withClass("div", "chart-box short");
    this.lrCanvas.setAttribute("data-chart", "lr-range");
    lrBox.append(this.lrCanvas);
    root.append(
      this.statusLine,
      this.progress,
      train,
      trainOn,
      cancel,
      this.metrics,
      this.preview.element,
      row,
      withClass("p", "chart-note", "Gradient flow after each epoch (‖dL/d output‖₂ per weight layer, log scale):"),
      gradBox,
      withClass(
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
    this.preview.show(state.preview);
    const step = state.lastStep;
    const progress = trainingProgress(state);
    this.progress.value = state.status === "finished" ? 1 : (progress?.fraction ?? 0);
    const head = trainingStatusLine(state);
    if (head) this.statusLine.textContent = head;
    const lastEpoch = state.history[state.history.length - 1];
    this.metrics.textContent = [
      ...state.notes,
      step && progress
        ? `${progress.text} · loss ${step.loss.toFixed(4)}`
        : state.status === "running"
          ? "waiting for the first step…"
          : "",
      lastEpoch
        ? lastEpoch.valAccuracy === undefined || lastEpoch.valLoss === undefined
          ? `last epoch: train accuracy ${(lastEpoch.accuracy * 100).toFixed(2)}% · no validation · ${Math.round(lastEpoch.imagesPerSecond)} img/s`
          : `last epoch: val accuracy ${(lastEpoch.valAccuracy * 100).toFixed(2)}% · val loss ${lastEpoch.valLoss.toFixed(4)} · ${Math.round(lastEpoch.imagesPerSecond)} img/s`
        : "",
    ]
      .filter(Boolean)
      .join("\n");
    if (this.lossCanvas.offsetParent === null) return; // hidden: charts need a size; drawn when shown
    this.drawStepCurves(state);
    if (this.drawnEpochs === state.history.length) return;
    this.drawHeatmap(state);
    this.drawnEpochs = state.history.length;
    this.drawCurves(state);
  }

  /**
   * Loss and accuracy against the run's step, from the first logged step: each batch's value (thin), TensorBoard's
   * smoothing of it, and the epoch means (training and validation) at each epoch's last step.
   */
  private drawStepCurves(state: TrainingState): void {
    const p = palette();
    const stepsPerEpoch = state.lastStep?.stepsPerEpoch ?? 0;
    const atEpochEnd = (h: TrainingState["history"][number]): number => (h.epoch + 1) * stepsPerEpoch - 1;
    const sets = (metric: "loss" | "accuracy", val: "valLoss" | "valAccuracy") => {
      const raw = state.steps.map((s) => ({ x: s.step, y: s[metric] }));
      const smooth = smoothed(state.steps.map((s) => s[metric]));
      return [
        { ...curve(`batch ${metric}`, raw, p.grid, 0), borderWidth: 1 },
        {
          ...curve(
            `smoothed ${metric}`,
            raw.map((q, i) => ({ x: q.x, y: smooth[i] })),
            p.residual,
            0,
          ),
          borderWidth: 2,
        },
        curve(
          `train ${metric} (epoch)`,
          state.history.map((h) => ({ x: atEpochEnd(h), y: h[metric] })),
          p.series[1] ?? p.residual,
          3,
        ),
        // A run without validation (--val-fraction 0) draws no val curve.
        ...(state.history.some((h) => h[val] !== undefined)
          ? [
              curve(
                `val ${metric} (epoch)`,
                state.history.map((h) => ({ x: atEpochEnd(h), y: h[val] ?? NaN })),
                p.val,
                3,
              ),
            ]
          : []),
      ];
    };
    const draw = (
      chart: Chart | null,
      canvas: HTMLCanvasElement,
      datasets: ReturnType<typeof sets>,
      yTitle: string,
    ): Chart => {
      canvas.setAttribute("data-points", String(state.steps.length));
      if (chart && chart.data.datasets.length === datasets.length) {
        chart.data.datasets = datasets;
        chart.update("none");
        return chart;
      }
      chart?.destroy();
      return new Chart(canvas, {
        type: "line",
        data: { datasets },
        options: lineOptions(p.text, {
          x: {
            type: "linear",
            title: { display: true, text: "step", color: p.text },
            ticks: { color: p.text },
            grid: { color: p.grid },
          },
          y: {
            type: "linear",
            title: { display: true, text: yTitle, color: p.text },
            ticks: { color: p.text },
            grid: { color: p.grid },
          },
        }),
      });
    };
    this.lossChart = draw(this.lossChart, this.lossCanvas, sets("loss", "valLoss"), "loss");
    this.accChart = draw(this.accChart, this.accCanvas, sets("accuracy", "valAccuracy"), "accuracy");
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
          datasets: sets.map((s) => curve(s.label, s.data, s.color)),
        },
        options: lineOptions(p.text, axes(log, yTitle)),
      });
    };
    const snaps = state.gradientSnapshots
      .map((g, i) => ({ g, i }))
      .filter((x): x is { g: NonNullable<typeof x.g>; i: number } => x.g !== null);
    if (snaps.length === 0) {
      // A new run has no snapshot yet: the previous run's curves must not stay.
      this.gradChart?.destroy();
      this.gradChart = null;
      return;
    }
    const first = layerGradientSeries(snaps[0].g, null);
    this.gradChart = line(
      this.gradChart,
      this.gradCanvas,
      snaps.map(({ g, i }, k) => ({
        label: `epoch ${i + 1}`,
        data: layerGradientSeries(g, null).values,
        color: p.series[k % p.series.length],
      })),
      "‖dL/d output‖₂ (log)",
      true,
      first.labels,
    );
  }

  /** Find Learning Rate: loss against the rate on a log axis, and the suggested rate (Smith 2017's range test). */
  showLrRange(result: LrRangeResult | null): void {
    this.lrResult = result;
    if (!result) {
      // Another network: its range test is not this one's.
      this.lrChart?.destroy();
      this.lrChart = null;
      this.lrCaption.textContent = "";
      this.lrCanvas.removeAttribute("data-points");
      return;
    }
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
          curve(
            "loss",
            xy((q) => q.loss),
            p.grid,
            1,
          ),
          curve(
            "smoothed loss",
            xy((q) => q.smoothed),
            p.residual,
            0,
          ),
        ],
      },
      options: lineOptions(p.text, {
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
      }),
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

/**
 * The gradient-flow view: the residual net and its plain twin on one pair of log axes, ‖dL/dx‖ at each block's
 * input over block index, drawn with chart.js in the page's theme colours.
 */
import type { GradientPair } from "resnet-studio/protocol";
import { formatNorm } from "resnet-studio/presentation/format";
import { alignSeries } from "./blockSeries";
import { Chart, axes, curve, lineOptions, palette, withClass } from "./chartTheme";

/** The y-axis of the combined gradient chart. */
export const BLOCK_INPUT_AXIS = "‖dL/dx‖ at block input";

/**
 * Residual net and plain twin on one pair of log axes, ‖dL/dx‖ at each block's input over block index; a toggle
 * adds the same pair without BN, so the four curves of the finding share the axes (He et al. 2015 §4.1).
 */
export class GradientsView {
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
    const root = withClass("div", "charts");
    this.caption = withClass("p", "chart-caption", "No gradient flow yet.");
    const compute = document.createElement("vscode-button");
    compute.textContent = "Compute gradient flow";
    compute.setAttribute("data-action-local", "compute-gradients");
    compute.addEventListener("click", onCompute);
    const toggle = withClass("label", "chart-toggle");
    this.withoutBnBox = document.createElement("input");
    this.withoutBnBox.type = "checkbox";
    this.withoutBnBox.setAttribute("data-toggle", "without-bn");
    toggle.append(this.withoutBnBox, " add both without BN");
    this.withoutBnBox.addEventListener("change", () => void this.toggleWithoutBn());
    const box = withClass("div", "chart-box");
    box.append(this.canvas);
    this.canvas.setAttribute("data-chart", "blocks");
    const note = withClass(
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

  update(pair: GradientPair | null): void {
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
          ...curve(r.label, series[i], r.color),
          borderDash: r.dashed ? [6, 4] : [],
          spanGaps: true,
        })),
      },
      options: lineOptions(p.text, {
        ...axes(true, BLOCK_INPUT_AXIS, min, max),
        x: {
          title: { display: true, text: "block (input side first)", color: p.text },
          ticks: { color: p.text, maxRotation: 60, autoSkip: true },
          grid: { color: p.grid },
        },
      }),
    });
    // What the browser tests read: how many curves share this one pair of axes.
    this.canvas.setAttribute("data-series", String(runs.length));
    this.canvas.setAttribute("data-y-axis", BLOCK_INPUT_AXIS);
  }
}

/**
 * The gradient-flow view: the residual net and its plain twin on one pair of log axes, ‖dL/dx‖ at each block's
 * input over block index, drawn with chart.js in the page's theme colours, with the verdict in words.
 */
import type { GradientPair } from "resnet-studio/protocol";
import { formatNorm } from "resnet-studio/presentation/format";
import { alignSeries } from "./blockSeries";
import { Chart, axes, curve, lineOptions, palette, withClass } from "./chartTheme";
import { curveLabel, gradientVerdict, type VerdictInput } from "./gradientVerdict";

/**
 * The y-axis of the combined gradient chart. The diagram's gradient overlay shows ‖∂L/∂out‖ at each layer's output;
 * a block's input is the output of the layer before it, so the chart's value is that layer's number in the diagram.
 */
export const BLOCK_INPUT_AXIS = "‖dL/dx‖ at block input (= ‖∂L/∂out‖ of the layer before, as in the diagram)";

/** The network a pair belongs to: its spec (what it already has, for the advice) and its identity. */
export interface ShownNetwork {
  network: string;
  spec: VerdictInput["spec"];
}

/**
 * Residual net and plain twin on one pair of log axes, ‖dL/dx‖ at each block's input over block index; a toggle
 * adds the same pair without BN, so the four curves of the finding share the axes (He et al. 2015 §4.1). Above the
 * chart, the verdict in words (./gradientVerdict.ts). Everything shown belongs to one network: a new network clears
 * the chart, the without-BN curves and the toggle.
 */
export class GradientsView {
  private readonly caption: HTMLElement;
  private readonly verdict: HTMLElement;
  private readonly batchNote: HTMLElement;
  private readonly canvas = document.createElement("canvas");
  private chart: Chart | null = null;
  private readonly withoutBnBox: HTMLInputElement;
  private pair: GradientPair | null = null;
  private shown: ShownNetwork | null = null;
  private withoutBn: GradientPair | null = null;
  /** The block ids of the chart's x axis, for clicks on a point. */
  private blocks: string[] = [];

  constructor(
    host: HTMLElement,
    onCompute: () => void,
    private readonly onComputeWithoutBn: () => Promise<GradientPair | null>,
    /** A point of the chart was clicked: show block `id` in the diagram. */
    private readonly onSelectBlock: (id: string) => void,
  ) {
    const root = withClass("div", "charts");
    this.caption = withClass("p", "chart-caption", "No gradient flow yet.");
    this.verdict = withClass("p", "chart-verdict");
    this.verdict.setAttribute("data-role", "verdict");
    this.batchNote = withClass("p", "chart-note");
    this.batchNote.setAttribute("data-role", "batch");
    const compute = document.createElement("vscode-button");
    compute.textContent = "Compute gradient flow";
    compute.setAttribute("data-action-local", "compute-gradients");
    compute.addEventListener("click", onCompute);
    const toggle = withClass("label", "chart-toggle");
    this.withoutBnBox = document.createElement("input");
    this.withoutBnBox.type = "checkbox";
    this.withoutBnBox.disabled = true;
    this.withoutBnBox.setAttribute("data-toggle", "without-bn");
    toggle.append(this.withoutBnBox, " add both without BN");
    this.withoutBnBox.addEventListener("change", () => void this.toggleWithoutBn());
    const box = withClass("div", "chart-box");
    box.append(this.canvas);
    this.canvas.setAttribute("data-chart", "blocks");
    const note = withClass(
      "p",
      "chart-note",
      "Cross-entropy on random labels; the L2 norm of the gradient at each residual block's input, input side on the left. Click a point to show its block in the diagram.",
    );
    root.append(this.caption, this.verdict, compute, toggle, box, this.batchNote, note);
    host.append(root);
  }

  setBusy(busy: boolean): void {
    if (busy) this.caption.textContent = "Computing gradient flow…";
  }

  private async toggleWithoutBn(): Promise<void> {
    const asked = this.shown?.network ?? null;
    if (this.withoutBnBox.checked && !this.withoutBn && this.pair) {
      this.caption.textContent = "Computing gradient flow without BN…";
      this.withoutBnBox.disabled = true;
      const pair = await this.onComputeWithoutBn().catch(() => null);
      // Only for the network it was asked for: the user may have switched files meanwhile.
      if (this.shown?.network === asked && this.pair) this.withoutBn = pair;
      this.withoutBnBox.disabled = this.pair === null;
    }
    // The box shows what is drawn: ticked only when the curves are there.
    this.withoutBnBox.checked = this.withoutBnBox.checked && this.withoutBn !== null;
    this.redraw();
  }

  /** The network's pair (null: none yet) and which network is shown; another network drops what was drawn. */
  update(pair: GradientPair | null, shown: ShownNetwork | null): void {
    if (shown?.network !== this.shown?.network || pair === null) {
      this.withoutBn = null;
      this.withoutBnBox.checked = false;
    }
    this.pair = pair;
    this.shown = shown;
    this.withoutBnBox.disabled = pair === null;
    this.redraw();
  }

  private clearChart(): void {
    this.chart?.destroy();
    this.chart = null;
    this.blocks = [];
    this.canvas.setAttribute("data-series", "0");
    this.canvas.removeAttribute("data-network");
  }

  private redraw(): void {
    const pair = this.pair;
    if (!pair || !this.shown) {
      this.clearChart();
      this.caption.textContent =
        "No gradient flow yet: run “Gradient flow” to compare this network with its plain twin.";
      this.verdict.textContent = "";
      this.batchNote.textContent = "";
      return;
    }
    const spec = this.shown.spec;
    const extra = this.withoutBnBox.checked ? this.withoutBn : null;
    const verdict = gradientVerdict({ pair, withoutBn: extra, spec });
    const ratio = (r: GradientPair["residual"]): string =>
      `${formatNorm(r.ratio.value)} (‖g‖ first block input / last block output)`;
    this.caption.textContent =
      `${pair.residual.model}: ratio ${ratio(pair.residual)}` +
      (pair.plain ? ` · plain twin: ratio ${ratio(pair.plain)}` : " · no plain twin") +
      ` · backend ${pair.residual.backend}, batch ${pair.residual.batch}`;
    this.verdict.textContent = `${verdict.finding} ${verdict.advice}`;
    this.batchNote.textContent = verdict.batch;
    if (this.canvas.offsetParent === null) return; // hidden: drawn when the tab is shown
    const p = palette();
    const plainNetwork = !spec.residual;
    const name = pair.residual.model;
    const runs: { result: GradientPair["residual"]; label: string; color: string; dashed: boolean }[] = [
      {
        result: pair.residual,
        label: curveLabel(name, "network", false, plainNetwork),
        color: p.residual,
        dashed: false,
      },
    ];
    if (pair.plain)
      runs.push({ result: pair.plain, label: curveLabel(name, "twin", false, false), color: p.plain, dashed: false });
    if (extra) {
      runs.push({
        result: extra.residual,
        label: curveLabel(name, "network", true, plainNetwork),
        color: p.residual,
        dashed: true,
      });
      if (extra.plain)
        runs.push({ result: extra.plain, label: curveLabel(name, "twin", true, false), color: p.plain, dashed: true });
    }
    const { blocks, series } = alignSeries(runs.map((r) => r.result));
    this.blocks = blocks;
    const all = series.flat().filter((v): v is number => v !== null && v > 0 && Number.isFinite(v));
    const min = all.length ? 10 ** Math.floor(Math.log10(Math.min(...all))) : undefined;
    const max = all.length ? 10 ** Math.ceil(Math.log10(Math.max(...all))) : undefined;
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
      options: {
        ...lineOptions(p.text, {
          ...axes(true, BLOCK_INPUT_AXIS, min, max),
          x: {
            title: { display: true, text: "block (input side first)", color: p.text },
            ticks: { color: p.text, maxRotation: 60, autoSkip: true },
            grid: { color: p.grid },
          },
        }),
        onClick: (_event, elements) => {
          const block = elements.length ? this.blocks[elements[0].index] : undefined;
          if (block) this.onSelectBlock(block);
        },
      },
    });
    // What the browser tests read: how many curves share this one pair of axes, and whose they are.
    this.canvas.setAttribute("data-series", String(runs.length));
    this.canvas.setAttribute("data-y-axis", BLOCK_INPUT_AXIS);
    this.canvas.setAttribute("data-network", this.shown.network);
    this.canvas.setAttribute("data-labels", runs.map((r) => r.label).join("|"));
  }
}

/**
 * What the chart views share: chart.js with only the parts they use registered, the page's theme colours, and
 * axes whose log scale labels only 1, 2 and 5 × 10ᵏ.
 */
import * as chartjs from "chart.js";
import type { ChartConfiguration } from "chart.js";
import { formatLogTicks } from "resnet-studio/presentation/format";
import { themeColor } from "./dom";

export const Chart = chartjs.Chart;
export type Chart = chartjs.Chart;

Chart.register(
  chartjs.BarController,
  chartjs.BarElement,
  chartjs.LineController,
  chartjs.LineElement,
  chartjs.PointElement,
  chartjs.CategoryScale,
  chartjs.LinearScale,
  chartjs.LogarithmicScale,
  chartjs.Legend,
  chartjs.Tooltip,
);

export function palette(): {
  text: string;
  grid: string;
  residual: string;
  plain: string;
  val: string;
  series: string[];
} {
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
    ].map((v, i) => themeColor(v, ["#3794ff", "#b180d7", "#89d185", "#cca700", "#d18616", "#f14c4c"][i])),
  };
}

/** An element with a class and text. */
export function withClass<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  cls: string,
  text = "",
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

export function axes(
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

/** On a log axis, label only 1, 2 and 5 × 10ᵏ, once each, in one format for the whole axis (formatLogTicks). */
export function logTickLabel(_value: string | number, index: number, ticks: readonly { value: number }[]): string {
  return formatLogTicks(ticks.map((t) => t.value))[index] ?? "";
}

type LineOptions = NonNullable<ChartConfiguration<"line">["options"]>;

/** What every chart here shares: drawn at once (no animation), filling its box, the legend in the theme's text colour. */
export function lineOptions(text: string, scales: LineOptions["scales"]): LineOptions {
  return {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    plugins: { legend: { labels: { color: text } } },
    scales,
  };
}

/** One straight-segment curve in one colour. */
export function curve<Data>(
  label: string,
  data: Data,
  color: string,
  pointRadius = 2,
): { label: string; data: Data; borderColor: string; backgroundColor: string; pointRadius: number; tension: number } {
  return { label, data, borderColor: color, backgroundColor: color, pointRadius, tension: 0 };
}

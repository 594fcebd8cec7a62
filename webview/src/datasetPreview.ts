/**
 * The training view's dataset preview: a few images of each class with the class's name and image count, drawn as
 * soon as the run has loaded its data (the `preview` training event, data/preview.ts previewForView), so the user sees
 * what the network will learn from before the first step.
 */
import type { DatasetPreview, PreviewSample } from "resnet-studio/data/preview";
import { formatExactCount, formatShape } from "resnet-studio/presentation/format";
import { withClass } from "./chartTheme";

/** CSS pixels of a thumbnail's longer side: small images (28×28 digits) are scaled up, crisp. */
const THUMBNAIL_CSS_PX = 48;

/** RGBA pixels for a canvas from H × W × C (C = 1 grey, 3 RGB; any other count shows its first channel as grey). */
export function rgbaPixels(
  pixels: Uint8Array,
  height: number,
  width: number,
  channels: number,
): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(height * width * 4);
  for (let i = 0; i < height * width; i++) {
    const from = i * channels;
    const [r, g, b] =
      channels === 3 ? [pixels[from], pixels[from + 1], pixels[from + 2]] : [pixels[from], pixels[from], pixels[from]];
    out[i * 4] = r;
    out[i * 4 + 1] = g;
    out[i * 4 + 2] = b;
    out[i * 4 + 3] = 255;
  }
  return out;
}

function thumbnail(
  sample: PreviewSample,
  height: number,
  width: number,
  channels: number,
  name: string,
): HTMLCanvasElement {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const scale = THUMBNAIL_CSS_PX / Math.max(height, width);
  canvas.style.width = `${Math.round(width * scale)}px`;
  canvas.style.height = `${Math.round(height * scale)}px`;
  canvas.title = `${name} (image ${sample.index})`;
  canvas.setAttribute("data-label", name);
  const context = canvas.getContext("2d");
  if (context)
    context.putImageData(new ImageData(rgbaPixels(sample.pixels, height, width, channels), width, height), 0, 0);
  return canvas;
}

/** The preview block: a caption, the loading's notes, then one row per shown class (name, count, bar, samples). */
export class DatasetPreviewView {
  readonly element = withClass("div", "dataset-preview");
  private shown: DatasetPreview | null = null;

  constructor() {
    this.element.hidden = true;
    this.element.setAttribute("data-preview", "dataset");
  }

  show(preview: DatasetPreview | null): void {
    if (preview === this.shown) return;
    this.shown = preview;
    this.element.replaceChildren();
    this.element.hidden = preview === null;
    if (!preview) return;
    const total = preview.classCounts.reduce((a, b) => a + b, 0);
    const { height, width } = preview.thumbnail ?? preview;
    this.element.append(
      withClass(
        "p",
        "chart-note",
        `Training data ${preview.name}: ${formatExactCount(total)} images in ${formatExactCount(preview.classNames.length)} classes, ` +
          `${formatShape([preview.height, preview.width, preview.channels])} (H×W×C) each.`,
      ),
      ...(preview.notes ?? []).map((note) => withClass("p", "chart-note", note)),
    );
    const largest = Math.max(1, ...preview.classCounts);
    const grid = withClass("div", "preview-grid");
    const shownClasses = new Set(preview.samples.map((s) => s.label));
    for (let label = 0; label < preview.classNames.length; label++) {
      if (!shownClasses.has(label)) continue;
      const name = preview.classNames[label] ?? String(label);
      const count = preview.classCounts[label] ?? 0;
      const row = withClass("div", "preview-row");
      row.setAttribute("data-class", name);
      row.setAttribute("data-count", String(count));
      const head = withClass("div", "preview-class");
      const bar = withClass("span", "preview-bar");
      bar.style.width = `${Math.round((count / largest) * 100)}%`;
      head.append(
        withClass("span", "preview-name", name),
        withClass("span", "preview-count", formatExactCount(count)),
        bar,
      );
      const samples = withClass("div", "preview-samples");
      for (const sample of preview.samples)
        if (sample.label === label) samples.append(thumbnail(sample, height, width, preview.channels, name));
      row.append(head, samples);
      grid.append(row);
    }
    this.element.append(grid);
    const hidden = preview.classNames.length - shownClasses.size;
    if (hidden > 0) {
      const rest = preview.classCounts.filter((_, label) => !shownClasses.has(label));
      this.element.append(
        withClass(
          "p",
          "chart-note",
          `… and ${formatExactCount(hidden)} more classes (${formatExactCount(Math.min(...rest))} to ${formatExactCount(Math.max(...rest))} images each).`,
        ),
      );
    }
    this.element.setAttribute("data-samples", String(preview.samples.length));
  }
}

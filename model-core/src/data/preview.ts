/**
 * What a dataset preview shows before training: a few images of each class with its name, and how many images each
 * class has. Pure: a loaded dataset in, plain data out (it survives structured cloning, for the webview).
 */
import type { ImageDataset } from "./dataset";

export interface PreviewSample {
  /** Index of the image in the dataset. */
  index: number;
  label: number;
  /** H × W × C pixels, 0..255, as stored. */
  pixels: Uint8Array;
}

export interface DatasetPreview {
  name: string;
  height: number;
  width: number;
  channels: number;
  classNames: string[];
  /** Images per class, in label order. */
  classCounts: number[];
  /** Up to `perClass` samples of each class: the first ones in the dataset's order, grouped by class. */
  samples: PreviewSample[];
  /** The samples' size when they were shrunk for the view (`previewForView`); absent when as stored. */
  thumbnail?: { height: number; width: number };
  /** What people should know about the loading (files skipped, where the cache is), one line each. */
  notes?: string[];
}

/** Images per class, in label order (a class with no images counts 0). */
export function classCounts(dataset: ImageDataset): number[] {
  const counts = new Array<number>(dataset.classes).fill(0);
  for (let i = 0; i < dataset.count; i++) counts[dataset.labels[i]]++;
  return counts;
}

/**
 * The first `perClass` images of each class (fewer where a class has fewer), with the class counts. `maxClasses`:
 * samples of the first classes only (the counts still cover every class), so a 1000-class folder copies a few images.
 */
export function previewSamples(dataset: ImageDataset, perClass: number, maxClasses = dataset.classes): DatasetPreview {
  const imageSize = dataset.height * dataset.width * dataset.channels;
  const shown = Math.min(dataset.classes, Math.max(0, maxClasses));
  const picked: number[][] = Array.from({ length: shown }, () => []);
  let missing = shown * perClass;
  for (let i = 0; i < dataset.count && missing > 0; i++) {
    const bucket = picked[dataset.labels[i]];
    if (bucket && bucket.length < perClass) {
      bucket.push(i);
      missing--;
    }
  }
  return {
    name: dataset.name,
    height: dataset.height,
    width: dataset.width,
    channels: dataset.channels,
    classNames: [...dataset.classNames],
    classCounts: classCounts(dataset),
    samples: picked.flatMap((indices, label) =>
      indices.map((index) => ({
        index,
        label,
        pixels: dataset.images.slice(index * imageSize, (index + 1) * imageSize),
      })),
    ),
  };
}

/** What the training view shows: 4 samples of each of the first 16 classes, no side over 64 pixels (a few hundred KB). */
export const VIEW_PREVIEW = { perClass: 4, maxClasses: 16, maxSide: 64 } as const;

/** The size `shrinkImage` gives: neither side over `maxSide`, the aspect kept, at least one pixel. */
export function shrunkSize(height: number, width: number, maxSide: number): { height: number; width: number } {
  const scale = Math.min(1, maxSide / Math.max(height, width));
  if (scale === 1) return { height, width };
  return { height: Math.max(1, Math.round(height * scale)), width: Math.max(1, Math.round(width * scale)) };
}

/**
 * Nearest-neighbour shrink of one H × W × C image so that neither side exceeds `maxSide` (aspect kept); the image
 * itself when it already fits. Enough for a thumbnail: the preview shows what the data is, not every pixel.
 */
export function shrinkImage(
  pixels: Uint8Array,
  height: number,
  width: number,
  channels: number,
  maxSide: number,
): { pixels: Uint8Array; height: number; width: number } {
  const { height: h, width: w } = shrunkSize(height, width, maxSide);
  if (h === height && w === width) return { pixels, height, width };
  const out = new Uint8Array(h * w * channels);
  for (let y = 0; y < h; y++) {
    const sy = Math.min(height - 1, Math.floor(((y + 0.5) * height) / h));
    for (let x = 0; x < w; x++) {
      const sx = Math.min(width - 1, Math.floor(((x + 0.5) * width) / w));
      const from = (sy * width + sx) * channels;
      out.set(pixels.subarray(from, from + channels), (y * w + x) * channels);
    }
  }
  return { pixels: out, height: h, width: w };
}

/** The preview the training view shows (VIEW_PREVIEW's bounds), with the loading's notes. */
export function previewForView(dataset: ImageDataset, notes: readonly string[] = []): DatasetPreview {
  const preview = previewSamples(dataset, VIEW_PREVIEW.perClass, VIEW_PREVIEW.maxClasses);
  const size = shrunkSize(dataset.height, dataset.width, VIEW_PREVIEW.maxSide);
  const shrunk = size.height !== dataset.height || size.width !== dataset.width;
  return {
    ...preview,
    samples: shrunk
      ? preview.samples.map((s) => ({
          ...s,
          pixels: shrinkImage(s.pixels, dataset.height, dataset.width, dataset.channels, VIEW_PREVIEW.maxSide).pixels,
        }))
      : preview.samples,
    ...(shrunk ? { thumbnail: { height: size.height, width: size.width } } : {}),
    ...(notes.length > 0 ? { notes: [...notes] } : {}),
  };
}

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
}

/** Images per class, in label order (a class with no images counts 0). */
export function classCounts(dataset: ImageDataset): number[] {
  const counts = new Array<number>(dataset.classes).fill(0);
  for (let i = 0; i < dataset.count; i++) counts[dataset.labels[i]]++;
  return counts;
}

/** The first `perClass` images of each class (fewer where a class has fewer), with the class counts. */
export function previewSamples(dataset: ImageDataset, perClass: number): DatasetPreview {
  const imageSize = dataset.height * dataset.width * dataset.channels;
  const picked: number[][] = Array.from({ length: dataset.classes }, () => []);
  let missing = dataset.classes * perClass;
  for (let i = 0; i < dataset.count && missing > 0; i++) {
    const bucket = picked[dataset.labels[i]];
    if (bucket.length < perClass) {
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

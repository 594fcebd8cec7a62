/**
 * In-memory image datasets stored as uint8 NHWC pixels, a fixed train/validation split, and the adapter that turns a
 * batch of indices into the normalised float32 NHWC input a spec expects (1→3 channels, 28→32 padding, ...).
 */
import type { Shape3 } from "../spec/types";
import { SeededRng, shuffledIndices } from "./rng";

export interface ImageDataset {
  /** e.g. "mnist", "cifar10[0,2]", "synthetic". */
  name: string;
  /** Pixels in NHWC order, count × height × width × channels, 0..255. */
  images: Uint8Array;
  /** One class index per image, 0 ≤ label < classes. */
  labels: Uint8Array;
  count: number;
  height: number;
  width: number;
  channels: number;
  classes: number;
  classNames: string[];
  /** Per-channel mean and standard deviation of pixel/255, used to normalise. */
  mean: number[];
  std: number[];
}

/** Bad dataset input (missing files, wrong format, impossible shape): the message says what and where, no stack needed. */
export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DatasetError";
  }
}

export interface DatasetSplit {
  train: Uint32Array;
  val: Uint32Array;
}

/** The seed of the train/validation split: fixed, so that runs with different training seeds validate on the same images. */
export const SPLIT_SEED = 20151210;

/** How many of `count` images a split holds out: `valFraction` of them, rounded, and at least one when valFraction > 0. */
export function heldOutCount(count: number, valFraction: number): number {
  return valFraction > 0 ? Math.max(1, Math.round(count * valFraction)) : 0;
}

/** Holds out `valFraction` of the images (at least one when valFraction > 0), chosen by a fixed seeded shuffle. */
export function splitDataset(dataset: ImageDataset, valFraction: number, splitSeed = SPLIT_SEED): DatasetSplit {
  if (!(valFraction >= 0 && valFraction < 1))
    throw new DatasetError(`validation fraction must be in [0, 1), got ${valFraction}`);
  const order = shuffledIndices(dataset.count, new SeededRng(splitSeed));
  const valCount = heldOutCount(dataset.count, valFraction);
  if (dataset.count - valCount < 1)
    throw new DatasetError(`dataset ${dataset.name} has ${dataset.count} images: too few to split`);
  return { val: order.slice(0, valCount).sort(), train: order.slice(valCount).sort() };
}

/** Per-channel mean/std of pixel/255 over (a sample of) the dataset. */
export function channelStats(
  images: Uint8Array,
  channels: number,
  maxPixels = 4_000_000,
): { mean: number[]; std: number[] } {
  const pixels = Math.floor(images.length / channels);
  const stride = Math.max(1, Math.floor(pixels / maxPixels));
  const sum = new Float64Array(channels);
  const sumSq = new Float64Array(channels);
  let n = 0;
  for (let p = 0; p < pixels; p += stride, n++) {
    for (let c = 0; c < channels; c++) {
      const v = images[p * channels + c] / 255;
      sum[c] += v;
      sumSq[c] += v * v;
    }
  }
  const mean = Array.from(sum, (s) => s / Math.max(1, n));
  const std = Array.from(sumSq, (s, c) => Math.sqrt(Math.max(1e-12, s / Math.max(1, n) - mean[c] * mean[c])));
  return { mean, std };
}

/**
 * Per-channel mean/std of pixel/255 over the images at `indices` (whole images, every k-th one so that about
 * `maxPixels` pixels are read): the statistics of a training split, not of the images it holds out.
 */
export function splitChannelStats(
  dataset: ImageDataset,
  indices: ArrayLike<number>,
  maxPixels = 4_000_000,
): { mean: number[]; std: number[] } {
  const imagePixels = dataset.height * dataset.width;
  const imageSize = imagePixels * dataset.channels;
  const stride = Math.max(1, Math.floor((indices.length * imagePixels) / maxPixels));
  const picked = Math.ceil(indices.length / stride);
  const sample = new Uint8Array(picked * imageSize);
  for (let i = 0, o = 0; i < indices.length; i += stride, o += imageSize)
    sample.set(dataset.images.subarray(indices[i] * imageSize, (indices[i] + 1) * imageSize), o);
  return channelStats(sample, dataset.channels, Infinity);
}

/**
 * Converts dataset images to a model's input shape [C,H,W]: grayscale is repeated to 3 channels, RGB averaged to 1;
 * smaller images are zero-padded (in pixel space, i.e. black) around the centre, larger ones centre-cropped; then
 * each channel is normalised with the dataset's mean/std.
 */
export class BatchAdapter {
  readonly sampleSize: number;
  private readonly sourceOffset: Int32Array;
  private readonly luts: Float32Array[];
  private readonly padValue: Float32Array;
  private readonly average: boolean;

  constructor(
    readonly dataset: ImageDataset,
    readonly target: Shape3,
  ) {
    const [channels, height, width] = target;
    const src = dataset;
    if (!(channels === src.channels || src.channels === 1 || (src.channels === 3 && channels === 1))) {
      throw new DatasetError(
        `dataset ${src.name} has ${src.channels} channels; the model's input has ${channels} (only equal counts, 1→N and 3→1 convert)`,
      );
    }
    this.average = src.channels === 3 && channels === 1;
    this.sampleSize = channels * height * width;
    const padTop = Math.floor((height - src.height) / 2);
    const padLeft = Math.floor((width - src.width) / 2);
    this.sourceOffset = new Int32Array(height * width);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const sy = y - padTop;
        const sx = x - padLeft;
        const inside = sy >= 0 && sy < src.height && sx >= 0 && sx < src.width;
        this.sourceOffset[y * width + x] = inside ? (sy * src.width + sx) * src.channels : -1;
      }
    }
    this.luts = [];
    this.padValue = new Float32Array(channels);
    for (let c = 0; c < channels; c++) {
      const mean = this.average ? avg(src.mean) : src.mean[src.channels === 1 ? 0 : c];
      const std = this.average ? avg(src.std) : src.std[src.channels === 1 ? 0 : c];
      const lut = new Float32Array(256);
      for (let v = 0; v < 256; v++) lut[v] = (v / 255 - mean) / std;
      this.luts.push(lut);
      this.padValue[c] = lut[0];
    }
  }

  /** Writes images indices[start .. start+count) into `out` (NHWC float32, at least count × sampleSize long). */
  fill(indices: ArrayLike<number>, start: number, count: number, out: Float32Array): void {
    const [channels] = this.target;
    const { images, height, width, channels: srcChannels } = this.dataset;
    const imageSize = height * width * srcChannels;
    const pixels = this.sourceOffset.length;
    let o = 0;
    for (let i = 0; i < count; i++) {
      const base = indices[start + i] * imageSize;
      for (let p = 0; p < pixels; p++) {
        const off = this.sourceOffset[p];
        if (off < 0) {
          for (let c = 0; c < channels; c++) out[o++] = this.padValue[c];
        } else if (this.average) {
          const v = Math.round((images[base + off] + images[base + off + 1] + images[base + off + 2]) / 3);
          out[o++] = this.luts[0][v];
        } else if (srcChannels === 1) {
          const v = images[base + off];
          for (let c = 0; c < channels; c++) out[o++] = this.luts[c][v];
        } else {
          for (let c = 0; c < channels; c++) out[o++] = this.luts[c][images[base + off + c]];
        }
      }
    }
  }

  /** Per model-input channel, the normalised value of each pixel value 0..255 (the torch backend applies the same tables). */
  lookupTables(): Float32Array[] {
    return this.luts.map((lut) => lut.slice());
  }

  /** Labels of indices[start .. start+count). */
  labels(indices: ArrayLike<number>, start: number, count: number, out: Int32Array): void {
    for (let i = 0; i < count; i++) out[i] = this.dataset.labels[indices[start + i]];
  }
}

function avg(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** Keeps only the listed classes, relabelled 0..k-1 in the order given (e.g. CIFAR-10 airplane=0, bird=2 → 0, 1). */
export function filterClasses(dataset: ImageDataset, classes: number[]): ImageDataset {
  if (classes.length < 2) throw new DatasetError(`class filter needs at least two classes, got [${classes.join(",")}]`);
  const relabel = new Int16Array(256).fill(-1);
  classes.forEach((c, i) => {
    if (!Number.isInteger(c) || c < 0 || c >= dataset.classes) {
      throw new DatasetError(`class ${c} does not exist in ${dataset.name} (classes 0..${dataset.classes - 1})`);
    }
    if (relabel[c] >= 0) throw new DatasetError(`class ${c} is listed twice in the class filter`);
    relabel[c] = i;
  });
  const keep: number[] = [];
  for (let i = 0; i < dataset.count; i++) if (relabel[dataset.labels[i]] >= 0) keep.push(i);
  const imageSize = dataset.height * dataset.width * dataset.channels;
  const images = new Uint8Array(keep.length * imageSize);
  const labels = new Uint8Array(keep.length);
  keep.forEach((src, dst) => {
    images.set(dataset.images.subarray(src * imageSize, (src + 1) * imageSize), dst * imageSize);
    labels[dst] = relabel[dataset.labels[src]];
  });
  return {
    ...dataset,
    name: `${dataset.name}[${classes.join(",")}]`,
    images,
    labels,
    count: keep.length,
    classes: classes.length,
    classNames: classes.map((c) => dataset.classNames[c] ?? String(c)),
  };
}

/**
 * Turns the CLI's `--dataset` argument into datasets:
 *   mnist                              the embedded 10,000 digits (10% held out for validation)
 *   cifar10:<dir>[:classes=0,2]        official binary batches from <dir>; test_batch.bin validates; optional class filter
 *   synthetic[:count=N][:classes=K]    seeded class-dependent patterns at the model's input shape
 *   idx:<dir>                          MNIST-format IDX files (data/idx.ts); the t10k split validates
 *   imagefolder:<dir>[:size=N|HxW][:mode=rgb|grey]
 *                                      torchvision's ImageFolder layout (data/imagefolder.ts), decoded once to the
 *                                      network's input (or size=/mode=) and cached; val/ validates, if present
 */
import type { Shape3 } from "../spec/types";
import { formatExactCount } from "../presentation/format";
import { CIFAR10_CLASSES, downloadCifar10, findCifar10Folder, loadCifar10 } from "./cifar10";
import type { DatasetTarget } from "../analysis/adapt";
import {
  DatasetError,
  filterClasses,
  heldOutCount,
  splitChannelStats,
  splitDataset,
  type ImageDataset,
} from "./dataset";
import { idxSummary, loadIdx } from "./idx";
import { imageFolderShape, listImageFolder, loadImageFolder } from "./imagefolder";
import { loadMnist } from "./mnist";
import { DEFAULT_TRAIN_CONFIG } from "../runtime/trainTypes";
import { syntheticDataset } from "./synthetic";

export interface ResolvedDataset {
  train: ImageDataset;
  /** A separate validation set (CIFAR-10's test batch); null = split `train`. */
  val: ImageDataset | null;
  /** What people should know about the loading (files skipped, where the cache went), one line each. */
  notes?: string[];
}

export interface ResolveOptions {
  /** The model's input, for synthetic data. */
  input: Shape3;
  /** The model's class count, for synthetic data. */
  classes: number;
  seed: number;
  /**
   * The run's validation fraction: where a folder dataset has no validation split of its own, its normalisation
   * statistics are taken over the images that `splitDataset(train, valFraction)` trains on. Default 0.1.
   */
  valFraction?: number;
  /** Download CIFAR-10 into <dir> when it is missing. */
  download?: boolean;
  onDownloadProgress?: (receivedBytes: number, totalBytes: number | null) => void;
  /** The folder for decoded-image caches (the extension's storage); default the dataset's own folder. */
  cacheDir?: string;
  /** Images decoded so far of an ImageFolder that is not cached yet. */
  onDecodeProgress?: (decoded: number, total: number) => void;
}

export async function resolveDataset(arg: string, options: ResolveOptions): Promise<ResolvedDataset> {
  const [kind, ...rest] = arg.split(":");
  if (kind === "mnist") {
    if (rest.length > 0) throw new DatasetError(`--dataset mnist takes no options, got "${arg}"`);
    return { train: loadMnist(), val: null };
  }
  if (kind === "synthetic") {
    const opts = parseKeyValues(rest, arg, ["count", "classes"]);
    const count = opts.count !== undefined ? parsePositiveInt(opts.count, "count", arg) : 2000;
    const classes = opts.classes !== undefined ? parsePositiveInt(opts.classes, "classes", arg) : options.classes;
    return { train: syntheticDataset({ count, classes, shape: options.input, seed: options.seed }), val: null };
  }
  if (kind === "cifar10") {
    // The folder may itself contain ':' (Windows drive letters), so only a trailing classes=… part is an option.
    const last = rest[rest.length - 1] ?? "";
    const hasClasses = last.startsWith("classes=");
    const dir = (hasClasses ? rest.slice(0, -1) : rest).join(":");
    if (!dir) throw new DatasetError(`--dataset cifar10 needs a folder: cifar10:<dir>[:classes=0,2], got "${arg}"`);
    const classes = hasClasses ? parseClassList(last, arg) : null;
    if (!findCifar10Folder(dir) && options.download)
      await downloadCifar10(dir, { onProgress: options.onDownloadProgress });
    const { train, test } = loadCifar10(dir);
    if (!classes) return { train, val: test };
    return { train: filterClasses(train, classes), val: test ? filterClasses(test, classes) : null };
  }
  if (kind === "idx") {
    const { train, test } = loadIdx(folderOf(rest, arg));
    return withTrainingSplitStats({ train, val: test }, options.valFraction);
  }
  if (kind === "imagefolder") {
    const { dir, options: folderOptions } = parseImageFolderArg(rest, arg);
    const shape = imageFolderShape(folderOptions, options.input);
    const loaded = await loadImageFolder(dir, shape, {
      cacheDir: options.cacheDir,
      onProgress: options.onDecodeProgress,
    });
    const { skipped } = loaded.listing;
    const notes = [
      ...(skipped.count > 0
        ? [
            `${dir}: skipped ${formatExactCount(skipped.count)} ${skipped.count === 1 ? "file that is" : "files that are"} not .png, .jpg or .jpeg ` +
              `(${skipped.examples.join(", ")}${skipped.count > skipped.examples.length ? ", …" : ""})`,
          ]
        : []),
      `${loaded.fromCache ? "read the decoded images from" : "decoded the images into"} ${loaded.cachePath}`,
    ];
    return { ...withTrainingSplitStats({ train: loaded.train, val: loaded.val }, options.valFraction), notes };
  }
  throw new DatasetError(`unknown dataset "${arg}": use ${DATASET_FORMS}`);
}

export interface ImageFolderArg {
  dir: string;
  options: { size?: [number, number]; mode?: "rgb" | "grey" };
}

/** `imagefolder:<dir>[:size=N|HxW][:mode=rgb|grey]`: the options are trailing parts, the folder may contain ':'. */
export function parseImageFolderArg(rest: string[], arg: string): ImageFolderArg {
  const parts = [...rest];
  const options: ImageFolderArg["options"] = {};
  while (parts.length > 1 && /^(size|mode)=/.test(parts[parts.length - 1])) {
    const [key, value] = parts.pop()!.split("=");
    if (key === "mode") {
      if (value !== "rgb" && value !== "grey")
        throw new DatasetError(`--dataset ${arg}: mode must be rgb or grey, got "${value}"`);
      options.mode = value;
    } else {
      const match = /^(\d+)(?:x(\d+))?$/.exec(value);
      const height = match ? Number(match[1]) : NaN;
      const width = match?.[2] !== undefined ? Number(match[2]) : height;
      if (!(height >= 1 && height <= 1024 && width >= 1 && width <= 1024))
        throw new DatasetError(`--dataset ${arg}: size must be N or HxW with sides 1..1024, got "${value}"`);
      options.size = [height, width];
    }
  }
  return { dir: folderOf(parts, arg), options };
}

/**
 * Both sets normalised by the training images' per-channel mean and std: all of `train` when a validation set is given,
 * else the images that `splitDataset(train, valFraction)` trains on.
 */
function withTrainingSplitStats(
  data: ResolvedDataset,
  valFraction = DEFAULT_TRAIN_CONFIG.valFraction,
): ResolvedDataset {
  const { train, val } = data;
  const indices = val ? Uint32Array.from({ length: train.count }, (_, i) => i) : splitDataset(train, valFraction).train;
  const stats = splitChannelStats(train, indices);
  return { train: { ...train, ...stats }, val: val ? { ...val, mean: [...stats.mean], std: [...stats.std] } : null };
}

/** The accepted `--dataset` forms, for messages and the CLI's help. */
export const DATASET_FORMS =
  "mnist, idx:<dir>, imagefolder:<dir>[:size=N][:mode=rgb|grey], cifar10:<dir>[:classes=0,2] or synthetic[:count=N][:classes=K]";

/** The folder of a `kind:<dir>` argument; the folder may itself contain ':' (Windows drive letters). */
function folderOf(rest: string[], arg: string): string {
  const dir = rest.join(":");
  if (!dir) throw new DatasetError(`--dataset ${arg}: needs a folder, as in ${arg.split(":")[0]}:<dir>`);
  return dir;
}

function parseClassList(part: string, arg: string): number[] {
  return part
    .slice("classes=".length)
    .split(",")
    .map((s) => {
      const n = Number(s);
      if (s.trim() === "" || !Number.isInteger(n))
        throw new DatasetError(`--dataset ${arg}: "${s}" is not a class number`);
      return n;
    });
}

/** An ImageFolder's input when no network is given: CIFAR-10's size, RGB as torchvision's loader converts. */
export const IMAGEFOLDER_DEFAULT_INPUT: Shape3 = [3, 32, 32];

/** Images of the embedded MNIST file and of CIFAR-10's five training batches. */
const MNIST_IMAGES = 10_000;
const CIFAR10_TRAIN_IMAGES_PER_CLASS = 5_000;

/**
 * What `--dataset arg` feeds a network, known without loading it: the image shape, the label count, and the images an
 * epoch trains on (MNIST holds out `valFraction`; CIFAR-10 and IDX folders with a t10k split validate on their test
 * split). IDX folders are read only as far as their headers and label files, ImageFolders as far as their listing:
 * their images take `input` (the network's; its channels if 1 or 3, else RGB) unless size=/mode= say otherwise, as
 * resolveDataset decodes them. Null for synthetic data, which takes the network's own shape.
 */
export function datasetTarget(
  arg: string,
  valFraction: number,
  input: Shape3 = IMAGEFOLDER_DEFAULT_INPUT,
): DatasetTarget | null {
  const [kind, ...rest] = arg.split(":");
  if (kind === "mnist") {
    return {
      name: "mnist",
      input: [1, 28, 28],
      classes: 10,
      trainSamples: MNIST_IMAGES - heldOutCount(MNIST_IMAGES, valFraction),
    };
  }
  if (kind === "idx") {
    const summary = idxSummary(folderOf(rest, arg));
    return {
      name: summary.name,
      input: [1, summary.height, summary.width],
      classes: summary.classes,
      trainSamples:
        summary.testCount === null
          ? summary.trainCount - heldOutCount(summary.trainCount, valFraction)
          : summary.trainCount,
    };
  }
  if (kind === "imagefolder") {
    const { dir, options } = parseImageFolderArg(rest, arg);
    const listing = listImageFolder(dir);
    return {
      name: listing.name,
      input: imageFolderShape(options, input),
      classes: listing.classNames.length,
      trainSamples: listing.val
        ? listing.train.length
        : listing.train.length - heldOutCount(listing.train.length, valFraction),
    };
  }
  if (kind === "cifar10") {
    const last = rest[rest.length - 1] ?? "";
    const classes = last.startsWith("classes=") ? parseClassList(last, arg) : null;
    const count = classes ? classes.length : CIFAR10_CLASSES.length;
    return {
      name: classes ? `cifar10[${classes.join(",")}]` : "cifar10",
      input: [3, 32, 32],
      classes: count,
      trainSamples: count * CIFAR10_TRAIN_IMAGES_PER_CLASS,
    };
  }
  return null;
}

function parseKeyValues(parts: string[], arg: string, allowed: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of parts) {
    const [key, value] = part.split("=");
    if (!allowed.includes(key) || value === undefined)
      throw new DatasetError(
        `--dataset ${arg}: unknown option "${part}" (allowed: ${allowed.map((k) => k + "=…").join(", ")})`,
      );
    out[key] = value;
  }
  return out;
}

function parsePositiveInt(value: string, key: string, arg: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new DatasetError(`--dataset ${arg}: ${key} must be a positive integer, got "${value}"`);
  return n;
}

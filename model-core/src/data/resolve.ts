/**
 * Turns the CLI's `--dataset` argument into datasets:
 *   mnist                              the embedded 10,000 digits (10% held out for validation)
 *   cifar10:<dir>[:classes=0,2]        official binary batches from <dir>; test_batch.bin validates; optional class filter
 *   synthetic[:count=N][:classes=K]    seeded class-dependent patterns at the model's input shape
 *   idx:<dir>                          MNIST-format IDX files (data/idx.ts); the t10k split validates
 */
import type { Shape3 } from "../spec/types";
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
import { loadMnist } from "./mnist";
import { DEFAULT_TRAIN_CONFIG } from "../runtime/trainTypes";
import { syntheticDataset } from "./synthetic";

export interface ResolvedDataset {
  train: ImageDataset;
  /** A separate validation set (CIFAR-10's test batch); null = split `train`. */
  val: ImageDataset | null;
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
  throw new DatasetError(`unknown dataset "${arg}": use ${DATASET_FORMS}`);
}

/** Where `val` is null, the training set's mean/std recomputed over the images its split trains on. */
function withTrainingSplitStats(
  data: ResolvedDataset,
  valFraction = DEFAULT_TRAIN_CONFIG.valFraction,
): ResolvedDataset {
  if (data.val) return data;
  const stats = splitChannelStats(data.train, splitDataset(data.train, valFraction).train);
  return { train: { ...data.train, ...stats }, val: null };
}

/** The accepted `--dataset` forms, for messages and the CLI's help. */
export const DATASET_FORMS = "mnist, idx:<dir>, cifar10:<dir>[:classes=0,2] or synthetic[:count=N][:classes=K]";

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

/** Images of the embedded MNIST file and of CIFAR-10's five training batches. */
const MNIST_IMAGES = 10_000;
const CIFAR10_TRAIN_IMAGES_PER_CLASS = 5_000;

/**
 * What `--dataset arg` feeds a network, known without loading it: the image shape, the label count, and the images an
 * epoch trains on (MNIST holds out `valFraction`; CIFAR-10 and IDX folders with a t10k split validate on their test
 * split). IDX folders are read only as far as their headers and label files. Null for synthetic data, which takes the
 * network's own shape.
 */
export function datasetTarget(arg: string, valFraction: number): DatasetTarget | null {
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

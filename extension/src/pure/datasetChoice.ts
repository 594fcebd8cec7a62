/**
 * "Train on…": which datasets the editor offers (the embedded MNIST digits, a folder picked in the file dialog, the
 * datasets used recently), how a picked folder's format is told from its contents, and the recent list kept in global
 * state. Pure (no vscode, no fs): the host lists the folder and passes the names in; tested under node.
 */

/** One directory entry, as the host read it. */
export interface FolderEntry {
  name: string;
  directory: boolean;
}

export type DetectedDataset = { kind: "idx" | "imagefolder"; arg: string } | { kind: "unknown"; reason: string };

/** MNIST-format training images: `train-images-idx3-ubyte`, `train-images.idx3-ubyte`, optionally gzipped. */
const IDX_TRAIN_IMAGES = /^train-images[.-]idx3-ubyte(\.gz)?$/;
const IMAGE_FILE = /\.(png|jpe?g)$/i;

const hasImages = (entries: readonly FolderEntry[] | undefined): boolean =>
  (entries ?? []).some((e) => !e.directory && IMAGE_FILE.test(e.name));

/**
 * The dataset argument for `folder` from its entries and, for each of its subfolders, theirs (`children[name]`):
 * `idx:` when it holds MNIST-format training images; `imagefolder:` when a class subfolder holds PNG or JPEG images,
 * directly or under `train/`; otherwise why it is neither.
 */
export function detectDatasetFolder(
  folder: string,
  entries: readonly FolderEntry[],
  children: Readonly<Record<string, readonly FolderEntry[]>>,
): DetectedDataset {
  if (entries.some((e) => !e.directory && IDX_TRAIN_IMAGES.test(e.name))) return { kind: "idx", arg: `idx:${folder}` };
  const subfolders = entries.filter((e) => e.directory && !e.name.startsWith("."));
  const train = subfolders.find((e) => e.name === "train");
  // train/<class>/*.png: the split layout; the host lists train/'s subfolders as "train/<class>".
  const trainClasses = train ? (children.train ?? []).filter((e) => e.directory) : [];
  if (trainClasses.some((c) => hasImages(children[`train/${c.name}`])))
    return { kind: "imagefolder", arg: `imagefolder:${folder}` };
  if (subfolders.some((s) => hasImages(children[s.name]))) return { kind: "imagefolder", arg: `imagefolder:${folder}` };
  return {
    kind: "unknown",
    reason: `${folder} holds neither MNIST-format IDX files (train-images-idx3-ubyte[.gz]) nor class subfolders of PNG or JPEG images (ImageFolder)`,
  };
}

/** How many datasets "Train on…" remembers. */
export const RECENT_DATASETS = 5;

/** The recent list with `arg` first, without repeats, at most RECENT_DATASETS long. */
export function rememberDataset(recent: readonly string[], arg: string): string[] {
  return [arg, ...recent.filter((r) => r !== arg)].slice(0, RECENT_DATASETS);
}

/** The recent list from global state, whatever was stored there (only non-empty strings survive). */
export function recentDatasets(stored: unknown): string[] {
  if (!Array.isArray(stored)) return [];
  return stored.filter((v): v is string => typeof v === "string" && v.trim() !== "").slice(0, RECENT_DATASETS);
}

export type DatasetPick = { kind: "dataset"; arg: string } | { kind: "folder" };

export interface DatasetItem {
  label: string;
  description: string;
  pick: DatasetPick;
}

/** A dataset argument for people: "fashion-mnist (IDX)" and its folder. */
export function describeDataset(arg: string): { label: string; description: string } {
  if (arg === "mnist") return { label: "Embedded MNIST digits", description: "10,000 digits, 1×28×28, 10 classes" };
  const colon = arg.indexOf(":");
  const kind = colon < 0 ? arg : arg.slice(0, colon);
  const folder = colon < 0 ? "" : arg.slice(colon + 1);
  const base =
    folder
      .replace(/[\\/]+$/, "")
      .split(/[\\/]/)
      .pop() || folder;
  const format = { idx: "IDX", imagefolder: "ImageFolder", cifar10: "CIFAR-10 binaries" }[kind];
  return format ? { label: `${base} (${format})`, description: folder } : { label: arg, description: "" };
}

/** The embedded digits, a folder from the file dialog, then the recent datasets (the current one marked). */
export function datasetItems(current: string, recent: readonly string[]): DatasetItem[] {
  const mark = (arg: string, description: string) => (arg === current ? `${description} · current` : description);
  const items: DatasetItem[] = [
    {
      label: "$(database) Embedded MNIST digits",
      description: mark("mnist", "10,000 digits"),
      pick: { kind: "dataset", arg: "mnist" },
    },
    {
      label: "$(folder-opened) Folder…",
      description: "IDX files or one subfolder per class (ImageFolder)",
      pick: { kind: "folder" },
    },
  ];
  for (const arg of recent) {
    if (arg === "mnist") continue;
    const { label, description } = describeDataset(arg);
    items.push({ label: `$(history) ${label}`, description: mark(arg, description), pick: { kind: "dataset", arg } });
  }
  return items;
}

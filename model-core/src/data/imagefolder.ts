/**
 * torchvision's ImageFolder layout: `<root>/<class>/**.png|jpg|jpeg`, class names sorted (code-point order, as
 * Python's sorted()) and numbered from 0. Either `<root>/train/<class>/…` with `<root>/val/<class>/…` as the validation
 * set, or one folder whose images are split by the run's --val-fraction (splitDataset's fixed seed).
 *
 * Each image is decoded (imageDecode.ts) and transformed (imageTransform.ts) to the network's input once; the result is
 * cached in one file, `<root>/.resnet-studio-<C>x<H>x<W>.cache` (or in a given cache folder), keyed by the SHA-256 of
 * the file list with each file's size and modification time, the shape and the transform's version. A second run
 * whose folder is unchanged reads that file and decodes nothing. The cache is written to a temporary name and renamed
 * when complete, so a failed decode leaves no partial cache. Decoding holds one full-resolution image at a time.
 *
 * What is read, what is not: hidden entries (a leading '.') and files directly in <root> are ignored; files in a class
 * folder (searched recursively, symbolic links followed) that are not .png/.jpg/.jpeg are skipped and counted, as
 * torchvision skips them; a .png/.jpg/.jpeg file that does not decode is an error naming it.
 */
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  opendirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
  type Stats,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, extname, join, relative, resolve } from "node:path";
import type { Shape3 } from "../spec/types";
import { formatBytes, formatExactCount, formatShape } from "../presentation/format";
import { DatasetError, type ImageDataset } from "./dataset";
import { decodeImage } from "./imageDecode";
import { resizeCenterCrop, toGrey, toRgb } from "./imageTransform";

export const IMAGE_EXTENSIONS = [".png", ".jpg", ".jpeg"];
/** Most image files one dataset may list: past it the listing stops growing and the folder is refused with its count. */
export const MAX_IMAGEFOLDER_FILES = 200_000;
/** Most bytes the decoded images may take in memory (and in the cache file). */
export const MAX_DECODED_BYTES = 2 ** 31;
/** Bumped whenever the decode or the transform changes, so old caches are not reused. */
const TRANSFORM_VERSION = 1;
const CACHE_MAGIC = "RSIF";
/** Yield to the event loop after this many decoded images, so progress shows and a cancel can land. */
const DECODE_CHUNK = 64;

export interface ListedImage {
  /** Path relative to the dataset root, '/'-separated. */
  path: string;
  label: number;
  size: number;
  mtimeMs: number;
}

export interface ImageFolderListing {
  root: string;
  name: string;
  /** "split": train/ and val/ subfolders; "single": one set of class folders, split by --val-fraction. */
  layout: "split" | "single";
  classNames: string[];
  train: ListedImage[];
  val: ListedImage[] | null;
  /** Files in class folders that are not PNG or JPEG by their extension: how many, and the first few. */
  skipped: { count: number; examples: string[] };
}

export interface ImageFolderLimits {
  maxFiles?: number;
  maxDecodedBytes?: number;
}

function isHidden(name: string): boolean {
  return name.startsWith(".");
}

/** An entry's stat, following links; a loop or a dangling link is an error naming it. */
function statFollowing(path: string): Stats {
  try {
    return statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ELOOP") throw new DatasetError(`${path}: symbolic link loop`);
    if (code === "ENOENT") throw new DatasetError(`${path}: broken symbolic link (its target does not exist)`);
    throw new DatasetError(`${path}: cannot read (${(err as Error).message})`);
  }
}

/** Sub-folder names of `dir` (hidden ones left out), sorted in code-point order. */
function subfolders(dir: string): string[] {
  const names: string[] = [];
  const handle = opendirSync(dir);
  try {
    for (let entry = handle.readSync(); entry; entry = handle.readSync()) {
      if (isHidden(entry.name)) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory() || (entry.isSymbolicLink() && statFollowing(path).isDirectory())) names.push(entry.name);
    }
  } finally {
    handle.closeSync();
  }
  return names.sort(compareCodePoints);
}

/** Python's sorted() order for strings without characters beyond U+FFFF (JavaScript compares UTF-16 code units). */
function compareCodePoints(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

interface WalkState {
  root: string;
  maxFiles: number;
  /** Image files seen, stored or not. */
  seen: number;
  skipped: { count: number; examples: string[] };
}

/** One folder's image files, as os.walk yields them: the folder's path and its file names. */
interface WalkedFolder {
  dir: string;
  names: string[];
}

/**
 * Walks a class folder recursively, following links (`ancestors`: real paths on the way down, to refuse a loop), and
 * collects each folder's image file names. The order is torchvision's make_dataset: folders sorted by path
 * (`sorted(os.walk(…))`), then each folder's file names sorted.
 */
function walkClass(dir: string, state: WalkState, ancestors: Set<string>, out: WalkedFolder[]): void {
  const real = realpathSync(dir);
  if (ancestors.has(real)) throw new DatasetError(`${dir}: symbolic link loop (it leads back to ${real})`);
  ancestors.add(real);
  const names: string[] = [];
  const subdirs: string[] = [];
  const handle = opendirSync(dir);
  try {
    for (let entry = handle.readSync(); entry; entry = handle.readSync()) {
      if (isHidden(entry.name)) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory() || (entry.isSymbolicLink() && statFollowing(path).isDirectory())) {
        subdirs.push(path);
        continue;
      }
      if (!IMAGE_EXTENSIONS.includes(extname(entry.name).toLowerCase())) {
        state.skipped.count++;
        if (state.skipped.examples.length < 3) state.skipped.examples.push(relative(state.root, path));
        continue;
      }
      // Past the limit only the count grows, so a folder of millions of files costs no memory to refuse.
      if (++state.seen <= state.maxFiles) names.push(entry.name);
    }
  } finally {
    handle.closeSync();
  }
  out.push({ dir, names: names.sort(compareCodePoints) });
  for (const sub of subdirs) walkClass(sub, state, ancestors, out);
  ancestors.delete(real);
}

function listSet(base: string, classNames: string[], present: string[], state: WalkState): ListedImage[] {
  const files: ListedImage[] = [];
  for (const name of present) {
    const label = classNames.indexOf(name);
    const before = state.seen;
    const folders: WalkedFolder[] = [];
    walkClass(join(base, name), state, new Set(), folders);
    if (state.seen === before)
      throw new DatasetError(`${join(base, name)}: empty class folder (no .png, .jpg or .jpeg files)`);
    folders.sort((a, b) => compareCodePoints(a.dir, b.dir));
    // Size and time are read once the whole listing is known to be under the limit (withStats).
    for (const { dir, names } of folders)
      for (const file of names)
        files.push({ path: relative(state.root, join(dir, file)).split("\\").join("/"), label, size: 0, mtimeMs: 0 });
  }
  return files;
}

/** Fills in each listed file's size and modification time (links followed). */
function withStats(root: string, files: ListedImage[]): void {
  for (const file of files) {
    const stats = statFollowing(join(root, file.path));
    file.size = stats.size;
    file.mtimeMs = stats.mtimeMs;
  }
}

/** The folder's classes and image files with their sizes and times: no image is opened. */
export function listImageFolder(dir: string, limits: ImageFolderLimits = {}): ImageFolderListing {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory())
    throw new DatasetError(`${dir}: no such folder (imagefolder:<dir>)`);
  const top = subfolders(root);
  const split = top.includes("train") && top.includes("val");
  const trainBase = split ? join(root, "train") : root;
  const classNames = subfolders(trainBase);
  if (classNames.length === 0)
    throw new DatasetError(`${trainBase}: no class folders (expected one sub-folder of images per class)`);
  if (classNames.length === 1)
    throw new DatasetError(`${trainBase}: only one class folder ("${classNames[0]}"): a classifier needs at least two`);
  const state: WalkState = {
    root,
    maxFiles: limits.maxFiles ?? MAX_IMAGEFOLDER_FILES,
    seen: 0,
    skipped: { count: 0, examples: [] },
  };
  const train = listSet(trainBase, classNames, classNames, state);
  let val: ListedImage[] | null = null;
  if (split) {
    const valBase = join(root, "val");
    const valClasses = subfolders(valBase);
    const unknown = valClasses.filter((name) => !classNames.includes(name));
    if (unknown.length > 0)
      throw new DatasetError(
        `${join(valBase, unknown[0])}: class folder "${unknown[0]}" is not among train/'s classes (${classNames.join(", ")})`,
      );
    if (valClasses.length === 0) throw new DatasetError(`${valBase}: no class folders`);
    val = listSet(valBase, classNames, valClasses, state);
  }
  if (state.seen > state.maxFiles)
    throw new DatasetError(
      `${dir}: ${formatExactCount(state.seen)} image files, over the limit of ${formatExactCount(state.maxFiles)} for one dataset`,
    );
  withStats(root, train);
  if (val) withStats(root, val);
  return {
    root,
    name: basename(root),
    layout: split ? "split" : "single",
    classNames,
    train,
    val,
    skipped: state.skipped,
  };
}

/** The cache key: the shape, the transform version, and every file's path, label, size and time. */
export function imageFolderCacheKey(listing: ImageFolderListing, shape: Shape3): string {
  const hash = createHash("sha256");
  hash.update(JSON.stringify({ version: TRANSFORM_VERSION, shape, classes: listing.classNames }));
  for (const [set, files] of [
    ["train", listing.train],
    ["val", listing.val ?? []],
  ] as const)
    for (const f of files) hash.update(`${set}\0${f.path}\0${f.label}\0${f.size}\0${f.mtimeMs}\n`);
  return hash.digest("hex");
}

interface CacheHeader {
  key: string;
  shape: Shape3;
  classNames: string[];
  trainCount: number;
  valCount: number | null;
}

/** Where the cache of `shape` lives: in the dataset's root unless a cache folder is given. */
export function imageFolderCachePath(listing: ImageFolderListing, shape: Shape3, cacheDir?: string): string {
  const file = `.resnet-studio-${shape.join("x")}.cache`;
  if (!cacheDir) return join(listing.root, file);
  const tag = createHash("sha256").update(listing.root).digest("hex").slice(0, 16);
  return join(cacheDir, `${listing.name}-${tag}${file}`);
}

/** The cached images when the file exists and its key matches; null otherwise (a stale or foreign file is ignored). */
function readCache(path: string, key: string, sampleBytes: number): { header: CacheHeader; body: Uint8Array } | null {
  if (!existsSync(path)) return null;
  const bytes = readFileSync(path);
  if (bytes.length < 12 || bytes.toString("latin1", 0, 4) !== CACHE_MAGIC) return null;
  const headerLength = bytes.readUInt32LE(8);
  if (bytes.readUInt32LE(4) !== TRANSFORM_VERSION || 12 + headerLength > bytes.length) return null;
  let header: CacheHeader;
  try {
    header = JSON.parse(bytes.toString("utf8", 12, 12 + headerLength)) as CacheHeader;
  } catch {
    return null;
  }
  if (header.key !== key) return null;
  const count = header.trainCount + (header.valCount ?? 0);
  const body = bytes.subarray(12 + headerLength);
  if (body.length !== count * (sampleBytes + 1)) return null;
  return { header, body };
}

export interface ImageFolderLoadOptions extends ImageFolderLimits {
  /** The folder the cache goes in; default the dataset's root. */
  cacheDir?: string;
  /** Called as images are decoded (not when the cache is read). */
  onProgress?: (decoded: number, total: number) => void;
}

export interface LoadedImageFolder {
  train: ImageDataset;
  val: ImageDataset | null;
  listing: ImageFolderListing;
  cachePath: string;
  /** True when the images came from the cache file. */
  fromCache: boolean;
}

const nextTick = (): Promise<void> => new Promise((done) => setImmediate(done));

/** Opens the cache's temporary file; null when its folder can't be written. */
function openTemp(cachePath: string): { fd: number; temp: string } | null {
  const temp = `${cachePath}.tmp-${process.pid}`;
  try {
    return { fd: openSync(temp, "w"), temp };
  } catch {
    return null;
  }
}

/**
 * Decodes every listed image to `shape` ([channels 1 or 3, H, W]) into one buffer, writing the cache file as it goes
 * (to the open temporary file, renamed to `cachePath` at the end). Throws naming the first file that fails, after
 * removing the temporary file.
 */
async function decodeAll(
  listing: ImageFolderListing,
  shape: Shape3,
  target: { fd: number; temp: string; cachePath: string },
  key: string,
  onProgress?: (decoded: number, total: number) => void,
): Promise<Uint8Array> {
  const [channels, height, width] = shape;
  const files = [...listing.train, ...(listing.val ?? [])];
  const sampleBytes = channels * height * width;
  const images = new Uint8Array(files.length * sampleBytes);
  const header: CacheHeader = {
    key,
    shape,
    classNames: listing.classNames,
    trainCount: listing.train.length,
    valCount: listing.val ? listing.val.length : null,
  };
  const headerJson = Buffer.from(JSON.stringify(header), "utf8");
  const prefix = Buffer.alloc(12);
  prefix.write(CACHE_MAGIC, 0, "latin1");
  prefix.writeUInt32LE(TRANSFORM_VERSION, 4);
  prefix.writeUInt32LE(headerJson.length, 8);
  const { fd, temp, cachePath } = target;
  let open = true;
  try {
    writeSync(fd, prefix);
    writeSync(fd, headerJson);
    let written = 0;
    for (let i = 0; i < files.length; i++) {
      const path = join(listing.root, files[i].path);
      let bytes: Buffer;
      try {
        bytes = readFileSync(path);
      } catch (err) {
        throw new DatasetError(`${path}: cannot read (${(err as Error).message})`);
      }
      const decoded = decodeImage(bytes, path);
      resizeCenterCrop(channels === 1 ? toGrey(decoded) : toRgb(decoded), height, width, images, i * sampleBytes);
      if ((i + 1) % DECODE_CHUNK === 0 || i + 1 === files.length) {
        writeSync(fd, images, written * sampleBytes, (i + 1 - written) * sampleBytes);
        written = i + 1;
        onProgress?.(written, files.length);
        await nextTick();
      }
    }
    writeSync(
      fd,
      Uint8Array.from(files, (f) => f.label),
    );
    closeSync(fd);
    open = false;
    renameSync(temp, cachePath);
  } catch (err) {
    if (open) closeSync(fd);
    rmSync(temp, { force: true });
    throw err;
  }
  return images;
}

/** The network input an ImageFolder decodes to, from `size=` and `mode=` options or the network's own input. */
export function imageFolderShape(options: { size?: [number, number]; mode?: "rgb" | "grey" }, input: Shape3): Shape3 {
  const channels = options.mode ? (options.mode === "grey" ? 1 : 3) : input[0] === 1 ? 1 : 3;
  const [height, width] = options.size ?? [input[1], input[2]];
  return [channels, height, width];
}

/** Decoded (or cached) images of an ImageFolder at `shape`, with the train/val sets its layout gives. */
export async function loadImageFolder(
  dir: string,
  shape: Shape3,
  options: ImageFolderLoadOptions = {},
): Promise<LoadedImageFolder> {
  const listing = listImageFolder(dir, options);
  const [channels, height, width] = shape;
  const count = listing.train.length + (listing.val?.length ?? 0);
  const sampleBytes = channels * height * width;
  const maxBytes = options.maxDecodedBytes ?? MAX_DECODED_BYTES;
  if (count * sampleBytes > maxBytes)
    throw new DatasetError(
      `${dir}: ${formatExactCount(count)} images at ${formatShape(shape)} make ${formatBytes(count * sampleBytes)}, ` +
        `over the ${formatBytes(maxBytes)} limit; use a smaller input (imagefolder:<dir>:size=N)`,
    );
  const key = imageFolderCacheKey(listing, shape);
  if (options.cacheDir) mkdirSync(options.cacheDir, { recursive: true });
  let cachePath = imageFolderCachePath(listing, shape, options.cacheDir);
  let cached = readCache(cachePath, key, sampleBytes);
  let temp = cached ? null : openTemp(cachePath);
  if (!cached && !temp && !options.cacheDir) {
    // A read-only dataset folder (a system package, a mounted share): the cache goes to the temp folder instead.
    const fallback = join(tmpdir(), "resnet-studio-cache");
    mkdirSync(fallback, { recursive: true });
    cachePath = imageFolderCachePath(listing, shape, fallback);
    cached = readCache(cachePath, key, sampleBytes);
    temp = cached ? null : openTemp(cachePath);
  }
  let images: Uint8Array;
  if (cached) images = cached.body.subarray(0, count * sampleBytes);
  else if (temp) images = await decodeAll(listing, shape, { ...temp, cachePath }, key, options.onProgress);
  else throw new DatasetError(`${cachePath}: cannot write the decoded-image cache here`);
  const fromCache = cached !== null;
  const trainCount = listing.train.length;
  const labelsOf = (files: ListedImage[]) => Uint8Array.from(files, (f) => f.label);
  const dataset = (pixels: Uint8Array, files: ListedImage[], name: string): ImageDataset => ({
    name,
    images: pixels,
    labels: labelsOf(files),
    count: files.length,
    height,
    width,
    channels,
    classes: listing.classNames.length,
    classNames: [...listing.classNames],
    // Filled in by the resolver from the training split (resolve.ts); neutral until then.
    mean: new Array<number>(channels).fill(0),
    std: new Array<number>(channels).fill(1),
  });
  const train = dataset(images.subarray(0, trainCount * sampleBytes), listing.train, listing.name);
  const val = listing.val
    ? dataset(images.subarray(trainCount * sampleBytes, count * sampleBytes), listing.val, `${listing.name} (val)`)
    : null;
  return { train, val, listing, cachePath, fromCache };
}

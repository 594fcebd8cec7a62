/**
 * Every file a command writes (checkpoints, SVG, HTML, model.py, train_ddp.py, saved specs) goes through
 * `writeFileAtomic`: a temp file in the same folder, fsync, rename over the target, fsync of the folder. A full disk or
 * a kill leaves the old file whole, never a truncated one (issue 21: `render --out` and `export --out` on a full disk).
 * Files a command reads from the user (checkpoints) go through `readRegularFile`: stat first, so a FIFO cannot hang it
 * and a symlink to /dev/zero cannot fill memory. Every error names the file.
 */
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  fsyncSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
  type Stats,
} from "node:fs";
import { basename, dirname, join } from "node:path";

/** `.rs-tmp-<pid>-…tmp`: the names the TypeScript writer and the exported Python writer give their temp files. */
export const TEMP_PREFIX = ".rs-tmp-";
const TEMP_NAME = /^\.rs-tmp-(\d+)-.*\.tmp$/;
/** A temp file this old is a killed writer's even if its pid is alive again (pids are reused). */
export const STALE_TEMP_MS = 60 * 60 * 1000;

/** A file that cannot be read or written; the message names it. */
export class FileError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = "FileError";
  }
}

/** What went wrong in a node fs call, without node's own "ENOSPC: no space left on device, write" phrasing twice. */
export function fsProblem(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const known: Record<string, string> = {
    ENOSPC: "no space left on the device",
    EDQUOT: "the disk quota is exceeded",
    EISDIR: "is a folder, not a file",
    ENOTDIR: "a part of the path is not a folder",
    ENOENT: "no such file or folder",
    EACCES: "permission denied",
    EPERM: "operation not permitted",
    EROFS: "the file system is read-only",
    EMFILE: "too many open files",
    ENAMETOOLONG: "the name is too long",
    ELOOP: "too many symbolic links",
  };
  if (typeof e?.code === "string" && known[e.code]) return `${known[e.code]} (${e.code})`;
  return err instanceof Error ? err.message : String(err);
}

function tempPathFor(file: string): string {
  return join(
    dirname(file),
    `${TEMP_PREFIX}${process.pid}-${Math.random().toString(36).slice(2)}-${basename(file)}.tmp`,
  );
}

/**
 * Writes `data` to `file` atomically; on any failure the temp file is removed and the target is left as it was.
 * Also removes stale temp files in the folder (see removeStaleTempFiles). Throws FileError naming `file`.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array | readonly Uint8Array[]): void {
  const chunks = typeof data === "string" ? [Buffer.from(data, "utf8")] : data instanceof Uint8Array ? [data] : data;
  if (existsSync(file) && statSync(file).isDirectory()) throw new FileError(file, "is a folder, not a file");
  removeStaleTempFiles(dirname(file));
  const tmp = tempPathFor(file);
  let fd: number;
  try {
    fd = openSync(tmp, "wx");
  } catch (err) {
    throw new FileError(file, `cannot write: ${fsProblem(err)}`);
  }
  try {
    for (const chunk of chunks) {
      let written = 0;
      while (written < chunk.length) written += writeSync(fd, chunk, written, chunk.length - written);
    }
    fsyncSync(fd);
    closeSync(fd);
  } catch (err) {
    closeQuietly(fd);
    unlinkQuietly(tmp);
    throw new FileError(file, `cannot write: ${fsProblem(err)}; the file was left as it was`);
  }
  try {
    renameSync(tmp, file);
  } catch (err) {
    unlinkQuietly(tmp);
    throw new FileError(file, `cannot write: ${fsProblem(err)}; the file was left as it was`);
  }
  try {
    const dirFd = openSync(dirname(file), "r");
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  } catch {
    // Some platforms (Windows) cannot fsync a folder; the rename is still atomic there.
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed by the failing call.
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes temp files that a killed writer left in `folder` (or in the folder of the file `folder` names): those whose
 * writer is gone, and any older than an hour. Never touches a finished file. Returns the names removed.
 */
export function removeStaleTempFiles(folder: string, now = Date.now()): string[] {
  let dir = folder;
  try {
    if (!statSync(folder).isDirectory()) dir = dirname(folder);
  } catch {
    dir = dirname(folder);
  }
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const match = TEMP_NAME.exec(name);
    if (!match) continue;
    const path = join(dir, name);
    let old = false;
    try {
      old = now - statSync(path).mtimeMs > STALE_TEMP_MS;
    } catch {
      continue;
    }
    if (!old && processAlive(Number(match[1]))) continue;
    try {
      unlinkSync(path);
      removed.push(name);
    } catch {
      // Already gone (another run cleaned it): nothing to do.
    }
  }
  return removed;
}

function kindOf(s: Stats): string {
  if (s.isDirectory()) return "a folder";
  if (s.isFIFO()) return "a named pipe (FIFO)";
  if (s.isCharacterDevice()) return "a character device";
  if (s.isBlockDevice()) return "a block device";
  if (s.isSocket()) return "a socket";
  return "not a regular file";
}

/**
 * Reads a regular file of at most `maxBytes`. Opened non-blocking so that a FIFO cannot hang the open, then checked
 * with fstat (the file actually opened, symlinks followed): devices, pipes, sockets and folders are refused, and so is
 * a file larger than `maxBytes`, before any byte is read. `what` names the kind of file in messages.
 */
export function readRegularFile(file: string, maxBytes: number, what: string): Buffer {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    throw new FileError(file, `cannot read the ${what}: ${fsProblem(err)}`);
  }
  try {
    const s = fstatSync(fd);
    if (!s.isFile()) throw new FileError(file, `is ${kindOf(s)}, not a ${what} file`);
    if (s.size > maxBytes)
      throw new FileError(file, `is ${s.size} bytes, more than the ${maxBytes} a ${what} can be: not a ${what}`);
    const bytes = Buffer.allocUnsafe(s.size);
    let read = 0;
    while (read < s.size) {
      const n = readSync(fd, bytes, read, s.size - read, read);
      if (n === 0) break;
      read += n;
    }
    // A file that shrank while being read is reported by its parser as truncated.
    return read === s.size ? bytes : bytes.subarray(0, read);
  } catch (err) {
    if (err instanceof FileError) throw err;
    throw new FileError(file, `cannot read the ${what}: ${fsProblem(err)}`);
  } finally {
    closeQuietly(fd);
  }
}

/** Load a network from a `.resnet.ts` file or a preset name, as the CLI and the extension do. */
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from "node:fs";
import { SPEC_BUDGET } from "./parser/budget";
import type { Diagnostic, DiagnosticCode } from "./diagnostics";
import type { ModelGraph } from "./analysis/graph";
import { analyzeSpecText } from "./specAnalysis";
import { closestName, editDistance } from "./spec/builders";
import { PRESET_NAMES, presetOptions } from "./spec/presets";
import { normalizeSpec, issuesToDiagnostics } from "./spec/builders";
import { analyze } from "./analysis/analyze";
import type { ResNetSpec, Shape3 } from "./spec/types";

export interface LoadedSpec {
  graph: ModelGraph | null;
  spec: ResNetSpec | null;
  diagnostics: Diagnostic[];
  /** The spec file read, or null for a preset. */
  file: string | null;
}

export interface LoadOptions {
  /** Replaces the network's input shape. */
  input?: Shape3;
}

function failure(message: string, code: DiagnosticCode, file: string | null = null): LoadedSpec {
  return { graph: null, spec: null, file, diagnostics: [{ severity: "error", code, message, range: null }] };
}

/** True when `arg` names a file rather than a preset. */
function looksLikePath(arg: string): boolean {
  return /[\\/]/.test(arg) || /\.[cm]?[jt]s$/.test(arg);
}

/** The presets whose names are close to `name`, best first. */
export function similarPresetNames(name: string, limit = 3): string[] {
  const lower = name.toLowerCase();
  const scored = PRESET_NAMES.map((candidate) => {
    const prefix = candidate.startsWith(lower) || lower.startsWith(candidate) ? 0 : 1;
    return { candidate, score: prefix * 100 + editDistance(lower, candidate) };
  });
  scored.sort((a, b) => a.score - b.score || a.candidate.localeCompare(b.candidate));
  const best = closestName(name, PRESET_NAMES);
  const names = scored.slice(0, limit).map((s) => s.candidate as string);
  return best && !names.includes(best) ? [best, ...names.slice(0, limit - 1)] : names;
}

/** Parse `--input C,H,W` (also `CxHxW`), or throw an Error naming the problem. */
export function parseShapeArg(text: string): Shape3 {
  const parts = text.split(/[,x×]/).map((p) => p.trim());
  const dims = parts.map(Number);
  if (dims.length !== 3 || dims.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new Error(`--input must be three positive integers C,H,W such as 3,224,224, got "${text}"`);
  }
  return [dims[0], dims[1], dims[2]];
}

/** Load from a spec's text (already read), e.g. an editor buffer. */
export function loadSpecText(text: string, file: string, opts: LoadOptions = {}): LoadedSpec {
  const analysis = analyzeSpecText(text, file, { input: opts.input });
  return { graph: analysis.graph, spec: analysis.spec, diagnostics: analysis.diagnostics, file };
}

/** What a path that is neither a file nor a directory is, for messages. */
function fileKind(stats: Stats): string {
  if (stats.isFIFO()) return "a named pipe (FIFO)";
  if (stats.isCharacterDevice()) return "a character device";
  if (stats.isBlockDevice()) return "a block device";
  if (stats.isSocket()) return "a socket";
  return "not a regular file";
}

/**
 * UTF-8 takes at most 3 bytes per UTF-16 unit, so a file over this many bytes is past the reader's character budget
 * whatever it holds: it is refused from its size, never read whole (a 3 GB file reached 4.3 GB resident).
 */
export const MAX_SPEC_FILE_BYTES = 3 * SPEC_BUDGET.sourceChars;

/**
 * The text of a spec file, or why it can't be read. Checks the kind and size before reading (a FIFO would block,
 * a symlink to /dev/zero never ends) and reads at most MAX_SPEC_FILE_BYTES + 1 bytes, in case the file grows.
 */
function readSpecFile(path: string, stats: Stats): string | LoadedSpec {
  if (!stats.isFile())
    return failure(
      `${path} is ${fileKind(stats)}, not a regular file; give a .resnet.ts file or a preset name`,
      "file-unreadable",
      path,
    );
  const tooLarge = (size: string) =>
    failure(
      `${path} is ${size} bytes; a spec file is at most ${MAX_SPEC_FILE_BYTES} bytes (${SPEC_BUDGET.sourceChars} characters)`,
      "budget-exceeded",
      path,
    );
  if (stats.size > MAX_SPEC_FILE_BYTES) return tooLarge(String(stats.size));
  let fd: number | undefined;
  try {
    // O_NONBLOCK: if the path was swapped for a FIFO since the stat, opening it does not wait for a writer.
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    const opened = fstatSync(fd);
    if (!opened.isFile()) return readSpecFile(path, opened);
    // Not sized from fstat: files such as /proc's report 0 bytes and still have text.
    const buffer = Buffer.alloc(MAX_SPEC_FILE_BYTES + 1);
    let length = 0;
    for (let n = -1; n !== 0 && length < buffer.length; length += n)
      n = readSync(fd, buffer, length, buffer.length - length, null);
    if (length > MAX_SPEC_FILE_BYTES) return tooLarge(`more than ${MAX_SPEC_FILE_BYTES}`);
    return buffer.toString("utf8", 0, length);
  } catch (err) {
    return failure(`cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`, "file-unreadable", path);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * `arg` is a path to a `.resnet.ts` file or a preset name. Never throws for bad input: problems come back as
 * diagnostics (located in the file when there is one).
 */
export function loadSpec(arg: string, opts: LoadOptions = {}): LoadedSpec {
  let stats: Stats | undefined;
  try {
    stats = statSync(arg, { throwIfNoEntry: false });
  } catch (err) {
    return failure(`cannot read ${arg}: ${err instanceof Error ? err.message : String(err)}`, "file-unreadable", arg);
  }
  if (stats?.isDirectory())
    return failure(`${arg} is a directory; give a .resnet.ts file or a preset name`, "file-not-found", arg);
  if (stats) {
    const read = readSpecFile(arg, stats);
    return typeof read === "string" ? loadSpecText(read, arg, opts) : read;
  }
  if (looksLikePath(arg)) return failure(`file not found: ${arg}`, "file-not-found", arg);
  const options = presetOptions(arg, opts.input ? { input: opts.input } : undefined);
  if (!options) {
    return failure(
      `unknown preset "${arg}" and no such file; did you mean ${similarPresetNames(arg).join(", ")}? (all presets: ${PRESET_NAMES.join(", ")})`,
      "unknown-preset",
    );
  }
  const { spec, issues } = normalizeSpec(options);
  if (!spec) return { graph: null, spec: null, file: null, diagnostics: issuesToDiagnostics(issues) };
  const analysis = analyze(spec);
  return { graph: analysis.graph, spec, diagnostics: analysis.diagnostics, file: null };
}

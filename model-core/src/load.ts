/** Load a network from a `.resnet.ts` file or a preset name, as the CLI and the extension do. */
import { existsSync, readFileSync, statSync } from "node:fs";
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

/**
 * `arg` is a path to a `.resnet.ts` file or a preset name. Never throws for bad input: problems come back as
 * diagnostics (located in the file when there is one).
 */
export function loadSpec(arg: string, opts: LoadOptions = {}): LoadedSpec {
  if (existsSync(arg) && statSync(arg).isFile()) {
    let text: string;
    try {
      text = readFileSync(arg, "utf8");
    } catch (err) {
      return failure(`cannot read ${arg}: ${err instanceof Error ? err.message : String(err)}`, "file-unreadable", arg);
    }
    return loadSpecText(text, arg, opts);
  }
  if (existsSync(arg))
    return failure(`${arg} is a directory; give a .resnet.ts file or a preset name`, "file-not-found", arg);
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

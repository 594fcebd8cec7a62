/**
 * `.pt`/`.pth` files through the user's PyTorch: `resnet_studio_weights.py` opens them with
 * torch.load(..., weights_only=True) and writes safetensors, which is all Node ever reads. A pickle is never read here.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import { readSafetensorsHeader, WeightsFileError, type SafetensorsHeader } from "./safetensorsHeader";

const SCRIPT = "resnet_studio_weights.py";
/** Loading ResNet-152's 241 MB from a cold disk takes seconds; this bounds a Python that hangs. */
const CONVERT_TIMEOUT_MS = 300_000;
/** The script prints one short line; more is not it. */
const MAX_OUTPUT_CHARS = 64 * 1024;

/** Extensions torch.save files go by. */
export const TORCH_WEIGHT_EXTENSIONS = [".pt", ".pth"];

export const isTorchWeightsFile = (file: string): boolean =>
  TORCH_WEIGHT_EXTENSIONS.includes(extname(file).toLowerCase());

/** The converter: beside the bundle (dist/, copied by scripts/build.mjs) or in model-core/python/ from source. */
export function weightsScript(): string {
  const candidates = [
    join(__dirname, SCRIPT),
    join(__dirname, "..", "python", SCRIPT),
    join(__dirname, "..", "..", "python", SCRIPT),
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found)
    throw new WeightsFileError(
      `${SCRIPT} is missing (looked in ${candidates.join(", ")}); rebuild with node scripts/build.mjs`,
    );
  return found;
}

export interface ConvertedWeights {
  /** The safetensors file written (inside `folder`). */
  file: string;
  /** A temp folder the caller removes with `dispose`. */
  folder: string;
  /** "state_dict" or "model" when the state_dict was nested under that key. */
  nestedUnder: string | null;
  dispose(): void;
}

/** Converts `source` (a torch.save file) to safetensors in a temp folder with `python`. */
export function convertTorchWeights(source: string, python: string): Promise<ConvertedWeights> {
  const folder = mkdtempSync(join(tmpdir(), "rs-weights-"));
  const file = join(folder, "weights.safetensors");
  const dispose = () => rmSync(folder, { recursive: true, force: true });
  return new Promise<ConvertedWeights>((resolve, reject) => {
    const fail = (message: string) => {
      dispose();
      reject(new WeightsFileError(message));
    };
    let child;
    try {
      child = spawn(python, [weightsScript(), source, file], { stdio: ["ignore", "pipe", "pipe"] });
    } catch (err) {
      fail(`${source}: could not start ${python}: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    let stdout = "";
    let stderr = "";
    const take = (text: string, chunk: Buffer) =>
      text.length < MAX_OUTPUT_CHARS ? text + chunk.toString("utf8") : text;
    child.stdout.on("data", (chunk: Buffer) => (stdout = take(stdout, chunk)));
    child.stderr.on("data", (chunk: Buffer) => (stderr = take(stderr, chunk)));
    const timer = setTimeout(() => child.kill("SIGKILL"), CONVERT_TIMEOUT_MS);
    child.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      fail(
        err.code === "ENOENT"
          ? `${source}: reading a .pt/.pth file needs Python with PyTorch; ${python} was not found (set --python, RESNET_STUDIO_PYTHON or resnetStudio.python)`
          : `${source}: ${python} failed to start: ${err.message}`,
      );
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const lastLine = (text: string) => text.trim().split("\n").pop()?.trim() ?? "";
      if (signal)
        return fail(`${source}: ${python} did not convert it within ${CONVERT_TIMEOUT_MS / 1000} s (stopped)`);
      if (code !== 0) {
        const line = lastLine(stderr);
        if (/No module named '?torch'?/.test(stderr))
          return fail(
            `${source}: reading a .pt/.pth file needs PyTorch, and ${python} has none (pip install torch, or choose another Python)`,
          );
        return fail(line.startsWith(source) ? line : `${source}: ${line || `${python} exited with status ${code}`}`);
      }
      let nestedUnder: string | null = null;
      try {
        const report = JSON.parse(lastLine(stdout)) as { nestedUnder?: unknown };
        nestedUnder = typeof report.nestedUnder === "string" ? report.nestedUnder : null;
      } catch {
        return fail(`${source}: ${python} printed no report of the conversion`);
      }
      resolve({ file, folder, nestedUnder, dispose });
    });
  });
}

export interface WeightShapes extends SafetensorsHeader {
  /** Where the tensors came from, for notes: "torch.load (weights_only) under "state_dict"". */
  via: string | null;
}

/** The header of a `.safetensors` file, or of a `.pt`/`.pth` file converted through `python`. */
export async function readWeightShapes(file: string, python: () => string): Promise<WeightShapes> {
  if (!isTorchWeightsFile(file)) return { ...readSafetensorsHeader(file), via: null };
  const converted = await convertTorchWeights(file, python());
  try {
    const header = readSafetensorsHeader(converted.file);
    return {
      ...header,
      via: `torch.load(weights_only=True)${converted.nestedUnder ? `, the state_dict under "${converted.nestedUnder}"` : ""}`,
    };
  } finally {
    converted.dispose();
  }
}

/** "Export as PyTorch Module": the generated model.py for an analysed spec document, or why there is none. Pure. */
import { formatDiagnostic } from "resnet-studio/diagnostics";
import { exportPytorch } from "resnet-studio/export/pytorch";
import type { SpecAnalysis } from "./specDocument";

export type PytorchExportResult = { ok: true; code: string } | { ok: false; message: string };

export function pytorchExportFor(analysis: SpecAnalysis, file: string): PytorchExportResult {
  if (!analysis.graph) {
    const errors = analysis.diagnostics.filter((d) => d.severity === "error");
    const first = errors[0];
    const detail = first ? formatDiagnostic(first, file) : `${file}: the network could not be analyzed`;
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more problem${errors.length > 2 ? "s" : ""})` : "";
    return { ok: false, message: `cannot export: ${detail}${more}` };
  }
  return { ok: true, code: exportPytorch(analysis.graph, { source: file }) };
}

/** The PyTorch module's file name beside its spec: `nets/resnet20.resnet.ts` → `resnet20.py` (a Python module name). */
export function pytorchFileName(specPath: string): string {
  const base = specPath.split(/[\\/]/).pop() ?? "";
  const stem = base.replace(/\.resnet\.ts$/, "").replace(/\.ts$/, "");
  const module = stem.replace(/[^A-Za-z0-9_]/g, "_").replace(/^(?=\d)/, "_");
  return `${module || "model"}.py`;
}

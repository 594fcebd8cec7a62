/**
 * Exports written to files: a save dialog whose default is beside the spec (or in the workspace), an atomic write,
 * and a confirmation with Reveal and Open actions, so no export is silent.
 */
import * as vscode from "vscode";
import * as path from "node:path";
import { writeFileAtomic } from "resnet-studio/safeFiles";

/** Where a save dialog starts: beside `besideUri` (a spec) when given, else in the first workspace folder. */
export function defaultSaveUri(fileName: string, besideUri: vscode.Uri | null): vscode.Uri | undefined {
  if (besideUri) return vscode.Uri.joinPath(besideUri, "..", fileName);
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  return folder ? vscode.Uri.joinPath(folder, fileName) : undefined;
}

/** Ask where to save, write `data` there and confirm it; null when the dialog was cancelled. */
export async function saveExport(
  what: string,
  fileName: string,
  besideUri: vscode.Uri | null,
  filters: Record<string, string[]>,
  data: Uint8Array,
  log: (line: string) => void,
): Promise<vscode.Uri | null> {
  const target = await vscode.window.showSaveDialog({ defaultUri: defaultSaveUri(fileName, besideUri), filters });
  if (!target) return null;
  try {
    if (target.scheme === "file") writeFileAtomic(target.fsPath, data);
    else await vscode.workspace.fs.writeFile(target, data);
  } catch (err) {
    const message = `ResNet Studio: could not write ${target.fsPath}: ${err instanceof Error ? err.message : String(err)}`;
    log(message);
    throw new Error(message);
  }
  log(`exported ${what} to ${target.fsPath}`);
  void confirmExport(what, target);
  return target;
}

/** "Exported … to file" with Reveal (in the Explorer, or the OS file manager outside the workspace) and Open. */
async function confirmExport(what: string, target: vscode.Uri): Promise<void> {
  const choice = await vscode.window.showInformationMessage(
    `ResNet Studio: exported ${what} to ${path.basename(target.fsPath)}.`,
    "Reveal",
    "Open",
  );
  if (choice === "Open") await vscode.commands.executeCommand("vscode.open", target);
  else if (choice === "Reveal")
    await vscode.commands.executeCommand(
      vscode.workspace.getWorkspaceFolder(target) ? "revealInExplorer" : "revealFileInOS",
      target,
    );
}

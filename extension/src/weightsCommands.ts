/**
 * VS Code glue for "New Spec from Weights…" and "Export Trained Model as PyTorch" (the flows are in
 * pure/weightsFlow.ts). Each takes a `vscode.Uri` (a run folder or a weights file), an object with a `uri` (a Runs view
 * element), or nothing, in which case it asks with an open dialog.
 */
import * as vscode from "vscode";
import { exportTrainedFlow, newSpecFromWeights, type WeightsUi } from "./pure/weightsFlow";

/** The command's argument: a path on disk, none (ask), or a URI that is not on disk. */
type Argument = { kind: "path"; path: string } | { kind: "none" } | { kind: "notOnDisk" };

function argumentOf(arg: unknown): Argument {
  const uri =
    arg instanceof vscode.Uri
      ? arg
      : typeof arg === "object" && arg !== null && (arg as { uri?: unknown }).uri instanceof vscode.Uri
        ? (arg as { uri: vscode.Uri }).uri
        : null;
  if (!uri) return { kind: "none" };
  return uri.scheme === "file" ? { kind: "path", path: uri.fsPath } : { kind: "notOnDisk" };
}

function ui(openDiagram: (uri: vscode.Uri) => Promise<unknown>): WeightsUi {
  return {
    async pickWeights(purpose) {
      const picked = await vscode.window.showOpenDialog({
        title: purpose === "import" ? "ResNet Studio: New Spec from Weights" : "ResNet Studio: Export Trained Model",
        canSelectFiles: true,
        canSelectFolders: purpose === "export",
        canSelectMany: false,
        defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
        filters:
          purpose === "import"
            ? { "ResNet weights": ["safetensors", "pt", "pth"] }
            : { "ResNet Studio checkpoint or run folder": ["safetensors"] },
      });
      return picked?.[0]?.scheme === "file" ? picked[0].fsPath : null;
    },
    async pickFolder(suggested) {
      const picked = await vscode.window.showSaveDialog({
        title:
          "ResNet Studio: Export Trained Model — folder to create (model.py, checkpoint.safetensors, load_trained.py)",
        defaultUri: vscode.Uri.file(suggested),
        saveLabel: "Export Here",
      });
      return picked?.scheme === "file" ? picked.fsPath : null;
    },
    progress(title, work) {
      return Promise.resolve(
        vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title }, () => work()),
      );
    },
    async writeNewFile(path, text) {
      await vscode.workspace.fs.writeFile(vscode.Uri.file(path), Buffer.from(text, "utf8"));
    },
    async open(path, withDiagram) {
      const uri = vscode.Uri.file(path);
      await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri), {
        viewColumn: vscode.ViewColumn.One,
      });
      if (withDiagram) await openDiagram(uri);
    },
    info: (message) => void vscode.window.showInformationMessage(message),
    error: (message) => void vscode.window.showErrorMessage(message),
  };
}

export function registerWeightsCommands(
  context: vscode.ExtensionContext,
  openDiagram: (uri: vscode.Uri) => Promise<unknown>,
  python: () => string,
): void {
  const onDisk = (arg: unknown, what: string): string | null | false => {
    const given = argumentOf(arg);
    if (given.kind !== "notOnDisk") return given.kind === "path" ? given.path : null;
    void vscode.window.showErrorMessage(`ResNet Studio: ${what} needs a file on disk, not a remote or virtual one.`);
    return false;
  };
  context.subscriptions.push(
    vscode.commands.registerCommand("resnetStudio.newSpecFromWeights", async (arg?: unknown) => {
      const path = onDisk(arg, "New Spec from Weights");
      if (path === false) return null;
      return newSpecFromWeights(ui(openDiagram), path, { python });
    }),
    vscode.commands.registerCommand("resnetStudio.exportTrainedModel", async (arg?: unknown) => {
      const path = onDisk(arg, "Export Trained Model");
      if (path === false) return null;
      return exportTrainedFlow(ui(openDiagram), path);
    }),
  );
}

/**
 * "ResNet Studio: Compare Network with…": this spec against another spec file, a preset, or this file at git HEAD
 * (the built-in git extension's API, else `git show`). The page comes from pure/compareView.ts.
 */
import * as vscode from "vscode";
import * as path from "node:path";
import { execFile } from "node:child_process";
import { diffNetworks } from "resnet-studio/analysis/diff";
import type { ModelGraph } from "resnet-studio/analysis/graph";
import { loadSpec } from "resnet-studio/load";
import { formatDiagnostic } from "resnet-studio/diagnostics";
import { analyzeSpecText } from "./pure/specDocument";
import { compareHtml } from "./pure/compareView";
import { makeNonce } from "./pure/html";
import { presetQuickPickItems, type PresetItem } from "./newSpec";

type Choice =
  | (vscode.QuickPickItem & { choice: "head" | "browse" })
  | (vscode.QuickPickItem & { choice: "file"; uri: vscode.Uri })
  | (PresetItem & { choice: "preset" })
  | (vscode.QuickPickItem & { choice: "separator" });

/** The part of the built-in git extension's API (vscode.git, API version 1) used here. */
interface GitApi {
  getRepository(uri: vscode.Uri): { show(ref: string, filePath: string): Promise<string> } | null;
}
interface GitExtension {
  getAPI(version: 1): GitApi;
}

/** A git command's output; rejects with git's own message (e.g. the file is not in HEAD). */
function gitShow(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      "git",
      ["show", `HEAD:./${path.basename(file)}`],
      { cwd: path.dirname(file), maxBuffer: 16 * 1024 * 1024, timeout: 15000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error((stderr || err.message).split("\n")[0].replace(/^fatal: /, "")));
        else resolve(stdout);
      },
    );
  });
}

async function textAtHead(uri: vscode.Uri): Promise<string> {
  const git = vscode.extensions.getExtension<GitExtension>("vscode.git");
  if (git) {
    try {
      const exports = git.isActive ? git.exports : await git.activate();
      const repository = exports.getAPI(1).getRepository(uri);
      if (repository) return await repository.show("HEAD", uri.fsPath);
    } catch {
      // the file may be untracked, or the API unavailable: `git show` gives the reason below
    }
  }
  return gitShow(uri.fsPath);
}

function graphOrThrow(text: string, file: string): ModelGraph {
  const analysis = analyzeSpecText(text, file);
  const errors = analysis.diagnostics.filter((d) => d.severity === "error");
  if (!analysis.graph || errors.length)
    throw new Error(errors.map((d) => formatDiagnostic(d, file)).join("\n") || `${file}: no network`);
  return analysis.graph;
}

async function pickOther(doc: vscode.TextDocument): Promise<{ graph: ModelGraph; title: string } | null> {
  // findFiles needs VS Code's search service; without it the list is empty and Browse… still works.
  const found = await Promise.resolve(vscode.workspace.findFiles("**/*.resnet.ts", "**/node_modules/**", 200)).catch(
    () => [] as vscode.Uri[],
  );
  const files = found.filter((u) => u.toString() !== doc.uri.toString());
  const items: Choice[] = [
    { label: "$(git-commit) This file at git HEAD", choice: "head" },
    { label: "Spec files", kind: vscode.QuickPickItemKind.Separator, choice: "separator" },
    ...files.map((uri): Choice => ({
      label: `$(file) ${path.basename(uri.path)}`,
      description: vscode.workspace.asRelativePath(uri),
      choice: "file",
      uri,
    })),
    { label: "$(folder-opened) Browse…", choice: "browse" },
    { label: "Presets", kind: vscode.QuickPickItemKind.Separator, choice: "separator" },
    ...presetQuickPickItems().map((p): Choice => ({ ...p, choice: "preset" })),
  ];
  const pick = await vscode.window.showQuickPick(items, {
    title: `ResNet Studio: Compare ${path.basename(doc.uri.path)} with…`,
    placeHolder: "A spec file, a preset, or this file at git HEAD",
    matchOnDescription: true,
  });
  if (!pick) return null;
  switch (pick.choice) {
    case "preset": {
      const loaded = loadSpec(pick.preset);
      if (!loaded.graph) throw new Error(`preset ${pick.preset} did not analyse`);
      return { graph: loaded.graph, title: `preset ${pick.preset}` };
    }
    case "head": {
      let text: string;
      try {
        text = await textAtHead(doc.uri);
      } catch (err) {
        throw new Error(`this file at git HEAD is not available: ${err instanceof Error ? err.message : String(err)}`);
      }
      return { graph: graphOrThrow(text, `${vscode.workspace.asRelativePath(doc.uri)}@HEAD`), title: "git HEAD" };
    }
    case "file":
    case "browse": {
      const uri =
        pick.choice === "file"
          ? pick.uri
          : (
              await vscode.window.showOpenDialog({
                canSelectMany: false,
                filters: { "ResNet spec": ["ts"] },
                title: "Compare with spec",
              })
            )?.[0];
      if (!uri) return null;
      const other = await vscode.workspace.openTextDocument(uri);
      return {
        graph: graphOrThrow(other.getText(), vscode.workspace.asRelativePath(uri)),
        title: vscode.workspace.asRelativePath(uri),
      };
    }
    case "separator":
      return null;
  }
}

async function compareWith(uri: vscode.Uri | undefined): Promise<void> {
  const doc =
    uri instanceof vscode.Uri && uri.path.endsWith(".resnet.ts")
      ? await vscode.workspace.openTextDocument(uri)
      : vscode.window.activeTextEditor?.document.uri.path.endsWith(".resnet.ts")
        ? vscode.window.activeTextEditor.document
        : null;
  if (!doc) {
    void vscode.window.showInformationMessage("ResNet Studio: open a .resnet.ts spec to compare it.");
    return;
  }
  try {
    const mine = graphOrThrow(doc.getText(), vscode.workspace.asRelativePath(doc.uri));
    const other = await pickOther(doc);
    if (!other) return;
    // A is the baseline chosen, B this file as it is now; Δmemory at the batch the hovers use.
    const diff = diffNetworks(other.graph, mine, {
      batch: vscode.workspace.getConfiguration("resnetStudio").get<number>("trainBatchSize", 64),
    });
    const panel = vscode.window.createWebviewPanel(
      "resnetStudio.compare",
      `Compare: ${other.graph.name} ↔ ${mine.name}`,
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false },
      { enableScripts: false, localResourceRoots: [] },
    );
    panel.webview.html = compareHtml(
      diff,
      other.graph,
      mine,
      { titleA: other.title, titleB: vscode.workspace.asRelativePath(doc.uri) },
      { cspSource: panel.webview.cspSource, nonce: makeNonce() },
    );
  } catch (err) {
    void vscode.window.showErrorMessage(
      `ResNet Studio: compare failed: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

export function registerCompare(context: vscode.ExtensionContext): void {
  context.subscriptions.push(
    vscode.commands.registerCommand("resnetStudio.compareWith", (uri?: vscode.Uri) => compareWith(uri)),
  );
}

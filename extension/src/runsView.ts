/**
 * The Runs view (`resnetStudio.runs` in the ResNet Studio activity-bar container): the runs under the runs root
 * grouped by spec, newest first, a page at a time (a group's runs are read only when it is expanded, and only the
 * page shown), kept live by a file watcher on run.json. Its commands: Open, Resume, Reveal in File Explorer, Delete
 * (with a modal confirmation: the only command that removes data), Compare Runs on a multi-selection, Refresh.
 * Elements carry `uri`, the run folder, so commands of other features can act on them.
 */
import * as vscode from "vscode";
import * as path from "node:path";
import { hostname } from "node:os";
import {
  defaultLiveness,
  listRunGroups,
  listRunsPage,
  readRunRecord,
  runState,
  RUNS_PAGE_SIZE,
  type BrokenRun,
  type RunSummary,
} from "resnet-studio/runs/listing";
import type { RunRecord, RunState } from "resnet-studio/runs/record";
import type { ComparedRun } from "resnet-studio/runs/compare";
import {
  brokenTooltip,
  compareRunsHtml,
  runContextValue,
  runDescription,
  runLabel,
  runStateIcon,
  runTooltip,
  runsRootFor,
} from "./pure/runsView";

export type RunsNode =
  | { kind: "group"; group: string; uri: vscode.Uri }
  | { kind: "run"; run: RunSummary; uri: vscode.Uri }
  | { kind: "broken"; run: BrokenRun; uri: vscode.Uri }
  | { kind: "more"; group: string; shown: number; total: number };

/** What the Runs view asks of the diagram (extension.ts): show a recorded run, resume one. */
export interface RunActions {
  open: (record: RunRecord, state: RunState, dir: string) => Promise<void>;
  resume: (record: RunRecord, state: RunState, dir: string) => Promise<void>;
}

/** The runs root for this window (see pure/runsView.ts runsRootFor). */
export function runsRoot(context: vscode.ExtensionContext): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  return runsRootFor({
    setting: vscode.workspace.getConfiguration("resnetStudio").get<string>("runsDirectory", ""),
    workspaceFolder: folder && folder.uri.scheme === "file" ? folder.uri.fsPath : null,
    trusted: vscode.workspace.isTrusted,
    globalStorage: context.globalStorageUri.fsPath,
  });
}

export class RunsTreeProvider implements vscode.TreeDataProvider<RunsNode> {
  private readonly changed = new vscode.EventEmitter<RunsNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  /** Runs shown per group (grows by a page with "Show more"). */
  private readonly shown = new Map<string, number>();

  constructor(private readonly root: () => string) {}

  refresh(): void {
    this.changed.fire(undefined);
  }

  showMore(group: string): void {
    this.shown.set(group, (this.shown.get(group) ?? RUNS_PAGE_SIZE) + RUNS_PAGE_SIZE);
    this.refresh();
  }

  getTreeItem(node: RunsNode): vscode.TreeItem {
    switch (node.kind) {
      case "group": {
        const item = new vscode.TreeItem(node.group, vscode.TreeItemCollapsibleState.Collapsed);
        item.contextValue = "runGroup";
        item.iconPath = new vscode.ThemeIcon("folder");
        item.resourceUri = node.uri;
        return item;
      }
      case "run": {
        const item = new vscode.TreeItem(runLabel(node.run.name), vscode.TreeItemCollapsibleState.None);
        item.description = runDescription(node.run);
        item.tooltip = runTooltip(node.run);
        item.contextValue = runContextValue(node.run);
        item.iconPath = new vscode.ThemeIcon(runStateIcon(node.run.state));
        item.id = node.uri.toString();
        item.command = { command: "resnetStudio.runs.open", title: "Open", arguments: [node] };
        return item;
      }
      case "broken": {
        const item = new vscode.TreeItem(runLabel(node.run.name), vscode.TreeItemCollapsibleState.None);
        item.description = "unreadable run.json";
        item.tooltip = brokenTooltip(node.run);
        item.contextValue = "brokenRun";
        item.iconPath = new vscode.ThemeIcon("error");
        item.id = node.uri.toString();
        return item;
      }
      case "more": {
        const item = new vscode.TreeItem(
          `Show more (${node.shown} of ${node.total})`,
          vscode.TreeItemCollapsibleState.None,
        );
        item.contextValue = "moreRuns";
        item.command = { command: "resnetStudio.runs.showMore", title: "Show more", arguments: [node.group] };
        return item;
      }
    }
  }

  getChildren(node?: RunsNode): RunsNode[] {
    const root = this.root();
    if (!node)
      return listRunGroups(root).map((group) => ({
        kind: "group",
        group,
        uri: vscode.Uri.file(path.join(root, group)),
      }));
    if (node.kind !== "group") return [];
    const limit = this.shown.get(node.group) ?? RUNS_PAGE_SIZE;
    const page = listRunsPage(root, node.group, defaultLiveness(hostname()), { limit });
    const children: RunsNode[] = page.entries.map((entry) =>
      entry.kind === "run"
        ? { kind: "run", run: entry, uri: vscode.Uri.file(entry.dir) }
        : { kind: "broken", run: entry, uri: vscode.Uri.file(entry.dir) },
    );
    if (page.next !== null) children.push({ kind: "more", group: node.group, shown: limit, total: page.total });
    return children;
  }
}

/** A command's run folder: a Uri (the folder or its run.json), or an element with `uri`. */
function runFolderOf(arg: unknown): vscode.Uri | null {
  const uri = arg instanceof vscode.Uri ? arg : (arg as { uri?: unknown } | undefined)?.uri;
  if (!(uri instanceof vscode.Uri)) return null;
  return path.basename(uri.fsPath) === "run.json" ? vscode.Uri.file(path.dirname(uri.fsPath)) : uri;
}

async function pickRunFolder(root: string, title: string): Promise<vscode.Uri | null> {
  const picked = await vscode.window.showOpenDialog({
    title,
    canSelectFolders: true,
    canSelectFiles: false,
    defaultUri: vscode.Uri.file(root),
  });
  return picked?.[0] ?? null;
}

function loadRun(dir: vscode.Uri): { record: RunRecord; state: RunState } {
  const record = readRunRecord(dir.fsPath);
  if (!record) throw new Error(`${dir.fsPath}: not a run folder (no run.json)`);
  return { record, state: runState(record, defaultLiveness(hostname())) };
}

function showError(err: unknown): void {
  void vscode.window.showErrorMessage(`ResNet Studio: ${err instanceof Error ? err.message : String(err)}`);
}

/** The selection a tree command acts on: VS Code passes the clicked element, then all selected ones. */
function selectedFolders(arg: unknown, selection: unknown): vscode.Uri[] {
  const all = Array.isArray(selection) && selection.length > 0 ? (selection as unknown[]) : [arg];
  // A spec group or "Show more" in a multi-selection is not a run.
  const runs = all.filter(
    (n) =>
      (n as { kind?: unknown } | undefined)?.kind !== "group" && (n as { kind?: unknown } | undefined)?.kind !== "more",
  );
  return runs.map(runFolderOf).filter((u): u is vscode.Uri => u !== null);
}

/** Compare Runs: the overlaid curves and the final numbers in a webview beside the editor. */
export function showCompareRuns(folders: readonly vscode.Uri[]): vscode.WebviewPanel {
  const live = defaultLiveness(hostname());
  const runs: ComparedRun[] = folders.map((uri) => {
    const record = readRunRecord(uri.fsPath);
    if (!record) throw new Error(`${uri.fsPath}: not a run folder (no run.json)`);
    const dir = uri.fsPath;
    return {
      label: `${path.basename(path.dirname(dir))}/${runLabel(path.basename(dir))}`,
      dir,
      state: runState(record, live),
      record,
    };
  });
  const panel = vscode.window.createWebviewPanel(
    "resnetStudio.compareRuns",
    `Compare Runs (${runs.length})`,
    vscode.ViewColumn.Beside,
    { enableScripts: false },
  );
  panel.webview.html = compareRunsHtml(runs);
  return panel;
}

export function registerRunsView(context: vscode.ExtensionContext, actions: RunActions): RunsTreeProvider {
  const root = () => runsRoot(context);
  const provider = new RunsTreeProvider(root);
  const view = vscode.window.createTreeView("resnetStudio.runs", {
    treeDataProvider: provider,
    canSelectMany: true,
    showCollapseAll: true,
  });
  let watcher: vscode.FileSystemWatcher | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  // run.json is rewritten after every epoch: one refresh per burst of writes.
  const refreshSoon = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => provider.refresh(), 300);
  };
  const watch = () => {
    watcher?.dispose();
    watcher = vscode.workspace.createFileSystemWatcher(
      new vscode.RelativePattern(vscode.Uri.file(root()), "**/run.json"),
    );
    watcher.onDidCreate(refreshSoon);
    watcher.onDidChange(refreshSoon);
    watcher.onDidDelete(refreshSoon);
  };
  watch();
  const withRun =
    (act: (record: RunRecord, state: RunState, dir: string) => Promise<void>, title: string) =>
    async (arg?: unknown) => {
      try {
        const dir = runFolderOf(arg) ?? (await pickRunFolder(root(), title));
        if (!dir) return;
        const { record, state } = loadRun(dir);
        await act(record, state, dir.fsPath);
      } catch (err) {
        showError(err);
      }
    };
  context.subscriptions.push(
    view,
    { dispose: () => (watcher?.dispose(), timer && clearTimeout(timer)) },
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration("resnetStudio.runsDirectory")) {
        watch();
        provider.refresh();
      }
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      watch();
      provider.refresh();
    }),
    vscode.commands.registerCommand("resnetStudio.runs.refresh", () => provider.refresh()),
    vscode.commands.registerCommand("resnetStudio.runs.showMore", (group: unknown) => {
      if (typeof group === "string") provider.showMore(group);
    }),
    vscode.commands.registerCommand("resnetStudio.runs.open", withRun(actions.open, "Open Run")),
    vscode.commands.registerCommand("resnetStudio.runs.resume", withRun(actions.resume, "Resume Run")),
    vscode.commands.registerCommand("resnetStudio.runs.reveal", async (arg?: unknown) => {
      const dir = runFolderOf(arg) ?? (await pickRunFolder(root(), "Reveal Run"));
      if (dir) await vscode.commands.executeCommand("revealFileInOS", dir);
    }),
    vscode.commands.registerCommand("resnetStudio.runs.delete", async (arg?: unknown, selection?: unknown) => {
      const folders = selectedFolders(arg, selection);
      if (folders.length === 0) return;
      const what =
        folders.length === 1
          ? `the run ${path.basename(path.dirname(folders[0].fsPath))}/${path.basename(folders[0].fsPath)}`
          : `${folders.length} runs`;
      const answer = await vscode.window.showWarningMessage(
        `Delete ${what}? Its checkpoint and record are removed from disk.`,
        { modal: true },
        "Delete",
      );
      if (answer !== "Delete") return;
      try {
        for (const dir of folders) await vscode.workspace.fs.delete(dir, { recursive: true, useTrash: false });
      } catch (err) {
        showError(err);
      }
      provider.refresh();
    }),
    vscode.commands.registerCommand("resnetStudio.runs.compare", async (arg?: unknown, selection?: unknown) => {
      try {
        let folders = selectedFolders(arg, selection);
        // From the view's title bar or the palette (no arguments): the runs selected in the view.
        if (folders.length < 2 && arg === undefined)
          folders = view.selection.filter((n) => n.kind === "run").map((n) => n.uri);
        if (folders.length < 2) {
          const picked = await vscode.window.showOpenDialog({
            title: "Compare Runs: choose two or more run folders",
            canSelectFolders: true,
            canSelectFiles: false,
            canSelectMany: true,
            defaultUri: vscode.Uri.file(root()),
          });
          folders = picked ?? [];
        }
        if (folders.length < 2) {
          void vscode.window.showInformationMessage("ResNet Studio: select two or more runs to compare.");
          return;
        }
        showCompareRuns(folders);
      } catch (err) {
        showError(err);
      }
    }),
  );
  return provider;
}

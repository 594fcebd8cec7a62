/**
 * "ResNet Studio: New Spec from Preset…": a quick pick of every preset with its parameter count, then a new,
 * commented `.resnet.ts` that spells the preset out as stages (model-core's presetSpecText), opened with its diagram.
 */
import * as vscode from "vscode";
import { PRESET_NAMES, type PresetName } from "resnet-studio/spec/presets";
import { presetParams, presetSpecText } from "resnet-studio/edit/spellOut";
import { formatCount } from "resnet-studio/presentation/format";

export interface PresetItem extends vscode.QuickPickItem {
  preset: PresetName;
}

let presetItemsCache: PresetItem[] | null = null;

/** One quick-pick item per preset: "resnet50", "25.6M params (25,557,032)". */
export function presetQuickPickItems(): PresetItem[] {
  presetItemsCache ??= PRESET_NAMES.map((name) => {
    const params = presetParams(name);
    return {
      label: name,
      description: `${formatCount(params)} params (${params.toLocaleString("en-US")})`,
      preset: name,
    };
  });
  return presetItemsCache;
}

/** The folder a new spec goes in: the explorer's folder (or a file's folder), else the first workspace folder. */
async function targetFolder(uri: vscode.Uri | undefined): Promise<vscode.Uri | null> {
  if (uri instanceof vscode.Uri) {
    try {
      const stat = await vscode.workspace.fs.stat(uri);
      return stat.type & vscode.FileType.Directory ? uri : vscode.Uri.joinPath(uri, "..");
    } catch {
      // fall through to the workspace
    }
  }
  return vscode.workspace.workspaceFolders?.[0]?.uri ?? null;
}

async function exists(uri: vscode.Uri): Promise<boolean> {
  try {
    await vscode.workspace.fs.stat(uri);
    return true;
  } catch {
    return false;
  }
}

/** `resnet50.resnet.ts`, or `resnet50-2.resnet.ts` when that exists: a new spec never overwrites a file. */
async function freeName(folder: vscode.Uri, preset: string): Promise<string> {
  for (let i = 1; ; i++) {
    const name = i === 1 ? `${preset}.resnet.ts` : `${preset}-${i}.resnet.ts`;
    if (!(await exists(vscode.Uri.joinPath(folder, name)))) return name;
  }
}

export async function newSpecFromPreset(
  uri: vscode.Uri | undefined,
  openDiagram: (uri: vscode.Uri) => Promise<unknown>,
): Promise<vscode.Uri | null> {
  const pick = await vscode.window.showQuickPick(presetQuickPickItems(), {
    title: "ResNet Studio: New Spec from Preset",
    placeHolder: "Preset to start from (it is written out as stages you can edit)",
    matchOnDescription: true,
  });
  if (!pick) return null;
  const folder = await targetFolder(uri);
  if (!folder) {
    void vscode.window.showInformationMessage("ResNet Studio: open a folder first; the new spec is saved in it.");
    return null;
  }
  const suggested = await freeName(folder, pick.preset);
  const name = await vscode.window.showInputBox({
    title: "ResNet Studio: New Spec from Preset",
    prompt: `File name in ${vscode.workspace.asRelativePath(folder)}`,
    value: suggested,
    valueSelection: [0, suggested.length - ".resnet.ts".length],
    validateInput: (v) => (/^[^\\/:*?"<>|]+\.resnet\.ts$/.test(v.trim()) ? null : "a file name ending in .resnet.ts"),
  });
  if (!name) return null;
  const target = vscode.Uri.joinPath(folder, name.trim());
  if (await exists(target)) {
    void vscode.window.showErrorMessage(
      `ResNet Studio: ${vscode.workspace.asRelativePath(target)} already exists; choose another name.`,
    );
    return null;
  }
  await vscode.workspace.fs.writeFile(target, Buffer.from(presetSpecText(pick.preset), "utf8"));
  const doc = await vscode.workspace.openTextDocument(target);
  await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.One });
  await openDiagram(target);
  return target;
}

export function registerNewSpec(
  context: vscode.ExtensionContext,
  openDiagram: (uri: vscode.Uri) => Promise<unknown>,
): void {
  context.subscriptions.push(
    vscode.commands.registerCommand("resnetStudio.newSpecFromPreset", (uri?: vscode.Uri) =>
      newSpecFromPreset(uri, openDiagram),
    ),
  );
}

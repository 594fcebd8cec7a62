/**
 * "Train on…" in Train Small Model: the embedded digits, a folder picked in the file dialog (IDX or ImageFolder, told
 * from its contents), or a recent dataset. The pick becomes the resnetStudio.dataset setting (user settings) and heads
 * the recent list in global state. The decisions live in ./pure/datasetChoice.ts; this file only talks to VS Code.
 */
import * as vscode from "vscode";
import * as path from "node:path";
import { readdir } from "node:fs/promises";
import {
  datasetItems,
  detectDatasetFolder,
  recentDatasets,
  rememberDataset,
  type FolderEntry,
} from "./pure/datasetChoice";
import { datasetTarget } from "resnet-studio/data/resolve";
import type { DatasetTarget } from "resnet-studio/analysis/adapt";
import { DEFAULT_TRAIN_CONFIG } from "resnet-studio/runtime/trainTypes";

const RECENT_KEY = "resnetStudio.recentDatasets";
/** Subfolders looked into to tell an ImageFolder (a class folder with an image is enough). */
const MAX_SUBFOLDERS_LISTED = 64;

export function datasetSettingValue(): string {
  return vscode.workspace.getConfiguration("resnetStudio").get<string>("dataset", "mnist").trim() || "mnist";
}

async function list(folder: string): Promise<FolderEntry[]> {
  const entries = await readdir(folder, { withFileTypes: true });
  return entries.map((e) => ({ name: e.name, directory: e.isDirectory() }));
}

/** The folder's entries and, for its first subfolders (and train/'s), theirs. */
async function folderListing(
  folder: string,
): Promise<{ entries: FolderEntry[]; children: Record<string, FolderEntry[]> }> {
  const entries = await list(folder);
  const children: Record<string, FolderEntry[]> = {};
  const subfolders = entries.filter((e) => e.directory).slice(0, MAX_SUBFOLDERS_LISTED);
  for (const sub of subfolders) children[sub.name] = await list(path.join(folder, sub.name)).catch(() => []);
  for (const cls of (children.train ?? []).filter((e) => e.directory).slice(0, MAX_SUBFOLDERS_LISTED))
    children[`train/${cls.name}`] = await list(path.join(folder, "train", cls.name)).catch(() => []);
  return { entries, children };
}

/** Asks what to train on; resolves with the dataset argument (also saved as the setting), or undefined. */
export async function pickDataset(storage: vscode.Memento): Promise<string | undefined> {
  const current = datasetSettingValue();
  const recent = recentDatasets(storage.get<unknown>(RECENT_KEY));
  const picked = await vscode.window.showQuickPick(
    datasetItems(current, recent).map((item) => ({ label: item.label, description: item.description, item })),
    { title: "Train on…", placeHolder: `Now: ${current}`, matchOnDescription: true },
  );
  if (!picked) return undefined;
  let arg: string;
  if (picked.item.pick.kind === "dataset") arg = picked.item.pick.arg;
  else {
    const uri = (
      await vscode.window.showOpenDialog({
        canSelectFiles: false,
        canSelectFolders: true,
        canSelectMany: false,
        title: "Train on a folder: MNIST-format IDX files, or one subfolder of PNG/JPEG images per class",
        openLabel: "Train on This Folder",
      })
    )?.[0];
    if (!uri) return undefined;
    const { entries, children } = await folderListing(uri.fsPath);
    const detected = detectDatasetFolder(uri.fsPath, entries, children);
    if (detected.kind === "unknown") {
      void vscode.window.showErrorMessage(`ResNet Studio: ${detected.reason}.`);
      return undefined;
    }
    arg = detected.arg;
  }
  await storage.update(RECENT_KEY, rememberDataset(recent, arg));
  await vscode.workspace.getConfiguration("resnetStudio").update("dataset", arg, vscode.ConfigurationTarget.Global);
  return arg;
}

/**
 * What a dataset feeds the network, read from its files' headers without loading it (data/resolve.ts), with the epoch
 * capped by resnetStudio.trainSamplesPerEpoch. Throws a DatasetError naming the file when the folder can't be read.
 */
export function editorDatasetTarget(arg: string, samplesPerEpoch: number | undefined): DatasetTarget {
  const target = datasetTarget(arg, DEFAULT_TRAIN_CONFIG.valFraction) ?? {
    name: arg,
    input: [3, 32, 32],
    classes: 10,
    trainSamples: 1800,
  };
  return samplesPerEpoch === undefined
    ? target
    : { ...target, trainSamples: Math.min(target.trainSamples, samplesPerEpoch) };
}

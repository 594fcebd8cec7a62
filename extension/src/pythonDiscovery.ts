/**
 * Which Python the torch backend runs (issue 18): the Python extension's active interpreter for the workspace when
 * ms-python.python is installed (through its public API), else the resnetStudio.python setting, else
 * RESNET_STUDIO_PYTHON, else python3 on PATH (resolvePython in model-core). What was chosen, and its torch and CUDA,
 * are written once per interpreter to the "ResNet Studio" output channel.
 */
import * as vscode from "vscode";
import { describePython, resolvePython } from "resnet-studio/runtime/torchBackend";
import { followInterpreter, type PythonExtensionApi } from "./pure/pythonInterpreter";

let interpreter: string | undefined;
const described = new Set<string>();

/** The Python extension's interpreter for the workspace, when it is installed and has one. */
export function pythonExtensionInterpreter(): string | undefined {
  return interpreter;
}

/** Follows the Python extension's active interpreter, if that extension is installed. */
export async function watchPythonExtension(context: vscode.ExtensionContext, log: vscode.OutputChannel): Promise<void> {
  const extension = vscode.extensions.getExtension<PythonExtensionApi<vscode.Uri>>("ms-python.python");
  if (!extension) return;
  try {
    const api = extension.isActive ? extension.exports : await extension.activate();
    const following = await followInterpreter(api, vscode.workspace.workspaceFolders?.[0]?.uri, (path) => {
      interpreter = path;
    });
    context.subscriptions.push(following);
  } catch (err) {
    log.appendLine(
      `The Python extension's interpreter could not be read (${err instanceof Error ? err.message : String(err)}); using resnetStudio.python or python3.`,
    );
  }
}

/** Writes which Python the torch backend uses, with its torch and CUDA, once per interpreter. */
export function logTorchPython(log: vscode.OutputChannel, setting: string): void {
  const python = resolvePython(undefined, setting, interpreter);
  if (described.has(python.command)) return;
  described.add(python.command);
  void describePython(python).then((line) => log.appendLine(line));
}

/**
 * Applies an edit chosen in the diagram to the spec document as one WorkspaceEdit, so it is an ordinary,
 * undoable change; the diagram, diagnostics and hovers then follow as for typing. The text edits come from
 * model-core (applySpecEdit), which refuses, with a reason, anything the spec language would reject.
 */
import * as vscode from "vscode";
import { applySpecEdit, isSpecEdit, type SpecEdit } from "resnet-studio/edit/specEdit";

export interface EditOutcome {
  applied: boolean;
  message: string;
}

/** Ask for a positive integer, starting from the current value; null when the user cancels. */
async function askValue(edit: SpecEdit): Promise<SpecEdit | null> {
  if (typeof edit.value !== "number") return edit;
  const what = edit.kind === "stage" ? `layer${edit.stage + 1} ${edit.key}` : edit.key;
  const text = await vscode.window.showInputBox({
    title: `ResNet Studio: ${what}`,
    prompt: `New ${what} (a positive integer)`,
    value: String(edit.value),
    validateInput: (v) => (/^\s*[1-9]\d*\s*$/.test(v) ? null : "a positive integer, e.g. 64"),
  });
  if (text === undefined) return null;
  return { ...edit, value: Number(text.trim()) };
}

export async function applyDiagramEdit(doc: vscode.TextDocument, request: unknown, ask: boolean): Promise<EditOutcome> {
  if (!isSpecEdit(request)) return { applied: false, message: "not an edit this version understands" };
  const edit = ask ? await askValue(request) : request;
  if (!edit) return { applied: false, message: "cancelled" };
  const result = applySpecEdit(doc.getText(), vscode.workspace.asRelativePath(doc.uri), edit);
  if (!result.ok) {
    void vscode.window.showWarningMessage(`ResNet Studio: not changed: ${result.reason}`);
    return { applied: false, message: result.reason };
  }
  const workspaceEdit = new vscode.WorkspaceEdit();
  for (const e of result.edits) {
    workspaceEdit.replace(
      doc.uri,
      new vscode.Range(doc.positionAt(e.startOffset), doc.positionAt(e.endOffset)),
      e.newText,
    );
  }
  const applied = await vscode.workspace.applyEdit(workspaceEdit);
  return applied
    ? { applied: true, message: result.description }
    : { applied: false, message: "VS Code did not apply the edit (is the file read-only?)" };
}

/**
 * Ctrl+Z / Ctrl+Shift+Z pressed in the diagram: VS Code's undo acts on the focused editor, so the spec's editor takes
 * focus for the one command and the diagram gets it back. Returns whether the spec's text changed.
 */
export async function undoInEditor(
  doc: vscode.TextDocument,
  redo: boolean,
  panel: vscode.WebviewPanel,
): Promise<boolean> {
  const before = doc.version;
  const shown = vscode.window.visibleTextEditors.find((e) => e.document === doc);
  await vscode.window.showTextDocument(doc, {
    viewColumn: shown?.viewColumn ?? vscode.ViewColumn.One,
    preserveFocus: false,
  });
  try {
    await vscode.commands.executeCommand(redo ? "redo" : "undo");
  } finally {
    panel.reveal(panel.viewColumn, false);
  }
  return doc.version !== before;
}

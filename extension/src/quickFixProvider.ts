/**
 * Quick fixes (the lightbulb) for spec diagnostics that carry a nearest valid value: the fixes themselves come from
 * model-core's edit/quickFix.ts; this only maps them to VS Code's code actions.
 */
import * as vscode from "vscode";
import { quickFixes } from "resnet-studio/edit/quickFix";
import type { SpecAnalysis } from "./pure/specDocument";

export const DIAGNOSTIC_SOURCE = "resnet-studio";

function rangeOf(doc: vscode.TextDocument, start: number, end: number): vscode.Range {
  return new vscode.Range(doc.positionAt(start), doc.positionAt(end));
}

export function registerQuickFixes(
  selector: vscode.DocumentSelector,
  analysisOf: (doc: vscode.TextDocument) => Promise<SpecAnalysis>,
): vscode.Disposable {
  return vscode.languages.registerCodeActionsProvider(
    selector,
    {
      async provideCodeActions(doc, range, context) {
        const version = doc.version;
        const analysis = await analysisOf(doc);
        if (doc.version !== version) return []; // the offsets are the analysed text's
        const actions: vscode.CodeAction[] = [];
        for (const fix of quickFixes(doc.getText(), analysis.diagnostics)) {
          const where = fix.diagnostic.range;
          if (!where) continue;
          const diagnosticRange = rangeOf(doc, where.startOffset, Math.max(where.startOffset, where.endOffset));
          if (!diagnosticRange.intersection(range)) continue;
          const action = new vscode.CodeAction(fix.title, vscode.CodeActionKind.QuickFix);
          action.edit = new vscode.WorkspaceEdit();
          action.edit.replace(doc.uri, rangeOf(doc, fix.edit.startOffset, fix.edit.endOffset), fix.edit.newText);
          action.isPreferred = fix.preferred;
          action.diagnostics = context.diagnostics.filter(
            (d) => d.source === DIAGNOSTIC_SOURCE && d.code === fix.diagnostic.code && d.range.isEqual(diagnosticRange),
          );
          actions.push(action);
        }
        return actions;
      },
    },
    { providedCodeActionKinds: [vscode.CodeActionKind.QuickFix] },
  );
}

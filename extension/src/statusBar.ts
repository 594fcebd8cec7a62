/**
 * The status bar item: the active spec's parameters and MACs, or the training progress while a run is in progress.
 * Clicking it opens the diagram. The text comes from ./pure/statusText.ts.
 */
import * as vscode from "vscode";
import type { SpecAnalysis } from "./pure/specDocument";
import type { TrainingState } from "resnet-studio/protocol";
import { brokenSpecStatus, specStatus, trainingStatus, type StatusText } from "./pure/statusText";

export class SpecStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(
    "resnetStudio.status",
    vscode.StatusBarAlignment.Right,
    100,
  );
  private spec: StatusText | null = null;
  private training: StatusText | null = null;

  constructor() {
    this.item.name = "ResNet Studio";
    this.item.command = "resnetStudio.openDiagramToSide";
  }

  /** The active editor's spec (null: no spec is active). */
  showSpec(analysis: SpecAnalysis | null): void {
    if (!analysis) this.spec = null;
    else if (analysis.graph) this.spec = specStatus(analysis.graph);
    else this.spec = brokenSpecStatus(analysis.diagnostics.filter((d) => d.severity === "error").length);
    this.update();
  }

  showTraining(state: TrainingState): void {
    this.training = trainingStatus(state);
    this.update();
  }

  private update(): void {
    const shown = this.training ?? this.spec;
    if (!shown) {
      this.item.hide();
      return;
    }
    this.item.text = shown.text;
    this.item.tooltip = shown.tooltip;
    this.item.show();
  }

  dispose(): void {
    this.item.dispose();
  }
}

/**
 * "Evaluate" and "Show in Diagram" on a run folder or a weights file: the evaluation runs on its own worker
 * (./evaluateWorker.ts) with a cancellable progress notification, and its page (dist/evaluationPage.js, messages in
 * resnet-studio/presentation/evaluationReport) shows loss, accuracy, per-class accuracy, the confusion matrix and,
 * for Show in Diagram, He et al.'s Fig. 7 layer responses (one line per run shown, so runs compare on one chart),
 * mean |γ| and the misclassified images; the diagram then shows the network with gradient flow at the trained weights.
 */
import * as vscode from "vscode";
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import type { ModelGraph } from "resnet-studio/analysis/graph";
import type { GradientFlowResult } from "resnet-studio/analysis/gradflow";
import { WorkerClient } from "resnet-studio/rpcWorker";
import {
  isEvaluationViewMessage,
  type EvaluationEntry,
  type EvaluationHostMessage,
} from "resnet-studio/presentation/evaluationReport";
import { formatPercent } from "resnet-studio/presentation/format";
import { makeNonce, webviewHtml } from "./pure/html";
import { targetPathOf, type EvaluateJob, type EvaluateJobResults, type EvaluateOutcome } from "./pure/evaluateProtocol";
import type { BackendSetting, TorchSettings } from "./pure/workerProtocol";

/** Runs on the page's chart at once: enough to compare a few, few enough to tell the colours apart. */
const MAX_ENTRIES = 8;
const NO_SPEC = /a weights-only state_dict has no spec/;

export interface EvaluationHooks {
  settings: () => { backend: BackendSetting } & TorchSettings;
  /** Opens the diagram on `graph` with `gradients` as its gradient overlay. */
  showInDiagram: (graph: ModelGraph, title: string, gradients: GradientFlowResult) => Promise<void>;
}

class EvaluationPage {
  private static current: EvaluationPage | null = null;
  private entries: EvaluationEntry[] = [];
  private ready = false;

  private constructor(private readonly panel: vscode.WebviewPanel) {
    panel.onDidDispose(() => {
      if (EvaluationPage.current === this) EvaluationPage.current = null;
    });
    panel.webview.onDidReceiveMessage((message: unknown) => {
      if (!isEvaluationViewMessage(message)) return;
      this.ready = true;
      this.post();
    });
  }

  static show(context: vscode.ExtensionContext): EvaluationPage {
    if (EvaluationPage.current) {
      EvaluationPage.current.panel.reveal(vscode.ViewColumn.Beside, true);
      return EvaluationPage.current;
    }
    const dist = vscode.Uri.joinPath(context.extensionUri, "dist");
    const panel = vscode.window.createWebviewPanel(
      "resnetStudio.evaluation",
      "ResNet Studio: Evaluation",
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      { enableScripts: true, retainContextWhenHidden: true, localResourceRoots: [dist] },
    );
    panel.webview.html = webviewHtml({
      cspSource: panel.webview.cspSource,
      nonce: makeNonce(),
      scriptUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(dist, "evaluationPage.js")).toString(),
      title: "ResNet Studio: Evaluation",
    });
    EvaluationPage.current = new EvaluationPage(panel);
    return EvaluationPage.current;
  }

  /** Adds (or replaces, by label) an entry; the chart keeps the last MAX_ENTRIES runs. */
  add(entry: EvaluationEntry): void {
    this.entries = [...this.entries.filter((e) => e.label !== entry.label), entry].slice(-MAX_ENTRIES);
    this.post();
  }

  private post(): void {
    if (!this.ready) return;
    const message: EvaluationHostMessage = { type: "entries", entries: this.entries };
    void this.panel.webview.postMessage(message);
  }
}

async function pickTarget(arg: unknown, title: string): Promise<string | null> {
  const given = targetPathOf(arg);
  if (given) return given;
  const picked = await vscode.window.showOpenDialog({
    title,
    canSelectFiles: true,
    canSelectFolders: true,
    canSelectMany: false,
    filters: { "Weights (safetensors)": ["safetensors"], "All files": ["*"] },
  });
  return picked?.[0]?.fsPath ?? null;
}

async function runEvaluation(
  context: vscode.ExtensionContext,
  hooks: EvaluationHooks,
  target: string,
  overlays: boolean,
): Promise<EvaluateOutcome | null> {
  const client = new WorkerClient<EvaluateJob, EvaluateJobResults, never, never>({
    name: "evaluation worker",
    spawn: () => new Worker(path.join(context.extensionPath, "dist", "evaluateWorker.js")),
  });
  const attempt = (spec?: string) =>
    vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `ResNet Studio: evaluating ${path.basename(target)}`,
        cancellable: true,
      },
      (_progress, token) => {
        const cancel = token.onCancellationRequested(() => void client.stop("evaluation cancelled"));
        return client.request({ kind: "evaluate", target, spec, overlays, ...hooks.settings() }).finally(() => {
          cancel.dispose();
        });
      },
    );
  try {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof Error && NO_SPEC.test(err.message))) throw err;
      const active = vscode.window.activeTextEditor?.document;
      const spec = await vscode.window.showInputBox({
        title: "These weights are a plain state_dict: which network are they for?",
        prompt: "A preset name (resnet18, resnet56 …) or the path of a .resnet.ts file",
        value: active && active.fileName.endsWith(".resnet.ts") ? active.fileName : "resnet18",
      });
      if (!spec) return null;
      return await attempt(spec);
    }
  } finally {
    void client.stop("the evaluation has ended");
  }
}

async function evaluateCommand(
  context: vscode.ExtensionContext,
  hooks: EvaluationHooks,
  arg: unknown,
  overlays: boolean,
): Promise<void> {
  const target = await pickTarget(
    arg,
    overlays ? "Show in Diagram: a run folder or weights" : "Evaluate: a run folder or weights",
  );
  if (!target) return;
  try {
    const outcome = await runEvaluation(context, hooks, target, overlays);
    if (!outcome) return;
    if (overlays && outcome.gradients)
      await hooks.showInDiagram(
        outcome.graph,
        `${outcome.graph.name} (trained: ${outcome.entry.label})`,
        outcome.gradients,
      );
    EvaluationPage.show(context).add(outcome.entry);
    const { evaluation } = outcome.entry;
    void vscode.window.setStatusBarMessage(
      `ResNet Studio: ${outcome.entry.label}: accuracy ${formatPercent(evaluation.accuracy, 2)}, loss ${evaluation.loss.toFixed(4)}`,
      10_000,
    );
  } catch (err) {
    void vscode.window.showErrorMessage(`ResNet Studio: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export function registerEvaluation(context: vscode.ExtensionContext, hooks: EvaluationHooks): void {
  context.subscriptions.push(
    vscode.commands.registerCommand("resnetStudio.evaluate", (arg?: unknown) =>
      evaluateCommand(context, hooks, arg, false),
    ),
    vscode.commands.registerCommand("resnetStudio.showInDiagram", (arg?: unknown) =>
      evaluateCommand(context, hooks, arg, true),
    ),
  );
}

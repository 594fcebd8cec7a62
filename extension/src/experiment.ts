/**
 * "Run Experiment: Plain vs Residual (He et al. Fig. 6)": asks for the depths and a variant (each with its estimate),
 * runs the experiment on the training worker (job "experiment", ./pure/workerProtocol.ts), and shows the chart live in
 * a webview (dist/experimentPage.js, messages in resnet-studio/experiment/viewProtocol) with a progress notification
 * that can cancel. Each net is a run folder under .resnet-studio/runs/plain-vs-residual/ in the workspace (global
 * storage without a trusted file workspace), beside the chart files the CLI writes too.
 */
import * as vscode from "vscode";
import * as path from "node:path";
import type { DatasetTarget } from "resnet-studio/analysis/adapt";
import type { ExperimentState } from "resnet-studio/experiment/plainVsResidual";
import { isExperimentViewMessage, type ExperimentHostMessage } from "resnet-studio/experiment/viewProtocol";
import { EXPERIMENT_FILES } from "resnet-studio/experiment/run";
import { formatDuration } from "resnet-studio/presentation/format";
import { makeNonce, webviewHtml } from "./pure/html";
import { DEPTH_CHOICES, experimentChoices, experimentProgressText } from "./pure/experimentChoices";
import { samplesPerEpochSetting, workersSetting } from "./pure/trainEvents";
import type { BackendSetting, TorchSettings } from "./pure/workerProtocol";
import type { TrainWorkerHost } from "./trainWorkerHost";
import { measuredThroughput } from "./trainSmall";
import { datasetSettingValue, editorDatasetTarget } from "./datasetPicker";

function setting<T>(key: string, fallback: T): T {
  return vscode.workspace.getConfiguration("resnetStudio").get<T>(key, fallback);
}

/** The dataset the editor trains on (resnetStudio.dataset), with what it feeds a network. */
function datasetSetting(): { arg: string; target: DatasetTarget } {
  const arg = datasetSettingValue();
  return { arg, target: editorDatasetTarget(arg, undefined) };
}

function experimentFolder(context: vscode.ExtensionContext): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const folder = vscode.workspace.workspaceFolders?.[0];
  const base =
    folder && folder.uri.scheme === "file" && vscode.workspace.isTrusted
      ? folder.uri.fsPath
      : context.globalStorageUri.fsPath;
  return path.join(base, ".resnet-studio", "runs", "plain-vs-residual", stamp);
}

async function runPlainVsResidual(context: vscode.ExtensionContext, runner: TrainWorkerHost): Promise<void> {
  if (runner.busy) {
    void vscode.window.showWarningMessage("ResNet Studio: a run is already in progress.");
    return;
  }
  const dist = path.join(context.extensionPath, "dist");
  const wasmDir = path.join(dist, "wasm") + path.sep;
  const backend = setting<BackendSetting>("backend", "auto");
  const torch: TorchSettings | null =
    backend === "torch"
      ? { python: setting<string>("python", ""), device: setting<"cpu" | "cuda" | "auto">("device", "auto") }
      : null;
  const batchSize = setting<number>("trainBatchSize", 64);
  const epochs = setting<number>("trainEpochs", 3);
  const { workers } = workersSetting(setting("trainWorkers", 0));
  const { arg: dataset, target } = datasetSetting();
  const samplesPerEpoch = samplesPerEpochSetting(setting("trainSamplesPerEpoch", 0));
  const sized =
    samplesPerEpoch !== undefined
      ? { ...target, trainSamples: Math.min(samplesPerEpoch, target.trainSamples) }
      : target;

  const depthPick = await vscode.window.showQuickPick(
    DEPTH_CHOICES.map((c) => ({ label: c.label, description: c.description, choice: c })),
    { title: `Plain vs Residual on ${target.name}: which depths?`, placeHolder: "CIFAR-style nets of depth 6n+2" },
  );
  if (!depthPick) return;
  const throughput = await measuredThroughput(runner, context.globalState, {
    backend,
    batchSize,
    workers,
    wasmDir,
    ...(torch ?? {}),
  });
  const choices = experimentChoices({ depths: depthPick.choice.depths, target: sized, epochs, batchSize, throughput });
  const variant = await vscode.window.showQuickPick(
    choices.map((c) => ({ label: c.label, description: c.description, detail: c.detail, choice: c })),
    {
      title: `Plain vs Residual on ${target.name}, ${epochs} epoch${epochs === 1 ? "" : "s"} per net on ${throughput.backend}`,
      placeHolder: "The estimate covers every net; pick a shorter variant to see the curves sooner",
      matchOnDescription: true,
    },
  );
  if (!variant) return;
  const plan = variant.choice.plan;
  const out = experimentFolder(context);

  const panel = vscode.window.createWebviewPanel(
    "resnetStudio.experiment",
    `Plain vs Residual: ${target.name}`,
    { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false },
    { enableScripts: true, localResourceRoots: [vscode.Uri.file(dist)] },
  );
  const scriptUri = panel.webview.asWebviewUri(vscode.Uri.file(path.join(dist, "experimentPage.js"))).toString();
  panel.webview.html = webviewHtml({
    cspSource: panel.webview.cspSource,
    nonce: makeNonce(),
    scriptUri,
    title: "Plain vs Residual",
  });
  let latest: ExperimentState | null = null;
  let panelOpen = true;
  const post = (): void => {
    if (!latest || !panelOpen) return;
    const message: ExperimentHostMessage = { type: "state", state: latest };
    void panel.webview.postMessage(message);
  };
  panel.onDidDispose(() => (panelOpen = false));
  panel.webview.onDidReceiveMessage((message: unknown) => {
    if (isExperimentViewMessage(message)) post();
  });

  let report: (state: ExperimentState) => void = () => undefined;
  const run = runner.run(
    {
      kind: "experiment",
      depths: depthPick.choice.depths,
      scale: { width: plan.width, samplesPerEpoch: plan.samplesPerEpoch, valSamples: plan.valSamples },
      backend,
      config: { epochs, batchSize, ...(workers !== undefined ? { workers } : {}), logEverySeconds: 1 },
      dataset,
      dataDir: path.join(dist, "data"),
      wasmDir,
      out,
      ...(torch ?? {}),
    },
    (push) => {
      if (push.type !== "experiment") return;
      latest = push.state;
      post();
      report(push.state);
    },
  );
  void vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `ResNet Studio: plain vs residual on ${target.name} (about ${formatDuration(plan.seconds)})`,
      cancellable: true,
    },
    (progress, token) =>
      new Promise<void>((resolve) => {
        token.onCancellationRequested(() => runner.cancel());
        let reported = 0;
        report = (state) => {
          const total = state.series.length * state.epochs;
          const done = state.series.reduce((sum, s) => sum + s.points.length, 0);
          const percent = (100 * done) / Math.max(1, total);
          progress.report({ increment: Math.max(0, percent - reported), message: experimentProgressText(state) });
          reported = Math.max(reported, percent);
        };
        void run.then(
          () => resolve(),
          () => resolve(),
        );
      }),
  );
  try {
    const { cancelled, state } = await run;
    latest = state;
    post();
    const headline = state.verdict?.lines[0] ?? "";
    const reveal = "Reveal Folder";
    const answer = await vscode.window.showInformationMessage(
      `ResNet Studio: ${cancelled ? "experiment cancelled. " : ""}${headline}`,
      reveal,
    );
    if (answer === reveal)
      await vscode.commands.executeCommand("revealFileInOS", vscode.Uri.file(path.join(out, EXPERIMENT_FILES.page)));
  } catch (err) {
    void vscode.window.showErrorMessage(
      `ResNet Studio: the experiment failed: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

export function registerExperiment(context: vscode.ExtensionContext, runner: TrainWorkerHost): void {
  context.subscriptions.push(
    vscode.commands.registerCommand("resnetStudio.runPlainVsResidual", async () => {
      try {
        await runPlainVsResidual(context, runner);
      } catch (err) {
        void vscode.window.showErrorMessage(`ResNet Studio: ${err instanceof Error ? err.message : String(err)}`);
      }
    }),
  );
}

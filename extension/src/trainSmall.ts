/**
 * VS Code side of "Train Small Model": the backend's calibration kept in global storage, the quick pick of ways to
 * train (pure/trainChoices.ts decides what it holds), saving a small variant as a spec, and the progress notification
 * with Cancel. The decisions live in pure modules; this file only talks to VS Code.
 */
import * as vscode from "vscode";
import * as path from "node:path";
import type { Throughput, TrainingEstimate } from "resnet-studio/analysis/estimate";
import { specSourceText } from "resnet-studio/analysis/adapt";
import type { ResNetSpec } from "resnet-studio/spec/types";
import type { TrainingState } from "resnet-studio/protocol";
import { trainingProgress } from "resnet-studio/runtime/progress";
import { formatDuration } from "resnet-studio/presentation/format";
import type { BackendSetting, TorchSettings } from "./pure/workerProtocol";
import type { TrainJobRunner } from "./trainWorkerHost";
import {
  calibrationIsStale,
  calibrationKey,
  isThroughput,
  type TrainChoice,
  type TrainPlan,
} from "./pure/trainChoices";

/** The backend's measured speed: from global storage, or measured now (a few seconds, once per machine and setting; on torch, per device). */
export async function measuredThroughput(
  runner: TrainJobRunner,
  storage: vscode.Memento,
  job: { backend: BackendSetting; batchSize: number; workers?: number; wasmDir: string } & TorchSettings,
): Promise<Throughput> {
  const key = calibrationKey(job.backend, job.workers, job.batchSize, job.device);
  const stored = storage.get<unknown>(key);
  if (isThroughput(stored)) return stored;
  let result: Throughput;
  try {
    ({ throughput: result } = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `ResNet Studio: measuring this machine's training speed${job.backend === "torch" ? " on PyTorch" : ""} (once per backend)…`,
      },
      () => runner.run({ kind: "calibrate", ...job }),
    ));
  } catch (err) {
    throw new Error(`measuring the training speed failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  await storage.update(key, result);
  return result;
}

/** Forgets the stored calibration when a run's first epoch measured a speed far from its estimate. */
export async function reviewCalibration(
  storage: vscode.Memento,
  job: { backend: BackendSetting; batchSize: number; workers?: number; device?: string },
  estimate: TrainingEstimate,
  measuredImagesPerSecond: number,
): Promise<void> {
  if (calibrationIsStale(estimate, measuredImagesPerSecond))
    await storage.update(calibrationKey(job.backend, job.workers, job.batchSize, job.device), undefined);
}

/** The last row of the quick pick: choose another dataset, then plan again. */
export const TRAIN_ON = "trainOn";

/** Asks how to train; the first row (the small variant when there is one) is the default, the last is "Train on…". */
export async function pickTrainChoice(
  plan: TrainPlan,
  specName: string,
  backend: string,
  dataset: string,
): Promise<TrainChoice | typeof TRAIN_ON | undefined> {
  const asWritten = plan.choices.find((c) => c.kind === "asWritten");
  const items: { label: string; description: string; detail?: string; choice: TrainChoice | typeof TRAIN_ON }[] =
    plan.choices.map((choice) => ({
      label: choice.label,
      description: choice.description,
      detail: choice.detail,
      choice,
    }));
  items.push({
    label: "$(database) Train on…",
    description: `now: ${dataset}`,
    detail: "the embedded MNIST digits, a folder (IDX files or ImageFolder), or a recent dataset",
    choice: TRAIN_ON,
  });
  const picked = await vscode.window.showQuickPick(items, {
    title: `Train Small Model: an epoch of ${specName} would take ${asWritten ? formatDuration(asWritten.estimate.secondsPerEpoch) : "long"} on ${backend}`,
    placeHolder: "How should it train? (estimates from this machine's measured speed)",
    ignoreFocusOut: true,
    matchOnDescription: true,
    matchOnDetail: true,
  });
  return picked?.choice;
}

/** Offers to save the small variant as a new spec beside `documentUri` (non-blocking). */
export function offerSaveVariant(spec: ResNetSpec, original: string, documentUri: string | null): void {
  const save = "Save as Spec…";
  void vscode.window
    .showInformationMessage(
      `ResNet Studio: training ${spec.name}, a small variant of ${original} (shown in the diagram).`,
      save,
    )
    .then(async (answer) => {
      if (answer !== save) return;
      const base = documentUri ? vscode.Uri.parse(documentUri) : vscode.workspace.workspaceFolders?.[0]?.uri;
      const name = `${path.basename(base?.path ?? "network.resnet.ts").replace(/\.resnet\.ts$/, "")}-small.resnet.ts`;
      const defaultUri = base
        ? documentUri
          ? vscode.Uri.joinPath(base, "..", name)
          : vscode.Uri.joinPath(base, name)
        : undefined;
      const target = await vscode.window.showSaveDialog({
        defaultUri,
        filters: { "ResNet spec (.resnet.ts)": ["ts"] },
      });
      if (!target) return;
      await vscode.workspace.fs.writeFile(
        target,
        Buffer.from(
          specSourceText(spec, `A small variant of ${original}, made by ResNet Studio's Train Small Model.`),
          "utf8",
        ),
      );
      await vscode.window.showTextDocument(target, { preview: false });
    });
}

/**
 * VS Code's progress notification for a run: step progress, images/s and ETA from every step event, and Cancel wired
 * to `cancel`. Returns the function that feeds it the training state; it closes once the run is no longer running or
 * `run` (the worker's job, however it ended) has settled.
 */
export function showTrainingProgress(
  title: string,
  cancel: () => void,
  run: Promise<unknown>,
): (state: TrainingState) => void {
  let update: (state: TrainingState) => void = () => undefined;
  void vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title, cancellable: true },
    (progress, token) =>
      new Promise<void>((resolve) => {
        const cancelled = token.onCancellationRequested(cancel);
        // However the worker ends, the notification goes with it.
        const ended = (): void => {
          cancelled.dispose();
          resolve();
        };
        void run.then(ended, ended);
        let reported = 0;
        update = (state) => {
          if (state.status !== "running") {
            resolve();
            return;
          }
          const now = trainingProgress(state);
          if (!now) {
            progress.report({ message: "starting…" });
            return;
          }
          const percent = now.fraction * 100;
          progress.report({ increment: Math.max(0, percent - reported), message: now.text });
          reported = Math.max(reported, percent);
        };
      }),
  );
  return (state) => update(state);
}

/**
 * ResNet Studio's VS Code glue: diagnostics, hovers and inlay hints for `*.resnet.ts` specs, and the diagram
 * panel. All logic lives in pure modules (extension/src/pure, model-core); this file only talks to VS Code.
 *
 * Spec files keep VS Code's own TypeScript language (IntelliSense for `import { resnet } from "resnet-studio"`);
 * our providers attach through a `**\/*.resnet.ts` pattern selector, and the spec highlighting is a grammar
 * injected into source.ts (syntaxes/).
 */
import * as vscode from "vscode";
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import { analyzeSpecText, debounce, plainTwin, type SpecAnalysis } from "./pure/specDocument";
import { SpecAnalysisClient } from "./specAnalysisClient";

/** A spec's analysis is abandoned after this long (the budget keeps real ones far below: ≈ 0.75 s CPU for 10,000 blocks). */
const SPEC_ANALYSIS_TIMEOUT_MS = 15_000;
import { hoverMarkdown, stageInlayHints } from "./pure/specInfo";
import { makeNonce, webviewHtml } from "./pure/html";
import type { BackendSetting, TorchSettings, TrainJob } from "./pure/workerProtocol";
import { isBackendSetting } from "resnet-studio/runtime/backendNames";
import { logTorchPython, pythonExtensionInterpreter, watchPythonExtension } from "./pythonDiscovery";
import { TrainWorkerHost } from "./trainWorkerHost";
import {
  EMPTY_TRAINING,
  applyTrainingEvent,
  type GradientPair,
  type HostToWebview,
  type RequestBody,
  type ResponseBodies,
  type Snapshot,
  type TrainingEvent,
  type TrainingState,
  type ViewState,
  type WebviewToHost,
} from "resnet-studio/protocol";
import { checkWebviewMessage } from "resnet-studio/protocolValidate";
import { MessageHandler } from "resnet-studio/rpc";
import { defaultViewState } from "resnet-studio/presentation/view";
import type { WebviewCommand } from "resnet-studio/presentation/commands";
import { trainingMemory } from "resnet-studio/analysis/memory";
import {
  initialExpansion,
  memoryOverlayData,
  renderSvg,
  type ExpandLevel,
  type ExpansionState,
  type LaidOutGraph,
} from "resnet-studio/render/index";
import { createLayoutClient, type LayoutClient } from "resnet-studio/render/layoutClient";
import type { ModelGraph } from "resnet-studio/analysis/graph";
import { printable, type Diagnostic as SpecDiagnostic, type SourceRange } from "resnet-studio/diagnostics";
import { analyze } from "resnet-studio/analysis/analyze";
import { networkId } from "resnet-studio/spec/identity";
import { BUNDLED_SPEC_FILE, BUNDLED_SPEC_TEXT } from "./pure/bundledSpec";
import { mnistTarget, samplesPerEpochSetting, workersSetting } from "./pure/trainEvents";
import { estimateText, planTraining } from "./pure/trainChoices";
import {
  measuredThroughput,
  offerSaveVariant,
  pickTrainChoice,
  TRAIN_ON,
  reviewCalibration,
  showTrainingProgress,
} from "./trainSmall";
import { WarmGradientPair } from "./warmWorker";
import { pytorchExportFor } from "./pure/exportPytorch";
import { applyDiagramEdit, undoInEditor } from "./specEdits";
import { registerCompare } from "./compare";
import { registerExperiment } from "./experiment";
import { registerEvaluation } from "./evaluate";
import type { GradientFlowResult } from "resnet-studio/analysis/gradflow";
import { datasetSettingValue, editorDatasetTarget, pickDataset } from "./datasetPicker";
import { registerNewSpec } from "./newSpec";
import { registerWeightsCommands } from "./weightsCommands";
import { resolvePython } from "resnet-studio/runtime/torchBackend";
import { registerRunsView, runsRoot } from "./runsView";
import { trainingEventsFromRecord } from "./pure/runsView";
import { createRunFolder, type RunJob } from "resnet-studio/runs/recorder";
import type { RunRecord, RunState } from "resnet-studio/runs/record";
import type { TrainConfig } from "resnet-studio/runtime/trainTypes";
import { specSourceText } from "resnet-studio/analysis/adapt";
import { registerQuickFixes } from "./quickFixProvider";
import { SpecStatusBar } from "./statusBar";
import { saveExport } from "./exportFiles";
import { pytorchFileName } from "./pure/exportPytorch";
import { trainingEndedText } from "./pure/statusText";

const SPEC_SELECTOR: vscode.DocumentSelector = [{ pattern: "**/*.resnet.ts" }];
const VIEW_TYPE = "resnetStudio.diagram";
/** Layouts with more boxes than this travel separately from the snapshot. */
const SPLIT_SNAPSHOT_ABOVE = 500;

function isSpecDocument(doc: vscode.TextDocument): boolean {
  return doc.uri.path.endsWith(".resnet.ts");
}

function config<T>(key: string, fallback: T): T {
  return vscode.workspace.getConfiguration("resnetStudio").get<T>(key, fallback);
}

/** Analysis results per document version, shared by diagnostics, hovers, inlay hints and the panel. */
/** Analyses per document version, computed on the spec worker (./specAnalysisClient.ts), never on this thread. */
class SpecCache {
  private readonly entries = new Map<string, { version: number; analysis: Promise<SpecAnalysis> }>();
  constructor(readonly analyzer: SpecAnalysisClient) {}
  get(doc: vscode.TextDocument): Promise<SpecAnalysis> {
    const key = doc.uri.toString();
    const hit = this.entries.get(key);
    if (hit && hit.version === doc.version) return hit.analysis;
    const analysis = this.analyzer.analyze(doc.getText(), vscode.workspace.asRelativePath(doc.uri));
    this.entries.set(key, { version: doc.version, analysis });
    return analysis;
  }
  forget(doc: vscode.TextDocument): void {
    this.entries.delete(doc.uri.toString());
  }
}

function toRange(doc: vscode.TextDocument, r: SourceRange | null): vscode.Range {
  if (!r) return new vscode.Range(0, 0, 0, 0);
  return new vscode.Range(doc.positionAt(r.startOffset), doc.positionAt(Math.max(r.startOffset, r.endOffset)));
}

function toVsDiagnostic(doc: vscode.TextDocument, d: SpecDiagnostic): vscode.Diagnostic {
  const severity =
    d.severity === "error"
      ? vscode.DiagnosticSeverity.Error
      : d.severity === "warning"
        ? vscode.DiagnosticSeverity.Warning
        : vscode.DiagnosticSeverity.Information;
  const out = new vscode.Diagnostic(toRange(doc, d.range), printable(d.message), severity);
  out.source = "resnet-studio";
  out.code = d.code;
  return out;
}

/** The diagram panel: one per window, following the active spec (like the markdown preview). */
class DiagramPanel {
  private static current: DiagramPanel | null = null;
  private readonly disposables: vscode.Disposable[] = [];
  private view: ViewState;
  private graph: ModelGraph | null = null;
  private laid: LaidOutGraph | null = null;
  private title = "ResNet Studio";
  private gradients: GradientPair | null = null;
  private training: TrainingState = EMPTY_TRAINING;
  private diagnostics: SpecDiagnostic[] = [];
  private layoutGeneration = 0;

  static show(ctx: ExtensionContext, doc: vscode.TextDocument | null, column: vscode.ViewColumn): DiagramPanel {
    if (DiagramPanel.current) {
      DiagramPanel.current.panel.reveal(column, true);
      if (doc) void DiagramPanel.current.follow(doc);
      return DiagramPanel.current;
    }
    const panel = vscode.window.createWebviewPanel(
      VIEW_TYPE,
      "ResNet Diagram",
      { viewColumn: column, preserveFocus: true },
      webviewOptions(ctx.extension),
    );
    const p = new DiagramPanel(ctx, panel, null);
    if (doc) void p.follow(doc);
    return p;
  }

  static revive(ctx: ExtensionContext, panel: vscode.WebviewPanel, state: unknown): DiagramPanel {
    panel.webview.options = webviewOptions(ctx.extension);
    const saved = isViewState(state) ? state : null;
    const p = new DiagramPanel(ctx, panel, saved);
    const doc = saved?.documentUri
      ? vscode.workspace.textDocuments.find((d) => d.uri.toString() === saved.documentUri)
      : undefined;
    if (doc) void p.follow(doc);
    else if (saved?.documentUri)
      void vscode.workspace.openTextDocument(vscode.Uri.parse(saved.documentUri)).then(
        (d) => p.follow(d),
        () => undefined,
      );
    return p;
  }

  static get active(): DiagramPanel | null {
    return DiagramPanel.current;
  }

  private constructor(
    private readonly ctx: ExtensionContext,
    readonly panel: vscode.WebviewPanel,
    saved: ViewState | null,
  ) {
    DiagramPanel.current = this;
    this.view = saved ?? defaultViewState();
    const nonce = makeNonce();
    const scriptUri = panel.webview
      .asWebviewUri(vscode.Uri.joinPath(ctx.extension.extensionUri, "dist", "webview.js"))
      .toString();
    panel.webview.html = webviewHtml({ cspSource: panel.webview.cspSource, nonce, scriptUri, title: "ResNet Diagram" });
    // Gradient flow is one click away from the diagram: have its worker and backend ready.
    ctx.gradients.warmUp(
      backendSetting(),
      path.join(ctx.extension.extensionPath, "dist", "wasm") + path.sep,
      torchSettings(),
    );
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m: unknown) => {
        // Field by field: only a checked copy reaches the handlers; a bad request is still answered, with ok: false.
        const checked = checkWebviewMessage(m);
        if (checked.ok) void this.onMessage(checked.message);
        else if (checked.requestId !== null) this.requests.reject(checked.requestId, checked.kind, checked.error);
      }),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  get documentUri(): string | null {
    return this.view.documentUri;
  }

  private post(message: HostToWebview): void {
    void this.panel.webview.postMessage(message);
  }

  /** The latest follow(): commands acting on the followed spec wait for it (the analysis runs on the spec worker). */
  followed: Promise<void> = Promise.resolve();

  /** Show `doc`'s network; a new document starts from the configured expansion level. */
  follow(doc: vscode.TextDocument): Promise<void> {
    this.followed = this.followNow(doc);
    return this.followed;
  }

  private async followNow(doc: vscode.TextDocument): Promise<void> {
    const uri = doc.uri.toString();
    const analysis = await this.ctx.cache.get(doc);
    this.diagnostics = analysis.diagnostics;
    this.post({ type: "diagnostics", diagnostics: analysis.diagnostics });
    if (!analysis.graph) return; // keep showing the last good diagram while the spec is broken
    const sameDocument = this.view.documentUri === uri;
    const sameNetwork =
      sameDocument && this.graph !== null && networkId(this.graph.spec) === networkId(analysis.graph.spec);
    const expansion =
      sameNetwork || (sameDocument && this.view.expansion.expanded.length > 0)
        ? this.view.expansion
        : withColumns(
            initialExpansion(
              analysis.graph,
              config<ExpandLevel | "auto">("expandLevel", "auto") === "auto"
                ? undefined
                : config<ExpandLevel>("expandLevel", "blocks"),
            ),
          );
    if (!sameNetwork) this.gradients = null;
    this.view = { ...this.view, documentUri: uri, expansion };
    this.graph = analysis.graph;
    this.title = `${analysis.graph.name} — ${path.basename(doc.uri.path)}`;
    this.post({ type: "graph", graph: analysis.graph, title: this.title, documentUri: uri });
    this.panel.title = `Diagram: ${path.basename(doc.uri.path)}`;
    await this.relayout(expansion);
  }

  /** Show a network that has no document (the bundled example). */
  async showGraph(graph: ModelGraph, title: string): Promise<void> {
    this.graph = graph;
    this.title = title;
    this.gradients = null;
    this.post({ type: "graph", graph, title, documentUri: null });
    // The tab names what is drawn (a small variant, the bundled example), not the spec shown before it.
    this.panel.title = `Diagram: ${graph.name}`;
    this.view = { ...this.view, documentUri: null, expansion: withColumns(initialExpansion(graph)) };
    await this.relayout(this.view.expansion);
  }

  /** Show in Diagram: a trained network, with the gradient flow measured at its trained weights as the overlay. */
  async showTrained(graph: ModelGraph, title: string, gradients: GradientFlowResult): Promise<void> {
    await this.showGraph(graph, title);
    this.gradients = { residual: gradients, plain: null };
    this.view = { ...this.view, overlays: { ...this.view.overlays, gradients: true } };
    this.post({ type: "gradients", gradients: this.gradients, network: networkId(graph.spec) });
  }

  private async relayout(expansion: ExpansionState): Promise<LaidOutGraph | null> {
    const graph = this.graph;
    if (!graph) return null;
    const generation = ++this.layoutGeneration;
    try {
      const laid = await this.ctx.layout().layout(graph, expansion);
      if (generation !== this.layoutGeneration) return laid; // a newer edit won
      this.laid = laid;
      this.view = { ...this.view, expansion };
      this.post({ type: "layout", laid, expansion });
      return laid;
    } catch (err) {
      reportError(`layout failed: ${err instanceof Error ? err.message : String(err)}`);
      return null;
    }
  }

  private snapshot(): Snapshot {
    return {
      title: this.title,
      graph: this.graph,
      laid: this.laid,
      view: this.view,
      gradients: this.gradients,
      training: this.training,
      diagnostics: this.diagnostics,
    };
  }

  private async onMessage(m: WebviewToHost): Promise<void> {
    switch (m.type) {
      case "ready": {
        // Big layouts go in their own message so the page parses graph and layout in separate tasks.
        const snapshot = this.snapshot();
        const split = snapshot.laid !== null && snapshot.laid.nodes.length > SPLIT_SNAPSHOT_ABOVE;
        this.post({ type: "snapshot", snapshot: split ? { ...snapshot, laid: null } : snapshot });
        if (split && this.laid) this.post({ type: "layout", laid: this.laid, expansion: this.view.expansion });
        return;
      }
      case "viewState":
        this.view = { ...m.view, documentUri: this.view.documentUri };
        return;
      case "revealSource":
        await this.reveal(m.range);
        return;
      case "request":
        await this.requests.handle(m);
    }
  }

  /** One handler per webview request (resnet-studio/rpc): each answers with its result or throws. */
  private readonly requests = new MessageHandler<RequestBody, ResponseBodies>(
    {
      layout: async ({ expansion }) => {
        const laid = await this.relayout(expansion);
        if (!laid) throw new Error("no diagram to lay out");
        return { expansion };
      },
      gradientFlow: async ({ withoutBn = false }) => {
        const pair = await this.computeGradients(withoutBn);
        return { pair: withoutBn ? pair : null };
      },
      savePng: async ({ suggestedName, base64 }) => ({
        saved: await this.saveExport(
          "the diagram",
          suggestedName,
          { "PNG image": ["png"] },
          Buffer.from(base64, "base64"),
        ),
      }),
      saveSvg: async ({ suggestedName, expansion, overlays }) => {
        if (!this.graph) throw new Error("no diagram to export");
        const laid = await this.ctx.layout().layout(this.graph, expansion);
        const memory = overlays.memory
          ? memoryOverlayData(trainingMemory(this.graph, { batch: config("trainBatchSize", 64) }))
          : null;
        const svg = renderSvg(laid, overlays, this.gradients?.residual ?? null, { standalone: true, memory });
        return {
          saved: await this.saveExport(
            "the diagram",
            suggestedName,
            { "SVG image": ["svg"] },
            Buffer.from(svg, "utf8"),
          ),
        };
      },
      train: async () => ({ started: await this.train() }),
      trainOn: async () => ({ started: await this.trainOn() }),
      cancelTraining: () => ({ cancelled: this.ctx.trainer.cancel() }),
      editSpec: async ({ edit, ask }) => {
        if (!this.view.documentUri) throw new Error("this diagram shows no spec file to edit");
        const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(this.view.documentUri));
        return await applyDiagramEdit(doc, edit, ask === true);
      },
      undoRedo: async ({ redo }) => {
        if (!this.view.documentUri) throw new Error("this diagram shows no spec file to undo");
        const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(this.view.documentUri));
        return { changed: await undoInEditor(doc, redo, this.panel) };
      },
    },
    (response) => this.post(response),
  );

  /** An export of this diagram, saved beside its spec by default. */
  private async saveExport(
    what: string,
    suggestedName: string,
    filters: Record<string, string[]>,
    data: Uint8Array,
  ): Promise<string | null> {
    const spec = this.view.documentUri ? vscode.Uri.parse(this.view.documentUri) : null;
    return (await saveExport(what, suggestedName, spec, filters, data, log))?.fsPath ?? null;
  }

  private async reveal(range: SourceRange | null): Promise<void> {
    if (!range || !this.view.documentUri) return;
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(this.view.documentUri));
    const target = toRange(doc, range);
    const shown = vscode.window.visibleTextEditors.find((e) => e.document === doc);
    const editor = await vscode.window.showTextDocument(doc, {
      viewColumn: shown?.viewColumn ?? vscode.ViewColumn.One,
      selection: target,
      preserveFocus: true,
    }); // keep keyboard focus in the diagram
    editor.revealRange(target, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }

  /** `withoutBn`: the same network and twin without BN, for the chart's second pair; the overlay is left alone. */
  async computeGradients(withoutBn = false): Promise<GradientPair> {
    const shown = this.graph;
    if (!shown) throw new Error("open a .resnet.ts spec first");
    const graph = withoutBn ? analyze({ ...shown.spec, norm: "none" }).graph : shown;
    if (!graph) throw new Error(`${shown.name} without BN does not analyse`);
    const plain = plainTwin(graph.spec);
    const wasmDir = path.join(this.ctx.extension.extensionPath, "dist", "wasm") + path.sep;
    // Warm workers of its own (backend ready, models reused by spec hash; network and twin in parallel), so it also
    // runs beside a training run.
    const job = {
      kind: "gradientFlow",
      graph,
      plain,
      backend: backendSetting(),
      batch: config("gradientBatch", 8),
      seed: 1,
      wasmDir,
      ...torchSettings(),
    } as const;
    const title = `ResNet Studio: gradient flow of ${graph.name}${withoutBn ? " without BN" : ""}`;
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title, cancellable: true },
      (_progress, token) => {
        const cancel = token.onCancellationRequested(() => this.ctx.gradients.cancel());
        return this.ctx.gradients.run(job).finally(() => {
          cancel.dispose();
        });
      },
    );
    const pair: GradientPair = result;
    if (!withoutBn && this.graph === graph) {
      this.gradients = pair;
      this.view = { ...this.view, overlays: { ...this.view.overlays, gradients: true } };
      this.post({ type: "gradients", gradients: pair, network: networkId(graph.spec) });
    }
    return pair;
  }

  /** "Train on…" whatever the plan: pick the dataset (it becomes resnetStudio.dataset), then Train Small Model. */
  async trainOn(): Promise<boolean> {
    if (this.ctx.trainer.busy) {
      void vscode.window.showWarningMessage("ResNet Studio: a run is already in progress.");
      return false;
    }
    return (await pickDataset(this.ctx.globalState)) ? this.train() : false;
  }

  async train(): Promise<boolean> {
    if (this.ctx.trainer.busy) {
      void vscode.window.showWarningMessage("ResNet Studio: a run is already in progress.");
      return false;
    }
    const bundled = analyzeSpecText(BUNDLED_SPEC_TEXT, BUNDLED_SPEC_FILE).graph;
    if (!bundled) throw new Error("the bundled example spec did not analyse");
    const written = this.graph;
    const documentUri = this.view.documentUri;
    const dist = path.join(this.ctx.extension.extensionPath, "dist");
    const wasmDir = path.join(dist, "wasm") + path.sep;
    const backend = backendSetting();
    const batchSize = config("trainBatchSize", 64);
    const epochs = config("trainEpochs", 3);
    const { workers } = workersSetting(config("trainWorkers", 0));
    const samplesPerEpoch = samplesPerEpochSetting(config("trainSamplesPerEpoch", 0));
    // With the torch backend, PyTorch is measured on its device for its own row; the other rows train on tfjs ("auto").
    const measured: BackendSetting = backend === "torch" ? "auto" : backend;
    const torch = backend === "torch" ? torchSettings() : null;
    const torchThroughput = torch
      ? await measuredThroughput(this.ctx.trainer, this.ctx.globalState, {
          backend: "torch",
          batchSize,
          wasmDir,
          ...torch,
        })
      : undefined;
    const throughput = await measuredThroughput(this.ctx.trainer, this.ctx.globalState, {
      backend: measured,
      batchSize,
      workers,
      wasmDir,
    });
    const dataset = datasetSettingValue();
    const target = dataset === "mnist" ? mnistTarget(samplesPerEpoch) : editorDatasetTarget(dataset, samplesPerEpoch);
    const plan = planTraining({
      written,
      bundled,
      target,
      throughput,
      torch: torchThroughput,
      batchSize,
      epochs,
      budgetSeconds: config("trainEpochSeconds", 60),
    });
    const choice =
      plan.direct ??
      (await pickTrainChoice(plan, written?.spec.name ?? bundled.spec.name, throughput.backend, dataset));
    if (choice === TRAIN_ON) return this.trainOn();
    if (!choice) return false;
    if (choice.graph !== written) {
      const title =
        choice.kind === "bundled" || !written
          ? `${choice.graph.name} (bundled example)`
          : choice.kind === "variant"
            ? choice.graph.name
            : `${choice.graph.name} (adapted to ${target.name})`;
      await this.showGraph(choice.graph, title);
    }
    if (choice.kind === "variant" && written) offerSaveVariant(choice.graph.spec, written.spec.name, documentUri);
    const onTorch = choice.kind === "torch";
    const runBackend: BackendSetting = onTorch ? "torch" : measured;
    const notes = [
      `${choice.kind === "variant" ? "small variant" : choice.kind === "bundled" || !written ? "bundled example" : "as written"}${onTorch ? " on PyTorch" : ""}: ${estimateText(choice.estimate, epochs)} (estimate on ${onTorch && torchThroughput ? torchThroughput.backend : throughput.backend})`,
      ...(choice.changes.length > 0 ? [`adapted to ${target.name}: ${choice.changes.join("; ")}`] : []),
    ];
    // Every training is a run: its own folder under the runs root (the Runs view lists it).
    const sameAsWritten = written !== null && choice.graph === written && documentUri !== null;
    const specUri = documentUri ? vscode.Uri.parse(documentUri) : null;
    const specFile = specUri?.scheme === "file" && choice.kind !== "bundled" ? specUri.fsPath : null;
    const documentText = sameAsWritten
      ? vscode.workspace.textDocuments.find((d) => d.uri.toString() === documentUri)?.getText()
      : undefined;
    const runJob: RunJob = {
      dir: createRunFolder(
        this.ctx.runsRoot(),
        choice.kind === "bundled" || !written ? BUNDLED_SPEC_FILE : (specFile ?? choice.graph.spec.name),
      ),
      specText:
        documentText ?? specSourceText(choice.graph.spec, `${choice.graph.name} as Train Small Model trained it.`),
      specFile,
      datasetArg: dataset,
    };
    this.startTrainJob(
      {
        kind: "train",
        run: runJob,
        graph: choice.graph,
        backend: runBackend,
        dataset,
        dataDir: path.join(dist, "data"),
        wasmDir,
        gradientBatch: 8,
        config: {
          epochs,
          batchSize,
          ...(workers !== undefined ? { workers } : {}),
          ...(samplesPerEpoch !== undefined ? { samplesPerEpoch } : {}),
          logEverySeconds: 1,
          ...(this.ctx.suggestedLr !== null ? { lr: this.ctx.suggestedLr } : {}),
        },
        ...torchSettings(),
      },
      documentUri,
      notes,
      (event) => {
        // Enough steps that the first (slow, warming up) does not dominate the epoch's speed.
        if (event.kind === "epoch" && event.point.epoch === 0 && choice.estimate.stepsPerEpoch >= 50)
          void reviewCalibration(
            this.ctx.globalState,
            onTorch
              ? { backend: "torch", batchSize, device: torch?.device }
              : { backend: measured, batchSize, workers },
            choice.estimate,
            event.point.imagesPerSecond,
          );
      },
    );
    return true;
  }

  /** Runs a train job with its events in the Training tab and VS Code's progress notification (which can cancel). */
  private startTrainJob(
    job: Extract<TrainJob, { kind: "train" }>,
    documentUri: string | null,
    notes: string[],
    onEvent: (event: TrainingEvent) => void = () => undefined,
  ): void {
    this.training = EMPTY_TRAINING;
    this.view = { ...this.view, tab: "training" };
    this.post({ type: "command", command: "showTraining" });
    let progress: (state: TrainingState) => void = () => undefined;
    const show = (event: TrainingEvent): void => {
      this.training = applyTrainingEvent(this.training, event);
      this.post({ type: "training", event });
      progress(this.training);
      this.ctx.onTraining(this.training, event, documentUri);
    };
    const run = this.ctx.trainer.run(job, (m) => {
      if (m.type !== "training") return;
      const event = m.event.kind === "started" ? { ...m.event, notes } : m.event;
      onEvent(event);
      show(event);
    });
    // The job's response is how the run ended; a failure (the trainer's, or a lost worker) is its error.
    const ended = run.then(
      ({ cancelled, millis }) => show({ kind: "finished", cancelled, millis }),
      (err: unknown) => show({ kind: "failed", message: err instanceof Error ? err.message : String(err) }),
    );
    // Progress in VS Code's own UI, with the same cancel as the webview's button and the Cancel Training command.
    progress = showTrainingProgress(
      `ResNet Studio: training ${job.graph.name}`,
      () => this.ctx.trainer.cancel(),
      ended,
    );
  }

  /** The Runs view's Open: the run's network in the diagram and its curves in the Training tab, from run.json. */
  async showRecordedRun(record: RunRecord, state: RunState, dir: string): Promise<void> {
    const graph = analyzeSpecText(record.specText, record.specFile ?? "run.json").graph;
    if (graph) await this.showGraph(graph, `${graph.name} (run ${path.basename(dir)})`);
    const events = trainingEventsFromRecord(record, state);
    this.training = events.reduce(applyTrainingEvent, EMPTY_TRAINING);
    this.view = { ...this.view, tab: "training" };
    this.post({ type: "command", command: "showTraining" });
    for (const event of events) this.post({ type: "training", event });
  }

  /** The Runs view's Resume: continues the run from its checkpoint, in its folder, on its dataset and backend. */
  async resumeRun(record: RunRecord, _state: RunState, dir: string): Promise<void> {
    if (this.ctx.trainer.busy) {
      void vscode.window.showWarningMessage("ResNet Studio: a run is already in progress.");
      return;
    }
    const analysis = analyzeSpecText(record.specText, record.specFile ?? path.join(dir, "run.json"));
    if (!analysis.graph) throw new Error(`${path.join(dir, "run.json")}: field "specText" does not analyse`);
    const done = record.checkpointEpoch ?? 0;
    if (done === 0) throw new Error(`${dir}: no checkpoint yet (no epoch completed), nothing to resume`);
    const planned = typeof record.config.epochs === "number" ? record.config.epochs : done;
    let epochs = planned;
    if (done >= planned) {
      const answer = await vscode.window.showInputBox({
        title: `Resume ${analysis.graph.name}: ${done} epochs done`,
        prompt: "Train to how many epochs in all?",
        value: String(done + 1),
        validateInput: (v) => (Number.isInteger(Number(v)) && Number(v) > done ? null : `a whole number above ${done}`),
      });
      if (answer === undefined) return;
      epochs = Number(answer);
    }
    await this.showGraph(analysis.graph, `${analysis.graph.name} (run ${path.basename(dir)})`);
    const dist = path.join(this.ctx.extension.extensionPath, "dist");
    const backend: BackendSetting = isBackendSetting(record.backend) ? record.backend : backendSetting();
    this.startTrainJob(
      {
        kind: "train",
        graph: analysis.graph,
        backend,
        dataset: record.dataset.arg,
        dataDir: path.join(dist, "data"),
        wasmDir: path.join(dist, "wasm") + path.sep,
        gradientBatch: 8,
        config: { ...(record.config as Partial<TrainConfig>), epochs, logEverySeconds: 1 },
        run: {
          dir,
          specText: record.specText,
          specFile: record.specFile,
          datasetArg: record.dataset.arg,
          resume: true,
        },
        resumeFrom: dir,
        ...torchSettings(),
      },
      record.specFile ? vscode.Uri.file(record.specFile).toString() : null,
      [`resuming ${path.basename(dir)} at epoch ${done + 1} of ${epochs}`],
    );
  }

  /** Find Learning Rate: the range test (Smith 2017) on the embedded MNIST digits; its suggestion can feed Train Small Model. */
  async findLearningRate(): Promise<void> {
    if (this.ctx.trainer.busy) {
      void vscode.window.showWarningMessage("ResNet Studio: a run is already in progress.");
      return;
    }
    let graph = this.graph;
    if (!graph) {
      const bundled = analyzeSpecText(BUNDLED_SPEC_TEXT, BUNDLED_SPEC_FILE);
      if (!bundled.graph) throw new Error("the bundled example spec did not analyse");
      graph = bundled.graph;
      await this.showGraph(graph, `${graph.name} (bundled example)`);
    }
    this.view = { ...this.view, tab: "training" };
    this.post({ type: "command", command: "showTraining" });
    const network = networkId(graph.spec);
    const run = this.ctx.trainer.run(
      {
        kind: "lrRange",
        graph,
        backend: backendSetting(),
        dataset: "mnist",
        dataDir: path.join(this.ctx.extension.extensionPath, "dist", "data"),
        options: { batchSize: config("trainBatchSize", 64) },
        ...torchSettings(),
      },
      (m) => {
        if (m.type === "lrRange") this.post({ type: "lrRange", result: m.result, network });
      },
    );
    const result = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `ResNet Studio: finding a learning rate for ${graph.name}`,
        cancellable: true,
      },
      (_progress, token) => {
        const cancel = token.onCancellationRequested(() => this.ctx.trainer.cancel());
        return run.finally(() => {
          cancel.dispose();
        });
      },
    );
    this.post({ type: "lrRange", result, network });
    if (result.suggested === null) {
      void vscode.window.showInformationMessage("ResNet Studio: no learning rate suggested (the loss never fell).");
      return;
    }
    const suggested = result.suggested;
    const use = await vscode.window.showInformationMessage(
      `ResNet Studio: suggested learning rate for ${graph.name}: ${suggested.toPrecision(2)}`,
      "Use for Train Small Model",
    );
    if (use) this.ctx.suggestedLr = suggested;
  }

  runWebviewCommand(command: WebviewCommand): void {
    this.post({ type: "command", command });
  }

  dispose(): void {
    if (DiagramPanel.current === this) DiagramPanel.current = null;
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}

/** A new diagram's columns come from the resnetStudio.diagramColumns setting. */
function withColumns(expansion: ExpansionState): ExpansionState {
  const columns = Math.round(config("diagramColumns", 1));
  return columns > 1 ? { ...expansion, columns: Math.min(8, columns) } : expansion;
}

function isViewState(value: unknown): value is ViewState {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Partial<ViewState>;
  return (
    typeof v.zoom === "number" &&
    typeof v.expansion === "object" &&
    v.expansion !== null &&
    Array.isArray(v.expansion.expanded) &&
    typeof v.overlays === "object"
  );
}

function webviewOptions(extension: vscode.Extension<unknown>): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return {
    enableScripts: true,
    retainContextWhenHidden: false,
    localResourceRoots: [vscode.Uri.joinPath(extension.extensionUri, "dist")],
  };
}

interface ExtensionContext {
  extension: vscode.Extension<unknown>;
  /** Keeps the backend's calibration per machine (trainSmall.ts). */
  globalState: vscode.Memento;
  cache: SpecCache;
  trainer: TrainWorkerHost;
  gradients: WarmGradientPair;
  /** The rate Find Learning Rate suggested and the user accepted; Train Small Model uses it. */
  suggestedLr: number | null;
  /** Every training event after the panel folded it in: the status bar and the end-of-run notification. */
  onTraining(state: TrainingState, event: TrainingEvent, documentUri: string | null): void;
  layout(): LayoutClient;
  /** Where runs are recorded (resnetStudio.runsDirectory; global storage in an untrusted or virtual workspace). */
  runsRoot(): string;
}

function activeSpecDocument(): vscode.TextDocument | null {
  const doc = vscode.window.activeTextEditor?.document;
  return doc && isSpecDocument(doc) ? doc : null;
}

export function activate(context: vscode.ExtensionContext): void {
  const dist = path.join(context.extensionPath, "dist");
  void watchPythonExtension(context, outputChannel());
  const statusBar = new SpecStatusBar();
  let layoutClient: LayoutClient | null = null;
  const ctx: ExtensionContext = {
    extension: context.extension,
    globalState: context.globalState,
    cache: new SpecCache(
      new SpecAnalysisClient(
        { filename: path.join(dist, "specWorker.js"), eval: false },
        { timeoutMs: SPEC_ANALYSIS_TIMEOUT_MS },
      ),
    ),
    trainer: new TrainWorkerHost(() => new Worker(path.join(dist, "trainWorker.js"))),
    gradients: new WarmGradientPair(() => new Worker(path.join(dist, "trainWorker.js"))),
    suggestedLr: null,
    runsRoot: () => runsRoot(context),
    onTraining: (state, event, documentUri) => {
      statusBar.showTraining(state);
      if (event.kind === "finished" || event.kind === "failed")
        void notifyTrainingEnded(state, event.kind === "finished" ? event.millis : null, documentUri);
    },
    layout: () =>
      (layoutClient ??= createLayoutClient(path.join(dist, "layoutWorker.js"), {
        timeoutMs: config("layoutTimeoutMs", 20000),
      })),
  };

  const diagnostics = vscode.languages.createDiagnosticCollection("resnet-studio");
  const refresh = async (doc: vscode.TextDocument): Promise<void> => {
    if (!isSpecDocument(doc)) return;
    const analysis = await ctx.cache.get(doc);
    diagnostics.set(
      doc.uri,
      analysis.diagnostics.map((d) => toVsDiagnostic(doc, d)),
    );
    if (vscode.window.activeTextEditor?.document === doc) statusBar.showSpec(analysis);
    const panel = DiagramPanel.active;
    if (panel && panel.documentUri === doc.uri.toString()) void panel.follow(doc);
  };
  const pending = new Map<string, ReturnType<typeof debounce<[vscode.TextDocument]>>>();
  const refreshSoon = (doc: vscode.TextDocument): void => {
    const key = doc.uri.toString();
    let d = pending.get(key);
    if (!d) {
      d = debounce((changed: vscode.TextDocument) => void refresh(changed), config("diagnosticsDelayMs", 250));
      pending.set(key, d);
    }
    d(doc);
  };

  context.subscriptions.push(
    diagnostics,
    statusBar,
    registerQuickFixes(SPEC_SELECTOR, (doc) => ctx.cache.get(doc)),
    {
      dispose: () => {
        layoutClient?.dispose();
        ctx.cache.analyzer.dispose();
        ctx.trainer.stop();
        ctx.gradients.dispose();
        for (const d of pending.values()) d.cancel();
      },
    },
    vscode.workspace.onDidOpenTextDocument(refresh),
    vscode.workspace.onDidChangeTextDocument((e) => {
      if (isSpecDocument(e.document)) refreshSoon(e.document);
    }),
    vscode.workspace.onDidCloseTextDocument((doc) => {
      diagnostics.delete(doc.uri);
      ctx.cache.forget(doc);
      pending.get(doc.uri.toString())?.cancel();
      pending.delete(doc.uri.toString());
    }),
    vscode.window.onDidChangeActiveTextEditor((editor) => {
      const spec = editor && isSpecDocument(editor.document) ? editor.document : null;
      if (spec) void ctx.cache.get(spec).then((analysis) => statusBar.showSpec(analysis));
      else statusBar.showSpec(null);
      const panel = DiagramPanel.active;
      if (editor && panel && isSpecDocument(editor.document) && config("followActiveEditor", true))
        void panel.follow(editor.document);
    }),
    vscode.languages.registerHoverProvider(SPEC_SELECTOR, {
      async provideHover(doc, position) {
        const graph = (await ctx.cache.get(doc)).graph;
        if (!graph) return null;
        // Memory figures at the batch Train Small Model uses.
        const text = hoverMarkdown(graph, doc.offsetAt(position), { batch: config("trainBatchSize", 64) });
        return text ? new vscode.Hover(new vscode.MarkdownString(text)) : null;
      },
    }),
    vscode.languages.registerInlayHintsProvider(SPEC_SELECTOR, {
      async provideInlayHints(doc, range) {
        if (!config("inlayHints", true)) return [];
        const graph = (await ctx.cache.get(doc)).graph;
        if (!graph) return [];
        return stageInlayHints(graph, { batch: config("trainBatchSize", 64) })
          .map((h) => ({ h, pos: doc.positionAt(h.offset) }))
          .filter(({ pos }) => range.contains(pos))
          .map(({ h, pos }) => {
            const hint = new vscode.InlayHint(pos, h.label);
            hint.tooltip = h.tooltip;
            hint.paddingLeft = true;
            return hint;
          });
      },
    }),
    vscode.window.registerWebviewPanelSerializer(VIEW_TYPE, {
      deserializeWebviewPanel(panel, state) {
        DiagramPanel.revive(ctx, panel, state);
        return Promise.resolve();
      },
    }),
    vscode.commands.registerCommand("resnetStudio.openDiagramToSide", (uri?: vscode.Uri) =>
      openDiagram(ctx, uri, vscode.ViewColumn.Beside),
    ),
    vscode.commands.registerCommand("resnetStudio.openDiagram", (uri?: vscode.Uri) =>
      openDiagram(ctx, uri, vscode.ViewColumn.Active),
    ),
    vscode.commands.registerCommand("resnetStudio.showGradientFlow", async (uri?: vscode.Uri) => {
      const panel = await openDiagram(ctx, uri, vscode.ViewColumn.Beside);
      if (!panel) return;
      await panel.followed;
      panel.runWebviewCommand("showGradients");
      try {
        await panel.computeGradients();
      } catch (err) {
        reportError(`gradient flow failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }),
    vscode.commands.registerCommand("resnetStudio.trainSmallModel", async (uri?: vscode.Uri) => {
      const doc = await specDocumentFor(uri);
      // Once show()'s follow has its analysis, the panel's graph is this spec's.
      const panel = DiagramPanel.show(ctx, doc, vscode.ViewColumn.Beside);
      await panel.followed;
      try {
        await panel.train();
      } catch (err) {
        reportError(err instanceof Error ? err.message : String(err));
      }
    }),
    vscode.commands.registerCommand("resnetStudio.trainOn", async (uri?: vscode.Uri) => {
      const doc = await specDocumentFor(uri);
      const panel = DiagramPanel.show(ctx, doc, vscode.ViewColumn.Beside);
      await panel.followed;
      try {
        await panel.trainOn();
      } catch (err) {
        void vscode.window.showErrorMessage(`ResNet Studio: ${err instanceof Error ? err.message : String(err)}`);
      }
    }),
    vscode.commands.registerCommand("resnetStudio.findLearningRate", async (uri?: vscode.Uri) => {
      const doc = await specDocumentFor(uri);
      const panel = DiagramPanel.show(ctx, doc, vscode.ViewColumn.Beside);
      try {
        await panel.findLearningRate();
      } catch (err) {
        reportError(err instanceof Error ? err.message : String(err));
      }
    }),
    vscode.commands.registerCommand("resnetStudio.cancelTraining", () => {
      if (!ctx.trainer.cancel()) void vscode.window.showInformationMessage("ResNet Studio: no training is running.");
    }),
    vscode.commands.registerCommand("resnetStudio.exportPytorch", async (uri?: vscode.Uri) => {
      const doc = await specDocumentFor(uri);
      if (!doc)
        return void vscode.window.showInformationMessage(
          "ResNet Studio: open a .resnet.ts spec to export it as PyTorch.",
        );
      const result = pytorchExportFor(await ctx.cache.get(doc), vscode.workspace.asRelativePath(doc.uri));
      if (!result.ok) return reportError(result.message);
      // A file beside the spec by default, named after it (a Python module name), with a confirmation.
      try {
        await saveExport(
          `${path.basename(doc.uri.path)} as PyTorch`,
          pytorchFileName(doc.uri.path),
          doc.uri,
          { "Python module": ["py"] },
          Buffer.from(result.code, "utf8"),
          log,
        );
      } catch (err) {
        reportError(err instanceof Error ? err.message : String(err));
      }
    }),
    vscode.commands.registerCommand("resnetStudio.exportSvg", () =>
      DiagramPanel.active?.runWebviewCommand("exportSvg"),
    ),
    vscode.commands.registerCommand("resnetStudio.exportPng", () =>
      DiagramPanel.active?.runWebviewCommand("exportPng"),
    ),
    vscode.commands.registerCommand("resnetStudio.fitDiagram", () => DiagramPanel.active?.runWebviewCommand("fit")),
  );
  registerCompare(context);
  registerRunsView(context, {
    open: async (record, state, dir) => {
      const panel = DiagramPanel.show(ctx, null, vscode.ViewColumn.Beside);
      await panel.showRecordedRun(record, state, dir);
    },
    resume: async (record, state, dir) => {
      const panel = DiagramPanel.show(ctx, null, vscode.ViewColumn.Beside);
      await panel.resumeRun(record, state, dir);
    },
  });
  registerExperiment(context, ctx.trainer);
  registerEvaluation(context, {
    settings: () => ({ backend: backendSetting(), ...torchSettings() }),
    showInDiagram: async (graph, title, gradients) => {
      const panel = DiagramPanel.show(ctx, null, vscode.ViewColumn.Active);
      await panel.showTrained(graph, title, gradients);
      panel.runWebviewCommand("showGradients");
    },
  });
  registerNewSpec(context, (uri) => openDiagram(ctx, uri, vscode.ViewColumn.Beside));
  registerWeightsCommands(
    context,
    (uri) => openDiagram(ctx, uri, vscode.ViewColumn.Beside),
    () => resolvePython(undefined, config<string>("python", ""), pythonExtensionInterpreter()).command,
  );
  for (const doc of vscode.workspace.textDocuments) void refresh(doc);
  const active = activeSpecDocument();
  if (active) void ctx.cache.get(active).then((analysis) => statusBar.showSpec(analysis));
}

/** The end of a run: a notification with Show Training and Train Again (a failure is an error, and logged). */
async function notifyTrainingEnded(
  state: TrainingState,
  millis: number | null,
  documentUri: string | null,
): Promise<void> {
  const text = trainingEndedText(state, millis);
  if (!text) return;
  log(text);
  const actions = ["Show Training", "Train Again"] as const;
  const choice =
    state.status === "failed"
      ? await vscode.window.showErrorMessage(text, ...actions, "Show Log")
      : await vscode.window.showInformationMessage(text, ...actions);
  if (choice === "Show Log") outputChannel().show(true);
  else if (choice === "Show Training") {
    const panel = DiagramPanel.active;
    panel?.panel.reveal(undefined, false);
    panel?.runWebviewCommand("showTraining");
  } else if (choice === "Train Again")
    await vscode.commands.executeCommand(
      "resnetStudio.trainSmallModel",
      documentUri ? vscode.Uri.parse(documentUri) : undefined,
    );
}

/** A time-stamped line in the ResNet Studio output channel. */
function log(line: string): void {
  outputChannel().appendLine(`[${new Date().toISOString()}] ${line}`);
}

/** An error for people: logged, and shown with a way to the log. */
function reportError(message: string): void {
  log(`error: ${message}`);
  void vscode.window.showErrorMessage(`ResNet Studio: ${message}`, "Show Log").then((choice) => {
    if (choice) outputChannel().show(true);
  });
}

async function specDocumentFor(uri: vscode.Uri | undefined): Promise<vscode.TextDocument | null> {
  if (uri instanceof vscode.Uri && uri.path.endsWith(".resnet.ts")) return vscode.workspace.openTextDocument(uri);
  return activeSpecDocument();
}

async function openDiagram(
  ctx: ExtensionContext,
  uri: vscode.Uri | undefined,
  column: vscode.ViewColumn,
): Promise<DiagramPanel | null> {
  const doc = await specDocumentFor(uri);
  if (!doc && !DiagramPanel.active) {
    void vscode.window.showInformationMessage("ResNet Studio: open a .resnet.ts spec to see its diagram.");
    return null;
  }
  return DiagramPanel.show(ctx, doc, column);
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions; stopping the worker threads closes their torch workers'
  // stdin, which ends them.
  output?.dispose();
  output = null;
}

/**
 * The Python extension's interpreter, resnetStudio.python, resnetStudio.device and resnetStudio.torchThreads, read by
 * the worker when the backend is "torch" (which Python and torch it is goes to the output channel once).
 */
function torchSettings(): TorchSettings {
  const python = config<string>("python", "");
  if (backendSetting() === "torch") logTorchPython(outputChannel(), python);
  return {
    python,
    pythonExtension: pythonExtensionInterpreter(),
    device: config<"cpu" | "cuda" | "auto">("device", "auto"),
    threads: config<number>("torchThreads", 0) || undefined,
  };
}

/** resnetStudio.backend, checked against the one list of backend names (a hand-edited value falls back to auto). */
function backendSetting(): BackendSetting {
  const value = config<unknown>("backend", "auto");
  return isBackendSetting(value) ? value : "auto";
}

let output: vscode.OutputChannel | null = null;
/** The "ResNet Studio" output channel, created on first use. */
function outputChannel(): vscode.OutputChannel {
  output ??= vscode.window.createOutputChannel("ResNet Studio");
  return output;
}

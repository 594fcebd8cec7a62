/**
 * The bundled extension host (built like dist/extension.js) activates against a stub `vscode` module: every
 * command in package.json is registered, diagnostics appear for a broken spec at the right place, and the
 * hover and inlay-hint providers answer for a spec document. Catches bundling mistakes (a missing module,
 * a command declared but never registered) without a VS Code download.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Module from "node:module";
import * as esbuild from "esbuild";
import { bundledExampleDefine } from "../scripts/bundledExample.mjs";
import { RunRecorder } from "../model-core/src/runs/recorder";
import { tinyConfig, tinySpec } from "../model-core/test/trainHelpers";

const root = join(__dirname, "..");

interface Pos {
  line: number;
  character: number;
}
class Position implements Pos {
  constructor(
    readonly line: number,
    readonly character: number,
  ) {}
}
const before = (a: Pos, b: Pos): boolean => a.line < b.line || (a.line === b.line && a.character < b.character);
class Range {
  constructor(
    readonly start: Pos,
    readonly end: Pos,
  ) {}
  intersection(other: Range): Range | undefined {
    const start = before(this.start, other.start) ? other.start : this.start;
    const end = before(this.end, other.end) ? this.end : other.end;
    return before(end, start) ? undefined : new Range(start, end);
  }
  isEqual(other: Range): boolean {
    return (
      this.start.line === other.start.line &&
      this.start.character === other.start.character &&
      this.end.line === other.end.line &&
      this.end.character === other.end.character
    );
  }
  contains(p: Pos): boolean {
    return (
      (p.line > this.start.line || (p.line === this.start.line && p.character >= this.start.character)) &&
      (p.line < this.end.line || (p.line === this.end.line && p.character <= this.end.character))
    );
  }
}

function fakeDocument(path: string, text: string) {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") lineStarts.push(i + 1);
  return {
    uri: { path, fsPath: path, toString: () => `file://${path}` },
    version: 1,
    languageId: "typescript",
    getText: () => text,
    offsetAt: (p: Pos) => lineStarts[p.line] + p.character,
    positionAt: (offset: number) => {
      let line = 0;
      while (line + 1 < lineStarts.length && lineStarts[line + 1] <= offset) line++;
      return new Position(line, offset - lineStarts[line]);
    },
  };
}

test(
  "the bundled extension activates, registers every contributed command, and serves diagnostics, hovers and inlay hints",
  { timeout: 120_000 },
  async () => {
    const out = mkdtempSync(join(tmpdir(), "resnet-ext-"));
    const exportDir = mkdtempSync(join(tmpdir(), "resnet-ext-export-"));
    try {
      await esbuild.build({
        entryPoints: [join(root, "extension/src/extension.ts")],
        outfile: join(out, "extension.js"),
        bundle: true,
        platform: "node",
        format: "cjs",
        target: "node20",
        external: ["vscode", "@tensorflow/tfjs-node"],
        define: bundledExampleDefine(root),
        logLevel: "silent",
      });

      const commands = new Map<string, (...args: unknown[]) => unknown>();
      interface RunsProvider {
        getChildren(node?: unknown): { kind: string; uri?: { fsPath: string } }[];
        getTreeItem(node: unknown): { label: string; description?: string; contextValue?: string };
      }
      const treeViews = new Map<string, RunsProvider>();
      // No workspace folder: runs are recorded in global storage.
      const globalStorage = join(out, "global");
      const runDir = join(globalStorage, ".resnet-studio", "runs", "good", "2026-12-07T22-40-05Z");
      const recorder = new RunRecorder({
        dir: runDir,
        spec: tinySpec(),
        specText: "",
        specFile: null,
        dataset: { arg: "mnist", sha256: "", valFraction: 0.1 },
        backend: "wasm",
        device: "wasm",
        config: tinyConfig({ epochs: 1 }),
      });
      recorder.onEvent({
        type: "epoch",
        epoch: 0,
        epochs: 1,
        loss: 0.3,
        accuracy: 0.9,
        valLoss: 0.2,
        valAccuracy: 0.925,
        lr: 0.01,
        imagesPerSecond: 500,
        seconds: 3,
        trainSamples: 900,
        valSamples: 100,
      });
      recorder.finish({ reason: "completed" });
      const diagnostics = new Map<string, { message: string; range: Range; severity: number }[]>();
      const hovers: { provideHover(doc: unknown, pos: Pos): Promise<{ contents: { value: string } } | null> }[] = [];
      const hints: { provideInlayHints(doc: unknown, range: Range): Promise<{ position: Pos; label: string }[]> }[] =
        [];
      const disposable = { dispose: () => undefined };
      const event = () => disposable;
      const spec = `import { resnet, stage } from "resnet-studio";\nexport default resnet({\n  name: "t",\n  input: [3, 32, 32],\n  stem: "cifar",\n  stages: [stage({ channels: 16, blocks: 1 }), stage({ channels: 32, blocks: 1, stride: 2 })],\n  classes: 10,\n});\n`;
      const good = fakeDocument("/w/good.resnet.ts", spec);
      const bad = fakeDocument("/w/bad.resnet.ts", spec.replace("channels: 32", "channels: 0"));
      const errors: string[] = [];
      const infos: string[] = [];
      const opened: { language: string; content: string }[] = [];
      const saveDialogs: { defaultUri?: { fsPath: string } }[] = [];
      const codeActions: {
        provideCodeActions(
          doc: unknown,
          range: Range,
          context: { diagnostics: unknown[] },
        ): Promise<{ title: string; isPreferred: boolean; edit: { replacements: { range: Range; text: string }[] } }[]>;
      }[] = [];
      const statusItem = { text: "", tooltip: "", command: "", name: "", visible: false };
      const posted: { type: string; [k: string]: unknown }[] = [];
      const inbox: { receive: ((m: unknown) => void) | null } = { receive: null };
      const panel = {
        viewType: "",
        options: {} as unknown,
        title: "",
        webview: {
          html: "",
          cspSource: "vscode-webview://test",
          options: {},
          asWebviewUri: () => ({ toString: () => "vscode-webview://test/dist/webview.js" }),
          postMessage: (m: { type: string }) => {
            posted.push(m);
            return Promise.resolve(true);
          },
          onDidReceiveMessage: (cb: (m: unknown) => void) => {
            inbox.receive = cb;
            return disposable;
          },
        },
        onDidDispose: () => disposable,
        reveal: () => undefined,
        dispose: () => undefined,
      };
      const vscodeStub = {
        Position,
        Range,
        Hover: class {
          constructor(readonly contents: { value: string }) {}
        },
        MarkdownString: class {
          constructor(readonly value: string) {}
        },
        InlayHint: class {
          tooltip = "";
          paddingLeft = false;
          constructor(
            readonly position: Pos,
            readonly label: string,
          ) {}
        },
        Diagnostic: class {
          source = "";
          code = "";
          constructor(
            readonly range: Range,
            readonly message: string,
            readonly severity: number,
          ) {}
        },
        DiagnosticSeverity: { Error: 0, Warning: 1, Information: 2, Hint: 3 },
        CodeActionKind: { QuickFix: "quickfix" },
        CodeAction: class {
          edit: unknown = undefined;
          isPreferred = false;
          diagnostics: unknown[] = [];
          constructor(
            readonly title: string,
            readonly kind: string,
          ) {}
        },
        WorkspaceEdit: class {
          readonly replacements: { range: Range; text: string }[] = [];
          replace(_uri: unknown, range: Range, text: string) {
            this.replacements.push({ range, text });
          }
        },
        StatusBarAlignment: { Left: 1, Right: 2 },
        ViewColumn: { Active: -1, Beside: -2, One: 1 },
        ProgressLocation: { Notification: 15 },
        TextEditorRevealType: { InCenterIfOutsideViewport: 2 },
        Uri: class {
          static parse(s: string) {
            return { toString: () => s, path: s };
          }
          static joinPath(base: { fsPath?: string }, ...parts: string[]) {
            const fsPath = join(base.fsPath ?? "/", ...parts);
            return { fsPath, path: fsPath, scheme: "file", toString: () => `file://${fsPath}` };
          }
          static file(p: string) {
            return { fsPath: p, path: p, scheme: "file", toString: () => `file://${p}` };
          }
        },
        EventEmitter: class {
          event = event;
          fire() {}
          dispose() {}
        },
        RelativePattern: class {
          constructor(
            readonly base: unknown,
            readonly pattern: string,
          ) {}
        },
        ThemeIcon: class {
          constructor(readonly id: string) {}
        },
        TreeItem: class {
          description?: string;
          contextValue?: string;
          constructor(
            readonly label: string,
            readonly collapsibleState: number,
          ) {}
        },
        TreeItemCollapsibleState: { None: 0, Collapsed: 1, Expanded: 2 },
        languages: {
          createDiagnosticCollection: () => ({
            set: (uri: { toString(): string }, list: { message: string; range: Range; severity: number }[]) =>
              diagnostics.set(uri.toString(), list),
            delete: () => undefined,
            dispose: () => undefined,
          }),
          registerHoverProvider: (_sel: unknown, p: (typeof hovers)[number]) => {
            hovers.push(p);
            return disposable;
          },
          registerInlayHintsProvider: (_sel: unknown, p: (typeof hints)[number]) => {
            hints.push(p);
            return disposable;
          },
          registerCodeActionsProvider: (_sel: unknown, p: (typeof codeActions)[number]) => {
            codeActions.push(p);
            return disposable;
          },
        },
        workspace: {
          getWorkspaceFolder: () => undefined,
          textDocuments: [good, bad],
          workspaceFolders: undefined,
          isTrusted: true,
          onDidChangeConfiguration: event,
          onDidGrantWorkspaceTrust: event,
          createFileSystemWatcher: () => ({
            onDidCreate: event,
            onDidChange: event,
            onDidDelete: event,
            dispose: () => undefined,
          }),
          onDidOpenTextDocument: event,
          onDidChangeTextDocument: event,
          onDidCloseTextDocument: event,
          getConfiguration: () => ({ get: <T>(_k: string, fallback: T) => fallback }),
          asRelativePath: (uri: { path: string }) => uri.path.slice(3),
          openTextDocument: (content: { language: string; content: string }) => {
            opened.push(content);
            return Promise.resolve(content);
          },
        },
        extensions: { getExtension: () => undefined },
        window: {
          createOutputChannel: () => ({ appendLine: () => undefined, show: () => undefined, dispose: () => undefined }),
          onDidChangeActiveTextEditor: event,
          createStatusBarItem: () => ({
            ...statusItem,
            show() {
              Object.assign(statusItem, {
                text: this.text,
                tooltip: this.tooltip,
                command: this.command,
                visible: true,
              });
            },
            hide: () => {
              statusItem.visible = false;
            },
            dispose: () => undefined,
          }),
          showSaveDialog: (options: { defaultUri?: { fsPath: string } }) => {
            saveDialogs.push(options);
            const fsPath = join(exportDir, "chosen.py");
            return Promise.resolve({ fsPath, path: fsPath, scheme: "file", toString: () => `file://${fsPath}` });
          },
          registerWebviewPanelSerializer: () => disposable,
          createTreeView: (id: string, options: { treeDataProvider: RunsProvider }) => {
            treeViews.set(id, options.treeDataProvider);
            return disposable;
          },
          activeTextEditor: { document: good },
          showInformationMessage: (m: string) => {
            infos.push(m);
            return Promise.resolve(undefined);
          },
          showErrorMessage: (m: string) => {
            errors.push(m);
            return Promise.resolve(undefined);
          },
          showTextDocument: () => Promise.resolve(undefined),
          createWebviewPanel: (
            viewType: string,
            _title: string,
            _col: unknown,
            options: { localResourceRoots: unknown[] },
          ) => {
            panel.viewType = viewType;
            panel.options = options;
            return panel;
          },
        },
        commands: {
          registerCommand: (id: string, f: (...args: unknown[]) => unknown) => {
            commands.set(id, f);
            return disposable;
          },
        },
      };

      const loader = Module as unknown as { _load: (request: string, parent: unknown, isMain: boolean) => unknown };
      const originalLoad = loader._load;
      loader._load = (request, parent, isMain) =>
        request === "vscode" ? vscodeStub : originalLoad(request, parent, isMain);
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- through require, so that the Module._load hook above hands the bundle the vscode stub
        const ext = require(join(out, "extension.js")) as { activate(ctx: unknown): void; deactivate(): void };
        const subscriptions: { dispose(): void }[] = [];
        // Built workers (npm run build / postinstall) live in dist/: the layout worker runs for real.
        ext.activate({
          subscriptions,
          extensionPath: root,
          extension: { extensionUri: {}, extensionPath: root },
          globalStorageUri: { fsPath: globalStorage },
        });

        const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
          contributes: {
            commands: { command: string }[];
            menus: Record<string, { command: string }[]>;
            keybindings: { command: string }[];
          };
        };
        const declared = manifest.contributes.commands.map((c) => c.command);
        assert.deepEqual(
          [...commands.keys()].sort(),
          [...declared].sort(),
          "registered commands = contributed commands",
        );
        for (const list of Object.values(manifest.contributes.menus))
          for (const m of list) assert.ok(declared.includes(m.command), `menu item ${m.command} is a declared command`);
        for (const k of manifest.contributes.keybindings) assert.ok(declared.includes(k.command));

        // The Runs view: spec groups, then a group's runs, each carrying its folder's uri.
        const runs = treeViews.get("resnetStudio.runs");
        assert.ok(runs, "the Runs view is registered");
        const groups = runs.getChildren();
        assert.deepEqual(
          groups.map((g) => runs.getTreeItem(g).label),
          ["good"],
        );
        const [runNode] = runs.getChildren(groups[0]);
        assert.equal(runNode.uri?.fsPath, runDir);
        const item = runs.getTreeItem(runNode);
        assert.equal(item.label, "2026-12-07 22:40:05");
        assert.match(item.description ?? "", /^completed · best 92\.50% · 1\/1 ep · wasm · /);
        assert.equal(item.contextValue, "run.completed");

        const waitFor = async (pred: () => boolean, what: string): Promise<void> => {
          for (let i = 0; i < 400 && !pred(); i++) await new Promise((r) => setTimeout(r, 25));
          assert.ok(pred(), `${what}; posted ${posted.map((m) => m.type).join(",")}; errors ${errors.join(";")}`);
        };
        // Specs are analyzed on the spec worker (dist/specWorker.js), so diagnostics arrive asynchronously.
        await waitFor(
          () => diagnostics.has("file:///w/good.resnet.ts") && diagnostics.has("file:///w/bad.resnet.ts"),
          "diagnostics from the spec worker",
        );
        assert.deepEqual(diagnostics.get("file:///w/good.resnet.ts"), [], "a valid spec has no problems");
        const problems = diagnostics.get("file:///w/bad.resnet.ts") ?? [];
        assert.ok(problems.length > 0, "the broken spec has a diagnostic");
        assert.equal(problems[0].range.start.line, 5, "on the line of the bad stage (0-based line 5)");
        assert.equal(problems[0].severity, 0);

        const stageOffset = spec.indexOf("channels: 32");
        const hover = await hovers[0].provideHover(good, good.positionAt(stageOffset));
        assert.ok(hover && /16×32×32 → 32×16×16/.test(hover.contents.value), JSON.stringify(hover));
        const inlay = await hints[0].provideInlayHints(good, new Range(new Position(0, 0), new Position(100, 0)));
        assert.equal(inlay.length, 2);
        assert.match(inlay[1].label, /→ 32×16×16/);
        // Export as PyTorch Module: a save dialog that starts beside the spec, the module written, a confirmation.
        await commands.get("resnetStudio.exportPytorch")!();
        assert.deepEqual(errors, []);
        assert.equal(saveDialogs[0]?.defaultUri?.fsPath, "/w/good.py");
        const written = readFileSync(join(exportDir, "chosen.py"), "utf8");
        assert.match(written, /^"""t: a residual network exported by ResNet Studio from good\.resnet\.ts\./);
        assert.match(written, /^class BasicBlock\(nn\.Module\):$/m);
        assert.ok(infos.includes("ResNet Studio: exported good.resnet.ts as PyTorch to chosen.py."), infos.join(";"));
        assert.equal(opened.length, 0, "no untitled editor");
        // The status bar: the active spec's size, opening the diagram on click.
        await waitFor(() => statusItem.visible, "the status bar item shows");
        assert.equal(statusItem.text, "$(circuit-board) 20K params · 8.83M MACs");
        assert.equal(statusItem.command, "resnetStudio.openDiagramToSide");
        // A quick fix for the broken stage: channels 0 → 1, the preferred action.
        const badLine = bad.getText().split("\n")[5];
        const at = new Range(new Position(5, badLine.indexOf("0,")), new Position(5, badLine.indexOf("0,") + 1));
        const actions = await codeActions[0].provideCodeActions(bad, at, { diagnostics: [] });
        assert.deepEqual(
          actions.map((a) => [a.title, a.isPreferred, a.edit.replacements.map((r) => r.text)]),
          [["Change 0 to 1", true, ["1"]]],
        );
        assert.deepEqual(await codeActions[0].provideCodeActions(good, at, { diagnostics: [] }), []);
        // The diagram panel: strict CSP, the ready handshake answered with a snapshot, a layout request answered.
        await commands.get("resnetStudio.openDiagramToSide")!();
        assert.equal(panel.viewType, "resnetStudio.diagram");
        assert.match(panel.webview.html, /default-src 'none'; script-src 'nonce-[A-Za-z0-9]{32}'/);
        await waitFor(() => posted.some((m) => m.type === "layout"), "the followed spec is laid out in the worker");
        const receive = inbox.receive;
        assert.ok(receive, "the panel listens to the webview");
        receive({ type: "ready" });
        await waitFor(() => posted.some((m) => m.type === "snapshot"), "ready is answered with a snapshot");
        const snap = posted.find((m) => m.type === "snapshot") as unknown as {
          snapshot: { graph: { name: string } | null; laid: unknown; view: { documentUri: string } };
        };
        assert.equal(snap.snapshot.graph?.name, "t");
        assert.ok(snap.snapshot.laid, "small layouts travel inside the snapshot");
        assert.equal(snap.snapshot.view.documentUri, "file:///w/good.resnet.ts");
        receive({ type: "request", id: 7, body: { kind: "layout", expansion: { expanded: [] } } });
        await waitFor(() => posted.some((m) => m.type === "response" && m.id === 7), "the layout request is answered");
        const response = posted.find((m) => m.type === "response" && m.id === 7)!;
        assert.equal(response.ok, true, JSON.stringify(response).slice(0, 300));
        // A response carries a result, a push carries state: the layout came as a push, the response only says done.
        assert.deepEqual((response as { body?: unknown }).body, { expansion: { expanded: [] } });
        assert.ok(
          posted.some((m) => m.type === "layout"),
          "the new layout is pushed",
        );
        receive({ type: "nonsense" });
        receive({ type: "request", id: 8, body: { kind: "cancelTraining" } });
        await waitFor(() => posted.some((m) => m.type === "response" && m.id === 8), "cancel is answered");
        assert.deepEqual((posted.find((m) => m.type === "response" && m.id === 8) as { body?: unknown }).body, {
          cancelled: false,
        });
        // Malformed requests are answered ok: false (model-core/src/protocolValidate.ts has every field's case).
        receive({ type: "request", id: 9, body: { kind: "deleteEverything" } });
        receive({
          type: "request",
          id: 10,
          body: { kind: "savePng", base64: "AAAA", suggestedName: "../../../../etc/x.png" },
        });
        await waitFor(() => posted.some((m) => m.type === "response" && m.id === 10), "the bad save is answered");
        for (const id of [9, 10])
          assert.equal(posted.find((m) => m.type === "response" && m.id === id)?.ok, false, `request ${id}`);
        for (const s of subscriptions) s.dispose();
        ext.deactivate();
      } finally {
        loader._load = originalLoad;
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
      rmSync(exportDir, { recursive: true, force: true });
    }
  },
);

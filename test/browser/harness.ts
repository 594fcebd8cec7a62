/**
 * A fake VS Code host for the webview bundle in headless Chromium: serves the page on 127.0.0.1, provides
 * `acquireVsCodeApi` (recording every posted message), and answers requests with the real model-core
 * analysis and layout. Host → webview messages travel as JSON fetched by the page and re-posted with
 * window.postMessage, the way VS Code delivers them (JSON, then a message event).
 */
import { existsSync } from "node:fs";
import http from "node:http";
import { after, before } from "node:test";
import type { AddressInfo } from "node:net";
import * as esbuild from "esbuild";
import { chromium, type Browser, type Page } from "playwright-core";
import { layoutView } from "../../model-core/src/render/index";
import type { ExpansionState, LaidOutGraph } from "../../model-core/src/render/index";
import type { ModelGraph } from "../../model-core/src/analysis/graph";
import type { GradientFlowResult, NodeGradient } from "../../model-core/src/analysis/gradflow";
import type { GradientPair, HostToWebview, Snapshot, WebviewToHost } from "../../model-core/src/protocol";
import { EMPTY_TRAINING } from "../../model-core/src/protocol";
import { networkId } from "../../model-core/src/spec/identity";
import { defaultViewState } from "../../model-core/src/presentation/view";

export const CHROMIUM_PATH = "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
];

/** Headless Chromium and the built webview bundle, started together so the build overlaps the launch. */
export function launchWithBundle(root: string): Promise<[Browser, string]> {
  return Promise.all([
    chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true }),
    buildWebviewBundle(root),
  ]);
}

/** Chromium and the webview bundle shared by one test file: set by its `before` hook when Chromium exists. */
export interface BrowserSession {
  browser: Browser;
  bundle: string;
}

/** Registers the `before` hook that launches Chromium and builds the bundle, and the `after` hook that closes it. */
export function browserSession(root: string): BrowserSession {
  const session: Partial<BrowserSession> = {};
  before(async () => {
    if (!existsSync(CHROMIUM_PATH)) return;
    [session.browser, session.bundle] = await launchWithBundle(root);
  });
  after(async () => {
    await session.browser?.close();
  });
  return session as BrowserSession;
}

/** The main-thread long tasks the page's PerformanceObserver recorded, or why it could not observe them. */
export function longTasks(page: Page): Promise<{ tasks: { duration: number }[]; unsupported: string | null }> {
  return page.evaluate(() => {
    const w = window as unknown as { __longTasks: { duration: number }[]; __longTasksUnsupported?: string };
    return { tasks: w.__longTasks, unsupported: w.__longTasksUnsupported ?? null };
  });
}

/** Drags the diagram up `times` times from just below the point (cx, cy), 500 px each, panning down the network. */
export async function panDown(page: Page, cx: number, cy: number, times: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    await page.mouse.move(cx, cy + 250);
    await page.mouse.down();
    await page.mouse.move(cx - 40, cy - 250, { steps: 8 });
    await page.mouse.up();
  }
}

/** Theme variables of VS Code's Dark Modern and Light Modern themes (the subset the UI uses). */
export const THEMES = {
  dark: {
    "--vscode-editor-background": "#1f1f1f",
    "--vscode-editor-foreground": "#cccccc",
    "--vscode-foreground": "#cccccc",
    "--vscode-sideBar-background": "#181818",
    "--vscode-panel-border": "#2b2b2b",
    "--vscode-editorWidget-background": "#202020",
    "--vscode-editorWidget-border": "#454545",
    "--vscode-descriptionForeground": "#9d9d9d",
    "--vscode-focusBorder": "#0078d4",
    "--vscode-button-background": "#0078d4",
    "--vscode-button-foreground": "#ffffff",
    "--vscode-button-secondaryBackground": "#313131",
    "--vscode-button-secondaryForeground": "#cccccc",
    "--vscode-charts-orange": "#d18616",
    "--vscode-charts-blue": "#3794ff",
    "--vscode-charts-green": "#89d185",
    "--vscode-input-background": "#313131",
    "--vscode-input-foreground": "#cccccc",
    "--vscode-editorHoverWidget-background": "#202020",
    "--vscode-editorHoverWidget-border": "#454545",
    "--vscode-settings-textInputBackground": "#313131",
    "--vscode-settings-textInputForeground": "#cccccc",
    "--vscode-settings-textInputBorder": "#3c3c3c",
    "--vscode-settings-checkboxBackground": "#313131",
    "--vscode-settings-checkboxForeground": "#cccccc",
    "--vscode-settings-checkboxBorder": "#3c3c3c",
    "--vscode-checkbox-background": "#313131",
    "--vscode-checkbox-foreground": "#cccccc",
    "--vscode-checkbox-border": "#3c3c3c",
    "--vscode-button-hoverBackground": "#026ec1",
    "--vscode-button-secondaryHoverBackground": "#3c3c3c",
    "--vscode-input-placeholderForeground": "#989898",
    "--vscode-font-family": "system-ui, sans-serif",
    "--vscode-font-size": "13px",
  },
  light: {
    "--vscode-editor-background": "#ffffff",
    "--vscode-editor-foreground": "#3b3b3b",
    "--vscode-foreground": "#3b3b3b",
    "--vscode-sideBar-background": "#f8f8f8",
    "--vscode-panel-border": "#e5e5e5",
    "--vscode-editorWidget-background": "#f8f8f8",
    "--vscode-editorWidget-border": "#c8c8c8",
    "--vscode-descriptionForeground": "#6c6c6c",
    "--vscode-focusBorder": "#005fb8",
    "--vscode-button-background": "#005fb8",
    "--vscode-button-foreground": "#ffffff",
    "--vscode-button-secondaryBackground": "#e5e5e5",
    "--vscode-button-secondaryForeground": "#3b3b3b",
    "--vscode-charts-orange": "#d18616",
    "--vscode-charts-blue": "#1a85ff",
    "--vscode-charts-green": "#388a34",
    "--vscode-input-background": "#ffffff",
    "--vscode-input-foreground": "#3b3b3b",
    "--vscode-editorHoverWidget-background": "#f8f8f8",
    "--vscode-editorHoverWidget-border": "#c8c8c8",
    "--vscode-settings-textInputBackground": "#ffffff",
    "--vscode-settings-textInputForeground": "#3b3b3b",
    "--vscode-settings-textInputBorder": "#cecece",
    "--vscode-settings-checkboxBackground": "#f8f8f8",
    "--vscode-settings-checkboxForeground": "#3b3b3b",
    "--vscode-settings-checkboxBorder": "#cecece",
    "--vscode-checkbox-background": "#f8f8f8",
    "--vscode-checkbox-foreground": "#3b3b3b",
    "--vscode-checkbox-border": "#cecece",
    "--vscode-button-hoverBackground": "#0258a8",
    "--vscode-button-secondaryHoverBackground": "#cccccc",
    "--vscode-input-placeholderForeground": "#767676",
    "--vscode-font-family": "system-ui, sans-serif",
    "--vscode-font-size": "13px",
  },
} as const;

export async function buildWebviewBundle(root: string): Promise<string> {
  const result = await esbuild.build({
    entryPoints: ["webview/src/main.ts"],
    absWorkingDir: root,
    bundle: true,
    write: false,
    platform: "browser",
    format: "iife",
    target: "es2022",
    loader: { ".css": "text" },
    logLevel: "silent",
  });
  return result.outputFiles[0].text;
}

function pageHtml(theme: keyof typeof THEMES): string {
  const vars = Object.entries(THEMES[theme])
    .map(([k, v]) => `${k}: ${v};`)
    .join(" ");
  return `<!DOCTYPE html><html><head><meta charset="utf-8">
<style>body { ${vars} } html { ${vars} }</style>
<script>
window.__longTasks = [];
try { new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longTasks.push({ start: e.startTime, duration: e.duration }); }).observe({ type: "longtask", buffered: true }); } catch (e) { window.__longTasksUnsupported = String(e); }
window.__posted = [];
let state = null;
window.acquireVsCodeApi = () => ({
  postMessage(m) { window.__posted.push(m); window.__hostReceive(JSON.parse(JSON.stringify(m))); },
  getState() { return state; },
  setState(s) { state = s; window.__savedState = s; },
});
</script></head><body class="vscode-${theme}"><div id="app"></div><script src="/webview.js"></script></body></html>`;
}

/** Made-up but plausible gradient statistics for every node of `graph`, growing toward the input. */
export function syntheticGradients(graph: ModelGraph, model = graph.name): GradientFlowResult {
  const n = graph.nodes.length;
  const nodes = graph.nodes.map((node, i): NodeGradient => {
    const l2 = 0.05 * Math.exp((3 * (n - i)) / n);
    return {
      id: node.id,
      activation: { l2, meanAbs: l2 / 100, maxAbs: l2 / 10 },
      params: node.params > 0 ? { weight: { l2: l2 / 2, meanAbs: l2 / 200, maxAbs: l2 / 20 } } : {},
    };
  });
  // At the Add both inputs receive the same gradient; the branch's share is measured at the block's input.
  const adds = graph.nodes
    .filter((x) => x.op.kind === "add")
    .map((x, i) => ({
      id: x.id,
      block: x.block ?? "",
      identity: 1 + (i % 3),
      residual: 1 + (i % 3),
      residualAtInput: 0.5 + (i % 2),
    }));
  return {
    model,
    backend: "cpu",
    batch: 8,
    loss: 2.3,
    nodes,
    adds,
    ratio: { firstBlockInput: 3, lastBlockOutput: 1, value: 3 },
    millis: 12,
  };
}

export interface FakeHost {
  url: string;
  /** Messages the webview posted, in order. */
  received: WebviewToHost[];
  send(page: Page, message: HostToWebview): Promise<void>;
  close(): Promise<void>;
}

export interface HostModel {
  title: string;
  graph: ModelGraph;
  laid: LaidOutGraph;
  expansion: ExpansionState;
  gradients: GradientPair | null;
  plainGraph: ModelGraph | null;
  /** What a gradientFlow request returns; synthetic numbers when absent. */
  gradientPair?: GradientPair;
  /** What a gradientFlow request without BN returns; synthetic numbers when absent. */
  gradientPairWithoutBn?: GradientPair;
}

/** Starts the server and wires `page` to a fake host that serves `hostModel`. Call before page.goto. */
export async function startFakeHost(
  page: Page,
  bundle: string,
  hostModel: HostModel,
  theme: keyof typeof THEMES = "dark",
): Promise<FakeHost> {
  const outbox = new Map<number, string>();
  let nextMessage = 1;
  const server = http.createServer((req, res) => {
    const url = req.url ?? "/";
    if (url === "/" || url.startsWith("/?")) {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(pageHtml(theme));
      return;
    }
    if (url === "/webview.js") {
      res.writeHead(200, { "content-type": "text/javascript" });
      res.end(bundle);
      return;
    }
    const m = /^\/msg\/(\d+)$/.exec(url);
    if (m && outbox.has(Number(m[1]))) {
      const body = outbox.get(Number(m[1]))!;
      outbox.delete(Number(m[1]));
      res.writeHead(200, { "content-type": "application/json" });
      res.end(body);
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const received: WebviewToHost[] = [];

  const send = async (target: Page, message: HostToWebview): Promise<void> => {
    const id = nextMessage++;
    outbox.set(id, JSON.stringify(message));
    await target.evaluate(async (path) => {
      const body: unknown = await (await fetch(path)).json();
      window.postMessage(body, "*");
    }, `/msg/${id}`);
  };

  await page.exposeFunction("__hostReceive", async (message: WebviewToHost) => {
    received.push(message);
    if (message.type === "ready") {
      const snapshot: Snapshot = {
        title: hostModel.title,
        graph: hostModel.graph,
        laid: null,
        gradients: hostModel.gradients,
        training: EMPTY_TRAINING,
        diagnostics: [],
        view: { ...defaultViewState(), documentUri: "file:///spec.resnet.ts", expansion: hostModel.expansion },
      };
      await send(page, { type: "snapshot", snapshot });
      await send(page, { type: "layout", laid: hostModel.laid, expansion: hostModel.expansion });
    } else if (message.type === "request") {
      const body = message.body;
      if (body.kind === "layout") {
        const laid = await layoutView(hostModel.graph, body.expansion);
        hostModel.laid = laid;
        hostModel.expansion = body.expansion;
        await send(page, { type: "layout", laid, expansion: body.expansion });
        await send(page, {
          type: "response",
          id: message.id,
          ok: true,
          kind: "layout",
          body: { expansion: body.expansion },
        });
      } else if (body.kind === "gradientFlow" && body.withoutBn) {
        // For the chart only: answered, never pushed as the overlay.
        const pair: GradientPair = hostModel.gradientPairWithoutBn ?? {
          residual: syntheticGradients(hostModel.graph),
          plain: hostModel.plainGraph ? syntheticGradients(hostModel.plainGraph) : null,
        };
        await send(page, { type: "response", id: message.id, ok: true, kind: "gradientFlow", body: { pair } });
      } else if (body.kind === "gradientFlow") {
        const pair: GradientPair = hostModel.gradientPair ?? {
          residual: syntheticGradients(hostModel.graph),
          plain: hostModel.plainGraph ? syntheticGradients(hostModel.plainGraph) : null,
        };
        hostModel.gradients = pair;
        await send(page, { type: "gradients", gradients: pair, network: networkId(hostModel.graph.spec) });
        await send(page, { type: "response", id: message.id, ok: true, kind: "gradientFlow", body: { pair: null } });
      } else if (body.kind === "savePng" || body.kind === "saveSvg") {
        await send(page, {
          type: "response",
          id: message.id,
          ok: true,
          kind: body.kind,
          body: { saved: `/tmp/${body.suggestedName}` },
        });
      } else {
        await send(page, {
          type: "response",
          id: message.id,
          ok: false,
          kind: body.kind,
          error: "not available in the test host",
        });
      }
    }
  });

  return {
    url: `http://127.0.0.1:${port}/`,
    received,
    send,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

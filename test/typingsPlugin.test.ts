/**
 * The TypeScript server plugin (extension/tsserver-plugin) inside a real tsserver (node_modules/typescript's
 * tsserver.js, spoken to over its stdio protocol), loaded the way VS Code loads contributed plugins:
 * `--globalPlugins resnet-studio-tsserver-plugin --pluginProbeLocations <extension folder>`. The extension folder is
 * a temp copy laid out as in the .vsix (dist/tsserver-plugin/index.js, dist/types/resnet-studio.d.ts,
 * node_modules/resnet-studio-tsserver-plugin stub); the workspace is another temp folder with no node_modules.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as esbuild from "esbuild";
import ts from "typescript";
import {
  DECLARATION_FILE,
  PLUGIN_BUNDLE,
  PLUGIN_ENTRY,
  PLUGIN_NAME,
  specDeclarations,
  writePluginStub,
} from "../extension/tsserver-plugin/build.mjs";
import { SPEC_MODULE, reportedByResNetStudio } from "../extension/tsserver-plugin/index";

const root = join(__dirname, "..");
const TSSERVER = join(root, "node_modules", "typescript", "lib", "tsserver.js");
const dir = mkdtempSync(join(tmpdir(), "resnet-studio-tsplugin-"));
const servers: ChildProcess[] = [];
after(() => {
  for (const s of servers) s.kill();
  rmSync(dir, { recursive: true, force: true });
});

/** The extension folder as installed from the .vsix. */
const extensionDir = join(dir, "extension");
async function buildExtensionCopy(): Promise<void> {
  await esbuild.build({
    entryPoints: [join(root, PLUGIN_ENTRY)],
    outfile: join(extensionDir, PLUGIN_BUNDLE),
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    logLevel: "error",
  });
  mkdirSync(join(extensionDir, "dist", "types"), { recursive: true });
  writeFileSync(join(extensionDir, DECLARATION_FILE), specDeclarations(ts, root));
  writePluginStub(extensionDir);
}

const SPEC = `import { resnet, stage } from "${SPEC_MODULE}";

export default resnet({
  name: "tiny",
  block: "triangle",
  stages: [stage({ channels: 16, blocks: 1 })],
  residual: 1,
  
});
`;
/** 1-based line/offset of the first `needle` in `text`, plus `delta` characters. */
function locate(text: string, needle: string, delta = 0): { line: number; offset: number } {
  const at = text.indexOf(needle);
  assert.ok(at >= 0, `${needle} not in the spec`);
  const before = text.slice(0, at + delta).split("\n");
  return { line: before.length, offset: before[before.length - 1].length + 1 };
}

interface Response {
  type: string;
  command?: string;
  request_seq?: number;
  success?: boolean;
  body?: unknown;
  message?: string;
}

/** A tsserver over stdio: newline-delimited JSON requests, Content-Length framed responses. */
class TsServer {
  private seq = 0;
  private buffer = Buffer.alloc(0);
  private waiting = new Map<number, (r: Response) => void>();
  readonly logFile: string;
  private readonly child: ChildProcess;

  constructor(name: string, args: string[]) {
    this.logFile = join(dir, `${name}.log`);
    this.child = spawn(
      process.execPath,
      [
        TSSERVER,
        "--disableAutomaticTypingAcquisition",
        "--logVerbosity",
        "verbose",
        "--logFile",
        this.logFile,
        ...args,
      ],
      {
        cwd: dir,
        stdio: ["pipe", "pipe", "inherit"],
      },
    );
    servers.push(this.child);
    this.child.stdout!.on("data", (chunk: Buffer) => this.onData(chunk));
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const headerEnd = this.buffer.indexOf("\r\n\r\n");
      if (headerEnd < 0) return;
      const length = Number(/Content-Length: (\d+)/.exec(this.buffer.subarray(0, headerEnd).toString())?.[1]);
      if (this.buffer.length < headerEnd + 4 + length) return;
      const message = JSON.parse(this.buffer.subarray(headerEnd + 4, headerEnd + 4 + length).toString()) as Response;
      this.buffer = this.buffer.subarray(headerEnd + 4 + length);
      if (message.type === "response" && message.request_seq !== undefined)
        this.waiting.get(message.request_seq)?.(message);
    }
  }

  request<T>(command: string, args: unknown): Promise<T> {
    const seq = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`tsserver did not answer ${command} in 30 s; log: ${this.log().slice(-2000)}`)),
        30_000,
      );
      this.waiting.set(seq, (r) => {
        clearTimeout(timer);
        this.waiting.delete(seq);
        if (r.success) resolve(r.body as T);
        else reject(new Error(`tsserver ${command} failed: ${r.message}`));
      });
      this.child.stdin!.write(`${JSON.stringify({ seq, type: "request", command, arguments: args })}\n`);
    });
  }

  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, "utf8") : "";
  }

  /** Opens `file` in an inferred project (no tsconfig), with the compiler options VS Code uses for those. */
  async open(file: string, projectRootPath: string): Promise<void> {
    await this.request("compilerOptionsForInferredProjects", {
      options: {
        module: "ESNext",
        moduleResolution: "Bundler",
        target: "ES2022",
        strict: true,
        allowJs: true,
        allowNonTsExtensions: true,
      },
    });
    await this.request("updateOpen", {
      openFiles: [{ file, fileContent: readFileSync(file, "utf8"), scriptKindName: "TS", projectRootPath }],
    });
  }

  async diagnostics(file: string): Promise<string[]> {
    const diags = await this.request<{ text: string; start: { line: number } }[]>("semanticDiagnosticsSync", { file });
    return diags.map((d) => `${d.start.line}: ${d.text}`);
  }
}

function workspaceWith(name: string, text: string): { workspace: string; file: string } {
  const workspace = join(dir, name);
  mkdirSync(workspace, { recursive: true });
  const file = join(workspace, "tiny.resnet.ts");
  writeFileSync(file, text);
  return { workspace, file };
}

test("TypeScript's string-literal assignability errors in specs are left to ResNet Studio, and nothing else", () => {
  const basik = `Type '"basik"' is not assignable to type 'BlockKind | undefined'.`;
  assert.equal(reportedByResNetStudio("/w/a.resnet.ts", basik, 2322), true);
  assert.equal(reportedByResNetStudio("/w/a.resnet.ts", `${basik.slice(0, -1)}. Did you mean '"basic"'?`, 2820), true);
  assert.equal(reportedByResNetStudio("/w/a.ts", basik, 2322), false, "only specs");
  assert.equal(
    reportedByResNetStudio("/w/a.resnet.ts", "Type 'number' is not assignable to type 'boolean'.", 2322),
    false,
  );
  assert.equal(reportedByResNetStudio("/w/a.resnet.ts", basik, 2345), false);
});

test(
  'control: without the plugin, tsserver cannot find "resnet-studio" in a bare workspace',
  { timeout: 60_000 },
  async () => {
    const { workspace, file } = workspaceWith("bare-control", SPEC);
    const server = new TsServer("control", []);
    await server.open(file, workspace);
    const messages = await server.diagnostics(file);
    assert.ok(
      messages.some((m) => m.includes("Cannot find module 'resnet-studio'")),
      messages.join("\n"),
    );
  },
);

test(
  "with the plugin: the spec resolves to the shipped typings, with type errors, completion and hover",
  { timeout: 60_000 },
  async () => {
    await buildExtensionCopy();
    const { workspace, file } = workspaceWith("bare", SPEC);
    const server = new TsServer("plugin", ["--globalPlugins", PLUGIN_NAME, "--pluginProbeLocations", extensionDir]);
    await server.open(file, workspace);
    const messages = await server.diagnostics(file);
    const context = (): string =>
      `\ndiagnostics:\n${messages.join("\n")}\n--- tsserver log (tail) ---\n${server.log().slice(-3000)}`;
    assert.match(server.log(), /Plugin validation succeeded/, `the plugin was not loaded${context()}`);
    assert.ok(!messages.some((m) => m.includes("Cannot find module")), `"resnet-studio" did not resolve${context()}`);
    // block: "triangle" is ResNet Studio's diagnostic (with its quick fix), not a second one from TypeScript; other
    // type errors stay TypeScript's.
    assert.deepEqual(
      messages,
      ["7: Type 'number' is not assignable to type 'boolean | undefined'."],
      `unexpected diagnostics${context()}`,
    );

    // Option keys inside resnet({ … }) on the empty line, and `stage` among the identifiers in scope.
    const keys = await server.request<{ entries: { name: string }[] }>("completionInfo", {
      file,
      ...locate(SPEC, "\n  \n", 3),
    });
    const keyNames = keys.entries.map((e) => e.name);
    for (const key of ["classes", "shortcut", "preActivation", "input"])
      assert.ok(keyNames.includes(key), `no completion for option ${key}: ${keyNames.join(", ")}`);
    assert.ok(!keyNames.includes("block"), "already-written keys are offered again");
    const names = await server.request<{ entries: { name: string }[] }>("completionInfo", {
      file,
      ...locate(SPEC, "stages: [stage(", 9),
    });
    assert.ok(
      names.entries.some((e) => e.name === "stage"),
      `no completion for stage: ${names.entries
        .slice(0, 30)
        .map((e) => e.name)
        .join(", ")}`,
    );
    const stageKeys = await server.request<{ entries: { name: string }[] }>("completionInfo", {
      file,
      ...locate(SPEC, "blocks: 1 }", 10),
    });
    assert.ok(
      stageKeys.entries.some((e) => e.name === "stride"),
      `no completion for the stage option stride: ${stageKeys.entries.map((e) => e.name).join(", ")}`,
    );

    const hover = await server.request<{ displayString: string; documentation: string }>("quickinfo", {
      file,
      ...locate(SPEC, "resnet({", 1),
    });
    assert.match(hover.displayString, /resnet\(options: ResNetOptions\): ResNetSpec/);
    assert.match(hover.documentation, /Describe a residual network/);
    assert.match(server.log(), /"resnet-studio" is not installed for .*tiny\.resnet\.ts; using .*resnet-studio\.d\.ts/);
  },
);

test('with the plugin, an installed "resnet-studio" package still wins', { timeout: 60_000 }, async () => {
  if (!existsSync(join(extensionDir, PLUGIN_BUNDLE))) await buildExtensionCopy();
  const { workspace, file } = workspaceWith(
    "installed",
    `import { resnet } from "resnet-studio";\nexport default resnet({ stages: [] });\n`,
  );
  const pkg = join(workspace, "node_modules", "resnet-studio");
  mkdirSync(pkg, { recursive: true });
  writeFileSync(
    join(pkg, "package.json"),
    JSON.stringify({ name: "resnet-studio", version: "9.9.9", types: "index.d.ts" }),
  );
  writeFileSync(join(pkg, "index.d.ts"), "export declare function resnet(options: { installedMarker: true }): void;\n");
  const server = new TsServer("installed", ["--globalPlugins", PLUGIN_NAME, "--pluginProbeLocations", extensionDir]);
  await server.open(file, workspace);
  const messages = await server.diagnostics(file);
  assert.ok(
    messages.some((m) => m.includes("installedMarker")),
    `the installed package's typings were not used:\n${messages.join("\n")}`,
  );
});

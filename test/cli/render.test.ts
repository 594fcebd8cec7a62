import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SpecError } from "../../model-core/src/diagnostics";
import { runRender, parseOverlayArg, type RenderOutput } from "../../model-core/src/cli/render";
import { main } from "../../model-core/src/cli/main";
import { trainingMemory } from "../../model-core/src/analysis/memory";
import { analyzeOrThrow } from "../../model-core/src/analysis/analyze";
import { presets } from "../../model-core/src/spec/presets";
import { formatBytes } from "../../model-core/src/presentation/format";

const dir = mkdtempSync(join(tmpdir(), "rs-render-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Collects what the command prints. */
function sink(): RenderOutput & { stdout: string; stderr: string } {
  const s = {
    stdout: "",
    stderr: "",
    out: (t: string) => {
      s.stdout += t;
    },
    err: (t: string) => {
      s.stderr += t;
    },
  };
  return s;
}

/** main() reports errors on process.stderr; capture just that stream (the test runner reports on stdout). */
async function stderrOf(fn: () => Promise<number>): Promise<{ code: number; err: string }> {
  const write = process.stderr.write.bind(process.stderr);
  let err = "";
  process.stderr.write = (chunk: string | Uint8Array) => {
    err += String(chunk);
    return true;
  };
  try {
    return { code: await fn(), err };
  } finally {
    process.stderr.write = write;
  }
}

test("render writes a preset to .svg and .html", async () => {
  const svgPath = join(dir, "r50.svg");
  const io = sink();
  await runRender("resnet50", { out: svgPath, expand: "stages", overlay: "shapes,params" }, io);
  assert.match(io.stdout, /wrote .*r50\.svg: 7 boxes, 6 edges/);
  const svg = readFileSync(svgPath, "utf8");
  assert.ok(svg.startsWith('<?xml version="1.0"'));
  assert.ok(svg.includes(">Bottleneck ×4<") && svg.includes('data-to="layer2" data-shape="256,56,56"'));
  assert.ok(!svg.includes("var(--vscode-editor-background"), "exported files embed concrete colours");

  const htmlPath = join(dir, "r18.html");
  await runRender("resnet18", { out: htmlPath, expand: "all", overlay: "all" }, sink());
  const html = readFileSync(htmlPath, "utf8");
  assert.ok(html.startsWith("<!doctype html>"));
  assert.ok(html.includes("<title>resnet18 — ResNet Studio</title>"));
  assert.ok(html.includes('<div class="diagram"><svg') && !html.includes("<?xml"));
  assert.ok(html.includes('data-node-id="layer2.0.downsample.0"') && html.includes("RF "));
});

test("render --overlay memory heats boxes by the bytes they keep for backward at --batch", async () => {
  const svgPath = join(dir, "r20-memory.svg");
  await runRender("resnet20", { out: svgPath, expand: "blocks", overlay: "memory", batch: "8" }, sink());
  const svg = readFileSync(svgPath, "utf8");
  const stage1 = trainingMemory(analyzeOrThrow(presets.resnet20()), { batch: 8 })
    .nodes.filter((n) => n.id.startsWith("layer1.0."))
    .reduce((sum, n) => sum + n.savedActivationBytes, 0);
  assert.ok(
    svg.includes(`saved for backward: ${formatBytes(stage1)} at batch 8`),
    "layer1.0's tooltip carries its bytes",
  );
  assert.match(svg, /bytes saved for backward at batch 8, log scale/);
});

test("render checks overlay and expansion arguments", async () => {
  assert.deepEqual(parseOverlayArg("shapes, RF,gradients"), {
    shapes: true,
    params: false,
    macs: false,
    receptiveField: true,
    gradients: true,
    memory: false,
  });
  assert.deepEqual(parseOverlayArg("none"), {
    shapes: false,
    params: false,
    macs: false,
    receptiveField: false,
    gradients: false,
    memory: false,
  });
  assert.equal(parseOverlayArg("memory").memory, true);
  await assert.rejects(
    runRender("resnet18", { out: join(dir, "a.svg"), overlay: "shapes,heat" }, sink()),
    /--overlay: unknown overlay "heat"/,
  );
  await assert.rejects(
    runRender("resnet18", { out: join(dir, "a.svg"), expand: "deep" }, sink()),
    /--expand: expected one of stages, blocks, all/,
  );
  await assert.rejects(runRender("resnet18", { out: join(dir, "a.png") }, sink()), /--out must end in \.svg or \.html/);
  await assert.rejects(
    runRender("resnet18", { out: join(dir, "missing", "a.svg") }, sink()),
    /missing\/a\.svg: cannot write: no such file or folder \(ENOENT\)/,
  );
});

test("render fails bad specs with located diagnostics, not stack traces", async () => {
  await assert.rejects(
    runRender("resnet5", { out: join(dir, "a.svg") }, sink()),
    (err: unknown) => err instanceof SpecError && /unknown preset "resnet5"/.test(err.message),
  );
  const bad = join(dir, "bad.resnet.ts");
  writeFileSync(
    bad,
    [
      'import { resnet } from "resnet-studio";',
      "export default resnet({",
      "  stages: [{ channels: -4, blocks: 1 }],",
      "});",
      "",
    ].join("\n"),
  );
  const { code, err } = await stderrOf(() => main(["render", bad, "--out", join(dir, "bad.svg")]));
  assert.equal(code, 1);
  assert.match(err, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:3:\\d+: error: `));
  assert.ok(!err.includes("    at "), "no stack trace");
});

test("render --overlay gradients runs one forward/backward pass and draws the split at each Add", async () => {
  const spec = join(dir, "tiny.resnet.ts");
  writeFileSync(
    spec,
    [
      'import { resnet, stage } from "resnet-studio";',
      "export default resnet({",
      '  name: "tiny", input: [3, 8, 8], stem: "cifar", block: "basic", shortcut: "B", classes: 3,',
      "  stages: [stage({ channels: 4, blocks: 1 }), stage({ channels: 8, blocks: 1, stride: 2 })],",
      "});",
      "",
    ].join("\n"),
  );
  const out = join(dir, "tiny.svg");
  const io = sink();
  await runRender(spec, { out, expand: "all", overlay: "shapes,gradients", backend: "cpu", batch: "2" }, io);
  assert.match(io.stderr, /gradient flow: /);
  const svg = readFileSync(out, "utf8");
  assert.equal(svg.split('class="rs-split"').length - 1, 2, "one identity/residual bar per Add");
  assert.match(svg, /∇ [\d.e+-]+/);
  assert.ok(!svg.includes("NaN"));
});

/**
 * A spec's name reaches other files (model.py, train_ddp.py, the saved small-variant spec) and the terminal. Hostile
 * names (NUL, U+0001, U+FFFE, CR, ESC sequences, C1 controls, bidi overrides and isolates, U+2028) must come out as
 * escapes: the generated Python imports and the generated spec parses back to the same name, and no command prints a
 * raw control character, in text or in JSON.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { escapeJsonText, printable, printableJson } from "../model-core/src/diagnostics";
import { resnet, stage } from "../model-core/src/spec/builders";
import { analyzeOrThrow } from "../model-core/src/analysis/analyze";
import { specSourceText } from "../model-core/src/analysis/adapt";
import { exportPytorch } from "../model-core/src/export/pytorch";
import { exportTrainScript } from "../model-core/src/export/trainScript";
import { analyzeSpecText } from "../model-core/src/specAnalysis";
import { DEFAULT_TRAIN_CONFIG } from "../model-core/src/runtime/trainTypes";
import { buildCliIfStale, runCli } from "./cli/harness";
import { skipWithoutTool } from "./toolSkip";

const PYTHON = process.env.RESNET_STUDIO_PYTHON ?? "/usr/bin/python3";

/** Each hostile piece once; HOSTILE is all of them in one name. */
const PIECES: Record<string, string> = {
  nul: "a\u0000b",
  soh: "c\u0001d",
  noncharacter: "e\ufffef\uffff",
  cr: "g\r  evil();\rh",
  lf: "i\nexport const x = 1;\n",
  escape: "\u001b]0;title\u0007\u001b[2J\u001b[31mred",
  c1: "j\u009b31mk\u0085l",
  bidi: "m\u202eevil\u202c\u2066n\u2069\u200fo\u061c",
  separators: "p\u2028q\u2029r",
  quotes: "x\"\"\"y\\z'''",
};
const HOSTILE = Object.values(PIECES).join("|");
// eslint-disable-next-line no-control-regex -- the characters that must never come out raw
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufffe\uffff]/;
// eslint-disable-next-line no-control-regex -- one line: no CR or LF either
const UNSAFE_IN_LINE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufffe\uffff]/;

const tiny = (name: string) =>
  resnet({
    name,
    input: [3, 8, 8],
    stem: "cifar",
    stages: [stage({ channels: 4, blocks: 1 }), stage({ channels: 8, blocks: 1, stride: 2 })],
    shortcut: "A",
    classes: 3,
  });

const work = mkdtempSync(join(tmpdir(), "rs-hostile-names-"));
after(() => rmSync(work, { recursive: true, force: true }));

function torchMissing(): string | false {
  const r = spawnSync(PYTHON, ["-c", "import torch"], { encoding: "utf8" });
  return r.status === 0 ? false : `${PYTHON} has no torch (set RESNET_STUDIO_PYTHON, or apt-get install python3-torch)`;
}

test("printable escapes every hostile piece, bidi and noncharacters included, and leaves other text alone", () => {
  for (const [what, piece] of Object.entries(PIECES)) {
    assert.doesNotMatch(printable(piece), UNSAFE_IN_LINE, what);
  }
  assert.equal(printable("a\u202eb\u2066c\u2069\ufffe"), "a\\u202eb\\u2066c\\u2069\\ufffe");
  assert.equal(printable("layer1.0 3×32×32 é ✓ 日本"), "layer1.0 3×32×32 é ✓ 日本");
});

test("printableJson escapes C1, DEL, bidi and separators, and any JSON reader gets the same value back", () => {
  const value = { name: HOSTILE, nested: [HOSTILE, { [HOSTILE]: 1 }] };
  const json = printableJson(value);
  assert.doesNotMatch(json, UNSAFE_IN_LINE);
  assert.deepEqual(JSON.parse(json), value);
  assert.equal(printableJson({ a: "\u0085\u202e" }), '{"a":"\\u0085\\u202e"}');
  assert.equal(escapeJsonText(JSON.stringify("\u007f")), '"\\u007f"');
});

test("the exported model.py and train_ddp.py hold the hostile name only as escapes", () => {
  const graph = analyzeOrThrow(tiny(HOSTILE));
  const model = exportPytorch(graph, { source: `dir/${HOSTILE}.resnet.ts` });
  const script = exportTrainScript(graph, {
    modelFile: "model.py",
    specHash: "0".repeat(64),
    defaults: {
      cifar10: DEFAULT_TRAIN_CONFIG,
      imagefolder: DEFAULT_TRAIN_CONFIG,
      idx: DEFAULT_TRAIN_CONFIG,
      synthetic: DEFAULT_TRAIN_CONFIG,
    },
  });
  for (const [file, text] of [
    ["model.py", model],
    ["train_ddp.py", script],
  ]) {
    const bad = UNSAFE.exec(text);
    assert.equal(bad, null, `${file}: raw U+${bad?.[0].charCodeAt(0).toString(16)} at ${bad?.index}`);
    // The docstring's first line is still one line, and the spec literal is one line.
    assert.ok(
      text.split("\n").some((line) => line.startsWith('"""') && line.includes("|")),
      file,
    );
  }
});

test(
  "a module exported from a spec with a hostile name imports under Python, and SPEC['name'] is the name",
  { skip: skipWithoutTool(torchMissing()) },
  () => {
    const file = join(work, "model.py");
    writeFileSync(file, exportPytorch(analyzeOrThrow(tiny(HOSTILE)), { source: HOSTILE }));
    const check = [
      "import importlib.util, json, sys",
      `spec = importlib.util.spec_from_file_location("model", sys.argv[1])`,
      "m = importlib.util.module_from_spec(spec)",
      "spec.loader.exec_module(m)",
      "net = m.build()",
      'print(json.dumps({"name": m.SPEC["name"], "doc": m.__doc__, "params": sum(p.numel() for p in net.parameters())}))',
    ].join("\n");
    const r = spawnSync(PYTHON, ["-c", check, file], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout) as { name: string; doc: string; params: number };
    assert.equal(got.name, HOSTILE);
    assert.doesNotMatch(got.doc, UNSAFE);
    assert.equal(got.params, 1343);
  },
);

test("the saved spec's comment cannot be split by CR, LS or PS, and the text parses back to the same name", () => {
  const text = specSourceText(tiny(HOSTILE), `The small variant of ${HOSTILE} trained on mnist.`);
  const lines = text.split(/\r\n|[\n\r\u2028\u2029]/);
  const importLine = lines.findIndex((l) => l.startsWith("import "));
  assert.ok(importLine > 0);
  for (const line of lines.slice(0, importLine)) assert.match(line, /^\/\/ /, JSON.stringify(line));
  assert.doesNotMatch(text, UNSAFE);
  const parsed = analyzeSpecText(text, "small-variant.resnet.ts");
  assert.deepEqual(
    parsed.diagnostics.filter((d) => d.severity === "error"),
    [],
  );
  assert.equal(parsed.spec?.name, HOSTILE);
});

test("export, diff, summary --json and train print hostile names as escapes", async () => {
  buildCliIfStale();
  const spec = join(work, `hostile\u001b[31m\u202e.resnet.ts`);
  writeFileSync(spec, specSourceText(tiny(HOSTILE)));
  const out = join(work, `out\u001b]0;x\u0007.py`);
  const runs = await Promise.all([
    runCli(["export", spec, "--out", out]),
    runCli(["diff", spec, "resnet20"]),
    runCli(["diff", spec, "resnet20", "--json"]),
    runCli(["summary", spec, "--json"]),
    runCli(["summary", spec]),
  ]);
  for (const r of runs) {
    assert.equal(r.code, 0, r.stderr);
    for (const line of (r.stdout + r.stderr).split("\n")) assert.doesNotMatch(line, UNSAFE_IN_LINE, line);
  }
  assert.match(runs[0].stdout, /^wrote .*out\\x1b\]0;x\\x07\.py: .*\\x00b\|/);
  assert.equal(readFileSync(out, "utf8"), exportPytorch(analyzeOrThrow(tiny(HOSTILE)), { source: spec }));
  assert.equal((JSON.parse(runs[3].stdout) as { name: string }).name, HOSTILE);
  // train on MNIST changes the spec's input, and says so with the name.
  const train = await runCli([
    "train",
    spec,
    "--dataset",
    "mnist",
    "--epochs",
    "1",
    "--max-steps",
    "1",
    "--no-estimate",
    "--workers",
    "1",
  ]);
  assert.equal(train.code, 0, train.stderr);
  assert.match(train.stderr, /\\x00b\|.*: the spec, changed for mnist:/);
  for (const line of (train.stdout + train.stderr).split(/\n|\r/)) assert.doesNotMatch(line, UNSAFE_IN_LINE, line);
});

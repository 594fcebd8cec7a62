// The `resnet-studio summary` CLI end to end: broken fixtures, examples, presets, JSON output, bad arguments.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { CLI_LAUNCHER, buildCliIfStale, runCli } from "./harness";
import { join, relative } from "node:path";
import { loadSpec } from "../../model-core/src/load";
import { PRESET_NAMES } from "../../model-core/src/spec/presets";
import { summarize } from "../../model-core/src/cli/summary";

const root = join(__dirname, "../..");
const brokenDir = join(root, "test/fixtures/broken");
/** Reproductions of specs that once froze or crashed the reader; each must stop at the budget, located. */
const hostileDir = join(root, "test/fixtures/hostile");
const examplesDir = join(root, "examples");
// The real launcher, rebuilt when stale, so the test sees exactly what `npx resnet-studio` runs.
before(buildCliIfStale);

/** Run `tasks` with at most `limit` in flight (2 cores, shared). */
async function pool<T, R>(items: T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: limit }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]);
    }
  });
  await Promise.all(workers);
  return results;
}

const fixtures = readdirSync(brokenDir)
  .filter((f) => f.endsWith(".resnet.ts"))
  .sort();
const hostileFixtures = readdirSync(hostileDir)
  .filter((f) => f.endsWith(".resnet.ts"))
  .sort();

test("there are at least 20 broken fixtures, each with an expectation", () => {
  assert.ok(fixtures.length >= 20, `only ${fixtures.length} fixtures`);
  for (const f of fixtures) assert.match(readFileSync(join(brokenDir, f), "utf8"), /^\/\/ expect: \d+:\d+ \S/, f);
});

test("every broken and hostile fixture fails with the expected located diagnostic and no stack", async () => {
  assert.ok(hostileFixtures.length >= 8, hostileFixtures.join(", "));
  const paths = [...fixtures.map((f) => join(brokenDir, f)), ...hostileFixtures.map((f) => join(hostileDir, f))];
  const results = await pool(paths, 3, async (path) => {
    const file = relative(root, path);
    const [, line, column, expected] = /^\/\/ expect: (\d+):(\d+) (.*)$/m.exec(readFileSync(join(root, file), "utf8"))!;
    return { file, line, column, expected: expected, run: await runCli(["summary", file]) };
  });
  const failures: string[] = [];
  for (const { file, line, column, expected, run } of results) {
    const prefix = `${file}:${line}:${column}: error: `;
    const lines = run.stderr.split("\n");
    const problems: string[] = [];
    if (run.code !== 1) problems.push(`exit code ${run.code}`);
    if (!lines.some((l) => l.startsWith(prefix) && l.includes(expected)))
      problems.push(`no line "${prefix}…${expected}…"`);
    if (lines.some((l) => /^\s+at /.test(l))) problems.push("stack trace printed");
    // eslint-disable-next-line no-control-regex -- the test asserts that no control character reaches the terminal
    if (/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/.test(run.stderr)) problems.push("control character in the output");
    if (run.stdout !== "") problems.push("stdout not empty");
    if (problems.length) failures.push(`${file}: ${problems.join("; ")}\n${run.stderr}`);
  }
  assert.deepEqual(failures, []);
});

const examples = readdirSync(examplesDir)
  .filter((f) => f.endsWith(".resnet.ts"))
  .sort();

test("every example and every preset summarizes without errors", () => {
  assert.ok(examples.includes("small.resnet.ts") && examples.length >= 7, examples.join(", "));
  for (const name of examples) {
    const loaded = loadSpec(join(examplesDir, name));
    assert.deepEqual(
      loaded.diagnostics.filter((d) => d.severity === "error"),
      [],
      name,
    );
    assert.ok(loaded.graph, name);
    const summary = summarize(loaded.graph, loaded.file);
    assert.ok(summary.params > 0 && summary.macs > 0, name);
  }
  for (const name of PRESET_NAMES) {
    const loaded = loadSpec(name);
    assert.deepEqual(
      loaded.diagnostics.filter((d) => d.severity === "error"),
      [],
      name,
    );
    assert.ok(loaded.graph, name);
  }
});

test("examples have the paper's sizes", () => {
  const params = (name: string) => loadSpec(join(examplesDir, name)).graph!.totals.params;
  // torchvision: resnet18 11,689,512 and resnet50 25,557,032 parameters; He et al. 2015 Table 6: ResNet-20 0.27 M, ResNet-110 1.7 M.
  assert.equal(params("resnet18.resnet.ts"), 11_689_512);
  assert.equal(params("resnet50.resnet.ts"), 25_557_032);
  assert.equal(Math.round(params("cifar-resnet20.resnet.ts") / 1e4), 27);
  assert.equal(
    params("cifar-plain20.resnet.ts"),
    params("cifar-resnet20.resnet.ts"),
    "option A shortcuts add no parameters",
  );
  assert.equal(Math.round(params("preact-resnet110.resnet.ts") / 1e5), 17);
  const small = loadSpec(join(examplesDir, "small.resnet.ts")).graph!;
  assert.deepEqual(small.output, [10]);
  assert.ok(small.totals.macs < 20e6, `small example is ${small.totals.macs} MACs`);
});

test("summary --json prints exactly one JSON object with shapes as arrays", async () => {
  const run = await runCli(["summary", "examples/resnet18.resnet.ts", "--json"]);
  assert.equal(run.code, 0, run.stderr);
  const json = JSON.parse(run.stdout) as {
    name: string;
    params: number;
    macs: number;
    output: number[];
    stages: { name: string; output: number[]; params: number }[];
    layers: {
      id: string;
      kind: string;
      input: number[];
      output: number[];
      params: number;
      macs: number;
      receptiveField: { size: number };
      source: { line: number } | null;
    }[];
  };
  assert.equal(json.name, "ResNet-18");
  assert.equal(json.params, 11_689_512);
  // torchvision/fvcore count 1.82 G multiply-adds for ResNet-18 at 224×224.
  assert.equal(Math.round(json.macs / 1e7), 181);
  assert.deepEqual(json.output, [1000]);
  assert.deepEqual(
    json.stages.map((s) => s.name),
    ["stem", "layer1", "layer2", "layer3", "layer4", "head"],
  );
  assert.deepEqual(json.stages[4].output, [512, 7, 7]);
  const conv = json.layers.find((l) => l.id === "layer2.0.conv1")!;
  assert.deepEqual([conv.kind, conv.input, conv.output, conv.params], ["conv", [64, 56, 56], [128, 28, 28], 73_728]);
  assert.equal(conv.source?.line, 11, "layer2 comes from the second stage() line");
  assert.equal(
    json.layers.reduce((n, l) => n + l.params, 0),
    json.params,
  );
});

test("summary table, --input override, presets and argument errors", async () => {
  const [table, override, unknown, missing, badInput, shallow] = await Promise.all([
    runCli(["summary", "resnet20"]),
    runCli(["summary", "examples/small.resnet.ts", "--input", "3,32,32", "--json"]),
    runCli(["summary", "resnet51"]),
    runCli(["summary", "examples/nope.resnet.ts"]),
    runCli(["summary", "resnet20", "--input", "3,32"]),
    runCli(["summary", "resnet152", "--depth", "1"]),
  ]);
  assert.equal(shallow.code, 0, shallow.stderr);
  assert.deepEqual(
    shallow.stdout
      .split("\n")
      .filter((l) => /^(input|stem|layer\d|head)\b/.test(l))
      .map((l) => l.split(/\s+/)[0]),
    ["input", "stem", "layer1", "layer2", "layer3", "layer4", "head"],
  );
  assert.doesNotMatch(shallow.stdout, /layer1\.0/);
  assert.match(shallow.stdout, /Total params: 60,192,808/);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^ {4}layer3\.2\.conv2 +conv 3×3 +64×8×8 +36,864 +2\.36M/m);
  assert.match(table.stdout, /Total params: 269,722/);
  assert.match(table.stdout, /Total MACs: .*\(40\.\d+M\)/);
  assert.equal(override.code, 0, override.stderr);
  assert.deepEqual((JSON.parse(override.stdout) as { input: number[] }).input, [3, 32, 32]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /unknown preset "resnet51".*did you mean resnet50/);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^examples\/nope\.resnet\.ts: error: file not found/m);
  assert.equal(badInput.code, 1);
  assert.match(badInput.stderr, /--input must be three positive integers/);
  for (const run of [unknown, missing, badInput]) assert.doesNotMatch(run.stderr, /^\s+at /m);
});

test("warnings are printed located on stderr and do not fail the summary", async () => {
  const file = "test/fixtures/warnings/zero-init-plain.resnet.ts";
  const [, where, expected] = /^\/\/ expect: (\d+:\d+) (.*)$/m.exec(readFileSync(join(root, file), "utf8"))!;
  const run = await runCli(["summary", file, "--json"]);
  assert.equal(run.code, 0, run.stderr);
  assert.ok(
    run.stderr.split("\n").some((l) => l.startsWith(`${file}:${where}: warning: ${expected}`)),
    run.stderr,
  );
  const json = JSON.parse(run.stdout) as { diagnostics: { severity: string }[] };
  assert.deepEqual(
    json.diagnostics.map((d) => d.severity),
    ["warning"],
  );
});

test("start summarizes the small example (training skipped here; it has its own tests)", async () => {
  const run = await runCli(["start", "--no-train"]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /Small ResNet \(MNIST\)/);
  assert.match(run.stdout, /Total params: 19,810/);
});

test("examples type-check against model-core's typings", () => {
  const r = spawnSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", "examples"], {
    cwd: root,
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test("gradflow JSON piped to a slow reader arrives whole (the launcher flushes before it exits)", () => {
  // resnet110's result is ≈ 90 KB, more than a pipe holds (64 KiB): the reader only starts after the writer is done.
  const command = `"${process.execPath}" "${CLI_LAUNCHER}" gradflow resnet110 --batch 1 --input 3,8,8 --backend wasm --json | (sleep 3; cat)`;
  const run = spawnSync("bash", ["-o", "pipefail", "-c", command], {
    cwd: root,
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  assert.equal(run.status, 0, run.stderr);
  assert.ok(run.stdout.length > 65_536, `only ${run.stdout.length} bytes`);
  const result = JSON.parse(run.stdout) as { model: string; nodes: unknown[] };
  assert.equal(result.model, "resnet110");
  assert.ok(result.nodes.length > 300, `${result.nodes.length} nodes`);
});

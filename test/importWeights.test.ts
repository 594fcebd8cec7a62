/**
 * `resnet-studio import` against torchvision: for the 9 torchvision ResNets, Wide ResNets and ResNeXts the spec
 * inferred from names and shapes has exactly torchvision's parameter count, and the module exported from it takes
 * torchvision's state_dict with strict=True. .pt/.pth files go through torch.load(weights_only=True); other networks
 * and pickled modules get one clear line. Needs /usr/bin/python3 with torch and torchvision (RESNET_STUDIO_PYTHON);
 * without it these tests skip, and under CI=true fail.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { analyzeOrThrow } from "../model-core/src/analysis/analyze";
import { exportPytorch } from "../model-core/src/export/pytorch";
import { loadSpec } from "../model-core/src/load";
import { normalizeSpec } from "../model-core/src/spec/builders";
import { importWeights } from "../model-core/src/weights/importWeights";
import { runCliFromSource } from "./cli/harness";
import { skipWithoutTool, testPython } from "./toolSkip";

const root = join(__dirname, "..");
const PYTHON = testPython();
const REFERENCE = join(root, "test/reference/import_weights.py");
const TORCHVISION_RESNETS = [
  "resnet18",
  "resnet34",
  "resnet50",
  "resnet101",
  "resnet152",
  "wide_resnet50_2",
  "wide_resnet101_2",
  "resnext50_32x4d",
  "resnext101_32x8d",
];
/** The exported module and torchvision's resnet18 share the weights; their logits differ only by float32 rounding. */
const LOGIT_ATOL = 1e-5;

function torchMissing(): string | false {
  const r = spawnSync(PYTHON, ["-c", "import torch, torchvision"], { encoding: "utf8" });
  return r.status === 0
    ? false
    : `${PYTHON} has no torch/torchvision (apt-get install python3-torch python3-torchvision)`;
}
const skip = skipWithoutTool(torchMissing());

function python(args: string[]): string {
  const r = spawnSync(PYTHON, [REFERENCE, ...args], { encoding: "utf8", timeout: 600_000, maxBuffer: 16 * 2 ** 20 });
  assert.equal(r.status, 0, `import_weights.py ${args[0]} failed:\n${r.stderr}`);
  return r.stdout;
}

describe("import of torchvision's ResNets", { skip }, () => {
  let dir = "";
  let torchvisionParams: Record<string, number> = {};
  const opts = { python: () => PYTHON };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "rs-import-"));
    torchvisionParams = (JSON.parse(python(["make", dir])) as { params: Record<string, number> }).params;
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("all 9: the inferred spec has torchvision's parameter count and its module loads the state_dict strictly", async () => {
    const cases = [];
    for (const name of TORCHVISION_RESNETS) {
      const { inferred } = await importWeights(join(dir, `${name}.safetensors`), opts);
      assert.equal(inferred.params, torchvisionParams[name], `${name}: parameters`);
      const spec = normalizeSpec(inferred.options).spec;
      assert.ok(spec, name);
      const module = join(dir, `${name}_model.py`);
      writeFileSync(module, exportPytorch(analyzeOrThrow(spec), { source: `${name}.safetensors` }));
      cases.push({ name, module });
    }
    writeFileSync(join(dir, "manifest.json"), JSON.stringify({ cases }));
    const results = JSON.parse(python(["check", join(dir, "manifest.json")])) as Record<
      string,
      { params?: number; torchvisionParams?: number; error?: string }
    >;
    for (const name of TORCHVISION_RESNETS) {
      const r = results[name];
      assert.equal(r.error, undefined, `${name}: ${r.error}`);
      assert.equal(r.params, torchvisionParams[name], `${name}: the exported module's parameters`);
      assert.equal(r.torchvisionParams, torchvisionParams[name], name);
    }
  });

  test('a .pth state_dict (top level or under "model") is read through torch.load(weights_only=True); the module computes torchvision\'s logits', async () => {
    const plain = await importWeights(join(dir, "resnet18_10.pth"), opts);
    const nested = await importWeights(join(dir, "resnet18_10_nested.pth"), opts);
    assert.equal(plain.inferred.options.classes, 10);
    assert.deepEqual(nested.inferred.options, { ...plain.inferred.options, name: "resnet18_10_nested" });
    assert.equal(plain.via, "torch.load(weights_only=True)");
    assert.equal(nested.via, 'torch.load(weights_only=True), the state_dict under "model"');
    assert.match(nested.text, /read through torch\.load\(weights_only=True\), the state_dict under "model"/);
    const module = join(dir, "resnet18_10_model.py");
    writeFileSync(module, exportPytorch(analyzeOrThrow(normalizeSpec(plain.inferred.options).spec!)));
    writeFileSync(
      join(dir, "pth.json"),
      JSON.stringify({ cases: [{ name: "resnet18_10", module, pth: join(dir, "resnet18_10.pth") }] }),
    );
    const r = (
      JSON.parse(python(["check", join(dir, "pth.json")])) as Record<
        string,
        { error?: string; params?: number; maxLogitDiff?: number }
      >
    ).resnet18_10;
    assert.equal(r.error, undefined, r.error);
    assert.equal(r.params, plain.inferred.params);
    assert.ok((r.maxLogitDiff ?? Infinity) <= LOGIT_ATOL, `max |Δlogit| ${r.maxLogitDiff} > ${LOGIT_ATOL}`);
  });

  test("eval reads a .pth through torch.load(weights_only=True) and names the .pth, never the converted copy", async () => {
    const plain = await importWeights(join(dir, "resnet18_10.pth"), opts);
    const spec = join(dir, "resnet18_10.resnet.ts");
    writeFileSync(spec, plain.text);
    const pth = join(dir, "resnet18_10.pth");
    const args = ["eval", pth, "--spec", spec, "--dataset", "synthetic:count=20:classes=10", "--python", PYTHON];
    const run = runCliFromSource([...args, "--json"]);
    assert.equal(run.status, 0, run.stderr);
    const result = JSON.parse(run.stdout) as { weights: string; loss: number; accuracy: number };
    assert.equal(result.weights, pth);
    assert.ok(Number.isFinite(result.loss) && result.accuracy >= 0 && result.accuracy <= 1, run.stdout);
    const table = runCliFromSource(args);
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stderr, /resnet18_10\.pth: read through torch\.load\(weights_only=True\)/);
    const wrong = runCliFromSource([
      "eval",
      pth,
      "--spec",
      "resnet34",
      "--dataset",
      "synthetic:count=20:classes=10",
      "--python",
      PYTHON,
    ]);
    assert.equal(wrong.status, 1);
    assert.ok(wrong.stderr.includes(pth), wrong.stderr);
    assert.doesNotMatch(wrong.stderr, /rs-weights-|\n\s+at /, "the user's file, no stack trace");
  });

  test("a pickled module is refused by weights_only with one clear line; other networks name what is missing", async () => {
    await assert.rejects(importWeights(join(dir, "resnet18_10_module.pth"), opts), (e: Error) => {
      assert.match(
        e.message,
        /resnet18_10_module\.pth: torch\.load\(weights_only=True\) refused it: .*torchvision\.models\.resnet\.ResNet.*torch\.save\(net\.state_dict\(\), path\)/,
      );
      assert.doesNotMatch(e.message, /weights_only` set to `False`|\n/, "never suggests unpickling code");
      return true;
    });
    for (const [name, first] of [
      ["vgg11", "features.0.weight"],
      ["mobilenet_v2", "features.0.0.weight"],
    ]) {
      await assert.rejects(importWeights(join(dir, `${name}.safetensors`), opts), (e: Error) => {
        assert.ok(e.message.startsWith(join(dir, `${name}.safetensors`) + ": "), e.message);
        assert.match(
          e.message,
          /not a ResNet state_dict \(torchvision names\): missing conv1\.weight \(the stem convolution\)/,
        );
        assert.match(e.message, /fc\.weight \(the classifier\)/);
        assert.ok(e.message.includes(`start ${first}`), `${name}: names its tensors: ${e.message}`);
        return true;
      });
    }
  });

  test("resnet-studio import writes a spec that loads back to the same network; errors are one line with exit 1", () => {
    const out = join(dir, "r50.resnet.ts");
    const ok = runCliFromSource(["import", join(dir, "resnet50.safetensors"), "--out", out]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /wrote .*r50\.resnet\.ts: resnet50, 25,557,032 parameters/);
    assert.match(ok.stderr, /note: strides are not stored in weights/);
    const loaded = loadSpec(out);
    assert.equal(loaded.graph?.totals.params, torchvisionParams.resnet50);
    assert.match(readFileSync(out, "utf8"), /^\/\/ Inferred from the tensor names and shapes of /);
    const json = runCliFromSource(["import", join(dir, "resnext50_32x4d.safetensors"), "--json"]);
    assert.equal(json.status, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as { options: { groups: number; widthPerGroup: number }; params: number };
    assert.deepEqual([parsed.options.groups, parsed.options.widthPerGroup, parsed.params], [32, 4, 25_028_904]);
    const bad = runCliFromSource(["import", join(dir, "vgg11.safetensors")]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^resnet-studio: error: .*vgg11\.safetensors: not a ResNet state_dict/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /, "no stack trace");
  });
});

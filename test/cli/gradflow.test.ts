/** `resnet-studio gradflow` end to end (sources run through tsx in a child process): JSON, table, --no-bn, errors. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import type { GradientFlowResult } from "../../model-core/src/analysis/gradflow";
import { runCliFromSource } from "./harness";

const root = join(__dirname, "../..");

const cli = (...args: string[]) => runCliFromSource(args);

test("gradflow --json prints one GradientFlowResult for a preset", () => {
  const r = cli("gradflow", "resnet20", "--batch", "4", "--input", "3,16,16", "--backend", "wasm", "--json");
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout) as GradientFlowResult;
  assert.equal(result.model, "resnet20");
  assert.equal(result.backend, "wasm");
  assert.equal(result.batch, 4);
  assert.equal(result.adds.length, 9);
  assert.ok(result.nodes.some((n) => n.id === "layer3.2.bn2" && n.params.gamma.l2 > 0));
  assert.ok(result.ratio.value > 0 && Number.isFinite(result.loss));
});

test("gradflow table reports the backend, every block and the ratio; --no-bn removes BN", () => {
  const table = cli("gradflow", "resnet20", "--batch", "4", "--input", "3,16,16", "--backend", "wasm", "--no-bn");
  assert.equal(table.status, 0, table.stderr);
  assert.match(table.stdout, /^backend: wasm/m);
  for (const block of ["layer1.0", "layer2.2", "layer3.2"])
    assert.match(table.stdout, new RegExp(`^layer\\d\\s+${block.replace(".", "\\.")}\\s`, "m"));
  assert.match(table.stdout, /ratio ‖dL\/dx‖ first block input \/ last block output = /);
  const json = cli(
    "gradflow",
    "resnet20",
    "--batch",
    "4",
    "--input",
    "3,16,16",
    "--backend",
    "wasm",
    "--no-bn",
    "--json",
  );
  const result = JSON.parse(json.stdout) as GradientFlowResult;
  assert.ok(!result.nodes.some((n) => /\.bn\d|^bn/.test(n.id)), "no BN nodes");
  assert.ok(
    result.nodes.some((n) => n.id === "layer1.0.conv1" && n.params.bias.l2 > 0),
    "convs have biases",
  );
});

test("gradflow bad input: located spec errors, unknown presets and bad flags exit 1 without a stack", () => {
  const broken = cli("gradflow", join(root, "test/fixtures/broken/negative-channels.resnet.ts"), "--backend", "cpu");
  assert.equal(broken.status, 1);
  assert.match(broken.stderr, /negative-channels\.resnet\.ts:\d+:\d+: error: /);
  const unknown = cli("gradflow", "resnet21", "--backend", "cpu");
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /unknown preset "resnet21"/);
  const badBatch = cli("gradflow", "resnet20", "--batch", "two");
  assert.equal(badBatch.status, 1);
  assert.match(badBatch.stderr, /--batch must be an integer ≥ 1, got "two"/);
  const badMode = cli("gradflow", "resnet20", "--mode", "test");
  assert.equal(badMode.status, 1);
  assert.match(badMode.stderr, /--mode must be train or eval/);
  for (const r of [broken, unknown, badBatch, badMode]) assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
});

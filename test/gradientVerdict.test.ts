// The gradient-flow verdict, from measured passes: ResNet-20 and plain-20 at initialisation, with and without BN.
// The fixtures are `npx resnet-studio gradflow <net> [--no-bn] --batch 8 --json` on the wasm backend (seed 1).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { GradientFlowResult } from "../model-core/src/analysis/gradflow";
import type { GradientPair } from "../model-core/src/protocol";
import { analyze } from "../model-core/src/analysis/analyze";
import { presets } from "../model-core/src/spec/presets";
import { curveLabel, gradientVerdict, STEADY_FACTOR } from "../webview/src/gradientVerdict";

export function measuredFlow(name: "resnet20" | "plain20" | "resnet20nobn" | "plain20nobn"): GradientFlowResult {
  return JSON.parse(
    readFileSync(join(import.meta.dirname, "fixtures", "gradientFlow", `${name}.json`), "utf8"),
  ) as GradientFlowResult;
}

const resnet20 = analyze(presets.resnet20()).graph!.spec;
const plain20 = { ...resnet20, residual: false };

test("ResNet-20 with BN: grows toward the input, the plain twin grows more, and the verdict says so honestly", () => {
  const pair: GradientPair = { residual: measuredFlow("resnet20"), plain: measuredFlow("plain20") };
  const v = gradientVerdict({ pair, withoutBn: null, spec: resnet20 });
  // The numbers are the ones the caption shows (each result's ratio), in the shared format.
  assert.match(v.finding, /^resnet20: ‖dL\/dx‖ grows ×8\.49 toward the input, most across layer\d\.\d \(×[\d.]+\)/);
  assert.match(v.finding, /its plain twin's grows ×24\.9 toward the input, 2\.93× more/);
  assert.match(
    v.finding,
    /Measured, not the textbook story: with BN at initialisation the plain net's gradients are larger/,
  );
  assert.match(v.advice, /zero-init residual/);
  assert.match(v.advice, /pre-activation/);
  assert.match(v.advice, /lower learning rate/);
  assert.doesNotMatch(v.advice, /BN \(norm/, "the network has BN already");
  assert.equal(v.batch, "One forward/backward pass at initialisation on a seeded random batch of 8.");
});

test("without BN: the residual net still grows, the plain twin's gradient vanishes toward the input", () => {
  const pair: GradientPair = { residual: measuredFlow("resnet20"), plain: measuredFlow("plain20") };
  const withoutBn: GradientPair = { residual: measuredFlow("resnet20nobn"), plain: measuredFlow("plain20nobn") };
  const v = gradientVerdict({ pair, withoutBn, spec: resnet20 });
  assert.match(
    v.finding,
    /Without BN, the network's grows ×12\.7 toward the input and the plain twin's shrinks ×2\.97/,
  );

  // The no-BN network itself: the plain twin's gradient shrinks, the shortcuts are credited, BN is suggested.
  const noBn = gradientVerdict({
    pair: withoutBn,
    withoutBn: null,
    spec: { ...resnet20, norm: "none" },
  });
  assert.match(noBn.finding, /its plain twin's shrinks ×2\.97 toward the input, less than the residual net's/);
  assert.match(noBn.advice, /BN \(norm: batchnorm\)/);
  assert.doesNotMatch(noBn.advice, /zero-init/, "zero-init residual acts on BN's γ: not offered without BN");
});

test("plain-20 shown on its own: no twin, no 'residual' label, shortcuts suggested", () => {
  const v = gradientVerdict({
    pair: { residual: measuredFlow("plain20"), plain: null },
    withoutBn: null,
    spec: plain20,
  });
  assert.match(v.finding, /^plain20: ‖dL\/dx‖ grows ×24\.9 toward the input/);
  assert.match(v.finding, /no shortcuts, so there is no plain twin/);
  assert.match(v.advice, /^To steady it, try shortcuts \(residual: true\)/);
  assert.equal(curveLabel("Plain-20", "network", false, true), "Plain-20 (plain, no shortcuts)");
  assert.equal(curveLabel("ResNet-20", "network", false, false), "ResNet-20 (residual)");
  assert.equal(curveLabel("ResNet-20", "twin", true, false), "ResNet-20 (plain twin, no BN)");
});

test("a steady gradient needs nothing; a reduced batch says from what and why", () => {
  const flow = measuredFlow("resnet20");
  const steady: GradientFlowResult = {
    ...flow,
    batch: 4,
    ratio: { ...flow.ratio, value: STEADY_FACTOR / 1.1 },
  };
  const v = gradientVerdict({
    pair: {
      residual: steady,
      plain: null,
      notes: [
        "note: batch 4 instead of 8: at 8, a gradient-flow pass of ResNet-50 would need about 5.1 GiB, more than the 4.0 GiB the wasm backend can hold",
      ],
    },
    withoutBn: null,
    spec: resnet20,
  });
  assert.match(v.finding, /stays steady \(×1\.82 from output to input\)/);
  assert.match(v.advice, /nothing to change/);
  assert.equal(
    v.batch,
    "One forward/backward pass at initialisation on a seeded random batch of 4 (reduced from 8: at 8, a gradient-flow pass of ResNet-50 would need about 5.1 GiB, more than the 4.0 GiB the wasm backend can hold).",
  );
});

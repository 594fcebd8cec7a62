import { test } from "node:test";
import assert from "node:assert/strict";
import { normalizeSpec, resnet, stage, closestName } from "../src/spec/builders";
import { SpecError } from "../src/diagnostics";
import type { SpecIssue } from "../src/spec/types";

function issuesOf(options: unknown): SpecIssue[] {
  const { spec, issues } = normalizeSpec(options);
  assert.equal(spec, null, "a spec with issues must not resolve");
  return issues;
}

test("defaults fill every omitted option", () => {
  const spec = resnet({ stages: [stage({ channels: 64, blocks: 2 }), stage({ channels: 128, blocks: 2 })] });
  assert.deepEqual(spec, {
    name: "ResNet",
    input: [3, 224, 224],
    stem: "imagenet",
    block: "basic",
    stages: [
      { channels: 64, blocks: 2, stride: 1 },
      { channels: 128, blocks: 2, stride: 2 },
    ],
    shortcut: "B",
    shortcutVariant: { kind: "identity" },
    preActivation: false,
    residual: true,
    norm: "batchnorm",
    groups: 1,
    widthPerGroup: 64,
    classes: 1000,
    zeroInitResidual: false,
  });
});

test("explicit values are kept, including stride 1 on later stages", () => {
  const spec = resnet({
    name: "Tiny",
    input: [1, 28, 28],
    stem: "cifar",
    block: "bottleneck",
    stages: [
      { channels: 8, blocks: 1, stride: 2 },
      { channels: 16, blocks: 3, stride: 1 },
    ],
    shortcut: "C",
    preActivation: true,
    residual: false,
    norm: "none",
    groups: 2,
    widthPerGroup: 32,
    classes: 10,
    zeroInitResidual: true,
  });
  assert.equal(spec.name, "Tiny");
  assert.deepEqual(
    spec.stages.map((s) => s.stride),
    [2, 1],
  );
  assert.equal(spec.norm, "none");
  assert.equal(spec.groups, 2);
});

test("stage() returns its argument unchanged", () => {
  const options = { channels: 32, blocks: 4 };
  assert.equal(stage(options), options);
});

test("a shortcutVariant kind string gets the documented default parameters", () => {
  const make = (kind: string) =>
    normalizeSpec({ stages: [{ channels: 16, blocks: 1 }], shortcutVariant: kind }).spec?.shortcutVariant;
  assert.deepEqual(make("constantScaling"), { kind: "constantScaling", lambda: 0.5, residualScale: 0.5 });
  assert.deepEqual(make("exclusiveGating"), { kind: "exclusiveGating", gateBias: -6 });
  assert.deepEqual(make("shortcutOnlyGating"), { kind: "shortcutOnlyGating", gateBias: -6 });
  assert.deepEqual(make("dropout"), { kind: "dropout", rate: 0.5 });
  assert.deepEqual(make("conv1x1"), { kind: "conv1x1" });
});

test("constant scaling pairs λ with 1−λ on the branch unless residualScale is given", () => {
  const scaled = (variant: object) =>
    normalizeSpec({ stages: [{ channels: 16, blocks: 1 }], shortcutVariant: variant }).spec?.shortcutVariant;
  assert.deepEqual(scaled({ kind: "constantScaling", lambda: 0.3 }), {
    kind: "constantScaling",
    lambda: 0.3,
    residualScale: 0.7,
  });
  assert.deepEqual(scaled({ kind: "constantScaling", lambda: 0.5, residualScale: 1 }), {
    kind: "constantScaling",
    lambda: 0.5,
    residualScale: 1,
  });
});

test("unknown enum values list the allowed ones", () => {
  const issues = issuesOf({
    block: "resnet",
    stem: "mnist",
    shortcut: "D",
    norm: "layernorm",
    stages: [{ channels: 8, blocks: 1 }],
  });
  const byPath = new Map(issues.map((i) => [i.path.join("."), i]));
  assert.equal(byPath.get("block")?.message, 'unknown block "resnet"; expected "basic" or "bottleneck"');
  assert.equal(byPath.get("block")?.code, "unknown-value");
  assert.equal(byPath.get("stem")?.message, 'unknown stem "mnist"; expected "imagenet" or "cifar"');
  assert.equal(byPath.get("shortcut")?.message, 'unknown shortcut "D"; expected "A", "B" or "C"');
  assert.match(byPath.get("norm")?.message ?? "", /expected "batchnorm" or "none"/);
});

test("bad stage numbers are reported at their exact path", () => {
  const issues = issuesOf({
    stages: [
      { channels: 16, blocks: 2 },
      { channels: -3, blocks: 2.5, stride: 0 },
      { channels: "64", blocks: 1 },
    ],
  });
  const paths = issues.map((i) => JSON.stringify(i.path)).sort();
  assert.deepEqual(paths, [
    '["stages",1,"blocks"]',
    '["stages",1,"channels"]',
    '["stages",1,"stride"]',
    '["stages",2,"channels"]',
  ]);
  const channels = issues.find((i) => i.path[1] === 1 && i.path[2] === "channels")!;
  assert.equal(channels.code, "invalid-number");
  assert.equal(channels.message, "channels must be a positive integer, got -3");
  assert.equal(issues.find((i) => i.path[1] === 2)!.code, "invalid-type");
});

test("empty and missing stages are refused", () => {
  assert.deepEqual(
    issuesOf({ stages: [] }).map((i) => [i.path, i.code]),
    [[["stages"], "empty-stages"]],
  );
  assert.deepEqual(
    issuesOf({}).map((i) => i.code),
    ["missing-key"],
  );
  assert.deepEqual(
    issuesOf({ stages: [{ channels: 8 }] }).map((i) => [i.path, i.code]),
    [[["stages", 0], "missing-key"]],
  );
  assert.deepEqual(
    issuesOf({ stages: "many" }).map((i) => i.code),
    ["invalid-type"],
  );
});

test("unknown keys suggest the closest known key", () => {
  const issues = issuesOf({
    stages: [{ chanels: 8, blocks: 1 }],
    clases: 10,
    shortcutVariant: { kind: "dropout", rat: 0.2 },
  });
  const messages = new Map(issues.map((i) => [i.path.join("."), i.message]));
  assert.equal(messages.get("stages.0.chanels"), 'unknown key "chanels"; did you mean "channels"?');
  assert.equal(messages.get("clases"), 'unknown key "clases"; did you mean "classes"?');
  assert.equal(messages.get("shortcutVariant.rat"), 'unknown key "rat"; did you mean "rate"?');
  assert.ok(issues.every((i) => i.code !== "unknown-key" || i.path.length > 0));
  assert.equal(closestName("zzzzzzzz", ["channels", "blocks"]), null);
});

test("wrong types everywhere are reported, never thrown", () => {
  for (const bad of [null, 42, "resnet", [], undefined]) {
    const issues = issuesOf(bad);
    assert.equal(issues.length, 1);
    assert.deepEqual(issues[0].path, []);
  }
  const issues = issuesOf({
    name: "",
    input: [3, 224],
    stages: [{ channels: 8, blocks: 1 }],
    preActivation: "yes",
    residual: 1,
    groups: 0,
    widthPerGroup: 1.5,
    classes: -1,
    zeroInitResidual: null,
    shortcutVariant: { kind: "dropout", rate: 1.5 },
  });
  assert.deepEqual(issues.map((i) => i.path.join(".")).sort(), [
    "classes",
    "groups",
    "input",
    "name",
    "preActivation",
    "residual",
    "shortcutVariant.rate",
    "widthPerGroup",
    "zeroInitResidual",
  ]);
  assert.deepEqual(
    issuesOf({ input: [3, 0, 32], stages: [{ channels: 8, blocks: 1 }] }).map((i) => i.path),
    [["input", 1]],
  );
  assert.deepEqual(
    issuesOf({ shortcutVariant: { kind: "gating" }, stages: [{ channels: 8, blocks: 1 }] }).map((i) => i.path),
    [["shortcutVariant", "kind"]],
  );
});

test("resnet() throws a SpecError naming the option path", () => {
  assert.throws(
    () => resnet({ stages: [{ channels: 16, blocks: 0 }] }),
    (err: unknown) => {
      assert.ok(err instanceof SpecError);
      assert.equal(err.diagnostics.length, 1);
      assert.equal(err.diagnostics[0].range, null);
      assert.equal(err.diagnostics[0].message, "stages[0].blocks: blocks must be a positive integer, got 0");
      return true;
    },
  );
});

// Messages from the webview are checked field by field; every malformed field is refused, nothing reaches a handler.
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkWebviewMessage, isWebviewToHost, MAX_PNG_BASE64_CHARS } from "../src/protocolValidate";

const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==";
const expansion = { expanded: ["layer1", "layer2.0"], modelCollapsed: false };
const overlays = { shapes: true, params: false, macs: false, receptiveField: true, gradients: false, memory: true };
const view = {
  documentUri: "file:///a.resnet.ts",
  expansion,
  overlays,
  selected: "layer1.0.conv1",
  zoom: 1.5,
  panX: -20,
  panY: 4,
  search: "conv",
  tab: "diagram",
};
const range = { file: "a.resnet.ts", startOffset: 3, endOffset: 9, line: 1, column: 4, endLine: 1, endColumn: 10 };

const VALID: Record<string, unknown> = {
  ready: { type: "ready" },
  viewState: { type: "viewState", view },
  revealSource: { type: "revealSource", nodeId: "layer1.0.conv1", range },
  revealNowhere: { type: "revealSource", nodeId: "fc", range: null },
  layout: { type: "request", id: 1, body: { kind: "layout", expansion } },
  gradientFlow: { type: "request", id: 2, body: { kind: "gradientFlow" } },
  gradientFlowWithoutBn: { type: "request", id: 2, body: { kind: "gradientFlow", withoutBn: true } },
  savePng: { type: "request", id: 3, body: { kind: "savePng", base64: PNG, suggestedName: "ResNet-18.png" } },
  saveSvg: { type: "request", id: 4, body: { kind: "saveSvg", expansion, overlays, suggestedName: "ResNet-18.svg" } },
  layoutColumns: {
    type: "request",
    id: 1,
    body: { kind: "layout", expansion: { expanded: ["layer1"], columns: 3 } },
  },
  train: { type: "request", id: 5, body: { kind: "train" } },
  trainOn: { type: "request", id: 5, body: { kind: "trainOn" } },
  undo: { type: "request", id: 9, body: { kind: "undoRedo", redo: false } },
  cancelTraining: { type: "request", id: 6, body: { kind: "cancelTraining" } },
  editStage: {
    type: "request",
    id: 7,
    body: { kind: "editSpec", edit: { kind: "stage", stage: 1, key: "blocks", value: 3 } },
  },
  editNetwork: {
    type: "request",
    id: 8,
    body: { kind: "editSpec", edit: { kind: "network", key: "shortcut", value: "A" }, ask: true },
  },
};

/** A copy of `value` with the field at `path` replaced (or deleted when `replacement` is DELETE). */
const DELETE = Symbol("delete");
function withField(value: unknown, path: string[], replacement: unknown): unknown {
  const copy = structuredClone(value) as Record<string, unknown>;
  let target = copy;
  for (const key of path.slice(0, -1)) target = target[key] as Record<string, unknown>;
  const last = path[path.length - 1];
  if (replacement === DELETE) delete target[last];
  else target[last] = replacement;
  return copy;
}

/** Every leaf path of a message (array elements by index). */
function leafPaths(value: unknown, prefix: string[] = []): string[][] {
  if (typeof value !== "object" || value === null) return [prefix];
  const paths = Object.entries(value).flatMap(([k, v]) => leafPaths(v, [...prefix, k]));
  return paths.length ? paths : [prefix];
}

/** Values that are wrong for a field of the given valid value's type. */
function wrongValues(valid: unknown): unknown[] {
  const common = [DELETE, undefined, {}, []];
  if (typeof valid === "string") return [...common, 42, null, true, "x".repeat(5000)];
  if (typeof valid === "number") return [...common, "1", null, Infinity, -Infinity, NaN, true];
  if (typeof valid === "boolean") return [...common, "true", 1, null];
  return [...common, "x", 1];
}

test("every valid message is accepted as a copy with only the protocol's fields", () => {
  for (const [name, message] of Object.entries(VALID)) {
    const checked = checkWebviewMessage({ ...(message as object), extra: "dropped" });
    assert.ok(checked.ok, `${name}: ${checked.ok ? "" : checked.error}`);
    assert.deepEqual(checked.message, message, name);
    assert.ok(isWebviewToHost(message), name);
  }
});

test("every field of every message, malformed, is refused; a request with a usable id is answered ok: false", () => {
  let cases = 0;
  for (const [name, message] of Object.entries(VALID)) {
    for (const path of leafPaths(message)) {
      if (path[0] === "type" || (path[0] === "body" && path[1] === "kind")) continue; // the kind tests below
      const valid = path.reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], message);
      for (const wrong of wrongValues(valid)) {
        // Optional and nullable fields accept their absent/null forms.
        const optional = ["modelCollapsed", "ask", "withoutBn", "memory", "columns"];
        if (optional.includes(path.at(-1) ?? "") && (wrong === DELETE || wrong === undefined)) continue;
        if ((path.at(-1) === "documentUri" || path.at(-1) === "selected") && wrong === null) continue;
        const checked = checkWebviewMessage(withField(message, path, wrong));
        cases++;
        assert.equal(checked.ok, false, `${name}.${path.join(".")} = ${String(wrong)} was accepted`);
        if (!checked.ok && path[0] !== "id" && (message as { type: string }).type === "request") {
          assert.equal(checked.requestId, (message as { id: number }).id, `${name}.${path.join(".")}: answered`);
        }
      }
    }
  }
  assert.ok(cases > 300, `${cases} cases`);
});

test("unknown types and request kinds, null view states, bad ids and non-objects are refused", () => {
  const unknownKind = checkWebviewMessage({ type: "request", id: 9, body: { kind: "deleteEverything" } });
  assert.deepEqual(unknownKind, {
    ok: false,
    error: 'invalid message from the diagram: unknown request kind "deleteEverything"',
    requestId: 9,
    kind: "invalid",
  });
  for (const bad of [
    null,
    undefined,
    1,
    "ready",
    [],
    { type: "evil" },
    { type: "viewState", view: null },
    { type: "request", id: -1, body: { kind: "train" } },
    { type: "request", id: 1.5, body: { kind: "train" } },
    { type: "request", id: "1", body: { kind: "train" } },
    { type: "request", id: 1, body: null },
    { type: "request", id: 1, body: { kind: 3 } },
    { type: "viewState", view: { ...view, tab: "settings" } },
  ]) {
    const checked = checkWebviewMessage(bad);
    assert.equal(checked.ok, false, JSON.stringify(bad));
    assert.equal(isWebviewToHost(bad), false);
  }
});

test("saved files take a base name with the right extension, and a PNG of bounded size", () => {
  const save = (suggestedName: string, base64 = PNG) =>
    checkWebviewMessage({ type: "request", id: 1, body: { kind: "savePng", base64, suggestedName } });
  for (const name of [
    "../../../../etc/x.png",
    "/etc/x.png",
    "C:\\x.png",
    "a/b.png",
    "..png",
    ".png",
    "x.svg",
    "x",
    "a\u0000.png",
    "a\nb.png",
    "x".repeat(200) + ".png",
    "c:x.png",
  ]) {
    assert.equal(save(name).ok, false, JSON.stringify(name));
  }
  assert.ok(save("resnet-18_v2.png").ok);
  assert.ok(save("ResNet 18.PNG").ok);
  assert.equal(save("x.png", "not base64!").ok, false);
  assert.equal(save("x.png", "QUJD").ok, false, "base64 but not a PNG");
  assert.equal(save("x.png", PNG + "A").ok, false, "length not a multiple of 4");
  const huge = PNG.slice(0, 12) + "A".repeat(MAX_PNG_BASE64_CHARS);
  assert.equal(save("x.png", huge.slice(0, huge.length - (huge.length % 4))).ok, false, "over the size cap");
  const svg = checkWebviewMessage({
    type: "request",
    id: 2,
    body: { kind: "saveSvg", expansion, overlays, suggestedName: "../x.svg" },
  });
  assert.deepEqual(svg.ok ? null : [svg.requestId, svg.kind], [2, "saveSvg"]);
});

// The overlay list (src/presentation/overlays.ts) is the one source of the overlay switches: a new view's
// defaults, the all-off set and what the host accepts in a view state follow it entry by entry.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_OVERLAYS, NO_OVERLAYS, OVERLAYS } from "../src/presentation/overlays";
import { WEBVIEW_COMMANDS, isWebviewCommand } from "../src/presentation/commands";
import { checkWebviewMessage } from "../src/protocolValidate";

const keys = OVERLAYS.map((o) => o.key);

function viewStateWith(overlays: Record<string, unknown>): unknown {
  return {
    type: "viewState",
    view: {
      documentUri: null,
      expansion: { expanded: [] },
      overlays,
      selected: null,
      zoom: 1,
      panX: 0,
      panY: 0,
      search: "",
      tab: "diagram",
    },
  };
}

function acceptedOverlays(overlays: Record<string, unknown>): unknown {
  const checked = checkWebviewMessage(viewStateWith(overlays));
  assert.ok(checked.ok, checked.ok ? "" : checked.error);
  assert.equal(checked.message.type, "viewState");
  return checked.message.type === "viewState" ? checked.message.view.overlays : null;
}

test("the defaults and the all-off set have the list's keys in its order; a new diagram shows shapes only", () => {
  assert.equal(new Set(keys).size, keys.length, "keys are unique");
  assert.equal(new Set(OVERLAYS.map((o) => o.label)).size, keys.length, "labels are unique");
  assert.deepEqual(Object.keys(DEFAULT_OVERLAYS), keys);
  assert.deepEqual(Object.keys(NO_OVERLAYS), keys);
  for (const o of OVERLAYS) {
    assert.equal(DEFAULT_OVERLAYS[o.key], o.on, o.key);
    assert.equal(NO_OVERLAYS[o.key], false, o.key);
  }
  assert.deepEqual(
    keys.filter((k) => DEFAULT_OVERLAYS[k]),
    ["shapes"],
  );
});

test("the host accepts exactly the list's switches: each one alone, none missing unless optional, no strays", () => {
  assert.deepEqual(
    acceptedOverlays({ ...DEFAULT_OVERLAYS, sparkles: true }),
    DEFAULT_OVERLAYS,
    "a stray key is dropped",
  );
  for (const o of OVERLAYS) {
    assert.deepEqual(acceptedOverlays({ ...NO_OVERLAYS, [o.key]: true }), { ...NO_OVERLAYS, [o.key]: true }, o.key);
    const wrong = checkWebviewMessage(viewStateWith({ ...NO_OVERLAYS, [o.key]: "yes" }));
    assert.equal(wrong.ok, false, `${o.key}: "yes" refused`);
    if (!wrong.ok) assert.match(wrong.error, new RegExp(`view\\.overlays\\.${o.key} must be true or false`));
    const without: Record<string, unknown> = { ...NO_OVERLAYS };
    delete without[o.key];
    const missing = checkWebviewMessage(viewStateWith(without));
    // Only an overlay added after view states were first saved may be absent (a state saved before it).
    assert.equal(missing.ok, "optional" in o, `${o.key} missing`);
  }
  assert.ok(
    OVERLAYS.some((o) => o.key === "memory" && "optional" in o),
    "states saved before the memory overlay stay readable",
  );
});

test("the webview commands are one list, and it is the guard on what the host may ask", () => {
  for (const command of WEBVIEW_COMMANDS) assert.ok(isWebviewCommand(command), command);
  for (const other of ["deleteEverything", "", "constructor", 1, null]) assert.equal(isWebviewCommand(other), false);
});

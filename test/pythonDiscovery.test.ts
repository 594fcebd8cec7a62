/**
 * Which Python the torch backend runs: the Python extension's active interpreter (read through a fake of its public
 * environments API), then resnetStudio.python, then RESNET_STUDIO_PYTHON, then python3 on PATH; --python first on the
 * command line.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  activeInterpreter,
  followInterpreter,
  type PythonEnvironmentsApi,
} from "../extension/src/pure/pythonInterpreter";
import { resolvePython } from "../model-core/src/runtime/torchBackend";

interface Resource {
  folder: string;
}

/** A stand-in for ms-python.python's environments API: environments by folder, resolutions that may lag. */
function fakeEnvironments(active: Map<string, string>, executables: Map<string, string>) {
  const listeners: ((change: unknown) => unknown)[] = [];
  const asked: (Resource | undefined)[] = [];
  const delays = new Map<string, number>();
  const api: PythonEnvironmentsApi<Resource> = {
    getActiveEnvironmentPath: (resource) => {
      asked.push(resource);
      return { path: active.get(resource?.folder ?? "") ?? "/usr/bin/python3" };
    },
    resolveEnvironment: async (path) => {
      await new Promise((resolve) => setTimeout(resolve, delays.get(path) ?? 0));
      const executable = executables.get(path);
      return executable === undefined ? undefined : { executable: { uri: { fsPath: executable } } };
    },
    onDidChangeActiveEnvironmentPath: (listener) => {
      listeners.push(listener);
      return { dispose: () => listeners.splice(listeners.indexOf(listener), 1) };
    },
  };
  return { api, asked, delays, fire: () => listeners.forEach((l) => l({})), listeners };
}

test("the Python extension's interpreter is the resolved executable of the workspace's active environment", async () => {
  const fake = fakeEnvironments(new Map([["/ws", "/ws/.venv"]]), new Map([["/ws/.venv", "/ws/.venv/bin/python"]]));
  assert.equal(await activeInterpreter({ environments: fake.api }, { folder: "/ws" }), "/ws/.venv/bin/python");
  assert.deepEqual(fake.asked, [{ folder: "/ws" }], "asked for the workspace folder's environment");
  // An environment that does not resolve is named by its path; no environments API means no interpreter.
  const unresolved = fakeEnvironments(new Map([["/ws", "/opt/conda/bin/python"]]), new Map());
  assert.equal(await activeInterpreter({ environments: unresolved.api }, { folder: "/ws" }), "/opt/conda/bin/python");
  assert.equal(await activeInterpreter({}, { folder: "/ws" }), undefined);
});

test("following the interpreter: every change is read, a slow older reading never wins, dispose stops", async () => {
  const active = new Map([["/ws", "/envs/a"]]);
  const fake = fakeEnvironments(
    active,
    new Map([
      ["/envs/a", "/envs/a/bin/python"],
      ["/envs/b", "/envs/b/bin/python"],
      ["/envs/c", "/envs/c/bin/python"],
    ]),
  );
  const heard: (string | undefined)[] = [];
  const following = await followInterpreter({ environments: fake.api }, { folder: "/ws" }, (path) => heard.push(path));
  assert.deepEqual(heard, ["/envs/a/bin/python"], "the current interpreter, before returning");
  // b resolves slowly; c, chosen after it, resolves at once: c is the interpreter.
  fake.delays.set("/envs/b", 100);
  active.set("/ws", "/envs/b");
  fake.fire();
  active.set("/ws", "/envs/c");
  fake.fire();
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.deepEqual(heard, ["/envs/a/bin/python", "/envs/c/bin/python"]);
  following.dispose();
  assert.equal(fake.listeners.length, 0, "no longer listening");
});

test("the order: --python, the Python extension, resnetStudio.python, RESNET_STUDIO_PYTHON, python3 on PATH", () => {
  const saved = process.env.RESNET_STUDIO_PYTHON;
  try {
    process.env.RESNET_STUDIO_PYTHON = "/env/python";
    assert.deepEqual(resolvePython("/flag/python", "/setting/python", "/ext/python"), {
      command: "/flag/python",
      origin: "--python",
    });
    assert.deepEqual(resolvePython(undefined, "/setting/python", "/ext/python"), {
      command: "/ext/python",
      origin: "the Python extension's interpreter",
    });
    assert.deepEqual(resolvePython(undefined, "/setting/python", undefined), {
      command: "/setting/python",
      origin: "the setting resnetStudio.python",
    });
    assert.deepEqual(resolvePython(undefined, " ", ""), { command: "/env/python", origin: "RESNET_STUDIO_PYTHON" });
    delete process.env.RESNET_STUDIO_PYTHON;
    assert.deepEqual(resolvePython(), { command: "python3", origin: "python3 on PATH" });
  } finally {
    if (saved === undefined) delete process.env.RESNET_STUDIO_PYTHON;
    else process.env.RESNET_STUDIO_PYTHON = saved;
  }
});

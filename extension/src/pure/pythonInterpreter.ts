/**
 * The Python extension's active interpreter, read through the slice of ms-python.python's public `environments` API
 * (2023+) that the torch backend needs. Generic over the resource type (vscode.Uri in the extension), so it is tested
 * under node against a fake API.
 */

/** What `environments` offers here: the active environment of a resource, its resolution, and its change event. */
export interface PythonEnvironmentsApi<Resource> {
  getActiveEnvironmentPath(resource?: Resource): { path: string };
  resolveEnvironment(path: string): Promise<{ executable: { uri?: { fsPath: string } } } | undefined>;
  onDidChangeActiveEnvironmentPath?: (listener: (change: unknown) => unknown) => { dispose(): void };
}

export interface PythonExtensionApi<Resource> {
  environments?: PythonEnvironmentsApi<Resource>;
}

/** The interpreter's executable for `resource` (the environment's path when it does not resolve); undefined without the API. */
export async function activeInterpreter<Resource>(
  api: PythonExtensionApi<Resource>,
  resource?: Resource,
): Promise<string | undefined> {
  const environments = api.environments;
  if (!environments) return undefined;
  const active = environments.getActiveEnvironmentPath(resource);
  const resolved = await environments.resolveEnvironment(active.path);
  return resolved?.executable.uri?.fsPath ?? active.path;
}

/**
 * Follows the active interpreter: `onInterpreter` hears it now and after every change the API announces, in order
 * (a slow resolution never overwrites a later one). Returns what stops following.
 */
export async function followInterpreter<Resource>(
  api: PythonExtensionApi<Resource>,
  resource: Resource | undefined,
  onInterpreter: (path: string | undefined) => void,
): Promise<{ dispose(): void }> {
  let latest = 0;
  const read = async (): Promise<void> => {
    const ticket = ++latest;
    const path = await activeInterpreter(api, resource);
    if (ticket === latest) onInterpreter(path);
  };
  await read();
  const subscription = api.environments?.onDidChangeActiveEnvironmentPath?.(() => void read().catch(() => undefined));
  return subscription ?? { dispose: () => undefined };
}

/**
 * The diagram view's commands: actions the host runs from the command palette and the webview performs, since it
 * holds the view they act on. The protocol's `command` message, the host's runWebviewCommand and the webview's
 * handler table all take their names from this one list.
 */
export const WEBVIEW_COMMANDS = ["exportPng", "exportSvg", "fit", "showGradients", "showTraining"] as const;

export type WebviewCommand = (typeof WEBVIEW_COMMANDS)[number];

export function isWebviewCommand(value: unknown): value is WebviewCommand {
  return typeof value === "string" && (WEBVIEW_COMMANDS as readonly string[]).includes(value);
}

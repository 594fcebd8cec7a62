/**
 * Field-by-field validation of what the webview posts to the host (./protocol.ts). The webview renders a user's
 * spec and is treated as untrusted: a message is accepted only as a fresh copy holding exactly the protocol's
 * fields, each of the right type and within its size limit. Pure, so it is tested under node.
 */
import type { SourceRange } from "./diagnostics";
import type { ExpansionState } from "./render/view";
import { OVERLAYS, type OverlayKey, type OverlayOptions } from "./presentation/overlays";
import type { RequestBody, RequestKind, ViewState, ViewTab, WebviewToHost } from "./protocol";
import { isSpecEdit, type SpecEdit } from "./edit/specEdit";

/** Largest PNG the host saves, in base64 characters (24 MiB of image: a 4k × 4k diagram compresses far below it). */
export const MAX_PNG_BASE64_CHARS = 32 * 1024 * 1024;
/** Longest base name a save dialog is offered. */
export const MAX_FILE_NAME_CHARS = 128;
/** Longest id, search text or path in a message; longer ones come from no real view. */
const MAX_TEXT_CHARS = 4096;
/** Most columns of a diagram laid out side by side (the host caps resnetStudio.diagramColumns at 8 too). */
const MAX_COLUMNS = 8;
/** Most group ids in an expansion state (a 10,000-block network has 10,000 blocks and a few stages). */
const MAX_EXPANDED_IDS = 20_000;

const REQUEST_KINDS: ReadonlySet<string> = new Set<RequestKind>([
  "layout",
  "gradientFlow",
  "savePng",
  "saveSvg",
  "train",
  "trainOn",
  "cancelTraining",
  "undoRedo",
  "editSpec",
]);
const TABS: ReadonlySet<string> = new Set<ViewTab>(["diagram", "gradients", "training"]);
const PNG_SIGNATURE_BASE64 = "iVBORw0KGgo";

export type WebviewMessageCheck =
  | { ok: true; message: WebviewToHost }
  /** `requestId` is set when the message was a request with a usable id: the host answers it with `ok: false`. */
  | { ok: false; error: string; requestId: number | null; kind: RequestKind | "invalid" };

/** Thrown inside the checker with the path of the bad field; never escapes it. */
class Invalid extends Error {}

type Fields = Record<string, unknown>;

function record(value: unknown, path: string): Fields {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new Invalid(`${path} must be an object`);
  return value as Fields;
}

function text(value: unknown, path: string, max = MAX_TEXT_CHARS): string {
  if (typeof value !== "string") throw new Invalid(`${path} must be a string`);
  if (value.length > max) throw new Invalid(`${path} is longer than ${max} characters`);
  return value;
}

function nullableText(value: unknown, path: string): string | null {
  return value === null ? null : text(value, path);
}

function bool(value: unknown, path: string): boolean {
  if (typeof value !== "boolean") throw new Invalid(`${path} must be true or false`);
  return value;
}

function finite(value: unknown, path: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) throw new Invalid(`${path} must be a finite number`);
  return value;
}

function count(value: unknown, path: string, min = 0): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min)
    throw new Invalid(`${path} must be an integer ≥ ${min}`);
  return value;
}

function expansion(value: unknown, path: string): ExpansionState {
  const fields = record(value, path);
  if (!Array.isArray(fields.expanded)) throw new Invalid(`${path}.expanded must be an array`);
  if (fields.expanded.length > MAX_EXPANDED_IDS)
    throw new Invalid(`${path}.expanded has more than ${MAX_EXPANDED_IDS} ids`);
  const expanded: string[] = [];
  // By index, not .map: map skips the holes of a sparse array.
  for (let i = 0; i < fields.expanded.length; i++) expanded.push(text(fields.expanded[i], `${path}.expanded[${i}]`));
  const out: ExpansionState = { expanded };
  if (fields.modelCollapsed !== undefined) out.modelCollapsed = bool(fields.modelCollapsed, `${path}.modelCollapsed`);
  // Columns side by side (the Columns button, resnetStudio.diagramColumns): kept, or every relayout drops them.
  if (fields.columns !== undefined) {
    const columns = count(fields.columns, `${path}.columns`, 1);
    if (columns > MAX_COLUMNS) throw new Invalid(`${path}.columns must be at most ${MAX_COLUMNS}`);
    if (columns > 1) out.columns = columns;
  }
  return out;
}

/** Exactly the switches of the overlay list (./presentation/overlays.ts), each a boolean. */
function overlays(value: unknown, path: string): OverlayOptions {
  const fields = record(value, path);
  const out: Partial<Record<OverlayKey, boolean>> = {};
  for (const overlay of OVERLAYS) {
    // States saved before an optional overlay existed lack its key.
    if ("optional" in overlay && fields[overlay.key] === undefined) continue;
    out[overlay.key] = bool(fields[overlay.key], `${path}.${overlay.key}`);
  }
  return out as OverlayOptions;
}

/** A base name for a save dialog: no folder, no control or reserved characters, the expected extension. */
export function checkFileName(value: unknown, path: string, extension: "png" | "svg"): string {
  const name = text(value, path, MAX_FILE_NAME_CHARS);
  // Reserved on Windows or a path separator anywhere; control characters never belong in a name.
  // eslint-disable-next-line no-control-regex -- control characters are what it looks for
  if (/[/\\:*?"<>|\u0000-\u001f\u007f]/.test(name) || name.startsWith("."))
    throw new Invalid(`${path} must be a file name without a folder`);
  if (!name.toLowerCase().endsWith(`.${extension}`) || name.length === extension.length + 1)
    throw new Invalid(`${path} must be a name ending in .${extension}`);
  return name;
}

function pngBase64(value: unknown, path: string): string {
  const data = text(value, path, MAX_PNG_BASE64_CHARS);
  if (data.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(data)) throw new Invalid(`${path} must be base64`);
  if (!data.startsWith(PNG_SIGNATURE_BASE64)) throw new Invalid(`${path} is not a PNG image`);
  return data;
}

function sourceRange(value: unknown, path: string): SourceRange | null {
  if (value === null) return null;
  const f = record(value, path);
  return {
    file: text(f.file, `${path}.file`),
    startOffset: count(f.startOffset, `${path}.startOffset`),
    endOffset: count(f.endOffset, `${path}.endOffset`),
    line: count(f.line, `${path}.line`, 1),
    column: count(f.column, `${path}.column`, 1),
    endLine: count(f.endLine, `${path}.endLine`, 1),
    endColumn: count(f.endColumn, `${path}.endColumn`, 1),
  };
}

function viewState(value: unknown, path: string): ViewState {
  const f = record(value, path);
  const tab = text(f.tab, `${path}.tab`);
  if (!TABS.has(tab)) throw new Invalid(`${path}.tab must be one of ${[...TABS].join(", ")}`);
  return {
    documentUri: nullableText(f.documentUri, `${path}.documentUri`),
    expansion: expansion(f.expansion, `${path}.expansion`),
    overlays: overlays(f.overlays, `${path}.overlays`),
    selected: nullableText(f.selected, `${path}.selected`),
    zoom: finite(f.zoom, `${path}.zoom`),
    panX: finite(f.panX, `${path}.panX`),
    panY: finite(f.panY, `${path}.panY`),
    search: text(f.search, `${path}.search`),
    tab: tab as ViewTab,
  };
}

/** A spec edit (./edit/specEdit.ts decides which keys and value types exist), copied; numbers must be finite. */
function specEdit(value: unknown, path: string): SpecEdit {
  if (!isSpecEdit(value)) throw new Invalid(`${path} is not a spec edit`);
  if (typeof value.value === "number" && !Number.isFinite(value.value))
    throw new Invalid(`${path}.value must be a finite number`);
  if (typeof value.value === "string") text(value.value, `${path}.value`);
  return (
    value.kind === "stage"
      ? { kind: value.kind, stage: value.stage, key: value.key, value: value.value }
      : { kind: value.kind, key: value.key, value: value.value }
  ) as SpecEdit;
}

function requestBody(fields: Fields, kind: RequestKind): RequestBody {
  switch (kind) {
    case "layout":
      return { kind, expansion: expansion(fields.expansion, "body.expansion") };
    case "savePng":
      return {
        kind,
        base64: pngBase64(fields.base64, "body.base64"),
        suggestedName: checkFileName(fields.suggestedName, "body.suggestedName", "png"),
      };
    case "saveSvg":
      return {
        kind,
        expansion: expansion(fields.expansion, "body.expansion"),
        overlays: overlays(fields.overlays, "body.overlays"),
        suggestedName: checkFileName(fields.suggestedName, "body.suggestedName", "svg"),
      };
    case "editSpec": {
      const edit = specEdit(fields.edit, "body.edit");
      return fields.ask === undefined ? { kind, edit } : { kind, edit, ask: bool(fields.ask, "body.ask") };
    }
    case "gradientFlow":
      return fields.withoutBn === undefined ? { kind } : { kind, withoutBn: bool(fields.withoutBn, "body.withoutBn") };
    case "train":
    case "trainOn":
    case "cancelTraining":
      return { kind };
    case "undoRedo":
      return { kind, redo: bool(fields.redo, "body.redo") };
  }
}

/** Check one message from the webview; the accepted message is a copy with only the protocol's fields. */
export function checkWebviewMessage(value: unknown): WebviewMessageCheck {
  let requestId: number | null = null;
  let kind: RequestKind | "invalid" = "invalid";
  try {
    const m = record(value, "message");
    switch (m.type) {
      case "ready":
        return { ok: true, message: { type: "ready" } };
      case "viewState":
        return { ok: true, message: { type: "viewState", view: viewState(m.view, "view") } };
      case "revealSource":
        return {
          ok: true,
          message: { type: "revealSource", nodeId: text(m.nodeId, "nodeId"), range: sourceRange(m.range, "range") },
        };
      case "request": {
        requestId = count(m.id, "id");
        const body = record(m.body, "body");
        if (typeof body.kind !== "string" || !REQUEST_KINDS.has(body.kind))
          throw new Invalid(`unknown request kind ${JSON.stringify(String(body.kind)).slice(0, 80)}`);
        kind = body.kind as RequestKind;
        return { ok: true, message: { type: "request", id: requestId, body: requestBody(body, kind) } };
      }
      default:
        throw new Invalid(`unknown message type ${JSON.stringify(String(m.type)).slice(0, 80)}`);
    }
  } catch (err) {
    if (!(err instanceof Invalid)) throw err;
    return { ok: false, error: `invalid message from the diagram: ${err.message}`, requestId, kind };
  }
}

/** Whether `value` is a well-formed message from the webview; the host uses checkWebviewMessage for the checked copy. */
export function isWebviewToHost(value: unknown): value is WebviewToHost {
  return checkWebviewMessage(value).ok;
}

/**
 * A network's identity: a hash of its normalised spec. Two specs with the same hash describe the same network,
 * so gradients, built models and view state computed for one are valid for the other; any edit (a stage's
 * channels, the shortcut option) gives a new identity. Synchronous and dependency-free so the webview can use it.
 */
import type { ResNetSpec } from "./types";

/** JSON with object keys sorted at every level, so equal specs hash equally whatever order their fields were written in. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

/** The network's identity: 64-bit FNV-1a of its canonical JSON (an identity, not a security hash). */
export function networkId(spec: ResNetSpec): string {
  return fnv1a64(canonicalJson(spec));
}

/** 64-bit FNV-1a of the UTF-16 code units of `text`, as 16 hex digits. */
export function fnv1a64(text: string): string {
  let hi = 0xcbf29ce4,
    lo = 0x84222325;
  for (let i = 0; i < text.length; i++) {
    lo = (lo ^ text.charCodeAt(i)) >>> 0;
    // Multiply the 64-bit state by the FNV prime 2^40 + 0x1b3, in 32-bit halves.
    const a = lo * 0x1b3;
    const b = hi * 0x1b3 + (lo << 8) + Math.floor(a / 0x100000000);
    lo = a >>> 0;
    hi = b >>> 0;
  }
  return hi.toString(16).padStart(8, "0") + lo.toString(16).padStart(8, "0");
}

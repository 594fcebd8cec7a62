/**
 * The diagram's overlays as data: the one list from which the overlay switches (OverlayOptions), a new view's
 * defaults, the host's validation of saved view states and the webview's toolbar are all derived. What an overlay
 * draws is the renderer's part (../render/svg.ts); its colours come from the heat ramp in ./colors.ts.
 */

export interface OverlayDescriptor {
  /** The switch's name in OverlayOptions, in saved view states and in the toolbar's `data-overlay`. */
  readonly key: string;
  /** The toolbar checkbox's label. */
  readonly label: string;
  /** What the overlay shows: the toolbar checkbox's tooltip. */
  readonly tooltip: string;
  /** Whether a new diagram opens with it on. */
  readonly on: boolean;
  /** Its names for the CLI's `--overlay`, the first one shown in help and errors. */
  readonly cli: readonly string[];
  /** Whether `--overlay all` turns it on: drawn from the graph alone, with no pass to run and no batch to choose. */
  readonly inAll: boolean;
  /** Added after view states were first saved: a saved state may lack the key, which then reads as off. */
  readonly optional?: true;
}

export const OVERLAYS = [
  {
    key: "shapes",
    label: "Shapes",
    tooltip: "Overlay: the tensor shape on each edge",
    on: true,
    cli: ["shapes"],
    inAll: true,
  },
  {
    key: "params",
    label: "Params",
    tooltip: "Overlay: parameters of each box, heat on a log scale",
    on: false,
    cli: ["params"],
    inAll: true,
  },
  {
    key: "macs",
    label: "MACs",
    tooltip: "Overlay: multiply-accumulates of each box, heat on a log scale",
    on: false,
    cli: ["macs"],
    inAll: true,
  },
  {
    key: "receptiveField",
    label: "RF",
    tooltip: "Overlay: receptive field size and stride of each box",
    on: false,
    cli: ["rf", "receptivefield"],
    inAll: true,
  },
  {
    key: "gradients",
    label: "Gradients",
    tooltip: "Overlay: ‖dL/dout‖₂ of each box from one forward/backward pass (runs one when there is none)",
    on: false,
    cli: ["gradients", "grads"],
    inAll: false,
  },
  {
    key: "memory",
    label: "Memory",
    tooltip: "Overlay: activation bytes each box keeps for the backward pass, at the training batch",
    on: false,
    cli: ["memory"],
    inAll: false,
    optional: true,
  },
] as const satisfies readonly OverlayDescriptor[];

export type Overlay = (typeof OVERLAYS)[number];
export type OverlayKey = Overlay["key"];
type RequiredKey = Exclude<Overlay, { optional: true }>["key"];
type OptionalKey = Extract<Overlay, { optional: true }>["key"];

/** Which overlays are on. */
export type OverlayOptions = Flat<{ [K in RequiredKey]: boolean } & { [K in OptionalKey]?: boolean }>;
type Flat<T> = { [K in keyof T]: T[K] };

function switches(on: (overlay: Overlay) => boolean): Readonly<OverlayOptions> {
  const out = {} as Record<OverlayKey, boolean>;
  for (const overlay of OVERLAYS) out[overlay.key] = on(overlay);
  return Object.freeze(out);
}

/** Every overlay off. */
export const NO_OVERLAYS = switches(() => false);
/** What a new diagram shows. */
export const DEFAULT_OVERLAYS = switches((overlay) => overlay.on);

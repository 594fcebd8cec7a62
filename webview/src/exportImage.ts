/**
 * Export: the SVG is written by the host from the current expansion and overlays; the PNG is rasterised here from
 * the standalone SVG (the page has the canvas) and sent to the host to save.
 */
import { renderSvg } from "resnet-studio/render/svg";
import type { HostChannel } from "./hostChannel";
import type { OverlayData } from "./overlayData";
import type { Store } from "./store";

/** Largest PNG side; canvases beyond ~16k px fail in Chromium. */
const PNG_MAX_SIDE = 12000;

export class ImageExport {
  constructor(
    private readonly store: Store,
    private readonly host: HostChannel,
    private readonly overlays: OverlayData,
    private readonly showStatus: (text: string) => void,
  ) {}

  /** A file name from the network's name, within what the host accepts (resnet-studio/protocolValidate). */
  private fileName(ext: "svg" | "png"): string {
    const base =
      (this.store.model.laid?.name ?? "resnet")
        .replace(/[^A-Za-z0-9_.-]+/g, "-")
        .replace(/^[.-]+/, "")
        .slice(0, 100) || "resnet";
    return `${base}.${ext}`;
  }

  svg(): void {
    const { view } = this.store.model;
    void this.host
      .request({
        kind: "saveSvg",
        expansion: view.expansion,
        overlays: view.overlays,
        suggestedName: this.fileName("svg"),
      })
      .catch(() => undefined);
  }

  async png(): Promise<void> {
    const model = this.store.model;
    const laid = model.laid;
    if (!laid) return;
    const svg = renderSvg(laid, model.view.overlays, this.overlays.gradients(model), {
      standalone: true,
      selected: null,
      memory: this.overlays.memory(model),
    });
    const url = URL.createObjectURL(new Blob([svg], { type: "image/svg+xml" }));
    try {
      const img = new Image();
      await new Promise<void>((resolve, reject) => {
        img.onload = () => resolve();
        img.onerror = () => reject(new Error("could not rasterise the SVG"));
        img.src = url;
      });
      const scale = Math.min(2, PNG_MAX_SIDE / Math.max(laid.width, laid.height));
      const canvas = document.createElement("canvas");
      canvas.width = Math.max(1, Math.round(laid.width * scale));
      canvas.height = Math.max(1, Math.round(laid.height * scale));
      const ctx = canvas.getContext("2d");
      if (!ctx) throw new Error("no 2D canvas");
      ctx.fillStyle = "#ffffff";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
      const base64 = canvas.toDataURL("image/png").replace(/^data:image\/png;base64,/, "");
      await this.host.request({ kind: "savePng", base64, suggestedName: this.fileName("png") });
    } catch (err) {
      this.showStatus(`PNG export failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      URL.revokeObjectURL(url);
    }
  }
}

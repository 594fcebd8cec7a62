/**
 * What the overlays draw beyond the layout: the network's gradients and the memory estimate, the latter at the
 * batch of the current training run, else Train Small Model's default (one estimate per graph and batch). Shared
 * by the diagram and the PNG export, so both show the same numbers.
 */
import { memoryOverlayData, type MemoryOverlayData } from "resnet-studio/render/svg";
import { trainingMemory } from "resnet-studio/analysis/memory";
import type { GradientFlowResult } from "resnet-studio/analysis/gradflow";
import { DEFAULT_TRAIN_CONFIG } from "resnet-studio/runtime/trainTypes";
import type { WebviewModel } from "./state";

export class OverlayData {
  private memoryCache: { graph: WebviewModel["graph"]; batch: number; data: MemoryOverlayData } | null = null;

  /** The network's own gradients while the gradient overlay is on, else null. */
  gradients(model: WebviewModel): GradientFlowResult | null {
    return model.view.overlays.gradients ? (model.gradients?.residual ?? null) : null;
  }

  /** Saved-activation bytes per node while the memory overlay is on (and there is a graph), else null. */
  memory(model: WebviewModel): MemoryOverlayData | null {
    if (!model.view.overlays.memory || !model.graph) return null;
    const batch = model.training.batch > 0 ? model.training.batch : DEFAULT_TRAIN_CONFIG.batchSize;
    if (this.memoryCache?.graph !== model.graph || this.memoryCache.batch !== batch) {
      this.memoryCache = { graph: model.graph, batch, data: memoryOverlayData(trainingMemory(model.graph, { batch })) };
    }
    return this.memoryCache.data;
  }
}

/**
 * What Show in Diagram draws for trained weights, measured on a batch of the run's validation images: gradient flow
 * (BN on running statistics, as the trained network predicts), the layer responses of He et al. 2015 Fig. 7, mean |γ|
 * of each BN, and the evaluation (per-class accuracy, confusion matrix, misclassified images with their pixels).
 */
import * as tf from "@tensorflow/tfjs-core";
import { PNG } from "pngjs";
import type { MisclassifiedTile } from "../presentation/evaluationReport";
import type { ModelGraph } from "../analysis/graph";
import type { GradientFlowResult } from "../analysis/gradflow";
import type { EvaluationResult } from "../analysis/evaluation";
import { responseLayers, type GammaPoint, type LayerResponsePoint } from "../analysis/layerResponse";
import { BatchAdapter } from "../data/dataset";
import { gradientFlow } from "./gradflow";
import { isGraphModel, type TfModel } from "./model";
import type { EvaluationSet } from "./evaluate";

/** One misclassified image as the grid draws it: uint8 pixels HWC, with its labels' names. */
export interface MisclassifiedImage {
  index: number;
  width: number;
  height: number;
  channels: number;
  /** 0..255, height × width × channels. */
  pixels: number[];
  label: string;
  predicted: string;
  confidence: number;
}

export interface TrainedOverlays {
  model: string;
  /** Where the weights came from (a run folder or a file); the chart's line label. */
  label: string;
  gradients: GradientFlowResult;
  layerResponse: LayerResponsePoint[];
  gamma: GammaPoint[];
  evaluation: EvaluationResult;
  misclassified: MisclassifiedImage[];
  /** Images in the measured batch. */
  batch: number;
}

/** Images in the gradient-flow and layer-response batch: Fig. 7's statistics settle well below this. */
export const OVERLAY_BATCH = 128;

/** The population std of every Fig. 7 response node over one eval-mode forward pass of `x` (NHWC). */
export async function layerResponses(model: TfModel, x: tf.Tensor4D): Promise<LayerResponsePoint[]> {
  if (!isGraphModel(model)) throw new Error("layerResponses needs a model made by buildModel");
  const layers = responseLayers(model.graph);
  const wanted = new Set(layers.map((l) => l.node));
  const stds = new Map<string, tf.Tensor>();
  tf.tidy(() => {
    model.run(x, "eval", {
      updateStats: false,
      hooks: {
        node: (id, out) => {
          if (wanted.has(id)) {
            const { variance } = tf.moments(out);
            stds.set(id, tf.keep(tf.sqrt(variance)));
          }
          return out;
        },
      },
    });
  });
  const out: LayerResponsePoint[] = [];
  for (const layer of layers) {
    const t = stds.get(layer.node)!;
    out.push({ ...layer, std: (await t.data())[0] });
    t.dispose();
  }
  return out;
}

/** Mean |γ| of every BN, in network order. */
export async function gammaMeans(model: TfModel, graph: ModelGraph): Promise<GammaPoint[]> {
  const out: GammaPoint[] = [];
  for (const node of graph.nodes) {
    if (node.op.kind !== "batchnorm") continue;
    const gamma = model.params.get(`${node.id}.weight`);
    if (!gamma) continue;
    const mean = tf.tidy(() => tf.mean(tf.abs(gamma)));
    out.push({ node: node.id, meanAbsGamma: (await mean.data())[0] });
    mean.dispose();
  }
  return out;
}

/** The misclassified images of an evaluation with their pixels, for the grid. */
export function misclassifiedImages(evaluation: EvaluationResult, set: EvaluationSet): MisclassifiedImage[] {
  const { dataset } = set;
  const size = dataset.height * dataset.width * dataset.channels;
  const names = evaluation.perClass.map((c) => c.name);
  return evaluation.misclassified.map((m) => ({
    index: m.index,
    width: dataset.width,
    height: dataset.height,
    channels: dataset.channels,
    pixels: Array.from(dataset.images.subarray(m.index * size, (m.index + 1) * size)),
    label: names[m.label] ?? String(m.label),
    predicted: names[m.predicted] ?? String(m.predicted),
    confidence: m.confidence,
  }));
}

/**
 * `count` images spread evenly over the set (indices ⌊i·n/count⌋), as the model's NHWC input, with their labels:
 * split indices are sorted and many datasets store their images class by class, so the first ones may be one class.
 */
export function overlayBatch(
  model: TfModel,
  set: EvaluationSet,
  count = OVERLAY_BATCH,
): { x: tf.Tensor4D; labels: number[] } {
  const adapter = new BatchAdapter(set.dataset, model.graph.spec.input);
  const n = Math.min(count, set.indices.length);
  const picked = Uint32Array.from({ length: n }, (_, i) => set.indices[Math.floor((i * set.indices.length) / n)]);
  const buffer = new Float32Array(n * adapter.sampleSize);
  const labels = new Int32Array(n);
  adapter.fill(picked, 0, n, buffer);
  adapter.labels(picked, 0, n, labels);
  const [c, h, w] = model.graph.spec.input;
  return { x: tf.tensor4d(buffer, [n, h, w, c]), labels: Array.from(labels) };
}

/** Every overlay of Show in Diagram for a model already holding its trained weights. */
export async function trainedOverlays(
  model: TfModel,
  set: EvaluationSet,
  evaluation: EvaluationResult,
  label: string,
): Promise<TrainedOverlays> {
  const { x, labels } = overlayBatch(model, set);
  try {
    const gradients = await gradientFlow(model, { x, labels }, { mode: "eval" });
    const layerResponse = await layerResponses(model, x);
    return {
      model: model.graph.name,
      label,
      gradients,
      layerResponse,
      gamma: await gammaMeans(model, model.graph),
      evaluation,
      misclassified: misclassifiedImages(evaluation, set),
      batch: x.shape[0],
    };
  } finally {
    x.dispose();
  }
}

/** Misclassified images as PNG data URIs with their labels, for the page's grid (CSP allows data: images only). */
export function misclassifiedTiles(images: MisclassifiedImage[]): MisclassifiedTile[] {
  return images.map((image) => {
    const png = new PNG({ width: image.width, height: image.height });
    const pixels = image.width * image.height;
    for (let p = 0; p < pixels; p++) {
      for (let c = 0; c < 3; c++)
        png.data[p * 4 + c] = image.pixels[p * image.channels + (image.channels === 1 ? 0 : c)];
      png.data[p * 4 + 3] = 255;
    }
    return {
      png: `data:image/png;base64,${PNG.sync.write(png).toString("base64")}`,
      label: image.label,
      predicted: image.predicted,
      confidence: image.confidence,
    };
  });
}

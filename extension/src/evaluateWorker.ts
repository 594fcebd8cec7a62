/**
 * worker_threads entry (dist/evaluateWorker.js): evaluation off the extension host's thread. One job, "evaluate"
 * (./pure/evaluateProtocol.ts): resolves the target (run folder, checkpoint or weights-only state_dict), evaluates
 * it on the set backend, and for Show in Diagram measures the overlays at the trained weights on tfjs.
 */
import { parentPort } from "node:worker_threads";
import { initBackend, type BackendChoice } from "resnet-studio/runtime/backend";
import { buildModel } from "resnet-studio/runtime/model";
import { evaluateOnTfjs, evaluationSet, resolveEvaluationTarget } from "resnet-studio/runtime/evaluate";
import { evaluateOnTorch, resolvePython } from "resnet-studio/runtime/torchBackend";
import { loadWeightsInto } from "resnet-studio/runtime/weightsFile";
import { misclassifiedTiles, trainedOverlays } from "resnet-studio/runtime/trainedOverlays";
import { serveRequests } from "resnet-studio/rpcWorker";
import type { EvaluateJob, EvaluateJobResults, EvaluateOutcome } from "./pure/evaluateProtocol";
import { targetLabel } from "./pure/evaluateProtocol";

export async function evaluate(job: EvaluateJob): Promise<EvaluateOutcome> {
  const target = resolveEvaluationTarget(job.target, { spec: job.spec, dataset: job.dataset });
  const set = await evaluationSet(target.datasetArg, target.graph, target.valFraction);
  const label = targetLabel(job.target);
  // On torch the overlays are measured on tfjs (the pure model-core modules); the figures on the page are torch's.
  const tfjs: BackendChoice = job.backend === "torch" ? "auto" : job.backend;
  const needsTfjs = job.backend !== "torch" || job.overlays;
  const backend = needsTfjs ? await initBackend(tfjs) : null;
  const model = needsTfjs ? buildModel(target.graph, { seed: 1 }) : null;
  try {
    if (model && target.weights) loadWeightsInto(model, target.weights);
    const evaluation =
      job.backend === "torch"
        ? await evaluateOnTorch({
            graph: target.graph,
            set,
            weights: target.weights,
            python: resolvePython(undefined, job.python, job.pythonExtension),
            device: job.device ?? "auto",
            threads: job.threads || undefined,
          })
        : await evaluateOnTfjs(model!, set, { backend: backend!.name, weights: target.weights?.path ?? null });
    if (!job.overlays || !model)
      return {
        graph: target.graph,
        entry: { label, evaluation, layerResponse: null, gamma: null, misclassified: [] },
        gradients: null,
        notes: target.notes,
      };
    const overlays = await trainedOverlays(model, set, evaluation, label);
    return {
      graph: target.graph,
      entry: {
        label,
        evaluation,
        layerResponse: overlays.layerResponse,
        gamma: overlays.gamma,
        misclassified: misclassifiedTiles(overlays.misclassified),
      },
      gradients: overlays.gradients,
      notes: target.notes,
    };
  } finally {
    model?.dispose();
  }
}

if (parentPort)
  serveRequests<EvaluateJob, EvaluateJobResults>(parentPort, {
    evaluate: (job) => evaluate(job),
  });

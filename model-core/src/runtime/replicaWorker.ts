/**
 * worker_threads entry of one data-parallel training replica (built to model-core/dist/trainReplicaWorker.cjs and
 * dist/trainReplicaWorker.js; see parallel.ts). Holds its own tfjs backend, model and optimiser; requests and
 * notifications (./replicaProtocol.ts) are taken strictly in arrival order, so an "apply" always lands before the next
 * "step".
 */
import { parentPort } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend, parseBackendChoice } from "./backend";
import { buildModel, type TfModel } from "./model";
import { Optimizer } from "./optim";
import { ReplicaCore } from "./parallel";
import { serveRequests } from "../rpcWorker";
import {
  sharedLayout,
  type ReplicaNote,
  type ReplicaPush,
  type ReplicaRequest,
  type ReplicaResults,
} from "./replicaProtocol";

interface Replica {
  model: TfModel;
  core: ReplicaCore;
}

let replica: Replica | null = null;

function assign(variables: tf.Variable[], values: Float32Array[], what: string): void {
  if (variables.length !== values.length)
    throw new Error(`${what}: ${values.length} tensors for ${variables.length} variables`);
  variables.forEach((v, i) => {
    if (values[i].length !== v.size) throw new Error(`${what} ${v.name}: ${values[i].length} values for ${v.size}`);
    tf.tidy(() => v.assign(tf.tensor(values[i], v.shape, "float32")));
  });
}

async function init(message: Extract<ReplicaRequest, { kind: "init" }>): Promise<ReplicaResults["init"]> {
  await initBackend(parseBackendChoice(message.backend, "replica backend"));
  const model = buildModel(message.graph, { seed: message.seed });
  const paramNames = [...model.params.keys()];
  const bufferNames = [...model.buffers.keys()];
  if (
    paramNames.join("\n") !== message.paramNames.join("\n") ||
    bufferNames.join("\n") !== message.bufferNames.join("\n")
  ) {
    model.dispose();
    throw new Error("replica model's parameters differ from the owner's");
  }
  assign([...model.params.values()], message.params, "parameter");
  assign([...model.buffers.values()], message.buffers, "buffer");
  const settings = message.optimizer;
  const optimizer = new Optimizer(model.params, { ...settings, decayed: new Set(settings.decayed) });
  assign(
    optimizer.stateTensors().map(([, v]) => v),
    message.optimizerState,
    "optimizer state",
  );
  optimizer.step = message.optimizerStep;
  const layout = sharedLayout(
    [...model.params.values()].map((v) => v.size),
    [...model.buffers.values()].map((v) => v.size),
    message.replicas,
  );
  const shared = new Float32Array(message.shared);
  replica = { model, core: new ReplicaCore(model, optimizer, shared, layout, message.slot) };
  return { numTensors: tf.memory().numTensors };
}

function initialised(what: string): Replica {
  if (!replica) throw new Error(`"${what}" before "init"`);
  return replica;
}

const port = parentPort;
if (port)
  serveRequests<ReplicaRequest, ReplicaResults, ReplicaNote>(
    port,
    {
      init,
      step: async ({ pixels, labels, count }) => {
        const { loss, correct } = await initialised("step").core.computeShare(pixels, labels, count);
        return { loss, correct, numTensors: tf.memory().numTensors };
      },
      snapshot: () => {
        const { model, core } = initialised("snapshot");
        const read = (vars: tf.Variable[]) => vars.map((v) => (v.dataSync() as Float32Array).slice());
        return {
          params: read([...model.params.values()]),
          buffers: read([...model.buffers.values()]),
          optimizerState: read(core.optimizer.stateTensors().map(([, v]) => v)),
          numTensors: tf.memory().numTensors,
        };
      },
    },
    {
      inOrder: true,
      onNote: (note) => {
        try {
          if (note.type === "apply") initialised("apply").core.applyAveraged(note.lr, note.update);
        } catch (err) {
          const failed: ReplicaPush = { type: "failed", message: err instanceof Error ? err.message : String(err) };
          port.postMessage(failed);
        }
      },
    },
  );

/**
 * worker_threads entry of one data-parallel training replica (built to model-core/dist/trainReplicaWorker.cjs and
 * dist/trainReplicaWorker.js; see parallel.ts). Holds its own tfjs backend, model and optimiser; requests are handled
 * strictly in arrival order, so an "apply" always lands before the next "step".
 */
import { parentPort } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend, parseBackendChoice } from "./backend";
import { buildModel, type TfModel } from "./model";
import { Optimizer } from "./optim";
import { ReplicaCore } from "./parallel";
import { sharedLayout, type ReplicaInit, type ReplicaReply, type ReplicaRequest } from "./replicaProtocol";

interface Replica {
  model: TfModel;
  core: ReplicaCore;
}

let replica: Replica | null = null;
let queue: Promise<void> = Promise.resolve();

function reply(message: ReplicaReply): void {
  parentPort?.postMessage(message);
}

function assign(variables: tf.Variable[], values: Float32Array[], what: string): void {
  if (variables.length !== values.length)
    throw new Error(`${what}: ${values.length} tensors for ${variables.length} variables`);
  variables.forEach((v, i) => {
    if (values[i].length !== v.size) throw new Error(`${what} ${v.name}: ${values[i].length} values for ${v.size}`);
    tf.tidy(() => v.assign(tf.tensor(values[i], v.shape, "float32")));
  });
}

async function init(message: ReplicaInit): Promise<void> {
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
  reply({ type: "ready", numTensors: tf.memory().numTensors });
}

async function handle(message: ReplicaRequest): Promise<void> {
  if (message.type === "init") return init(message);
  if (!replica) throw new Error(`"${message.type}" before "init"`);
  const { model, core } = replica;
  switch (message.type) {
    case "step": {
      const { loss, correct } = await core.computeShare(message.pixels, message.labels, message.count);
      reply({ type: "stepped", loss, correct, numTensors: tf.memory().numTensors });
      return;
    }
    case "apply":
      core.applyAveraged(message.lr, message.update);
      return;
    case "snapshot": {
      const read = (vars: tf.Variable[]) => vars.map((v) => (v.dataSync() as Float32Array).slice());
      reply({
        type: "snapshot",
        params: read([...model.params.values()]),
        buffers: read([...model.buffers.values()]),
        optimizerState: read(core.optimizer.stateTensors().map(([, v]) => v)),
        numTensors: tf.memory().numTensors,
      });
      return;
    }
  }
}

parentPort?.on("message", (message: ReplicaRequest) => {
  queue = queue
    .then(() => handle(message))
    .catch((err: unknown) => {
      reply({ type: "error", message: err instanceof Error ? err.message : String(err) });
    });
});

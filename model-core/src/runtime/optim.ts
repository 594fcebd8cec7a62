/**
 * SGD with momentum and Adam, written on tfjs-core ops so that their whole state (slot variables + step count) is
 * ours to save in checkpoints and restore on resume. Both follow PyTorch's update rules:
 *   SGD:  g ← ∇ + wd·w;  v ← μ·v + g;  w ← w − lr·v                    (torch.optim.SGD, dampening 0, no Nesterov)
 *   Adam: g ← ∇ + wd·w;  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;
 *         w ← w − lr/(1−β1^t) · m / (√v/√(1−β2^t) + ε)                 (torch.optim.Adam, Kingma & Ba 2015)
 * Weight decay is a coupled L2 term applied only to the parameters named in `decayed` (conv and fc weights).
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ModelGraph } from "../analysis/graph";
import type { OptimizerName } from "./trainTypes";

export interface OptimizerOptions {
  kind: OptimizerName;
  momentum: number;
  weightDecay: number;
  /** Parameter names that get weight decay. */
  decayed: Set<string>;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/** Slot names per optimiser (PyTorch's state keys, so checkpoints carry over), in checkpoint order. */
const SLOTS: Record<OptimizerName, string[]> = { sgd: ["momentum_buffer"], adam: ["exp_avg", "exp_avg_sq"] };

export class Optimizer {
  readonly kind: OptimizerName;
  /** Updates applied so far (Adam's t). */
  step = 0;
  /** slot name → parameter name → state variable, created up front so tensor counts stay flat from the first step. */
  readonly slots = new Map<string, Map<string, tf.Variable>>();
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;

  constructor(
    private readonly params: Map<string, tf.Variable>,
    readonly options: OptimizerOptions,
  ) {
    this.kind = options.kind;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    for (const slot of SLOTS[this.kind]) {
      const perParam = new Map<string, tf.Variable>();
      for (const [name, p] of params) perParam.set(name, tf.variable(tf.zerosLike(p), false, undefined, "float32"));
      this.slots.set(slot, perParam);
    }
  }

  /** Applies one update with the given gradients (keyed by parameter name) at learning rate `lr`. Gradients are not disposed. */
  apply(grads: Map<string, tf.Tensor>, lr: number): void {
    this.step++;
    const { momentum, weightDecay, decayed } = this.options;
    const t = this.step;
    tf.tidy(() => {
      for (const [name, p] of this.params) {
        const raw = grads.get(name);
        if (!raw) continue;
        const g = weightDecay > 0 && decayed.has(name) ? tf.add(raw, tf.mul(p, weightDecay)) : raw;
        if (this.kind === "sgd") {
          const v = this.slot("momentum_buffer", name);
          v.assign(momentum > 0 ? tf.add(tf.mul(v, momentum), g) : g);
          p.assign(tf.sub(p, tf.mul(v, lr)));
        } else {
          const m = this.slot("exp_avg", name);
          const v = this.slot("exp_avg_sq", name);
          m.assign(tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1)));
          v.assign(tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2)));
          const bias1 = 1 - Math.pow(this.beta1, t);
          const bias2 = 1 - Math.pow(this.beta2, t);
          const denominator = tf.add(tf.div(tf.sqrt(v), Math.sqrt(bias2)), this.epsilon);
          p.assign(tf.sub(p, tf.mul(tf.div(m, denominator), lr / bias1)));
        }
      }
    });
  }

  private slot(slot: string, name: string): tf.Variable {
    const v = this.slots.get(slot)?.get(name);
    if (!v) throw new Error(`optimizer slot ${slot} missing for ${name}`);
    return v;
  }

  /** Flat list of (checkpoint name, variable), e.g. "optimizer.conv1.weight.exp_avg" (the shared checkpoint format). */
  stateTensors(): [string, tf.Variable][] {
    const out: [string, tf.Variable][] = [];
    for (const [slot, perParam] of this.slots)
      for (const [name, v] of perParam) out.push([`optimizer.${name}.${slot}`, v]);
    return out;
  }

  dispose(): void {
    for (const perParam of this.slots.values()) for (const v of perParam.values()) v.dispose();
    this.slots.clear();
  }
}

/** Conv and fc weights: the parameters that get weight decay (BN γ/β and all biases are excluded, as is common practice). */
export function decayedParameterNames(graph: ModelGraph): Set<string> {
  const names = new Set<string>();
  for (const node of graph.nodes) if (node.op.kind === "conv" || node.op.kind === "fc") names.add(`${node.id}.weight`);
  return names;
}

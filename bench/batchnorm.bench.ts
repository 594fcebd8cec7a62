/**
 * Training-mode BatchNorm on the wasm backend for the three CIFAR ResNet-20 activation shapes at batch 64 (and 32, a
 * replica's share when two workers split the batch): forward and forward + backward, the fused kernels
 * (runtime/batchNorm.ts) against the same BN composed from tfjs ops. Also sums them over the network's 19 BNs.
 * Run: node --import tsx bench/batchnorm.bench.ts  (one JSON object per line).
 */
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../model-core/src/runtime/backend";
import { batchNormTrain, batchNormTrainComposed, registerBatchNormKernels } from "../model-core/src/runtime/batchNorm";
import { SMOKE, repeats } from "./smoke";

const REPEATS = repeats(Number(process.env.BENCH_REPEATS ?? 7));

/** ResNet-20's BNs: stem + 6 in stage 1 at 32², 6 at 16², 6 at 8². */
const SHAPES: { name: string; size: number; channels: number; count: number }[] = [
  { name: "16ch @32", size: 32, channels: 16, count: 7 },
  { name: "32ch @16", size: 16, channels: 32, count: 6 },
  { name: "64ch @8", size: 8, channels: 64, count: 6 },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timeMs(op: () => void): number {
  for (let i = 0; i < 2; i++) op();
  const times: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const t0 = performance.now();
    op();
    times.push(performance.now() - t0);
  }
  return median(times);
}

async function main(): Promise<void> {
  await initBackend("wasm");
  registerBatchNormKernels();
  for (const batch of SMOKE ? [32] : [64, 32]) {
    const totals = { composed: 0, fused: 0 };
    for (const s of SHAPES) {
      const shape: [number, number, number, number] = [batch, s.size, s.size, s.channels];
      const x = tf.randomNormal<tf.Rank.R4>(shape);
      const gamma = tf.randomNormal<tf.Rank.R1>([s.channels]);
      const beta = tf.randomNormal<tf.Rank.R1>([s.channels]);
      const dy = tf.randomNormal(shape);
      for (const [label, bn] of [
        ["composed", batchNormTrainComposed],
        ["fused", batchNormTrain],
      ] as const) {
        const forward = () => {
          const r = bn(x, gamma, beta, 1e-5);
          r.output.dataSync();
          tf.dispose([r.output, r.mean, r.variance]);
        };
        const both = () => {
          const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
            const r = bn(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5);
            tf.dispose([r.mean, r.variance]);
            return r.output;
          })([x, gamma, beta], dy);
          for (const g of grads) g.dataSync();
          tf.dispose(grads);
        };
        const bench = `batchnorm ${s.name} b${batch}`;
        const fwdMs = timeMs(forward);
        const trainMs = timeMs(both);
        totals[label] += trainMs * s.count;
        console.log(
          JSON.stringify({
            bench,
            metric: `${label}ForwardMs`,
            value: Number(fwdMs.toFixed(3)),
            unit: "ms",
            backend: "wasm",
          }),
        );
        console.log(
          JSON.stringify({
            bench,
            metric: `${label}ForwardBackwardMs`,
            value: Number(trainMs.toFixed(3)),
            unit: "ms",
            backend: "wasm",
          }),
        );
      }
      tf.dispose([x, gamma, beta, dy]);
    }
    for (const label of ["composed", "fused"] as const) {
      console.log(
        JSON.stringify({
          bench: `batchnorm ResNet-20 b${batch}`,
          metric: `${label}MsPerTrainStep`,
          value: Number(totals[label].toFixed(1)),
          unit: "ms",
          backend: "wasm",
          note: "forward + backward summed over the 19 BNs (reads back every output, so an upper bound)",
        }),
      );
    }
  }
}

void main();

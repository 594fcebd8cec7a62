/**
 * Conv kernel timings on the wasm backend for every CIFAR ResNet-20 conv shape (He et al. 2015 §4.2: 16/32/64 filters
 * on 32²/16²/8² maps) at batch 64: forward, dx (our sub-pixel kernel and wasm's shipped one), dW.
 * Also sums them over the network's 19 convs into the conv share of one training step.
 * Run: node --import tsx bench/conv.bench.ts  (one JSON object per line).
 */
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../model-core/src/runtime/backend";
import { shippedWasmConv2DBackpropInput } from "../model-core/src/runtime/convKernels";
import { repeats } from "./smoke";

const BATCH = 64;
const REPEATS = repeats(Number(process.env.BENCH_REPEATS ?? 5));

interface Layer {
  name: string;
  size: number;
  inC: number;
  outC: number;
  stride: number;
  count: number;
  needsDx: boolean;
}

/** ResNet-20 = stem + 3 stages × 3 BasicBlocks × 2 convs; option A shortcuts have no conv. */
const LAYERS: Layer[] = [
  { name: "stem 3→16 @32", size: 32, inC: 3, outC: 16, stride: 1, count: 1, needsDx: false },
  { name: "layer1 16→16 @32", size: 32, inC: 16, outC: 16, stride: 1, count: 6, needsDx: true },
  { name: "layer2.0 16→32 s2 @32", size: 32, inC: 16, outC: 32, stride: 2, count: 1, needsDx: true },
  { name: "layer2 32→32 @16", size: 16, inC: 32, outC: 32, stride: 1, count: 5, needsDx: true },
  { name: "layer3.0 32→64 s2 @16", size: 16, inC: 32, outC: 64, stride: 2, count: 1, needsDx: true },
  { name: "layer3 64→64 @8", size: 8, inC: 64, outC: 64, stride: 1, count: 5, needsDx: true },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median wall time of `op` in ms (result read back, so asynchronous backends are timed fully). */
function timeMs(op: () => tf.Tensor, repeats = REPEATS): number {
  for (let i = 0; i < 2; i++) {
    const t = op();
    t.dataSync();
    t.dispose();
  }
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    const t = op();
    t.dataSync();
    times.push(performance.now() - t0);
    t.dispose();
  }
  return median(times);
}

function emit(
  bench: string,
  metric: string,
  value: number,
  unit: string,
  backend: string,
  extra: Record<string, unknown> = {},
): void {
  console.log(JSON.stringify({ bench, metric, value: Number(value.toFixed(3)), unit, backend, ...extra }));
}

async function main(): Promise<void> {
  const info = await initBackend(process.env.RESNET_STUDIO_BACKEND ? "auto" : "wasm");
  const backend = info.name;
  const pad: [[number, number], [number, number], [number, number], [number, number]] = [
    [0, 0],
    [1, 1],
    [1, 1],
    [0, 0],
  ];
  let stepMs = 0;
  for (const layer of LAYERS) {
    const out = Math.floor((layer.size + 2 - 3) / layer.stride) + 1;
    const x = tf.randomNormal<tf.Rank.R4>([BATCH, layer.size, layer.size, layer.inC]);
    const w = tf.randomNormal<tf.Rank.R4>([3, 3, layer.inC, layer.outC]);
    const dy = tf.randomNormal<tf.Rank.R4>([BATCH, out, out, layer.outC]);
    const xShape = x.shape;
    const attrs = { strides: [layer.stride, layer.stride], pad, dataFormat: "NHWC" };
    const forward = timeMs(() => tf.conv2d(x, w, layer.stride, pad));
    const dx = timeMs(() =>
      tf.engine().runKernel<tf.Tensor>("Conv2DBackpropInput", { dy, filter: w }, { ...attrs, inputShape: xShape }),
    );
    const dw = timeMs(() =>
      tf.engine().runKernel<tf.Tensor>("Conv2DBackpropFilter", { x, dy }, { ...attrs, filterShape: w.shape }),
    );
    const bench = `conv ${layer.name} b${BATCH}`;
    emit(bench, "forwardMs", forward, "ms", backend);
    emit(bench, "dxMs", dx, "ms", backend);
    emit(bench, "dwMs", dw, "ms", backend);
    const shipped = shippedWasmConv2DBackpropInput();
    if (backend === "wasm" && shipped && layer.needsDx) {
      const kernel = shipped.kernelFunc;
      const wasmBackend = tf.backend();
      const shippedDx = timeMs(() => {
        const info = kernel({
          inputs: { dy, filter: w },
          backend: wasmBackend,
          attrs: { ...attrs, inputShape: xShape },
        }) as tf.TensorInfo;
        return tf.engine().makeTensorFromTensorInfo(info);
      }, 2);
      emit(bench, "dxShippedWasmMs", shippedDx, "ms", backend, {
        note: "tfjs-backend-wasm's own Conv2DBackpropInput, replaced by ours",
      });
    }
    stepMs += layer.count * (forward + dw + (layer.needsDx ? dx : 0));
    tf.dispose([x, w, dy]);
  }
  emit(`conv ResNet-20 b${BATCH}`, "convMsPerTrainStep", stepMs, "ms", backend, {
    note: "sum over the 19 convs of forward + dW + dx (no dx for the stem)",
  });
  emit(`conv ResNet-20 b${BATCH}`, "convOnlyImagesPerSecond", (BATCH * 1000) / stepMs, "img/s", backend, {
    note: "upper bound from convs alone",
  });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});

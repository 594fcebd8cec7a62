/**
 * Evaluation of trained weights against PyTorch: a weights-only torchvision resnet18 state_dict (conv1 with one
 * input channel, 10 classes), trained briefly in PyTorch and saved as safetensors without metadata, is evaluated on
 * the embedded MNIST validation split on wasm and on torch; the loss equals PyTorch's own on the same images and
 * normalisation, and Fig. 7's layer responses equal a forward hook's std. Needs a Python with torch and torchvision
 * (RESNET_STUDIO_PYTHON, default /usr/bin/python3); without one these tests skip, and fail under CI=true.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "../src/runtime/backend";
import { buildModel } from "../src/runtime/model";
import { evaluateOnTfjs, evaluationSet, resolveEvaluationTarget } from "../src/runtime/evaluate";
import { evaluateOnTorch } from "../src/runtime/torchBackend";
import { loadWeightsInto, readWeights } from "../src/runtime/weightsFile";
import { layerResponses, overlayBatch, OVERLAY_BATCH, trainedOverlays } from "../src/runtime/trainedOverlays";
import { splitDataset } from "../src/data/dataset";
import { loadMnist } from "../src/data/mnist";
import { DEFAULT_TRAIN_CONFIG } from "../src/runtime/trainTypes";
import { python } from "./torchHelpers";
import { skipWithoutTool } from "../../test/toolSkip";

/** Loss agreement with PyTorch's F.cross_entropy on the same images (float32 logits on both sides). */
const LOSS_ATOL = 1e-4;
/** Layer-response std agreement with a PyTorch forward hook, relative. */
const RESPONSE_RTOL = 1e-4;

function torchvisionMissing(): string | false {
  const r = spawnSync(python.command, ["-c", "import torch, torchvision"], { encoding: "utf8", timeout: 120_000 });
  return r.status === 0 ? false : `${python.command} cannot import torch and torchvision`;
}
const skip = skipWithoutTool(torchvisionMissing());

/**
 * Builds torchvision's resnet18(num_classes=10) with a 1-channel conv1, trains it for a few SGD steps on the given
 * training images (so BN statistics and weights are real), saves its state_dict as safetensors by hand (8-byte
 * length, JSON header without __metadata__, raw little-endian data), and reports PyTorch's eval-mode loss and
 * accuracy on the validation images and the std of every BN after a 3×3 conv on OVERLAY_BATCH of them, spread evenly.
 */
const REFERENCE = String.raw`
import json, struct, sys
import torch, torch.nn.functional as F, torchvision
folder, mean, std, batch = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
torch.manual_seed(0)
def images(name, count):
    raw = open(f"{folder}/{name}-images.u8", "rb").read()
    x = torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(count, 1, 28, 28).float()
    y = torch.frombuffer(bytearray(open(f"{folder}/{name}-labels.u8", "rb").read()), dtype=torch.uint8).long()
    return (x / 255 - mean) / std, y
meta = json.load(open(f"{folder}/meta.json"))
xt, yt = images("train", meta["train"])
xv, yv = images("val", meta["val"])
net = torchvision.models.resnet18(num_classes=10)
net.conv1 = torch.nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
net.train()
for step in range(40):
    i = torch.arange(step * 32, step * 32 + 32) % len(xt)
    opt.zero_grad()
    F.cross_entropy(net(xt[i]), yt[i]).backward()
    opt.step()
# BN statistics over the whole training sample (cumulative average), not the last few batches
with torch.no_grad():
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None
    net(xt)
net.eval()
state = net.state_dict()
header, blobs, offset = {}, [], 0
for name, t in state.items():
    t = t.detach().contiguous()
    dtype = "I64" if t.dtype == torch.int64 else "F32"
    data = bytes(t.reshape(-1).view(torch.uint8).tolist()) if t.numel() else b""
    header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
    offset += len(data)
    blobs.append(data)
text = json.dumps(header).encode()
text += b" " * ((8 - len(text) % 8) % 8)
with open(f"{folder}/resnet18.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
with torch.no_grad():
    logits = net(xv)
    loss = float(F.cross_entropy(logits, yv))
    accuracy = float((logits.argmax(1) == yv).float().mean())
# Fig. 7's responses: each BN after a 3×3 conv (bn1, bn2 of every BasicBlock), on the overlay batch only
responses = {}
def hook(name):
    return lambda module, inputs, output: responses.__setitem__(name, float(output.double().std(unbiased=False)))
for name, module in net.named_modules():
    if name.endswith(".bn1") or name.endswith(".bn2"):
        module.register_forward_hook(hook(name))
with torch.no_grad():
    net(xv[(torch.arange(batch) * len(xv)) // batch])  # the overlay batch: spread evenly over the split
print(json.dumps({"loss": loss, "accuracy": accuracy, "responses": responses}))
`;

interface Reference {
  loss: number;
  accuracy: number;
  responses: Record<string, number>;
}

let dir = "";
let reference: Reference | null = null;
const weightsFile = () => join(dir, "resnet18.safetensors");

before(async () => {
  if (skip) return;
  await initBackend("wasm");
  dir = mkdtempSync(join(tmpdir(), "rs-evaluate-"));
  const mnist = loadMnist();
  const { train, val } = splitDataset(mnist, DEFAULT_TRAIN_CONFIG.valFraction);
  const write = (name: string, indices: Uint32Array) => {
    writeFileSync(
      join(dir, `${name}-images.u8`),
      Buffer.concat([...indices].map((i) => mnist.images.subarray(i * 784, (i + 1) * 784))),
    );
    writeFileSync(
      join(dir, `${name}-labels.u8`),
      Uint8Array.from(indices, (i) => mnist.labels[i]),
    );
  };
  // The split's indices are sorted and the embedded digits are stored class by class: every 20th spans all ten.
  const trainSample = train.filter((_, i) => i % 20 === 0);
  write("train", trainSample);
  write("val", val);
  writeFileSync(join(dir, "meta.json"), JSON.stringify({ train: trainSample.length, val: val.length }));
  writeFileSync(join(dir, "reference.py"), REFERENCE);
  const run = spawnSync(
    python.command,
    [join(dir, "reference.py"), dir, String(mnist.mean[0]), String(mnist.std[0]), String(OVERLAY_BATCH)],
    { encoding: "utf8", timeout: 600_000 },
  );
  assert.equal(run.status, 0, run.stderr);
  reference = JSON.parse(run.stdout.trim().split("\n").pop()!) as Reference;
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test(
  "a weights-only torchvision resnet18 state_dict evaluates on wasm with PyTorch's loss on the MNIST validation split",
  { skip },
  async () => {
    const target = resolveEvaluationTarget(weightsFile(), { spec: "resnet18", dataset: "mnist" });
    assert.equal(target.weights?.checkpoint, null, "the file has no metadata: a weights-only state_dict");
    assert.deepEqual(target.graph.spec.input, [1, 28, 28]);
    assert.equal(target.graph.spec.classes, 10);
    const set = await evaluationSet(target.datasetArg, target.graph, target.valFraction);
    assert.equal(set.indices.length, 1000, "10% of the 10,000 embedded digits");
    const model = buildModel(target.graph, { seed: 1 });
    try {
      loadWeightsInto(model, target.weights);
      const result = await evaluateOnTfjs(model, set, { backend: "wasm", weights: weightsFile() });
      assert.ok(
        Math.abs(result.loss - reference!.loss) < LOSS_ATOL,
        `wasm loss ${result.loss}, PyTorch ${reference!.loss}`,
      );
      assert.ok(
        Math.abs(result.accuracy - reference!.accuracy) < 2e-3,
        `accuracy ${result.accuracy} vs ${reference!.accuracy}`,
      );
      assert.equal(result.samples, 1000);
      assert.equal(
        result.confusion.flat().reduce((a, b) => a + b, 0),
        1000,
      );
      assert.equal(
        result.perClass.reduce((a, c) => a + c.correct, 0),
        Math.round(result.accuracy * 1000),
      );
      assert.ok(
        reference!.accuracy > 0.2,
        "the briefly trained network is better than chance, so per-class figures mean something",
      );

      const { x } = overlayBatch(model, set);
      try {
        const responses = await layerResponses(model, x);
        assert.equal(responses.length, 16, "resnet18 has 16 3×3 convs, each followed by its BN");
        for (const point of responses) {
          const expected = reference!.responses[point.node];
          assert.ok(expected !== undefined, `the hook measured ${point.node}`);
          assert.ok(
            Math.abs(point.std - expected) <= RESPONSE_RTOL * expected,
            `${point.node}: std ${point.std}, PyTorch hook ${expected}`,
          );
        }
      } finally {
        x.dispose();
      }
      const overlays = await trainedOverlays(model, set, result, "resnet18");
      assert.equal(overlays.gamma.length, 20, "every BN of resnet18 (stem, 16 in blocks, 3 in downsamples)");
      assert.ok(overlays.gamma.every((g) => g.meanAbsGamma > 0));
      assert.equal(overlays.misclassified.length, Math.min(64, 1000 - Math.round(result.accuracy * 1000)));
      assert.equal(overlays.misclassified[0].pixels.length, 784);
      assert.ok(Number.isFinite(overlays.gradients.loss));
    } finally {
      model.dispose();
    }
  },
);

test("the same state_dict evaluates on the torch backend with PyTorch's loss", { skip }, async () => {
  const target = resolveEvaluationTarget(weightsFile(), { spec: "resnet18" });
  const set = await evaluationSet(target.datasetArg, target.graph, target.valFraction);
  const result = await evaluateOnTorch({ graph: target.graph, set, weights: target.weights, python, device: "cpu" });
  assert.match(result.backend, /^torch/);
  assert.ok(
    Math.abs(result.loss - reference!.loss) < LOSS_ATOL,
    `torch loss ${result.loss}, PyTorch ${reference!.loss}`,
  );
  assert.ok(
    Math.abs(result.accuracy - reference!.accuracy) < 2e-3,
    `accuracy ${result.accuracy} vs ${reference!.accuracy}`,
  );
});

test("a state_dict whose shapes do not fit lists every mismatch with its layer", { skip }, () => {
  const weights = readWeights(weightsFile());
  const target = resolveEvaluationTarget(weightsFile(), { spec: "resnet34" });
  const model = buildModel(target.graph, { seed: 1 });
  try {
    assert.throws(
      () => loadWeightsInto(model, weights),
      (err: Error) => {
        assert.match(err.message, /resnet18\.safetensors: the weights do not fit "resnet34": \d+ mismatches/);
        assert.match(err.message, /\n {2}layer1\.2\.conv1: missing from the file: weight 64×64×3×3\n/);
        assert.match(
          err.message,
          /\n {2}layer1\.2\.bn1: missing from the file: weight 64, bias 64, running_mean 64, running_var 64\n/,
        );
        assert.match(err.message, /… and \d+ more layers/);
        return true;
      },
    );
  } finally {
    model.dispose();
  }
});

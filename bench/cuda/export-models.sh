#!/usr/bin/env bash
# Writes .bench/cuda/ for bench/cuda/run.sh: exported modules, their summary --json, a checkpoint from the wasm trainer.
set -e
cd "$(dirname "$0")/../.."
mkdir -p .bench/cuda/models
exp() { # name spec input
  npx resnet-studio export "$2" --to pytorch --input "$3" --out .bench/cuda/models/$1.py >/dev/null
  npx resnet-studio summary "$2" --input "$3" --json --batch ${4:-32} > .bench/cuda/models/$1.json
}
for p in resnet18 resnet34 resnet50 resnet101 resnet152 wide_resnet50_2 resnext50_32x4d; do exp $p $p 3,224,224; done
for p in resnet20 resnet56 resnet110 plain56 plain20; do exp $p $p 3,32,32 128; done
for f in examples/*.resnet.ts; do n=$(basename $f .resnet.ts | tr -- '-.' '__'); exp ex_$n $f 3,32,32 128 || true; done
npx resnet-studio export resnet20 --to pytorch --out .bench/cuda/models/ddp_resnet20.py --with-train-script >/dev/null

timeout 300 npx resnet-studio train examples/cifar-resnet20.resnet.ts --dataset synthetic --epochs 1 --samples-per-epoch 128 --out .bench/cuda/ckpt --no-estimate >/dev/null
npx resnet-studio export examples/cifar-resnet20.resnet.ts --to pytorch --out .bench/cuda/models/ckpt_model.py >/dev/null
cp .bench/cuda/models/ddp_resnet20.py .bench/cuda/models/model.py

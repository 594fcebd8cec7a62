#!/usr/bin/env bash
# On a machine with CUDA and torch (no node needed), from the repository root, after `bash bench/cuda/export-models.sh`
# ran on a machine with node (it writes .bench/cuda/: exported modules, their `summary --json`, a wasm checkpoint).
set -u
export PYTHONUNBUFFERED=1
python3 bench/cuda/check_export.py
python3 bench/cuda/check_speed_memory.py
# Issue 23: naive, hand-tuned and our loop interleaved (ResNet-20/56, b128/1024, fp32/bf16), 10 synthetic epochs end to
# end; exits 1 when ours < 1.0x the tuned loop or < 2.5x the naive one at batch 1024 bf16.
python3 bench/cuda/fast_loops.py --e2e --bar 1.0 --bar-naive 2.5
cd .bench/cuda/models && timeout 120 torchrun --standalone --nproc_per_node 1 train_ddp.py --dataset synthetic:count=4096 \
  --epochs 1 --batch-size 256 --precision bf16 --device cuda --workers 0 --out /tmp/ddp | tail -3
python3 -c "import model; print('train_ddp checkpoint epoch', model.load_checkpoint(model.build(), '/tmp/ddp/checkpoint.safetensors').get('epoch'))"

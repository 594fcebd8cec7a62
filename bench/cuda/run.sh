#!/usr/bin/env bash
# On a machine with CUDA and torch (no node needed), from the repository root, after `bash bench/cuda/export-models.sh`
# ran on a machine with node (it writes .bench/cuda/: exported modules, their `summary --json`, a wasm checkpoint).
set -u
export PYTHONUNBUFFERED=1
python3 bench/cuda/check_export.py
python3 bench/cuda/check_speed_memory.py
cd .bench/cuda/models && timeout 120 torchrun --standalone --nproc_per_node 1 train_ddp.py --dataset synthetic:count=4096 \
  --epochs 1 --batch-size 256 --amp bf16 --device cuda --workers 0 --out /tmp/ddp | tail -3
python3 -c "import model; print('train_ddp checkpoint epoch', model.load_checkpoint(model.build(), '/tmp/ddp/checkpoint.safetensors').get('epoch'))"

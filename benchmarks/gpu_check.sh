#!/usr/bin/env bash
# The GPU checks of the training step, as one script for a machine with one CUDA GPU:
#
#     bash benchmarks/gpu_check.sh [OUT]        # OUT: where the tables go (default gpu_check)
#
# 1. KD, SSKD and HSSAKD step images/s and peak GPU memory, resnet32x4 -> resnet8x4, at batch
#    64, 128 and 256: fp32 and bf16+channels_last eager, and bf16+channels_last with CUDA
#    graphs (torch.compile mode reduce-overhead) — benchmarks/distill_step.py;
# 2. the projected wall time of the 240-epoch SSKD recipe cifar100_sskd_resnet32x4-resnet8x4
#    (teacher head 60 epochs + student 240) on a CIFAR-100-sized synthetic set, from
#    `sskd distill --estimate`, eager bf16 and with CUDA graphs.
#
# About 8-10 minutes on an H100-class GPU (each compiled configuration compiles first).
set -euo pipefail
OUT=${1:-gpu_check}
mkdir -p "$OUT"
pip install -q --no-deps --no-build-isolation -e . 2>/dev/null || export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"

for batch in 64 128 256; do
  python benchmarks/distill_step.py --methods kd sskd hssakd --batch "$batch" --iters 20 --warmup 5 \
    --json "$OUT/step_fp32_b$batch.json" | tee -a "$OUT/steps.txt"
  python benchmarks/distill_step.py --methods kd sskd hssakd --batch "$batch" --iters 20 --warmup 5 \
    --amp bf16 --channels-last --json "$OUT/step_bf16_b$batch.json" | tee -a "$OUT/steps.txt"
  python benchmarks/distill_step.py --methods kd sskd hssakd --batch "$batch" --iters 20 --warmup 10 \
    --amp bf16 --channels-last --compile-mode reduce-overhead \
    --json "$OUT/step_bf16_graphs_b$batch.json" | tee -a "$OUT/steps.txt"
done

DATA="$OUT/cifar100"
TEACHER="$OUT/resnet32x4.safetensors"
python - "$DATA" "$TEACHER" <<'PY'
import sys
sys.path.insert(0, "benchmarks")
from pathlib import Path
from vs_official import write_cifar100
from sskd.engine.checkpoint import export_model
from sskd.models import build_model
write_cifar100(Path(sys.argv[1]), 50_000, 10_000)
export_model(build_model("resnet32x4", num_classes=100), Path(sys.argv[2]), {"model": "resnet32x4"})
PY
for speed in "--amp bf16 --channels-last" "--amp bf16 --channels-last --compile --compile-mode reduce-overhead"; do
  echo "== sskd distill --recipe cifar100_sskd_resnet32x4-resnet8x4 $speed --drop-last --estimate" | tee -a "$OUT/estimate.txt"
  # shellcheck disable=SC2086
  python -m sskd.cli distill --recipe cifar100_sskd_resnet32x4-resnet8x4 --data-root "$DATA" --teacher-ckpt "$TEACHER" \
    --device cuda $speed --drop-last --no-cache --estimate | tee -a "$OUT/estimate.txt"
done

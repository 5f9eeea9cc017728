#!/bin/sh
# The GPU study in one command (docs/gpu-study.md): sized to finish within 8 minutes on one H200.
#   sh studies/gpu-study.sh [gpu_study.py options…]     e.g. --budget-seconds 300 --slots 8
# Needs python3 with a CUDA build of PyTorch; no Node.js, no network. Writes studies/gpu-study/
# (results.json: an import document; summary.json: throughput per model), and copies both to
# $OUT when that is set (a machine that sends back what is under $OUT).
set -eu
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
"$PYTHON" -c 'import torch, sys; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-", file=sys.stderr)'
nvidia-smi --query-gpu=name,memory.total,utilization.gpu --format=csv 2>/dev/null || true
# a run that was cut short resumes: finished trials are kept
"$PYTHON" studies/gpu_study.py run --out studies/gpu-study --python "$PYTHON" "$@"
if [ -n "${OUT:-}" ]; then
  mkdir -p "$OUT/gpu-study"
  cp studies/gpu-study/results.json studies/gpu-study/summary.json studies/gpu-study/trials.json "$OUT/gpu-study/"
  tar -czf "$OUT/gpu-study/results-jsonl.tgz" -C studies/gpu-study results logs
fi

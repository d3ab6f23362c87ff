#!/bin/sh
# GPU overhead of attributed steps against the paper's A100 figures (1.08x first order, 2.2x
# second order): a 124M GPT-2-shaped model, batch 16 x 1024, bf16 autocast. Bounded to 5 minutes.
#   benchmarks/gpu_overhead.sh [--rounds N]
# Exits with status 2 and says so where CUDA is unavailable.
set -eu
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-8}"
exec timeout --signal=TERM --kill-after=10 300 "$PYTHON" -m benchmarks.gpu_overhead "$@"

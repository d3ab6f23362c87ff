#!/bin/bash
# Everything a GPU machine is for, in one run of about 6 minutes: the engine's CUDA tests
# (tests/gpu, against the CPU float64 oracle), then the overhead benchmark (gpu_overhead.sh).
# It uses the machine's own python3 with torch and transformers and skips the suite-wide
# conftest (it needs the database packages; the GPU tests use none of its fixtures).
#   benchmarks/gpu_session.sh OUTPUT_DIR [gpu_overhead options]   # writes tests.txt, bench.txt
# Exits non-zero when a test or the benchmark fails; the benchmark runs either way.
set -uo pipefail
cd "$(dirname "$0")/.."
out_dir="$1"
shift
PYTHON="${PYTHON:-python3}"
export PYTHONPATH="$PWD:$PWD/tests" PYTHONUNBUFFERED=1
"$PYTHON" -c "import torch, transformers; print('torch', torch.__version__, 'transformers', \
transformers.__version__, 'cuda', torch.cuda.is_available() and torch.cuda.get_device_name())"
timeout 180 "$PYTHON" -m pytest -q --noconftest -p no:cacheprovider -o addopts="" -m gpu -rA \
    tests/gpu >"$out_dir/tests.txt" 2>&1
tests=$?
tail -n 12 "$out_dir/tests.txt"
PYTHON="$PYTHON" sh benchmarks/gpu_overhead.sh "$@" 2>&1 | tee "$out_dir/bench.txt"
bench=$?
exit $((tests || bench))

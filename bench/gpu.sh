#!/usr/bin/env bash
# The one-shot GPU benchmark: bench/gpu_bench.py runs its four parts and writes one JSON
# file (--out, default $OUT/gpu.json when $OUT is set, else bench/gpu-results.json).
#
#   bash bench/gpu.sh [--data DIR] [--out FILE] [--parts b,a,c,d]   # on one CUDA GPU, <= 8 min
#   bash bench/gpu.sh --smoke --out /tmp/gpu.json                   # the same paths on the CPU
#
# The checkout runs from PYTHONPATH, nothing installed (the GPU machine has no package
# registry). Python: $PYTHON, else the checkout's .venv, else python3.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
    if [[ -x "$repo/.venv/bin/python" ]]; then python="$repo/.venv/bin/python"; else python=python3; fi
fi
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
exec "$python" "$here/gpu_bench.py" "$@"

#!/usr/bin/env bash
# Device check (issue 13): DP throughput of the dense torch backend on the CUDA device for every Table 2 size, its
# agreement with the CPU numba kernel (allocations identical, revenues within float tolerance), one ZFO-VVCA
# iteration, one Lottery AMA and one AMenuNet training step at 3x10 and 5x10, and the smoke tier of the workflow
# end to end on the device. Prints one table (benchmarks/gpu_check.py); exit status non-zero on any mismatch or
# failure. At most 8 minutes: the Python side keeps a 470 s deadline, `timeout` is the hard stop.
#
#   benchmarks/gpu_check.sh                  # from anywhere; uses .venv/bin/python when present
#   PYTHON=python3 benchmarks/gpu_check.sh --no-smoke
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "gpu_check: no CUDA device visible to torch" >&2
    exit 3
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
exec timeout --signal=TERM --kill-after=10 480 "$PY" benchmarks/gpu_check.py --device cuda --deadline 470 "$@"

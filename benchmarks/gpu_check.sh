#!/usr/bin/env bash
# robustlab on a GPU, end to end (issue 10, item 5). Run from the repository root:
#
#   ROBUSTLAB_DATA=/path/to/data bash benchmarks/gpu_check.sh [OUT]
#
# 1. every quick preset on --device cpu and on --device cuda (the same command otherwise);
# 2. each cuda table compared with the cpu table: same rows, non-float columns equal, float
#    columns within |gpu - cpu| <= ATOL + RTOL |cpu| (RTOL 1e-3, ATOL 1e-4 by default: float32
#    kernels on the two devices differ in summation order, and a sign or a flip decided by a
#    margin within that of zero can differ, which shows as a FAIL to look at, not to hide);
# 3. the first CELLS cells of every paper preset timed on cuda (seconds per cell, and the naive
#    "mean timed cell x cells" total as an order of magnitude).
# Environment: EXPERIMENTS (default: every registered experiment), DEVICE (default cuda; cpu
# checks the script itself on a machine without a GPU), RTOL, ATOL, CELLS (default 2),
# PYTHON (default .venv/bin/python). Exit status 1 when any table differs or any run fails.
set -uo pipefail

OUT=${1:-gpu-check}
DEVICE=${DEVICE:-cuda}
RTOL=${RTOL:-1e-3}
ATOL=${ATOL:-1e-4}
CELLS=${CELLS:-2}
PYTHON=${PYTHON:-.venv/bin/python}
export PYTHONPATH=${PYTHONPATH:-$PWD/src}
if [ -z "${EXPERIMENTS:-}" ]; then
    EXPERIMENTS=$("$PYTHON" -c 'from robustlab.experiments.registry import experiment_names; print(" ".join(experiment_names()))')
fi
if [ "$DEVICE" = cuda ] && ! "$PYTHON" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())'; then
    echo "no CUDA device is available to torch here; nothing checked (DEVICE=cpu checks the script)" >&2
    exit 2
fi
"$PYTHON" -c 'import torch; print("torch", torch.__version__, "| cuda:", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")'

quick() {  # quick NAME DEVICE DIR: one quick run, timed; its log next to OUT
    local start
    start=$(date +%s.%N)
    if ! "$PYTHON" -m robustlab.cli run "$1" --preset quick --device "$2" --out "$3" \
        >"$3.$1.log" 2>&1; then
        echo "FAIL $1: the quick run on $2 failed; see $3.$1.log"
        return 1
    fi
    printf 'quick %s on %s: %.1f s\n' "$1" "$2" "$(echo "$(date +%s.%N) - $start" | bc)"
}

mkdir -p "$OUT"
failed=0
for name in $EXPERIMENTS; do
    if quick "$name" cpu "$OUT/quick-cpu" && quick "$name" "$DEVICE" "$OUT/quick-$DEVICE-run"; then
        "$PYTHON" benchmarks/gpu_check.py compare "$OUT/quick-cpu" "$OUT/quick-$DEVICE-run" \
            "$name" --rtol "$RTOL" --atol "$ATOL" || failed=1
    else
        failed=1
    fi
done

for name in $EXPERIMENTS; do
    "$PYTHON" benchmarks/gpu_check.py time "$name" --preset paper --cells "$CELLS" \
        --device "$DEVICE" || failed=1
done
exit $failed

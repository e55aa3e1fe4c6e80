#!/usr/bin/env bash
# gnet on an NVIDIA GPU, in one command and at most ~8 minutes, with no internet:
#
#     bash scripts/gpu_check.sh OUT [WHEELDIR]
#
# 1. the GPU (nvidia-smi) and library versions        -> OUT/versions.txt
# 2. the CuPy probe (one kernel, one matmul)           -> OUT/probe.log
# 3. the test suite on the CuPy and torch-CUDA backends -> OUT/tests.log
# 4. the default `gnet train --device cuda` and `--device torch:cuda`
#                                                      -> OUT/train-*.log, OUT/train-*.json
# 5. the throughput benchmarks (gnet CuPy, gnet torch-CUDA, PyTorch CUDA,
#    plain NumPy, the matmul ceilings) and their table -> OUT/throughput.json, OUT/throughput.md
# and one line per step in OUT/summary.txt. Exit status: 0 all steps passed,
# 1 a step failed or ran out of time, 2 no GPU (nothing was checked).
#
# Python packages gnet needs beyond CuPy, NumPy and torch come from WHEELDIR
# (default $GNET_WHEELS), made beforehand by scripts/gpu_prepare.sh on a
# machine with the package index; MNIST comes from $GNET_DATA_DIR, else
# WHEELDIR/data, else gnet's cache. Environment: PYTHON (default python3),
# NVIDIA_SMI (default nvidia-smi), GNET_GPU_CHECK_SECONDS (total budget,
# default 450), GNET_BENCH_ROUNDS (default 3), CUPY_CACHE_DIR (CuPy's compiled
# kernels; keep it between runs to skip ~40 kernel compilations).
set -uo pipefail

if [ $# -lt 1 ] || [ -z "$1" ]; then
    echo "usage: bash scripts/gpu_check.sh OUT [WHEELDIR]" >&2
    exit 2
fi
REPO=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1" || exit 2
OUT=$(cd "$1" && pwd)
WHEELS=${2:-${GNET_WHEELS:-}}
SUMMARY=$OUT/summary.txt
NVIDIA_SMI=${NVIDIA_SMI:-nvidia-smi}
BUDGET=${GNET_GPU_CHECK_SECONDS:-450}
DEADLINE=$((SECONDS + BUDGET))
FAILED=()
if [ -n "${PYTHON:-}" ]; then
    PY=$PYTHON
elif [ -x "$REPO/.venv/bin/python" ]; then
    PY=$REPO/.venv/bin/python
else
    PY=python3
fi
cd "$REPO" || exit 2
: >"$SUMMARY"

say() { echo "$*" | tee -a "$SUMMARY"; }

# step NAME SECONDS COMMAND...: runs COMMAND with its output in OUT/NAME.log,
# within SECONDS and within what is left of the budget; one summary line.
step() {
    local name=$1 limit=$2 rc start status
    shift 2
    local left=$((DEADLINE - SECONDS))
    if [ "$left" -lt 15 ]; then
        say "$(printf '%-18s %-8s %s' "$name" SKIPPED "no time left in the ${BUDGET}s budget")"
        FAILED+=("$name")
        return 1
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    start=$SECONDS
    timeout -k 10 "$limit" "$@" >"$OUT/$name.log" 2>&1
    rc=$?
    case $rc in
        0) status=PASS ;;
        124 | 137) status=TIMEOUT ;;
        *) status=FAIL ;;
    esac
    say "$(printf '%-18s %-8s %4ds  %s' "$name" "$status" $((SECONDS - start)) "$name.log")"
    if [ "$rc" -ne 0 ]; then
        FAILED+=("$name")
        # the log's last line: the exception, or pytest's counts
        grep -v '^[[:space:]]*$' "$OUT/$name.log" | tail -n1 | cut -c1-240 | sed 's/^/    /' |
            tee -a "$SUMMARY"
    fi
    return "$rc"
}

say "gnet GPU check, $(date -u '+%Y-%m-%d %H:%M UTC') on $(hostname)"
say "gnet commit: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
say "python: $PY"

# ------------------------------------------------------------ is there a GPU?
if ! command -v "$NVIDIA_SMI" >/dev/null 2>&1; then
    GPU_PROBLEM="$NVIDIA_SMI not found (no NVIDIA driver on this machine)"
elif ! GPUS=$(timeout 20 "$NVIDIA_SMI" -L 2>&1) || ! grep -q "^GPU " <<<"$GPUS"; then
    GPU_PROBLEM="$NVIDIA_SMI lists no GPU: $(head -n1 <<<"${GPUS:-no output}")"
fi
if [ -n "${GPU_PROBLEM:-}" ]; then
    say "no GPU: $GPU_PROBLEM"
    say "result: NO GPU - nothing was checked (exit status 2)"
    exit 2
fi
say "GPUs:"
sed 's/^/    /' <<<"$GPUS" | tee -a "$SUMMARY"

# ------------------------------------------------------------ packages and data
SITE=${TMPDIR:-/tmp}/gnet-gpu-check-site
if [ -n "$WHEELS" ] && compgen -G "$WHEELS/*.whl" >/dev/null; then
    step wheels 120 "$PY" -m pip install --no-index --no-deps --no-compile --upgrade \
        --target "$SITE" "$WHEELS"/*.whl
    export PYTHONPATH=$SITE:$REPO${PYTHONPATH:+:$PYTHONPATH}
else
    say "wheels: none given (WHEELDIR / \$GNET_WHEELS); using the packages installed"
    export PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}
fi
if [ -z "${GNET_DATA_DIR:-}" ] && [ -n "$WHEELS" ] && [ -d "$WHEELS/data/mnist" ]; then
    export GNET_DATA_DIR=$WHEELS/data
fi
say "data: ${GNET_DATA_DIR:-the gnet cache}; CuPy kernel cache: ${CUPY_CACHE_DIR:-~/.cupy/kernel_cache}"

# ------------------------------------------------------------ 1. versions
{
    timeout 20 "$NVIDIA_SMI"
    echo
    timeout 60 "$PY" - <<'EOF'
import importlib, os, platform, sys
print("python", platform.python_version(), sys.executable)
for name in ("gnet", "numpy", "array_api_compat", "array_api_strict", "cupy", "torch",
             "pytest", "pytest_benchmark"):
    try:
        module = importlib.import_module(name)
        print(f"{name} {getattr(module, '__version__', '?')} ({module.__file__})")
    except Exception as exc:
        print(f"{name} not importable: {type(exc).__name__}: {exc}")
try:
    import cupy
    rt = cupy.cuda.runtime
    print("cupy CUDA runtime", rt.runtimeGetVersion(), "driver", rt.driverGetVersion())
    print("CUPY_CACHE_DIR", os.environ.get("CUPY_CACHE_DIR", "(default ~/.cupy/kernel_cache)"))
    cupy.show_config()
except Exception as exc:
    print("cupy config:", type(exc).__name__, exc)
try:
    import torch
    print("torch CUDA", torch.version.cuda, "available", torch.cuda.is_available())
except Exception as exc:
    print("torch:", type(exc).__name__, exc)
EOF
} >"$OUT/versions.txt" 2>&1
say "versions: versions.txt"
grep -E "^(python|gnet|numpy|array_api_compat|cupy|torch) " "$OUT/versions.txt" | cut -c1-100 |
    sed 's/^/    /' | tee -a "$SUMMARY"

# ------------------------------------------------------------ 2. probe
step probe 90 "$PY" -c "
import gnet.backend as B
be = B.get_backend('cuda')
print('cuda:', be.describe(), be.device)
print('auto (mini-batch):', B.choose_auto('mini-batch'))
print('auto (per-sample):', B.choose_auto('per-sample'))
"
HAS_TORCH_CUDA=0
if timeout 60 "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" \
    >/dev/null 2>&1; then
    HAS_TORCH_CUDA=1
fi

# ------------------------------------------------------------ 3. tests
step tests 180 "$PY" -m pytest tests -q -p no:cacheprovider -k "cupy or cuda" -rfEs

# ------------------------------------------------------------ 4. the default run
DATA_ARGS=()
[ -n "${GNET_DATA_DIR:-}" ] && DATA_ARGS=(--data-dir "$GNET_DATA_DIR")
step train-cuda 90 "$PY" -m gnet train --device cuda "${DATA_ARGS[@]}" \
    --metrics-json "$OUT/train-cuda.json"
if [ "$HAS_TORCH_CUDA" = 1 ]; then
    step train-torch-cuda 90 "$PY" -m gnet train --device torch:cuda "${DATA_ARGS[@]}" \
        --metrics-json "$OUT/train-torch-cuda.json"
else
    say "$(printf '%-18s %-8s %s' train-torch-cuda SKIPPED "torch is missing or sees no GPU")"
fi

# ------------------------------------------------------------ 5. throughput
export GNET_BENCH_ROUNDS=${GNET_BENCH_ROUNDS:-3}
step throughput 150 "$PY" -m pytest \
    benchmarks/test_throughput.py -q -p no:cacheprovider --benchmark-enable --benchmark-only \
    -k "gnet-cupy or gnet-torch-cuda or pytorch-cuda or plain-numpy or gemm" \
    --benchmark-json "$OUT/throughput.json"
if [ -s "$OUT/throughput.json" ]; then
    "$PY" scripts/bench_table.py "$OUT/throughput.json" >"$OUT/throughput.md" 2>&1 &&
        say "throughput table: throughput.md" || say "throughput table: FAILED (throughput.md)"
fi

# ------------------------------------------------------------ summary
if [ ${#FAILED[@]} -eq 0 ]; then
    say "result: PASS in ${SECONDS}s"
    exit 0
fi
say "result: FAIL (${FAILED[*]}) in ${SECONDS}s"
exit 1

#!/usr/bin/env bash
# Prepare, on a machine with the package index, what scripts/gpu_check.sh
# needs on a GPU machine without internet:
#
#     bash scripts/gpu_prepare.sh WHEELDIR
#
# WHEELDIR gets the wheels of gnet's pure-Python needs that a CUDA image with
# CuPy, NumPy, torch and pytest usually lacks (array-api-compat,
# array-api-strict, pooch, platformdirs, pytest-benchmark), at the versions
# installed here when they are, and WHEELDIR/data/mnist gets the MNIST files
# from $GNET_DATA_DIR (or gnet's cache) when they are there. Then copy
# WHEELDIR next to the repository on the GPU machine and run
#
#     bash scripts/gpu_check.sh OUT WHEELDIR
#
# Environment: PYTHON (default: the repository's .venv, else python3),
# GNET_PREPARE_EXTRA (more package names, space-separated),
# GNET_PREPARE_CUPY=cuda12|cuda13 (also CuPy and its CUDA toolkit wheels,
# several hundred MB, for GNET_PREPARE_PYTHON, default 3.12, on manylinux x86-64).
set -euo pipefail

if [ $# -lt 1 ] || [ -z "$1" ]; then
    echo "usage: bash scripts/gpu_prepare.sh WHEELDIR" >&2
    exit 2
fi
REPO=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
DIR=$(cd "$1" && pwd)
if [ -n "${PYTHON:-}" ]; then
    PY=$PYTHON
elif [ -x "$REPO/.venv/bin/python" ]; then
    PY=$REPO/.venv/bin/python
else
    PY=python3
fi

PACKAGES="array-api-compat array-api-strict pooch platformdirs pytest-benchmark py-cpuinfo"
PACKAGES="$PACKAGES ${GNET_PREPARE_EXTRA:-}"
for name in $PACKAGES; do
    # the version installed here, so the GPU runs what the tests here ran
    version=$("$PY" -c "
import sys
from importlib import metadata
try:
    print(metadata.version(sys.argv[1]))
except metadata.PackageNotFoundError:
    pass
" "$name")
    spec=$name${version:+==$version}
    echo "wheel: $spec"
    "$PY" -m pip download --quiet --no-deps --only-binary=:all: -d "$DIR" "$spec"
done

case "${GNET_PREPARE_CUPY:-}" in
    "") ;;
    cuda12 | cuda13)
        cupy=cupy-${GNET_PREPARE_CUPY}x
        echo "wheels: $cupy[ctk] and its CUDA libraries"
        "$PY" -m pip download --quiet --only-binary=:all: -d "$DIR" \
            --python-version "${GNET_PREPARE_PYTHON:-3.12}" --implementation cp \
            --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
            --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
            "$cupy[ctk]>=14.0"
        ;;
    *)
        echo "GNET_PREPARE_CUPY must be cuda12 or cuda13" >&2
        exit 2
        ;;
esac

DATA=${GNET_DATA_DIR:-}
[ -z "$DATA" ] && DATA=$("$PY" -c "import gnet.data as d; print(d.default_data_dir())" \
    2>/dev/null || true)
if [ -n "$DATA" ] && compgen -G "$DATA/mnist/*-ubyte*" >/dev/null; then
    mkdir -p "$DIR/data/mnist"
    cp "$DATA"/mnist/*-ubyte* "$DIR/data/mnist/"
    echo "data: MNIST from $DATA/mnist"
else
    echo "data: no MNIST in ${DATA:-the gnet cache}; gnet train on the GPU machine will need it"
fi
echo "ready: $DIR ($(du -sh "$DIR" | cut -f1)); on the GPU machine:"
echo "    bash scripts/gpu_check.sh OUT $DIR"

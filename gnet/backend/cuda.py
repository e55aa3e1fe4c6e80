"""CuPy's first contact with a GPU: the probe run when a CuPy backend is
created, and the one-line advice a broken CUDA install gets (what to install,
or to update the driver). Used by :mod:`gnet.backend` only."""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from ..errors import DeviceError


def install_hint() -> str:
    """What to install for a working CuPy (the extra for the CuPy present, if any)."""
    from importlib import metadata

    extras = "'gnet[cuda12]' for CUDA 12 drivers, or 'gnet[cuda13]' for CUDA 13"
    for extra in ("cuda13", "cuda12"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            metadata.version(f"cupy-{extra}x")
            extras = f"'gnet[{extra}]' (that is cupy-{extra}x[ctk])"
            break
    libraries = "the CUDA libraries it needs (NVRTC, cuBLAS, cuRAND)"
    return f"install CuPy with {libraries}: pip install {extras}"


def fix_hint(error: str) -> str:
    """What to do about a CUDA error: a driver too old for CuPy's CUDA, or missing libraries."""
    if "driver" in error.lower():
        return (
            "update the NVIDIA driver, or use the CuPy for the driver's CUDA "
            "('gnet[cuda12]' or 'gnet[cuda13]'; nvidia-smi shows the driver's CUDA version)"
        )
    return install_hint()


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    return line if len(line) <= 200 else line[:197] + "..."


def probe_cupy(cupy: Any, spec: str, index: int) -> None:
    """One elementwise kernel and one matmul on GPU ``index``, read back and checked.

    The elementwise kernel is compiled at run time by NVRTC and the matmul goes
    through cuBLAS: the two libraries a CuPy wheel without its ``ctk`` extra
    (or a CUDA toolkit) lacks. A failure is one ``DeviceError`` line.
    """
    host = np.arange(6, dtype=np.float32).reshape(2, 3)
    step = "copy data to the GPU"
    try:
        with cupy.cuda.Device(index):
            a = cupy.asarray(host)
            step = "run an elementwise kernel (compiled by NVRTC)"
            b = a + 1
            step = "run a matmul (cuBLAS)"
            c = b @ b.T
            step = "read a result back"
            got = c.get()
    except Exception as exc:
        text = first_line(exc)
        raise DeviceError(
            f"--device {spec}: CUDA cannot {step} ({text}); {fix_hint(text)}"
        ) from exc
    if not np.array_equal(got, (host + 1) @ (host + 1).T):
        raise DeviceError(f"--device {spec}: the GPU probe gave wrong results; {install_hint()}")

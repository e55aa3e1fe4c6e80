"""Backends: the only module that knows array-library names.

A :class:`Backend` bundles an Array API namespace ``xp`` with the device its
arrays live on, and the few things the standard leaves out: moving data
between host and device, waiting for the device, and drawing random numbers
for dropout masks. Every other math module gets ``xp`` from here or from its
arrays through ``array_api_compat.array_namespace``.

Device strings::

    cpu                 NumPy
    cuda, cuda:N        CuPy on GPU N
    torch, torch:cuda   PyTorch (CPU, or its default / N-th CUDA device)
    strict              array-api-strict on its non-default Device("device1"),
                        with data-dependent shapes and boolean indexing off
    auto                cuda when CuPy sees a GPU, else cpu
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Any

import array_api_compat as compat
import numpy as np

from .errors import DeviceError

Array = Any

DEVICE_NAMES = ("cpu", "cuda", "cuda:N", "torch", "torch:cuda", "strict", "auto")


@dataclass(frozen=True)
class Backend:
    """An Array API namespace and a device.

    ``name`` is one of ``numpy``, ``cupy``, ``torch``, ``strict``;
    ``spec`` is the device string it was made from.
    """

    name: str
    spec: str
    xp: Any
    device: Any

    def asarray(self, a: Any, dtype: Any = None) -> Array:
        """Move ``a`` (host data or an array of this backend) onto the device."""
        if dtype is not None and isinstance(dtype, str):
            dtype = getattr(self.xp, dtype)
        if self.name == "strict" and not _is_strict_array(a):
            # array-api-strict only copies host data onto its CPU device.
            a = self.xp.asarray(np.asarray(a))
            a = self.xp.asarray(a, dtype=dtype) if dtype is not None else a
            return compat.to_device(a, self.device)
        if self.name == "cupy" and not compat.is_cupy_array(a):
            a = np.asarray(a)
        if self.name == "torch" and isinstance(a, np.ndarray) and not a.flags.writeable:
            a = a.copy()  # torch refuses to share read-only memory (e.g. memory maps)
        return self.xp.asarray(a, dtype=dtype, device=self.device)

    def synchronize(self) -> None:
        """Wait until the device has finished all queued work (for timings)."""
        if self.name == "cupy":
            self.xp.cuda.get_current_stream().synchronize()
        elif self.name == "torch" and self.device.type == "cuda":
            import torch

            torch.cuda.synchronize(self.device)

    def random_generator(self, seed: int | list[int]) -> Any:
        """A generator for :meth:`uniform`, on the device where the library has one."""
        if self.name == "cupy":
            return self.xp.random.default_rng(
                int(np.random.SeedSequence(seed).generate_state(1)[0])
            )
        if self.name == "torch":
            import torch

            g = torch.Generator(device=self.device)
            g.manual_seed(_seed_int(seed))
            return g
        return np.random.default_rng(seed)

    def uniform(self, generator: Any, shape: tuple[int, ...], dtype: Any) -> Array:
        """Uniform [0, 1) samples of ``shape`` on the device (dropout masks)."""
        if self.name == "cupy":
            return generator.random(shape, dtype=dtype)
        if self.name == "torch":
            import torch

            return torch.rand(shape, generator=generator, dtype=dtype, device=self.device)
        host = generator.random(shape, dtype=np.float64).astype(_numpy_dtype(dtype))
        return host if self.name == "numpy" else self.asarray(host)

    def describe(self) -> str:
        """A human-readable device name, e.g. ``NVIDIA H100 (cupy)``."""
        if self.name == "cupy":
            props = self.xp.cuda.runtime.getDeviceProperties(self.device.id)
            return f"{props['name'].decode()} (cupy)"
        if self.name == "torch" and self.device.type == "cuda":
            import torch

            return f"{torch.cuda.get_device_name(self.device)} (torch)"
        return f"{self.name} on {self.device}"

    def __repr__(self) -> str:
        return f"Backend({self.spec!r})"


def _seed_int(seed: int | list[int]) -> int:
    """One integer from a seed or a seed list, for device generators."""
    return int(np.random.SeedSequence(seed).generate_state(1)[0])


def _numpy_dtype(dtype: Any) -> Any:
    try:
        return np.dtype(dtype)
    except TypeError:  # torch.float32, array_api_strict.float32, ...
        return np.dtype(str(dtype).rsplit(".", 1)[-1])


def _is_strict_array(a: Any) -> bool:
    return type(a).__module__.startswith("array_api_strict")


def _import(module: str, install_hint: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DeviceError(f"{module} is not installed: {install_hint}") from exc


def _cupy_backend(spec: str, index: int) -> Backend:
    cupy = _import(
        "cupy",
        "install gnet with CUDA support: pip install 'gnet[cuda12]' (or [cuda13] for CUDA 13)",
    )
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDA driver missing or broken
        raise DeviceError(f"--device {spec}: CuPy finds no usable GPU ({exc})") from exc
    if count == 0:
        raise DeviceError(f"--device {spec}: CuPy finds no GPU; use --device cpu")
    if index >= count:
        raise DeviceError(f"--device {spec}: there are only {count} GPU(s) (0..{count - 1})")
    device = cupy.cuda.Device(index)
    device.use()
    return Backend("cupy", spec, compat.array_namespace(cupy.empty(0)), device)


def _torch_backend(spec: str, target: str) -> Backend:
    torch = _import("torch", "install it with: pip install 'gnet[torch]'")
    device = torch.device(target)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"--device {spec}: this PyTorch build sees no CUDA GPU")
    return Backend("torch", spec, compat.array_namespace(torch.empty(0)), device)


def _strict_backend(spec: str) -> Backend:
    strict = _import("array_api_strict", "install it with: pip install array-api-strict")
    strict.set_array_api_strict_flags(boolean_indexing=False, data_dependent_shapes=False)
    return Backend("strict", spec, strict, strict.Device("device1"))


def cuda_available() -> bool:
    """True when CuPy is importable and sees at least one GPU."""
    try:
        cupy = importlib.import_module("cupy")
        return bool(cupy.is_available())
    except Exception:
        return False


def get_backend(device: str | Backend | None = None) -> Backend:
    """The backend for a device string (see the module docstring).

    ``None`` means ``$GNET_DEVICE``, else ``cpu``. Raises
    :class:`~gnet.errors.DeviceError` when the library or device is missing
    and ``ValueError`` for a string that names no device.
    """
    if isinstance(device, Backend):
        return device
    spec = (device or os.environ.get("GNET_DEVICE") or "cpu").strip().lower()
    if spec == "auto":
        return get_backend("cuda" if cuda_available() else "cpu")
    if spec in ("cpu", "numpy"):
        return Backend("numpy", spec, compat.array_namespace(np.empty(0)), "cpu")
    if spec == "cuda" or spec.startswith("cuda:"):
        index = spec.partition(":")[2] or "0"
        if not index.isdigit():
            raise ValueError(f"device {spec!r}: expected cuda or cuda:N with N a GPU number")
        return _cupy_backend(spec, int(index))
    if spec == "torch" or spec.startswith("torch:"):
        return _torch_backend(spec, spec.partition(":")[2] or "cpu")
    if spec == "strict":
        return _strict_backend(spec)
    raise ValueError(f"device {spec!r}: expected one of {', '.join(DEVICE_NAMES)}")


def backend_of(a: Array) -> Backend:
    """The backend whose namespace and device hold array ``a``."""
    xp = compat.array_namespace(a)
    device = compat.device(a)
    if compat.is_numpy_namespace(xp):
        return Backend("numpy", "cpu", xp, "cpu")
    if compat.is_cupy_namespace(xp):
        return Backend("cupy", f"cuda:{device.id}", xp, device)
    if compat.is_torch_namespace(xp):
        spec = "torch" if device.type == "cpu" else f"torch:{device}"
        return Backend("torch", spec, xp, device)
    if _is_strict_array(a):
        return Backend("strict", "strict", xp, device)
    return Backend(xp.__name__, str(device), xp, device)


def is_array(a: Any) -> bool:
    """True for an array of any Array API library gnet knows."""
    return compat.is_array_api_obj(a)


def same_device(a: Array, backend: Backend) -> bool:
    """True when ``a`` is an array of ``backend``'s library on its device."""
    other = backend_of(a)
    return other.name == backend.name and str(other.device) == str(backend.device)


def to_numpy(a: Any) -> np.ndarray:
    """Any array (NumPy, CuPy, torch, array-api-strict) as a host NumPy array.

    Like ``numpy.asarray``, it does not copy what is already in host memory
    (NumPy arrays, CPU tensors): copy the result before changing the original.
    """
    if isinstance(a, np.ndarray):
        return a
    if compat.is_cupy_array(a):
        host: np.ndarray = a.get()  # CuPy ships no type information
        return host
    if compat.is_torch_array(a):
        return a.detach().cpu().numpy()
    if _is_strict_array(a):
        strict = compat.array_namespace(a)
        return np.asarray(compat.to_device(a, strict.Device("CPU_DEVICE")))
    return np.asarray(a)


def library_versions() -> dict[str, str]:
    """Versions of the array libraries importable here (for ``gnet info``)."""
    versions = {}
    for module in ("numpy", "array_api_compat", "cupy", "torch", "array_api_strict"):
        try:
            versions[module] = importlib.import_module(module).__version__
        except Exception:
            continue
    return versions


def writeable(a: Array) -> bool:
    """True when ``a`` supports in-place operators (False for JAX arrays)."""
    return bool(compat.is_writeable_array(a))


def host_rng(seed: int | list[int]) -> np.random.Generator:
    """A host NumPy generator: initial weights and shuffling come from here, so a
    seed gives the same start and the same batches on every backend."""
    return np.random.default_rng(seed)


def is_array_of_host(a: Any) -> bool:
    """True for host NumPy arrays (moved to any device without complaint)."""
    return isinstance(a, np.ndarray | np.generic)


def host_array(a: Any) -> np.ndarray:
    """``numpy.asarray`` of lists, tuples, scalars and other host data."""
    out = np.asarray(a)
    if out.dtype == object or out.dtype.kind in "USV":
        raise TypeError(f"expected numbers, got dtype {out.dtype}")
    return out

"""Backends: the only module that knows array-library names.

A :class:`Backend` bundles an Array API namespace ``xp`` with the device its
arrays live on, and the few things the standard leaves out: moving data
between host and device, waiting for the device, and drawing random numbers
for dropout masks. Every other math module gets ``xp`` from here or from its
arrays through ``array_api_compat.array_namespace``.

Device strings::

    cpu                 NumPy
    cuda, cuda:N        CuPy on its current GPU (normally 0, the first of
                        CUDA_VISIBLE_DEVICES), or on GPU N
    torch, torch:cuda   PyTorch (CPU, or its default / N-th CUDA device)
    strict              array-api-strict on its non-default Device("device1"),
                        with data-dependent shapes and boolean indexing off
    auto                cuda when CuPy sees a GPU that passes the probe, else
                        cpu; cpu for per-sample mode (see :func:`choose_auto`)

Creating a CuPy backend runs a tiny probe on its GPU (one elementwise kernel,
compiled by NVRTC, and one matmul, through cuBLAS), so a broken CUDA install
is one :class:`~gnet.errors.DeviceError` line saying what to install, not a
traceback at the first kernel. CuPy puts new arrays on the *current* GPU
(array-api-compat ignores ``device=`` in its creation functions), so every
entry point runs inside :meth:`Backend.context`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.util
import logging
import os
from typing import Any

import array_api_compat as compat
import numpy as np

from ..errors import DeviceError
from .cuda import first_line, fix_hint, install_hint, probe_cupy

Array = Any

logger = logging.getLogger(__name__)

DEVICE_NAMES = ("cpu", "cuda", "cuda:N", "torch", "torch:cuda", "strict", "auto")


@dataclasses.dataclass(frozen=True, eq=False)
class Backend:
    """An Array API namespace and a device.

    ``name`` is one of ``numpy``, ``cupy``, ``torch``, ``strict``;
    ``spec`` is the device string it was made from; ``reason`` says why
    ``auto`` chose this backend (empty for an explicit device).

    Two backends are equal, and hash alike, when they are the same library
    on the same device (``cuda`` and ``cuda:0`` are one GPU), so a backend
    can key a dict or a cache (a CuPy ``Device`` itself is not hashable).
    """

    name: str
    spec: str
    xp: Any
    device: Any
    reason: str = dataclasses.field(default="", compare=False)

    @property
    def key(self) -> tuple[str, str]:
        """(library, device) as plain strings: what equality and hashing use."""
        if self.name == "cupy":
            return (self.name, f"cuda:{self.device.id}")
        return (self.name, str(self.device))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Backend) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    @property
    def is_gpu(self) -> bool:
        """True for CuPy and for torch on a CUDA device (kernel launches, async work)."""
        return self.name == "cupy" or (self.name == "torch" and self.device.type == "cuda")

    def context(self) -> contextlib.AbstractContextManager[Any]:
        """A context in which new arrays land on this backend's device: on CuPy
        a fresh ``cupy.cuda.Device`` (its GPU current until exit; fresh, so
        threads share no device stack), elsewhere nothing. Cheap and
        re-entrant: wrap every entry point in ``with backend.context():``."""
        if self.name == "cupy":
            import cupy

            device: contextlib.AbstractContextManager[Any] = cupy.cuda.Device(self.device.id)
            return device
        return contextlib.nullcontext()

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
        """Wait until this backend's device has finished all queued work (for
        timings), whichever device is current; a no-op on the CPU."""
        if self.name == "cupy":
            self.device.synchronize()  # switches to the device, then cudaDeviceSynchronize
        elif self.name == "torch" and self.device.type == "cuda":
            import torch

            torch.cuda.synchronize(self.device)

    def random_generator(self, seed: int | list[int]) -> Any:
        """A generator for :meth:`uniform`, on the device where the library has one.

        Cheap to call (a seed is hashed, nothing is drawn), but on CuPy the
        first draws set up generator state on the GPU, not free on a large
        GPU: make one per fit and keep drawing from it, inside :meth:`context`.
        """
        if self.name == "cupy":
            import cupy

            try:
                return cupy.random.default_rng(_seed_int(seed))
            except Exception as exc:  # cuRAND missing or broken
                raise DeviceError(
                    f"{self.spec}: CuPy cannot create a random generator "
                    f"({first_line(exc)}); {install_hint()}"
                ) from exc
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


_PROBED: set[int] = set()  # GPUs whose probe passed in this process


def _cupy_backend(spec: str, index: int | None) -> Backend:
    """CuPy on GPU ``index`` (``None``: CuPy's current GPU), probed once per process."""
    cupy = _import("cupy", install_hint())
    try:
        count = cupy.cuda.runtime.getDeviceCount()
        if index is None:
            index = int(cupy.cuda.runtime.getDevice())
    except Exception as exc:  # CUDA driver missing or broken
        text = first_line(exc)
        raise DeviceError(
            f"--device {spec}: CuPy finds no usable GPU ({text}); {fix_hint(text)}"
        ) from exc
    if count == 0:
        raise DeviceError(f"--device {spec}: CuPy finds no GPU; use --device cpu")
    if index >= count:
        raise DeviceError(f"--device {spec}: there are only {count} GPU(s) (0..{count - 1})")
    if index not in _PROBED:
        probe_cupy(cupy, spec, index)
        _PROBED.add(index)
    xp = importlib.import_module("array_api_compat.cupy")
    return Backend("cupy", spec, xp, cupy.cuda.Device(index))


def _torch_backend(spec: str, target: str) -> Backend:
    torch = _import("torch", "install it with: pip install 'gnet[torch]'")
    device = torch.device(target)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"--device {spec}: this PyTorch build sees no CUDA GPU")
    if device.type == "cuda" and device.index is None:  # as its tensors say: cuda:N
        device = torch.device("cuda", torch.cuda.current_device())
    return Backend("torch", spec, compat.array_namespace(torch.empty(0)), device)


def _strict_backend(spec: str) -> Backend:
    strict = _import("array_api_strict", "install it with: pip install array-api-strict")
    strict.set_array_api_strict_flags(boolean_indexing=False, data_dependent_shapes=False)
    return Backend("strict", spec, strict, strict.Device("device1"))


def cuda_available() -> bool:
    """True when CuPy is importable and sees at least one GPU (no probe)."""
    try:
        cupy = importlib.import_module("cupy")
        return bool(cupy.is_available())
    except Exception:
        return False


def choose_auto(mode: str | None = None) -> tuple[str, str]:
    """(device, reason): what ``auto`` takes for a training ``mode``, and why.

    ``cuda`` when CuPy sees a GPU that passes the probe, else ``cpu`` with the
    reason (CuPy missing, no GPU, or the probe's error). ``per-sample`` mode
    takes the CPU without looking: a batch of one launches dozens of tiny
    kernels per sample, each costing more on a GPU than the arithmetic on a
    CPU. Nothing is printed; the reason is returned (and logged by
    :func:`get_backend`).
    """
    if mode == "per-sample":
        return "cpu", ("per-sample mode runs dozens of tiny kernels per sample, faster on the CPU")
    if importlib.util.find_spec("cupy") is None:
        return "cpu", "CuPy is not installed"
    if not cuda_available():
        return "cpu", "CuPy sees no GPU"
    try:
        _cupy_backend("cuda", None)
    except DeviceError as exc:
        return "cpu", f"the GPU is not usable: {exc}"
    return "cuda", "CuPy sees a GPU that passed the probe"


def get_backend(device: str | Backend | None = None, mode: str | None = None) -> Backend:
    """The backend for a device string (see the module docstring).

    ``None`` means ``$GNET_DEVICE``, else ``cpu``. ``mode`` (a training mode)
    only matters for ``auto`` (see :func:`choose_auto`); the backend ``auto``
    returns carries its choice's ``reason``, which is also logged. Raises
    :class:`~gnet.errors.DeviceError` when the library or device is missing
    or a GPU fails its probe, and ``ValueError`` for a string that names no
    device.
    """
    if isinstance(device, Backend):
        return device
    spec = (device or os.environ.get("GNET_DEVICE") or "cpu").strip().lower()
    if spec == "auto":
        chosen, reason = choose_auto(mode)
        logger.info("device auto: using %s (%s)", chosen, reason)
        return dataclasses.replace(get_backend(chosen), reason=reason)
    if spec in ("cpu", "numpy"):
        return Backend("numpy", spec, compat.array_namespace(np.empty(0)), "cpu")
    if spec == "cuda" or spec.startswith("cuda:"):
        index = spec.partition(":")[2]
        if spec != "cuda" and not index.isdigit():
            raise ValueError(f"device {spec!r}: expected cuda or cuda:N with N a GPU number")
        return _cupy_backend(spec, int(index) if index else None)
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

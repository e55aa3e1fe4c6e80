"""Backends: equality and hashing, the device context, synchronize, the CuPy
probe's one-line errors, and what ``auto`` takes.

CuPy cannot run here, so its start-up is checked against a small stand-in
module (``FakeCupy``) that records what gnet asks of it and fails where a
broken CUDA install fails: loading NVRTC at the first elementwise kernel,
cuBLAS at the first matmul, or a driver too old for CuPy's CUDA. The tests
on the ``device`` fixture run on every backend present, CuPy included on a
machine with a GPU.
"""

from __future__ import annotations

import logging
import sys
import types

import numpy as np
import pytest

import gnet
from gnet import backend as B
from gnet.errors import DeviceError

# ---------------------------------------------------------------- every backend present


def test_backend_is_hashable_and_equal_to_itself(device):
    be = B.get_backend(device)
    again = B.get_backend(device)
    assert be == again and hash(be) == hash(again)
    assert {be: 1}[again] == 1
    assert be != B.get_backend("cpu") or be.name == "numpy"


def test_arrays_made_in_the_context_live_on_the_backend_device(device):
    be = B.get_backend(device)
    with be.context():
        with be.context():  # re-entrant
            a = be.xp.zeros((3, 2), dtype=be.xp.float32, device=be.device)
        b = be.xp.ones((2, 2), dtype=be.xp.float32, device=be.device)
        c = a @ b
    be.synchronize()
    for x in (a, b, c):
        assert B.same_device(x, be)
    assert B.backend_of(c) == be
    assert gnet.to_numpy(c).shape == (3, 2)


def test_random_generator_is_reproducible_on(device):
    be = B.get_backend(device)
    with be.context():
        draws = [
            gnet.to_numpy(be.uniform(be.random_generator([7, 1]), (4, 3), be.xp.float32))
            for _ in range(2)
        ]
    np.testing.assert_array_equal(draws[0], draws[1])
    assert ((draws[0] >= 0) & (draws[0] < 1)).all()


def test_random_generator_is_cheap_to_make_and_says_to_make_one_per_fit():
    be = B.get_backend("cpu")
    for seed in range(200):  # a seed is hashed; nothing is drawn
        be.random_generator([seed, 1])
    assert "one per fit" in (B.Backend.random_generator.__doc__ or "")


# ---------------------------------------------------------------- equality, hashing


def test_equal_backends_are_one_library_on_one_device():
    cpu, numpy = B.get_backend("cpu"), B.get_backend("numpy")
    strict = B.get_backend("strict")
    assert cpu == numpy and hash(cpu) == hash(numpy)
    assert cpu != strict and strict == B.get_backend("strict")
    assert len({cpu, numpy, strict}) == 2
    assert cpu != "cpu"
    auto = B.get_backend("auto", mode="per-sample")
    assert auto == cpu and auto.reason and not cpu.reason  # the reason is not identity


def test_cpu_contexts_do_nothing():
    for spec in ("cpu", "strict"):
        ctx = B.get_backend(spec).context()
        with ctx as entered:
            assert entered is None


# ---------------------------------------------------------------- a stand-in CuPy


class FakeDevice:
    """cupy.cuda.Device: a context manager, comparable and unhashable like CuPy's."""

    def __init__(self, cupy: FakeCupy, index: int | None = None):
        self.cupy = cupy
        self.id = cupy.current if index is None else int(index)
        self._stack: list[int] = []

    def __enter__(self):
        self._stack.append(self.cupy.current)
        self.cupy.current = self.id
        self.cupy.log.append(("enter", self.id))
        return self

    def __exit__(self, *exc):
        self.cupy.current = self._stack.pop()
        self.cupy.log.append(("exit", self.id))

    def use(self):
        self.cupy.log.append(("use", self.id))  # gnet must never call it
        self.cupy.current = self.id

    def synchronize(self):
        self.cupy.log.append(("synchronize", self.id))

    def __eq__(self, other):
        return isinstance(other, FakeDevice) and other.id == self.id

    __hash__ = None  # type: ignore[assignment]  # as CuPy's Device


class FakeArray:
    def __init__(self, cupy: FakeCupy, data: np.ndarray):
        self.cupy, self.data = cupy, data

    def __add__(self, other):
        self.cupy.log.append(("kernel", self.cupy.current))
        if self.cupy.fail == "nvrtc":
            raise RuntimeError(
                "CuPy failed to load libnvrtc.so.12: OSError: libnvrtc.so.12: "
                "cannot open shared object file: No such file or directory\nmore detail"
            )
        return FakeArray(self.cupy, self.data + other)

    @property
    def T(self):
        return FakeArray(self.cupy, self.data.T)

    def __matmul__(self, other):
        self.cupy.log.append(("matmul", self.cupy.current))
        if self.cupy.fail == "cublas":
            raise ImportError("libcublas.so.12: cannot open shared object file")
        return FakeArray(self.cupy, self.data @ other.data)

    def get(self):
        return self.data + (1 if self.cupy.fail == "wrong" else 0)


class FakeCupy(types.ModuleType):
    """Just enough of ``cupy`` for gnet.backend to start a backend."""

    def __init__(self, count: int = 2, fail: str | None = None):
        super().__init__("cupy")
        self.current, self.count, self.fail = 0, count, fail
        self.log: list[tuple[str, int]] = []
        runtime = types.SimpleNamespace(getDeviceCount=self._count, getDevice=lambda: self.current)
        self.cuda = types.SimpleNamespace(
            runtime=runtime, Device=lambda index=None: FakeDevice(self, index)
        )

    def _count(self) -> int:
        if self.fail == "driver":
            raise RuntimeError(
                "cudaErrorInsufficientDriver: CUDA driver version is insufficient "
                "for CUDA runtime version"
            )
        return self.count

    def is_available(self) -> bool:
        return self.fail != "driver" and self.count > 0

    def asarray(self, a):
        return FakeArray(self, np.asarray(a))


@pytest.fixture
def fake_cupy(monkeypatch):
    """Install a FakeCupy; returns a function (count, fail) -> the fake."""

    def install(count: int = 2, fail: str | None = None) -> FakeCupy:
        cupy = FakeCupy(count, fail)
        monkeypatch.setitem(sys.modules, "cupy", cupy)
        monkeypatch.setitem(sys.modules, "array_api_compat.cupy", types.ModuleType("xp"))
        monkeypatch.setattr(B.importlib.util, "find_spec", lambda name, *a: object())
        monkeypatch.setattr(B, "_PROBED", set())
        return cupy

    return install


def test_cuda_n_is_probed_once_and_used_only_inside_its_context(fake_cupy):
    cupy = fake_cupy(count=2)
    be = B.get_backend("cuda:1")
    assert be.name == "cupy" and be.device.id == 1
    assert cupy.log == [("enter", 1), ("kernel", 1), ("matmul", 1), ("exit", 1)]
    assert cupy.current == 0  # creating the backend left the current GPU alone
    cupy.log.clear()
    B.get_backend("cuda:1")  # probed once per process
    assert cupy.log == []
    with be.context():
        assert cupy.current == 1
        with be.context():
            assert cupy.current == 1
        assert cupy.current == 1
    assert cupy.current == 0
    be.synchronize()
    assert ("synchronize", 1) in cupy.log and not any(e[0] == "use" for e in cupy.log)
    # Hashable although CuPy's Device is not; equal to another backend on GPU 1.
    assert hash(be) == hash(B.Backend("cupy", "cuda:1", be.xp, FakeDevice(cupy, 1)))
    assert be != B.get_backend("cuda:0")


def test_plain_cuda_means_cupys_current_gpu(fake_cupy):
    cupy = fake_cupy(count=2)
    cupy.current = 1
    assert B.get_backend("cuda").device.id == 1


@pytest.mark.parametrize("spec", ["cuda", "cuda:0", "cuda:1"])
@pytest.mark.parametrize(
    ("fail", "fragments"),
    [
        ("nvrtc", ("elementwise kernel", "NVRTC", "libnvrtc.so.12", "pip install 'gnet[cuda12]'")),
        ("cublas", ("matmul (cuBLAS)", "libcublas", "pip install 'gnet[cuda12]'")),
        ("wrong", ("wrong results",)),
        ("driver", ("no usable GPU", "cudaErrorInsufficientDriver", "update the NVIDIA driver")),
    ],
)
def test_a_broken_cuda_install_is_one_line_saying_what_to_install(fake_cupy, spec, fail, fragments):
    fake_cupy(count=2, fail=fail)
    with pytest.raises(DeviceError) as info:
        B.get_backend(spec)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"--device {spec}: ")
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert "more detail" not in message  # only the first line of CuPy's error


def test_auto_falls_back_to_the_cpu_and_says_why(fake_cupy, caplog):
    fake_cupy(fail="nvrtc")
    with caplog.at_level(logging.INFO, logger="gnet.backend"):
        be = B.get_backend("auto")
    assert be.name == "numpy" and be.spec == "cpu"
    assert "NVRTC" in be.reason and "gnet[cuda12]" in be.reason
    assert "device auto: using cpu" in caplog.text and "NVRTC" in caplog.text
    assert B.choose_auto("mini-batch")[0] == "cpu"


def test_auto_takes_a_working_gpu_but_the_cpu_for_per_sample(fake_cupy):
    cupy = fake_cupy(count=1)
    be = B.get_backend("auto", mode="mini-batch")
    assert be.name == "cupy" and be.device.id == 0 and "probe" in be.reason
    cupy.log.clear()
    spec, reason = B.choose_auto("per-sample")
    assert spec == "cpu" and "per-sample" in reason
    assert cupy.log == []  # per-sample does not even look at the GPU
    assert B.get_backend("auto", mode="per-sample").name == "numpy"


def test_auto_without_cupy_or_gpu(monkeypatch, fake_cupy):
    fake_cupy(count=0)
    assert B.choose_auto() == ("cpu", "CuPy sees no GPU")
    monkeypatch.setattr(B.importlib.util, "find_spec", lambda name, *a: None)
    assert B.choose_auto() == ("cpu", "CuPy is not installed")


def test_cuda_index_out_of_range_and_bad_index(fake_cupy):
    fake_cupy(count=2)
    with pytest.raises(DeviceError, match=r"^--device cuda:2: there are only 2 GPU\(s\)"):
        B.get_backend("cuda:2")
    with pytest.raises(ValueError, match="cuda:N"):
        B.get_backend("cuda:x")


# ---------------------------------------------------------------- near-ties (tests/near_ties.py)


def test_cross_backend_prediction_checks_allow_only_near_ties():
    from near_ties import assert_same_predictions, on_gpu

    proba = np.array([[0.5, 0.49995, 0.00005], [0.9, 0.05, 0.05]])
    assert_same_predictions(proba, [0, 0])
    assert_same_predictions(proba, [1, 0])  # within a near-tie: another order of sums
    with pytest.raises(AssertionError, match="1 of 2 predictions"):
        assert_same_predictions(proba, [0, 1])
    assert on_gpu("cuda") and on_gpu("cuda:1") and on_gpu("torch:cuda")
    assert not any(on_gpu(d) for d in ("cpu", "strict", "torch"))

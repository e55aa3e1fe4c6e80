"""The public Python API as another project sees it (DESIGN "Python API").

Inputs may be arrays of any Array API library on the network's device, or
host data (NumPy arrays, lists, tuples); results come back in the network's
namespace on its device; an array of another library or device is a
ValueError naming both; ``gnet.to_numpy`` brings any result to the host.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import gnet
import gnet.backend as B
from gnet.optim import SGD

HAS_TORCH = importlib.util.find_spec("torch") is not None


def small_problem(n=64, n_features=5, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(n_classes, n_features))
    y = rng.integers(0, n_classes, size=n)
    X = (centres[y] + rng.normal(size=(n, n_features))).astype(np.float32)
    return X, y.astype(np.int64)


def make_net(device, n_features=5, n_classes=3):
    return gnet.Network([n_features, 8, n_classes], ["relu", "softmax"], device=device, seed=1)


def lives_on(a, net) -> bool:
    """True when ``a`` is an array of the network's library on its device."""
    return B.is_array(a) and B.same_device(a, net.backend)


# ---------------------------------------------------------------- the package


def test_public_names_are_exported():
    for name in gnet.__all__:
        assert hasattr(gnet, name), name
    assert gnet.load is gnet.io.load_model
    assert gnet.datasets.load is gnet.data.load
    assert callable(gnet.to_numpy) and callable(gnet.get_backend)
    assert isinstance(gnet.__version__, str)
    for error in ("ConfigError", "DataError", "ModelFileError", "ImageError"):
        assert issubclass(getattr(gnet, error), (gnet.GNetError, ValueError))
    assert issubclass(gnet.DeviceError, RuntimeError)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = gnet.nope


def test_package_is_typed():
    assert (Path(gnet.__file__).parent / "py.typed").is_file()


def test_sklearn_module_is_separate():
    # scikit-learn is optional: `import gnet` must not import it.
    import subprocess
    import sys

    code = "import sys, gnet; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- any input, results on the device


def input_kinds(X, net):
    """The same data as host NumPy (float32, float64), a list, a tuple and a
    native array on the network's device."""
    return {
        "numpy-float32": X,
        "numpy-float64": X.astype(np.float64),
        "list": X.tolist(),
        "tuple": tuple(map(tuple, X.tolist())),
        "native": net.backend.asarray(X),
    }


def test_any_input_kind_gives_the_same_results_on_the_network_device(device):
    X, y = small_problem()
    net = make_net(device)
    reference = None
    for kind, data in input_kinds(X, net).items():
        proba = net.predict_proba(data)
        labels = net.predict(data)
        assert lives_on(proba, net) and lives_on(labels, net), kind
        assert tuple(proba.shape) == (len(X), 3) and tuple(labels.shape) == (len(X),)
        assert proba.dtype == net.xp.float32 and labels.dtype == net.xp.int64
        host = gnet.to_numpy(proba)
        if reference is None:
            reference = host
        np.testing.assert_allclose(host, reference, rtol=1e-6, atol=1e-7, err_msg=kind)


def test_fit_and_evaluate_take_every_input_kind(device):
    X, y = small_problem()
    results = []
    for kind in ("numpy", "list", "native"):
        net = make_net(device)
        if kind == "numpy":
            data, labels = X, y
        elif kind == "list":
            data, labels = X.tolist(), y.tolist()
        else:
            data, labels = net.backend.asarray(X), net.backend.asarray(y)
        history = net.fit(
            data,
            labels,
            epochs=2,
            batch_size=16,
            optimizer=SGD(0.1, momentum=0.9),
            validation_data=(data, labels),
        )
        assert isinstance(history, gnet.History) and len(history.epochs) == 2
        assert all(lives_on(p, net) for p in net.parameters())
        report = net.evaluate(data, labels)
        assert isinstance(report["accuracy"], float) and isinstance(report["loss"], float)
        assert isinstance(report["confusion_matrix"], list)
        results.append((history.loss, report["confusion_matrix"]))
    for loss, cm in results[1:]:
        np.testing.assert_allclose(loss, results[0][0], rtol=1e-5)
        assert cm == results[0][1]


def test_one_hot_labels_and_image_shaped_inputs(device):
    X, y = small_problem(n_features=4)
    net = make_net(device, n_features=4)
    one_hot = np.eye(3, dtype=np.float32)[y]
    assert net.evaluate(X, one_hot)["confusion_matrix"] == net.evaluate(X, y)["confusion_matrix"]
    images = X.reshape(-1, 2, 2)  # (N, H, W) is flattened to (N, H*W)
    np.testing.assert_array_equal(gnet.to_numpy(net.predict(images)), gnet.to_numpy(net.predict(X)))


# ---------------------------------------------------------------- mixing devices


def foreign_arrays(X):
    """Arrays of every library and device present: {description: array}."""
    arrays = {}
    strict_backend = gnet.get_backend("strict")
    arrays["strict-device1"] = strict_backend.asarray(X)
    arrays["strict-CPU_DEVICE"] = strict_backend.xp.asarray(X)
    if HAS_TORCH:
        import torch

        arrays["torch-cpu"] = torch.asarray(X)
    if B.cuda_available():
        import cupy

        arrays["cupy"] = cupy.asarray(X)
    return arrays


def test_arrays_of_another_library_or_device_are_errors_naming_both(device):
    X, y = small_problem()
    net = make_net(device)
    for kind, array in foreign_arrays(X).items():
        if B.same_device(array, net.backend):
            assert lives_on(net.predict(array), net)
            continue
        other = B.backend_of(array)
        for call in (
            lambda a=array: net.predict(a),
            lambda a=array: net.predict_proba(a),
            lambda a=array: net.evaluate(a, y),
            lambda a=array: net.fit(a, y, epochs=1),
        ):
            with pytest.raises(ValueError) as info:
                call()
            message = str(info.value)
            assert message.startswith("X is a"), (kind, message)
            assert other.name in message and str(other.device) in message, (kind, message)
            assert net.backend.name in message and str(net.backend.device) in message
            assert "gnet.to_numpy" in message


def test_labels_on_another_device_are_an_error_naming_y():
    X, y = small_problem()
    net = make_net("cpu")
    with pytest.raises(ValueError, match=r"^y is a strict array on .*device1.* numpy cpu"):
        net.fit(X, gnet.get_backend("strict").asarray(y), epochs=1)
    with pytest.raises(ValueError, match=r"^validation X is a strict array"):
        net.fit(X, y, epochs=1, validation_data=(gnet.get_backend("strict").asarray(X), y))


def test_to_numpy_brings_any_array_home(device):
    X, _ = small_problem()
    net = make_net(device)
    for a in (X, net.backend.asarray(X), *foreign_arrays(X).values()):
        host = gnet.to_numpy(a)
        assert isinstance(host, np.ndarray)
        np.testing.assert_array_equal(host, X)
    assert gnet.to_numpy(X) is X  # host arrays are not copied
    np.testing.assert_array_equal(gnet.to_numpy([[1, 2], [3, 4]]), [[1, 2], [3, 4]])


# ---------------------------------------------------------------- files across devices


def test_saved_model_loads_on_any_device(tmp_path, device):
    X, y = small_problem()
    net = make_net(device)
    net.fit(X, y, epochs=3, batch_size=16, optimizer=SGD(0.1, momentum=0.9))
    path = tmp_path / "model.safetensors"
    net.save(path, dataset="toy")
    expected = gnet.to_numpy(net.predict_proba(X))
    for target in ("cpu", "strict", device):
        loaded = gnet.load(path, device=target)
        assert isinstance(loaded, gnet.Network) and loaded.backend.spec == target
        proba = loaded.predict_proba(X)
        assert lives_on(proba, loaded)
        np.testing.assert_allclose(gnet.to_numpy(proba), expected, rtol=1e-5, atol=1e-6)
        assert loaded.metadata["dataset"] == "toy" and loaded.epochs_trained == 3

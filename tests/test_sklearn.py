"""GNetClassifier: scikit-learn's estimator checks, devices, pickling, partial fits."""

from __future__ import annotations

import importlib.util
import pickle
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import gnet  # noqa: E402
import gnet.backend as B  # noqa: E402
from gnet.errors import DeviceError  # noqa: E402
from gnet.sklearn import GNetClassifier  # noqa: E402

HAS_TORCH = importlib.util.find_spec("torch") is not None


def expected_failed_checks(estimator: GNetClassifier) -> dict[str, str]:
    """Checks GNetClassifier is known to fail, with the reason: none at present.

    (Skipped, not failed, on machines without pandas: the checks on pandas
    inputs; and check_array_api_input, which tests scikit-learn's own
    array_api_dispatch and needs SCIPY_ARRAY_API=1.)
    """
    return {}


@parametrize_with_checks(
    [GNetClassifier(), GNetClassifier(device="strict")],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def blobs(n=240, n_features=6, n_classes=3, seed=0):
    """Well separated Gaussian blobs: X float32 (n, n_features), y int64 in 0..n_classes-1."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(n_classes, n_features))
    y = rng.integers(0, n_classes, size=n)
    X = centres[y] + rng.normal(size=(n, n_features))
    return X.astype(np.float32), y.astype(np.int64)


SMALL = dict(hidden_layer_sizes=(16,), epochs=8, batch_size=32, learning_rate=0.05)


# ---------------------------------------------------------------- labels and attributes


def test_string_labels_and_attributes():
    X, y = blobs()
    names = np.array(["cat", "dog", "eel"])[y]
    clf = GNetClassifier(**SMALL).fit(X, names)
    assert clf.classes_.tolist() == ["cat", "dog", "eel"]
    assert clf.n_features_in_ == 6
    pred = clf.predict(X)
    assert isinstance(pred, np.ndarray) and set(pred.tolist()) <= {"cat", "dog", "eel"}
    assert clf.score(X, names) > 0.95
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], pred)
    assert clf.n_iter_ == 8 and len(clf.loss_curve_) == 8 and clf.t_ == 8 * len(X)
    assert clf.loss_ == clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert [w.shape for w in clf.coefs_] == [(6, 16), (16, 3)]
    assert [b.shape for b in clf.intercepts_] == [(16,), (3,)]
    assert clf.network_.class_names == ["cat", "dog", "eel"]
    assert clf.device_ == "cpu"


def test_unsorted_integer_and_binary_labels():
    X, y = blobs(n_classes=2)
    labels = np.where(y == 1, 7, -3)
    clf = GNetClassifier(**SMALL).fit(X, labels)
    assert clf.classes_.tolist() == [-3, 7]
    assert clf.predict_proba(X).shape == (len(X), 2)
    assert set(clf.predict(X).tolist()) <= {-3, 7}


def test_one_class_is_an_error():
    X, _ = blobs()
    with pytest.raises(ValueError, match="at least 2 classes"):
        GNetClassifier().fit(X, np.zeros(len(X)))


@pytest.mark.parametrize(
    "params, message",
    [
        ({"hidden_layer_sizes": (0,)}, "hidden_layer_sizes"),
        ({"hidden_layer_sizes": "16"}, "hidden_layer_sizes"),
        ({"activation": "swish"}, "activation"),
        ({"activation": ["relu", "tanh"]}, "activation"),
        ({"optimizer": "lbfgs"}, "optimizer"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"momentum": 1.5}, "momentum"),
        ({"dropout": 1.0}, "dropout"),
        ({"early_stopping": 0}, "early_stopping"),
        ({"early_stopping": 2, "validation_fraction": 1.5}, "validation_fraction"),
        ({"device": "tpu"}, "tpu"),
        ({"dtype": "float16"}, "dtype"),
    ],
)
def test_bad_hyperparameters_are_value_errors_at_fit(params, message):
    X, y = blobs(n=40)
    clf = GNetClassifier(**params)  # the constructor only stores
    with pytest.raises(ValueError, match=message):
        clf.fit(X, y)


def test_logistic_activation_per_layer_and_no_hidden_layer():
    X, y = blobs()
    clf = GNetClassifier(hidden_layer_sizes=(8, 8), activation=["logistic", "tanh"], epochs=3)
    assert clf.fit(X, y).network_.activation_names == ["sigmoid", "tanh", "softmax"]
    linear = GNetClassifier(
        hidden_layer_sizes=(), **{k: v for k, v in SMALL.items() if k != "hidden_layer_sizes"}
    )
    assert linear.fit(X, y).score(X, y) > 0.95
    assert len(linear.coefs_) == 1


# ---------------------------------------------------------------- scikit-learn tools


def test_pipeline_and_grid_search():
    X, y = blobs(n=180)
    pipe = make_pipeline(StandardScaler(), GNetClassifier(epochs=4, batch_size=32, normalize=False))
    grid = GridSearchCV(
        pipe,
        {
            "gnetclassifier__hidden_layer_sizes": [(8,), (16,)],
            "gnetclassifier__learning_rate": [0.01, 0.1],
        },
        cv=2,
    )
    grid.fit(X, y)
    assert set(grid.best_params_) == {
        "gnetclassifier__hidden_layer_sizes",
        "gnetclassifier__learning_rate",
    }
    assert len(grid.cv_results_["mean_test_score"]) == 4
    assert grid.score(X, y) > 0.9


def test_clone_keeps_parameters_not_fit():
    X, y = blobs()
    clf = GNetClassifier(hidden_layer_sizes=(5, 4), optimizer="adam", learning_rate=0.01, seed=3)
    clf.fit(X, y)
    copy = clone(clf)
    assert copy.get_params() == clf.get_params()
    assert not hasattr(copy, "network_") and not hasattr(copy, "classes_")


def test_same_seed_same_model_other_seed_other_model():
    X, y = blobs()
    a = GNetClassifier(**SMALL, seed=1).fit(X, y).predict_proba(X)
    b = GNetClassifier(**SMALL, seed=1).fit(X, y).predict_proba(X)
    c = GNetClassifier(**SMALL, seed=2).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
def test_optimizers_dropout_and_l2_learn(optimizer):
    X, y = blobs()
    lr = 0.05 if optimizer == "sgd" else 0.01
    clf = GNetClassifier(
        hidden_layer_sizes=(16,),
        optimizer=optimizer,
        learning_rate=lr,
        dropout=0.2,
        l2=1e-4,
        epochs=30,
        batch_size=32,
    )
    assert clf.fit(X, y).score(X, y) > 0.95


def test_dropconnect_reaches_the_network_and_learns():
    X, y = blobs()
    clf = GNetClassifier(hidden_layer_sizes=(16,), dropconnect=0.3, epochs=30, batch_size=32)
    assert clf.fit(X, y).network_.dropconnect == 0.3
    assert clf.score(X, y) > 0.95


def test_normalize_stores_the_input_statistics():
    X, y = blobs()
    X = X * 50.0 + 100.0
    clf = GNetClassifier(**SMALL).fit(X, y)
    assert clf.network_.input_mean == pytest.approx(float(np.mean(X, dtype=np.float64)), rel=1e-6)
    assert clf.network_.input_std == pytest.approx(float(np.std(X, dtype=np.float64)), rel=1e-6)
    assert clf.score(X, y) > 0.95
    raw = GNetClassifier(**SMALL, normalize=False).fit((X - 100.0) / 50.0, y)
    assert (raw.network_.input_mean, raw.network_.input_std) == (0.0, 1.0)


# ---------------------------------------------------------------- warm start, partial fits


def test_warm_start_continues_and_plain_fit_restarts():
    X, y = blobs()
    clf = GNetClassifier(**SMALL, warm_start=True).fit(X, y)
    first = [w.copy() for w in clf.coefs_]
    clf.fit(X, y)
    # n_iter_ counts the epochs of the last fit (scikit-learn >= 1.9); the curve and t_ go on.
    assert clf.n_iter_ == 8 and len(clf.loss_curve_) == 16 and clf.t_ == 16 * len(X)
    cold = GNetClassifier(**SMALL).fit(X, y)
    cold.fit(X, y)  # without warm_start a second fit starts anew: same as the first
    assert cold.n_iter_ == 8
    np.testing.assert_array_equal(cold.coefs_[0], first[0])
    assert not np.array_equal(clf.coefs_[0], first[0])
    with pytest.raises(ValueError, match="same classes"):
        clf.fit(X[y < 2], y[y < 2])


def test_partial_fit():
    X, y = blobs()
    clf = GNetClassifier(**SMALL)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    half = len(X) // 2
    clf.partial_fit(X[:half], y[:half], classes=[0, 1, 2, 3])  # class 3 never appears
    assert clf.classes_.tolist() == [0, 1, 2, 3] and clf.n_iter_ == 1
    for _ in range(5):
        clf.partial_fit(X[half:], y[half:])
        clf.partial_fit(X[:half], y[:half], classes=[0, 1, 2, 3])
    assert clf.n_iter_ == 1 and clf.t_ == 11 * half and len(clf.loss_curve_) == 11
    assert clf.predict_proba(X).shape == (len(X), 4)
    assert clf.score(X, y) > 0.95
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X[:4], [0, 1, 2, 9])
    with pytest.raises(ValueError, match="differs"):
        clf.partial_fit(X[:4], y[:4], classes=[0, 1, 2])
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:, :3], y)


def test_early_stopping_holds_out_a_validation_split():
    X, _ = blobs()
    noise = np.random.default_rng(5).integers(0, 3, size=len(X))  # nothing to learn: overfits
    clf = GNetClassifier(**{**SMALL, "epochs": 60}, early_stopping=2, validation_fraction=0.25)
    clf.fit(X, noise)
    assert clf.history_.stopped_early and clf.n_iter_ < 60
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None  # as MLPClassifier: the validation scores tell
    assert clf.t_ == clf.n_iter_ * (len(X) - len(X) // 4)
    y = blobs()[1]
    no_split = GNetClassifier(**SMALL, early_stopping=True, validation_fraction=0.0).fit(X, y)
    assert no_split.validation_scores_ is None and no_split.best_loss_ == min(no_split.loss_curve_)
    assert no_split.best_validation_score_ is None


# ---------------------------------------------------------------- devices


def strict_device1(a):
    """``a`` as an array-api-strict array on its non-default Device("device1")."""
    return B.get_backend("strict").asarray(a)


def test_numpy_and_strict_device1_inputs_give_the_same_model():
    X, y = blobs()
    X_dev, y_dev = strict_device1(X), strict_device1(y)
    device1 = X_dev.device
    assert str(device1) != "CPU_DEVICE"

    on_host = GNetClassifier(**SMALL, device="strict").fit(X, y)
    on_dev = GNetClassifier(**SMALL, device="strict").fit(X_dev, y_dev)
    for a, b in zip(on_host.coefs_, on_dev.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)

    pred_host = on_host.predict(X)
    pred_dev = on_dev.predict(X_dev)
    assert isinstance(pred_host, np.ndarray)
    assert type(pred_dev).__module__.startswith("array_api_strict") and pred_dev.device == device1
    np.testing.assert_array_equal(gnet.to_numpy(pred_dev), pred_host)
    proba_dev = on_dev.predict_proba(X_dev)
    assert proba_dev.device == device1 and tuple(proba_dev.shape) == (len(X), 3)
    np.testing.assert_array_equal(gnet.to_numpy(proba_dev), on_host.predict_proba(X))
    # Host input to a device-fitted model gives host output, and the reverse.
    np.testing.assert_array_equal(on_dev.predict(X), pred_host)
    assert on_host.predict(X_dev).device == device1
    assert on_dev.score(X_dev, y_dev) == on_host.score(X, y) > 0.95

    # And the NumPy backend agrees (same seed, same start, float tolerance).
    on_cpu = GNetClassifier(**SMALL).fit(X, y)
    np.testing.assert_array_equal(on_cpu.predict(X), pred_host)
    np.testing.assert_allclose(on_cpu.predict_proba(X), on_host.predict_proba(X), atol=1e-5)


def test_device_predictions_of_string_labels_are_numpy():
    X, y = blobs()
    names = np.array(["a", "b", "c"])[y]
    clf = GNetClassifier(**SMALL, device="strict").fit(strict_device1(X), names)
    pred = clf.predict(strict_device1(X))
    assert isinstance(pred, np.ndarray) and pred.dtype.kind == "U"
    assert clf.predict_proba(strict_device1(X)).device == strict_device1(X).device


def test_device_inputs_are_validated_like_numpy_inputs():
    X, y = blobs()
    clf = GNetClassifier(**SMALL, device="strict")
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clf.fit(strict_device1(X), y[:-1])
    clf.fit(strict_device1(X), y)
    with pytest.raises(ValueError, match="X has 3 features, but GNetClassifier is expecting 6"):
        clf.predict(strict_device1(X[:, :3]))
    with pytest.raises(ValueError, match="Reshape your data"):
        clf.predict(strict_device1(X[0]))
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(strict_device1(bad))


def test_arrays_of_another_device_are_an_error_naming_both():
    X, y = blobs()
    import array_api_strict as strict

    on_cpu_device = strict.asarray(X)  # array-api-strict's default CPU_DEVICE
    clf = GNetClassifier(**SMALL, device="strict")
    with pytest.raises(ValueError, match=r"strict array on .*CPU_DEVICE.*strict on .*device1"):
        clf.fit(on_cpu_device, y)
    clf.fit(X, y)
    with pytest.raises(ValueError, match=r"CPU_DEVICE.*device1"):
        clf.predict(on_cpu_device)
    numpy_clf = GNetClassifier(**SMALL).fit(X, y)
    with pytest.raises(ValueError, match=r"strict array on .*device1.*numpy on cpu"):
        numpy_clf.predict(strict_device1(X))


@pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")
def test_torch_tensors_follow_x():
    import torch

    X, y = blobs()
    clf = GNetClassifier(**SMALL, device="torch").fit(torch.asarray(X), torch.asarray(y))
    pred = clf.predict(torch.asarray(X))
    assert isinstance(pred, torch.Tensor) and pred.dtype == torch.int64
    assert isinstance(clf.predict_proba(torch.asarray(X)), torch.Tensor)
    np.testing.assert_array_equal(pred.numpy(), clf.predict(X))
    cpu = GNetClassifier(**SMALL).fit(X, y)
    np.testing.assert_array_equal(cpu.predict(X), clf.predict(X))
    with pytest.raises(ValueError, match="torch array on cpu.*numpy on cpu"):
        cpu.predict(torch.asarray(X))


# ---------------------------------------------------------------- pickling


@pytest.mark.parametrize("device", ["cpu", "strict"])
def test_pickle_round_trip_keeps_the_model_and_device(device):
    X, y = blobs()
    clf = GNetClassifier(**SMALL, device=device).fit(X, y)
    data = pickle.dumps(clf)
    back = pickle.loads(data)
    assert back.device_ == device and back.network_.backend.spec == device
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    assert back.get_params() == clf.get_params()
    # partial_fit goes on with the restored optimiser state, as the original does.
    clf.partial_fit(X, y)
    back.partial_fit(X, y)
    np.testing.assert_allclose(back.predict_proba(X), clf.predict_proba(X), atol=1e-6)


def test_unfitted_estimator_pickles():
    back = pickle.loads(pickle.dumps(GNetClassifier(epochs=3)))
    assert back.epochs == 3 and not hasattr(back, "network_")


def _no_accelerators(monkeypatch):
    """Make every device but "cpu" unavailable, as on a CPU-only machine."""
    real = B.get_backend

    def cpu_only(device=None):
        if isinstance(device, B.Backend) or device in (None, "cpu"):
            return real(device)
        raise DeviceError(f"--device {device}: CuPy finds no GPU; use --device cpu")

    monkeypatch.setattr(B, "get_backend", cpu_only)


@pytest.mark.parametrize(
    "device",
    [
        "strict",
        pytest.param(
            "cuda",
            marks=pytest.mark.skipif(not B.cuda_available(), reason="no CuPy GPU here"),
        ),
    ],
)
def test_model_fitted_on_a_device_unpickles_on_a_cpu_only_machine(monkeypatch, device):
    X, y = blobs()
    clf = GNetClassifier(**SMALL, device=device).fit(X, y)
    data = pickle.dumps(clf)
    with monkeypatch.context() as m:
        _no_accelerators(m)
        with pytest.warns(RuntimeWarning, match=f"fitted on device '{device}'.*runs on 'cpu'"):
            back = pickle.loads(data)
    assert back.device_ == "cpu" and back.network_.backend.name == "numpy"
    assert back.device == device  # the parameter is what the user asked for
    np.testing.assert_allclose(back.predict_proba(X), clf.predict_proba(X), atol=1e-6)
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back.partial_fit(X, y)  # the optimiser state moved to the host too
    if device == "strict":  # where the device is there again, a new fit uses it
        back.fit(strict_device1(X), y)
        assert back.device_ == "strict" and str(back.predict(strict_device1(X)).device) == str(
            strict_device1(X).device
        )


def test_pickle_holds_only_host_arrays():
    X, y = blobs()
    clf = GNetClassifier(**SMALL, device="strict").fit(X, y)
    state = clf.__getstate__()
    assert all(isinstance(p, np.ndarray) for p in state["network_"]["params"])
    assert state["network_"]["device"] == "strict"
    momentum = state["_optimizer"].state
    assert momentum and all(isinstance(v, np.ndarray) for v in momentum.values())


# ---------------------------------------------------------------- real data


def test_mnist_subset(mnist):
    (X, y), (X_test, y_test) = mnist
    clf = GNetClassifier(hidden_layer_sizes=(64,), epochs=3).fit(X[:3000], y[:3000])
    assert clf.score(X_test[:2000], y_test[:2000]) > 0.85


def test_docstring_example_runs():
    import doctest

    import gnet.sklearn

    result = doctest.testmod(gnet.sklearn, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 2 and result.failed == 0


# ---------------------------------------------------------------- layer specs

needs_conv = pytest.mark.skipif(
    "conv2d" not in gnet.layers.LAYERS, reason="conv2d layers are not registered yet"
)
CONV = [
    {"type": "conv2d", "filters": 4, "kernel_size": 3, "activation": "relu"},
    {"type": "maxpool2d", "pool_size": 2},
    {"type": "flatten"},
]


def test_layer_spec_list_appends_the_output_layer_unless_given():
    X, y = blobs()
    hidden = [
        {"type": "dense", "units": 16, "activation": "relu"},
        {"type": "dropout", "rate": 0.1},
    ]
    clf = GNetClassifier(layers=hidden, epochs=8, batch_size=32, learning_rate=0.05).fit(X, y)
    assert [layer.type for layer in clf.network_.layers] == ["dense", "dropout", "dense"]
    assert clf.network_.layers[-1].spec()["units"] == 3 and clf.score(X, y) > 0.95
    assert hidden[0] == {"type": "dense", "units": 16, "activation": "relu"}  # not modified
    full = [*hidden, {"type": "dense", "units": 3, "activation": "softmax"}]
    same = GNetClassifier(layers=full, epochs=8, batch_size=32, learning_rate=0.05).fit(X, y)
    for a, b in zip(same.coefs_, clf.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)
    # The same layers as sizes + activations: the same network, bit for bit.
    mlp = GNetClassifier(hidden_layer_sizes=(16,), dropout=0.1, **SMALL_OPTS).fit(X, y)
    for a, b in zip(mlp.coefs_, clf.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)
    wrong = [*hidden, {"type": "dense", "units": 10, "activation": "softmax"}]
    with pytest.raises(ValueError, match=r"layers\[2\].units.*3 classes"):
        GNetClassifier(layers=wrong).fit(X, y)


SMALL_OPTS = dict(epochs=8, batch_size=32, learning_rate=0.05)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"layers": "dense"}, "layers"),
        ({"layers": [{"type": "dens", "units": 4}]}, r"layers\[0\].type"),
        ({"layers": [{"type": "dense"}]}, r"layers\[0\].units"),
        ({"layers": [{"type": "dense", "units": 4}], "dropout": 0.2}, "dropout"),
        ({"input_shape": (2, 4)}, "input_shape"),
        ({"input_shape": (7,)}, "input_shape"),
        ({"input_shape": (3, 3, 1)}, "9 values per sample but X has 6 features"),
    ],
)
def test_bad_layers_and_input_shapes_are_value_errors_at_fit(params, message):
    X, y = blobs(n=40)
    with pytest.raises(ValueError, match=message):
        GNetClassifier(**params).fit(X, y)


def test_spec_networks_clone_and_pickle():
    X, y = blobs()
    spec = [{"type": "dense", "units": 8, "activation": "tanh"}, {"type": "dropout", "rate": 0.2}]
    clf = GNetClassifier(layers=spec, input_shape=(6,), **SMALL_OPTS).fit(X, y)
    params = clone(clf).get_params()
    assert params["layers"] == spec and params["input_shape"] == (6,)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    assert again.network_.spec() == clf.network_.spec()


@needs_conv
def test_conv_spec_trains_on_flat_rows(mnist):
    (X, y), (Xt, yt) = mnist
    clf = GNetClassifier(
        layers=CONV,
        input_shape=(28, 28, 1),
        optimizer="adam",
        learning_rate=2e-3,
        epochs=2,
        batch_size=32,
    )
    clf.fit(X[:1500], y[:1500])
    assert clf.network_.input_shape == (28, 28, 1)
    assert [layer.type for layer in clf.network_.layers] == [
        "conv2d",
        "maxpool2d",
        "flatten",
        "dense",
    ]
    assert clf.coefs_[0].shape == (3, 3, 1, 4)
    assert clf.score(Xt[:1000], yt[:1000]) > 0.8
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(Xt[:50]), clf.predict_proba(Xt[:50]))
    fresh = clone(clf)
    assert fresh.get_params()["layers"] == CONV and not hasattr(fresh, "network_")


@needs_conv
def test_batchnorm_running_statistics_survive_pickling():
    X, y = blobs()
    spec = [{"type": "dense", "units": 8, "activation": "relu"}, {"type": "batchnorm"}]
    clf = GNetClassifier(layers=spec, **SMALL_OPTS).fit(X, y)
    state = clf.network_.layers[1].state
    assert state and all(np.any(gnet.to_numpy(v) != 0) for v in state.values())
    again = pickle.loads(pickle.dumps(clf))
    for name, value in state.items():
        np.testing.assert_array_equal(
            gnet.to_numpy(again.network_.layers[1].state[name]), gnet.to_numpy(value)
        )
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))


@pytest.mark.skipif("flatten" not in gnet.layers.LAYERS, reason="flatten is not registered yet")
def test_image_input_shape_with_hidden_layer_sizes_flattens_first():
    X, y = blobs(n_features=8)
    clf = GNetClassifier(hidden_layer_sizes=(16,), input_shape=(2, 4, 1), **SMALL_OPTS).fit(X, y)
    assert [layer.type for layer in clf.network_.layers] == ["flatten", "dense", "dense"]
    flat = GNetClassifier(hidden_layer_sizes=(16,), **SMALL_OPTS).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), flat.predict_proba(X))


def test_early_stopping_holds_out_a_stratified_split_as_mlpclassifier_does():
    from sklearn.model_selection import train_test_split

    X, y = blobs()
    y = np.where(np.random.default_rng(1).random(len(y)) < 0.2, (y + 1) % 3, y)  # some noise
    clf = GNetClassifier(**SMALL, early_stopping=50, validation_fraction=0.25, seed=4).fit(X, y)
    # MLPClassifier's split: train_test_split(..., stratify=y), here with random_state=seed.
    _, val = train_test_split(np.arange(len(X)), test_size=0.25, random_state=4, stratify=y)
    assert np.abs(np.bincount(y[val], minlength=3) - 0.25 * np.bincount(y)).max() < 1
    assert clf.t_ == clf.n_iter_ * (len(X) - len(val))
    # The best epoch's weights are kept: their accuracy on those rows is that epoch's.
    best = int(np.argmin(clf.history_["val_loss"]))
    assert clf.score(X[val], y[val]) == pytest.approx(clf.validation_scores_[best])


# ---------------------------------------------------------------- MLPClassifier parity (gnet side)


NUMPY_SCALARS = dict(
    hidden_layer_sizes=np.int64(8),
    batch_size=np.int32(16),
    epochs=np.int64(3),
    learning_rate=np.float32(0.05),
    momentum=np.float32(0.5),
    nesterov=np.bool_(True),
    dropout=np.float32(0.1),
    dropconnect=np.float64(0.1),
    l2=np.float32(1e-4),
    early_stopping=np.int64(3),
    validation_fraction=np.float32(0.25),
    seed=np.uint8(2),
    shuffle=np.bool_(True),
)


def test_numpy_scalar_hyperparameters_mean_their_python_values():
    X, y = blobs()
    plain = {k: v.item() for k, v in NUMPY_SCALARS.items()}
    a = GNetClassifier(**NUMPY_SCALARS).fit(X, y)
    b = GNetClassifier(**plain).fit(X, y)
    assert a.n_iter_ == b.n_iter_ == 3
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert a.get_params()["batch_size"] is NUMPY_SCALARS["batch_size"]  # stored as given
    for name in ("adam", "rmsprop"):
        GNetClassifier(optimizer=np.str_(name), learning_rate=np.float32(0.01), epochs=1).fit(X, y)
    layers = [{"type": "dense", "units": np.int64(8), "activation": np.str_("relu")}]
    c = GNetClassifier(layers=layers, input_shape=np.array([6]), epochs=np.int16(1)).fit(X, y)
    assert c.network_.layers[0].spec()["units"] == 8


def test_grid_from_arange_and_randomized_search_with_scipy_distributions():
    from scipy.stats import loguniform, randint
    from sklearn.model_selection import RandomizedSearchCV

    X, y = blobs(n=120)
    grid = GridSearchCV(
        GNetClassifier(epochs=2),
        {"batch_size": np.arange(16, 48, 16), "learning_rate": np.arange(0.02, 0.06, 0.02)},
        cv=2,
    ).fit(X, y)
    assert len(grid.cv_results_["mean_test_score"]) == 4
    search = RandomizedSearchCV(
        GNetClassifier(epochs=2, optimizer="adam"),
        {
            "learning_rate": loguniform(1e-3, 1e-1),
            "batch_size": randint(8, 64),
            "hidden_layer_sizes": randint(4, 16),
            "epochs": randint(1, 3),
            "seed": randint(0, 100),
        },
        n_iter=3,
        cv=2,
        random_state=0,
    ).fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


@pytest.mark.parametrize("value", [np.float64(-1.0), np.int64(0), np.float32(np.nan)])
def test_bad_numpy_scalars_are_still_named(value):
    X, y = blobs(n=40)
    with pytest.raises(ValueError, match="learning_rate"):
        GNetClassifier(learning_rate=value).fit(X, y)


def test_predict_log_proba_is_the_log_of_predict_proba_on_host_and_device():
    X, y = blobs()
    clf = GNetClassifier(**SMALL).fit(X, y)
    log_proba = clf.predict_log_proba(X)
    assert isinstance(log_proba, np.ndarray) and log_proba.shape == (len(X), 3)
    np.testing.assert_allclose(log_proba, np.log(clf.predict_proba(X)))
    dev = GNetClassifier(**SMALL, device="strict").fit(X, y)
    on_device = dev.predict_log_proba(strict_device1(X))
    assert on_device.device == strict_device1(X).device
    np.testing.assert_allclose(gnet.to_numpy(on_device), np.log(dev.predict_proba(X)), rtol=1e-6)


@pytest.mark.parametrize("device", ["cpu", "strict"])
def test_dtype_follows_x_unless_given(device):
    X, y = blobs(n=60)
    small = dict(hidden_layer_sizes=(4,), epochs=1, device=device)
    for data, expected in [
        (X, "float32"),
        (X.astype(np.float64), "float64"),
        (X.astype(int), "float64"),
    ]:
        clf = GNetClassifier(**small).fit(data, y)
        assert clf.coefs_[0].dtype == expected and clf.predict_proba(data).dtype == expected
    assert (
        GNetClassifier(**small, dtype="float32").fit(X.astype(np.float64), y).coefs_[0].dtype
        == np.float32
    )
    assert GNetClassifier(**small, dtype="float64").fit(X, y).coefs_[0].dtype == np.float64
    if device == "strict":
        dev64 = strict_device1(X.astype(np.float64))
        assert GNetClassifier(**small).fit(dev64, y).coefs_[0].dtype == np.float64
        assert GNetClassifier(**small).fit(strict_device1(X), y).coefs_[0].dtype == np.float32


def test_partial_fit_with_early_stopping_is_scikit_learns_value_error():
    X, y = blobs()
    for early_stopping in (True, 3):
        clf = GNetClassifier(**SMALL, early_stopping=early_stopping)
        with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
            clf.partial_fit(X, y, classes=[0, 1, 2])
        assert not hasattr(clf, "network_")  # refused before anything was set up
    fitted = GNetClassifier(**SMALL, early_stopping=True).fit(X, y)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        fitted.partial_fit(X, y)
    fitted.set_params(early_stopping=None).partial_fit(X, y)
    assert fitted.n_iter_ == 1 and fitted.validation_scores_ is None


def test_stratified_split_errors_are_scikit_learns():
    X = np.arange(40, dtype=float).reshape(20, 2)
    y = np.array(["a"] * 19 + ["b"])
    clf = GNetClassifier(epochs=2, early_stopping=True)
    with pytest.raises(ValueError, match=r"least populated classes.*too few members are: \['b'\]"):
        clf.fit(X, y)
    # Stratified, the split holds out at least one sample per class, or says so.
    with pytest.raises(ValueError, match="test_size = 1 should be greater or equal to the number"):
        GNetClassifier(epochs=2, early_stopping=True, validation_fraction=0.05).fit(
            X, ["a", "b"] * 10
        )

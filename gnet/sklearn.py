"""GNetClassifier: a scikit-learn estimator over :class:`gnet.Network`.

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from gnet.sklearn import GNetClassifier

    clf = make_pipeline(StandardScaler(), GNetClassifier(hidden_layer_sizes=(64,), epochs=5))
    clf.fit(X_train, y_train)           # any labels: ints, strings, ...
    clf.predict(X_test); clf.predict_proba(X_test); clf.score(X_test, y_test)

The network is ``[n_features, *hidden_layer_sizes, n_classes]`` with the
hidden ``activation`` and a softmax output trained on cross-entropy.
Hyperparameter names follow scikit-learn's ``MLPClassifier`` where it has
one (``hidden_layer_sizes``, ``activation``, ``momentum``, ``batch_size``,
``early_stopping``, ``validation_fraction``, ``shuffle``, ``warm_start``,
``partial_fit``); the rest are gnet's (``optimizer``, ``learning_rate``,
``epochs``, ``l2``, ``dropout``, ``dropconnect``, ``device``, ``seed``).

Devices ("everything follows X"): ``device`` is any gnet device string
("cpu", "cuda", "cuda:N", "torch", "torch:cuda", "strict"). Host data
(NumPy arrays, lists, pandas frames) is validated by scikit-learn, moved to
the device for the arithmetic, and results come back as NumPy arrays. An
array that already lives on the estimator's device (a CuPy array with
``device="cuda"``, a torch tensor with ``device="torch"``, ...) stays there,
and ``predict`` / ``predict_proba`` return arrays of that library on that
device (``predict`` returns NumPy when the class labels are strings, which
no device array can hold). An array of another library or device is a
``ValueError`` naming both. Labels ``y`` may be any array or list; they are
read on the host (one small copy per fit).

Pickling stores the weights as host NumPy arrays with the device name, so a
model fitted on a GPU unpickles on a machine without one: it then runs on
"cpu", with a warning.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from array_api_compat import array_namespace
from sklearn.base import BaseEstimator, ClassifierMixin  # type: ignore[import-untyped]
from sklearn.metrics import accuracy_score  # type: ignore[import-untyped]
from sklearn.utils.multiclass import (  # type: ignore[import-untyped]
    check_classification_targets,
)
from sklearn.utils.validation import (  # type: ignore[import-untyped]
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from . import backend as B
from .errors import ConfigError, DeviceError
from .network import Network
from .optim import Optimizer, get_optimizer

__all__ = ["GNetClassifier"]

# scikit-learn's activation names that gnet spells otherwise.
_ACTIVATION_ALIASES = {"logistic": "sigmoid"}


class GNetClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A multi-layer perceptron classifier trained by gnet, on any gnet device.

    Parameters
    ----------
    hidden_layer_sizes : sizes of the hidden layers; ``()`` gives softmax regression
    activation : hidden activation: "relu", "tanh", "logistic" (= "sigmoid"),
        "leaky_relu", "identity"; or one name per hidden layer
    optimizer : "sgd", "adam" or "rmsprop"
    learning_rate : step size of the optimiser
    momentum : SGD momentum in [0, 1) (ignored by adam and rmsprop)
    nesterov : Nesterov momentum (SGD with momentum > 0)
    batch_size : rows per mini-batch (capped at the number of samples)
    epochs : passes over the data per ``fit`` (``partial_fit`` does one)
    dropout : inverted-dropout rate on each hidden layer's output, in [0, 1)
    dropconnect : DropConnect rate on the weights into each hidden layer, in [0, 1)
    l2 : L2 penalty on the weights (adds ``l2 * W`` to the gradient)
    early_stopping : None/False for off; an integer patience in epochs
        (``True`` means 10) on the validation loss; the best weights are kept
    validation_fraction : share of the training data held out for early
        stopping (0 monitors the training loss); ignored without early stopping
    lr_schedule : None or a gnet schedule spec ("step:10:0.5", "cosine", ...)
    init : weight initialiser: "he", "glorot", "normal" or "uniform"
    dtype : "float32" or "float64" for weights and arithmetic
    shuffle : draw a new permutation of the samples each epoch
    normalize : standardise inputs as (X - mean) / std with the overall mean
        and standard deviation of the first fit's X (two numbers, kept in the
        network and its model file), so that the default SGD settings do not
        diverge on unscaled data; False leaves inputs as they are (e.g. after
        a StandardScaler)
    device : a gnet device string; see the module docstring
    seed : seeds initial weights, shuffling, dropout and the validation split
    warm_start : ``fit`` continues from the previous solution (same classes
        and features) instead of starting anew

    Attributes
    ----------
    classes_ : (n_classes,) NumPy array of the labels seen in ``fit``
    n_features_in_ : number of input features
    feature_names_in_ : column names, when fitted on a frame with string column names
    network_ : the trained :class:`gnet.Network`
    history_ : the :class:`gnet.History` of the last ``fit`` / ``partial_fit`` call
    loss_ : training loss of the last epoch
    loss_curve_ : training loss of every epoch (over warm starts and partial fits)
    validation_scores_ : validation accuracy per epoch with early stopping, else None
    best_loss_ : best monitored loss with early stopping, else None
    n_iter_ : epochs trained in all
    t_ : training samples seen in all
    device_ : the device string the network lives on

    Example
    -------
    >>> from gnet.sklearn import GNetClassifier
    >>> clf = GNetClassifier(hidden_layer_sizes=(16,), epochs=20).fit(
    ...     [[0, 0], [0, 1], [1, 0], [1, 1]] * 8, ["no", "yes", "yes", "no"] * 8)
    >>> clf.predict([[0, 1]]).tolist()
    ['yes']
    """

    def __init__(
        self,
        hidden_layer_sizes: Sequence[int] = (128,),
        activation: str | Sequence[str] = "relu",
        optimizer: str = "sgd",
        learning_rate: float = 0.1,
        momentum: float = 0.9,
        nesterov: bool = False,
        batch_size: int = 128,
        epochs: int = 10,
        dropout: float = 0.0,
        dropconnect: float = 0.0,
        l2: float = 0.0,
        early_stopping: int | bool | None = None,
        validation_fraction: float = 0.1,
        lr_schedule: str | None = None,
        init: str = "he",
        dtype: str = "float32",
        shuffle: bool = True,
        normalize: bool = True,
        device: str = "cpu",
        seed: int = 0,
        warm_start: bool = False,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.nesterov = nesterov
        self.batch_size = batch_size
        self.epochs = epochs
        self.dropout = dropout
        self.dropconnect = dropconnect
        self.l2 = l2
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.lr_schedule = lr_schedule
        self.init = init
        self.dtype = dtype
        self.shuffle = shuffle
        self.normalize = normalize
        self.device = device
        self.seed = seed
        self.warm_start = warm_start

    # ------------------------------------------------------------ training

    def fit(self, X: Any, y: Any) -> GNetClassifier:
        """Train on X (n_samples, n_features) and labels y (n_samples,); returns self.

        Starts from new weights unless ``warm_start`` is set and the estimator
        was fitted before on the same classes and number of features.
        """
        warm = self.warm_start and hasattr(self, "network_")
        backend = self.network_.backend if warm else B.get_backend(self.device)
        X, y, on_device = self._validate_fit(X, y, backend, reset=not warm)
        classes = np.unique(y)
        if warm:
            if not _same_classes(classes, self.classes_):
                raise ValueError(
                    "warm_start can only be used where y has the same classes as in the "
                    f"previous call to fit: previous {self.classes_.tolist()!r}, "
                    f"now {classes.tolist()!r}"
                )
        else:
            self._start(X, classes, backend)
        y_index = np.searchsorted(self.classes_, y)
        self._train(X, y_index, on_device, epochs=self.epochs, incremental=False)
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> GNetClassifier:
        """One epoch over (X, y), continuing from the current weights.

        ``classes`` (every label that will ever appear) is required on the
        first call and may be repeated later; early stopping does not apply.
        """
        first = not hasattr(self, "network_")
        backend = B.get_backend(self.device) if first else self.network_.backend
        X, y, on_device = self._validate_fit(X, y, backend, reset=first)
        if classes is not None:
            classes = np.unique(column_or_1d(_host(classes)))
            if not first and not _same_classes(classes, self.classes_):
                raise ValueError(
                    f"classes={classes.tolist()!r} differs from the classes of the first "
                    f"partial_fit call {self.classes_.tolist()!r}"
                )
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
            self._start(X, classes, backend)
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if unknown.size:
            raise ValueError(
                f"y contains labels not in classes: {unknown.tolist()!r} "
                f"(classes are {self.classes_.tolist()!r})"
            )
        y_index = np.searchsorted(self.classes_, y)
        self._train(X, y_index, on_device, epochs=1, incremental=True)
        return self

    def _start(self, X: Any, classes: Any, backend: B.Backend) -> None:
        """Fresh network and bookkeeping for the classes and width of X."""
        if len(classes) < 2:
            raise ValueError(
                f"GNetClassifier needs samples of at least 2 classes; y has only one class: "
                f"{classes.tolist()!r}"
            )
        hidden = _hidden_sizes(self.hidden_layer_sizes)
        activations = _activations(self.activation, len(hidden))
        mean, std = _mean_std(X) if self.normalize else (0.0, 1.0)
        self.classes_ = classes
        self.network_ = Network(
            [int(X.shape[1]), *hidden, len(classes)],
            [*activations, "softmax"],
            loss="cross-entropy",
            init=self.init,
            device=backend,
            dtype=self.dtype,
            seed=self.seed,
            dropout=self.dropout,
            dropconnect=self.dropconnect,
            class_names=[str(c) for c in classes],
            input_mean=mean,
            input_std=std,
        )
        self.device_ = self.network_.backend.spec
        self.loss_curve_: list[float] = []
        self.validation_scores_: list[float] | None = None
        self.best_loss_: float | None = None
        self.t_ = 0
        if hasattr(self, "_optimizer"):
            del self._optimizer

    def _train(self, X: Any, y_index: Any, on_device: bool, epochs: int, incremental: bool) -> None:
        net = self.network_
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = self._make_optimizer()
        patience = None if incremental else _patience(self.early_stopping)
        validation = None
        if patience is not None and self.validation_fraction:
            X, y_index, validation = self._split(X, y_index, on_device)
        history = net.fit(
            X,
            y_index,
            epochs=epochs,
            mode="mini-batch",
            batch_size=self.batch_size,
            optimizer=self._optimizer,
            lr_schedule=self.lr_schedule,
            validation_data=validation,
            early_stopping=patience,
            shuffle=self.shuffle,
        )
        self.history_ = history
        self.loss_curve_.extend(history.loss)
        self.loss_ = history.loss[-1]
        if patience is not None:
            monitored = history["val_loss"] if validation is not None else history.loss
            self.best_loss_ = min(v for v in monitored if v is not None)
            if validation is not None:
                self.validation_scores_ = [
                    *(self.validation_scores_ or []),
                    *history["val_accuracy"],
                ]
        self.n_iter_ = net.epochs_trained
        self.t_ += sum(e["samples"] for e in history.epochs)

    def _make_optimizer(self) -> Optimizer:
        if not isinstance(self.optimizer, str):
            raise ConfigError(
                f"optimizer: expected 'sgd', 'adam' or 'rmsprop', got {self.optimizer!r}"
            )
        kwargs: dict[str, Any] = {"learning_rate": self.learning_rate, "l2": self.l2}
        if self.optimizer.strip().lower() == "sgd":
            kwargs.update(momentum=self.momentum, nesterov=self.nesterov)
        return get_optimizer(self.optimizer, **kwargs)

    def _split(self, X: Any, y_index: Any, on_device: bool) -> tuple[Any, Any, tuple[Any, Any]]:
        """Hold out ``validation_fraction`` of the samples (host permutation from seed)."""
        fraction = self.validation_fraction
        if isinstance(fraction, bool) or not (
            isinstance(fraction, (int, float)) and 0.0 <= fraction < 1.0
        ):
            raise ConfigError(f"validation_fraction: must be in [0, 1), got {fraction!r}")
        n = int(X.shape[0])
        n_val = int(n * fraction)
        if n_val < 1 or n - n_val < 1:
            raise ValueError(
                f"validation_fraction={fraction} of {n} samples leaves no validation or no "
                "training samples; use more data, another fraction, or validation_fraction=0"
            )
        order = np.random.default_rng([self.seed, 2]).permutation(n)
        val, train = order[:n_val], order[n_val:]
        if on_device:
            xp, backend = self.network_.xp, self.network_.backend
            X_train = xp.take(X, backend.asarray(train), axis=0)
            X_val = xp.take(X, backend.asarray(val), axis=0)
        else:
            X_train, X_val = X[train], X[val]
        return X_train, y_index[train], (X_val, y_index[val])

    # ------------------------------------------------------------ inference

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities (n_samples, n_classes), columns in ``classes_`` order.

        NumPy for host input; an array of the estimator's device for input on it.
        """
        check_is_fitted(self)
        X, on_device = self._validate_predict(X, self.network_.backend)
        proba = self.network_.predict_proba(X)
        return proba if on_device else B.to_numpy(proba)

    def predict(self, X: Any) -> Any:
        """Predicted labels (n_samples,) taken from ``classes_``.

        NumPy for host input; for input on the estimator's device an array
        there (NumPy when the labels are strings).
        """
        check_is_fitted(self)
        X, on_device = self._validate_predict(X, self.network_.backend)
        index = self.network_.predict(X)
        if on_device and self.classes_.dtype.kind in "biuf":
            classes = self.network_.backend.asarray(self.classes_)
            return self.network_.xp.take(classes, index)
        return self.classes_[B.to_numpy(index)]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean accuracy of ``predict(X)`` against y (a Python float)."""
        y_pred = B.to_numpy(self.predict(X))
        return float(accuracy_score(_host(y), y_pred, sample_weight=_host_or_none(sample_weight)))

    # ------------------------------------------------------------ MLPClassifier-style views

    @property
    def coefs_(self) -> list[np.ndarray]:
        """Host copies of the weight matrices, (in, out) each."""
        check_is_fitted(self)
        return [
            np.array(B.to_numpy(layer.params["weight"]))
            for layer in self.network_.layers
            if "weight" in layer.params
        ]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """Host copies of the bias vectors, (out,) each."""
        check_is_fitted(self)
        return [
            np.array(B.to_numpy(layer.params["bias"]))
            for layer in self.network_.layers
            if "bias" in layer.params
        ]

    # ------------------------------------------------------------ validation

    def _on_device(self, X: Any, backend: B.Backend) -> bool:
        """True for an array on the estimator's (non-NumPy) device; raises for
        an array of another library or device."""
        if not B.is_array(X) or B.is_array_of_host(X):
            return False
        if B.same_device(X, backend):
            return backend.name != "numpy"
        other = B.backend_of(X)
        raise ValueError(
            f"X is a {other.name} array on {other.device} but GNetClassifier(device="
            f"{self.device!r}) computes with {backend.name} on {backend.device}; move X there "
            "(or to the host with gnet.to_numpy) or set device to match"
        )

    def _validate_fit(
        self, X: Any, y: Any, backend: B.Backend, reset: bool
    ) -> tuple[Any, Any, bool]:
        """(X, y as a host label array, whether X stays on the device)."""
        on_device = self._on_device(X, backend)
        if on_device:
            X = self._check_device_array(X, reset)
            y = column_or_1d(_host(y), warn=True)
            if y.shape[0] != X.shape[0]:
                raise ValueError(
                    f"Found input variables with inconsistent numbers of samples: "
                    f"[{X.shape[0]}, {y.shape[0]}]"
                )
        else:
            X, y = validate_data(
                self, X, y, reset=reset, dtype=[np.float32, np.float64], y_numeric=False
            )
        check_classification_targets(y)
        return X, y, on_device

    def _validate_predict(self, X: Any, backend: B.Backend) -> tuple[Any, bool]:
        on_device = self._on_device(X, backend)
        if on_device:
            return self._check_device_array(X, reset=False), True
        X = validate_data(self, X, reset=False, dtype=[np.float32, np.float64])
        return X, False

    def _check_device_array(self, X: Any, reset: bool) -> Any:
        """Shape checks for a device array, with scikit-learn's messages.
        Dtype and finiteness are checked by the network (one sync)."""
        if X.ndim != 2:
            raise ValueError(
                f"Expected 2D array, got {X.ndim}D array instead. Reshape your data either "
                "using array.reshape(-1, 1) if your data has a single feature or "
                "array.reshape(1, -1) if it contains a single sample."
            )
        n_samples, n_features = int(X.shape[0]), int(X.shape[1])
        if n_samples < 1 or n_features < 1:
            raise ValueError(
                f"Found array with {n_samples} sample(s) and {n_features} feature(s) "
                "(shape ({n_samples}, {n_features})) while a minimum of 1 is required."
            )
        if reset:
            self.n_features_in_ = n_features
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        elif n_features != self.n_features_in_:
            raise ValueError(
                f"X has {n_features} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        return X

    # ------------------------------------------------------------ pickling

    def __getstate__(self) -> dict[str, Any]:
        """The estimator's state with the network and optimiser state on the host."""
        state: dict[str, Any] = dict(super().__getstate__())
        net = state.pop("network_", None)
        if net is not None:
            state["network_"] = _network_to_host(net)
        opt = state.pop("_optimizer", None)
        if opt is not None:
            host = copy.copy(opt)
            host.state = _map_arrays(opt.state, lambda a: np.array(B.to_numpy(a)))
            state["_optimizer"] = host
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Rebuild the network on its device, or on "cpu" (with a warning)
        when that device is not available here."""
        state = dict(state)
        host_net = state.pop("network_", None)
        opt = state.pop("_optimizer", None)
        super().__setstate__(state)
        if host_net is not None:
            self.network_ = _network_from_host(host_net)
            self.device_ = self.network_.backend.spec
            if opt is not None:
                backend = self.network_.backend
                opt.state = _map_arrays(opt.state, lambda a: backend.asarray(a))
                self._optimizer = opt


# ---------------------------------------------------------------- helpers


def _host(a: Any) -> Any:
    """Host data for labels: arrays of any library to NumPy, lists as they are."""
    return B.to_numpy(a) if B.is_array(a) else a


def _host_or_none(a: Any) -> Any:
    return None if a is None else _host(a)


def _same_classes(a: Any, b: Any) -> bool:
    return bool(a.shape == b.shape and np.all(a == b))


def _hidden_sizes(sizes: Any) -> list[int]:
    if isinstance(sizes, (int, np.integer)) and not isinstance(sizes, bool):
        sizes = (sizes,)
    if isinstance(sizes, str) or not isinstance(sizes, Sequence):
        raise ConfigError(f"hidden_layer_sizes: expected a sequence of sizes, got {sizes!r}")
    out = []
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1:
            raise ConfigError(f"hidden_layer_sizes: sizes must be positive integers, got {sizes!r}")
        out.append(int(s))
    return out


def _activations(activation: Any, n_hidden: int) -> list[str]:
    names = [activation] * n_hidden if isinstance(activation, str) else list(activation)
    if len(names) != n_hidden:
        raise ConfigError(
            f"activation: {len(names)} names for {n_hidden} hidden layers ({activation!r})"
        )
    for name in names:
        if not isinstance(name, str):
            raise ConfigError(f"activation: expected a name, got {name!r}")
    return [_ACTIVATION_ALIASES.get(name.strip().lower(), name) for name in names]


def _patience(early_stopping: Any) -> int | None:
    if early_stopping is None or early_stopping is False:
        return None
    if early_stopping is True:
        return 10
    if isinstance(early_stopping, (int, np.integer)) and early_stopping >= 1:
        return int(early_stopping)
    raise ConfigError(
        f"early_stopping: expected None, False, True or a patience >= 1, got {early_stopping!r}"
    )


def _mean_std(X: Any, chunk_rows: int = 8192) -> tuple[float, float]:
    """Overall mean and standard deviation of X's values, summed in float64 a
    block of rows at a time on X's own device (two reads to the host).
    A constant X gets std 1, non-finite values are left to the network's checks."""
    xp = array_namespace(X)
    n = int(X.shape[0])
    blocks = [X[s : min(s + chunk_rows, n), ...] for s in range(0, n, chunk_rows)]
    size = n * math.prod(int(d) for d in X.shape[1:])
    mean = float(sum(xp.sum(xp.astype(b, xp.float64)) for b in blocks)) / size
    squares = sum(xp.sum((xp.astype(b, xp.float64) - mean) ** 2) for b in blocks)
    std = math.sqrt(float(squares) / size)
    if not (math.isfinite(mean) and math.isfinite(std)):
        return 0.0, 1.0
    return mean, (std if std > 0.0 else 1.0)


def _map_arrays(value: Any, fn: Any) -> Any:
    """Apply ``fn`` to every array in a (nested) optimiser state."""
    if isinstance(value, dict):
        return {k: _map_arrays(v, fn) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(_map_arrays(v, fn) for v in value)
    return fn(value) if B.is_array(value) else value


def _network_to_host(net: Network) -> dict[str, Any]:
    return {
        "config": net.config(),
        "params": [np.array(B.to_numpy(p)) for p in net.parameters()],
        "class_names": list(net.class_names),
        "input_mean": net.input_mean,
        "input_std": net.input_std,
        "epochs_trained": net.epochs_trained,
        "device": net.backend.spec,
    }


def _network_from_host(state: dict[str, Any]) -> Network:
    device = state["device"]
    try:
        backend = B.get_backend(device)
    except (DeviceError, ValueError, ImportError) as exc:
        warnings.warn(
            f"GNetClassifier was fitted on device {device!r}, which is not available here "
            f"({exc}); it runs on 'cpu' instead",
            RuntimeWarning,
            stacklevel=3,
        )
        backend = B.get_backend("cpu")
    net = Network.from_architecture(
        state["config"],
        device=backend,
        input_mean=state["input_mean"],
        input_std=state["input_std"],
        class_names=state["class_names"],
    )
    net.set_parameters(state["params"])
    net.epochs_trained = state["epochs_trained"]
    return net

"""GNetClassifier: a scikit-learn estimator over :class:`gnet.Network`.

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from gnet.sklearn import GNetClassifier

    clf = make_pipeline(StandardScaler(), GNetClassifier(hidden_layer_sizes=(64,), epochs=5))
    clf.fit(X_train, y_train)           # any labels: ints, strings, ...
    clf.predict(X_test); clf.predict_proba(X_test); clf.score(X_test, y_test)

The network is ``[n_features, *hidden_layer_sizes, n_classes]`` with the
hidden ``activation`` and a softmax output trained on cross-entropy. Any
other stack of layers comes as a layer-spec list (the JSON of configs and
model files) with the shape of one sample; X stays flat rows::

    cnn = GNetClassifier(
        layers=[{"type": "conv2d", "filters": 32, "kernel_size": 3, "activation": "relu"},
                {"type": "maxpool2d", "pool_size": 2},
                {"type": "flatten"}],
        input_shape=(28, 28, 1), optimizer="adam", learning_rate=1e-3)
    cnn.fit(X_train, y_train)           # X_train: (n_samples, 784), row by row

The output layer is appended (dense, one unit per class, softmax) unless
the list already ends with a dense softmax layer, whose units must then
equal the number of classes; so a config's complete layer list works as is.
Hyperparameter names follow scikit-learn's ``MLPClassifier`` where it has
one (``hidden_layer_sizes``, ``activation``, ``momentum``, ``batch_size``,
``early_stopping``, ``validation_fraction``, ``shuffle``, ``warm_start``,
``partial_fit``); the rest are gnet's (``optimizer``, ``learning_rate``,
``epochs``, ``l2``, ``dropout``, ``dropconnect``, ``layers``,
``input_shape``, ``device``, ``seed``). Numeric hyperparameters take
anything ``numbers.Integral`` / ``numbers.Real``, NumPy scalars included
(grids from ``np.arange``, ``RandomizedSearchCV`` with ``scipy.stats``
distributions), as scikit-learn's estimators do.

Two classes keep a two-unit softmax output (``coefs_[-1]`` has two columns
where MLPClassifier's logistic output has one); ``predict_proba`` is the
same (n_samples, 2) either way.

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

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin  # type: ignore[import-untyped]
from sklearn.metrics import accuracy_score  # type: ignore[import-untyped]
from sklearn.utils.validation import (  # type: ignore[import-untyped]
    check_is_fitted,
    column_or_1d,
)

from . import backend as B
from .sklearn_checks import (
    host,
    host_or_none,
    same_classes,
    validate_fit,
    validate_predict,
)
from .sklearn_params import hyperparameters, train_dtype, validation_split
from .sklearn_state import HostState
from .sklearn_support import (
    build_network,
    input_stats,
    make_optimizer,
    patience,
)

__all__ = ["GNetClassifier"]


class GNetClassifier(ClassifierMixin, HostState, BaseEstimator):  # type: ignore[misc]
    """A neural-network classifier trained by gnet, on any gnet device: a
    multi-layer perceptron by default, any stack of layers with ``layers``.

    Parameters
    ----------
    hidden_layer_sizes : sizes of the hidden layers; ``()`` gives softmax regression
    activation : hidden activation: "relu", "tanh", "logistic" (= "sigmoid"),
        "leaky_relu", "identity"; or one name per hidden layer
    layers : None, or a list of layer specs (dicts with a ``"type"``: dense,
        dropout, conv2d, maxpool2d, flatten, batchnorm, ...; see
        :mod:`gnet.layers`) that replaces ``hidden_layer_sizes``,
        ``activation``, ``dropout`` and ``dropconnect`` (give those as
        layers). The output layer (dense, ``n_classes`` units, softmax) is
        appended unless the list ends with a dense softmax layer, whose units
        must then equal the number of classes
    input_shape : None for flat rows ``(n_features,)``, or the shape of one
        sample, e.g. ``(28, 28, 1)`` (height, width, channels) for a
        convolutional ``layers`` list; X is still (n_samples, n_features)
        with ``n_features`` the product of the shape, each row the image
        row by row, channels last. With ``layers=None`` an image shape puts
        a flatten layer before the perceptron
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
        (``True`` means 10) on the validation loss; the weights of the epoch
        with the lowest validation loss are kept (``history_.best_epoch``)
    validation_fraction : share of the training data held out for early
        stopping, stratified by class as MLPClassifier does it
        (``train_test_split(..., stratify=y, random_state=seed)``, so a class
        with one sample is scikit-learn's ValueError); 0 monitors the
        training loss; ignored without early stopping
    lr_schedule : None or a gnet schedule spec ("step:10:0.5", "cosine", ...)
    init : weight initialiser: "he", "glorot", "normal" or "uniform"
    dtype : "float32" or "float64" for weights and arithmetic; None (the
        default) follows X at the first fit: float32 X trains in float32,
        anything else (float64, ints, lists) in float64, as scikit-learn
        validates it
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
    best_loss_ : lowest value of ``loss_curve_``; None where the last fit
        held out a validation split (early stopping)
    validation_scores_ : validation accuracy per epoch (over warm starts)
        where the last fit held out a validation split, else None
    best_validation_score_ : ``max(validation_scores_)``, or None
    n_iter_ : epochs run by the last ``fit`` / ``partial_fit`` call (1 for
        ``partial_fit``), as in scikit-learn >= 1.9
    t_ : training samples seen in all (over warm starts and partial fits)
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
        dtype: str | None = None,
        shuffle: bool = True,
        normalize: bool = True,
        device: str = "cpu",
        seed: int = 0,
        warm_start: bool = False,
        layers: Sequence[dict[str, Any]] | None = None,
        input_shape: Sequence[int] | None = None,
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
        self.layers = layers
        self.input_shape = input_shape

    # ------------------------------------------------------------ training

    def fit(self, X: Any, y: Any) -> GNetClassifier:
        """Train on X (n_samples, n_features) and labels y (n_samples,); returns self.

        Starts from new weights unless ``warm_start`` is set and the estimator
        was fitted before on the same classes and number of features.
        """
        params = hyperparameters(self)
        warm = params["warm_start"] and hasattr(self, "network_")
        backend = self.network_.backend if warm else B.get_backend(params["device"])
        X, y, _ = validate_fit(self, X, y, backend, reset=not warm)
        classes = np.unique(y)
        if warm:
            if not same_classes(classes, self.classes_):
                raise ValueError(  # scikit-learn's MLPClassifier message
                    "warm_start can only be used where `y` has the same classes as in the "
                    f"previous call to fit. Previously got {self.classes_}, `y` has {classes}"
                )
        else:
            self._start(X, classes, backend, params)
        y_index = np.searchsorted(self.classes_, y)
        self._train(X, y_index, params, epochs=params["epochs"], incremental=False)
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> GNetClassifier:
        """One epoch over (X, y), continuing from the current weights.

        ``classes`` (every label that will ever appear) is required on the
        first call and may be repeated later. With ``early_stopping`` set it
        is scikit-learn's ValueError ("partial_fit does not support
        early_stopping=True"): early stopping needs the whole training set.
        """
        params = hyperparameters(self)
        if patience(params["early_stopping"]) is not None:
            raise ValueError(
                "partial_fit does not support early_stopping=True (this estimator has "
                f"early_stopping={self.early_stopping!r}); use fit, or "
                "set_params(early_stopping=None)"
            )
        first = not hasattr(self, "network_")
        backend = B.get_backend(params["device"]) if first else self.network_.backend
        X, y, _ = validate_fit(self, X, y, backend, reset=first)
        if classes is not None:
            classes = np.unique(column_or_1d(host(classes)))
            if not first and not same_classes(classes, self.classes_):
                raise ValueError(
                    f"classes={classes.tolist()!r} differs from the classes of the first "
                    f"partial_fit call {self.classes_.tolist()!r}"
                )
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
            self._start(X, classes, backend, params)
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if unknown.size:
            raise ValueError(
                f"y contains labels not in classes: {unknown.tolist()!r} "
                f"(classes are {self.classes_.tolist()!r})"
            )
        y_index = np.searchsorted(self.classes_, y)
        self._train(X, y_index, params, epochs=1, incremental=True)
        return self

    def _start(self, X: Any, classes: Any, backend: B.Backend, params: dict[str, Any]) -> None:
        """Fresh network and bookkeeping for the classes, width and dtype of X."""
        if len(classes) < 2:
            raise ValueError(
                f"GNetClassifier needs samples of at least 2 classes; y has only one class: "
                f"{classes.tolist()!r}"
            )
        params = {**params, "dtype": train_dtype(params["dtype"], X)}
        mean, std = input_stats(X) if params["normalize"] else (0.0, 1.0)
        self.network_ = build_network(params, int(X.shape[1]), classes, backend, mean, std)
        self.classes_ = classes
        self.device_ = self.network_.backend.spec
        self.loss_curve_: list[float] = []
        self.validation_scores_: list[float] | None = None
        self.best_validation_score_: float | None = None
        self.best_loss_: float | None = None
        self.n_iter_ = 0
        self.t_ = 0
        if hasattr(self, "_optimizer"):
            del self._optimizer

    def _train(
        self, X: Any, y_index: Any, params: dict[str, Any], epochs: int, incremental: bool
    ) -> None:
        net = self.network_
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = make_optimizer(params)
        stop_after = None if incremental else patience(params["early_stopping"])
        validation = None
        if stop_after is not None and params["validation_fraction"]:
            X, y_index, validation = validation_split(
                X, y_index, self.classes_[y_index], params["validation_fraction"], params["seed"]
            )
        history = net.fit(
            X,
            y_index,
            epochs=epochs,
            mode="mini-batch",
            batch_size=params["batch_size"],
            optimizer=self._optimizer,
            lr_schedule=params["lr_schedule"],
            validation_data=validation,
            early_stopping=stop_after,
            shuffle=params["shuffle"],
        )
        self.history_ = history
        self.loss_curve_.extend(history.loss)
        self.loss_ = history.loss[-1]
        self.n_iter_ = len(history.epochs)
        self.t_ += sum(e["samples"] for e in history.epochs)
        if validation is None:
            self.validation_scores_ = self.best_validation_score_ = None
            self.best_loss_ = min(self.loss_curve_)
        else:
            scores = [*(self.validation_scores_ or []), *history["val_accuracy"]]
            self.validation_scores_, self.best_validation_score_ = scores, max(scores)
            self.best_loss_ = None

    # ------------------------------------------------------------ inference

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities (n_samples, n_classes), columns in ``classes_`` order.

        NumPy for host input; an array of the estimator's device for input on it.
        """
        check_is_fitted(self)
        X, on_device = validate_predict(self, X, self.network_.backend)
        proba = self.network_.predict_proba(X)
        return proba if on_device else B.to_numpy(proba)

    def predict_log_proba(self, X: Any) -> Any:
        """``log(predict_proba(X))`` as scikit-learn's MLPClassifier computes it
        (-inf where a probability is 0); on the device of X as predict_proba."""
        proba = self.predict_proba(X)
        return np.log(proba) if isinstance(proba, np.ndarray) else self.network_.xp.log(proba)

    def predict(self, X: Any) -> Any:
        """Predicted labels (n_samples,) taken from ``classes_``.

        NumPy for host input; for input on the estimator's device an array
        there (NumPy when the labels are strings).
        """
        check_is_fitted(self)
        X, on_device = validate_predict(self, X, self.network_.backend)
        index = self.network_.predict(X)
        if on_device and self.classes_.dtype.kind in "biuf":
            classes = self.network_.backend.asarray(self.classes_)
            return self.network_.xp.take(classes, index)
        return self.classes_[B.to_numpy(index)]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean accuracy of ``predict(X)`` against y (a Python float)."""
        y_pred = B.to_numpy(self.predict(X))
        return float(accuracy_score(host(y), y_pred, sample_weight=host_or_none(sample_weight)))

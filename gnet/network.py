"""The Network: a stack of Dense layers trained by backpropagation.

    net = Network([784, 128, 10], ["relu", "softmax"], loss="cross-entropy",
                  init="he", device="cpu", dtype="float32", seed=0)
    history = net.fit(X, y, epochs=10, mode="mini-batch", batch_size=128)
    report = net.evaluate(X_test, y_test)

``X`` is (batch, inputs); ``y`` holds integer labels (batch,) or one-hot
rows (batch, classes). Inputs may be arrays of any Array API library or
anything ``numpy.asarray`` takes; results come back in the network's own
namespace and device.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import backend as B
from .activations import canonical_name, get_activation
from .errors import ConfigError
from .init import get_initializer
from .inputs import features, labels
from .layers import Dense, Dropout, inverted_mask
from .losses import get_loss
from .metrics import confusion_matrix, macro_f1, one_hot, per_class

if TYPE_CHECKING:
    from .train import History

# Constructor arguments stored in model files and configs besides layers/activations.
ARCHITECTURE_KEYS = (
    "loss",
    "init",
    "dtype",
    "seed",
    "dropout",
    "dropconnect",
    "leaky_relu_alpha",
)

# Rows per forward pass in predict/evaluate: bounds memory on large inputs.
CHUNK = 8192


class Network:
    """A fully connected network; see the module docstring.

    Parameters
    ----------
    layers : sizes including input and output, e.g. [784, 128, 10]
    activations : one name per layer transition (sigmoid, relu, leaky_relu,
        tanh, softmax, identity), case-insensitive
    loss : "cross-entropy" (fused with a softmax output) or "mse"
    init : "he", "glorot", "normal" or "uniform" (host-drawn from ``seed``)
    device : "cpu", "cuda", "cuda:N", "torch", "torch:cuda", "strict", "auto",
        or None for $GNET_DEVICE / cpu
    dtype : "float32" or "float64"
    dropout : inverted-dropout rate on every hidden layer's output
    dropconnect : DropConnect rate on the weights into every hidden layer
        (one mask per batch, drawn like dropout's; the output layer's weights
        are left whole)
    input_mean, input_std : inputs are standardised as (X - mean) / std
    """

    def __init__(
        self,
        layers: list[int],
        activations: list[str],
        loss: str = "cross-entropy",
        init: str = "he",
        device: Any = None,
        dtype: str = "float32",
        seed: int = 0,
        dropout: float = 0.0,
        dropconnect: float = 0.0,
        leaky_relu_alpha: float = 0.01,
        input_mean: float = 0.0,
        input_std: float = 1.0,
        class_names: list[str] | None = None,
    ):
        sizes = _check_sizes(layers)
        names = _check_activations(activations, len(sizes) - 1)
        if dtype not in ("float32", "float64"):
            raise ConfigError(f"dtype {dtype!r}: expected float32 or float64")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"seed: expected an integer >= 0, got {seed!r}")
        if not (isinstance(dropout, (int, float)) and 0.0 <= dropout < 1.0):
            raise ConfigError(f"dropout: must be in [0, 1), got {dropout!r}")
        if not (
            isinstance(dropconnect, (int, float))
            and not isinstance(dropconnect, bool)
            and 0.0 <= dropconnect < 1.0
        ):
            raise ConfigError(f"dropconnect: must be in [0, 1), got {dropconnect!r}")
        if not (math.isfinite(input_std) and input_std > 0 and math.isfinite(input_mean)):
            raise ConfigError(f"input_std: must be finite and > 0, got {input_std!r}")
        self.backend = B.get_backend(device)
        self.xp = self.backend.xp
        self.dtype = getattr(self.xp, dtype)
        self.dtype_name = dtype
        self.sizes = sizes
        self.activation_names = names
        self.loss = get_loss(loss)
        self.init_name = init
        self.seed = seed
        self.dropout = float(dropout)
        self.dropconnect = float(dropconnect)
        self.leaky_relu_alpha = float(leaky_relu_alpha)
        self.input_mean = float(input_mean)
        self.input_std = float(input_std)
        if class_names is not None and len(class_names) != sizes[-1]:
            raise ConfigError(f"class_names: {len(class_names)} names for {sizes[-1]} outputs")
        self.class_names = list(class_names) if class_names else [str(k) for k in range(sizes[-1])]
        self.epochs_trained = 0
        self.stop_training = False
        # What a model file said about this network (dataset, test report, ...).
        self.metadata: dict[str, Any] = {}
        # A weak reference to the training array the last fit checked (see train.fit).
        self._checked_input: Any = None
        initializer = get_initializer(init)
        rng = B.host_rng(seed)
        self.layers = []
        for fan_in, fan_out, name in zip(sizes[:-1], sizes[1:], names, strict=True):
            W = self.backend.asarray(initializer(rng, fan_in, fan_out), dtype=self.dtype)
            b = self.xp.zeros((fan_out,), dtype=self.dtype, device=self.backend.device)
            act = get_activation(name, self.leaky_relu_alpha)
            self.layers.append(Dense(W, b, act, self.xp))
        self.dropouts = [Dropout(self.dropout) for _ in self.layers[:-1]] if dropout else []
        # With its matching output activation, the loss gives the last dZ directly.
        fused = self.loss.fused_with == names[-1]
        self._fused_gradient = self.loss.fused_gradient if fused else None

    # ------------------------------------------------------------ properties

    @property
    def n_inputs(self) -> int:
        return self.sizes[0]

    @property
    def n_classes(self) -> int:
        return self.sizes[-1]

    @property
    def n_parameters(self) -> int:
        return sum(i * o + o for i, o in zip(self.sizes[:-1], self.sizes[1:], strict=True))

    def config(self) -> dict[str, Any]:
        """The architecture, as stored in model files."""
        return {
            "layers": list(self.sizes),
            "activations": list(self.activation_names),
            "loss": self.loss.name,
            "init": self.init_name,
            "dtype": self.dtype_name,
            "dropout": self.dropout,
            "dropconnect": self.dropconnect,
            "leaky_relu_alpha": self.leaky_relu_alpha,
            "seed": self.seed,
        }

    def __repr__(self) -> str:
        arch = "-".join(map(str, self.sizes))
        return (
            f"Network({arch}, {'/'.join(self.activation_names)}, loss={self.loss.name}, "
            f"device={self.backend.spec}, dtype={self.dtype_name})"
        )

    # ------------------------------------------------------------ inputs

    def as_input(self, X: Any, name: str = "X", check_finite: bool = True) -> Any:
        """X checked and moved to the device as standardised (N, inputs) rows
        of the network's dtype (see :func:`gnet.inputs.features`)."""
        X = features(X, self.backend, self.n_inputs, self.dtype, name, check_finite)
        if self.input_mean != 0.0 or self.input_std != 1.0:
            X = (X - self.input_mean) / self.input_std
        return X

    def as_labels(self, y: Any, n_samples: int, name: str = "y") -> tuple[Any, Any]:
        """Integer labels (N,) and one-hot targets (N, classes) on the device."""
        y = labels(y, self.backend, n_samples, self.n_classes, name)
        return y, one_hot(y, self.n_classes, self.dtype)

    # ------------------------------------------------------------ forward / backward

    def forward(
        self,
        X: Any,
        training: bool = False,
        masks: list[Any] | None = None,
        weight_masks: list[Any] | None = None,
    ) -> Any:
        """Output activations for a prepared (N, inputs) batch on the device.

        ``training`` keeps what backward needs and applies dropout and
        DropConnect, with new masks from ``self._dropout_rng`` or the given
        ``masks`` (one per hidden layer's output) and ``weight_masks`` (one
        per hidden layer's weights).
        """
        A = X
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            M = None
            if training and self.dropconnect and i < last:
                M = weight_masks[i] if weight_masks is not None else self._weight_mask(layer)
            A = layer.forward(A, keep=training, weight_mask=M)
            if training and self.dropouts and i < last:
                if masks is not None:
                    A = self.dropouts[i].forward(A, self.xp, mask=masks[i])
                else:
                    U = self.backend.uniform(self._dropout_rng, tuple(A.shape), self.dtype)
                    A = self.dropouts[i].forward(A, self.xp, uniform=U)
        return A

    def _weight_mask(self, layer: Dense) -> Any:
        """A new DropConnect mask for ``layer``'s weights: 0 or 1 / (1 - rate)."""
        U = self.backend.uniform(self._dropout_rng, tuple(layer.weight.shape), self.dtype)
        return inverted_mask(self.xp, U, self.dropconnect, self.dtype)

    def backward(self, A: Any, Y: Any, scale: float = 1.0) -> None:
        """Backpropagate the batch-mean loss of output A against one-hot Y;
        fills each layer's dW and db, multiplied by ``scale`` (applied once,
        to the output gradient: see ``Optimizer.gradient_scale``)."""
        xp = self.xp
        if self._fused_gradient is not None:
            dZ, dA = self._fused_gradient(xp, A, Y, scale), None
        else:
            dZ, dA = None, self.loss.gradient(xp, A, Y)
            if scale != 1.0:
                dA = dA * scale
        for i in range(len(self.layers) - 1, -1, -1):
            dA = self.layers[i].backward(dA=dA, dZ=dZ, need_dX=i > 0)
            dZ = None
            if i > 0 and self.dropouts:
                dA = self.dropouts[i - 1].backward(dA)

    def gradients(
        self,
        X: Any,
        y: Any,
        masks: list[Any] | None = None,
        weight_masks: list[Any] | None = None,
    ) -> list[tuple[Any, Any]]:
        """[(dW, db), ...] of the batch-mean loss for one batch, same shapes as
        the parameters. With dropout or DropConnect, pass ``masks`` or
        ``weight_masks`` to fix them (tests)."""
        X = self.as_input(X)
        _, Y = self.as_labels(y, X.shape[0])
        if self.dropouts or self.dropconnect:
            self._dropout_rng = self.backend.random_generator([self.seed, 1 << 20])
        A = self.forward(X, training=True, masks=masks, weight_masks=weight_masks)
        self.backward(A, Y)
        return [(layer.dW, layer.db) for layer in self.layers]

    def loss_value(self, X: Any, y: Any) -> float:
        """The batch-mean loss (no dropout), as a Python float."""
        X = self.as_input(X)
        n: int = X.shape[0]
        _, Y = self.as_labels(y, n)
        return float(self.loss.total(self.xp, self.forward(X), Y)) / n

    # ------------------------------------------------------------ inference

    def predict_proba(self, X: Any) -> Any:
        """Output activations (N, classes) (class probabilities with softmax)."""
        X = self.as_input(X)
        return self._predict_prepared(X)

    def _predict_prepared(self, X: Any) -> Any:
        n = X.shape[0]
        if n <= CHUNK:
            return self.forward(X)
        parts = [self.forward(X[s : min(s + CHUNK, n), :]) for s in range(0, n, CHUNK)]
        return self.xp.concat(parts, axis=0)

    def predict(self, X: Any) -> Any:
        """Predicted class indices (N,) as an int64 array on the network's device."""
        return self.xp.argmax(self.predict_proba(X), axis=1)

    def evaluate(self, X: Any, y: Any) -> dict[str, Any]:
        """Accuracy, loss, confusion matrix, per-class metrics and macro F1 (host values)."""
        X = self.as_input(X)
        y, Y = self.as_labels(y, X.shape[0])
        loss_sum, y_pred = self._loss_and_predictions(X, Y)
        cm = B.to_numpy(confusion_matrix(y, y_pred, self.n_classes)).tolist()
        n = X.shape[0]
        rows = per_class(cm)
        return {
            "accuracy": sum(cm[k][k] for k in range(len(cm))) / n,
            "loss": float(loss_sum) / n,
            "confusion_matrix": cm,
            "per_class": rows,
            "macro_f1": macro_f1(rows),
            "n_samples": n,
        }

    def _loss_and_predictions(self, X: Any, Y: Any) -> tuple[Any, Any]:
        """Summed loss (0-d device array) and argmax predictions, chunk by chunk."""
        xp = self.xp
        total, preds = None, []
        n = X.shape[0]
        for s in range(0, n, CHUNK):
            e = min(s + CHUNK, n)
            A = self.forward(X[s:e, :])
            part = self.loss.total(xp, A, Y[s:e, :])
            total = part if total is None else total + part
            preds.append(xp.argmax(A, axis=1))
        return total, preds[0] if len(preds) == 1 else xp.concat(preds, axis=0)

    # ------------------------------------------------------------ training and files

    def fit(
        self,
        X: Any,
        y: Any,
        *,
        epochs: int = 10,
        mode: str = "mini-batch",
        batch_size: int | None = 128,
        optimizer: Any = None,
        lr_schedule: Any = None,
        batch_schedule: Any = None,
        validation_data: tuple[Any, Any] | None = None,
        callbacks: Sequence[Any] = (),
        early_stopping: int | None = None,
        shuffle: bool = True,
        augment: Any = None,
        record_batches: bool = False,
    ) -> History:
        """Train on (X, y); see :func:`gnet.train.fit` for the arguments.

        >>> net.fit(X, y, epochs=10, batch_size=128,
        ...         optimizer=gnet.optim.SGD(learning_rate=0.1, momentum=0.9))
        """
        from .train import fit

        return fit(
            self,
            X,
            y,
            epochs=epochs,
            mode=mode,
            batch_size=batch_size,
            optimizer=optimizer,
            lr_schedule=lr_schedule,
            batch_schedule=batch_schedule,
            validation_data=validation_data,
            callbacks=callbacks,
            early_stopping=early_stopping,
            shuffle=shuffle,
            augment=augment,
            record_batches=record_batches,
        )

    def parameters(self) -> list[Any]:
        """[W1, b1, W2, b2, ...] (the arrays themselves, not copies)."""
        return [p for layer in self.layers for p in (layer.weight, layer.bias)]

    def set_parameters(self, params: list[Any]) -> None:
        """Replace weights and biases (host or device arrays, same shapes)."""
        if len(params) != 2 * len(self.layers):
            raise ValueError(f"expected {2 * len(self.layers)} arrays, got {len(params)}")
        for k, layer in enumerate(self.layers):
            for attr, p in (("weight", params[2 * k]), ("bias", params[2 * k + 1])):
                old = getattr(layer, attr)
                new = self.backend.asarray(B.to_numpy(p) if B.is_array(p) else p, dtype=self.dtype)
                if tuple(new.shape) != tuple(old.shape):
                    raise ValueError(
                        f"layers.{k}.{attr}: expected shape {tuple(old.shape)}, "
                        f"got {tuple(new.shape)}"
                    )
                setattr(layer, attr, new)

    def copy_parameters(self) -> list[Any]:
        """Device copies of all parameters (snapshots for early stopping)."""
        return [self.xp.asarray(p, copy=True) for p in self.parameters()]

    def save(self, path: Any, **metadata: Any) -> None:
        """Write a safetensors model file atomically (see gnet.io)."""
        from .io import save_model

        save_model(self, path, **metadata)

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> Network:
        """Build from a config dict or JSON file in gnet's (or the seeds') format."""
        from .config import load_config, resolve

        return cls.from_architecture(resolve(load_config(config), None), **overrides)

    @classmethod
    def from_architecture(cls, architecture: Mapping[str, Any], **options: Any) -> Network:
        """Build from a mapping with ``layers``, ``activations`` and any of the
        other keys of :meth:`config` (a resolved run configuration will do);
        ``options`` add or override constructor arguments (device, input
        normalisation, class names)."""
        kwargs = {k: architecture[k] for k in ARCHITECTURE_KEYS if k in architecture}
        kwargs.update(options)
        return cls(architecture["layers"], architecture["activations"], **kwargs)


def _check_sizes(layers: Any) -> list[int]:
    if not isinstance(layers, (list, tuple)) or len(layers) < 2:
        raise ConfigError(f"layers: expected a list of at least 2 sizes, got {layers!r}")
    for size in layers:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigError(f"layers: sizes must be positive integers, got {layers!r}")
    return [int(s) for s in layers]


def _check_activations(activations: Any, transitions: int) -> list[str]:
    if isinstance(activations, str) or not isinstance(activations, (list, tuple)):
        raise ConfigError(f"activations: expected a list of names, got {activations!r}")
    if len(activations) != transitions:
        raise ConfigError(
            f"activations: {len(activations)} names for {transitions} layer transitions "
            f"({activations!r})"
        )
    return [canonical_name(a) for a in activations]

"""The Network: a sequence of layers with an input shape, trained by backpropagation.

    net = Network([784, 128, 10], ["relu", "softmax"], loss="cross-entropy",
                  init="he", device="cpu", dtype="float32", seed=0)
    net = Network.from_config({"input_shape": [784], "layers": [
        {"type": "dense", "units": 128, "activation": "relu"},
        {"type": "dense", "units": 10, "activation": "softmax"}]})
    history = net.fit(X, y, epochs=10, mode="mini-batch", batch_size=128)
    report = net.evaluate(X_test, y_test)

``X`` is (batch, *input_shape) or flat rows (batch, prod(input_shape));
``y`` holds integer labels (batch,) or one-hot rows (batch, classes). Inputs
may be arrays of any Array API library or anything ``numpy.asarray`` takes;
results come back in the network's own namespace and device. Forward and
backward are plain loops over the layers (see :mod:`gnet.layers`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import backend as B
from .description import Description
from .errors import ConfigError
from .inference import Inference
from .init import get_initializer
from .inputs import features, labels
from .layers import (
    INFERENCE,
    LAYERS,
    Context,
    Dropout,
    Layer,
    check_specs,
    from_spec,
)
from .losses import get_loss
from .metrics import one_hot
from .mlp import check_sizes, mlp_specs
from .parameters import Parameters

if TYPE_CHECKING:
    from .train import History

# Constructor arguments stored in model files and configs besides the layers.
ARCHITECTURE_KEYS = (
    "input_shape",
    "loss",
    "init",
    "dtype",
    "seed",
    "dropout",
    "dropconnect",
    "leaky_relu_alpha",
)


# Bytes that the arrays one training pass keeps for backward may take; a
# larger batch (full-batch mode) runs in chunks. 512 MiB keeps the default MLP
# whole (60,000 rows) and a small CNN's full batch to a few hundred MB.
MEMORY_BUDGET = 512 << 20


class Network(Description, Inference, Parameters):
    """A stack of layers; see the module docstring.

    Parameters
    ----------
    layers : sizes including input and output, e.g. [784, 128, 10] (a
        multilayer perceptron, with ``activations``), or a list of layer specs
        (dicts with a ``"type"``, see :mod:`gnet.layers`) fed by ``input_shape``
    activations : for sizes: one name per layer transition (sigmoid, relu,
        leaky_relu, tanh, softmax, identity), case-insensitive
    loss : "cross-entropy" (fused with a softmax output) or "mse"
    init : "he", "glorot", "normal" or "uniform" (host-drawn from ``seed``);
        for sizes, and for specs that do not name one
    device : "cpu", "cuda", "cuda:N", "torch", "torch:cuda", "strict", "auto",
        or None for $GNET_DEVICE / cpu
    dtype : "float32" or "float64"
    dropout : for sizes: inverted-dropout rate on every hidden layer's output
    dropconnect : for sizes: DropConnect rate on the weights into every
        hidden layer (the output layer's weights are left whole)
    input_mean, input_std : inputs are standardised as (X - mean) / std
    input_shape : for specs: (features,) or (height, width, channels); default (784,)
    """

    def __init__(
        self,
        layers: Sequence[Any],
        activations: Sequence[str] | None = None,
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
        input_shape: Sequence[int] | None = None,
    ):
        if dtype not in ("float32", "float64"):
            raise ConfigError(f"dtype {dtype!r}: expected float32 or float64")
        if not (_is_integral(seed) and int(seed) >= 0):
            raise ConfigError(f"seed: expected an integer >= 0, got {seed!r}")
        seed = int(seed)
        for name, rate in (("dropout", dropout), ("dropconnect", dropconnect)):
            if not (_is_real(rate) and 0 <= float(rate) < 1):
                raise ConfigError(f"{name}: must be in [0, 1), got {rate!r}")
        if not (math.isfinite(input_std) and input_std > 0 and math.isfinite(input_mean)):
            raise ConfigError(f"input_std: must be finite and > 0, got {input_std!r}")
        get_initializer(init)  # an unknown name is an error even where no layer uses it
        self.init_name = init
        self.dropout = float(dropout)
        self.dropconnect = float(dropconnect)
        self.leaky_relu_alpha = float(leaky_relu_alpha)
        if _is_spec_list(layers):
            if dropout or dropconnect:
                raise ConfigError("dropout, dropconnect: give them as layers in a layer-spec list")
            shape = list(input_shape) if input_shape is not None else [784]
            specs = [dict(s) for s in layers]
            for s in specs:  # the network-wide init is each weighted layer's default
                kind = LAYERS.get(str(s.get("type", "")).strip().lower())
                if kind is not None and "init" in kind.FIELDS:
                    s.setdefault("init", init)
        else:
            if input_shape is not None and list(input_shape) != [check_sizes(layers)[0]]:
                raise ConfigError(f"input_shape {input_shape!r}: does not match layers {layers!r}")
            shape, specs = mlp_specs(
                layers, activations, init, self.dropout, self.dropconnect, self.leaky_relu_alpha
            )
        problems = check_specs(shape, specs)
        if problems:
            raise ConfigError("; ".join(problems))
        self.backend = B.get_backend(device)
        self.xp = self.backend.xp
        self.dtype = getattr(self.xp, dtype)
        self.dtype_name = dtype
        self.loss = get_loss(loss)
        self.seed = seed
        self.input_mean = float(input_mean)
        self.input_std = float(input_std)
        self.input_shape: tuple[int, ...] = tuple(int(d) for d in shape)
        self.layers: list[Layer] = [from_spec(s, f"layers[{i}]") for i, s in enumerate(specs)]
        rng = B.host_rng(seed)
        out: tuple[int, ...] = self.input_shape
        with self.backend.context():  # CuPy creates arrays on its current GPU
            for layer in self.layers:
                out = layer.build(out, rng, self.backend, self.dtype)
        self.output_shape = out
        n = self.n_classes
        if class_names is not None and len(class_names) != n:
            raise ConfigError(f"class_names: {len(class_names)} names for {n} outputs")
        self.class_names = list(class_names) if class_names else [str(k) for k in range(n)]
        self.epochs_trained = 0
        self.stop_training = False
        # What a model file said about this network (dataset, test report, ...).
        self.metadata: dict[str, Any] = {}
        # A weak reference to the training array the last fit checked (see train.fit).
        self._checked_input: Any = None
        self._dropout_rng: Any = None
        last = self.layers[-1]
        # With its matching output activation, the loss gives the last dZ directly.
        self._fused = (
            self.loss.fused_with is not None
            and getattr(last, "activation_name", None) == self.loss.fused_with
        )
        # Backward stops at the first layer with parameters: no dX is needed below it.
        trainable = [i for i, layer in enumerate(self.layers) if layer.params]
        self._first_trainable = trainable[0] if trainable else len(self.layers)

    # ------------------------------------------------------------ description

    @property
    def n_inputs(self) -> int:
        return math.prod(self.input_shape)

    @property
    def n_classes(self) -> int:
        return int(self.output_shape[0])

    @property
    def n_parameters(self) -> int:
        return sum(layer.n_parameters for layer in self.layers)

    def max_rows(self, budget: int = MEMORY_BUDGET) -> int:
        """Rows one training forward + backward pass may take so that what the
        layers keep for backward stays within ``budget`` bytes (larger batches
        run in chunks whose gradients are summed: see gnet.train)."""
        per_row = sum(layer.kept_per_sample for layer in self.layers) + self.n_inputs
        itemsize = 8 if self.dtype_name == "float64" else 4
        return max(1, budget // (per_row * itemsize))

    # ------------------------------------------------------------ inputs

    def as_input(self, X: Any, name: str = "X", check_finite: bool = True) -> Any:
        """X checked and moved to the device as standardised (N, *input_shape)
        arrays of the network's dtype (see :func:`gnet.inputs.features`)."""
        X = features(X, self.backend, self.n_inputs, self.dtype, name, check_finite)
        if self.input_mean != 0.0 or self.input_std != 1.0:
            X = (X - self.input_mean) / self.input_std
        if len(self.input_shape) > 1:
            X = self.xp.reshape(X, (X.shape[0], *self.input_shape))
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
        """Output of the last layer for a prepared batch on the device.

        ``training`` applies dropout and DropConnect with new masks from the
        network's device generator, or the given ``masks`` (one per dropout
        layer) and ``weight_masks`` (one per dense layer with DropConnect).
        """
        if not training:
            return self.forward_with(X, INFERENCE)
        self._fix_masks(masks, weight_masks)
        try:
            return self.forward_with(X, self.training_context())
        finally:
            self._fix_masks(None, None)

    def training_context(self, scale: float = 1.0) -> Context:
        return Context(self.backend, training=True, rng=self._dropout_rng, scale=scale)

    def forward_with(self, X: Any, ctx: Context) -> Any:
        """The plain loop: each layer's output feeds the next."""
        A = X
        for layer in self.layers:
            A = layer.forward(A, ctx)
        return A

    def backward(self, A: Any, Y: Any, scale: float = 1.0) -> None:
        """Backpropagate the batch-mean loss of output A against one-hot Y;
        fills each layer's ``grads``, multiplied by ``scale`` (applied once,
        to the output gradient: see ``Optimizer.gradient_scale``)."""
        xp, layers, stop = self.xp, self.layers, self._first_trainable
        i = len(layers) - 1
        if self._fused:
            dY = layers[i].backward_from_Z(self.loss.fused_gradient(xp, A, Y, scale), i > stop)  # type: ignore[attr-defined]
            i -= 1
        else:
            dY = self.loss.gradient(xp, A, Y)
            if scale != 1.0:
                dY = dY * scale
        while i >= stop:
            dY = layers[i].backward(dY, i > stop)
            i -= 1

    def loss_input(self, A: Any) -> Any:
        """What the loss reads for output A: the logits when the loss is fused
        with the output activation (cross-entropy from logits stays finite where
        a float32 probability underflows), else A itself."""
        return self.layers[-1].Z if self._fused else A  # type: ignore[attr-defined]

    def per_sample_loss(self, L: Any, y: Any, Y: Any) -> Any:
        """Each row's loss from ``loss_input`` values L, labels y and one-hot Y."""
        return self.loss.per_sample_of_labels(self.xp, L, y, Y, logits=self._fused)

    def total_loss(self, L: Any, Y: Any) -> Any:
        """The summed loss (0-d device array) from ``loss_input`` values L."""
        return self.loss.total(self.xp, L, Y, logits=self._fused)

    def gradients(
        self,
        X: Any,
        y: Any,
        masks: list[Any] | None = None,
        weight_masks: list[Any] | None = None,
    ) -> list[dict[str, Any]]:
        """One dict name -> gradient per layer (empty for layers without
        parameters) of the batch-mean loss for one batch. With dropout or
        DropConnect, pass ``masks`` or ``weight_masks`` to fix them (tests)."""
        with self.backend.context():
            X = self.as_input(X)
            _, Y = self.as_labels(y, X.shape[0])
            self._dropout_rng = self.backend.random_generator([self.seed, 1 << 20])
            for layer in self.layers:
                layer.grads = {}
            A = self.forward(X, training=True, masks=masks, weight_masks=weight_masks)
            self.backward(A, Y)
            return [dict(layer.grads) for layer in self.layers]

    def _fix_masks(self, masks: list[Any] | None, weight_masks: list[Any] | None) -> None:
        dropouts: list[Any] = [layer for layer in self.layers if isinstance(layer, Dropout)]
        connects: list[Any] = [layer for layer in self.dense_layers if layer.dropconnect]
        for group, given in ((dropouts, masks), (connects, weight_masks)):
            if given is not None and len(given) != len(group):
                raise ValueError(f"expected {len(group)} masks, got {len(given)}")
            for k, layer in enumerate(group):
                layer.fixed_mask = None if given is None else given[k]

    # ------------------------------------------------------------ training

    def fit(self, X: Any, y: Any, **options: Any) -> History:
        """Train on (X, y); see :func:`gnet.train.fit` for the keyword arguments.

        >>> net.fit(X, y, epochs=10, batch_size=128,
        ...         optimizer=gnet.optim.SGD(learning_rate=0.1, momentum=0.9))
        """
        from .train import fit

        with self.backend.context():
            return fit(self, X, y, **options)

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> Network:
        """Build from a config dict or JSON file in gnet's (or the seeds') format."""
        from .config import load_config, resolve

        return cls.from_architecture(resolve(load_config(config), None), **overrides)

    @classmethod
    def from_architecture(cls, architecture: Mapping[str, Any], **options: Any) -> Network:
        """Build from a mapping with ``layers`` (sizes with ``activations``, or
        layer specs with ``input_shape``) and any of ARCHITECTURE_KEYS (a
        resolved run configuration will do); ``options`` add or override
        constructor arguments (device, input normalisation, class names)."""
        kwargs = {
            k: architecture[k]
            for k in ARCHITECTURE_KEYS
            if k in architecture and architecture[k] is not None
        }
        kwargs.update(options)
        layers = architecture["layers"]
        if _is_spec_list(layers):
            for key in ("dropout", "dropconnect"):
                if not kwargs.get(key):
                    kwargs.pop(key, None)
            return cls(layers, **kwargs)
        return cls(layers, architecture.get("activations"), **kwargs)


def _is_integral(value: Any) -> bool:
    """An integer, NumPy's included (a grid from np.arange), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_spec_list(layers: Any) -> bool:
    return (
        isinstance(layers, (list, tuple))
        and len(layers) > 0
        and all(isinstance(s, Mapping) for s in layers)
    )

"""What :class:`gnet.sklearn.GNetClassifier` builds on: its network from the
estimator's parameters, input statistics, and the host copy of a network
that pickling stores. Kept apart so that ``gnet/sklearn.py`` holds the
estimator itself."""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from . import backend as B
from .errors import ConfigError, DeviceError
from .mlp import mlp_specs
from .network import Network
from .optim import Optimizer, get_optimizer
from .splits import normalization_stats

# scikit-learn's activation names that gnet spells otherwise.
ACTIVATION_ALIASES = {"logistic": "sigmoid"}


def build_network(
    params: Mapping[str, Any],
    n_features: int,
    classes: Any,
    backend: B.Backend,
    mean: float,
    std: float,
) -> Network:
    """A new network for the estimator's ``params`` (get_params()), X's width
    and the classes seen: ``layers`` when given (output layer appended unless
    the list ends in one, see :func:`with_output`), else the perceptron
    ``[n_features, *hidden_layer_sizes, n_classes]``."""
    shape = input_shape_for(params["input_shape"], n_features)
    n_classes = len(classes)
    common: dict[str, Any] = {
        "loss": "cross-entropy",
        "init": params["init"],
        "device": backend,
        "dtype": params["dtype"],
        "seed": params["seed"],
        "class_names": [str(c) for c in classes],
        "input_mean": mean,
        "input_std": std,
    }
    dropout, dropconnect = params["dropout"], params["dropconnect"]
    if params["layers"] is None:
        hidden = hidden_sizes(params["hidden_layer_sizes"])
        names = [*activations(params["activation"], len(hidden)), "softmax"]
        sizes = [n_features, *hidden, n_classes]
        if len(shape) == 1:
            return Network(sizes, names, dropout=dropout, dropconnect=dropconnect, **common)
        _, specs = mlp_specs(sizes, names, params["init"], dropout, dropconnect)
        return Network([{"type": "flatten"}, *specs], input_shape=shape, **common)
    for name, rate in (("dropout", dropout), ("dropconnect", dropconnect)):
        if rate:
            raise ConfigError(
                f"{name}={rate!r}: with layers=[...], give it in the layer list "
                '(a {"type": "dropout", "rate": ...} layer or a dense layer\'s dropconnect)'
            )
    return Network(with_output(params["layers"], n_classes), input_shape=shape, **common)


def with_output(layers: Any, n_classes: int) -> list[dict[str, Any]]:
    """Copies of the ``layers`` specs ending in the output layer: the list's
    own last layer when it is a dense layer with a softmax activation (its
    units must equal the number of classes), else an appended
    ``{"type": "dense", "units": n_classes, "activation": "softmax"}``."""
    if (
        isinstance(layers, (str, bytes, Mapping))
        or not isinstance(layers, Sequence)
        or not layers
        or not all(isinstance(s, Mapping) for s in layers)
    ):
        raise ConfigError(
            f"layers: expected a non-empty list of layer objects such as "
            f'{{"type": "dense", "units": 64, "activation": "relu"}}, got {layers!r}'
        )
    specs = [copy.deepcopy(dict(s)) for s in layers]
    last = specs[-1]
    if _name(last.get("type")) == "dense" and _name(last.get("activation")) == "softmax":
        if last.get("units") != n_classes:
            raise ConfigError(
                f"layers[{len(specs) - 1}].units: the output layer has {last.get('units')!r} "
                f"units but y has {n_classes} classes (or leave the output layer out: it is "
                "appended)"
            )
        return specs
    return [*specs, {"type": "dense", "units": n_classes, "activation": "softmax"}]


def _name(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def input_shape_for(input_shape: Any, n_features: int) -> tuple[int, ...]:
    """The shape of one sample: ``(n_features,)`` for None, else the given
    (features,) or (height, width, channels), which must hold n_features values."""
    if input_shape is None:
        return (n_features,)
    if (
        isinstance(input_shape, (str, bytes))
        or not isinstance(input_shape, Sequence)
        or len(input_shape) not in (1, 3)
        or not all(
            isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 1
            for d in input_shape
        )
    ):
        raise ConfigError(
            "input_shape: expected None, (features,) or (height, width, channels) of "
            f"positive integers, got {input_shape!r}"
        )
    shape = tuple(int(d) for d in input_shape)
    if math.prod(shape) != n_features:
        raise ConfigError(
            f"input_shape {shape}: holds {math.prod(shape)} values per sample but X has "
            f"{n_features} features (give X as flat rows of the images, row by row, "
            "channels last)"
        )
    return shape


def hidden_sizes(sizes: Any) -> list[int]:
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


def activations(activation: Any, n_hidden: int) -> list[str]:
    names = [activation] * n_hidden if isinstance(activation, str) else list(activation)
    if len(names) != n_hidden:
        raise ConfigError(
            f"activation: {len(names)} names for {n_hidden} hidden layers ({activation!r})"
        )
    for name in names:
        if not isinstance(name, str):
            raise ConfigError(f"activation: expected a name, got {name!r}")
    return [ACTIVATION_ALIASES.get(name.strip().lower(), name) for name in names]


def patience(early_stopping: Any) -> int | None:
    if early_stopping is None or early_stopping is False:
        return None
    if early_stopping is True:
        return 10
    if isinstance(early_stopping, (int, np.integer)) and early_stopping >= 1:
        return int(early_stopping)
    raise ConfigError(
        f"early_stopping: expected None, False, True or a patience >= 1, got {early_stopping!r}"
    )


def make_optimizer(params: Mapping[str, Any]) -> Optimizer:
    """The optimiser of the estimator's ``params`` (get_params())."""
    name = params["optimizer"]
    if not isinstance(name, str):
        raise ConfigError(f"optimizer: expected 'sgd', 'adam' or 'rmsprop', got {name!r}")
    kwargs: dict[str, Any] = {"learning_rate": params["learning_rate"], "l2": params["l2"]}
    if name.strip().lower() == "sgd":
        kwargs.update(momentum=params["momentum"], nesterov=params["nesterov"])
    return get_optimizer(name, **kwargs)


def input_stats(X: Any) -> tuple[float, float]:
    """Overall mean and standard deviation of X's values on X's own device
    (:func:`gnet.splits.normalization_stats`, as ``gnet.run`` computes them).
    A constant X gets std 1; non-finite values are left to the network's checks."""
    mean, std = normalization_stats(X)
    if not (math.isfinite(mean) and math.isfinite(std)):
        return 0.0, 1.0
    return mean, (std if std > 0.0 else 1.0)


# ---------------------------------------------------------------- pickling


def map_arrays(value: Any, fn: Callable[[Any], Any]) -> Any:
    """Apply ``fn`` to every array in a (nested) optimiser state."""
    if isinstance(value, dict):
        return {k: map_arrays(v, fn) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(map_arrays(v, fn) for v in value)
    return fn(value) if B.is_array(value) else value


def _host_copy(a: Any) -> np.ndarray:
    return np.array(B.to_numpy(a))


def network_to_host(net: Network) -> dict[str, Any]:
    """What rebuilds ``net``: its configuration (sizes or layer specs), every
    layer's params and state as host arrays, and its device name."""
    return {
        "config": net.config(),
        "params": [_host_copy(p) for p in net.parameters()],
        "state": [{k: _host_copy(v) for k, v in layer.state.items()} for layer in net.layers],
        "class_names": list(net.class_names),
        "input_mean": net.input_mean,
        "input_std": net.input_std,
        "epochs_trained": net.epochs_trained,
        "device": net.backend.spec,
    }


def network_from_host(state: dict[str, Any]) -> Network:
    """The network of :func:`network_to_host` on its device, or on "cpu" (with
    a warning) when that device is not available here."""
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
    for layer, saved in zip(net.layers, state.get("state") or [], strict=False):
        for name, a in saved.items():
            layer.state[name] = backend.asarray(a, dtype=layer.state[name].dtype)
    net.epochs_trained = state["epochs_trained"]
    return net

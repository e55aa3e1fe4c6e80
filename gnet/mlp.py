"""Multilayer perceptrons described the seeds' way: sizes including input and
output (``[784, 128, 10]``), one activation per transition, and network-wide
dropout / DropConnect rates. This module turns that description into layer
specs, and recognises a layer list that it describes (so configs and model
files keep the short form where it applies)."""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any

from .activations import canonical_name
from .errors import ConfigError
from .layers import Dropout, from_spec

if TYPE_CHECKING:
    from .network import Network


def mlp_specs(
    layers: Any,
    activations: Any,
    init: str = "he",
    dropout: float = 0.0,
    dropconnect: float = 0.0,
    leaky_relu_alpha: float = 0.01,
) -> tuple[list[int], list[dict[str, Any]]]:
    """(input_shape, layer specs) of the perceptron: a dense layer per
    transition, dropout after every hidden one, DropConnect on the weights
    into every hidden one (the output layer's weights are left whole)."""
    sizes = check_sizes(layers)
    names = check_activations(activations, len(sizes) - 1)
    specs: list[dict[str, Any]] = []
    last = len(sizes) - 2
    for i, (units, act) in enumerate(zip(sizes[1:], names, strict=True)):
        spec: dict[str, Any] = {"type": "dense", "units": units, "activation": act, "init": init}
        if act == "leaky_relu":
            spec["alpha"] = leaky_relu_alpha
        if dropconnect and i < last:
            spec["dropconnect"] = dropconnect
        specs.append(spec)
        if dropout and i < last:
            specs.append({"type": "dropout", "rate": dropout})
    return [sizes[0]], specs


def as_mlp(net: Network) -> dict[str, Any] | None:
    """init, dropout, dropconnect and leaky_relu_alpha when sizes + activations
    with them rebuild exactly ``net``'s layers, else None."""
    if not net.is_mlp or not net.dense_layers:
        return None
    dense = net.dense_layers
    rates = {layer.rate for layer in net.layers if isinstance(layer, Dropout)}
    inits = {layer.init for layer in dense}
    leaky = [layer.alpha for layer in dense if layer.activation_name == "leaky_relu"]
    options: dict[str, Any] = {
        "init": inits.pop() if len(inits) == 1 else None,
        "dropout": rates.pop() if len(rates) == 1 else 0.0,
        "dropconnect": dense[0].dropconnect if len(dense) > 1 else 0.0,
        "leaky_relu_alpha": leaky[0] if leaky else net.leaky_relu_alpha,
    }
    if options["init"] is None:
        return None
    try:
        specs = mlp_specs(net.sizes, net.activation_names, **options)[1]
    except ConfigError:
        return None
    same = [from_spec(s).spec() for s in specs] == [layer.spec() for layer in net.layers]
    return options if same else None


def check_sizes(layers: Any) -> list[int]:
    if not isinstance(layers, (list, tuple)) or len(layers) < 2:
        raise ConfigError(f"layers: expected a list of at least 2 sizes, got {layers!r}")
    for size in layers:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or int(size) < 1:
            raise ConfigError(f"layers: sizes must be positive integers, got {layers!r}")
    return [int(s) for s in layers]


def check_activations(activations: Any, transitions: int) -> list[str]:
    if isinstance(activations, str) or not isinstance(activations, (list, tuple)):
        raise ConfigError(f"activations: expected a list of names, got {activations!r}")
    if len(activations) != transitions:
        raise ConfigError(
            f"activations: {len(activations)} names for {transitions} layer transitions "
            f"({activations!r})"
        )
    return [canonical_name(a) for a in activations]

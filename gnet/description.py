"""What a Network says about itself: its dense layers, sizes and activations
(for a multilayer perceptron), its spec (what model files store), its config
keys, the Keras-style summary and its repr."""

from __future__ import annotations

from typing import Any

from .layers import Dense, Dropout
from .mlp import as_mlp


class Description:
    """Mixed into :class:`gnet.network.Network`."""

    # Provided by Network.
    layers: list[Any]
    input_shape: tuple[int, ...]
    loss: Any
    init_name: str
    dtype_name: str
    seed: int
    backend: Any
    n_inputs: Any

    @property
    def dense_layers(self) -> list[Dense]:
        return [layer for layer in self.layers if isinstance(layer, Dense)]

    @property
    def is_mlp(self) -> bool:
        """Flat inputs, dense layers and dropout only: what sizes + activations describe."""
        return len(self.input_shape) == 1 and all(
            isinstance(layer, (Dense, Dropout)) for layer in self.layers
        )

    @property
    def sizes(self) -> list[int]:
        """Input size and each dense layer's units (e.g. [784, 128, 10])."""
        return [self.n_inputs] + [layer.units for layer in self.dense_layers]

    @property
    def activation_names(self) -> list[str]:
        return [layer.activation_name for layer in self.dense_layers]

    def spec(self) -> dict[str, Any]:
        """The architecture: input shape, layer specs, loss (what model files store)."""
        return {
            "input_shape": list(self.input_shape),
            "layers": [layer.spec() for layer in self.layers],
            "loss": self.loss.name,
        }

    def config(self) -> dict[str, Any]:
        """The architecture as configuration keys: sizes and activations when
        the layers are a multilayer perceptron those keys describe, else
        input_shape and layer specs."""
        mlp = as_mlp(self)  # type: ignore[arg-type]  # self is a Network
        common = {"loss": self.loss.name, "init": mlp.pop("init") if mlp else self.init_name}
        common.update(dtype=self.dtype_name, seed=self.seed)
        if mlp is not None:
            return {"layers": self.sizes, "activations": self.activation_names, **common, **mlp}
        return {"input_shape": list(self.input_shape), "layers": self.spec()["layers"], **common}

    def summary(self) -> list[tuple[str, tuple[int, ...], int]]:
        """(layer, output shape, parameter count) per layer, Keras-style."""
        return [(repr(layer), layer.output_shape, layer.n_parameters) for layer in self.layers]

    def __repr__(self) -> str:
        if self.is_mlp:
            arch = "-".join(map(str, self.sizes)) + ", " + "/".join(self.activation_names)
        else:
            arch = " > ".join(layer.type for layer in self.layers)
        return (
            f"Network({arch}, loss={self.loss.name}, "
            f"device={self.backend.spec}, dtype={self.dtype_name})"
        )

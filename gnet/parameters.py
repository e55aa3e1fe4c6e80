"""A Network's arrays: parameters as a flat list, device snapshots for early
stopping and divergence, and saving to a model file."""

from __future__ import annotations

from typing import Any

from . import backend as B


class Parameters:
    """Mixed into :class:`gnet.network.Network`."""

    xp: Any
    backend: Any
    dtype: Any
    layers: list[Any]

    def parameters(self) -> list[Any]:
        """Every layer's trained arrays in order ([W1, b1, W2, b2, ...] for an
        MLP): the arrays themselves, not copies."""
        return [p for layer in self.layers for p in layer.params.values()]

    def set_parameters(self, params: list[Any]) -> None:
        """Replace the trained arrays (host or device arrays, same shapes and order)."""
        slots = [(i, name) for i, layer in enumerate(self.layers) for name in layer.params]
        if len(params) != len(slots):
            raise ValueError(f"expected {len(slots)} arrays, got {len(params)}")
        for (i, name), p in zip(slots, params, strict=True):
            old = self.layers[i].params[name]
            new = self.backend.asarray(B.to_numpy(p) if B.is_array(p) else p, dtype=self.dtype)
            if tuple(new.shape) != tuple(old.shape):
                raise ValueError(
                    f"layers.{i}.{name}: expected shape {tuple(old.shape)}, got {tuple(new.shape)}"
                )
            self.layers[i].params[name] = new

    def copy_parameters(self) -> list[Any]:
        """Device copies of all trained arrays."""
        return [self.xp.asarray(p, copy=True) for p in self.parameters()]

    def snapshot(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Device copies of every layer's params and state (no host round trip)."""
        xp = self.xp
        return [
            (
                {k: xp.asarray(v, copy=True) for k, v in layer.params.items()},
                {k: xp.asarray(v, copy=True) for k, v in layer.state.items()},
            )
            for layer in self.layers
        ]

    def restore(self, snapshot: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        """Put a :meth:`snapshot` back (its arrays become the layers' own)."""
        for layer, (params, state) in zip(self.layers, snapshot, strict=True):
            layer.params.update(params)
            layer.state.update(state)

    def save(self, path: Any, **metadata: Any) -> None:
        """Write a safetensors model file atomically (see gnet.io)."""
        from .io import save_model

        save_model(self, path, **metadata)  # type: ignore[arg-type]  # self is a Network

    def to_onnx(self, path: Any, dtype: str | None = None) -> Any:
        """Write the network as an ONNX file (atomically; see gnet.onnx): input
        ``image``, outputs ``probabilities`` and ``label``, in ``dtype``
        (default: the network's). Returns the ``onnx.ModelProto``; needs the
        ``onnx`` package (``gnet[onnx]``)."""
        from .onnx import export

        return export(self, path, dtype)  # type: ignore[arg-type]  # self is a Network

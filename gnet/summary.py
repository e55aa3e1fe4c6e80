"""The table a user reads first about any network (Keras' ``model.summary()``):
layer, output shape and parameter count per layer, and the totals."""

from __future__ import annotations

from typing import Any


def summary_rows(net: Any) -> list[tuple[str, str, int]]:
    """(layer, output shape, parameters) per layer; shapes without the batch."""
    rows = []
    for i, layer in enumerate(net.layers):
        spec = layer.spec()
        fields = ", ".join(
            f"{k}={_short(v)}" for k, v in spec.items() if k != "type" and _shown(layer, k, v)
        )
        name = f"{i}: {spec['type']}" + (f" ({fields})" if fields else "")
        shape = "(" + ", ".join(str(d) for d in layer.output_shape) + ")"
        rows.append((name, shape, int(layer.n_parameters)))
    return rows


def summary_text(net: Any) -> str:
    """The summary as aligned plain text, ending with the totals."""
    rows = [("layer", "output shape", "parameters")]
    rows += [(name, shape, f"{n:,}") for name, shape, n in summary_rows(net)]
    widths = [max(len(r[k]) for r in rows) for k in range(3)]
    lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}" for a, b, c in rows]
    lines.insert(1, "-" * len(lines[0]))
    shape = "(" + ", ".join(str(d) for d in net.input_shape) + ")"
    lines.append(f"input {shape}, {net.dtype_name}; {net.n_parameters:,} parameters in all")
    return "\n".join(lines)


def _shown(layer: Any, key: str, value: Any) -> bool:
    """Required fields and those that differ from their default."""
    field = layer.FIELDS.get(key)
    if field is None or field.required or key == next(iter(layer.FIELDS)):
        return True
    default = field.default
    if isinstance(value, list) and not isinstance(default, list):
        default = [default] * len(value)
    return bool(value != default)


def _short(value: Any) -> str:
    if isinstance(value, list) and len(value) == 2 and value[0] == value[1]:
        return str(value[0])  # kernel_size [3, 3] reads 3
    return str(value)

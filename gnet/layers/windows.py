"""Sliding windows over NHWC images with Array API operations only, shared by
convolution and pooling.

A window of ``(kh, kw)`` moved by strides ``(sh, sw)`` over ``X`` (N, H, W, C)
is read as kh·kw shifted strided slices ``X[:, i:i+sh*(Ho-1)+1:sh, j:..:sw, :]``,
each (N, Ho, Wo, C): slice ``i * kw + j`` holds every window's pixel (i, j).
Going back, :func:`scatter` adds kh·kw such slices into a zero image (the
adjoint of the read, col2im). Padding is ``concat`` with zero blocks. No
``as_strided``, no boolean indexing, no data-dependent shapes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .base import Shape

Pair = tuple[int, int]


def pair(value: int | Sequence[int]) -> Pair:
    """(a, b) from an integer (NumPy's too) or a pair of integers."""
    if not isinstance(value, Sequence):
        return int(value), int(value)
    a, b = value
    return int(a), int(b)


def out_size(n: int, k: int, s: int, padding: str) -> int:
    """Output length along one axis: Keras/TensorFlow's ``valid`` and ``same``."""
    return -(-n // s) if padding == "same" else (n - k) // s + 1


def same_pads(n: int, k: int, s: int) -> Pair:
    """(before, after) zero padding for ``same``; the odd pixel goes after, as
    in TensorFlow (bottom / right)."""
    total = max((out_size(n, k, s, "same") - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def window_shape(
    input_shape: Shape, kernel: Pair, strides: Pair, padding: str, what: str
) -> tuple[int, int] | str:
    """(Ho, Wo) for an image input, or why the windows do not fit it."""
    if len(input_shape) != 3:
        return (
            f"needs image inputs [height, width, channels], got shape {list(input_shape)}; "
            "set input_shape to e.g. [28, 28, 1]"
        )
    H, W = input_shape[0], input_shape[1]
    if padding == "valid" and (kernel[0] > H or kernel[1] > W):
        return (
            f"{what} {list(kernel)} is larger than its input {[H, W]} "
            "(padding valid); use a smaller one or padding same"
        )
    return out_size(H, kernel[0], strides[0], padding), out_size(W, kernel[1], strides[1], padding)


def pad(xp: Any, X: Any, pads: tuple[Pair, Pair], device: Any) -> Any:
    """X (N, H, W, C) with zero rows above/below and columns left/right."""
    (top, bottom), (left, right) = pads
    for axis, before, after in ((1, top, bottom), (2, left, right)):
        if before or after:
            shape = list(X.shape)
            parts = []
            for n in (before, after):
                shape[axis] = n
                parts.append(xp.zeros(tuple(shape), dtype=X.dtype, device=device))
            X = xp.concat([parts[0], X, parts[1]], axis=axis)
    return X


def windows(X: Any, kernel: Pair, strides: Pair, out: Pair) -> list[Any]:
    """The kh·kw shifted strided slices of X (N, H, W, C), each (N, Ho, Wo, C),
    in (i, j) row-major order."""
    (kh, kw), (sh, sw), (Ho, Wo) = kernel, strides, out
    return [
        X[:, i : i + sh * (Ho - 1) + 1 : sh, j : j + sw * (Wo - 1) + 1 : sw, :]
        for i in range(kh)
        for j in range(kw)
    ]


def window_max(xp: Any, X: Any, kernel: Pair, strides: Pair, out: Pair) -> Any:
    """The maximum of every window of X (N, H, W, C), as (N, Ho, Wo, C), taken
    separably: over each window's kw columns on every row, then over its kh
    rows. That is kw - 1 elementwise maxima on (N, H, Wo, C) and kh - 1 on
    (N, Ho, Wo, C) instead of kh·kw - 1 on strided views: 1.5x faster for
    2x2 pooling in NumPy."""
    (kh, kw), (sh, sw), (Ho, Wo) = kernel, strides, out
    R = _fold_max(xp, [X[:, :, j : j + sw * (Wo - 1) + 1 : sw, :] for j in range(kw)])
    Y = _fold_max(xp, [R[:, i : i + sh * (Ho - 1) + 1 : sh, :, :] for i in range(kh)])
    return Y if kh * kw > 1 else Y * 1  # a 1x1 window: a copy, not a view of X


def _fold_max(xp: Any, parts: Sequence[Any]) -> Any:
    out = parts[0]
    for part in parts[1:]:
        out = xp.maximum(out, part)
    return out


def scatter(
    xp: Any, parts: Iterable[Any], shape: Shape, kernel: Pair, strides: Pair, device: Any
) -> Any:
    """The adjoint of :func:`windows`: a zero image of ``shape`` (N, H, W, C)
    with part ``i * kw + j`` (N, Ho, Wo, C) added at pixel (i, j) of every
    window (overlapping windows add up). ``parts`` may be a generator: each
    part is then made just before it is added."""
    (_, kw), (sh, sw) = kernel, strides
    dX = None
    for k, part in enumerate(parts):
        if dX is None:
            dX = xp.zeros(shape, dtype=part.dtype, device=device)
        i, j = divmod(k, kw)
        Ho, Wo = int(part.shape[1]), int(part.shape[2])
        dX[:, i : i + sh * (Ho - 1) + 1 : sh, j : j + sw * (Wo - 1) + 1 : sw, :] += part
    return dX


def blocks(xp: Any, X: Any, kernel: Pair, out: Pair) -> Any:
    """Non-overlapping windows (strides = kernel) as a reshape of X (N, H, W, C)
    to (N, Ho, kh, Wo, kw, C): no copy when the windows tile X exactly
    (rows and columns no window reaches are cut off first)."""
    (kh, kw), (Ho, Wo) = kernel, out
    N, H, W, C = X.shape
    if H != Ho * kh or W != Wo * kw:
        X = X[:, : Ho * kh, : Wo * kw, :]
    return xp.reshape(X, (N, Ho, kh, Wo, kw, C))


def unblock(xp: Any, G: Any, shape: Shape, device: Any) -> Any:
    """The adjoint of :func:`blocks`: G (N, Ho, kh, Wo, kw, C) back to an
    image of ``shape`` (N, H, W, C), zeros where no window reached."""
    N, Ho, kh, Wo, kw, C = G.shape
    dX = xp.reshape(G, (N, Ho * kh, Wo * kw, C))
    return pad(xp, dX, ((0, shape[1] - Ho * kh), (0, shape[2] - Wo * kw)), device)

"""Data augmentation on the training device, through the array namespace.

``RandomShift(k)`` moves each training image by its own random offset of up
to ±k pixels in x and in y (background comes in at the edges), the distortion that
lifts an MLP on MNIST from ~98.3 % to ~99 %. A shift is a product with
shift matrices, ``S_y @ image @ S_x^T`` where ``S[i, j] = 1`` iff
``j == i - offset``: two batched matmuls, no data-dependent indexing, so it
runs unchanged on NumPy, CuPy, torch and array-api-strict.
"""

from __future__ import annotations

import math
from typing import Any

from array_api_compat import device as device_of

from .backend import backend_of
from .errors import ConfigError


class RandomShift:
    """Shift each image of a batch by a random (dy, dx) in [-k, k]^2.

    Parameters
    ----------
    max_shift : k, the largest shift in pixels (1 to 4)
    image_shape : (height, width) of the flattened rows (28, 28 for MNIST)
    seed : offsets are drawn from (seed, epoch, batch) on the device's generator
    """

    def __init__(self, max_shift: int = 2, image_shape: tuple[int, int] = (28, 28), seed: int = 0):
        if isinstance(max_shift, bool) or not isinstance(max_shift, int) or not 1 <= max_shift <= 4:
            raise ConfigError(f"augment: expected a shift of 1 to 4 pixels, got {max_shift!r}")
        self.max_shift = max_shift
        self.image_shape = tuple(image_shape)
        self.seed = seed
        self._generator: Any = None
        self._epoch: int | None = None

    def offsets(self, xp: Any, X: Any, epoch: int) -> tuple[Any, Any]:
        """Integer offsets (batch,) for y and for x, uniform in [-k, k]."""
        backend = backend_of(X)
        if self._epoch != epoch:
            self._generator = backend.random_generator([self.seed, epoch, 2])
            self._epoch = epoch
        span = 2 * self.max_shift + 1
        u = backend.uniform(self._generator, (2, X.shape[0]), X.dtype)
        k = xp.astype(xp.floor(u * span), xp.int64) - self.max_shift
        return k[0, :], k[1, :]

    def __call__(self, xp: Any, X: Any, epoch: int, batch: int) -> Any:
        height, width = self.image_shape
        if X.shape[1] != height * width:
            raise ConfigError(
                f"augment: rows of {X.shape[1]} values are not {height}x{width} images"
            )
        dy, dx = self.offsets(xp, X, epoch)
        # The background (each image's minimum: 0 for raw pixels, -mean/std once
        # standardised) is what comes in at the edges, so shift X - background.
        background = xp.min(X, axis=1, keepdims=True)
        images = xp.reshape(X - background, (X.shape[0], height, width))
        shifted = _shift_matrices(xp, dy, height, X.dtype) @ images
        shifted = shifted @ xp.matrix_transpose(_shift_matrices(xp, dx, width, X.dtype))
        return xp.reshape(shifted, (X.shape[0], height * width)) + background

    def config(self) -> dict[str, Any]:
        return {"type": "shift", "max_shift": self.max_shift}


def _shift_matrices(xp: Any, offsets: Any, size: int, dtype: Any) -> Any:
    """(batch, size, size) matrices S with S[b, i, j] = 1 iff j == i - offsets[b]."""
    index = xp.arange(size, dtype=xp.int64, device=device_of(offsets))
    i = xp.reshape(index, (1, size, 1))
    j = xp.reshape(index, (1, 1, size))
    return xp.astype(j == i - xp.reshape(offsets, (-1, 1, 1)), dtype)


def make_augment(spec: Any, image_shape: tuple[int, int] = (28, 28), seed: int = 0) -> Any:
    """An augmentation from a config value: false / 0 for none, k for ±k-pixel shifts."""
    if spec in (None, False, 0):
        return None
    if callable(spec):
        return spec
    return RandomShift(spec, image_shape, seed)


def image_side(n_inputs: int) -> int | None:
    """The side of a square image with n_inputs pixels, or None."""
    side = math.isqrt(n_inputs)
    return side if side * side == n_inputs else None

"""Reading a user's image and centring it the MNIST way.

MNIST digits are white ink on black, the ink fitted in a 20x20 box keeping its
aspect ratio, pasted in a 28x28 image so that the centre of mass of the
intensities lies at the centre (row 14, column 14 in pixel indices; MNIST
itself used whole-pixel shifts, so its digits' centres lie within half a pixel
of it). A network trained on MNIST sees only such images, so a user's image
(any size, any format, dark ink on light paper or the other way round) goes
through the same steps before ``gnet predict`` or the demo asks the network:

* :func:`load_image` reads a file with Pillow into a float32 greyscale array in
  [0, 1] with the ink high;
* :func:`center_mnist` crops to the ink, scales into 20x20 and centres by mass;
* :func:`prepare` does both and flattens to the 784 inputs of a network;
* :func:`network_input` shapes centred digits as a network takes them
  (flat rows for ``input_shape (784,)``, (N, 28, 28, 1) images for a
  convolutional ``(28, 28, 1)``);
* :func:`to_png` writes a digit back out as a PNG.

Host-only code: numpy and Pillow, no array backend.
"""

from __future__ import annotations

import math
import os
import secrets
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from gnet.errors import ImageError

__all__ = [
    "SIZE",
    "BOX",
    "MAX_PIXELS",
    "load_image",
    "center_mnist",
    "prepare",
    "network_input",
    "to_png",
]

SIZE = 28
"""Side of an MNIST image in pixels."""

BOX = 20
"""Side of the box the ink is fitted into, keeping its aspect ratio."""

INK_MIN = 0.1
"""A loaded image whose strongest ink (after removing the background level) is
below this, in [0, 1], has no ink: about 25 of 255 grey levels, above JPEG noise
on a blank page."""

INK_THRESHOLD = 0.05
"""Pixels above this fraction of the strongest ink count when cropping to the
ink's bounding box."""

MAX_PIXELS = 40_000_000
"""Largest image read, in pixels (40 megapixels, e.g. 8000x5000): a larger one
is refused from its header, before any pixel is decoded."""

WORK_PIXELS = 4_000_000
"""An image larger than this is shrunk by a whole factor (averaging blocks of
pixels, a band of rows at a time) to about this size as it is converted to
numbers, so that reading a legal image stays around 200 MB at most (the
decoded image itself: 4 bytes a pixel for colour); the digit ends up 20x20
anyway."""

_CENTRE = SIZE / 2  # 14.0: centre of mass target, in pixel indices (MNIST's)


def _fail(path: str | os.PathLike[str], why: str) -> ImageError:
    return ImageError(f"{os.fspath(path)}: {why}")


def _to_grey(img: Image.Image, peak: float | None = None) -> np.ndarray:
    """A decoded Pillow image as float32 greyscale in [0, 1], black 0, white 1.

    Transparency is composited onto white, so ink drawn on a transparent
    background reads like ink on paper. ``peak``: the largest value of the
    whole image (modes "I" and "F"), when ``img`` is one band of it.
    """
    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        top = peak if peak is not None else (float(a.max()) if a.size else 0.0)
        if mode.startswith("I;16"):
            a = a / 65535.0
        elif mode == "I":
            a = a / (65535.0 if top > 255 else 255.0)
        elif top > 1.0:  # "F" with unknown range
            a = a / top
        return np.clip(a, 0.0, 1.0).astype(np.float32)
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if has_alpha:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    grey = img.convert("L")
    out: np.ndarray = np.asarray(grey, dtype=np.float32) / np.float32(255.0)
    return out


def _border(a: np.ndarray) -> np.ndarray:
    """The pixels on the four edges of a 2-D array."""
    if a.shape[0] <= 2 or a.shape[1] <= 2:
        return a.ravel()
    return np.concatenate([a[0, :], a[-1, :], a[1:-1, 0], a[1:-1, -1]])


def _check_size(name: str, img: Image.Image) -> None:
    """Refuse an image whose header declares more than MAX_PIXELS pixels."""
    width, height = img.size
    if width * height > MAX_PIXELS:
        raise _fail(
            name,
            f"image too large: {width}x{height} pixels ({width * height / 1e6:.1f} megapixels; "
            f"the limit is {MAX_PIXELS / 1e6:g} megapixels)",
        )


def _shrink_factor(size: tuple[int, int]) -> int:
    """The whole factor that brings ``size`` down to about WORK_PIXELS (1: none)."""
    pixels = size[0] * size[1]
    return math.ceil(math.sqrt(pixels / WORK_PIXELS)) if pixels > WORK_PIXELS else 1


_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _grey_shrunk(img: Image.Image, factor: int) -> np.ndarray:
    """:func:`_to_grey` of a large decoded image, shrunk by ``factor`` (blocks
    of factor x factor pixels averaged), one band of rows at a time so that
    no full-size copy is ever made; the EXIF orientation is applied to the
    small result."""
    width, height = img.size
    fx, fy = min(factor, width), min(factor, height)
    cols, rows = width // fx, height // fy
    peak = None
    if img.mode in ("I", "F"):
        extrema: Any = img.getextrema()  # (low, high) for a one-band image
        peak = float(extrema[1])
    band = fy * max(1, WORK_PIXELS // 4 // (width * fy))  # rows per band: ~1 megapixel
    out = np.empty((rows, cols), dtype=np.float32)
    for top in range(0, rows * fy, band):
        bottom = min(top + band, rows * fy)
        grey = _to_grey(img.crop((0, top, cols * fx, bottom)), peak)
        blocks = grey.reshape((bottom - top) // fy, fy, cols, fx)
        out[top // fy : bottom // fy] = blocks.mean(axis=(1, 3), dtype=np.float64)
    orientation = img.getexif().get(0x0112)
    if orientation in _ORIENTATION:
        turned = Image.fromarray(out).transpose(_ORIENTATION[orientation])
        out = np.asarray(turned, dtype=np.float32)
    return out


def load_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as float32 greyscale in [0, 1] with the ink high.

    Any format Pillow reads (PNG, JPEG, BMP, GIF (first frame), TIFF, WebP...)
    up to :data:`MAX_PIXELS` (40 megapixels; a larger image is refused from
    its header, before decoding); one over :data:`WORK_PIXELS` is shrunk by a
    whole factor first, so the result is then about 4 megapixels. Colour is
    converted to grey; a transparent background is composited onto white
    first; an EXIF orientation is applied. When the background is light (the
    median of the border pixels is above one half) the image is inverted, so
    the result is light ink on black like MNIST. The background level (the
    border median) is then subtracted and the result divided by its maximum,
    so grey paper becomes black and the strongest ink 1.

    Raises :class:`~gnet.errors.ImageError` (a ``ValueError``), one line naming
    the file, for a missing, unreadable or empty file, a file that is not an
    image, truncated or corrupt image data, and an image with no ink.
    """
    name = os.fspath(path)
    try:
        st = os.stat(name)
    except FileNotFoundError:
        raise _fail(name, "no such file") from None
    except OSError as e:
        raise _fail(name, f"cannot read: {e.strerror or e}") from None
    if os.path.isdir(name):
        raise _fail(name, "is a directory, not an image file")
    if st.st_size == 0:
        raise _fail(name, "empty file, not an image")
    try:
        with warnings.catch_warnings():  # Pillow's own bomb warning (> 89 MP): refused below
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(name)  # reads the header only
        with opened as img:
            _check_size(name, img)
            factor = _shrink_factor(img.size)
            if factor > 1:  # JPEG: decode at 1/2, 1/4 or 1/8 scale straight away
                img.draft(img.mode, (img.size[0] // factor, img.size[1] // factor))
            img.load()  # decode now, so truncated data fails here
            factor = _shrink_factor(img.size)
            if factor > 1:
                grey = _grey_shrunk(img, factor)
            else:
                grey = _to_grey(ImageOps.exif_transpose(img))
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise _fail(name, "not an image (format not recognised)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise _fail(name, f"image too large: {e}") from None
    except PermissionError as e:
        raise _fail(name, f"cannot read: {e.strerror or e}") from None
    except Exception as e:  # Pillow raises OSError, SyntaxError, ValueError, ...
        raise _fail(name, f"truncated or corrupt image data ({e})") from None
    if grey.size == 0:
        raise _fail(name, "image has no pixels")

    if float(np.median(_border(grey))) > 0.5:
        grey = 1.0 - grey
    grey = np.clip(grey - float(np.median(_border(grey))), 0.0, None)
    peak = float(grey.max())
    if peak < INK_MIN:
        raise _fail(name, "no ink found (the image is blank)")
    return (grey / peak).astype(np.float32, copy=False)


def _as_2d(gray: object) -> np.ndarray:
    a = np.asarray(gray, dtype=np.float64)
    if a.ndim == 1:  # a flat square canvas, e.g. the demo's list of values
        side = math.isqrt(a.size)
        if a.size == 0 or side * side != a.size:
            raise ValueError(
                f"expected a 2-D greyscale image or a flat square one, "
                f"got {a.size} values (not a square)"
            )
        a = a.reshape(side, side)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"expected a non-empty 2-D greyscale image, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError("greyscale image has NaN or infinite values")
    return a


def center_mnist(gray: np.ndarray) -> np.ndarray:
    """Centre a greyscale digit the MNIST way; returns float32 (28, 28) in [0, 1].

    ``gray`` is a 2-D array of any size with the ink high (as :func:`load_image`
    gives, or a drawing canvas; values in any range, e.g. 0..255, since only
    their ratios matter; negative values count as no ink). A 1-D input whose
    length is a square (784, 78400, ...) is read as a square image.

    Steps: crop to the bounding box of the pixels above ``INK_THRESHOLD`` of the
    strongest ink; resize to fit a 20x20 box keeping the aspect ratio (Pillow
    LANCZOS on float data); place it in a black 28x28 image at the whole-pixel
    position that brings the centre of mass of the intensities nearest to
    (14, 14), as MNIST did, but never so far that ink would leave the image
    (then the centre of mass stays off-centre); rescale so the maximum is 1.

    Raises :class:`~gnet.errors.ImageError` ``"no ink found"`` for a blank
    input, ``ValueError`` for a wrong shape or non-finite values.
    """
    a = np.clip(_as_2d(gray), 0.0, None)
    peak = float(a.max())
    if not peak > 0.0:
        raise ImageError("no ink found (the image is blank)")
    a = a / peak

    rows = np.flatnonzero((a > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((a > INK_THRESHOLD).any(axis=0))
    crop = a[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    nh = min(BOX, max(1, round(h * scale)))
    nw = min(BOX, max(1, round(w * scale)))
    if (nh, nw) == (h, w):
        digit = crop
    else:
        img = Image.fromarray(crop.astype(np.float32))  # mode "F"
        digit = np.asarray(img.resize((nw, nh), Image.Resampling.LANCZOS), dtype=np.float64)
        digit = np.clip(digit, 0.0, None)  # LANCZOS rings slightly below zero
    mass = float(digit.sum())
    if not mass > 0.0:  # cannot happen for a crop around ink, but be safe
        raise ImageError("no ink found (the image is blank)")

    cy = float((digit.sum(axis=1) * np.arange(nh)).sum()) / mass
    cx = float((digit.sum(axis=0) * np.arange(nw)).sum()) / mass
    top = min(max(math.floor(_CENTRE - cy + 0.5), 0), SIZE - nh)
    left = min(max(math.floor(_CENTRE - cx + 0.5), 0), SIZE - nw)
    out = np.zeros((SIZE, SIZE), dtype=np.float64)
    out[top : top + nh, left : left + nw] = digit
    out /= out.max()
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def prepare(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file and centre it the MNIST way: float32 (784,) in [0, 1].

    The result is ready for a network trained on MNIST scaled to [0, 1].
    Raises :class:`~gnet.errors.ImageError` naming the file.
    """
    grey = load_image(path)
    try:
        digit = center_mnist(grey)
    except ValueError as e:
        raise _fail(path, str(e)) from None
    return digit.reshape(SIZE * SIZE)


def network_input(digits: Any, input_shape: Any) -> np.ndarray:
    """Centred 28x28 digits (one (28, 28) or (784,) digit, or a stack of
    them) as a batch of the network's ``input_shape``: (N, 784) for flat
    inputs, (N, 28, 28, 1) for one-channel images. ValueError naming the
    shape for a network that does not take 28x28 one-channel images."""
    shape = tuple(int(d) for d in input_shape)
    if shape not in ((SIZE * SIZE,), (SIZE, SIZE, 1)):
        raise ValueError(
            f"the model takes inputs of shape {shape}, not {SIZE}x{SIZE} one-channel "
            f"images ({SIZE * SIZE},) or ({SIZE}, {SIZE}, 1)"
        )
    a = np.asarray(digits, dtype=np.float32)
    if a.size % (SIZE * SIZE) or a.size == 0:
        raise ValueError(f"expected {SIZE}x{SIZE} digits, got an array of shape {a.shape}")
    return a.reshape(a.size // (SIZE * SIZE), *shape)


def to_png(pixels: np.ndarray, path: str | os.PathLike[str], scale: int = 1) -> Path:
    """Save a digit as an 8-bit greyscale PNG, written atomically; returns the path.

    ``pixels`` is (784,), (28, 28) or (28, 28, 1) (any 2-D shape, or 3-D
    with one channel, is accepted), floats in
    [0, 1] or integers in 0..255, written as they are (ink high: a white digit
    on black, like MNIST). ``scale`` (a positive integer) enlarges each pixel
    into a ``scale`` x ``scale`` block. The file is written to a temporary file
    in the same directory and moved into place with ``os.replace``, so a
    reader never sees half a file.

    Raises ``ValueError`` for a bad shape, range or scale, and
    :class:`~gnet.errors.ImageError` naming the file when it cannot be written.
    """
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    a = np.asarray(pixels)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 1 and a.size == SIZE * SIZE:
        a = a.reshape(SIZE, SIZE)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"expected 784 pixels or a 2-D image, got shape {a.shape}")
    if a.dtype == np.bool_:
        data = a.astype(np.uint8) * 255
    elif np.issubdtype(a.dtype, np.integer):
        if a.min() < 0 or a.max() > 255:
            raise ValueError("integer pixels must be in 0..255")
        data = a.astype(np.uint8)
    else:
        f = a.astype(np.float64)
        if not np.all(np.isfinite(f)):
            raise ValueError("pixels have NaN or infinite values")
        if f.min() < -1e-6 or f.max() > 1.0 + 1e-6:
            raise ValueError(f"float pixels must be in [0, 1], got [{f.min():.4g}, {f.max():.4g}]")
        data = np.round(np.clip(f, 0.0, 1.0) * 255.0).astype(np.uint8)
    if scale > 1:
        data = np.repeat(np.repeat(data, scale, axis=0), scale, axis=1)

    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as stream:
                Image.fromarray(data).save(stream, format="PNG")  # uint8 2-D: mode "L"
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as e:
        raise _fail(target, f"cannot write PNG: {e.strerror or e}") from None
    return target

"""Tests of gnet.images: reading a user's image and centring it the MNIST way.

The oracle is real MNIST: its test digits are already centred the MNIST way, so
an MNIST digit disguised as a user's image (enlarged, off-centre, black ink on
a big white page, saved as PNG / JPEG / BMP) must come back as itself. The IDX
file is parsed here independently of gnet.data.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gnet.errors import GNetError, ImageError
from gnet.images import center_mnist, load_image, prepare, to_png

REPO = Path(__file__).resolve().parents[1]
ROWS, COLS = np.mgrid[0:28, 0:28]


def _data_dir() -> Path:
    env = os.environ.get("GNET_DATA_DIR")
    if env:
        p = Path(env)
        return p if p.is_absolute() else REPO / p
    return REPO.parent / "shared" / "data"


@pytest.fixture(scope="module")
def mnist_test_images() -> np.ndarray:
    """The first 200 MNIST test images as uint8 (200, 28, 28), parsed by hand."""
    path = _data_dir() / "mnist" / "t10k-images-idx3-ubyte.gz"
    if not path.is_file():
        pytest.skip(f"MNIST test images not found at {path} (set GNET_DATA_DIR)")
    with gzip.open(path, "rb") as f:
        raw = f.read(16 + 200 * 28 * 28)
    magic, n, rows, cols = np.frombuffer(raw[:16], dtype=">u4")
    assert (magic, rows, cols) == (2051, 28, 28) and n >= 200
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(200, 28, 28)


def _com(img: np.ndarray) -> tuple[float, float]:
    img = np.asarray(img, dtype=np.float64).reshape(28, 28)
    m = img.sum()
    return float((img * ROWS).sum() / m), float((img * COLS).sum() / m)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64))[0, 1])


@pytest.fixture(scope="module")
def well_centred(mnist_test_images: np.ndarray) -> list[np.ndarray]:
    """Eight MNIST digits whose centre of mass is within 0.3 px of (14, 14).

    MNIST centred by whole pixels, so a digit's centre of mass can sit up to
    half a pixel off (14, 14), and re-centring it may then legitimately move
    it by one pixel, which for a thin "1" ruins a pixelwise correlation. Digits
    near the centre have one right answer.
    """
    picked = []
    for img in mnist_test_images:
        cy, cx = _com(img)
        if abs(cy - 14) < 0.3 and abs(cx - 14) < 0.3:
            picked.append(img)
        if len(picked) == 8:
            break
    assert len(picked) == 8
    return picked


def _page(digit: np.ndarray) -> np.ndarray:
    """An MNIST digit as a user's scan: 10x enlarged (nearest), black ink on a
    big white page, well off-centre."""
    big = np.repeat(np.repeat(digit, 10, axis=0), 10, axis=1)
    page = np.full((520, 430), 255, dtype=np.uint8)
    page[25:305, 130:410] = 255 - big
    return page


# --- center_mnist --------------------------------------------------------------------


def test_centring_a_centred_mnist_digit_gives_it_back(mnist_test_images: np.ndarray) -> None:
    corrs = []
    for img in mnist_test_images[:50]:
        x = img.astype(np.float32) / 255
        y = center_mnist(x)
        assert y.shape == (28, 28) and y.dtype == np.float32
        assert y.min() >= 0.0 and y.max() == pytest.approx(1.0)
        cy, cx = _com(y)
        assert abs(cy - 14) <= 0.5 + 1e-9 and abs(cx - 14) <= 0.5 + 1e-9
        corrs.append(_corr(x, y))
    assert min(corrs) > 0.9
    assert np.median(corrs) > 0.99


def test_center_mnist_any_size_any_range_and_flat_square(well_centred: list[np.ndarray]) -> None:
    digit = well_centred[0]
    rows = np.flatnonzero(digit.any(axis=1))
    cols = np.flatnonzero(digit.any(axis=0))
    ink = digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(np.float64)
    big = np.repeat(np.repeat(ink, 10, axis=0), 10, axis=1)  # values 0..255
    canvas = np.zeros((280, 280), dtype=np.float64)  # a demo-sized canvas
    canvas[5 : 5 + big.shape[0], 75 : 75 + big.shape[1]] = big  # off-centre
    y = center_mnist(canvas)
    assert y.shape == (28, 28)
    assert _corr(y, digit) > 0.9
    # The browser demo sends a flat list of greyscale values.
    y_flat = center_mnist(canvas.ravel().tolist())
    np.testing.assert_array_equal(y, y_flat)


def test_aspect_ratio_is_kept_tall_thin_bar() -> None:
    canvas = np.zeros((300, 300), dtype=np.float32)
    canvas[50:250, 140:160] = 1.0  # 200 tall, 20 wide
    y = center_mnist(canvas)
    rows = np.flatnonzero((y > 0.05).any(axis=1))
    cols = np.flatnonzero((y > 0.05).any(axis=0))
    assert rows[-1] - rows[0] + 1 == 20
    assert cols[-1] - cols[0] + 1 <= 3
    cy, cx = _com(y)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5


def test_wide_short_bar_fits_20_wide() -> None:
    canvas = np.zeros((40, 400), dtype=np.float32)
    canvas[10:30, 20:380] = 1.0  # 360 wide, 20 tall -> 20 wide, 1 tall
    y = center_mnist(canvas)
    rows = np.flatnonzero((y > 0.05).any(axis=1))
    cols = np.flatnonzero((y > 0.05).any(axis=0))
    assert cols[-1] - cols[0] + 1 == 20
    assert rows[-1] - rows[0] + 1 <= 2


def test_ink_in_a_corner_is_clipped_not_wrapped_around() -> None:
    # A heavy blob in the top-left corner and a thin stroke to the far
    # bottom-right corner: putting the centre of mass at (14, 14) would push
    # the stroke's end off the image. All the ink must stay, none wrapped round.
    canvas = np.zeros((100, 100), dtype=np.float32)
    canvas[0:15, 0:15] = 1.0
    for i in range(100):
        canvas[i, i] = 1.0
    y = center_mnist(canvas)
    rows = np.flatnonzero((y > 0.05).any(axis=1))
    cols = np.flatnonzero((y > 0.05).any(axis=0))
    assert (rows[0], rows[-1], cols[0], cols[-1]) == (8, 27, 8, 27)  # shifted as far as it can
    assert y[27, 27] > 0.05  # the stroke's end is still there
    cy, cx = _com(y)
    assert cy < 13.5 and cx < 13.5  # so its centre of mass stays up-left of centre


def test_center_mnist_rejects_blank_and_bad_input() -> None:
    with pytest.raises(ImageError, match="no ink"):
        center_mnist(np.zeros((280, 280)))
    with pytest.raises(ValueError, match="no ink"):
        center_mnist(-np.ones((28, 28)))
    with pytest.raises(ValueError, match="2-D"):
        center_mnist(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="square"):
        center_mnist([0.0, 1.0, 0.5])
    with pytest.raises(ValueError, match="NaN"):
        center_mnist(np.full((5, 5), np.nan))


# --- prepare on files ----------------------------------------------------------------


@pytest.mark.parametrize("ext", ["png", "jpg", "bmp"])
def test_prepare_recovers_mnist_digit_from_a_scan(
    well_centred: list[np.ndarray], tmp_path: Path, ext: str
) -> None:
    for i, digit in enumerate(well_centred):
        path = tmp_path / f"digit{i}.{ext}"
        Image.fromarray(_page(digit)).save(path)
        x = prepare(path)
        assert x.shape == (784,) and x.dtype == np.float32
        assert 0.0 <= x.min() and x.max() == pytest.approx(1.0)
        assert _corr(x, digit) > 0.85, (ext, i)
        cy, cx = _com(x)
        oy, ox = _com(digit)
        assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
        assert abs(cy - oy) < 0.8 and abs(cx - ox) < 0.8


def test_load_image_inverts_light_background_only(
    well_centred: list[np.ndarray], tmp_path: Path
) -> None:
    digit = well_centred[1]
    Image.fromarray(255 - digit).save(tmp_path / "dark_ink.png")
    Image.fromarray(digit).save(tmp_path / "light_ink.png")
    a = load_image(tmp_path / "dark_ink.png")
    b = load_image(tmp_path / "light_ink.png")
    assert a.dtype == np.float32 and a.shape == (28, 28)
    np.testing.assert_allclose(a, digit / 255, atol=1e-6)
    np.testing.assert_allclose(b, digit / 255, atol=1e-6)


def test_load_image_inverts_by_border_median_not_mean(tmp_path: Path) -> None:
    # Heavy black ink covering most of a white page: the mean is dark, but the
    # border says the paper is white, so the ink must come out high.
    page = np.full((100, 100), 255, dtype=np.uint8)
    page[5:95, 5:95] = 0
    Image.fromarray(page).save(tmp_path / "heavy.png")
    g = load_image(tmp_path / "heavy.png")
    assert g[50, 50] == 1.0 and g[0, 0] == 0.0


def test_grey_paper_becomes_black(well_centred: list[np.ndarray], tmp_path: Path) -> None:
    digit = well_centred[2].astype(np.float64)
    page = np.round(200 - digit / 255 * 180).astype(np.uint8)  # grey paper 200, ink 20
    Image.fromarray(page).save(tmp_path / "grey.png")
    g = load_image(tmp_path / "grey.png")
    assert g.min() == 0.0 and g.max() == 1.0
    np.testing.assert_allclose(g, digit / digit.max(), atol=1 / 255)
    assert np.all(g[digit == 0] == 0)


def test_rgba_png_with_transparent_background(
    well_centred: list[np.ndarray], tmp_path: Path
) -> None:
    digit = well_centred[3]
    big = np.repeat(np.repeat(digit, 4, axis=0), 4, axis=1)
    rgba = np.zeros((150, 200, 4), dtype=np.uint8)  # transparent black everywhere
    rgba[20:132, 60:172, 3] = big  # black ink, opacity = MNIST intensity
    path = tmp_path / "drawn.png"
    Image.fromarray(rgba).save(path)
    assert Image.open(path).mode == "RGBA"
    g = load_image(path)
    assert g[0, 0] == 0.0 and g.max() == pytest.approx(1.0)
    x = prepare(path)
    assert _corr(x, digit) > 0.85


def test_colour_and_palette_formats(well_centred: list[np.ndarray], tmp_path: Path) -> None:
    digit = well_centred[4]
    page = _page(digit)
    rgb = np.stack([page, page, np.full_like(page, 255)], axis=-1)  # blue ink on white
    Image.fromarray(rgb).save(tmp_path / "blue.jpg", quality=90)
    Image.fromarray(page).convert("P").save(tmp_path / "page.gif")
    Image.fromarray(page).convert("1").save(tmp_path / "bilevel.png")
    for name in ["blue.jpg", "page.gif"]:
        assert _corr(prepare(tmp_path / name), digit) > 0.85, name
    assert _corr(prepare(tmp_path / "bilevel.png"), digit) > 0.7  # dithered


def _assert_image_error(path: Path, match: str) -> None:
    with pytest.raises(ImageError, match=match) as info:
        prepare(path)
    msg = str(info.value)
    assert str(path) in msg and "\n" not in msg
    assert isinstance(info.value, ValueError) and isinstance(info.value, GNetError)
    with pytest.raises(ImageError):
        load_image(str(path))


def test_missing_file(tmp_path: Path) -> None:
    _assert_image_error(tmp_path / "nope.png", "no such file")


def test_directory(tmp_path: Path) -> None:
    _assert_image_error(tmp_path, "directory")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    _assert_image_error(path, "empty")


def test_text_file_named_png(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("this is not a picture of a digit\n")
    _assert_image_error(path, "not an image")


def test_truncated_png(well_centred: list[np.ndarray], tmp_path: Path) -> None:
    full = tmp_path / "full.png"
    noise = np.random.default_rng(0).integers(0, 256, size=(200, 200), dtype=np.uint8)
    Image.fromarray(noise).save(full)  # incompressible, so the data is long
    data = full.read_bytes()
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    _assert_image_error(path, "truncated or corrupt")


def test_truncated_jpeg(well_centred: list[np.ndarray], tmp_path: Path) -> None:
    full = tmp_path / "full.jpg"
    Image.fromarray(_page(well_centred[0])).save(full)
    data = full.read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 3])
    _assert_image_error(path, "truncated or corrupt")


@pytest.mark.parametrize("colour", [255, 0, 128])
def test_blank_image_has_no_ink(tmp_path: Path, colour: int) -> None:
    path = tmp_path / f"blank{colour}.png"
    Image.fromarray(np.full((64, 48), colour, dtype=np.uint8)).save(path)
    _assert_image_error(path, "no ink found")


def test_blank_jpeg_with_noise_has_no_ink(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    page = np.clip(240 + rng.normal(0, 3, size=(120, 90)), 0, 255).astype(np.uint8)
    path = tmp_path / "blank.jpg"
    Image.fromarray(page).save(path)
    _assert_image_error(path, "no ink found")


# --- to_png --------------------------------------------------------------------------


def test_to_png_round_trip(well_centred: list[np.ndarray], tmp_path: Path) -> None:
    digit = well_centred[5]
    x = digit.astype(np.float32).ravel() / 255
    path = tmp_path / "d.png"
    assert to_png(x, path) == path
    with Image.open(path) as img:
        assert img.mode == "L" and img.size == (28, 28)
        np.testing.assert_array_equal(np.asarray(img), digit)
    # A 28x28 integer array, scaled up, overwriting in place.
    to_png(digit, path, scale=3)
    with Image.open(path) as img:
        a = np.asarray(img)
    assert a.shape == (84, 84)
    np.testing.assert_array_equal(a[::3, ::3], digit)
    np.testing.assert_array_equal(a[2::3, 1::3], digit)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.png"]  # no temp file left
    # What to_png writes, prepare reads back as the same digit.
    assert _corr(prepare(path), digit) > 0.95


def test_to_png_rejects_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    with pytest.raises(ValueError, match="scale"):
        to_png(np.zeros(784), path, scale=0)
    with pytest.raises(ValueError, match="shape"):
        to_png(np.zeros(100), path)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        to_png(np.full(784, 2.0), path)
    with pytest.raises(ValueError, match="0..255"):
        to_png(np.full((28, 28), 300), path)
    with pytest.raises(ImageError, match="cannot write"):
        to_png(np.zeros(784), tmp_path / "no" / "such" / "dir.png")
    assert list(tmp_path.iterdir()) == []


# --- network input shapes, ASCII digits of images ------------------------------------


def test_network_input_shapes_centred_digits_as_the_network_takes_them():
    from gnet.images import network_input

    digit = np.arange(784, dtype=np.float32).reshape(28, 28) / 784
    flat = network_input(digit, (784,))
    assert flat.shape == (1, 784) and flat.dtype == np.float32
    np.testing.assert_array_equal(flat[0], digit.ravel())
    images = network_input(np.stack([digit, digit]), [28, 28, 1])
    assert images.shape == (2, 28, 28, 1)
    np.testing.assert_array_equal(images[1, :, :, 0], digit)
    for shape in [(14, 14, 4), (100,), (28, 28, 3)]:
        with pytest.raises(ValueError, match="not 28x28 one-channel"):
            network_input(digit, shape)
    with pytest.raises(ValueError, match="28x28 digits"):
        network_input(np.zeros(100), (784,))


def test_to_png_and_ascii_digits_take_one_channel_images(tmp_path):
    from gnet.report import ascii_digit, ascii_digits, sixel

    digit = np.zeros((28, 28), np.float32)
    digit[8:20, 12:16] = 1.0
    path = to_png(digit[:, :, None], tmp_path / "nhwc.png")
    with Image.open(path) as im:
        assert im.size == (28, 28)
        np.testing.assert_array_equal(np.asarray(im), np.round(digit * 255).astype(np.uint8))
    art = ascii_digit(digit.ravel())
    assert len(art) == 28 and ascii_digit(digit[:, :, None]) == art
    assert ascii_digit(digit.ravel(), shape=(28, 28, 1)) == art
    assert ascii_digit(digit.ravel(), shape=(784,)) == art
    # Three channels laid out as a network's (H, W, C) input: their mean is drawn.
    rgb = np.stack([digit, digit, digit], axis=-1)
    assert ascii_digit(rgb.ravel(), shape=(28, 28, 3)) == art
    wide = np.zeros((10, 20))
    wide[2:8, 5:15] = 1
    assert len(ascii_digit(wide.ravel(), shape=(10, 20, 1))[0]) == 40  # two characters a pixel
    assert ascii_digits([digit.ravel()], ["x"], shape=(28, 28, 1)).count("\n") == 30
    assert sixel(digit.ravel(), shape=(28, 28, 1)) == sixel(digit)

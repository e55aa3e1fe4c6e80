"""Random shifts on the device, checked against a plain NumPy shift."""

import numpy as np
import pytest

import gnet
from gnet.augment import RandomShift, make_augment
from gnet.backend import get_backend, to_numpy


def numpy_shift(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """The oracle: move the image down by dy and right by dx, zeros coming in."""
    out = np.zeros_like(image)
    h, w = image.shape
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = image[
        max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)
    ]
    return out


def test_shift_matches_numpy(device, mnist):
    (X, _), _ = mnist
    be = get_backend(device)
    aug = RandomShift(3, seed=5)
    batch = be.asarray(X[:64])
    out = to_numpy(aug(be.xp, batch, 1, 0))
    # The offsets that call drew: the first draw of a fresh generator, same seed.
    aug2 = RandomShift(3, seed=5)
    dy, dx = (to_numpy(a) for a in aug2.offsets(be.xp, batch, 1))
    assert set(np.unique(dy)) <= set(range(-3, 4)) and len(np.unique(dy)) > 3
    for k in range(64):
        expected = numpy_shift(X[k].reshape(28, 28), int(dy[k]), int(dx[k]))
        np.testing.assert_allclose(out[k].reshape(28, 28), expected, atol=1e-6)


def test_standardised_images_get_their_background_at_the_edges(mnist):
    """After (X - mean) / std the background is -mean/std, not 0: that is what
    must come in at the edges, or a shift draws a grey frame round the digit."""
    (X, _), _ = mnist
    be = get_backend("cpu")
    Xs = (X[:32] - 0.1307) / 0.3081
    aug = RandomShift(2, seed=1)
    out = aug(be.xp, Xs, 1, 0)
    dy, dx = RandomShift(2, seed=1).offsets(be.xp, Xs, 1)
    for k in range(32):
        expected = numpy_shift(X[k].reshape(28, 28), int(dy[k]), int(dx[k]))
        np.testing.assert_allclose(out[k] * 0.3081 + 0.1307, expected.ravel(), atol=1e-5)


def test_offsets_are_uniform_over_the_range():
    be = get_backend("cpu")
    aug = RandomShift(2)
    dy, dx = aug.offsets(be.xp, np.zeros((20000, 784), np.float32), 1)
    counts = np.bincount(np.concatenate([dy, dx]) + 2, minlength=5)
    assert np.all(np.abs(counts / counts.sum() - 0.2) < 0.01)


def test_training_with_shifts_runs_and_evaluation_does_not_shift(mnist):
    (X, y), (Xt, yt) = mnist
    net = gnet.Network([784, 32, 10], ["relu", "softmax"], seed=0)
    before = gnet.to_numpy(net.predict_proba(Xt[:10])).copy()
    net.fit(
        X[:2000],
        y[:2000],
        epochs=1,
        augment=RandomShift(2),
        optimizer=gnet.optim.SGD(0.1, momentum=0.9),
    )
    assert not np.allclose(before, gnet.to_numpy(net.predict_proba(Xt[:10])))
    a = gnet.to_numpy(net.predict_proba(Xt[:10]))
    b = gnet.to_numpy(net.predict_proba(Xt[:10]))
    np.testing.assert_array_equal(a, b)


def test_bad_augment_values():
    with pytest.raises(ValueError, match="augment"):
        RandomShift(0)
    with pytest.raises(ValueError, match="augment"):
        RandomShift(True)
    assert make_augment(0) is None and make_augment(False) is None
    aug = make_augment(2)
    with pytest.raises(ValueError, match="not 28x28"):
        aug(get_backend("cpu").xp, np.zeros((2, 10), np.float32), 1, 0)


def test_image_layouts_shift_like_flat_rows(device, mnist):
    """(N, 28, 28), (N, 28, 28, 1) and three-channel (N, 28, 28, 3) batches move as
    the flat rows do, and come back in their own layout."""
    (X, _), _ = mnist
    be = get_backend(device)
    flat = to_numpy(RandomShift(2, seed=7)(be.xp, be.asarray(X[:16]), 3, 0))
    for shape in [(16, 28, 28), (16, 28, 28, 1)]:
        out = RandomShift(2, seed=7)(be.xp, be.asarray(X[:16].reshape(shape)), 3, 0)
        assert tuple(out.shape) == shape
        np.testing.assert_allclose(to_numpy(out).reshape(16, 784), flat, atol=1e-6)
    rgb = np.stack([X[:16], 0.5 * X[:16], 1.0 - X[:16]], axis=-1).reshape(16, 28, 28, 3)
    out = to_numpy(RandomShift(2, seed=7)(be.xp, be.asarray(rgb), 3, 0))
    dy, dx = (to_numpy(a) for a in RandomShift(2, seed=7).offsets(be.xp, be.asarray(rgb), 3))
    for k in range(16):
        for c in range(3):
            image = rgb[k, :, :, c]
            background = rgb[k].min()
            expected = numpy_shift(image - background, int(dy[k]), int(dx[k])) + background
            np.testing.assert_allclose(out[k, :, :, c], expected, atol=1e-6)
    flat_rgb = to_numpy(RandomShift(2, seed=7)(be.xp, be.asarray(rgb.reshape(16, -1)), 3, 0))
    np.testing.assert_allclose(flat_rgb.reshape(rgb.shape), out, atol=1e-6)
    with pytest.raises(ValueError, match="not 28x28"):
        RandomShift(2)(be.xp, be.asarray(np.zeros((2, 14, 14, 1), np.float32)), 1, 0)


@pytest.mark.skipif("conv2d" not in gnet.layers.LAYERS, reason="conv2d is not registered yet")
def test_a_conv_network_trains_with_shifts(mnist):
    (X, y), (Xt, yt) = mnist
    spec = [
        {"type": "conv2d", "filters": 4, "kernel_size": 3, "activation": "relu"},
        {"type": "flatten"},
        {"type": "dense", "units": 10, "activation": "softmax"},
    ]
    net = gnet.Network(spec, input_shape=(28, 28, 1), seed=0)
    history = net.fit(
        X[:1000],
        y[:1000],
        epochs=1,
        batch_size=20,
        augment=RandomShift(2),
        optimizer=gnet.optim.SGD(0.05, momentum=0.9),
    )
    assert np.isfinite(history.loss[-1]) and net.evaluate(Xt[:500], yt[:500])["accuracy"] > 0.5

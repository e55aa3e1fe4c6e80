"""gnet.data on the real files, and on every kind of broken file built from them."""

import gzip
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from datapaths import data_dir

from gnet import data
from gnet.errors import DataError

SHARED = data_dir()
NAMES = {key: entry["name"] for key, entry in data.DATASETS["mnist"]["files"].items()}


def require(name: str) -> Path:
    folder = SHARED / name
    if not all((folder / fname).is_file() for fname in NAMES.values()):
        pytest.skip(f"real {name} files not found in {folder} (set GNET_DATA_DIR)")
    return folder


@pytest.fixture(scope="module")
def mnist():
    require("mnist")
    return data.load("mnist", data_dir=SHARED, download=False)


@pytest.fixture(scope="module")
def small_arrays():
    """The first few real MNIST images and labels of each split, as uint8 arrays."""
    folder = require("mnist")
    arrays = {key: data.read_idx(folder / fname) for key, fname in NAMES.items()}
    return {key: a[:50] if key.startswith("train") else a[:20] for key, a in arrays.items()}


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """An IDX file holding *array* (uint8), with its natural or a given magic number."""
    if magic is None:
        magic = 0x0800 + array.ndim
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + array.astype(">u1").tobytes()


def write_dataset(folder: Path, arrays: dict, raw: dict | None = None, compress=True) -> Path:
    """Write an mnist/ folder of small IDX files; *raw* replaces a file's bytes."""
    target = folder / "mnist"
    target.mkdir(parents=True, exist_ok=True)
    for key, fname in NAMES.items():
        content = (raw or {}).get(key)
        if content is None:
            content = idx_bytes(arrays[key])
        if compress:
            (target / fname).write_bytes(gzip.compress(content))
        else:
            (target / fname.removesuffix(".gz")).write_bytes(content)
    return target


def load_tmp(tmp_path):
    return data.load("mnist", data_dir=tmp_path, download=False)


# ------------------------------------------------------------------ real data


def test_mnist_shapes_dtypes_ranges(mnist):
    (X, y), (Xt, yt) = mnist
    assert X.shape == (60000, 784) and Xt.shape == (10000, 784)
    assert y.shape == (60000,) and yt.shape == (10000,)
    assert X.dtype == np.float32 and y.dtype == np.int64
    assert Xt.dtype == np.float32 and yt.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert y[0] == 5
    assert set(np.unique(y)) == set(range(10)) == set(np.unique(yt))


def test_mnist_normalization_stats(mnist):
    (X, _), _ = mnist
    mean, std = data.normalization_stats(X)
    assert mean == pytest.approx(0.13066, abs=1e-5)
    assert std == pytest.approx(0.30811, abs=1e-5)


def test_fashion_mnist_loads_balanced():
    require("fashion-mnist")
    (X, y), (Xt, yt) = data.load("fashion-mnist", data_dir=SHARED, download=False)
    assert X.shape == (60000, 784) and Xt.shape == (10000, 784)
    assert X.dtype == np.float32 and y.dtype == np.int64
    assert 0.0 <= X.min() and X.max() <= 1.0
    assert np.bincount(y).tolist() == [6000] * 10
    assert np.bincount(yt).tolist() == [1000] * 10


def test_real_files_match_known_hashes(caplog):
    for name in data.DATASETS:
        require(name)
        with caplog.at_level(logging.WARNING, logger="gnet.data"):
            paths = data.fetch(name, data_dir=SHARED, download=False)
        assert {p.name for p in paths.values()} == set(NAMES.values())
    assert not caplog.records


def test_dataset_table():
    assert set(data.DATASETS) == {"mnist", "fashion-mnist"}
    assert data.DATASETS["mnist"]["class_names"] == [str(d) for d in range(10)]
    fashion = data.DATASETS["fashion-mnist"]["class_names"]
    assert fashion[0] == "T-shirt/top" and fashion[9] == "Ankle boot" and len(fashion) == 10
    for info in data.DATASETS.values():
        assert [f["name"] for f in info["files"].values()] == list(NAMES.values())
        assert all(url.endswith("/") for url in info["mirrors"])


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("GNET_DATA_DIR", str(tmp_path))
    assert data.default_data_dir() == tmp_path
    monkeypatch.delenv("GNET_DATA_DIR")
    assert "gnet" in str(data.default_data_dir())


def test_unknown_dataset_lists_known_names():
    with pytest.raises(DataError, match="mnist, fashion-mnist"):
        data.load("cifar", download=False)


# ------------------------------------------------------------- small real files


def test_small_dataset_loads(tmp_path, small_arrays, caplog):
    write_dataset(tmp_path, small_arrays)
    with caplog.at_level(logging.WARNING, logger="gnet.data"):
        (X, y), (Xt, yt) = load_tmp(tmp_path)
    assert X.shape == (50, 784) and Xt.shape == (20, 784)
    np.testing.assert_array_equal(X * 255, small_arrays["train_images"].reshape(50, -1))
    np.testing.assert_array_equal(yt, small_arrays["test_labels"])
    # Hand-made files are used, with a warning that they are not the known ones.
    assert "checksum matches no known mnist file" in caplog.text


def test_uncompressed_files_work(tmp_path, small_arrays):
    write_dataset(tmp_path, small_arrays, compress=False)
    assert not list((tmp_path / "mnist").glob("*.gz"))
    (X, y), (Xt, yt) = load_tmp(tmp_path)
    assert X.shape == (50, 784) and y[0] == 5
    np.testing.assert_array_equal(yt, small_arrays["test_labels"])


def test_real_uncompressed_file_is_recognised(tmp_path, caplog):
    folder = require("mnist")
    target = tmp_path / "mnist"
    target.mkdir()
    for fname in NAMES.values():
        os.symlink(folder / fname, target / fname)
    raw = gzip.decompress((folder / NAMES["test_labels"]).read_bytes())
    (target / NAMES["test_labels"]).unlink()
    (target / NAMES["test_labels"].removesuffix(".gz")).write_bytes(raw)
    with caplog.at_level(logging.WARNING, logger="gnet.data"):
        paths = data.fetch("mnist", data_dir=tmp_path, download=False)
    assert paths["test_labels"].name == "t10k-labels-idx1-ubyte"
    assert not caplog.records
    np.testing.assert_array_equal(data.read_idx(paths["test_labels"])[:3], [7, 2, 1])


# ------------------------------------------------------------------ bad files


def test_missing_file_without_download(tmp_path, small_arrays):
    folder = write_dataset(tmp_path, small_arrays)
    (folder / NAMES["train_labels"]).unlink()
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz: not found") as err:
        load_tmp(tmp_path)
    assert str(folder) in str(err.value)


def test_missing_folder_without_download(tmp_path):
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: not found"):
        load_tmp(tmp_path)


def test_truncated_labels(tmp_path, small_arrays):
    content = idx_bytes(small_arrays["test_labels"])[:-5]
    write_dataset(tmp_path, small_arrays, raw={"test_labels": content})
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz: truncated: header says 20"):
        load_tmp(tmp_path)


def test_truncated_images_message(tmp_path, small_arrays):
    content = idx_bytes(small_arrays["train_images"])[:1000]
    write_dataset(tmp_path, small_arrays, raw={"train_images": content}, compress=False)
    expected = (
        f"{tmp_path / 'mnist' / 'train-images-idx3-ubyte'}: truncated: header says "
        "50 images of 28x28 (39216 bytes) but the file has 1000 bytes"
    )
    with pytest.raises(DataError) as err:
        load_tmp(tmp_path)
    assert str(err.value) == expected


def test_trailing_bytes(tmp_path, small_arrays):
    content = idx_bytes(small_arrays["train_labels"]) + b"\x00\x01"
    write_dataset(tmp_path, small_arrays, raw={"train_labels": content})
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz: trailing bytes"):
        load_tmp(tmp_path)


@pytest.mark.parametrize("magic", [0x00000804, 0x12340801, 0x00000701])
def test_wrong_magic(tmp_path, small_arrays, magic):
    content = idx_bytes(small_arrays["test_labels"], magic=magic)
    write_dataset(tmp_path, small_arrays, raw={"test_labels": content})
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: "):
        load_tmp(tmp_path)


def test_swapped_files(tmp_path, small_arrays):
    content = idx_bytes(small_arrays["test_images"])
    write_dataset(tmp_path, small_arrays, raw={"test_labels": content})
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: expected an IDX labels file"):
        load_tmp(tmp_path)


def test_wrong_image_size(tmp_path, small_arrays):
    images = np.zeros((20, 32, 32), dtype=np.uint8)
    write_dataset(tmp_path, small_arrays, raw={"test_images": idx_bytes(images)})
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz: images are 32x32"):
        load_tmp(tmp_path)


def test_corrupt_gzip(tmp_path, small_arrays):
    folder = require("mnist")
    target = write_dataset(tmp_path, small_arrays)
    corrupt = bytearray((folder / NAMES["test_labels"]).read_bytes())
    corrupt[len(corrupt) // 2] ^= 0xFF
    (target / NAMES["test_labels"]).write_bytes(bytes(corrupt))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: corrupt gzip data"):
        load_tmp(tmp_path)


def test_cut_gzip(tmp_path, small_arrays):
    folder = require("mnist")
    target = write_dataset(tmp_path, small_arrays)
    whole = (folder / NAMES["test_labels"]).read_bytes()
    (target / NAMES["test_labels"]).write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: corrupt gzip data"):
        load_tmp(tmp_path)


def test_image_label_count_mismatch(tmp_path, small_arrays):
    labels = small_arrays["train_labels"][:45]
    write_dataset(tmp_path, small_arrays, raw={"train_labels": idx_bytes(labels)})
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz: has 45 labels but .* 50"):
        load_tmp(tmp_path)


def test_label_out_of_range(tmp_path, small_arrays):
    labels = small_arrays["test_labels"].copy()
    labels[7] = 10
    write_dataset(tmp_path, small_arrays, raw={"test_labels": idx_bytes(labels)})
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: label 10 at index 7"):
        load_tmp(tmp_path)


# -------------------------------------------------------------------- read_idx


def test_read_idx_other_types(tmp_path):
    values = np.arange(-6, 6, dtype=">i2").reshape(3, 4)
    path = tmp_path / "values.idx"
    header = bytes([0, 0, 0x0B, 2]) + (3).to_bytes(4, "big") + (4).to_bytes(4, "big")
    path.write_bytes(header + values.tobytes())
    array = data.read_idx(path)
    assert array.dtype == np.int16 and array.dtype.isnative
    np.testing.assert_array_equal(array, np.arange(-6, 6).reshape(3, 4))
    array[0, 0] = 1  # the caller owns a writeable array


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not an IDX file: only 0 bytes"),
        (b"\x00\x00\x08", "not an IDX file: only 3 bytes"),
        (b"\x00\x00\x08\x00", "gives no dimensions"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x01", "truncated: the IDX header needs 16 bytes"),
        (b"<html>not found</html>", "not an IDX file: magic number 0x3c68746d"),
    ],
)
def test_read_idx_bad_headers(tmp_path, content, message):
    path = tmp_path / "bad.idx"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as err:
        data.read_idx(path)
    assert str(err.value).startswith(str(path))
    assert "\n" not in str(err.value)


def test_read_idx_unreadable(tmp_path):
    with pytest.raises(DataError, match="nothing.gz: cannot read"):
        data.read_idx(tmp_path / "nothing.gz")
    with pytest.raises(DataError, match="cannot read"):
        data.read_idx(tmp_path)


def test_gzip_detected_by_content_not_name(tmp_path):
    folder = require("mnist")
    plain_name = tmp_path / "labels.raw"
    shutil.copy(folder / NAMES["test_labels"], plain_name)
    assert data.read_idx(plain_name).shape == (10000,)


# -------------------------------------------------------- splits and statistics


def test_train_validation_split():
    X = np.arange(200, dtype=np.float32).reshape(100, 2)
    y = np.arange(100)
    (Xtr, ytr), (Xv, yv) = data.train_validation_split(X, y, 0.2, seed=3)
    assert len(Xtr) == len(ytr) == 80 and len(Xv) == len(yv) == 20
    assert sorted(np.concatenate([ytr, yv]).tolist()) == list(range(100))
    np.testing.assert_array_equal(Xtr[:, 0], 2 * ytr)  # rows stay paired
    again = data.train_validation_split(X, y, 0.2, seed=3)
    np.testing.assert_array_equal(again[1][1], yv)
    other = data.train_validation_split(X, y, 0.2, seed=4)
    assert not np.array_equal(other[1][1], yv)
    (_, _), (Xv0, yv0) = data.train_validation_split(X, y, 0.0, seed=0)
    assert len(Xv0) == len(yv0) == 0


@pytest.mark.parametrize("fraction", [1.0, -0.1, 1.5, float("nan")])
def test_train_validation_split_bad_fraction(fraction):
    X = np.zeros((10, 2))
    with pytest.raises(ValueError, match="fraction"):
        data.train_validation_split(X, np.zeros(10), fraction, seed=0)


def test_normalization_stats_matches_numpy():
    X = np.random.default_rng(0).random((1000, 7), dtype=np.float32)
    mean, std = data.normalization_stats(X, chunk_rows=64)
    assert isinstance(mean, float) and isinstance(std, float)
    assert mean == pytest.approx(float(X.astype(np.float64).mean()), rel=1e-12)
    assert std == pytest.approx(float(X.astype(np.float64).std()), rel=1e-12)

"""Loading never trusts its input: model files, checkpoints and IDX files.

Property-based tests (hypothesis) mutate real files (a saved model, a
checkpoint, a format-1 fixture, the real MNIST IDX files cut down and copied
to a temporary folder): byte flips, truncations, header and metadata edits.
Every outcome is a loaded object or one of gnet's own errors (a
``GNetError`` naming the file), never anything else, within bounded time and
memory. Example-based tests pin each failure kind the loaders must report.

The example counts are kept small (the whole module runs in well under a
minute on two shared cores); ``derandomize`` makes every run draw the same
examples, so CI is repeatable.
"""

from __future__ import annotations

import gzip
import json
import os
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from datapaths import data_dir
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gnet
from gnet import data
from gnet.checkpoint import build_optimizer, load_checkpoint, save_checkpoint
from gnet.config import resolve
from gnet.errors import DataError, GNetError, ModelFileError

settings.register_profile(
    "gnet-hardening",
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
PROFILE = settings.get_profile("gnet-hardening")
MODEL_EXAMPLES = 400
IDX_EXAMPLES = 300

FIXTURES = Path(__file__).parent / "fixtures"
MAX_SECONDS = 20.0  # per load, generous for a loaded CI machine
MAX_PYTHON_MB = 64  # NumPy and Python allocations while loading a small mutated file


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, bytes]:
    """Real files to mutate: a model, a checkpoint (Adam state), a format-1 checkpoint."""
    folder = tmp_path_factory.mktemp("sources")
    net = gnet.Network.from_config(
        {
            "input_shape": [6, 6, 1],
            "layers": [
                {"type": "conv2d", "filters": 2, "kernel_size": 3, "activation": "relu"},
                {"type": "batchnorm"},
                {"type": "flatten"},
                {"type": "dense", "units": 3, "activation": "softmax"},
            ],
            "loss": "cross-entropy",
        },
        seed=0,
    )
    net.save(folder / "model.safetensors", dataset="mnist")
    config = resolve(None, {"layers": [12, 6, 3], "activations": ["relu", "softmax"]})
    config["optimizer"] = "adam"
    mlp = gnet.Network([12, 6, 3], ["relu", "softmax"], seed=0)
    optimizer = build_optimizer(config)
    X = np.random.default_rng(0).random((8, 12), dtype=np.float32)
    mlp.fit(X, np.arange(8) % 3, epochs=1, optimizer=optimizer, mode="mini-batch", batch_size=4)
    save_checkpoint(folder / "ckpt.safetensors", mlp, optimizer, config)
    return {
        "model": (folder / "model.safetensors").read_bytes(),
        "checkpoint": (folder / "ckpt.safetensors").read_bytes(),
        "format1": (FIXTURES / "format1-checkpoint-adam.safetensors").read_bytes(),
    }


def split(data_: bytes) -> tuple[dict, dict, bytes]:
    n = int.from_bytes(data_[:8], "little")
    header = json.loads(data_[8 : 8 + n])
    return header, json.loads(header["__metadata__"]["gnet"]), data_[8 + n :]


def join(header: dict, meta: dict, rest: bytes) -> bytes:
    header = {**header, "__metadata__": {**header["__metadata__"], "gnet": json.dumps(meta)}}
    raw = json.dumps(header).encode()
    return len(raw).to_bytes(8, "little") + raw + rest


def bounded(load, *args):
    """Run ``load``; return (result or the GNetError, seconds, peak Python MB)."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        result = load(*args)
    except GNetError as exc:
        result = exc
    finally:
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    assert seconds < MAX_SECONDS, f"{load.__name__} took {seconds:.1f} s"
    assert peak < MAX_PYTHON_MB, f"{load.__name__} allocated {peak:.0f} MB"
    return result


# ------------------------------------------------------------ model files


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, -1, 1, 10**6, 2**31, 2**63]),
    st.floats(),
    st.sampled_from([5e-324, 1e-310, 1e308]),
    st.text(max_size=6),
    st.lists(st.one_of(st.integers(-2, 10**7), st.text(max_size=2)), max_size=4),
    st.just({}),
    st.just([[[[]]]]),
)
META_FIELDS = [
    ("format_version",),
    ("gnet_version",),
    ("class_names",),
    ("normalization",),
    ("normalization", "mean"),
    ("normalization", "std"),
    ("epochs_trained",),
    ("dataset",),
    ("dtype",),
    ("seed",),
    ("init",),
    ("test",),
    ("spec",),
    ("spec", "loss"),
    ("spec", "input_shape"),
    ("spec", "layers"),
    ("config",),
    ("config", "layers"),
    ("config", "activations"),
    ("config", "leaky_relu_alpha"),
    ("config", "dropout"),
    ("checkpoint",),
    ("checkpoint", "format_version"),
    ("checkpoint", "optimizer"),
    ("checkpoint", "optimizer", "steps"),
    ("checkpoint", "optimizer", "state"),
    ("checkpoint", "train_config"),
    ("checkpoint", "train_config", "epochs"),
    ("checkpoint", "train_config", "layers"),
    ("checkpoint", "history"),
    ("checkpoint", "history", "epochs"),
    ("checkpoint", "history", "best_epoch"),
]


@st.composite
def mutated_model(draw, sources: dict[str, bytes]) -> bytes:
    original = sources[draw(st.sampled_from(sorted(sources)))]
    kind = draw(st.sampled_from(["flip", "truncate", "length", "metadata", "tensor", "layer"]))
    blob = bytearray(original)
    if kind == "flip":
        for _ in range(draw(st.integers(1, 8))):
            blob[draw(st.integers(0, len(blob) - 1))] ^= draw(st.integers(1, 255))
        return bytes(blob)
    if kind == "truncate":
        return bytes(blob[: draw(st.integers(0, len(blob) - 1))])
    if kind == "length":
        blob[:8] = draw(st.integers(0, 2**64 - 1)).to_bytes(8, "little")
        return bytes(blob)
    header, meta, rest = split(original)
    if kind == "metadata":
        path = draw(st.sampled_from(META_FIELDS))
        target = meta
        for key in path[:-1]:
            target = target.get(key) if isinstance(target, dict) else None
        if isinstance(target, dict):
            target[path[-1]] = draw(JUNK)
    elif kind == "tensor":
        name = draw(st.sampled_from(sorted(k for k in header if k != "__metadata__")))
        field = draw(st.sampled_from(["dtype", "shape", "data_offsets"]))
        header[name][field] = draw(
            st.one_of(
                JUNK,
                st.sampled_from(["I64", "U8", "BF16", "F16", "F64", "BOOL", "F8_E4M3"]),
                st.lists(st.integers(0, 10**12), min_size=1, max_size=3),
            )
        )
    else:  # claim a wider layer in the spec or config, keeping the small tensors
        units = draw(st.sampled_from([4, 1_000_000, 2**24, 2**40]))
        if "spec" in meta:
            for layer in meta["spec"]["layers"]:
                if layer.get("type") == "dense":
                    layer["units"] = units
        elif isinstance(meta.get("config"), dict):
            meta["config"]["layers"][1] = units
    return join(header, meta, rest)


def test_mutated_model_files_load_or_fail_cleanly(sources, tmp_path):
    """Every mutation of a model or checkpoint loads or ends in a GNetError
    naming the file, in bounded time and memory (gnet.load, load_checkpoint)."""
    path = tmp_path / "mutated.safetensors"
    outcomes: dict[str, int] = {}

    @settings(PROFILE, max_examples=MODEL_EXAMPLES)
    @given(mutated_model(sources))
    def check(blob: bytes) -> None:
        path.write_bytes(blob)
        for load in (gnet.load, load_checkpoint):
            result = bounded(load, path)
            if isinstance(result, GNetError):
                assert str(path) in str(result), result
                assert "\n" not in str(result)
                outcomes[type(result).__name__] = outcomes.get(type(result).__name__, 0) + 1
            else:
                net = result if load is gnet.load else result.net
                x = np.zeros((1, *net.input_shape), dtype=np.float32)
                assert np.all(np.isfinite(gnet.to_numpy(net.predict_proba(x))))
                outcomes["loaded"] = outcomes.get("loaded", 0) + 1

    check()
    assert outcomes.get("ModelFileError", 0) > MODEL_EXAMPLES // 2, outcomes
    assert set(outcomes) <= {"ModelFileError", "loaded"}, outcomes


def edited(sources, edit, source="model") -> bytes:
    header, meta, rest = split(sources[source])
    edit(header, meta)
    return join(header, meta, rest)


def put(path: tuple, value):
    def edit(header, meta):
        target = meta
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (("format_version",), True, r"metadata format_version: expected an integer >= 1"),
        (("format_version",), 2.0, r"metadata format_version: expected an integer >= 1"),
        (("format_version",), 0, r"metadata format_version: expected an integer >= 1"),
        (("class_names",), "0123", r"metadata class_names: expected a list of strings"),
        (("class_names",), [1, 2, 3], r"metadata class_names: expected a list of strings"),
        (("class_names",), ["a", "b"], r"metadata class_names: 2 names for 3 outputs"),
        (("normalization", "std"), 0, r"metadata normalization.std: must be >= 1e-30"),
        (("normalization", "std"), 5e-324, r"normalization.std: .*not zero or denormal"),
        (("normalization", "std"), -1.0, r"metadata normalization.std"),
        (("normalization", "mean"), float("nan"), r"normalization.mean: expected a finite"),
        (("normalization", "mean"), "0.1", r"normalization.mean: expected a finite number"),
        (("normalization",), [0, 1], r"metadata normalization: expected an object"),
        (("epochs_trained",), -1, r"metadata epochs_trained: expected an integer >= 0"),
        (("epochs_trained",), 2.5, r"metadata epochs_trained: expected an integer >= 0"),
        (("epochs_trained",), False, r"metadata epochs_trained: expected an integer >= 0"),
        (("dataset",), ["mnist"], r"metadata dataset: expected a string"),
        (("dtype",), "int8", r"metadata dtype: expected \"float32\" or \"float64\""),
        (("seed",), -3, r"metadata seed: expected an integer >= 0"),
        (("test",), [0.9], r"metadata test: expected an object"),
        (("spec", "loss"), ["mse"], r"metadata spec.loss: expected a loss name"),
        (("spec", "layers"), [], r"invalid network configuration"),
    ],
)
def test_each_metadata_field_is_checked(sources, tmp_path, field, value, message):
    path = tmp_path / "m.safetensors"
    path.write_bytes(edited(sources, put(field, value)))
    with pytest.raises(ModelFileError, match=message) as err:
        gnet.load(path)
    assert str(err.value).startswith(f"{path}: ")


def test_activation_parameters_out_of_range_are_refused(sources, tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(edited(sources, put(("config", "leaky_relu_alpha"), 7.0), "format1"))
    with pytest.raises(
        ModelFileError, match=r"metadata config.leaky_relu_alpha: expected a number"
    ):
        gnet.load(path)
    spec_alpha = put(("spec", "layers", 3, "alpha"), -0.5)
    path.write_bytes(edited(sources, spec_alpha))
    with pytest.raises(ModelFileError, match=r"alpha"):
        gnet.load(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda h: h["layers.0.weight"].update(dtype="I32"), r"dtype I32, not a float"),
        (lambda h: h["layers.0.weight"].update(dtype="BF16"), r"not a safetensors|not a float"),
        (lambda h: h["layers.0.weight"].update(shape=[3, 3, 1, 4]), r"data_offsets|bytes for"),
        (lambda h: h["layers.0.bias"].update(data_offsets=[0, 10**12]), r"beyond the end"),
        (lambda h: h["layers.0.bias"].update(data_offsets=[8, 4]), r"is not \[begin, end\]"),
        (lambda h: h["layers.0.bias"].update(shape=[-2]), r"is not a list of sizes"),
        (
            lambda h: h.update({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}),
            "overlap",
        ),
    ],
)
def test_tensor_entries_are_checked_against_the_file(sources, tmp_path, edit, message):
    path = tmp_path / "m.safetensors"
    path.write_bytes(edited(sources, lambda header, meta: edit(header)))
    with pytest.raises(ModelFileError, match=message) as err:
        gnet.load(path)
    assert str(path) in str(err.value)


def test_nan_and_inf_weights_are_a_corrupt_file(sources, tmp_path):
    header, meta, rest = split(sources["model"])
    begin = header["layers.3.weight"]["data_offsets"][0]
    for bad in (np.nan, np.inf):
        blob = bytearray(rest)
        blob[begin : begin + 4] = np.float32(bad).tobytes()
        path = tmp_path / "m.safetensors"
        path.write_bytes(join(header, meta, bytes(blob)))
        with pytest.raises(ModelFileError, match=r"layers.3.weight holds NaN or inf"):
            gnet.load(path)


def test_float16_weights_load_as_float32(tmp_path):
    from safetensors.numpy import load_file, save_file

    net = gnet.Network([5, 4, 3], ["relu", "softmax"], seed=0)
    path = tmp_path / "m.safetensors"
    net.save(path)
    tensors = {k: v.astype(np.float16) for k, v in load_file(path).items()}
    save_file(tensors, path, metadata={"gnet": json.dumps(gnet.load(path).metadata)})
    loaded = gnet.load(path)
    assert loaded.dtype_name == "float32"
    w = gnet.to_numpy(loaded.layers[0].params["weight"])
    np.testing.assert_array_equal(w, tensors["layers.0.weight"].astype(np.float32))


def test_a_small_file_claiming_a_million_units_is_refused_before_allocating(sources, tmp_path):
    """A ~1 KB file whose header claims a 1,000,000-unit layer (and tensors to
    match, beyond the end of the file): refused from the header, with almost
    no memory and at once."""
    header, meta, rest = split(sources["model"])
    meta["spec"]["layers"][3]["units"] = 1_000_000
    header["layers.3.weight"]["shape"] = [32, 1_000_000]
    header["layers.3.weight"]["data_offsets"] = [0, 32 * 1_000_000 * 4]
    header["layers.3.bias"]["shape"] = [1_000_000]
    header["layers.3.bias"]["data_offsets"] = [0, 1_000_000 * 4]
    path = tmp_path / "huge.safetensors"
    path.write_bytes(join(header, meta, rest))
    assert path.stat().st_size < 100_000
    result = bounded(gnet.load, path)
    assert isinstance(result, ModelFileError)
    assert "beyond the end of the data" in str(result)


@pytest.mark.parametrize(
    ("header_text", "message"),
    [
        ('{"__metadata__": {"gnet": "' + "[" * 200 + "]" * 200 + '"}}', "nested deeper"),
        ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", "over the limits of 100000"),
        ('{"__metadata__": {"gnet": "{\\"format_version\\": ' + "9" * 5000 + '}"}}', "digits"),
        ('{"x": {"dtype": "F32", "shape": [' + "1" * 40 + '], "data_offsets": [0, 4]}}', "digits"),
        ("[1, 2]", "not a JSON object"),
        ('{"__metadata__": {"gnet": 7}}', "metadata"),
        ('{"__metadata__": {"gnet": "\\"x\\""}}', "not a JSON object"),
    ],
)
def test_json_limits_give_a_clean_error(tmp_path, header_text, message):
    raw = header_text.encode()
    path = tmp_path / "m.safetensors"
    path.write_bytes(len(raw).to_bytes(8, "little") + raw)
    with pytest.raises(ModelFileError, match=message) as err:
        gnet.load(path)
    assert str(path) in str(err.value)


def test_header_length_limits(tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes((200_000_000).to_bytes(8, "little") + b"{}" + b" " * 100)
    with pytest.raises(ModelFileError, match="over the limit of 16000000"):
        gnet.load(path)
    path.write_bytes((5000).to_bytes(8, "little") + b"{}")
    with pytest.raises(ModelFileError, match="beyond the end of the file"):
        gnet.load(path)
    path.write_bytes(b"\x01\x02")
    with pytest.raises(ModelFileError, match="shorter than a safetensors header"):
        gnet.load(path)


def test_checkpoint_metadata_fields_are_checked(sources, tmp_path):
    path = tmp_path / "c.safetensors"
    cases = [
        (("checkpoint", "optimizer", "steps"), float("inf"), r"optimizer.steps"),
        (("checkpoint", "optimizer", "steps"), -1, r"optimizer.steps"),
        (("checkpoint", "optimizer", "state"), [[0, "weight", 99]], r"optimizer.state\[0\]"),
        (("checkpoint", "optimizer", "state"), [[7, "weight", 2]], r"matches no parameter"),
        (("checkpoint", "history", "epochs"), [1, 2], r"history.epochs"),
        (("checkpoint", "history", "best_epoch"), "1", r"history.best_epoch"),
        (("checkpoint", "train_config", "epochs"), 10**12, r"train_config"),
        (("checkpoint", "format_version"), True, r"checkpoint format version"),
    ]
    for field, value, message in cases:
        path.write_bytes(edited(sources, put(field, value), "checkpoint"))
        with pytest.raises(ModelFileError, match=message) as err:
            load_checkpoint(path)
        assert str(err.value).startswith(str(path)), field


def test_checkpoint_optimiser_tensors_are_checked(sources, tmp_path):
    path = tmp_path / "c.safetensors"
    header, meta, rest = split(sources["checkpoint"])
    name = "optimizer.0.weight.0"
    shape = header[name]["shape"]
    header[name]["shape"] = [shape[1], shape[0]]
    path.write_bytes(join(header, meta, rest))
    with pytest.raises(ModelFileError, match=rf"{name} has shape"):
        load_checkpoint(path)
    header, meta, rest = split(sources["checkpoint"])
    begin = header[name]["data_offsets"][0]
    blob = bytearray(rest)
    blob[begin : begin + 4] = np.float32(np.nan).tobytes()
    path.write_bytes(join(header, meta, bytes(blob)))
    with pytest.raises(ModelFileError, match=rf"{name} holds NaN or inf"):
        load_checkpoint(path)


# -------------------------------------------------------------- IDX files


SMALL = 200  # images (and labels) kept from the real test files


@pytest.fixture(scope="module")
def idx_sources(tmp_path_factory) -> dict[str, bytes]:
    """The real MNIST test files cut to their first SMALL images and labels
    (header counts adjusted), raw and gzip-compressed."""
    folder = data_dir() / "mnist"
    names = {"images": "t10k-images-idx3-ubyte.gz", "labels": "t10k-labels-idx1-ubyte.gz"}
    if not all((folder / n).is_file() for n in names.values()):
        pytest.skip(f"real MNIST files not in {folder}")
    out = {}
    for key, name in names.items():
        with gzip.open(folder / name, "rb") as f:
            header = bytearray(f.read(16 if key == "images" else 8))
            body = f.read(SMALL * (28 * 28 if key == "images" else 1))
        header[4:8] = SMALL.to_bytes(4, "big")
        out[key] = bytes(header) + body
        out[key + ".gz"] = gzip.compress(out[key], compresslevel=6)
    return out


@st.composite
def mutated_idx(draw, sources: dict[str, bytes]) -> tuple[str, bytes]:
    key = draw(st.sampled_from(sorted(sources)))
    raw = bytearray(sources[key.removesuffix(".gz")])
    kind = draw(st.sampled_from(["flip", "truncate", "extend", "dims", "magic", "gzip"]))
    compress = key.endswith(".gz")
    if kind == "flip" and compress:
        blob = bytearray(sources[key])
        for _ in range(draw(st.integers(1, 6))):
            blob[draw(st.integers(0, len(blob) - 1))] ^= draw(st.integers(1, 255))
        return key, bytes(blob)
    if kind == "flip":
        for _ in range(draw(st.integers(1, 6))):
            raw[draw(st.integers(0, min(len(raw), 40) - 1))] ^= draw(st.integers(1, 255))
    elif kind == "truncate":
        raw = raw[: draw(st.integers(0, len(raw) - 1))]
    elif kind == "extend":
        raw += bytes(draw(st.integers(1, 3000)))
    elif kind == "dims":
        ndim = raw[3]
        k = draw(st.integers(0, max(ndim - 1, 0)))
        value = draw(st.sampled_from([0, 1, 27, 29, SMALL + 1, 2**16, 2**31, 2**32 - 1]))
        raw[4 + 4 * k : 8 + 4 * k] = value.to_bytes(4, "big")
    elif kind == "magic":
        raw[2] = draw(st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x07, 0xFF]))
        raw[3] = draw(st.integers(0, 255))
    else:  # a bomb: the header promises what a highly compressible stream overfills
        raw = raw[:16] + bytes(draw(st.sampled_from([10**6, 5 * 10**7])))
        compress = True
    return key, gzip.compress(bytes(raw), compresslevel=1) if compress else bytes(raw)


def test_mutated_idx_files_load_or_fail_cleanly(idx_sources, tmp_path):
    """read_idx and the split checks on mutated real files: an array, or a
    DataError naming the file, in bounded time and memory."""
    outcomes: dict[str, int] = {}
    info = data.DATASETS["mnist"]
    good = {key: tmp_path / f"good-{key}" for key in ("images.gz", "labels.gz")}
    for key, path in good.items():
        path.write_bytes(idx_sources[key])

    @settings(PROFILE, max_examples=IDX_EXAMPLES)
    @given(mutated_idx(idx_sources))
    def check(case: tuple[str, bytes]) -> None:
        key, blob = case
        path = tmp_path / ("mutated" + (".gz" if key.endswith(".gz") else ""))
        path.write_bytes(blob)
        result = bounded(data.read_idx, path)
        if isinstance(result, GNetError):
            assert isinstance(result, DataError) and str(path) in str(result), result
            outcomes["DataError"] = outcomes.get("DataError", 0) + 1
            return
        assert isinstance(result, np.ndarray)
        images, labels = (path, good["labels.gz"]) if "images" in key else (good["images.gz"], path)
        split_result = bounded(data._load_split, images, labels, info)
        if isinstance(split_result, GNetError):
            assert isinstance(split_result, DataError) and str(path) in str(split_result)
            outcomes["DataError"] = outcomes.get("DataError", 0) + 1
        else:
            outcomes["loaded"] = outcomes.get("loaded", 0) + 1

    check()
    assert outcomes.get("DataError", 0) > IDX_EXAMPLES // 2, outcomes


def test_the_real_files_truncated_and_padded(tmp_path):
    """The whole real t10k image file, cut short or padded, raw and gzip."""
    real = data_dir() / "mnist" / "t10k-images-idx3-ubyte.gz"
    if not real.is_file():
        pytest.skip(f"{real} missing")
    raw = gzip.decompress(real.read_bytes())
    cases = {
        "cut.gz": (gzip.compress(raw[: len(raw) // 3], 1), "truncated: header says 10000 images"),
        "padded.gz": (gzip.compress(raw + b"\0" * 7, 1), "trailing bytes: .* 7840023 bytes"),
        "cut-raw": (raw[:-1], "truncated"),
        "half-gzip.gz": (real.read_bytes()[: real.stat().st_size // 2], "corrupt gzip data"),
    }
    for name, (blob, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(blob)
        with pytest.raises(DataError, match=message) as err:
            data.read_idx(path)
        assert str(err.value).startswith(str(path))


def test_idx_declared_size_is_checked_before_allocating(tmp_path):
    """A 1 KB file (raw or gzip) whose header claims 2**32 - 1 images of
    28x28: refused from the header, never inflated or allocated."""
    header = bytes([0, 0, 8, 3]) + (2**32 - 1).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    for name, blob in {
        "raw": header + bytes(1000),
        "small.gz": gzip.compress(header + bytes(1000)),
    }.items():
        path = tmp_path / name
        path.write_bytes(blob)
        result = bounded(data.read_idx, path)
        assert isinstance(result, DataError) and str(path) in str(result)
        assert "header says 4294967295 images of 28x28" in str(result)


def test_a_gzip_bomb_is_cut_off_after_the_declared_size(tmp_path):
    """A 50 KB gzip file that inflates to 50 MB behind a header that declares
    10 labels: read stops a byte after the declared size."""
    header = bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big")
    path = tmp_path / "bomb.gz"
    path.write_bytes(gzip.compress(header + bytes(50_000_000), 9))
    assert path.stat().st_size < 100_000
    result = bounded(data.read_idx, path)
    assert isinstance(result, DataError)
    assert "trailing bytes" in str(result) and str(path) in str(result)


def test_offline_first_run_says_how_to_use_local_files(tmp_path):
    with pytest.raises(DataError) as err:
        data.fetch("mnist", data_dir=tmp_path, mirrors=["http://127.0.0.1:9/"])
    message = str(err.value)
    assert "download failed from every mirror" in message
    for part in ("--data-dir", "GNET_DATA_DIR", "DIR/mnist/", "train-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz", str(tmp_path / "mnist")):  # fmt: skip
        assert part in message, part
    with pytest.raises(DataError, match="--data-dir DIR .*GNET_DATA_DIR"):
        data.fetch("mnist", data_dir=tmp_path, download=False)


# ------------------------------------------------------------ checkpoints written


def test_a_killed_write_leaves_no_temporary_file_past_the_next_run(tmp_path):
    """A process killed while writing a checkpoint leaves its temporary file;
    the next checkpoint written to the folder removes it (and only it)."""
    import signal
    import subprocess
    import sys

    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, sys, time, gnet.io\n"
            "os.fsync = lambda fd: (print('writing', flush=True), time.sleep(60))\n"
            "gnet.io.atomic_write_bytes(sys.argv[1], b'x' * 100)\n",
            str(tmp_path / "epoch-0001.safetensors"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "writing"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    stale = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(stale) == 1 and stale[0].name.startswith(".epoch-0001.safetensors.")
    alive = tmp_path / f".epoch-0003.safetensors.{os.getpid()}.abcdefgh.tmp"
    alive.write_bytes(b"ours, still being written")
    other = tmp_path / ".notes.txt.12345.abcdefgh.tmp"
    other.write_bytes(b"not a checkpoint")
    config = resolve(None, {"layers": [4, 3], "activations": ["softmax"]})
    net = gnet.Network([4, 3], ["softmax"])
    save_checkpoint(tmp_path / "epoch-0002.safetensors", net, build_optimizer(config), config)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(["epoch-0002.safetensors", alive.name, other.name])


def test_the_folder_is_fsynced_after_the_rename(tmp_path, monkeypatch):
    import stat

    from gnet import io

    synced: list[bool] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(io.os, "fsync", recording_fsync)
    gnet.Network([4, 3], ["softmax"]).save(tmp_path / "m.safetensors")
    assert synced == [False, True]  # the file, then its folder after the rename

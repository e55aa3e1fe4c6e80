"""Loading never trusts its input: configs, images and demo requests.

Property-based tests (hypothesis) feed random and mutated configs (as dicts
and as JSON files) and mutated real images: each ends in a valid result or
one of gnet's own errors, never anything else; a config that validates also
builds its network and schedules. Example-based tests pin each failure kind:
deep nesting, huge integers, wrong types in every key, absurd sizes, images
over the pixel limit (refused from the header), and malformed demo headers.
"""

from __future__ import annotations

import io
import json
import math
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import gnet
from gnet import demo
from gnet.checkpoint import build_optimizer
from gnet.config import DEFAULTS, KEYS, load_config, resolve, validate
from gnet.config.keys import MAX_EPOCHS, MAX_PARAMETERS
from gnet.errors import ConfigError, ImageError
from gnet.images import MAX_PIXELS, load_image
from gnet.optim import make_schedule

settings.register_profile(
    "gnet-hardening",
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
PROFILE = settings.get_profile("gnet-hardening")
CONFIG_EXAMPLES = 400
IMAGE_EXAMPLES = 150


# ------------------------------------------------------------------ configs

NAMES = ["relu", "softmax", "sgd", "adam", "mnist", "cosine", "step:2:0.5", "linear:4",
         "784,10", "conv2d:4:3,flatten,dense:10", "mini-batch", "full-batch", "per-sample",
         "784,1000000000,10", "784,16777216,10", "step:1000000000:0.5", "linear:1000000000",
         "exponential:1e-320", "dense:100000000", "conv2d:100000:3,flatten,dense:10"]  # fmt: skip
LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, 2, 10**6, 2**31, 2**63, 10**30]),
    st.floats(),
    st.sampled_from([5e-324, 1e308, 0.999999, 1.0]),
    st.text(max_size=6),
    st.sampled_from(NAMES),
)
VALUE = st.recursive(
    LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(
                st.text(max_size=4),
                st.sampled_from(
                    [
                        "type",
                        "units",
                        "nodes",
                        "activation",
                        "gamma",
                        "step_size",
                        "min_lr",
                        "final",
                        "filters",
                        "kernel_size",
                        "rate",
                    ]
                ),  # fmt: skip
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=8,
)
KEY = st.sampled_from([*KEYS, "regularization_type", "regularization_rate", "activation_functions"])
BASE = {"layers": [784, 16, 10], "activations": ["relu", "softmax"], "epochs": 2, "batch_size": 32}


def small_enough(config: dict) -> bool:
    layers = config["layers"]
    if isinstance(layers[0], int):
        return sum(a * b for a, b in zip(layers, layers[1:], strict=False)) < 2_000_000
    return False  # layer specs: building is tested in test_layer_specs


def check_valid(config: dict) -> None:
    """What a run does with a validated config before training: nothing may fail."""
    assert validate(config) == config
    assert config["epochs"] <= MAX_EPOCHS
    if isinstance(config["layers"][0], int):
        sizes = config["layers"]
        assert sum((a + 1) * b for a, b in zip(sizes, sizes[1:], strict=False)) <= MAX_PARAMETERS
    build_optimizer(config)
    schedule = make_schedule(config["lr_schedule"])
    if schedule is not None:
        for epoch in (0, config["epochs"] // 2, config["epochs"] - 1):
            assert math.isfinite(schedule(epoch, config["learning_rate"], config["epochs"]))
    if small_enough(config):
        gnet.Network.from_architecture(config, device="cpu")


def test_random_configs_validate_or_fail_with_config_errors(tmp_path):
    """Random dicts (from scratch, and a valid config with keys replaced), as
    dicts and as JSON files: a ConfigError, or a config whose network and
    schedules build."""
    outcomes = {"ConfigError": 0, "valid": 0}
    path = tmp_path / "config.json"

    @settings(PROFILE, max_examples=CONFIG_EXAMPLES)
    @given(
        st.dictionaries(KEY, VALUE, max_size=6),
        st.booleans(),
        st.sampled_from(["dict", "file", "flags"]),
    )
    def check(raw: dict, on_base: bool, how: str) -> None:
        raw = {**BASE, **raw} if on_base else raw
        try:
            if how == "file":
                path.write_text(json.dumps(raw), encoding="utf-8")
                config = resolve(load_config(path), None)
            elif how == "dict":
                config = resolve(load_config(raw), None)
            else:
                config = resolve(None, raw)
        except ConfigError as exc:
            assert str(exc).strip() and "Traceback" not in str(exc)
            outcomes["ConfigError"] += 1
            return
        check_valid(config)
        outcomes["valid"] += 1

    check()
    assert outcomes["ConfigError"] > 0 and outcomes["valid"] > 0, outcomes


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("value", [[], {}, [[1]], {"type": "x"}, "", 10**25, -1, 1e308, True])
def test_wrong_types_in_every_key(key, value):
    """A list, an object, a string, a huge number or a boolean in any key:
    valid, or a ConfigError naming the key."""
    try:
        config = resolve({**BASE, key: value}, None)
    except ConfigError as exc:
        assert key in str(exc) or "layers" in str(exc) or "batch_size" in str(exc), str(exc)
        return
    check_valid(config)


NAMED_KEYS = [k for k in KEYS if DEFAULTS[k] is None or isinstance(DEFAULTS[k], (str, bool))]


@pytest.mark.parametrize(
    ("key", "value"),
    [(k, v) for k in NAMED_KEYS for v in (["relu"], {"name": "relu"})
     if not (k.endswith("_schedule") and isinstance(v, dict))],  # schedules are objects
)  # fmt: skip
def test_a_list_or_object_where_a_name_belongs_is_a_config_error(key, value):
    with pytest.raises(ConfigError, match=key):
        resolve({**BASE, key: value}, None)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"layers": [784, 10**9, 10]}, r"1000000000 units is over the limit of 16777216"),
        ({"layers": [784, 2**24, 10]}, r"parameters, over the limit of 250,000,000"),
        ({"layers": [784] + [8192] * 6}, r"over the limit of 250,000,000"),
        ({"epochs": 10**12}, r"epochs: 1000000000000 is over the limit of 1000000"),
        ({"batch_size": 2**40}, r"batch_size: 1099511627776 is over the limit"),
        ({"early_stopping": 10**9}, r"early_stopping: 1000000000 is over the limit"),
        ({"seed": 2**64}, r"seed: 18446744073709551616 is over the limit"),
        ({"lr_schedule": "step:1000000000:0.5"}, r"step_size 1000000000 is over the limit"),
        ({"batch_schedule": "linear:1000000000"}, r"batch_schedule: expected .* from 1 to"),
    ],
)
def test_absurd_sizes_are_config_errors(overrides, message):
    with pytest.raises(ConfigError, match=message):
        resolve({**BASE, **overrides}, None)


@pytest.mark.parametrize("kind", [[], {}, 3, None])
def test_a_layer_type_that_is_not_a_name_is_a_config_error(kind):
    layers = [{"type": kind}, {"type": "dense", "units": 10, "activation": "softmax"}]
    with pytest.raises(ConfigError, match=r"layers\[0\].type"):
        resolve({"input_shape": [784], "layers": layers}, None)


def test_absurd_layer_specs_are_config_errors():
    spec = {
        "input_shape": [28, 28, 1],
        "layers": [
            {"type": "flatten"},
            {"type": "dense", "units": 1_000_000, "activation": "relu"},
            {"type": "dense", "units": 10, "activation": "softmax"},
        ],
    }
    with pytest.raises(ConfigError, match="parameters, over the limit"):
        resolve(spec, None)


def test_every_problem_is_listed_at_once():
    with pytest.raises(ConfigError) as err:
        resolve({**BASE, "epochs": 10**12, "optimizer": ["sgd"], "momentum": "high"}, None)
    problems = err.value.problems  # type: ignore[attr-defined]
    assert len(problems) == 3
    assert any("epochs" in p for p in problems) and any("optimizer" in p for p in problems)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"layers": ' + "[" * 100_000 + "]" * 100_000 + "}", "over the limit of 100000"),
        ('{"layers": ' + "[" * 40 + "]" * 40 + "}", "nested deeper than 32 levels"),
        ('{"epochs": ' + "9" * 5000 + "}", "integer of 5000 digits"),
        ('{"seed": -' + "1" * 40 + "}", "integer of 41 digits"),
        ('{"epochs": 1e999}', "epochs: expected an integer >= 1"),
        ('{"learning_rate": NaN}', "learning_rate: expected a number"),
    ],
)
def test_config_file_json_limits(tmp_path, text, message):
    path = tmp_path / "c.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        resolve(load_config(path), None)
    assert "\n" not in str(err.value)


def test_deep_structures_from_python_are_config_errors():
    deep: list = []
    for _ in range(100):
        deep = [deep]
    for call in (lambda: resolve({"layers": deep}), lambda: validate({"layers": deep})):
        with pytest.raises(ConfigError, match="nested deeper"):
            call()
    with pytest.raises(ConfigError):
        resolve(None, {"layers": "[" * 5000 + "]" * 5000})  # a flag's JSON text


# ------------------------------------------------------------------- images


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int) -> bytes:
    """A valid-looking PNG header declaring width x height, with a tiny IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 100))
        + png_chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(("width", "height"), [(10_000, 5_000), (100_000, 100_000), (2**31 - 1, 2)])
def test_images_over_the_pixel_limit_are_refused_from_the_header(tmp_path, width, height):
    path = tmp_path / "huge.png"
    path.write_bytes(png_claiming(width, height))
    start = time.perf_counter()
    with pytest.raises(ImageError, match=r"image too large") as err:
        load_image(path)
    assert time.perf_counter() - start < 2.0
    assert str(err.value).startswith(str(path))


def test_the_limit_is_stated_in_predict_help(capsys):
    from gnet.cli import main

    try:
        main(["predict", "--help"])
    except SystemExit:
        pass
    assert "40 megapixels" in " ".join(capsys.readouterr().out.split())
    assert MAX_PIXELS == 40_000_000


WORST_LEGAL = """
import resource, sys
import gnet.images
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
grey = gnet.images.load_image(sys.argv[1])
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(grey.shape[0], grey.shape[1], (after - before) // 1024)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in kB is Linux's")
def test_the_largest_legal_image_reads_in_about_200_mb(tmp_path):
    """A 40-megapixel RGBA PNG (4 bytes a pixel once decoded) with ink: read
    in a fresh process, whose peak memory grows by under 220 MB."""
    width, height = 8000, 5000
    rgba = np.zeros((height, width, 4), np.uint8)
    rgba[height // 4 : 3 * height // 4, width // 3 : width // 3 + 800, 3] = 255
    path = tmp_path / "large.png"
    Image.fromarray(rgba, "RGBA").save(path, compress_level=1)
    del rgba
    result = subprocess.run(
        [sys.executable, "-c", WORST_LEGAL, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rows, cols, grown_mb = map(int, result.stdout.split())
    assert rows * cols <= 4_000_000
    assert grown_mb < 220, f"reading a 40-megapixel image grew the process by {grown_mb} MB"


@pytest.fixture(scope="module")
def image_sources() -> dict[str, bytes]:
    """A digit in several formats and modes, to mutate."""
    digit = np.zeros((40, 30), np.uint8)
    digit[8:32, 12:18] = 255
    out = {}
    for name, img, fmt in [
        ("L.png", Image.fromarray(255 - digit), "PNG"),
        ("RGBA.png", Image.fromarray(np.dstack([digit] * 4)), "PNG"),
        ("RGB.jpg", Image.fromarray(np.dstack([255 - digit] * 3)), "JPEG"),
        ("P.gif", Image.fromarray(255 - digit).convert("P"), "GIF"),
        ("I16.tif", Image.fromarray((255 - digit).astype(np.uint16) * 257), "TIFF"),
        ("L.bmp", Image.fromarray(255 - digit), "BMP"),
    ]:
        buf = io.BytesIO()
        img.save(buf, format=fmt)
        out[name] = buf.getvalue()
    return out


def test_mutated_images_load_or_fail_with_image_errors(image_sources, tmp_path):
    outcomes = {"ImageError": 0, "loaded": 0}

    @settings(PROFILE, max_examples=IMAGE_EXAMPLES)
    @given(st.sampled_from(sorted(image_sources)), st.data())
    def check(name: str, data: st.DataObject) -> None:
        blob = bytearray(image_sources[name])
        kind = data.draw(st.sampled_from(["flip", "truncate", "size"]))
        if kind == "flip":
            for _ in range(data.draw(st.integers(1, 6))):
                blob[data.draw(st.integers(0, len(blob) - 1))] ^= data.draw(st.integers(1, 255))
        elif kind == "truncate":
            blob = blob[: data.draw(st.integers(0, len(blob) - 1))]
        else:  # the declared size, wherever the format keeps it (PNG: IHDR, CRC fixed)
            value = data.draw(st.sampled_from([0, 1, 9_000, 60_000, 2**31 - 1]))
            if name.endswith(".png"):
                blob[16:20] = value.to_bytes(4, "big")
                blob[29:33] = zlib.crc32(bytes(blob[12:29])).to_bytes(4, "big")
            else:
                offset = data.draw(st.integers(0, min(len(blob), 64) - 4))
                blob[offset : offset + 4] = value.to_bytes(4, "little")
        path = tmp_path / f"mutated-{name}"
        path.write_bytes(bytes(blob))
        start = time.perf_counter()
        try:
            grey = load_image(path)
        except ImageError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc)
            outcomes["ImageError"] += 1
        else:
            assert grey.dtype == np.float32 and grey.size <= 4_000_000
            assert np.all((grey >= 0) & (grey <= 1))
            outcomes["loaded"] += 1
        assert time.perf_counter() - start < 20

    check()
    assert outcomes["ImageError"] > 0 and outcomes["loaded"] > 0, outcomes


# --------------------------------------------------------------------- demo


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "m.safetensors"
    gnet.Network([784, 10], ["softmax"], seed=0).save(path)
    srv = demo.make_server(path, port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def raw_request(server, head: str, body: bytes = b"") -> tuple[int, dict]:
    with socket.create_connection(server.server_address[:2], timeout=10) as s:
        s.sendall(head.encode("utf-8") + b"\r\n\r\n" + body)
        s.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    status = int(reply.split(b" ", 2)[1])
    return status, json.loads(reply.split(b"\r\n\r\n", 1)[1] or b"{}")


BODY = json.dumps({"pixels": [0] * 784}).encode()


@pytest.mark.parametrize("length", ["²", "-1", "1e3", "+784", "0x310", "７８４", "7 84",
                                    "9" * 5000, "784.0", ""])  # fmt: skip
def test_malformed_content_length_is_a_400(server, length):
    status, answer = raw_request(
        server,
        f"POST /predict HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {length}",
        BODY,
    )
    assert status == 400, answer
    assert "Content-Length" in answer["error"]


def test_conflicting_content_lengths_and_codings_are_refused(server):
    head = "POST /predict HTTP/1.0\r\nContent-Type: application/json\r\n"
    status, answer = raw_request(server, head + "Content-Length: 784\r\nContent-Length: 5", BODY)
    assert status == 400 and "conflicting" in answer["error"]
    status, answer = raw_request(
        server, head + f"Content-Length: {len(BODY)}\r\nTransfer-Encoding: gzip", BODY
    )
    assert status == 400 and "Transfer-Encoding" in answer["error"]
    status, _ = raw_request(server, head + f"Content-Length:  {len(BODY)} ", BODY)
    assert status == 200  # optional whitespace around the value is allowed


def test_malformed_request_target_is_a_400(server):
    status, answer = raw_request(server, "GET http://[/ HTTP/1.0")
    assert status == 400 and "request target" in answer["error"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"pixels": [' + b"1" * 5000 + b"]}",
        b'{"pixels": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"pixels": [true, false]}',
        b'{"pixels": "abc"}',
        b'{"pixels": [1e999]}',
        b"\xff\xfe",
    ],
)
def test_malformed_bodies_are_400s(server, body):
    head = (
        f"POST /predict HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
    )
    status, answer = raw_request(server, head, body)
    assert status == 400, answer

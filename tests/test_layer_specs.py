"""Layer specs (issue: any stack of layers): a spec list builds the same
network as sizes + activations, bit for bit; bad specs are one ConfigError
naming the layer index and field; format-1 model files and checkpoints saved
by gnet 0.1.0 load and predict exactly as before."""

from __future__ import annotations

import json

import numpy as np
import pytest
from datapaths import REPO

import gnet
from gnet.checkpoint import load_checkpoint
from gnet.errors import ConfigError, ModelFileError
from gnet.layers import LAYERS, check_specs

FIXTURES = REPO / "tests" / "fixtures"
SPEC = {
    "input_shape": [784],
    "layers": [
        {"type": "dense", "units": 128, "activation": "relu"},
        {"type": "dropout", "rate": 0.2},
        {"type": "dense", "units": 10, "activation": "softmax"},
    ],
    "loss": "cross-entropy",
}


def test_spec_list_trains_bit_identically_to_sizes_and_activations(mnist):
    (X, y), (Xt, yt) = mnist
    a = gnet.Network.from_config(SPEC, seed=0)
    b = gnet.Network([784, 128, 10], ["relu", "softmax"], dropout=0.2, seed=0)
    assert a.spec() == b.spec() and a.config() == b.config()
    for net in (a, b):
        net.fit(
            X[:6000],
            y[:6000],
            epochs=1,
            batch_size=128,
            optimizer=gnet.optim.SGD(learning_rate=0.1, momentum=0.9),
        )
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(gnet.to_numpy(p), gnet.to_numpy(q))
    assert a.evaluate(Xt, yt)["accuracy"] == b.evaluate(Xt, yt)["accuracy"] > 0.85


def test_spec_round_trips_through_the_network():
    net = gnet.Network.from_config(SPEC)
    assert gnet.Network(net.spec()["layers"], input_shape=[784]).spec() == net.spec()
    assert [type(layer).type for layer in net.layers] == ["dense", "dropout", "dense"]
    assert net.layers[0].params["weight"].shape == (784, 128)
    grads = net.gradients(np.zeros((2, 784)), [1, 2])
    assert [sorted(g) for g in grads] == [["bias", "weight"], [], ["bias", "weight"]]


@pytest.mark.parametrize(
    "layers,message",
    [
        (
            [{"type": "dense", "units": 10}, {"type": "conv9d"}],
            r"layers\[1\]\.type: unknown layer type",
        ),
        ([{"type": "dense"}], r"layers\[0\]\.units: missing"),
        ([{"type": "dense", "units": "ten"}], r"layers\[0\]\.units: expected an integer"),
        ([{"type": "dense", "units": 10, "activation": "swish"}], r"layers\[0\]\.activation"),
        ([{"type": "dropout", "rate": 1.5}], r"layers\[0\]\.rate"),
        ([{"type": "dense", "units": 10, "size": 3}], r"layers\[0\]\.size: unknown field"),
    ],
)
def test_bad_specs_name_the_layer_and_field(layers, message):
    with pytest.raises(ConfigError, match=message):
        gnet.Network.from_config({"input_shape": [784], "layers": layers})


def test_a_layer_that_is_not_an_object():
    assert check_specs([784], [{"type": "dense", "units": 3}, "dense"]) == [
        "layers[1]: expected a layer object with a type, got 'dense'"
    ]


def test_every_problem_is_listed_at_once():
    problems = check_specs([784], [{"type": "dense"}, {"type": "dropout", "rate": -1}])
    assert len(problems) == 2


def test_dense_after_an_image_needs_flatten():
    problems = check_specs([28, 28, 1], [{"type": "dense", "units": 10, "activation": "softmax"}])
    assert problems and "layers[0]" in problems[0] and "flatten" in problems[0]


def test_the_registry_names_every_kind_once():
    assert LAYERS["dense"].type == "dense" and LAYERS["dropout"].type == "dropout"
    assert all(cls.type == name for name, cls in LAYERS.items())


# ---------------------------------------------------------------- model files


@pytest.mark.parametrize(
    "name", ["mlp-relu-softmax", "mlp-sigmoid-mse-f64", "mlp-dropout-dropconnect"]
)
def test_format_1_files_predict_exactly_as_before(name, tmp_path):
    expected = json.loads((FIXTURES / "format1-expected.json").read_text())[name]
    X = np.load(FIXTURES / "format1-inputs.npy")
    net = gnet.load(FIXTURES / f"format1-{name}.safetensors")
    np.testing.assert_array_equal(gnet.to_numpy(net.predict_proba(X[:8])), expected["proba"])
    np.testing.assert_array_equal(gnet.to_numpy(net.predict(X)), expected["labels"])
    # saved again, it is a format-2 file with the same predictions and config
    net.save(tmp_path / "again.safetensors")
    again = gnet.load(tmp_path / "again.safetensors")
    assert again.metadata["format_version"] == 2 and again.config() == net.config()
    np.testing.assert_array_equal(gnet.to_numpy(again.predict_proba(X[:8])), expected["proba"])


def test_format_1_checkpoint_resumes_bit_identically():
    rng = np.random.default_rng(1)
    X, y = rng.random((64, 784), dtype=np.float32), rng.integers(0, 10, 64)
    ck = load_checkpoint(FIXTURES / "format1-checkpoint-adam.safetensors")
    assert ck.epochs_trained == 2 and (0, "weight") in ck.optimizer.state
    ck.net.fit(X, y, epochs=2, batch_size=16, optimizer=ck.optimizer)
    want = np.load(FIXTURES / "format1-checkpoint-adam-after4.npy")
    np.testing.assert_array_equal(gnet.to_numpy(ck.net.layers[0].params["weight"]), want)


def test_format_2_stores_every_layer_by_index(tmp_path):
    from safetensors.numpy import load_file

    net = gnet.Network.from_config(SPEC)
    net.save(tmp_path / "m.safetensors")
    assert sorted(load_file(tmp_path / "m.safetensors")) == [
        "layers.0.bias",
        "layers.0.weight",
        "layers.2.bias",
        "layers.2.weight",
    ]
    meta = gnet.load(tmp_path / "m.safetensors").metadata
    assert meta["spec"] == net.spec() and meta["format_version"] == 2


def test_a_file_claiming_a_huge_layer_is_refused_before_allocating(tmp_path):
    """The spec says 1,000,000 units; the tensors are small: refused from the header."""
    from safetensors.numpy import load_file, save_file

    path = tmp_path / "m.safetensors"
    gnet.Network.from_config(SPEC).save(path)
    meta = gnet.load(path).metadata
    meta["spec"]["layers"][0]["units"] = 1_000_000
    save_file(load_file(path), path, metadata={"gnet": json.dumps(meta)})
    with pytest.raises(ModelFileError, match=r"layers\.0\.weight has shape \[784, 128\]"):
        gnet.load(path)


def test_the_reference_lists_every_layer_kind_and_field():
    text = (REPO / "docs" / "reference.md").read_text()
    section = text[text.index("## `gnet.layers`") : text.index("## `gnet.run`")]
    for name, cls in LAYERS.items():
        row = next(line for line in section.splitlines() if line.startswith(f"| `{name}` |"))
        for field in cls.FIELDS:
            assert f"`{field}`" in row, (name, field)


def test_a_type_that_is_not_a_name_is_a_problem_not_a_crash():
    problems = check_specs([784], [{"type": ["dense"]}, {"type": {"a": 1}}, {"type": 3}])
    assert [p.split(":")[0] for p in problems] == [
        "layers[0].type",
        "layers[1].type",
        "layers[2].type",
    ]

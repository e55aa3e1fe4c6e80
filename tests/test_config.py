"""Configuration: loading both seed formats, flags over file, mode rules, every bad input."""

import json

import pytest

from gnet import config as cfg
from gnet.config import DEFAULTS, load_config, resolve, to_json, validate
from gnet.errors import ConfigError

# The seeds' config file as they shipped it: no mode, no batch_size, no momentum.
SEED_001 = (
    b"{\n"
    b'  "layers": [784, 200, 10],\n'
    b'  "activations": ["Sigmoid", "Softmax"],\n'
    b'  "learning_rate": 0.01,\n'
    b'  "epochs": 30\n'
    b"}\n"
)

# neural-net-rs as it shipped: layer i's activation is the transition out of it.
NEURAL_NET_RS = """{
  "layers": [
    { "nodes": 784, "activation": "Sigmoid" },
    { "nodes": 128, "activation": "Softmax" },
    { "nodes": 10 }
  ],
  "learning_rate": 0.01,
  "epochs": 30,
  "batch_size": 32,
  "momentum": 0.5,
  "regularization_type": "L2",
  "regularization_rate": 0.0001
}
"""


def write(tmp_path, text, name="config.json"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def error_of(func, *args):
    with pytest.raises(ConfigError) as info:
        func(*args)
    return str(info.value)


# ------------------------------------------------------------------ seed formats


def test_seed_001_file_runs_unchanged_as_per_sample(tmp_path):
    path = write(tmp_path, SEED_001)
    loaded = load_config(path)
    assert loaded == {
        "layers": [784, 200, 10],
        "activations": ["sigmoid", "softmax"],
        "learning_rate": 0.01,
        "epochs": 30,
    }
    config = resolve(loaded, None)
    assert config["mode"] == "per-sample"
    assert config["batch_size"] == 1
    assert config["learning_rate"] == 0.01
    assert config["epochs"] == 30
    assert config["activations"] == ["sigmoid", "softmax"]
    assert config["layers"] == [784, 200, 10]
    assert config["momentum"] == 0.0  # the seeds had plain SGD
    assert set(config) == set(DEFAULTS)


def test_load_accepts_str_path_and_dict(tmp_path):
    path = write(tmp_path, SEED_001)
    assert load_config(str(path)) == load_config(path)
    assert load_config(json.loads(SEED_001)) == load_config(path)
    assert resolve(path, None) == resolve(load_config(path), None)
    assert "overrides: expected a dict" in error_of(resolve, None, ["--epochs", "3"])


def test_design_seed_example_with_batch_size_is_mini_batch():
    seed = {
        "layers": [784, 200, 10],
        "activations": ["Sigmoid", "Softmax"],
        "learning_rate": 0.01,
        "momentum": 0.9,
        "epochs": 30,
        "batch_size": 32,
    }
    config = resolve(load_config(seed), None)
    assert (config["mode"], config["batch_size"]) == ("mini-batch", 32)
    assert config["momentum"] == 0.9


def test_neural_net_rs_format_as_shipped(tmp_path):
    loaded = load_config(write(tmp_path, NEURAL_NET_RS))
    assert loaded["layers"] == [784, 128, 10]
    assert loaded["activations"] == ["sigmoid", "softmax"]
    assert loaded["l2"] == 0.0001
    assert "regularization_type" not in loaded and "regularization_rate" not in loaded
    config = resolve(loaded, None)
    assert (config["mode"], config["batch_size"], config["momentum"]) == ("mini-batch", 32, 0.5)
    assert (config["l1"], config["l2"]) == (0.0, 0.0001)


def test_neural_net_rs_format_every_layer_named_ignores_input_activation():
    loaded = load_config(
        {
            "layers": [
                {"nodes": 784, "activation": "sigmoid"},
                {"nodes": 200, "activation": "sigmoid"},
                {"nodes": 10, "activation": "softmax"},
            ],
            "learning_rate": 0.01,
            "regularization_type": "l1",
            "regularization_rate": 0.001,
        }
    )
    assert loaded == {
        "layers": [784, 200, 10],
        "activations": ["sigmoid", "softmax"],
        "learning_rate": 0.01,
        "l1": 0.001,
    }


@pytest.mark.parametrize(
    ("regularization", "expected"),
    [
        ({"regularization_type": "none", "regularization_rate": 0.1}, {}),
        ({"regularization_type": None, "regularization_rate": 0.1}, {}),
        ({"regularization_type": "L1", "regularization_rate": 0.1}, {"l1": 0.1}),
        ({"regularization_rate": 0.1}, {"l2": 0.1}),  # weight decay
        ({"regularization_type": "l2"}, {}),
    ],
)
def test_neural_net_rs_regularization(regularization, expected):
    loaded = load_config({"epochs": 1, **regularization})
    assert loaded == {"epochs": 1, **expected}


@pytest.mark.parametrize(
    ("layers", "fragments"),
    [
        ([{"nodes": 784, "activation": "relu"}, 10], ["mixes numbers"]),
        ([{"nodes": 784, "activation": "relu"}, {"activation": "softmax"}], ['missing "nodes"']),
        (
            [{"nodes": 784, "activation": "relu", "size": 3}, {"nodes": 10}],
            ['layers[0]: unknown key "size"'],
        ),
        (
            [{"nodes": 784}, {"nodes": 100, "activation": "relu"}, {"nodes": 10}],
            ["no activation at layers [0]"],
        ),
    ],
)
def test_malformed_layer_objects_name_the_file(tmp_path, layers, fragments):
    path = write(tmp_path, json.dumps({"layers": layers}))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"config file {path}: invalid configuration: ")
    assert "\n" not in message and len(info.value.problems) == len(fragments)
    for fragment in fragments:
        assert fragment in message


def test_layer_objects_and_activations_key_together_is_an_error():
    message = error_of(
        load_config,
        {"layers": [{"nodes": 4, "activation": "relu"}, {"nodes": 2}], "activations": ["relu"]},
    )
    assert 'activations: given both in "layers" objects and as "activations"' in message


def test_bad_regularization_type():
    message = error_of(load_config, {"regularization_type": "l3", "regularization_rate": 0.1})
    assert 'regularization_type: expected "l1", "l2" or "none", got "l3"' in message


def test_regularization_rate_conflicting_with_l2():
    message = error_of(load_config, {"regularization_rate": 0.1, "l2": 0.2})
    assert "l2: 0.2 conflicts with regularization_rate 0.1" in message


# ------------------------------------------------------------- flags over file


def test_no_file_gives_defaults():
    assert resolve(None, None) == DEFAULTS
    assert resolve() == DEFAULTS
    assert resolve(None, {"epochs": None, "learning_rate": None}) == DEFAULTS


def test_flags_override_file():
    file = load_config(
        {"layers": [784, 200, 10], "activations": ["sigmoid", "softmax"], "learning_rate": 0.01}
    )
    config = resolve(file, {"learning_rate": 0.5, "epochs": 3, "momentum": None, "seed": 7})
    assert config["learning_rate"] == 0.5
    assert config["epochs"] == 3
    assert config["seed"] == 7
    assert config["momentum"] == 0.0  # None means "flag not given"
    assert config["layers"] == [784, 200, 10]


def test_flags_alone_keep_defaults_for_the_rest():
    config = resolve(None, {"momentum": 0.5, "mode": "per-sample"})
    assert (config["momentum"], config["mode"], config["batch_size"]) == (0.5, "per-sample", 1)
    assert config["learning_rate"] == DEFAULTS["learning_rate"]


@pytest.mark.parametrize(
    ("file", "flags", "mode", "batch_size"),
    [
        (None, None, "mini-batch", 128),
        (None, {"batch_size": 64}, "mini-batch", 64),
        (None, {"mode": "full-batch"}, "full-batch", None),
        (None, {"mode": "per-sample"}, "per-sample", 1),
        (None, {"mode": "mini-batch", "batch_size": 16}, "mini-batch", 16),
        ({}, None, "per-sample", 1),
        ({"batch_size": 32}, None, "mini-batch", 32),
        ({"mode": "full-batch"}, None, "full-batch", None),
        ({"mode": "mini-batch"}, None, "mini-batch", 128),
        ({"batch_size": 32}, {"mode": "per-sample"}, "per-sample", 1),
        ({"batch_size": 32}, {"mode": "full-batch"}, "full-batch", None),
        ({"batch_size": 32}, {"mode": "mini-batch"}, "mini-batch", 32),
        ({"mode": "per-sample"}, {"mode": "mini-batch"}, "mini-batch", 128),
        ({"mode": "full-batch"}, {"batch_size": 8}, "mini-batch", 8),
        ({}, {"batch_size": 8}, "mini-batch", 8),
        ({"mode": "Per-Sample", "batch_size": 1}, None, "per-sample", 1),
        ({"mode": "full_batch", "batch_size": None}, None, "full-batch", None),
    ],
)
def test_mode_rules(file, flags, mode, batch_size):
    config = resolve(file, flags)
    assert (config["mode"], config["batch_size"]) == (mode, batch_size)


@pytest.mark.parametrize(
    ("file", "flags", "fragment"),
    [
        (
            {"mode": "per-sample", "batch_size": 32},
            None,
            'batch_size: 32 conflicts with mode "per-sample"',
        ),
        (
            None,
            {"mode": "full-batch", "batch_size": 64},
            'batch_size: 64 conflicts with mode "full-batch"',
        ),
        (
            {"mode": "mini-batch", "batch_size": None},
            None,
            "batch_size: expected an integer >= 1, got null",
        ),
        (None, {"batch_size": 0}, "batch_size: expected an integer >= 1, got 0"),
    ],
)
def test_mode_conflicts(file, flags, fragment):
    assert fragment in error_of(resolve, file, flags)


def test_resolved_config_round_trips_through_a_file(tmp_path):
    for flags in ({"mode": "per-sample"}, {"mode": "full-batch"}, {"batch_size": 32}, None):
        config = resolve(None, {**(flags or {}), "lr_schedule": "step:5:0.5", "augment": 2})
        path = write(tmp_path, to_json(config))
        assert json.loads(path.read_text()) == config
        assert resolve(load_config(path), None) == config


def test_resolve_does_not_mutate_its_inputs():
    file = {"layers": [784, 10], "activations": ["Softmax"], "lr_schedule": {"type": "Cosine"}}
    before = json.loads(json.dumps(file))
    config = resolve(file, None)
    assert file == before
    config["layers"].append(5)
    assert DEFAULTS["layers"] == [784, 256, 10] and file["layers"] == [784, 10]


# ------------------------------------------------------------------ bad files


def test_missing_file(tmp_path):
    path = tmp_path / "nope.json"
    message = error_of(load_config, path)
    assert message == f"config file {path}: not found"


def test_directory_instead_of_file(tmp_path):
    assert "is a directory" in error_of(load_config, tmp_path)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{\n  "layers": [784, 10],\n  "epochs": 3,\n}\n', "invalid JSON at line 4, column 1"),
        ('{"epochs": 3 "seed": 1}', "invalid JSON at line 1, column 14"),
        ("", "invalid JSON at line 1, column 1: Expecting value (the file is empty)"),
        ('{"epochs": 3, "epochs": 4}', 'duplicate key "epochs"'),
    ],
)
def test_bad_json_says_where(tmp_path, text, fragment):
    path = write(tmp_path, text)
    message = error_of(load_config, path)
    assert message.startswith(f"config file {path}: ")
    assert fragment in message
    assert "\n" not in message


def test_not_utf8(tmp_path):
    assert "not UTF-8" in error_of(load_config, write(tmp_path, b'{"seed": "\xff"}'))


@pytest.mark.parametrize(
    ("text", "kind"),
    [("[784, 128, 10]", "a list"), ('"mnist"', "a string"), ("3", "a number"), ("null", "null")],
)
def test_top_level_not_an_object(tmp_path, text, kind):
    path = write(tmp_path, text)
    message = error_of(load_config, path)
    assert str(path) in message and "JSON object" in message and f"got {kind}" in message


def test_source_of_wrong_type():
    assert "expected a file path or a dict" in error_of(load_config, 42)


# ----------------------------------------------------------------- bad values


@pytest.mark.parametrize(
    ("file", "fragment"),
    [
        ({"learning_rat": 0.1}, 'unknown key "learning_rat" (did you mean "learning_rate"?)'),
        ({"epoch": 3}, 'unknown key "epoch" (did you mean "epochs"?)'),
        ({"colour": "red"}, 'unknown key "colour"'),
        (
            {"layers": [784, "a"]},
            'layers: expected a list of at least 2 positive integers, got [784, "a"]',
        ),
        ({"layers": [784]}, "layers: expected a list of at least 2 positive integers, got [784]"),
        ({"layers": [784, 0, 10], "activations": ["relu", "softmax"]}, "got [784, 0, 10]"),
        ({"layers": [784, True]}, "got [784, true]"),
        ({"layers": "784,x,10"}, 'got "784,x,10"'),
        ({"activations": ["relu"]}, "activations: 1 entry for 2 layer transitions"),
        ({"activations": "relu"}, "activations: 1 entry for 2 layer transitions"),
        ({"activations": []}, "activations: expected a list of activation names, got []"),
        ({"activations": ["sigmod", "softmax"]}, 'activations[0]: unknown "sigmod"'),
        ({"activations": ["relu", 3]}, "activations[1]: expected a name"),
        ({"loss": "hinge"}, 'loss: unknown "hinge" (expected one of cross-entropy, mse)'),
        ({"init": "zeros"}, 'init: unknown "zeros" (expected one of he, glorot, normal, uniform)'),
        (
            {"optimizer": "adagrad"},
            'optimizer: unknown "adagrad" (expected one of sgd, adam, rmsprop',
        ),
        ({"mode": "batch"}, 'mode: unknown "batch"'),
        (
            {"dtype": "float16"},
            'dtype: unknown "float16" (did you mean "float64"? expected one of float32, float64)',
        ),
        (
            {"dataset": "cifar10"},
            'dataset: unknown "cifar10" (expected one of mnist, fashion-mnist)',
        ),
        ({"learning_rate": -1}, "learning_rate: must be > 0, got -1"),
        ({"learning_rate": 0}, "learning_rate: must be > 0, got 0"),
        ({"learning_rate": "0.1"}, 'learning_rate: expected a number, got "0.1"'),
        ({"learning_rate": True}, "learning_rate: expected a number, got true"),
        ({"learning_rate": float("nan")}, "learning_rate: expected a number, got NaN"),
        ({"momentum": 1.0}, "momentum: must be in [0, 1), got 1.0"),
        ({"momentum": -0.1}, "momentum: must be in [0, 1), got -0.1"),
        ({"l1": -0.5}, "l1: must be >= 0, got -0.5"),
        ({"l2": None}, "l2: expected a number, got null"),
        ({"dropout": 1}, "dropout: must be in [0, 1), got 1"),
        ({"validation_split": 1.5}, "validation_split: must be in [0, 1), got 1.5"),
        ({"leaky_relu_alpha": -0.2}, "leaky_relu_alpha: must be in [0, 1), got -0.2"),
        ({"epochs": 0}, "epochs: expected an integer >= 1, got 0"),
        ({"epochs": 2.5}, "epochs: expected an integer >= 1, got 2.5"),
        ({"epochs": True}, "epochs: expected an integer >= 1, got true"),
        ({"seed": -1}, "seed: expected an integer >= 0, got -1"),
        ({"seed": "1"}, 'seed: expected an integer >= 0, got "1"'),
        ({"early_stopping": 0}, "early_stopping: expected null or an integer >= 1"),
        ({"batch_size": 2.0}, "batch_size: expected an integer >= 1, got 2.0"),
        ({"batch_size": False}, "batch_size: expected an integer >= 1, got false"),
        ({"nesterov": "yes"}, 'nesterov: expected true or false, got "yes"'),
        ({"nesterov": True}, "nesterov: needs momentum > 0, got momentum 0.0"),
        (
            {"nesterov": True, "momentum": 0.9, "optimizer": "adam"},
            'nesterov: applies to optimizer "sgd" only',
        ),
        ({"augment": 5}, "augment: expected false, 0 or an integer from 1 to 4"),
        ({"augment": True}, "got true"),
        ({"augment": -1}, "got -1"),
    ],
)
def test_bad_value_names_key_and_value(file, fragment):
    message = error_of(resolve, file, None)
    assert message.startswith("invalid configuration: ")
    assert fragment in message
    assert "\n" not in message


def test_unknown_flag_is_reported_too():
    assert 'unknown key "devcie"' in error_of(resolve, None, {"devcie": "cpu"})


def test_unknown_activation_suggests_and_lists_allowed():
    message = error_of(resolve, {"activations": ["rleu", "softmax"]}, None)
    assert 'activations[0]: unknown "rleu"' in message
    assert "sigmoid, relu, leaky_relu, tanh, softmax, identity" in message
    assert 'did you mean "relu"? expected one of' in message


def test_every_problem_reported_at_once():
    with pytest.raises(ConfigError) as info:
        resolve(
            {
                "layers": [784, 128, 10],
                "activations": ["relu"],
                "learning_rate": -1,
                "learning_rat": 0.1,
                "optimizer": "adamm",
            },
            {"epochs": 0, "dropout": 2},
        )
    message = str(info.value)
    expected = [
        "activations: 1 entry for 2 layer transitions",
        "learning_rate: must be > 0, got -1",
        'unknown key "learning_rat" (did you mean "learning_rate"?)',
        'optimizer: unknown "adamm"',
        "epochs: expected an integer >= 1, got 0",
        "dropout: must be in [0, 1), got 2",
    ]
    for fragment in expected:
        assert fragment in message
    assert len(info.value.problems) == len(expected)
    assert message.count("; ") == len(expected) - 1
    assert "\n" not in message
    assert isinstance(info.value, ValueError)  # callers may catch either


# ------------------------------------------------------ aliases and case


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("Sigmoid", "sigmoid"),
        ("RELU", "relu"),
        ("LeakyReLU", "leaky_relu"),
        ("leaky-relu", "leaky_relu"),
        ("Leaky_ReLU", "leaky_relu"),
        (" tanh ", "tanh"),
        ("Linear", "identity"),
        ("IDENTITY", "identity"),
        ("SoftMax", "softmax"),
    ],
)
def test_activation_aliases_and_case(given, canonical):
    config = resolve({"layers": [4, 3, 2], "activations": [given, "softmax"]}, None)
    assert config["activations"] == [canonical, "softmax"]


@pytest.mark.parametrize(
    ("key", "given", "canonical"),
    [
        ("loss", "Cross-Entropy", "cross-entropy"),
        ("loss", "cross_entropy", "cross-entropy"),
        ("loss", "CrossEntropy", "cross-entropy"),
        ("loss", "categorical_cross_entropy", "cross-entropy"),
        ("loss", "MSE", "mse"),
        ("loss", "mean_squared_error", "mse"),
        ("init", "Xavier", "glorot"),
        ("init", "HE", "he"),
        ("optimizer", "Adam", "adam"),
        ("optimizer", "RMSProp", "rmsprop"),
        ("dtype", "Float64", "float64"),
        ("dataset", "Fashion-MNIST", "fashion-mnist"),
        ("mode", "Mini-Batch", "mini-batch"),
    ],
)
def test_name_aliases_and_case(key, given, canonical):
    assert resolve({key: given}, None)[key] == canonical


def test_flag_style_keys_and_comma_lists():
    config = resolve(
        None, {"learning-rate": 0.2, "layers": "784,64,10", "activations": "relu,softmax"}
    )
    assert config["learning_rate"] == 0.2
    assert config["layers"] == [784, 64, 10]
    assert config["activations"] == ["relu", "softmax"]


def test_activation_functions_key_of_an_older_seed():
    loaded = load_config({"layers": [784, 200, 10], "activation_functions": ["sigmoid", "sigmoid"]})
    assert loaded["activations"] == ["sigmoid", "sigmoid"]


def test_same_key_twice_in_two_spellings():
    assert "given twice" in error_of(load_config, {"learning_rate": 0.1, "Learning-Rate": 0.2})


def test_numbers_become_floats_and_augment_zero_is_false():
    config = resolve({"learning_rate": 1, "momentum": 0, "augment": 0}, None)
    assert isinstance(config["learning_rate"], float) and config["learning_rate"] == 1.0
    assert isinstance(config["momentum"], float)
    assert config["augment"] is False
    assert resolve(None, {"augment": 3})["augment"] == 3


# ------------------------------------------------------------- lr schedules


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, None),
        ("none", None),
        ("step:10:0.5", {"type": "step", "step_size": 10, "gamma": 0.5}),
        ("Step:3:1", {"type": "step", "step_size": 3, "gamma": 1.0}),
        ("exponential:0.95", {"type": "exponential", "gamma": 0.95}),
        ("cosine", {"type": "cosine", "min_lr": 0.0}),
        ("cosine:0.001", {"type": "cosine", "min_lr": 0.001}),
        ("linear", {"type": "linear", "min_lr": 0.0}),
        ("linear:0.001", {"type": "linear", "min_lr": 0.001}),
        (
            {"type": "step", "step_size": 10, "gamma": 0.5},
            {"type": "step", "step_size": 10, "gamma": 0.5},
        ),
        ({"type": "Exponential", "gamma": 0.9}, {"type": "exponential", "gamma": 0.9}),
        ({"type": "cosine"}, {"type": "cosine", "min_lr": 0.0}),
        ({"type": "cosine", "min_lr": 0}, {"type": "cosine", "min_lr": 0.0}),
    ],
)
def test_lr_schedule_forms(given, expected):
    assert resolve({"lr_schedule": given}, None)["lr_schedule"] == expected
    if given is not None:  # None as a flag means "not given": DEFAULTS' schedule holds
        assert resolve(None, {"lr_schedule": given})["lr_schedule"] == expected


def test_lr_schedule_string_normalised_at_load():
    loaded = load_config({"lr_schedule": "step:10:0.5"})
    assert loaded["lr_schedule"] == {"type": "step", "step_size": 10, "gamma": 0.5}


@pytest.mark.parametrize(
    ("given", "fragment"),
    [
        ("step:10", 'lr_schedule: expected null, "step:STEP_SIZE:GAMMA"'),
        ("step:0.5:10", 'got "step:0.5:10"'),
        ("linear:a", 'got "linear:a"'),
        ("warmup:0.1", 'got "warmup:0.1"'),
        ("linear:0.5", "lr_schedule: min_lr 0.5 is above learning_rate 0.1"),
        ("cosine:a", 'got "cosine:a"'),
        (5, "got 5"),
        ("step:10:2", "lr_schedule: gamma must be in (0, 1], got 2.0"),
        ("step:0:0.5", "lr_schedule: step_size must be an integer >= 1, got 0"),
        ("exponential:0", "lr_schedule: gamma must be in (0, 1], got 0.0"),
        ("cosine:0.5", "lr_schedule: min_lr 0.5 is above learning_rate 0.1"),
        ("cosine:-1", "lr_schedule: min_lr must be >= 0, got -1.0"),
        (
            {"type": "warmup"},
            'lr_schedule type: unknown "warmup" (expected one of step, exponential, cosine, '
            "linear)",
        ),
        ({"gamma": 0.5}, "lr_schedule type: expected a name"),
        ({"type": "step", "gamma": 0.5}, 'lr_schedule: type "step" needs "step_size"'),
        (
            {"type": "exponential", "gamma": 0.5, "step_size": 3},
            'lr_schedule: unknown key "step_size"',
        ),
    ],
)
def test_bad_lr_schedule(given, fragment):
    assert fragment in error_of(resolve, {"lr_schedule": given}, None)


# ----------------------------------------------------------- batch schedules


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("linear:8", {"type": "linear", "final": 8}),
        (" Linear:16 ", {"type": "linear", "final": 16}),
        ({"type": "linear", "final": 8}, {"type": "linear", "final": 8}),
        ({"Type": "linear", "final": 2}, {"type": "linear", "final": 2}),
        ({"type": "Linear", "final": 2}, {"type": "linear", "final": 2}),
        ("none", None),
        (None, None),
    ],
)
def test_batch_schedule_forms(given, expected):
    config = resolve({"batch_size": 128, "batch_schedule": given}, None)
    assert config["batch_schedule"] == expected
    assert config["mode"] == "mini-batch"
    if given is not None:
        assert resolve(None, {"batch_schedule": given})["batch_schedule"] == expected


@pytest.mark.parametrize(
    ("given", "fragment"),
    [
        ("linear", 'batch_schedule: expected null, "linear:FINAL"'),
        ("linear:0", 'got {"type": "linear", "final": 0}'),
        ("linear:2.5", 'got "linear:2.5"'),
        ("linear:\u00b2", 'got "linear:\\u00b2"'),  # shown JSON-escaped
        ("cosine:8", 'got "cosine:8"'),
        ({"type": "linear"}, "batch_schedule: expected"),
        ({"type": "linear", "final": 8, "every": 2}, "batch_schedule: expected"),
        (8, "got 8"),
    ],
)
def test_bad_batch_schedule(given, fragment):
    assert fragment in error_of(resolve, {"batch_size": 64, "batch_schedule": given}, None)


def test_batch_schedule_needs_mini_batch_mode():
    message = error_of(resolve, {"mode": "per-sample", "batch_schedule": "linear:8"}, None)
    assert 'batch_schedule: applies to mode "mini-batch" only, got mode "per-sample"' in message
    message = error_of(
        resolve, {"batch_size": 64, "batch_schedule": "linear:8"}, {"mode": "full-batch"}
    )
    assert 'got mode "full-batch"' in message


# ------------------------------------------------------------ validate, to_json


def test_validate_full_config_returns_normalised_copy():
    full = dict(DEFAULTS, activations=["ReLU", "Softmax"], lr_schedule="exponential:0.9")
    config = validate(full)
    assert config["activations"] == ["relu", "softmax"]
    assert config["lr_schedule"] == {"type": "exponential", "gamma": 0.9}
    assert full["activations"] == ["ReLU", "Softmax"]
    assert validate(DEFAULTS) == DEFAULTS


def test_validate_reports_missing_keys():
    partial = {k: v for k, v in DEFAULTS.items() if k not in ("epochs", "seed")}
    message = error_of(validate, partial)
    assert 'missing key "epochs"' in message and 'missing key "seed"' in message


def test_validate_checks_mode_against_batch_size():
    assert 'batch_size: must be 1 for mode "per-sample", got 128' in error_of(
        validate, dict(DEFAULTS, mode="per-sample")
    )
    assert 'batch_size: must be null for mode "full-batch", got 128' in error_of(
        validate, dict(DEFAULTS, mode="full-batch")
    )


def test_to_json_is_pretty_and_ordered():
    text = to_json(resolve(None, {"lr_schedule": "cosine"}))
    assert json.loads(text) == resolve(None, {"lr_schedule": "cosine"})
    lines = text.splitlines()
    assert lines[0] == "{" and lines[-1] == "}"
    assert lines[1] == '  "layers": [784, 256, 10],'
    assert [line.split('"')[1] for line in lines[1:-1]] == list(cfg.KEYS)
    assert to_json({}) == "{}"


# ------------------------------------------------------------- constants


def test_canonical_name_lists():
    assert cfg.ACTIVATIONS == ("sigmoid", "relu", "leaky_relu", "tanh", "softmax", "identity")
    assert cfg.LOSSES == ("cross-entropy", "mse")
    assert cfg.INITS == ("he", "glorot", "normal", "uniform")
    assert cfg.OPTIMIZERS == ("sgd", "adam", "rmsprop")
    assert cfg.MODES == ("per-sample", "mini-batch", "full-batch")
    assert cfg.DTYPES == ("float32", "float64")
    assert cfg.DATASETS == ("mnist", "fashion-mnist")
    assert cfg.LR_SCHEDULES == ("step", "exponential", "cosine", "linear")
    aliases = [cfg.ACTIVATION_ALIASES, cfg.LOSS_ALIASES, cfg.INIT_ALIASES, cfg.MODE_ALIASES]
    for alias, names in zip(
        aliases, [cfg.ACTIVATIONS, cfg.LOSSES, cfg.INITS, cfg.MODES], strict=True
    ):
        assert set(alias.values()) <= set(names)


def test_defaults():
    assert DEFAULTS == {
        "layers": [784, 256, 10],
        "input_shape": [784],
        "activations": ["relu", "softmax"],
        "loss": "cross-entropy",
        "init": "he",
        "optimizer": "sgd",
        "learning_rate": 0.1,
        "momentum": 0.9,
        "nesterov": False,
        "l1": 0.0,
        "l2": 0.0005,
        "dropout": 0.0,
        "dropconnect": 0.0,
        "lr_schedule": {"type": "cosine", "min_lr": 0.0},
        "validation_split": 0.0,
        "early_stopping": None,
        "seed": 0,
        "dtype": "float32",
        "mode": "mini-batch",
        "batch_size": 128,
        "batch_schedule": None,
        "epochs": 20,
        "dataset": "mnist",
        "normalize": True,
        "augment": False,
        "leaky_relu_alpha": 0.01,
    }

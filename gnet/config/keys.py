"""The configuration keys, each declared once: name, default, check, help, flag.

``TABLE`` is the single source: ``DEFAULTS`` and ``KEYS`` are read off it,
``check`` (gnet.config) runs every entry's check, and the command line
(gnet.cli) builds one ``gnet train`` flag per entry that has a ``Flag``,
with the entry's help text. Adding a key is one entry here.

A check is ``check(config, name) -> problems``; it runs only when ``name`` is
in ``config``, may read other keys (``batch_size`` reads ``mode``), and
converts a valid value to its canonical type in place (ints to float for
rates). Standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from .schedules import batch_schedule_problems, lr_schedule_problems
from .util import is_int, is_number, show, unknown_name

# Canonical names. The registries in activations / losses / init / optim expose
# the same lists; a test cross-checks them.
ACTIVATIONS = ("sigmoid", "relu", "leaky_relu", "tanh", "softmax", "identity")
ACTIVATION_ALIASES = {"leakyrelu": "leaky_relu", "leaky-relu": "leaky_relu", "linear": "identity"}
LOSSES = ("cross-entropy", "mse")
LOSS_ALIASES = {
    "cross_entropy": "cross-entropy",
    "crossentropy": "cross-entropy",
    "categorical_cross_entropy": "cross-entropy",
    "mean_squared_error": "mse",
}
INITS = ("he", "glorot", "normal", "uniform")
INIT_ALIASES = {"xavier": "glorot", "kaiming": "he"}
OPTIMIZERS = ("sgd", "adam", "rmsprop")
MODES = ("per-sample", "mini-batch", "full-batch")
MODE_ALIASES = {"per_sample": "per-sample", "mini_batch": "mini-batch", "full_batch": "full-batch"}
DTYPES = ("float32", "float64")
DATASETS = ("mnist", "fashion-mnist")
DATASET_ALIASES = {"fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist"}
MAX_AUGMENT = 4  # largest random shift, in pixels
IMAGE_SHAPE = [28, 28, 1]  # both data sets: what a layer list with image layers is fed

# Upper limits: values above them are mistakes, refused before a run starts
# rather than failing hours in (or exhausting memory) once it has.
MAX_UNITS = 1 << 24  # units of one layer (as gnet.layers' dense "units")
MAX_PARAMETERS = 250_000_000  # weights in the whole network (1 GB in float32)
MAX_EPOCHS = 1_000_000
MAX_BATCH_SIZE = 1 << 24
MAX_PATIENCE = 1_000_000
MAX_SEED = 2**63 - 1

Check = Callable[[dict[str, Any], str], list[str]]


@dataclass(frozen=True)
class Flag:
    """How a key appears on ``gnet train``: ``--name-with-dashes``.

    kind: "str" (as typed), "lower" (case-insensitive, choices = the key's
    names), "int" (>= minimum), "float" or "bool" (``--x`` / ``--no-x``).
    """

    kind: str = "str"
    metavar: str | None = None
    minimum: int = 0
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Key:
    name: str
    default: Any
    check: Check
    help: str
    flag: Flag | None = None
    names: tuple[str, ...] = ()  # canonical names of a named value (loss, mode, ...)
    aliases: dict[str, str] = field(default_factory=dict)

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")


# ----------------------------------------------------------------- checks


def is_spec_list(layers: Any) -> bool:
    """True for the layer-spec form: a list holding objects with a "type"."""
    return isinstance(layers, list) and any(isinstance(x, dict) and "type" in x for x in layers)


def is_sizes(layers: Any) -> TypeGuard[list[int]]:
    return isinstance(layers, list) and len(layers) >= 2 and all(is_int(n, 1) for n in layers)


def is_shape(shape: Any) -> TypeGuard[list[int]]:
    return isinstance(shape, list) and len(shape) in (1, 3) and all(is_int(d, 1) for d in shape)


def _layers(config: dict[str, Any], name: str) -> list[str]:
    layers = config[name]
    if is_spec_list(layers):
        if not is_shape(config.get("input_shape")):
            return []  # input_shape's own check says so; the chain cannot be followed
        try:
            from ..layers import array_shapes, check_specs
        except ImportError:  # a gnet without layer specs: the network reports them
            return []
        named = [
            f"layers[{i}].type: expected a layer type name, got {show(spec['type'])}"
            for i, spec in enumerate(layers)
            if isinstance(spec, dict) and "type" in spec and not isinstance(spec["type"], str)
        ]
        if named:
            return named
        problems = list(check_specs(config["input_shape"], layers))
        if problems:
            return problems
        shapes = array_shapes(config["input_shape"], layers)
        return _parameters(sum(math.prod(s) for arrays in shapes for s in arrays.values()))
    if not is_sizes(layers):
        return [f"layers: expected a list of at least 2 positive integers, got {show(layers)}"]
    wide = [n for n in layers if n > MAX_UNITS]
    if wide:
        return [f"layers: {wide[0]} units is over the limit of {MAX_UNITS} per layer"]
    return _parameters(sum((a + 1) * b for a, b in zip(layers, layers[1:], strict=False)))


def _parameters(count: int) -> list[str]:
    if count > MAX_PARAMETERS:
        return [
            f"layers: the network would have {count:,} parameters, over the limit of "
            f"{MAX_PARAMETERS:,}"
        ]
    return []


def _input_shape(config: dict[str, Any], name: str) -> list[str]:
    shape, layers = config[name], config.get("layers")
    if not is_shape(shape):
        return [
            f"input_shape: expected [features] or [height, width, channels] "
            f"(positive integers), got {show(shape)}"
        ]
    if is_sizes(layers) and math.prod(shape) != layers[0]:
        return [
            f"input_shape: {show(shape)} is {math.prod(shape)} inputs, but layers "
            f"{show(layers)} starts with {layers[0]}"
        ]
    return []


def _activations(config: dict[str, Any], name: str) -> list[str]:
    acts, layers = config[name], config.get("layers")
    if is_spec_list(layers):
        if acts is None:
            return []
        return [
            'activations: not used when "layers" lists layer objects (give each dense '
            'layer its "activation")'
        ]
    if not isinstance(acts, list) or not acts:
        return [f"activations: expected a list of activation names, got {show(acts)}"]
    problems = [
        unknown_name(f"activations[{i}]", a, ACTIVATIONS, ACTIVATION_ALIASES)
        for i, a in enumerate(acts)
        if a not in ACTIVATIONS
    ]
    if is_sizes(layers) and len(acts) != len(layers) - 1:
        entries = "entry" if len(acts) == 1 else "entries"
        problems.append(
            f"activations: {len(acts)} {entries} for {len(layers) - 1} layer transitions "
            f"of layers {show(layers)}"
        )
    return problems


def _named(config: dict[str, Any], name: str) -> list[str]:
    key = BY_NAME[name]
    if config[name] in key.names:
        return []
    return [unknown_name(name, config[name], key.names)]


def _number(ok: Callable[[float], bool], rule: str) -> Check:
    def check(config: dict[str, Any], name: str) -> list[str]:
        value = config[name]
        if not is_number(value):
            return [f"{name}: expected a number, got {show(value)}"]
        if not ok(value):
            return [f"{name}: {rule}, got {show(value)}"]
        config[name] = float(value)
        return []

    return check


def _integer(low: int, rule: str, nullable: bool = False, high: int | None = None) -> Check:
    def check(config: dict[str, Any], name: str) -> list[str]:
        value = config[name]
        if nullable and value is None:
            return []
        if not is_int(value, low):
            return [f"{name}: expected {rule}, got {show(value)}"]
        if high is not None and value > high:
            return [f"{name}: {show(value)} is over the limit of {high}"]
        return []

    return check


def _boolean(config: dict[str, Any], name: str) -> list[str]:
    if isinstance(config[name], bool):
        return []
    return [f"{name}: expected true or false, got {show(config[name])}"]


def _nesterov(config: dict[str, Any], name: str) -> list[str]:
    problems = _boolean(config, name)
    if config[name] is True:
        optimizer = config.get("optimizer")
        if optimizer in OPTIMIZERS and optimizer != "sgd":
            problems.append(f'nesterov: applies to optimizer "sgd" only, got {show(optimizer)}')
        elif is_number(config.get("momentum")) and config["momentum"] == 0:
            problems.append("nesterov: needs momentum > 0, got momentum 0.0")
    return problems


def _augment(config: dict[str, Any], name: str) -> list[str]:
    aug = config[name]
    if not (aug is False or (is_int(aug, 0) and aug <= MAX_AUGMENT)):
        return [
            f"augment: expected false, 0 or an integer from 1 to {MAX_AUGMENT} "
            f"(pixels of random shift), got {show(aug)}"
        ]
    if aug == 0:
        config[name] = False
    return []


def _batch_size(config: dict[str, Any], name: str) -> list[str]:
    size, mode = config[name], config.get("mode")
    if mode == "full-batch":
        if size is not None:
            return [f'batch_size: must be null for mode "full-batch", got {show(size)}']
    elif mode == "per-sample":
        if size != 1 or isinstance(size, bool):
            return [f'batch_size: must be 1 for mode "per-sample", got {show(size)}']
    elif not is_int(size, 1):
        return [f"batch_size: expected an integer >= 1, got {show(size)}"]
    elif size > MAX_BATCH_SIZE:
        return [f"batch_size: {show(size)} is over the limit of {MAX_BATCH_SIZE}"]
    return []


def _lr_schedule(config: dict[str, Any], name: str) -> list[str]:
    return lr_schedule_problems(config[name], config.get("learning_rate"))


def _batch_schedule(config: dict[str, Any], name: str) -> list[str]:
    return batch_schedule_problems(config[name], config.get("mode"))


_UNIT = _number(lambda v: 0 <= v < 1, "must be in [0, 1)")
_NON_NEGATIVE = _number(lambda v: v >= 0, "must be >= 0")


# ------------------------------------------------------------------ table

TABLE: tuple[Key, ...] = (
    Key("layers", [784, 256, 10], _layers,
        "layer sizes, input and output too (e.g. 784,128,10), or a JSON list of layer "
        'objects {"type": ...}, or the compact form conv2d:32:3,maxpool2d:2,flatten,dense:10 '
        "(see docs/cli.md)", Flag(metavar="SIZES|MODEL", aliases=("--model",))),
    Key("input_shape", [784], _input_shape,
        "shape of one input: [features] or [height, width, channels] (e.g. 28,28,1)",
        Flag(metavar="SHAPE")),
    Key("activations", ["relu", "softmax"], _activations,
        f"one per layer transition, e.g. relu,softmax; from {', '.join(ACTIVATIONS)} "
        "(not used with layer objects)", Flag(metavar="NAMES")),
    Key("loss", "cross-entropy", _named, "loss function", Flag("lower"),
        LOSSES, LOSS_ALIASES),
    Key("init", "he", _named, "weight initialisation", Flag("lower"), INITS, INIT_ALIASES),
    Key("optimizer", "sgd", _named, "update rule", Flag("lower"), OPTIMIZERS),
    Key("learning_rate", 0.1, _number(lambda v: v > 0, "must be > 0"),
        "step size (> 0)", Flag("float", "F", aliases=("--lr",))),
    Key("momentum", 0.9, _UNIT, "SGD momentum, in [0, 1)", Flag("float", "F")),
    Key("nesterov", False, _nesterov, "Nesterov momentum (SGD with momentum > 0)",
        Flag("bool")),
    Key("l1", 0.0, _NON_NEGATIVE, "L1 weight penalty (>= 0)", Flag("float", "F")),
    Key("l2", 0.0005, _NON_NEGATIVE, "L2 weight penalty (>= 0)", Flag("float", "F")),
    Key("dropout", 0.0, _UNIT, "rate on hidden layers", Flag("float", "F")),
    Key("dropconnect", 0.0, _UNIT, "rate on the weights into hidden layers",
        Flag("float", "F")),
    Key("lr_schedule", {"type": "cosine", "min_lr": 0.0}, _lr_schedule,
        "step:STEP_SIZE:GAMMA, exponential:GAMMA, cosine[:MIN_LR], linear[:MIN_LR] or none",
        Flag(metavar="SPEC")),
    Key("validation_split", 0.0, _UNIT,
        "fraction of the training set held out for validation, in [0, 1)",
        Flag("float", "F")),
    Key("early_stopping", None,
        _integer(
            1, "null or an integer >= 1 (epochs without improvement)", True, MAX_PATIENCE
        ),
        "patience in epochs", Flag("int", "N", minimum=1)),
    Key("seed", 0, _integer(0, "an integer >= 0", high=MAX_SEED),
        "seed of the weights, shuffling, dropout and shifts", Flag("int", "N")),
    Key("dtype", "float32", _named, "floating-point type of weights and data",
        Flag("lower"), DTYPES),
    Key("mode", "mini-batch", _named, "how many samples each update sees", Flag("lower"),
        MODES, MODE_ALIASES),
    Key("batch_size", 128, _batch_size, "implies mini-batch", Flag("int", "N", minimum=1)),
    Key("batch_schedule", None, _batch_schedule,
        "linear:FINAL (batch size from --batch-size to FINAL over the epochs) or none",
        Flag(metavar="SPEC")),
    Key("epochs", 20, _integer(1, "an integer >= 1", high=MAX_EPOCHS),
        "passes over the training set", Flag("int", "N", minimum=1)),
    Key("dataset", "mnist", _named, "data set to train and test on", Flag("lower"),
        DATASETS, DATASET_ALIASES),
    Key("normalize", True, _boolean,
        "standardise inputs with the training set's mean and std (stored in the model)",
        Flag("bool")),
    Key("augment", False, _augment, "random shifts of up to PIXELS (1-4; 0: off)",
        Flag("int", "PIXELS")),
    Key("leaky_relu_alpha", 0.01, _UNIT, "slope of leaky_relu below zero, in [0, 1)",
        Flag("float", "F")),
)  # fmt: skip

BY_NAME = {key.name: key for key in TABLE}
DEFAULTS: dict[str, Any] = {key.name: key.default for key in TABLE}
KEYS = tuple(DEFAULTS)
NAMED = {key.name: (key.names, key.aliases) for key in TABLE if key.names}

"""Network and training configuration: load a JSON file, merge with flags, validate.

A configuration is a plain dict whose keys are those of ``DEFAULTS``. Three
steps make one:

- ``load_config(path_or_dict)`` reads a file in the seeds' format
  (``"layers": [784, 200, 10], "activations": ["Sigmoid", "Softmax"]``) or in
  the neural-net-rs format (``"layers": [{"nodes": 784, "activation": ...}]``
  with ``regularization_type`` / ``regularization_rate``) and returns the keys
  it holds, normalised (canonical lower-case names, lists, schedule dicts).
- ``resolve(file_config, overrides)`` lays DEFAULTS, the file and the flags on
  top of each other, applies the training-mode rules and validates.
- ``validate(config)`` checks every key and raises one ``ConfigError`` that
  lists every problem found, so a user fixes a file in one go.

Standard library only: this module is imported by the CLI before any array
library is.
"""

from __future__ import annotations

import copy
import difflib
import json
import logging
import math
import os
from pathlib import Path
from typing import Any

from .errors import ConfigError

log = logging.getLogger(__name__)

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
LR_SCHEDULES = ("step", "exponential", "cosine", "linear")
REGULARIZATIONS = ("l1", "l2", "none")
MAX_AUGMENT = 4  # largest random shift, in pixels

DEFAULTS: dict[str, Any] = {
    "layers": [784, 256, 10],
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
KEYS = tuple(DEFAULTS)

# What a config file that does not say otherwise gets instead of DEFAULTS:
# the seeds trained with plain SGD at a constant rate on raw [0, 1] pixels.
SEED_TRAINING: dict[str, Any] = {
    "momentum": 0.0,
    "l2": 0.0,
    "lr_schedule": None,
    "normalize": False,
}

# Keys only a file may hold; load_config turns them into canonical keys.
_FILE_ONLY_KEYS = ("regularization_type", "regularization_rate")
_KEY_ALIASES = {"activation_functions": "activations"}  # an older seed spelling
_NAMED = {  # key -> (canonical names, aliases)
    "loss": (LOSSES, LOSS_ALIASES),
    "init": (INITS, INIT_ALIASES),
    "optimizer": (OPTIMIZERS, {}),
    "mode": (MODES, MODE_ALIASES),
    "dtype": (DTYPES, {}),
    "dataset": (DATASETS, DATASET_ALIASES),
}
_SCHEDULE_KEYS = {
    "step": ("step_size", "gamma"),
    "exponential": ("gamma",),
    "cosine": ("min_lr",),
    "linear": ("min_lr",),
}
_SCHEDULE_FORMS = (
    'null, "step:STEP_SIZE:GAMMA", "exponential:GAMMA", "cosine", "cosine:MIN_LR", '
    '"linear", "linear:MIN_LR" or an object {"type": "step", "step_size": N, "gamma": G}'
)
_BATCH_SCHEDULE_FORMS = 'null, "linear:FINAL" or {"type": "linear", "final": FINAL}'

_MISSING = object()


# ------------------------------------------------------------------ public API


def load_config(source: str | os.PathLike[str] | dict[str, Any]) -> dict[str, Any]:
    """The configuration in ``source`` (a JSON file's path, or a dict), normalised.

    Only the keys present are returned, not merged with DEFAULTS; values are
    not range-checked here (``resolve`` does that, with the flags applied).
    Raises ConfigError, one line naming the file, for a missing or unreadable
    file, invalid JSON, a top level that is not an object, or a malformed
    neural-net-rs layer list.
    """
    if isinstance(source, dict):
        config, problems = _normalise(source)
        if problems:
            raise _error(problems)
        return config
    if not isinstance(source, (str, os.PathLike)):
        raise ConfigError(f"config: expected a file path or a dict, got {type(source).__name__}")
    path = Path(source)
    where = f"config file {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{where}: not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{where}: is a directory, not a file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read ({exc.strerror or exc})") from None
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        empty = " (the file is empty)" if not text.strip() else ""
        raise ConfigError(
            f"{where}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}{empty}"
        ) from None
    except _DuplicateKey as exc:
        raise ConfigError(f"{where}: duplicate key {_show(exc.key)}") from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"{where}: expected a JSON object ({{...}}) at the top level, got {_json_type(data)}"
        )
    config, problems = _normalise(data)
    if problems:
        raise _error(problems, f"{where}: ")
    return config


def resolve(
    file_config: dict[str, Any] | str | os.PathLike[str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """DEFAULTS, then ``file_config``, then ``overrides`` (flags), validated.

    ``file_config`` is what ``load_config`` returned (a path is loaded first).

    ``None`` values in ``overrides`` mean "flag not given" and are skipped.
    Training-mode rules: ``mode`` "per-sample" sets batch_size 1 and
    "full-batch" sets it to None (the whole set); a batch_size given without a
    mode means "mini-batch". A file that gives neither mode nor batch_size is
    per-sample, and SEED_TRAINING replaces DEFAULTS for the keys it does not
    give (no momentum, no L2, no lr_schedule, no normalize): that is how the seeds
    trained. With no file, DEFAULTS hold.
    """
    if isinstance(file_config, (str, os.PathLike)):
        file_config = load_config(file_config)
    for name, value in (("file_config", file_config), ("overrides", overrides)):
        if value is not None and not isinstance(value, dict):
            raise ConfigError(f"{name}: expected a dict or None, got {type(value).__name__}")
    problems: list[str] = []
    given = file_config is not None
    file_cfg, found = _normalise(file_config or {})
    problems += found
    flags, found = _normalise({k: v for k, v in (overrides or {}).items() if v is not None})
    problems += found

    config = copy.deepcopy(DEFAULTS)
    if given:
        config.update(copy.deepcopy(SEED_TRAINING))
    config.update(file_cfg)
    config.update(flags)
    config["mode"], config["batch_size"], found = _resolve_mode(file_cfg, flags, given)
    problems += found
    return _validated(config, problems)


def validate(config: dict[str, Any]) -> dict[str, Any]:
    """A normalised copy of the full ``config``; raises ConfigError listing every problem."""
    if not isinstance(config, dict):
        raise ConfigError(f"invalid configuration: expected a dict, got {type(config).__name__}")
    config, problems = _normalise(config)
    return _validated(config, problems)


def to_json(config: dict[str, Any]) -> str:
    """``config`` as JSON, one key a line in DEFAULTS order (for metrics and model files)."""
    keys = [k for k in KEYS if k in config] + [k for k in config if k not in KEYS]
    lines = [f"  {json.dumps(k)}: {json.dumps(config[k])}" for k in keys]
    return "{\n" + ",\n".join(lines) + "\n}" if lines else "{}"


# ---------------------------------------------------------------- normalising


def _normalise(raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Canonical keys and names; values that cannot be read are kept as given.

    Returns the new dict and the structural problems found (those that make
    the file's intent unclear); value problems are left to ``_check``.
    """
    problems: list[str] = []
    config: dict[str, Any] = {}
    for key, value in raw.items():
        name = _canonical_key(key)
        if name in config:
            problems.append(f"{_show(key)} given twice (as {_show(name)} too)")
        config[name] = value

    if isinstance(config.get("layers"), list) and any(
        isinstance(x, dict) for x in config["layers"]
    ):
        problems += _from_layer_objects(config)
    problems += _from_regularization(config)

    for key in ("layers", "activations"):
        if isinstance(config.get(key), str):  # "784,128,10" as a flag gives it
            config[key] = _split_list(config[key], int if key == "layers" else str)
        elif isinstance(config.get(key), tuple):
            config[key] = list(config[key])
    if isinstance(config.get("activations"), list):
        config["activations"] = [
            _canonical_name(a, ACTIVATIONS, ACTIVATION_ALIASES) for a in config["activations"]
        ]
    for key, (names, aliases) in _NAMED.items():
        if key in config:
            config[key] = _canonical_name(config[key], names, aliases)
    if "lr_schedule" in config:
        config["lr_schedule"] = _parse_schedule(config["lr_schedule"])[0]
    if "batch_schedule" in config:
        config["batch_schedule"] = _parse_batch_schedule(config["batch_schedule"])
    return config, problems


def _canonical_key(key: Any) -> Any:
    if not isinstance(key, str):
        return key
    name = key.strip().lower().replace("-", "_")  # flags spell learning-rate
    name = _KEY_ALIASES.get(name, name)
    return name if name in KEYS or name in _FILE_ONLY_KEYS else key


def _canonical_name(value: Any, names: tuple[str, ...], aliases: dict[str, str]) -> Any:
    if not isinstance(value, str):
        return value
    name = value.strip().lower()
    name = aliases.get(name, name)
    return name if name in names else value


def _split_list(text: str, kind: type) -> Any:
    try:
        return [kind(part.strip()) for part in text.split(",")]
    except ValueError:
        return text


def _from_layer_objects(config: dict[str, Any]) -> list[str]:
    """neural-net-rs layers ``[{"nodes": 784, "activation": "sigmoid"}, ...]`` -> sizes.

    neural-net-rs applies layer i's activation to the transition out of it and
    leaves the last layer's out. A list where every layer names one (the input
    layer too) is read the other way: the input's is ignored and layer i's
    applies to the transition into it.
    """
    layers = config["layers"]
    if not all(isinstance(x, dict) for x in layers):
        return [f'layers: mixes numbers and {{"nodes": N}} objects, got {_show(layers)}']
    problems = []
    for i, layer in enumerate(layers):
        for key in layer:
            if key not in ("nodes", "activation"):
                problems.append(
                    f"layers[{i}]: unknown key {_show(key)} (a layer object holds "
                    '"nodes" and "activation")'
                )
        if "nodes" not in layer:
            problems.append(f'layers[{i}]: missing "nodes"')
    config["layers"] = [layer.get("nodes") for layer in layers]
    named = [layer.get("activation") is not None for layer in layers]
    acts = [layer.get("activation") for layer in layers]
    if not any(named):
        return problems
    if "activations" in config:
        return problems + ['activations: given both in "layers" objects and as "activations"']
    if all(named[:-1]) and not named[-1]:
        config["activations"] = acts[:-1]
    elif all(named):
        log.debug("input layer activation %r ignored", acts[0])
        config["activations"] = acts[1:]
    else:
        missing = [i for i, has in enumerate(named[:-1]) if not has]
        problems.append(
            f"layers: no activation at layers {missing} (every layer object but the last "
            'needs an "activation")'
        )
    return problems


def _from_regularization(config: dict[str, Any]) -> list[str]:
    """neural-net-rs ``regularization_type`` + ``regularization_rate`` -> ``l1`` / ``l2``."""
    kind = config.pop("regularization_type", _MISSING)
    rate = config.pop("regularization_rate", _MISSING)
    if kind is _MISSING and rate is _MISSING:
        return []
    if kind is _MISSING:
        log.info("regularization_rate without regularization_type: taken as l2")
        kind = "l2"
    name = kind.strip().lower() if isinstance(kind, str) else kind
    if name is None or name == "none":
        if rate not in (_MISSING, None, 0, 0.0):
            log.info("regularization_rate %r ignored: regularization_type is none", rate)
        return []
    if name not in ("l1", "l2"):
        return [f'regularization_type: expected "l1", "l2" or "none", got {_show(kind)}']
    if rate is _MISSING or rate is None:
        log.info("regularization_type %s without regularization_rate: no regularization", name)
        return []
    if name in config and config[name] != rate:
        return [f"{name}: {_show(config[name])} conflicts with regularization_rate {_show(rate)}"]
    config[name] = rate
    return []


def _parse_schedule(value: Any) -> tuple[Any, str | None]:
    """(normalised value, problem or None) for an ``lr_schedule`` string or dict."""
    if value is None:
        return None, None
    if isinstance(value, dict):
        spec = {(k.strip().lower() if isinstance(k, str) else k): v for k, v in value.items()}
        kind = spec.get("type")
        if isinstance(kind, str):
            spec["type"] = kind.strip().lower()
        if spec.get("type") in ("cosine", "linear"):
            spec.setdefault("min_lr", 0.0)
        return spec, None
    if not isinstance(value, str):
        return value, f"expected {_SCHEDULE_FORMS}, got {_show(value)}"
    text = value.strip().lower()
    if text in ("", "none", "null"):
        return None, None
    kind, *args = [part.strip() for part in text.split(":")]
    try:
        if kind == "step" and len(args) == 2:
            return {"type": "step", "step_size": int(args[0]), "gamma": float(args[1])}, None
        if kind == "exponential" and len(args) == 1:
            return {"type": "exponential", "gamma": float(args[0])}, None
        if kind in ("cosine", "linear") and len(args) <= 1:
            return {"type": kind, "min_lr": float(args[0]) if args else 0.0}, None
    except ValueError:
        pass
    return value, f"expected {_SCHEDULE_FORMS}, got {_show(value)}"


def _parse_batch_schedule(value: Any) -> Any:
    """``"linear:8"`` -> ``{"type": "linear", "final": 8}``; anything else as given."""
    if isinstance(value, dict):
        spec = {(k.strip().lower() if isinstance(k, str) else k): v for k, v in value.items()}
        if isinstance(spec.get("type"), str):
            spec["type"] = spec["type"].strip().lower()
        return spec
    if not isinstance(value, str):
        return value
    text = value.strip().lower()
    if text in ("", "none", "null"):
        return None
    kind, _, arg = (part.strip() for part in text.partition(":"))
    if kind == "linear" and arg.isdecimal() and arg.isascii():
        return {"type": "linear", "final": int(arg)}
    return value


def _resolve_mode(
    file_cfg: dict[str, Any], flags: dict[str, Any], file_given: bool
) -> tuple[Any, Any, list[str]]:
    """(mode, batch_size, problems) after the rules of DESIGN "Training modes"."""
    if "mode" in flags:
        level = flags
    elif "batch_size" in flags:
        return "mini-batch", flags["batch_size"], []
    elif file_given and "mode" in file_cfg:
        level = file_cfg
    elif file_given and "batch_size" in file_cfg:
        return "mini-batch", file_cfg["batch_size"], []
    elif file_given:
        return "per-sample", 1, []  # the seeds updated after every sample
    else:
        return DEFAULTS["mode"], DEFAULTS["batch_size"], []

    mode = level["mode"]
    implied = {"per-sample": 1, "full-batch": None}
    if mode == "mini-batch":
        if "batch_size" in level:
            return mode, level["batch_size"], []
        # a flag --mode mini-batch keeps a mini-batch file's size
        same = file_cfg.get("mode", "mini-batch") == "mini-batch"
        size = file_cfg.get("batch_size") if same else None
        return mode, size if size is not None else DEFAULTS["batch_size"], []
    if mode not in implied:
        return mode, level.get("batch_size", DEFAULTS["batch_size"]), []  # _check reports mode
    if "batch_size" in level and level["batch_size"] != implied[mode]:
        what = "batch size 1" if mode == "per-sample" else "the whole set, batch_size null"
        problem = (
            f"batch_size: {_show(level['batch_size'])} conflicts with mode {_show(mode)} "
            f"(which means {what})"
        )
        return mode, implied[mode], [problem]
    return mode, implied[mode], []


# ------------------------------------------------------------------- checking


def _validated(config: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    problems = _check(config) + problems
    problems += [f"missing key {_show(key)}" for key in KEYS if key not in config]
    if problems:
        raise _error(problems)
    return copy.deepcopy({k: config[k] for k in KEYS})


def _check(config: dict[str, Any]) -> list[str]:
    """Every problem in ``config``; converts valid numbers of float keys to float."""
    problems: list[str] = []
    add = problems.append
    if "layers" in config:
        layers = config["layers"]
        if not (
            isinstance(layers, list) and len(layers) >= 2 and all(_is_int(n, 1) for n in layers)
        ):
            add(f"layers: expected a list of at least 2 positive integers, got {_show(layers)}")
    if "activations" in config:
        problems += _check_activations(config["activations"], config.get("layers"))
    for key, (names, _) in _NAMED.items():
        if key in config and config[key] not in names:
            add(_unknown_name(key, config[key], names))

    floats = {
        "learning_rate": (lambda v: v > 0, "must be > 0"),
        "momentum": (lambda v: 0 <= v < 1, "must be in [0, 1)"),
        "l1": (lambda v: v >= 0, "must be >= 0"),
        "l2": (lambda v: v >= 0, "must be >= 0"),
        "dropout": (lambda v: 0 <= v < 1, "must be in [0, 1)"),
        "dropconnect": (lambda v: 0 <= v < 1, "must be in [0, 1)"),
        "validation_split": (lambda v: 0 <= v < 1, "must be in [0, 1)"),
        "leaky_relu_alpha": (lambda v: 0 <= v < 1, "must be in [0, 1)"),
    }
    for key, (ok, rule) in floats.items():
        if key not in config:
            continue
        value = config[key]
        if not _is_number(value):
            add(f"{key}: expected a number, got {_show(value)}")
        elif not ok(value):
            add(f"{key}: {rule}, got {_show(value)}")
        else:
            config[key] = float(value)

    ints = {
        "epochs": (1, False, "an integer >= 1"),
        "seed": (0, False, "an integer >= 0"),
        "early_stopping": (1, True, "null or an integer >= 1 (epochs without improvement)"),
    }
    for key, (low, nullable, rule) in ints.items():
        if key in config and not ((nullable and config[key] is None) or _is_int(config[key], low)):
            add(f"{key}: expected {rule}, got {_show(config[key])}")

    for key in ("nesterov", "normalize"):
        if key in config and not isinstance(config[key], bool):
            add(f"{key}: expected true or false, got {_show(config[key])}")
    if "augment" in config:
        aug = config["augment"]
        if not (aug is False or (_is_int(aug, 0) and aug <= MAX_AUGMENT)):
            add(
                f"augment: expected false, 0 or an integer from 1 to {MAX_AUGMENT} "
                f"(pixels of random shift), got {_show(aug)}"
            )
        elif aug == 0:
            config["augment"] = False
    problems += _check_batch(config)
    problems += _check_batch_schedule(config)
    problems += _check_schedule(config)
    if config.get("nesterov") is True:
        if config.get("optimizer") in OPTIMIZERS and config["optimizer"] != "sgd":
            add(f'nesterov: applies to optimizer "sgd" only, got {_show(config["optimizer"])}')
        elif _is_number(config.get("momentum")) and config["momentum"] == 0:
            add("nesterov: needs momentum > 0, got momentum 0.0")
    problems += [_unknown_key(key) for key in config if key not in KEYS]
    return problems


def _check_activations(acts: Any, layers: Any) -> list[str]:
    if not isinstance(acts, list) or not acts:
        return [f"activations: expected a list of activation names, got {_show(acts)}"]
    problems = [
        _unknown_name(f"activations[{i}]", a, ACTIVATIONS, ACTIVATION_ALIASES)
        for i, a in enumerate(acts)
        if a not in ACTIVATIONS
    ]
    if isinstance(layers, list) and len(layers) >= 2 and len(acts) != len(layers) - 1:
        entries = "entry" if len(acts) == 1 else "entries"
        problems.append(
            f"activations: {len(acts)} {entries} for {len(layers) - 1} layer transitions "
            f"of layers {_show(layers)}"
        )
    return problems


def _check_batch(config: dict[str, Any]) -> list[str]:
    if "batch_size" not in config:
        return []
    size, mode = config["batch_size"], config.get("mode")
    if mode == "full-batch":
        if size is not None:
            return [f'batch_size: must be null for mode "full-batch", got {_show(size)}']
    elif mode == "per-sample":
        if size != 1 or isinstance(size, bool):
            return [f'batch_size: must be 1 for mode "per-sample", got {_show(size)}']
    elif not _is_int(size, 1):
        return [f"batch_size: expected an integer >= 1, got {_show(size)}"]
    return []


def _check_batch_schedule(config: dict[str, Any]) -> list[str]:
    spec = config.get("batch_schedule")
    if spec is None:
        return []
    if not (
        isinstance(spec, dict)
        and spec.get("type") == "linear"
        and set(spec) == {"type", "final"}
        and _is_int(spec["final"], 1)
    ):
        return [
            f"batch_schedule: expected {_BATCH_SCHEDULE_FORMS} (FINAL an integer >= 1), "
            f"got {_show(spec)}"
        ]
    if config.get("mode") in MODES and config["mode"] != "mini-batch":
        return [
            f'batch_schedule: applies to mode "mini-batch" only, got mode {_show(config["mode"])} '
            "(give a batch_size, or --batch-schedule none)"
        ]
    return []


def _check_schedule(config: dict[str, Any]) -> list[str]:
    if "lr_schedule" not in config:
        return []
    spec, problem = _parse_schedule(config["lr_schedule"])
    if problem:
        return [f"lr_schedule: {problem}"]
    if spec is None:
        return []
    config["lr_schedule"] = spec
    kind = spec.get("type")
    if kind not in LR_SCHEDULES:
        return [_unknown_name("lr_schedule type", kind, LR_SCHEDULES)]
    problems = []
    allowed = _SCHEDULE_KEYS[kind]
    for key in spec:
        if key != "type" and key not in allowed:
            problems.append(
                f"lr_schedule: unknown key {_show(key)} for type {_show(kind)} "
                f"(allowed: {', '.join(allowed)})"
            )
    for key in allowed:
        if key not in spec:
            problems.append(f"lr_schedule: type {_show(kind)} needs {_show(key)}")
    if "step_size" in spec and "step_size" in allowed and not _is_int(spec["step_size"], 1):
        problems.append(
            f"lr_schedule: step_size must be an integer >= 1, got {_show(spec['step_size'])}"
        )
    if "gamma" in spec and "gamma" in allowed:
        gamma = spec["gamma"]
        if not (_is_number(gamma) and 0 < gamma <= 1):
            problems.append(f"lr_schedule: gamma must be in (0, 1], got {_show(gamma)}")
        else:
            spec["gamma"] = float(gamma)
    if "min_lr" in spec and "min_lr" in allowed:
        low, lr = spec["min_lr"], config.get("learning_rate")
        if not (_is_number(low) and low >= 0):
            problems.append(f"lr_schedule: min_lr must be >= 0, got {_show(low)}")
        elif _is_number(lr) and lr > 0 and low > lr:
            problems.append(f"lr_schedule: min_lr {_show(low)} is above learning_rate {_show(lr)}")
        else:
            spec["min_lr"] = float(low)
    return problems


# -------------------------------------------------------------------- helpers


def _is_int(value: Any, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _unknown_key(key: Any) -> str:
    text = f"unknown key {_show(key)}"
    if isinstance(key, str):
        close = difflib.get_close_matches(key.lower(), KEYS + _FILE_ONLY_KEYS, n=1, cutoff=0.6)
        if close:
            return f"{text} (did you mean {_show(close[0])}?)"
    return text


def _unknown_name(
    key: str, value: Any, names: tuple[str, ...], aliases: dict[str, str] | None = None
) -> str:
    allowed = ", ".join(names)
    if not isinstance(value, str):
        return f"{key}: expected a name (one of {allowed}), got {_show(value)}"
    candidates = list(names) + list(aliases or {})
    close = difflib.get_close_matches(value.strip().lower(), candidates, n=1, cutoff=0.6)
    hint = f"did you mean {_show((aliases or {}).get(close[0], close[0]))}? " if close else ""
    return f"{key}: unknown {_show(value)} ({hint}expected one of {allowed})"


def _show(value: Any) -> str:
    """``value`` as it would look in the JSON file."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _json_type(value: Any) -> str:
    names = {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _error(problems: list[str], prefix: str = "") -> ConfigError:
    error = ConfigError(f"{prefix}invalid configuration: " + "; ".join(problems))
    error.problems = list(problems)  # for callers that show one per line
    return error


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result

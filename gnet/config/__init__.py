"""Network and training configuration: load a JSON file, merge with flags, validate.

A configuration is a plain dict whose keys are those of ``DEFAULTS``; every
key is declared once, in ``gnet.config.keys.TABLE`` (default, check, help
text, ``gnet train`` flag). Three steps make one:

- ``load_config(path_or_dict)`` reads a file in gnet's format (``layers`` as
  sizes with ``activations``, or as layer objects ``{"type": ...}`` with
  ``input_shape``), the seeds' format (``"layers": [784, 200, 10],
  "activations": ["Sigmoid", "Softmax"]``) or the neural-net-rs format
  (``"layers": [{"nodes": 784, "activation": ...}]`` with
  ``regularization_type`` / ``regularization_rate``) and returns the keys it
  holds, normalised (canonical lower-case names, lists, schedule dicts).
- ``resolve(file_config, overrides)`` lays DEFAULTS, the file and the flags on
  top of each other, applies the training-mode rules and validates.
- ``validate(config)`` checks every key and raises one ``ConfigError`` that
  lists every problem found, so a user fixes a file in one go.

Standard library only: this package is imported by the CLI before any array
library is (the layer-spec check imports gnet.layers when a config has specs).
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..jsonlimits import check_depth, int_parser
from .forms import FILE_ONLY_KEYS, derived, normalise, resolve_mode
from .keys import (
    ACTIVATION_ALIASES,
    ACTIVATIONS,
    BY_NAME,
    DATASET_ALIASES,
    DATASETS,
    DEFAULTS,
    DTYPES,
    INIT_ALIASES,
    INITS,
    KEYS,
    LOSS_ALIASES,
    LOSSES,
    MAX_AUGMENT,
    MODE_ALIASES,
    MODES,
    OPTIMIZERS,
    TABLE,
    Flag,
    Key,
    is_spec_list,
)
from .schedules import LR_SCHEDULES, parse_batch_schedule, parse_lr_schedule
from .util import error, json_type, show, unknown_key

# What a config file that does not say otherwise gets instead of DEFAULTS:
# the seeds trained with plain SGD at a constant rate on raw [0, 1] pixels.
SEED_TRAINING: dict[str, Any] = {
    "momentum": 0.0,
    "l2": 0.0,
    "lr_schedule": None,
    "normalize": False,
}


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
        _shallow_enough(source, "config")
        config, problems = normalise(source)
        if problems:
            raise error(problems)
        return config
    if not isinstance(source, (str, os.PathLike)):
        raise ConfigError(f"config: expected a file path or a dict, got {type(source).__name__}")
    path = Path(source)
    where = f"config file {path}"
    try:
        if path.is_file() and path.stat().st_size > MAX_FILE_BYTES:
            raise ConfigError(
                f"{where}: {path.stat().st_size} bytes, over the limit of {MAX_FILE_BYTES} "
                "(gnet's configs are a few kB)"
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{where}: not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{where}: is a directory, not a file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read ({exc.strerror or exc})") from None
    containers = text.count("{") + text.count("[")
    if containers > MAX_CONTAINERS:
        raise ConfigError(
            f"{where}: {containers} lists and objects, over the limit of {MAX_CONTAINERS}"
        )
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_int=_bounded_int)
        _check_depth(data)
    except json.JSONDecodeError as exc:
        empty = " (the file is empty)" if not text.strip() else ""
        raise ConfigError(
            f"{where}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}{empty}"
        ) from None
    except _DuplicateKey as exc:
        raise ConfigError(f"{where}: duplicate key {show(exc.key)}") from None
    except RecursionError:
        raise ConfigError(f"{where}: nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # from _bounded_int or _check_depth
        raise ConfigError(f"{where}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"{where}: expected a JSON object ({{...}}) at the top level, got {json_type(data)}"
        )
    config, problems = normalise(data)
    if problems:
        raise error(problems, f"{where}: ")
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
    trained. With no file, DEFAULTS hold. ``input_shape`` not given follows
    ``layers`` ([layers[0]] for sizes); ``activations`` not given is null
    when ``layers`` holds layer objects.
    """
    if isinstance(file_config, (str, os.PathLike)):
        file_config = load_config(file_config)
    for name, value in (("file_config", file_config), ("overrides", overrides)):
        if value is not None and not isinstance(value, dict):
            raise ConfigError(f"{name}: expected a dict or None, got {type(value).__name__}")
        _shallow_enough(value, name)
    problems: list[str] = []
    given = file_config is not None
    file_cfg, found = normalise(file_config or {})
    problems += found
    flags, found = normalise({k: v for k, v in (overrides or {}).items() if v is not None})
    problems += found

    config = copy.deepcopy(DEFAULTS)
    if given:
        config.update(copy.deepcopy(SEED_TRAINING))
    config.update(copy.deepcopy(file_cfg))
    config.update(copy.deepcopy(flags))
    # input_shape and activations not given follow the layers (see derived)
    if "input_shape" not in file_cfg and "input_shape" not in flags:
        del config["input_shape"]
    if is_spec_list(config["layers"]) and "activations" not in {**file_cfg, **flags}:
        del config["activations"]
    config["mode"], config["batch_size"], found = resolve_mode(file_cfg, flags, given)
    problems += found
    return _validated(config, problems)


def validate(config: dict[str, Any]) -> dict[str, Any]:
    """A normalised copy of the full ``config``; raises ConfigError listing every problem."""
    if not isinstance(config, dict):
        raise ConfigError(f"invalid configuration: expected a dict, got {type(config).__name__}")
    _shallow_enough(config, "configuration")
    config, problems = normalise(copy.deepcopy(config))
    return _validated(config, problems)


def check(config: dict[str, Any]) -> list[str]:
    """Every problem in a normalised ``config`` (each key's check from the table);
    converts valid values to their canonical types in place."""
    problems: list[str] = []
    for key in TABLE:
        if key.name in config:
            problems += key.check(config, key.name)
    known = KEYS + FILE_ONLY_KEYS
    problems += [unknown_key(key, known) for key in config if key not in KEYS]
    return problems


def to_json(config: dict[str, Any]) -> str:
    """``config`` as JSON, one key a line in DEFAULTS order (for metrics and model files)."""
    keys = [k for k in KEYS if k in config] + [k for k in config if k not in KEYS]
    lines = [f"  {json.dumps(k)}: {json.dumps(config[k])}" for k in keys]
    return "{\n" + ",\n".join(lines) + "\n}" if lines else "{}"


# -------------------------------------------------------------------- helpers


def _validated(config: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    derived(config)
    problems = check(config) + problems
    problems += [f"missing key {show(key)}" for key in KEYS if key not in config]
    if problems:
        raise error(problems)
    return copy.deepcopy({k: config[k] for k in KEYS})


MAX_FILE_BYTES = 10_000_000
"""Largest config file read."""
MAX_DEPTH = 32
"""Deepest nesting of lists and objects a config file may have (gnet's use 4)."""
MAX_INT_DIGITS = 30
"""Longest integer literal, in digits, a config file may hold."""
MAX_CONTAINERS = 100_000
"""Most lists and objects a config file may hold (counted before parsing)."""


_bounded_int = int_parser(MAX_INT_DIGITS)


def _check_depth(value: Any) -> None:
    check_depth(value, MAX_DEPTH)


def _shallow_enough(value: Any, where: str) -> None:
    try:
        _check_depth(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


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


__all__ = [
    "ACTIVATIONS",
    "ACTIVATION_ALIASES",
    "BY_NAME",
    "DATASETS",
    "DATASET_ALIASES",
    "DEFAULTS",
    "DTYPES",
    "INITS",
    "INIT_ALIASES",
    "KEYS",
    "LOSSES",
    "LOSS_ALIASES",
    "LR_SCHEDULES",
    "MAX_AUGMENT",
    "MODES",
    "MODE_ALIASES",
    "OPTIMIZERS",
    "SEED_TRAINING",
    "TABLE",
    "ConfigError",
    "Flag",
    "Key",
    "check",
    "is_spec_list",
    "load_config",
    "parse_batch_schedule",
    "parse_lr_schedule",
    "resolve",
    "to_json",
    "validate",
]

"""Reading the accepted config forms into canonical keys and names.

- gnet's own: every key of ``keys.TABLE``; ``layers`` either sizes
  ``[784, 128, 10]`` (with ``activations``) or layer objects
  ``[{"type": "dense", "units": 10, ...}]`` (with ``input_shape``);
- the seeds': ``"activations": ["Sigmoid", "Softmax"]`` (any case), or the
  older ``activation_functions``;
- neural-net-rs: ``"layers": [{"nodes": 784, "activation": "sigmoid"}, ...]``
  with ``regularization_type`` / ``regularization_rate``;
- flags: ``"784,128,10"`` strings for list keys, schedule strings.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from .compact import default_input_shape, parse_compact
from .keys import (
    ACTIVATION_ALIASES,
    ACTIVATIONS,
    DEFAULTS,
    IMAGE_SHAPE,
    KEYS,
    NAMED,
    is_spec_list,
)
from .schedules import normalise_batch_schedule, normalise_lr_schedule
from .util import canonical_name, show

log = logging.getLogger("gnet.config")

# Keys only a file may hold; normalise turns them into canonical keys.
FILE_ONLY_KEYS = ("regularization_type", "regularization_rate")
_KEY_ALIASES = {"activation_functions": "activations"}  # an older seed spelling
_LIST_KEYS = {"layers": int, "input_shape": int, "activations": str}  # "a,b,c" from a flag
_MISSING = object()


def normalise(raw: dict[Any, Any]) -> tuple[dict[str, Any], list[str]]:
    """Canonical keys and names; values that cannot be read are kept as given.

    Returns the new dict and the structural problems found (those that make
    the file's intent unclear); value problems are left to the checks.
    """
    problems: list[str] = []
    config: dict[str, Any] = {}
    for key, value in raw.items():
        name = canonical_key(key)
        if name in config:
            problems.append(f"{show(key)} given twice (as {show(name)} too)")
        config[name] = value

    for key, kind in _LIST_KEYS.items():
        if isinstance(config.get(key), str):  # "784,128,10" as a flag gives it
            config[key] = _split_list(config[key], kind)
        elif isinstance(config.get(key), tuple):
            config[key] = list(config[key])
    layers = config.get("layers")
    if isinstance(layers, list) and not is_spec_list(layers):
        if any(isinstance(x, dict) for x in layers):
            problems += _from_layer_objects(config)
    problems += _from_regularization(config)

    if isinstance(config.get("activations"), list):
        config["activations"] = [
            canonical_name(a, ACTIVATIONS, ACTIVATION_ALIASES) for a in config["activations"]
        ]
    for key, (names, aliases) in NAMED.items():
        if key in config:
            config[key] = canonical_name(config[key], names, aliases)
    if "lr_schedule" in config:
        config["lr_schedule"] = normalise_lr_schedule(config["lr_schedule"])
    if "batch_schedule" in config:
        config["batch_schedule"] = normalise_batch_schedule(config["batch_schedule"])
    return config, problems


def canonical_key(key: Any) -> Any:
    if not isinstance(key, str):
        return key
    name = key.strip().lower().replace("-", "_")  # flags spell learning-rate
    name = _KEY_ALIASES.get(name, name)
    return name if name in KEYS or name in FILE_ONLY_KEYS else key


def derived(config: dict[str, Any]) -> None:
    """Fill the keys that follow from others when a config leaves them out:
    ``input_shape`` ([layers[0]] for sizes) and ``activations`` (none for
    layer objects). Configs and checkpoints from before input_shape load so."""
    layers = config.get("layers")
    if "input_shape" not in config:
        first = layers[0] if isinstance(layers, list) and layers else None
        if is_spec_list(layers):
            config["input_shape"] = default_input_shape(list(layers or []), IMAGE_SHAPE)
        elif not isinstance(first, int) or isinstance(first, bool):
            config["input_shape"] = list(DEFAULTS["input_shape"])
        else:
            config["input_shape"] = [first]
    if "activations" not in config and is_spec_list(layers):
        config["activations"] = None


def _split_list(text: str, kind: type) -> Any:
    stripped = text.strip()
    if stripped.startswith("["):  # a JSON list (layer objects on the command line)
        try:
            return json.loads(stripped)
        except (ValueError, RecursionError):  # the check reports the text as given
            return text
    try:
        return [kind(part.strip()) for part in text.split(",")]
    except ValueError:
        pass
    if kind is int:  # layers in the compact grammar: conv2d:32:3,maxpool2d:2,...
        layers = parse_compact(text)
        if layers is not None:
            return layers
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
        return [f'layers: mixes numbers and {{"nodes": N}} objects, got {show(layers)}']
    problems = []
    for i, layer in enumerate(layers):
        for key in layer:
            if key not in ("nodes", "activation"):
                problems.append(
                    f"layers[{i}]: unknown key {show(key)} (a layer object holds "
                    '"nodes" and "activation", or "type" and its fields)'
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
        return [f'regularization_type: expected "l1", "l2" or "none", got {show(kind)}']
    if rate is _MISSING or rate is None:
        log.info("regularization_type %s without regularization_rate: no regularization", name)
        return []
    if name in config and config[name] != rate:
        return [f"{name}: {show(config[name])} conflicts with regularization_rate {show(rate)}"]
    config[name] = rate
    return []


def resolve_mode(
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
    if not isinstance(mode, str):  # a list or object where a name belongs: the check says so
        return mode, level.get("batch_size", DEFAULTS["batch_size"]), []
    if mode == "mini-batch":
        if "batch_size" in level:
            return mode, level["batch_size"], []
        # a flag --mode mini-batch keeps a mini-batch file's size
        same = file_cfg.get("mode", "mini-batch") == "mini-batch"
        size = file_cfg.get("batch_size") if same else None
        return mode, size if size is not None else DEFAULTS["batch_size"], []
    if mode not in implied:
        return mode, level.get("batch_size", DEFAULTS["batch_size"]), []  # a check reports mode
    if "batch_size" in level and level["batch_size"] != implied[mode]:
        what = "batch size 1" if mode == "per-sample" else "the whole set, batch_size null"
        problem = (
            f"batch_size: {show(level['batch_size'])} conflicts with mode {show(mode)} "
            f"(which means {what})"
        )
        return mode, implied[mode], [problem]
    return mode, implied[mode], []

"""Schedule specs, read in one place: ``lr_schedule`` and ``batch_schedule``.

A spec arrives as a string (a flag: ``"step:10:0.5"``, ``"linear:8"``), a
dict (a config file) or null. ``normalise_*`` turn what can be read into the
canonical dict and keep the rest as given; ``*_problems`` list what is wrong
with a normalised spec (converting valid numbers to float in place);
``parse_*`` do both and raise one ConfigError, for callers that build the
schedule objects (gnet.optim, gnet.train).

Canonical forms::

    {"type": "step", "step_size": N, "gamma": G}     lr x G every N epochs
    {"type": "exponential", "gamma": G}              lr x G every epoch
    {"type": "cosine" | "linear", "min_lr": M}       down to M over the run
    {"type": "linear", "final": F}                   batch size to F over the run
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from .util import error, is_int, is_number, show, unknown_name

LR_SCHEDULES = ("step", "exponential", "cosine", "linear")
LR_SCHEDULE_KEYS = {
    "step": ("step_size", "gamma"),
    "exponential": ("gamma",),
    "cosine": ("min_lr",),
    "linear": ("min_lr",),
}
LR_SCHEDULE_FORMS = (
    'null, "step:STEP_SIZE:GAMMA", "exponential:GAMMA", "cosine", "cosine:MIN_LR", '
    '"linear", "linear:MIN_LR" or an object {"type": "step", "step_size": N, "gamma": G}'
)
MAX_STEP = 1 << 24
"""Largest step_size (epochs) of an lr_schedule and FINAL batch size of a batch_schedule."""
BATCH_SCHEDULE_FORMS = 'null, "linear:FINAL" or {"type": "linear", "final": FINAL}'


def _lower_keys(spec: dict[Any, Any]) -> dict[Any, Any]:
    out = {(k.strip().lower() if isinstance(k, str) else k): v for k, v in spec.items()}
    if isinstance(out.get("type"), str):
        out["type"] = out["type"].strip().lower()
    return out


def _is_null(text: str) -> bool:
    return text.strip().lower() in ("", "none", "null")


# ------------------------------------------------------------- learning rate


def normalise_lr_schedule(value: Any) -> Any:
    """The canonical dict for ``value``; None for null; unreadable values as given."""
    if isinstance(value, dict):
        spec = _lower_keys(value)
        if spec.get("type") in ("cosine", "linear"):
            spec.setdefault("min_lr", 0.0)
        return spec
    if not isinstance(value, str):
        return value
    if _is_null(value):
        return None
    kind, *args = [part.strip() for part in value.strip().lower().split(":")]
    try:
        if kind == "step" and len(args) == 2:
            return {"type": "step", "step_size": int(args[0]), "gamma": float(args[1])}
        if kind == "exponential" and len(args) == 1:
            return {"type": "exponential", "gamma": float(args[0])}
        if kind in ("cosine", "linear") and len(args) <= 1:
            return {"type": kind, "min_lr": float(args[0]) if args else 0.0}
    except ValueError:
        pass
    return value


def lr_schedule_problems(spec: Any, learning_rate: Any = None) -> list[str]:
    """What is wrong with a normalised ``spec`` (floats converted in place)."""
    if spec is None:
        return []
    if not isinstance(spec, dict):
        return [f"lr_schedule: expected {LR_SCHEDULE_FORMS}, got {show(spec)}"]
    kind = spec.get("type")
    if kind not in LR_SCHEDULES:
        return [unknown_name("lr_schedule type", kind, LR_SCHEDULES)]
    problems = []
    allowed = LR_SCHEDULE_KEYS[kind]
    for key in spec:
        if key != "type" and key not in allowed:
            problems.append(
                f"lr_schedule: unknown key {show(key)} for type {show(kind)} "
                f"(allowed: {', '.join(allowed)})"
            )
    for key in allowed:
        if key not in spec:
            problems.append(f"lr_schedule: type {show(kind)} needs {show(key)}")
    if "step_size" in spec and "step_size" in allowed and not is_int(spec["step_size"], 1):
        problems.append(
            f"lr_schedule: step_size must be an integer >= 1, got {show(spec['step_size'])}"
        )
    elif "step_size" in spec and "step_size" in allowed and spec["step_size"] > MAX_STEP:
        problems.append(
            f"lr_schedule: step_size {show(spec['step_size'])} is over the limit of {MAX_STEP}"
        )
    if "gamma" in spec and "gamma" in allowed:
        gamma = spec["gamma"]
        if not (is_number(gamma) and 0 < gamma <= 1):
            problems.append(f"lr_schedule: gamma must be in (0, 1], got {show(gamma)}")
        else:
            spec["gamma"] = float(gamma)
    if "min_lr" in spec and "min_lr" in allowed:
        low, lr = spec["min_lr"], learning_rate
        if not (is_number(low) and low >= 0):
            problems.append(f"lr_schedule: min_lr must be >= 0, got {show(low)}")
        elif is_number(lr) and lr > 0 and low > lr:
            problems.append(f"lr_schedule: min_lr {show(low)} is above learning_rate {show(lr)}")
        else:
            spec["min_lr"] = float(low)
    return problems


def parse_lr_schedule(value: Any, learning_rate: Any = None) -> dict[str, Any] | None:
    """The canonical dict (or None) for an ``lr_schedule`` value; ConfigError if invalid."""
    spec = normalise_lr_schedule(value)
    problems = lr_schedule_problems(spec, learning_rate)
    if problems:
        raise error(problems)
    return spec  # type: ignore[no-any-return]


# ---------------------------------------------------------------- batch size


def normalise_batch_schedule(value: Any) -> Any:
    """``"linear:8"`` -> ``{"type": "linear", "final": 8}``; null -> None; else as given."""
    if isinstance(value, dict):
        return _lower_keys(value)
    if not isinstance(value, str):
        return value
    if _is_null(value):
        return None
    kind, _, arg = (part.strip() for part in value.strip().lower().partition(":"))
    if kind == "linear" and arg.isdecimal() and arg.isascii():
        return {"type": "linear", "final": int(arg)}
    return value


def batch_schedule_problems(spec: Any, mode: Any = None) -> list[str]:
    """What is wrong with a normalised ``spec`` for a run in ``mode``."""
    if spec is None:
        return []
    if not (
        isinstance(spec, dict)
        and spec.get("type") == "linear"
        and set(spec) == {"type", "final"}
        and is_int(spec["final"], 1)
        and spec["final"] <= MAX_STEP
    ):
        return [
            f"batch_schedule: expected {BATCH_SCHEDULE_FORMS} (FINAL an integer from 1 to "
            f"{MAX_STEP}), "
            f"got {show(spec)}"
        ]
    if mode in ("per-sample", "full-batch"):
        return [
            f'batch_schedule: applies to mode "mini-batch" only, got mode {show(mode)} '
            "(give a batch_size, or --batch-schedule none)"
        ]
    return []


def parse_batch_schedule(value: Any, mode: Any = None) -> dict[str, Any] | None:
    """The canonical dict (or None) for a ``batch_schedule`` value; ConfigError if invalid."""
    spec = normalise_batch_schedule(value)
    problems = batch_schedule_problems(spec, mode)
    if problems:
        raise error(problems)
    return spec  # type: ignore[no-any-return]


__all__ = [
    "BATCH_SCHEDULE_FORMS",
    "LR_SCHEDULES",
    "LR_SCHEDULE_FORMS",
    "ConfigError",
    "batch_schedule_problems",
    "lr_schedule_problems",
    "normalise_batch_schedule",
    "normalise_lr_schedule",
    "parse_batch_schedule",
    "parse_lr_schedule",
]

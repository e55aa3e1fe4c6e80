"""Small helpers of the config package: value tests and the wording of problems."""

from __future__ import annotations

import difflib
import json
import math
from typing import Any

from ..errors import ConfigError


def is_int(value: Any, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def show(value: Any) -> str:
    """``value`` as it would look in the JSON file."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def json_type(value: Any) -> str:
    names = {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def canonical_name(value: Any, names: tuple[str, ...], aliases: dict[str, str]) -> Any:
    if not isinstance(value, str):
        return value
    name = value.strip().lower()
    name = aliases.get(name, name)
    return name if name in names else value


def unknown_name(
    key: str, value: Any, names: tuple[str, ...], aliases: dict[str, str] | None = None
) -> str:
    allowed = ", ".join(names)
    if not isinstance(value, str):
        return f"{key}: expected a name (one of {allowed}), got {show(value)}"
    candidates = list(names) + list(aliases or {})
    close = difflib.get_close_matches(value.strip().lower(), candidates, n=1, cutoff=0.6)
    hint = f"did you mean {show((aliases or {}).get(close[0], close[0]))}? " if close else ""
    return f"{key}: unknown {show(value)} ({hint}expected one of {allowed})"


def unknown_key(key: Any, known: tuple[str, ...]) -> str:
    text = f"unknown key {show(key)}"
    if isinstance(key, str):
        close = difflib.get_close_matches(key.lower(), known, n=1, cutoff=0.6)
        if close:
            return f"{text} (did you mean {show(close[0])}?)"
    return text


def error(problems: list[str], prefix: str = "") -> ConfigError:
    """One ConfigError listing every problem (``.problems`` holds them one by one)."""
    exc = ConfigError(f"{prefix}invalid configuration: " + "; ".join(problems))
    exc.problems = list(problems)  # type: ignore[attr-defined]  # shown one per line
    return exc

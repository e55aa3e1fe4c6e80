"""Limits on untrusted JSON, shared by config files and model-file metadata:
integer literals of bounded length (``json.loads(..., parse_int=...)``) and
lists and objects nested to a bounded depth, checked iteratively so a deep
document cannot exhaust the C stack."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def int_parser(max_digits: int) -> Callable[[str], int]:
    """A ``parse_int`` for ``json.loads`` that refuses integers of more than
    ``max_digits`` digits (int() of a huge literal is quadratic) with a ValueError."""

    def parse(digits: str) -> int:
        if len(digits.lstrip("-")) > max_digits:
            raise ValueError(f"integer of {len(digits)} digits (the limit is {max_digits})")
        return int(digits)

    return parse


def check_depth(value: Any, limit: int) -> None:
    """ValueError when lists and objects in ``value`` nest ``limit`` or more deep."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth >= limit:
                raise ValueError(f"nested deeper than {limit} levels")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))

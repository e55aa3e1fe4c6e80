"""Optional parts of gnet (plots, augmentation, the demo), imported on demand.

A part missing from an installation is one plain error, not a traceback in
the middle of a run: ``require`` checks before any work starts.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType


class MissingModule(ImportError):
    """An optional part of gnet is not installed."""


def require(module: str, feature: str) -> ModuleType:
    """``module`` imported, or MissingModule naming ``feature`` in one line."""
    if importlib.util.find_spec(module) is None:
        raise MissingModule(f"{feature} is not available: module {module} is missing in this gnet")
    return importlib.import_module(module)

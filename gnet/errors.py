"""Exceptions gnet raises.

Every error caused by what a user gave (a value, a file, a device name) is a
``GNetError`` and also a ``ValueError`` (or ``RuntimeError`` for a device that
is not there), so callers can catch either. The command line turns each into
one plain line and exit status 2.
"""


class GNetError(Exception):
    """Base class of the errors gnet raises for bad input."""


class ConfigError(GNetError, ValueError):
    """A configuration key or value is missing, unknown or out of range."""


class DataError(GNetError, ValueError):
    """A data file is missing, truncated, corrupted or inconsistent."""


class ModelFileError(GNetError, ValueError):
    """A model or checkpoint file cannot be read or is not a gnet model."""


class ImageError(GNetError, ValueError):
    """An image file cannot be read as an image."""


class DeviceError(GNetError, RuntimeError):
    """The requested device or array library is not available."""


class TrainingDiverged(GNetError, ArithmeticError):
    """The training loss became NaN or infinite."""

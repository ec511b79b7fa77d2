"""Exceptions raised by :mod:`dce_transforms`.

Every error the library raises on bad input is a :class:`DCEError` and also a
built-in :class:`ValueError` or :class:`TypeError`, so callers can catch either
the library's family or the standard one.
"""

from __future__ import annotations

__all__ = [
    "DCEError",
    "ImageDTypeError",
    "ImageShapeError",
    "ImageValueError",
    "DeviceError",
    "WeightsError",
    "ChecksumError",
    "ConfigError",
    "ConfigTypeError",
    "UsageError",
]


class DCEError(Exception):
    """Base class of every error raised by ``dce_transforms``."""


class ImageDTypeError(DCEError, TypeError):
    """The image tensor has a dtype the operation cannot use (e.g. ``uint8``)."""


class ImageShapeError(DCEError, ValueError):
    """The image tensor has the wrong number of dimensions or channels, or is empty."""


class DeviceError(ImageShapeError):
    """The image and the model are on different devices (e.g. a CUDA image, a CPU model).

    A :class:`ImageShapeError` too, which this mismatch raised before it had its own class, so
    existing ``except ImageShapeError`` clauses still catch it.
    """


class ImageValueError(DCEError, ValueError):
    """The image holds values the operation cannot use (NaN, infinity)."""


class WeightsError(DCEError, ValueError):
    """A checkpoint is missing, malformed or does not fit the model."""


class ChecksumError(WeightsError):
    """A checkpoint's sha256 does not match its registry entry."""


class ConfigError(DCEError, ValueError):
    """An option has a value the operation cannot use (e.g. ``iterations=0``, a misspelt ``form``)."""


class ConfigTypeError(DCEError, TypeError):
    """An argument has a type the operation cannot use (e.g. ``optimize()`` given a module that is not a
    ZeroDCE/ZeroDCEPP, a dtype that is not a floating one)."""


class UsageError(DCEError, ValueError):
    """A command-line tool was asked for something it cannot do (a bad option, a missing input, an
    unusable dataset description); the tools print the message and exit with status 2."""

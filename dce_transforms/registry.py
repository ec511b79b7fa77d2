"""Build models by name: :func:`get_model`, :func:`list_models`, :func:`list_weights`.

The torchvision/timm idiom: a model name (``"zero-dce"`` or ``"zero-dce++"``) and a weights name
(a registered entry, ``"default"``/``"DEFAULT"``, a path, or ``None``). A registered entry carries
the constructor arguments that belong to it (e.g. the ``*-adaptive`` entries' exposure gate).

Example:
    >>> from dce_transforms import get_model, list_models, list_weights
    >>> list_models()
    ['zero-dce', 'zero-dce++']
    >>> list_weights("zero-dce")[0]  # the default comes first
    'sice-v1-adaptive'
    >>> get_model("zero-dce++", weights=None, scale_factor=4).scale_factor
    4.0
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import ConfigError
from .models import WeightsArg, ZeroDCE, ZeroDCEPP, _CurveEstimator

__all__ = ["get_model", "list_models", "list_weights", "model_class"]

_MODELS: dict[str, type[_CurveEstimator]] = {"zero-dce": ZeroDCE, "zero-dce++": ZeroDCEPP}
_ALIASES = {"zerodce": "zero-dce", "zero_dce": "zero-dce", "zerodcepp": "zero-dce++", "zero_dce_pp": "zero-dce++",
            "zero-dce-pp": "zero-dce++", "zero_dce++": "zero-dce++", "zerodce++": "zero-dce++"}


def model_class(name: str) -> type[_CurveEstimator]:
    """The class behind a model name (case-insensitive; ``ZeroDCE``/``zero_dce_pp`` spellings accepted)."""
    if not isinstance(name, str):
        raise ConfigError(f"model name must be a string such as 'zero-dce' or 'zero-dce++', got {type(name).__name__}.")
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in _MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(list_models())}.")
    return _MODELS[key]


def list_models() -> list[str]:
    """Names accepted by :func:`get_model`."""
    return list(_MODELS)


def list_weights(name: str) -> list[str]:
    """Registered weights entries of a model, the default first."""
    cls = model_class(name)
    names = sorted(cls.weights_registry)
    if cls.default_weights in names:
        names.remove(cls.default_weights)
        names.insert(0, cls.default_weights)
    return names


def get_model(name: str, *, weights: WeightsArg = "default", **kwargs: Any) -> _CurveEstimator:
    """Build ``ZeroDCE`` or ``ZeroDCEPP`` by name.

    Args:
        name: ``"zero-dce"`` or ``"zero-dce++"``.
        weights: ``"default"`` (also ``"DEFAULT"``), a registered entry (:func:`list_weights`), a
            checkpoint path, or ``None`` for random initialisation.
        **kwargs: constructor arguments (``scale_factor``, ``curve_max_side``, ``exposure_gate``...).
    """
    cls = model_class(name)
    if isinstance(weights, str) and weights.upper() == "DEFAULT":
        weights = "default"
    ctor: Callable[..., _CurveEstimator] = cls  # the public subclasses take ``weights``; the base does not
    try:
        return ctor(weights=weights, **kwargs)
    except TypeError as exc:
        raise ConfigError(f"{cls.__name__} does not take these arguments ({exc}); see help({cls.__name__}).") from exc

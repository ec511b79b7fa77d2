"""dce_transforms: Zero-DCE low-light enhancement as a differentiable preprocessing step.

Importing this package loads only torch, numpy and the package itself; adapters for other
frameworks live in :mod:`dce_transforms.integrations` and are imported on demand.
"""

from __future__ import annotations

from . import curves, errors, losses, simulate
from ._weights import WeightsEntry, flush_denormals, load_state_dict, save_state_dict
from .curves import ApplyCurves, LECurve, apply_curves, le_curve
from .errors import (
    ChecksumError,
    ConfigError,
    ConfigTypeError,
    DCEError,
    DeviceError,
    ImageDTypeError,
    ImageShapeError,
    ImageValueError,
    WeightsError,
)
from .gate import ExposureGate, GateConfig
from .losses import ZeroReferenceLoss, zero_reference_loss
from .models import ZeroDCE, ZeroDCEPP
from .registry import get_model, list_models, list_weights
from .simulate import darken, simulate_low_light

__version__ = "0.1.0"

__all__ = [
    "ApplyCurves",
    "ChecksumError",
    "ConfigError",
    "ConfigTypeError",
    "DCEError",
    "DeviceError",
    "ExposureGate",
    "GateConfig",
    "ImageDTypeError",
    "ImageShapeError",
    "ImageValueError",
    "LECurve",
    "WeightsEntry",
    "WeightsError",
    "ZeroDCE",
    "ZeroDCEPP",
    "ZeroReferenceLoss",
    "__version__",
    "apply_curves",
    "curves",
    "darken",
    "errors",
    "flush_denormals",
    "get_model",
    "le_curve",
    "list_models",
    "list_weights",
    "load_state_dict",
    "losses",
    "save_state_dict",
    "simulate",
    "simulate_low_light",
    "zero_reference_loss",
]

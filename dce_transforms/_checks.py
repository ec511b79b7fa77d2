"""Input contract of every image operation: ``(B, 3, H, W)`` or ``(3, H, W)``, float, in [0, 1]."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .errors import ImageDTypeError, ImageShapeError, ImageValueError

__all__ = ["check_image", "check_values_once", "is_tracing"]

# Values a little outside [0, 1] come from resampling or half precision and are tolerated.
_RANGE_SLACK = 1e-3


def is_tracing() -> bool:
    """True while torch.compile, torch.export, ONNX export or TorchScript traces the code."""
    if torch.jit.is_tracing() or torch.jit.is_scripting():
        return True
    compiler = getattr(torch, "compiler", None)
    if compiler is None:
        return False
    if compiler.is_compiling():
        return True
    is_exporting = getattr(compiler, "is_exporting", None)
    return bool(is_exporting()) if is_exporting is not None else False


def check_values_once(x: Tensor, *, name: str = "image") -> None:
    """Reject NaN, infinity and values outside [0, 1] with one read-back to the host (one GPU sync).

    ``aminmax`` propagates NaN to both extremes, and ±inf is out of range, so the two extremes
    decide everything: no separate ``isfinite`` pass (which would be a second sync).
    """
    with torch.no_grad():
        lo, hi = torch.aminmax(x.detach())
        lo_f, hi_f = (float(v) for v in torch.stack([lo, hi]).float().cpu())
    if math.isnan(lo_f) or math.isnan(hi_f) or math.isinf(lo_f) or math.isinf(hi_f):
        raise ImageValueError(
            f"{name} holds NaN or infinite values. Clean it first, e.g. `torch.nan_to_num(x).clamp(0, 1)`."
        )
    if lo_f < -_RANGE_SLACK or hi_f > 1 + _RANGE_SLACK:
        hint = " It looks like a 0-255 image: divide it by 255." if hi_f > 2 else " Clamp it with `x.clamp(0, 1)`."
        raise ImageValueError(f"{name} must hold values in [0, 1], found [{lo_f:.4g}, {hi_f:.4g}].{hint}")


def check_image(x: object, *, name: str = "image", check_values: bool = True) -> tuple[Tensor, bool]:
    """Validate an image tensor and return it batched.

    Args:
        x: the image, ``(B, 3, H, W)`` or ``(3, H, W)``, floating point, values in [0, 1].
        name: what to call the argument in error messages.
        check_values: also reject NaN, infinity and values outside [0, 1] (:func:`check_values_once`:
            one read-back to the host, a GPU sync; build models with ``validate=False`` to avoid it in
            GPU pipelines whose inputs are known to be good). Skipped while the code is being traced.

    Returns:
        ``(x4, unbatched)``: the image as ``(B, 3, H, W)`` and whether a batch dimension was added.

    Raises:
        ImageDTypeError: not a tensor, or not floating point.
        ImageShapeError: wrong number of dimensions or channels, or an empty tensor.
        ImageValueError: NaN, infinity, or values outside [0, 1].
    """
    if not isinstance(x, Tensor):
        raise ImageDTypeError(
            f"{name} must be a torch.Tensor of shape (B, 3, H, W) or (3, H, W), got {type(x).__name__}. "
            "Convert a NumPy HWC uint8 array with `torch.from_numpy(a).permute(2, 0, 1).float() / 255`, "
            "or use dce_transforms.transforms.Enhance, which accepts PIL images and arrays."
        )
    if not x.is_floating_point():
        raise ImageDTypeError(
            f"{name} must be floating point with values in [0, 1], got dtype {x.dtype}. "
            "Convert it with `x.float() / 255` (for uint8 images)."
        )
    if x.ndim == 3:
        x4, unbatched = x.unsqueeze(0), True
    elif x.ndim == 4:
        x4, unbatched = x, False
    else:
        raise ImageShapeError(
            f"{name} must have shape (B, 3, H, W) or (3, H, W), got {tuple(x.shape)}. "
            "For an HWC array use `x.permute(2, 0, 1)`; for a batch of frames stack them on dim 0."
        )
    if x4.shape[1] != 3:
        hint = (
            "Repeat a grayscale channel with `x.expand(-1, 3, -1, -1)`"
            if x4.shape[1] == 1
            else "Drop an alpha channel with `x[:, :3]`"
            if x4.shape[1] == 4
            else "Channels go on dim -3: for channels-last data use `x.permute(0, 3, 1, 2)`"
        )
        raise ImageShapeError(f"{name} must have 3 (RGB) channels on dim -3, got shape {tuple(x.shape)}. {hint}.")
    if x4.numel() == 0:
        raise ImageShapeError(f"{name} is empty (shape {tuple(x.shape)}): every dimension must be at least 1.")
    if check_values and not is_tracing():
        if x4.device.type == "meta":
            raise ImageDTypeError(
                f"{name} is a meta tensor (no data), so its values cannot be checked: create it on a real "
                "device, or build the model with validate=False for shape-only runs."
            )
        check_values_once(x4, name=name)
    return x4, unbatched

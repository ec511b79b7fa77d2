"""Image-type conversion in one place: pixel types, layouts, channel orders, PIL modes, one rounding rule.

Every tool, transform and picture of the library converts images with these functions:

- pixel types: uint8 (0-255) and uint16 (0-65535) values are divided by the type's largest value to
  give float in [0, 1] (:func:`to_unit_float`, :func:`image_to_tensor`); floats are turned back into
  integers by the rounding rule below (:func:`quantize`, :func:`quantize_array`, :func:`tensor_to_image`,
  :func:`to_uint8`);
- layouts: NumPy arrays are channels-last (``HW``, ``HWC``, ``NHWC``), tensors channels-first
  (``CHW``, ``BCHW``) (:func:`array_to_batch`, :func:`batch_to_array`, :func:`image_to_tensor`,
  :func:`tensor_to_image`);
- channels: gray, gray + alpha, RGB, RGBA and their BGR orders to an RGB batch and back
  (:func:`to_rgb`): gray is replicated to RGB and converted back with the ITU-R 601 luma weights
  (:data:`LUMA`), an alpha channel is kept unchanged;
- PIL images: the modes that round-trip through an array (:func:`pil_to_array`); a PIL image is
  recognised only when PIL is already loaded (:func:`is_pil`).

Rounding rule: every float → integer conversion clamps to [0, 1], multiplies by the integer type's
largest value and rounds half up, ``floor(v * scale + 0.5)``: 0.5 becomes 128 in uint8, and a value
exactly halfway between two levels goes to the upper one. It is the rule the written files
(:func:`dce_transforms.io.write_image`, the command-line tools) and the pictures of
:mod:`dce_transforms.viz` have always used; the pipeline transforms used to round exact ties to the
even level (``torch.round``) and now round them up too, which moves such a tie by one level (for the
shipped models about 1 uint8 value in 100,000 and 1 uint16 value in 700; nothing else changes).

This module imports neither OpenCV nor PIL.

Example:
    >>> import numpy as np, torch
    >>> x, back = to_unit_float(torch.tensor([[[0, 128, 255]]], dtype=torch.uint8))
    >>> x.tolist(), back(x).tolist()
    ([[[0.0, 0.501960813999176, 1.0]]], [[[0, 128, 255]]])
    >>> quantize_array(np.array([0.0, 0.5, 1.0, 2.0], np.float32)).tolist()
    [0, 128, 255, 255]
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .errors import ImageDTypeError, ImageShapeError

__all__ = [
    "LUMA",
    "PIL_MODES",
    "is_pil",
    "to_unit_float",
    "quantize",
    "quantize_array",
    "to_rgb",
    "array_to_batch",
    "batch_to_array",
    "pil_to_array",
    "image_to_tensor",
    "tensor_to_image",
    "to_uint8",
]

#: ITU-R BT.601 luma weights (R, G, B): RGB back to one gray channel.
LUMA = (0.299, 0.587, 0.114)

#: The PIL modes :func:`pil_to_array` converts (every other mode raises).
PIL_MODES = "RGB, RGBA, L, LA, I;16, I;16L, I;16B, I (values 0-65535), F (values in [0, 1]), P, PA"

_TORCH_SCALES = {torch.uint8: 255.0, torch.uint16: 65535.0}


def is_pil(img: object) -> bool:
    """True for a PIL image; never imports PIL (an image exists only once PIL is loaded)."""
    pil = sys.modules.get("PIL.Image")
    return pil is not None and isinstance(img, pil.Image)


def _round_half_up(x: Tensor, scale: float) -> Tensor:
    """The rounding rule: ``floor(clamp(x, 0, 1) * scale + 0.5)``, detached, still a float tensor."""
    return x.detach().clamp(0, 1).mul(scale).add_(0.5).floor_()


def quantize(x: Tensor, dtype: torch.dtype = torch.uint8) -> Tensor:
    """A float tensor in [0, 1] as uint8 or uint16 (clamped, scaled, rounded half up; no gradient).

    Example:
        >>> quantize(torch.tensor([0.0, 0.5, 1.0, 1.5])).tolist()
        [0, 128, 255, 255]
    """
    if dtype not in _TORCH_SCALES:
        raise ImageDTypeError(f"quantize converts to torch.uint8 or torch.uint16, got {dtype}.")
    return _round_half_up(x, _TORCH_SCALES[dtype]).to(dtype)


def quantize_array(a: np.ndarray, dtype: np.dtype | type = np.uint8) -> np.ndarray:
    """A float array in [0, 1] as ``dtype`` (uint16: 0-65535; any other: 0-255), rounded half up.

    The arithmetic runs in the array's own float type (cast it first to choose another).
    """
    scale = 65535.0 if np.dtype(dtype) == np.uint16 else 255.0
    return (np.clip(a, 0, 1) * scale + 0.5).astype(dtype)


def to_unit_float(t: Tensor) -> tuple[Tensor, Callable[[Tensor], Tensor]]:
    """Integer or float tensor to float in [0, 1], and the function that converts a result back.

    Float tensors pass through (the way back restores their dtype and keeps gradients); uint8 and
    uint16 are divided by 255 / 65535 and come back by :func:`quantize`.

    Raises:
        ImageDTypeError: any other dtype.
    """
    if t.is_floating_point():
        dtype = t.dtype
        return t, lambda y: y.to(dtype)
    if t.dtype not in _TORCH_SCALES:
        raise ImageDTypeError(
            f"images must be float in [0, 1], uint8 or uint16, got dtype {t.dtype}. "
            "Convert it with `x.float() / x.max()` or to uint8 first."
        )
    dtype = t.dtype
    return t.float() / _TORCH_SCALES[dtype], lambda y: quantize(y, dtype)


def to_rgb(x: Tensor, *, bgr: bool = False) -> tuple[Tensor, Callable[[Tensor], Tensor]]:
    """``(B, C, H, W)`` with C in {1, 2, 3, 4} to RGB ``(B, 3, H, W)``, and the function that converts back.

    Gray (and gray + alpha) is replicated to three channels and converted back with :data:`LUMA`; an
    alpha channel is set aside and put back unchanged; ``bgr=True`` reads and writes BGR(A) order.

    Raises:
        ImageShapeError: another channel count.
    """
    c = x.shape[1]
    if c == 3:
        rgb, extra = x, None
    elif c == 4:
        rgb, extra = x[:, :3], x[:, 3:]
    elif c in (1, 2):
        rgb, extra = x[:, :1].expand(-1, 3, -1, -1), (x[:, 1:] if c == 2 else None)
    else:
        raise ImageShapeError(
            f"images must have 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA) channels, got {c} in shape "
            f"{tuple(x.shape)}. "
            "Tensors are channels-first (C, H, W); arrays are channels-last (H, W, C)."
        )
    if bgr and c > 2:
        rgb = rgb.flip(1)

    def back(y: Tensor) -> Tensor:
        if c in (1, 2):
            w = torch.tensor(LUMA, dtype=y.dtype, device=y.device).view(1, 3, 1, 1)
            gray = (y * w).sum(1, keepdim=True).clamp(0, 1)
            return gray if extra is None else torch.cat([gray, extra.to(gray.dtype)], 1)
        if bgr:
            y = y.flip(1)
        return y if extra is None else torch.cat([y, extra.to(y.dtype)], 1)

    return rgb, back


def array_to_batch(img: np.ndarray) -> Tensor:
    """An ``HW``, ``HWC`` or ``NHWC`` array as an ``(N, C, H, W)`` tensor of its dtype (float16/64: float32).

    The tensor shares the array's memory where it can (a read-only or non-native byte-order array
    is copied first).

    Raises:
        ImageShapeError: another number of dimensions.
    """
    src = np.ascontiguousarray(img) if img.flags.writeable else np.array(img)  # torch wants writable memory
    if not src.dtype.isnative:  # big-endian data (PIL I;16B, FITS...): torch reads native byte order only
        src = src.astype(src.dtype.newbyteorder("="))
    if img.ndim == 2:
        t = torch.from_numpy(src)[None, None]
    elif img.ndim == 3:
        t = torch.from_numpy(src).permute(2, 0, 1)[None]
    elif img.ndim == 4:
        t = torch.from_numpy(src).permute(0, 3, 1, 2)
    else:
        raise ImageShapeError(
            f"image arrays must be (H, W), (H, W, C) or (N, H, W, C), got shape {img.shape}. "
            "For a channels-first array use `np.moveaxis(a, 0, -1)`."
        )
    if img.dtype == np.float64 or img.dtype == np.float16:
        t = t.float()
    return t


def batch_to_array(t: Tensor, like: np.ndarray) -> np.ndarray:
    """The inverse of :func:`array_to_batch`: ``(N, C, H, W)`` back to the layout and dtype of ``like``."""
    if like.ndim == 2:
        arr = t[0, 0]
    elif like.ndim == 3:
        arr = t[0].permute(1, 2, 0)
    else:
        arr = t.permute(0, 2, 3, 1)
    return np.ascontiguousarray(arr.detach().cpu().numpy()).astype(like.dtype, copy=False)


def pil_to_array(img: Any) -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    """A PIL image as an array (uint8, uint16 or float32, ``HW`` or ``HWC``), and the way back to PIL.

    Modes RGB, RGBA, L, LA, I;16* and F convert as they are; mode I (32-bit integers, as PNG 16-bit
    files and ``convert("I")`` give) is read as uint16; P and PA are converted to RGB(A) and the way
    back re-quantises to an adaptive palette of up to 256 colours, keeping transparency.

    Raises:
        ImageDTypeError: another mode (it does not round-trip through RGB), or a mode I image with
            values outside 0-65535.
    """
    from PIL import Image  # noqa: PLC0415 - only reached when PIL is already loaded

    mode = img.mode
    if mode in ("RGB", "L", "RGBA", "LA", "I;16", "I;16L", "I;16B", "F"):
        return np.asarray(img), Image.fromarray
    if mode == "I":  # 32-bit integers: PNG 16-bit files and `convert("I")` give 0-65535
        a = np.asarray(img)
        if a.size and (int(a.min()) < 0 or int(a.max()) > 65535):
            raise ImageDTypeError(
                f"PIL mode 'I' image holds values in [{int(a.min())}, {int(a.max())}], outside the 16-bit range "
                "0-65535 this transform reads it as: rescale it, e.g. `img.point(lambda v: v / 256)`, or pass a "
                "float array in [0, 1]."
            )
        return a.astype(np.uint16), lambda out: Image.fromarray(out.astype(np.int32))
    if mode in ("P", "PA"):
        # the enhanced colours are new: re-quantise to an adaptive palette, keeping transparency in it
        alpha = mode == "PA" or "transparency" in img.info
        work = img.convert("RGBA" if alpha else "RGB")
        method = Image.Quantize.FASTOCTREE if alpha else Image.Quantize.MEDIANCUT
        return np.asarray(work), lambda out: Image.fromarray(out).quantize(colors=256, method=method)
    raise ImageDTypeError(
        f"PIL mode {mode!r} is not supported: it does not round-trip through RGB unchanged. Supported modes: "
        f"{PIL_MODES}. Convert it first, e.g. `img.convert('RGB')`."
    )


def image_to_tensor(img: np.ndarray) -> Tensor:
    """RGB ``HWC`` uint8/uint16/float array to a float32 ``(3, H, W)`` tensor in [0, 1]."""
    scale = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(img.dtype, 1.0)
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float().div_(scale).clamp_(0, 1)


def tensor_to_image(t: Tensor, dtype: np.dtype | type = np.uint8) -> np.ndarray:
    """``(C, H, W)`` tensor in [0, 1] to an ``HWC`` array of ``dtype`` (uint8 or uint16 rounded half up; float32)."""
    if np.dtype(dtype).kind == "f":
        return t.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy().astype(np.float32)
    scale = 65535.0 if np.dtype(dtype) == np.uint16 else 255.0
    return _round_half_up(t.float(), scale).permute(1, 2, 0).cpu().numpy().astype(dtype)


def to_uint8(img: np.ndarray | Tensor) -> np.ndarray:
    """Convert an image to an RGB ``HWC`` uint8 array.

    Args:
        img: ``HWC``/``HW`` NumPy array (uint8, uint16, or float in [0, 1]) or a tensor
            ``(3, H, W)``/``(1, 3, H, W)``/``(1, H, W)`` float in [0, 1].

    Returns:
        ``(H, W, 3)`` uint8 array.

    Raises:
        ImageShapeError: a batch of more than one image, or another shape or channel count.

    Example:
        >>> to_uint8(np.full((2, 2), 65535, np.uint16))[0, 0].tolist()
        [255, 255, 255]
        >>> to_uint8(torch.full((3, 1, 1), 0.5)).tolist()
        [[[128, 128, 128]]]
    """
    if isinstance(img, Tensor):
        t = img.detach()
        if t.ndim == 4:
            if t.shape[0] != 1:
                raise ImageShapeError(
                    f"expected a single image, got a batch of shape {tuple(t.shape)}; index it first."
                )
            t = t[0]
        if t.ndim != 3 or t.shape[0] not in (1, 3):
            raise ImageShapeError(f"expected a (3, H, W) tensor, got shape {tuple(t.shape)}.")
        img = tensor_to_image(t, np.uint8)
    arr = np.asarray(img)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise ImageShapeError(f"expected an HWC image with 1, 3 or 4 channels, got shape {arr.shape}.")
    arr = arr[:, :, :3]
    if arr.dtype == np.uint16:
        arr = (arr.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)  # 65535 / 257 = 255, halves up
    elif arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255
    elif arr.dtype != np.uint8:  # floating point (or other integers) taken as values in [0, 1]
        arr = quantize_array(arr.astype(np.float32))
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr)

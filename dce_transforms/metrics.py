"""Image-quality figures for low-light enhancement, with and without a reference image.

No-reference figures (for real low-light photos, which have no ground truth):

* **mean exposure**: mean of all pixels and channels, and its absolute error from the
  well-exposedness level 0.6 that Zero-DCE's exposure loss aims at;
* the four **zero-reference loss terms** of :mod:`dce_transforms.losses` (authors' form),
  unweighted and weighted as in training (spa 1, exp 10, col 5, TV 200 or 1600);
* **lightness-order error** (LOE, Wang et al. 2013), see :func:`lightness_order_error`;
* **colourfulness** (Hasler & Süsstrunk 2003), see :func:`colorfulness`.

Full-reference figures (for pairs): PSNR and SSIM, computed by :func:`kornia.metrics.psnr` and
:func:`kornia.metrics.ssim` (data range 1, SSIM window 11, averaged over pixels and channels).

Every function takes ``(B, 3, H, W)`` or ``(3, H, W)`` float images in [0, 1] and returns
one value per image, shape ``(B,)``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ._checks import check_image
from .errors import ConfigError, ImageShapeError
from .losses import zero_reference_loss

__all__ = [
    "WELL_EXPOSED",
    "mean_exposure",
    "exposure_error",
    "loss_terms",
    "lightness_order_error",
    "colorfulness",
    "psnr",
    "ssim",
    "score",
]

#: The well-exposedness level E of Zero-DCE's exposure loss.
WELL_EXPOSED = 0.6


def _batched(x: Tensor, name: str) -> Tensor:
    return check_image(x, name=name)[0]


def _same_shape(a: Tensor, b: Tensor, names: str) -> None:
    if a.shape != b.shape:
        raise ImageShapeError(
            f"{names} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}; "
            "resize one to the other first."
        )


def mean_exposure(img: Tensor) -> Tensor:
    """Mean intensity over pixels and channels.

    Example:
        >>> mean_exposure(torch.full((2, 3, 4, 4), 0.25))
        tensor([0.2500, 0.2500])
    """
    return _batched(img, "img").float().mean((1, 2, 3))


def exposure_error(img: Tensor, *, target: float = WELL_EXPOSED) -> Tensor:
    """Absolute difference between the mean intensity and ``target`` (0.6, Zero-DCE's E).

    Example:
        >>> exposure_error(torch.full((3, 8, 8), 0.1))
        tensor([0.5000])
    """
    return (mean_exposure(img) - target).abs()


def loss_terms(enhanced: Tensor, original: Tensor, alpha: Tensor | None = None) -> dict[str, Tensor]:
    """The four zero-reference loss terms, per image, unweighted and weighted.

    Uses the authors' form and weights of :func:`dce_transforms.losses.zero_reference_loss`
    (TV weight 200 for per-iteration maps, 1600 for a shared 3-channel map).

    Args:
        enhanced: the enhanced images ``(B, 3, H, W)`` (at least 16×16).
        original: the inputs.
        alpha: the curve maps that produced ``enhanced``; ``None`` for an enhancer without curves
            (the TV term is then 0).

    Returns:
        ``{"spa", "exp", "col", "tv"}`` unweighted, ``{"spa_w", "exp_w", "col_w", "tv_w"}`` weighted,
        and ``"loss"`` (the weighted sum), each of shape ``(B,)``.

    Example:
        >>> x = torch.full((1, 3, 16, 16), 0.6)
        >>> t = loss_terms(x, x)
        >>> sorted(t), round(float(t["loss"][0]), 6)
        (['col', 'col_w', 'exp', 'exp_w', 'loss', 'spa', 'spa_w', 'tv', 'tv_w'], 0.0)
    """
    e, o = _batched(enhanced, "enhanced"), _batched(original, "original")
    _same_shape(e, o, "enhanced and original")
    if alpha is None:
        alpha = e.new_zeros(e.shape[0], 3, *e.shape[-2:])
    elif alpha.ndim == 3:
        alpha = alpha.unsqueeze(0)
    unit: dict[str, Any] = dict(spa_weight=1.0, exp_weight=1.0, col_weight=1.0, tv_weight=1.0)
    rows: list[dict[str, Tensor]] = []
    with torch.no_grad():
        for i in range(e.shape[0]):
            ei, oi, ai = e[i : i + 1], o[i : i + 1], alpha[i : i + 1]
            _, raw = zero_reference_loss(ei, oi, ai, **unit)
            total, weighted = zero_reference_loss(ei, oi, ai)
            row = {k: v.float() for k, v in raw.items()}
            row.update({f"{k}_w": v.float() for k, v in weighted.items()})
            row["loss"] = total.float()
            rows.append(row)
    return {k: torch.stack([r[k] for r in rows]).cpu() for k in rows[0]}


def _lightness_small(x: Tensor, size: int) -> Tensor:
    """``max(R, G, B)`` down-sampled (area-weighted) so that the longer side is at most ``size``."""
    light = x.float().amax(1, keepdim=True)
    h, w = light.shape[-2:]
    if max(h, w) > size:
        r = size / max(h, w)
        light = F.interpolate(light, size=(max(1, round(h * r)), max(1, round(w * r))), mode="area")
    return light.flatten(1)


def lightness_order_error(enhanced: Tensor, original: Tensor, *, size: int = 100, chunk: int = 2048) -> Tensor:
    """Lightness-order error (LOE) between an enhanced image and its input.

    Definition used here (Wang, Zheng, Hu, Li, TIP 2013, with the customary down-sampling):

    1. lightness ``L = max(R, G, B)`` of each image;
    2. both lightness maps are down-sampled with area averaging so that the longer side is
       ``size`` pixels (100 by default; images already smaller are kept), giving ``m`` pixels;
    3. ``LOE = (1/m) Σ_i Σ_j [ (L_i ≥ L_j) XOR (L'_i ≥ L'_j) ]`` over all ordered pixel pairs,
       ``L`` of the input and ``L'`` of the enhanced image.

    It counts, per pixel, how many other pixels changed their lightness order, so it lies in
    ``[0, m]``; lower is better and the identity scores 0. Values depend on ``size`` (on ``m``):
    compare LOE only between runs with the same ``size``.

    Args:
        enhanced, original: images of the same shape.
        size: longer side after down-sampling.
        chunk: rows of the pair matrix compared at once (memory ``chunk·m`` booleans).

    Returns:
        LOE per image, shape ``(B,)``.

    Example:
        >>> x = torch.rand(1, 3, 30, 40)
        >>> lightness_order_error(x, x.sqrt())  # a monotone curve keeps the order
        tensor([0.])
        >>> lightness_order_error(1 - x, x) > 0
        tensor([True])

    Reference:
        Wang, Zheng, Hu, Li, "Naturalness Preserved Enhancement Algorithm for Non-Uniform
        Illumination Images", IEEE TIP 22(9), 2013.
    """
    e, o = _batched(enhanced, "enhanced"), _batched(original, "original")
    _same_shape(e, o, "enhanced and original")
    if size < 2:
        raise ConfigError(f"size must be at least 2, got {size}.")
    le, lo = _lightness_small(e, size), _lightness_small(o, size)
    m = le.shape[1]
    out = []
    for b in range(le.shape[0]):
        count = torch.zeros((), dtype=torch.float64)
        for s in range(0, m, chunk):
            a = le[b, s : s + chunk, None] >= le[b, None, :]
            c = lo[b, s : s + chunk, None] >= lo[b, None, :]
            count += (a ^ c).sum(dtype=torch.float64)
        out.append(count / m)
    return torch.stack(out).float()


def colorfulness(img: Tensor) -> Tensor:
    """Colourfulness of Hasler & Süsstrunk (2003), on the 0-255 scale.

    With ``rg = R − G`` and ``yb = (R + G)/2 − B`` over all pixels (values × 255),
    ``M = sqrt(σ_rg² + σ_yb²) + 0.3·sqrt(μ_rg² + μ_yb²)`` (population standard deviations).
    Grey images score 0; the authors call about 33 "moderately", 45 "averagely" and 59 "quite" colourful.

    Example:
        >>> colorfulness(torch.full((3, 8, 8), 0.4))
        tensor([0.])

    Reference:
        Hasler, Süsstrunk, "Measuring colourfulness in natural images", Proc. SPIE 5007, 2003.
    """
    x = _batched(img, "img").float() * 255.0
    r, g, b = x[:, 0].flatten(1), x[:, 1].flatten(1), x[:, 2].flatten(1)
    rg, yb = r - g, 0.5 * (r + g) - b
    sd = torch.sqrt(rg.var(1, unbiased=False) + yb.var(1, unbiased=False))
    mu = torch.sqrt(rg.mean(1) ** 2 + yb.mean(1) ** 2)
    return sd + 0.3 * mu


def psnr(img: Tensor, reference: Tensor) -> Tensor:
    """Peak signal-to-noise ratio in dB (data range 1) per image, via :func:`kornia.metrics.psnr`.

    Identical images give ``inf``.

    Example:
        >>> x = torch.full((1, 3, 8, 8), 0.5)
        >>> psnr(x + 0.1, x)
        tensor([20.0000])
    """
    from kornia.metrics import psnr as _psnr  # noqa: PLC0415 - kornia is loaded when a metric is computed

    a, b = _batched(img, "img"), _batched(reference, "reference")
    _same_shape(a, b, "img and reference")
    with torch.no_grad():
        return torch.stack([_psnr(a[i].float(), b[i].float(), 1.0) for i in range(a.shape[0])]).cpu()


def ssim(img: Tensor, reference: Tensor, *, window_size: int = 11) -> Tensor:
    """Structural similarity per image (mean of the SSIM map), via :func:`kornia.metrics.ssim`.

    Example:
        >>> x = torch.rand(1, 3, 16, 16)
        >>> round(float(ssim(x, x)[0]), 4)
        1.0
    """
    from kornia.metrics import ssim as _ssim  # noqa: PLC0415

    a, b = _batched(img, "img"), _batched(reference, "reference")
    _same_shape(a, b, "img and reference")
    with torch.no_grad():
        return _ssim(a.float(), b.float(), window_size, max_val=1.0).mean((1, 2, 3)).cpu()


def score(
    enhanced: Tensor,
    original: Tensor,
    alpha: Tensor | None = None,
    *,
    reference: Tensor | None = None,
    loe_size: int = 100,
) -> dict[str, float]:
    """All figures for one image, as plain floats.

    Args:
        enhanced: ``(3, H, W)`` or ``(1, 3, H, W)`` enhanced image.
        original: the enhancer's input.
        alpha: the curve maps (``None`` for an enhancer without curves).
        reference: the well-exposed ground truth, for ``psnr`` and ``ssim``.
        loe_size: down-sampled longer side for :func:`lightness_order_error`.

    Returns:
        ``exposure``, ``exposure_error``, the entries of :func:`loss_terms`, ``loe``,
        ``colorfulness``, and with a reference ``psnr`` and ``ssim``.

    Example:
        >>> x = torch.rand(3, 16, 16)
        >>> s = score(x, x, reference=x)
        >>> s["loe"], s["psnr"], round(s["ssim"], 4)
        (0.0, inf, 1.0)
    """
    e, o = _batched(enhanced, "enhanced"), _batched(original, "original")
    if e.shape[0] != 1:
        raise ImageShapeError(f"score takes one image, got a batch of {e.shape[0]}; call it per image.")
    out: dict[str, float] = {
        "exposure": float(mean_exposure(e)[0]),
        "exposure_error": float(exposure_error(e)[0]),
    }
    out.update({k: float(v[0]) for k, v in loss_terms(e, o, alpha).items()})
    out["loe"] = float(lightness_order_error(e, o, size=loe_size)[0])
    out["colorfulness"] = float(colorfulness(e)[0])
    if reference is not None:
        out["psnr"] = float(psnr(e, reference)[0])
        out["ssim"] = float(ssim(e, reference)[0])
    return out

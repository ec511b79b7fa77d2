"""The four zero-reference losses of Zero-DCE, in functional and module form.

Defaults reproduce the authors' released training code, which differs from the paper's
equations in places; ``form="paper"`` selects the equations as printed:

============================  ====================================  =====================================
term                          ``form="authors"`` (default)          ``form="paper"``
============================  ====================================  =====================================
spatial consistency (Eq. 4)   ``(ΔI − ΔY)²`` of 4×4 region means;   ``(|ΔY| − |ΔI|)²``, interior
                              image border compared with zeros      neighbours only
exposure control (Eq. 5)      ``(Y_k − E)²`` over 16×16 regions     ``|Y_k − E|``
colour constancy (Eq. 6)      ``sqrt(Σ ((J^p − J^q)²)²)``           ``Σ (J^p − J^q)²``
illumination smoothness (7)   ``2·(Σ(∂_y A)²/((H−1)W) +             ``mean_n Σ_c (|∂_x A| + |∂_y A|)²``
                              Σ(∂_x A)²/(H(W−1)))``, per image      averaged over pixels
============================  ====================================  =====================================

The authors weight them spa 1, exp 10, col 5 and TV 200 (Zero-DCE) or 1600 (Zero-DCE++).
All losses compute in float32 (float64 stays float64) even under autocast, and accept an
optional ``mask`` of shape ``(B, 1, H, W)`` (1 = valid pixel, 0 = ignore, e.g. letterbox padding).

Reference:
    Guo et al., "Zero-Reference Deep Curve Estimation for Low-Light Image Enhancement", CVPR 2020, Sec. 3.3.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .errors import ConfigError, ImageShapeError

__all__ = [
    "spatial_consistency_loss",
    "exposure_control_loss",
    "color_constancy_loss",
    "illumination_smoothness_loss",
    "zero_reference_loss",
    "authors_tv_weight",
    "AUTHORS_TV_WEIGHT",
    "SpatialConsistencyLoss",
    "ExposureControlLoss",
    "ColorConstancyLoss",
    "IlluminationSmoothnessLoss",
    "ZeroReferenceLoss",
    "Form",
]

Form = Literal["authors", "paper"]
_EPS = 1e-6


def _check_form(form: str) -> None:
    if form not in ("authors", "paper"):
        raise ConfigError(
            f"form must be 'authors' (the released code) or 'paper' (the printed equations), got {form!r}."
        )


def _f32(t: Tensor) -> Tensor:
    return t if t.dtype == torch.float64 else t.float()


def _no_autocast(t: Tensor):
    dev = t.device.type
    return torch.autocast(dev, enabled=False) if torch.is_autocast_enabled(dev) else nullcontext()


def _check_pair(name: str, x: Tensor, patch: int, mask: Tensor | None) -> None:
    if x.ndim != 4:
        raise ImageShapeError(
            f"{name} expects (B, C, H, W) images, got shape {tuple(x.shape)}; add a batch dimension with `x[None]`."
        )
    if x.shape[-2] < patch or x.shape[-1] < patch:
        raise ImageShapeError(
            f"{name} pools {patch}×{patch} regions, so images must be at least {patch}×{patch}; got "
            f"{tuple(x.shape[-2:])}. Use a larger crop or a smaller patch_size."
        )
    if mask is not None and (mask.ndim != 4 or mask.shape[1] != 1 or mask.shape[-2:] != x.shape[-2:]):
        raise ImageShapeError(
            f"mask must have shape (B, 1, H, W) matching the image {tuple(x.shape)}, got {tuple(mask.shape)}."
        )


def _pooled(x: Tensor, patch: int, mask: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """Region means of the channel mean, and region weights (valid fraction) when masked."""
    y = x.mean(1, keepdim=True)
    if mask is None:
        return F.avg_pool2d(y, patch), None
    m = _f32(mask).to(y.dtype)
    w = F.avg_pool2d(m, patch)
    return F.avg_pool2d(y * m, patch) / w.clamp_min(_EPS), w


def spatial_consistency_loss(
    enhanced: Tensor, original: Tensor, *, patch_size: int = 4, mask: Tensor | None = None, form: Form = "authors"
) -> Tensor:
    """Spatial consistency: neighbouring regions keep their contrast through enhancement.

    Args:
        enhanced: enhanced image ``(B, 3, H, W)``.
        original: input image ``(B, 3, H, W)``.
        patch_size: side of the averaged regions (4 in the paper).
        mask: optional ``(B, 1, H, W)`` validity mask.
        form: ``"authors"`` or ``"paper"`` (see the module docstring).

    Returns:
        Scalar loss.

    Example:
        >>> x = torch.rand(2, 3, 16, 16)
        >>> float(spatial_consistency_loss(x, x))
        0.0
    """
    _check_form(form)
    _check_pair("spatial_consistency_loss", enhanced, patch_size, mask)
    with _no_autocast(enhanced):
        ye, w = _pooled(_f32(enhanced), patch_size, mask)
        yo, _ = _pooled(_f32(original), patch_size, mask)
        d = yo - ye  # differences of differences are differences of this field (authors' form)
        total = ye.new_zeros(())
        weight = torch.ones_like(ye) if w is None else w
        if form == "authors":
            # D(p) = p_i - p_j with the image padded by zeros, for 4 neighbours.
            pad = F.pad(d, (1, 1, 1, 1))
            for sl in ((slice(1, -1), slice(0, -2)), (slice(1, -1), slice(2, None)),
                       (slice(0, -2), slice(1, -1)), (slice(2, None), slice(1, -1))):
                nb = pad[..., sl[0], sl[1]]
                total = total + (weight * (d - nb) ** 2).sum()
            return total / weight.sum().clamp_min(_EPS)
        for dim in (-1, -2):
            n = ye.shape[dim]
            if n < 2:
                continue
            a, b = (lambda t, d=dim, m=n: t.narrow(d, 1, m - 1)), (lambda t, d=dim, m=n: t.narrow(d, 0, m - 1))
            diff = ((a(ye) - b(ye)).abs() - (a(yo) - b(yo)).abs()) ** 2
            # each interior pair appears twice in the sum over regions and their 4 neighbours
            total = total + 2 * (a(weight) * b(weight) * diff).sum()
        return total / weight.sum().clamp_min(_EPS)


def exposure_control_loss(
    enhanced: Tensor,
    *,
    patch_size: int = 16,
    well_exposed: float = 0.6,
    mask: Tensor | None = None,
    form: Form = "authors",
) -> Tensor:
    """Exposure control: mean intensity of each region is pulled towards ``well_exposed``.

    Args:
        enhanced: enhanced image ``(B, 3, H, W)``.
        patch_size: side of the non-overlapping regions (16 in the paper).
        well_exposed: target level E (0.6 in the paper).
        mask: optional ``(B, 1, H, W)`` validity mask.
        form: ``"authors"`` (squared error) or ``"paper"`` (absolute error).

    Example:
        >>> round(float(exposure_control_loss(torch.full((1, 3, 32, 32), 0.6))), 9)
        0.0
        >>> round(float(exposure_control_loss(torch.full((1, 3, 32, 32), 0.1), form="paper")), 6)  # |0.1 - 0.6|
        0.5
    """
    _check_form(form)
    _check_pair("exposure_control_loss", enhanced, patch_size, mask)
    with _no_autocast(enhanced):
        y, w = _pooled(_f32(enhanced), patch_size, mask)
        err = (y - well_exposed) ** 2 if form == "authors" else (y - well_exposed).abs()
        if w is None:
            return err.mean()
        return (w * err).sum() / w.sum().clamp_min(_EPS)


def color_constancy_loss(enhanced: Tensor, *, mask: Tensor | None = None, form: Form = "authors") -> Tensor:
    """Colour constancy (grey world): the channel means of the enhanced image agree.

    Args:
        enhanced: enhanced image ``(B, 3, H, W)``.
        mask: optional ``(B, 1, H, W)`` validity mask (means over valid pixels only).
        form: ``"authors"`` or ``"paper"``.

    Example:
        >>> float(color_constancy_loss(torch.full((1, 3, 4, 4), 0.3)))
        0.0
    """
    _check_form(form)
    _check_pair("color_constancy_loss", enhanced, 1, mask)
    with _no_autocast(enhanced):
        x = _f32(enhanced)
        if mask is None:
            mean = x.mean((2, 3))
        else:
            m = _f32(mask).to(x.dtype)
            mean = (x * m).sum((2, 3)) / m.sum((2, 3)).clamp_min(_EPS)
        r, g, b = mean.unbind(1)
        d = torch.stack([(r - g) ** 2, (r - b) ** 2, (g - b) ** 2], 1)
        if form == "authors":
            return (d**2).sum(1).sqrt().mean()
        return d.sum(1).mean()


def illumination_smoothness_loss(alpha: Tensor, *, form: Form = "authors") -> Tensor:
    """Illumination smoothness: total variation of the curve-parameter maps.

    Args:
        alpha: curve maps ``(B, 3·n, H, W)`` or ``(B, 3, H, W)``.
        form: ``"authors"`` (squared differences, summed over channels, per image) or ``"paper"``.

    Example:
        >>> float(illumination_smoothness_loss(torch.ones(1, 24, 8, 8)))
        0.0
    """
    _check_form(form)
    _check_pair("illumination_smoothness_loss", alpha, 2, None)
    with _no_autocast(alpha):
        a = _f32(alpha)
        b, _, h, w = a.shape
        dy = a[:, :, 1:, :] - a[:, :, :-1, :]
        dx = a[:, :, :, 1:] - a[:, :, :, :-1]
        if form == "authors":
            return 2 * ((dy**2).sum() / ((h - 1) * w) + (dx**2).sum() / (h * (w - 1))) / b
        n = max(1, a.shape[1] // 3)
        g = (dx[:, :, :-1, :].abs() + dy[:, :, :, :-1].abs()) ** 2
        return g.sum(1).mean() / n


#: The authors' illumination-smoothness (TV) weight of each model, at their training resolution
#: (Zero-DCE: 256 px crops, Zero-DCE++: 512 px); ``dce-train`` rescales it to its ``--crop``.
AUTHORS_TV_WEIGHT: dict[str, float] = {"zero-dce": 200.0, "zero-dce++": 1600.0}


def authors_tv_weight(source: nn.Module | Tensor | str) -> float:
    """The authors' TV weight for a model name, a model, or (when nothing else is known) its curve maps.

    A ``ZeroDCEPP`` (or ``"zero-dce++"``) gets 1600 and every other model 200, whatever its
    ``iterations``. Curve maps alone are ambiguous: 3 channels are read as Zero-DCE++'s shared map
    (1600), which is wrong for ``ZeroDCE(iterations=1)``; pass the model to be exact.

    Example:
        >>> from dce_transforms import ZeroDCE
        >>> authors_tv_weight(ZeroDCE(weights=None, iterations=1)), authors_tv_weight("zero-dce++")
        (200.0, 1600.0)
    """
    if isinstance(source, str):
        if source not in AUTHORS_TV_WEIGHT:
            raise ConfigError(f"unknown model {source!r}: choose from {', '.join(AUTHORS_TV_WEIGHT)}.")
        return AUTHORS_TV_WEIGHT[source]
    if isinstance(source, Tensor):
        return AUTHORS_TV_WEIGHT["zero-dce++" if source.shape[-3] == 3 else "zero-dce"]
    from .models import ZeroDCEPP  # models imports nothing from here; lazily all the same

    inner = getattr(source, "model", source)  # a wrapper (FastEnhancer, LowResCurves) holds the model
    return AUTHORS_TV_WEIGHT["zero-dce++" if isinstance(inner, ZeroDCEPP) else "zero-dce"]


def zero_reference_loss(
    enhanced: Tensor, original: Tensor, alpha: Tensor, *, mask: Tensor | None = None, **options: Any
) -> tuple[Tensor, dict[str, Tensor]]:
    """Weighted sum of the four zero-reference losses.

    Args:
        enhanced, original: ``(B, 3, H, W)`` images.
        alpha: the curve maps that produced ``enhanced``.
        mask: optional ``(B, 1, H, W)`` validity mask for the exposure, spatial and colour terms.
        **options: the weights and settings of :class:`ZeroReferenceLoss` (``spa_weight=1``,
            ``exp_weight=10``, ``col_weight=5``, ``tv_weight=None``: :func:`authors_tv_weight` of
            ``alpha``; ``exposure_patch=16``, ``spatial_patch=4``, ``well_exposed=0.6``, ``form="authors"``).

    Returns:
        ``(total, terms)`` with ``terms`` holding the weighted contributions ``spa``, ``exp``,
        ``col`` and ``tv`` (they sum to ``total``).
    """
    return ZeroReferenceLoss(**options)(enhanced, original, alpha, mask)


class SpatialConsistencyLoss(nn.Module):
    """Module form of :func:`spatial_consistency_loss`."""

    def __init__(self, *, patch_size: int = 4, form: Form = "authors") -> None:
        super().__init__()
        _check_form(form)
        self.patch_size, self.form = patch_size, form

    def forward(self, enhanced: Tensor, original: Tensor, mask: Tensor | None = None) -> Tensor:
        return spatial_consistency_loss(enhanced, original, patch_size=self.patch_size, mask=mask, form=self.form)


class ExposureControlLoss(nn.Module):
    """Module form of :func:`exposure_control_loss`."""

    def __init__(self, *, patch_size: int = 16, well_exposed: float = 0.6, form: Form = "authors") -> None:
        super().__init__()
        _check_form(form)
        self.patch_size, self.well_exposed, self.form = patch_size, well_exposed, form

    def forward(self, enhanced: Tensor, mask: Tensor | None = None) -> Tensor:
        return exposure_control_loss(
            enhanced, patch_size=self.patch_size, well_exposed=self.well_exposed, mask=mask, form=self.form
        )


class ColorConstancyLoss(nn.Module):
    """Module form of :func:`color_constancy_loss`."""

    def __init__(self, *, form: Form = "authors") -> None:
        super().__init__()
        _check_form(form)
        self.form = form

    def forward(self, enhanced: Tensor, mask: Tensor | None = None) -> Tensor:
        return color_constancy_loss(enhanced, mask=mask, form=self.form)


class IlluminationSmoothnessLoss(nn.Module):
    """Module form of :func:`illumination_smoothness_loss`."""

    def __init__(self, *, form: Form = "authors") -> None:
        super().__init__()
        _check_form(form)
        self.form = form

    def forward(self, alpha: Tensor) -> Tensor:
        return illumination_smoothness_loss(alpha, form=self.form)


class ZeroReferenceLoss(nn.Module):
    """The combined zero-reference objective; ``forward(enhanced, original, alpha, mask=None)``.

    Returns ``(total, terms)`` as :func:`zero_reference_loss`. Defaults are the authors' recipe
    (spa 1, exp 10, col 5, TV 200 for Zero-DCE / 1600 for Zero-DCE++ chosen from ``alpha``).

    Example:
        >>> from dce_transforms import ZeroDCE
        >>> model, loss = ZeroDCE(weights=None), ZeroReferenceLoss()
        >>> x = torch.rand(1, 3, 32, 32) * 0.2
        >>> y, alpha = model(x, return_curves=True)
        >>> total, terms = loss(y, x, alpha)
        >>> sorted(terms)
        ['col', 'exp', 'spa', 'tv']
    """

    def __init__(
        self,
        *,
        spa_weight: float = 1.0,
        exp_weight: float = 10.0,
        col_weight: float = 5.0,
        tv_weight: float | None = None,
        exposure_patch: int = 16,
        spatial_patch: int = 4,
        well_exposed: float = 0.6,
        form: Form = "authors",
    ) -> None:
        super().__init__()
        _check_form(form)
        self.spa_weight, self.exp_weight, self.col_weight, self.tv_weight = spa_weight, exp_weight, col_weight, tv_weight
        self.exposure_patch, self.spatial_patch, self.well_exposed, self.form = (
            exposure_patch,
            spatial_patch,
            well_exposed,
            form,
        )

    @classmethod
    def for_model(cls, model: nn.Module | str, **options: Any) -> ZeroReferenceLoss:
        """The loss with the authors' TV weight of ``model`` (:func:`authors_tv_weight`), other options as given."""
        options.setdefault("tv_weight", authors_tv_weight(model))
        return cls(**options)

    def forward(
        self, enhanced: Tensor, original: Tensor, alpha: Tensor, mask: Tensor | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        form, mask_ = self.form, mask
        tv_weight = authors_tv_weight(alpha) if self.tv_weight is None else self.tv_weight
        spa = spatial_consistency_loss(enhanced, original, patch_size=self.spatial_patch, mask=mask_, form=form)
        exp = exposure_control_loss(enhanced, patch_size=self.exposure_patch, well_exposed=self.well_exposed,
                                    mask=mask_, form=form)
        terms = {
            "spa": self.spa_weight * spa,
            "exp": self.exp_weight * exp,
            "col": self.col_weight * color_constancy_loss(enhanced, mask=mask_, form=form),
            "tv": tv_weight * illumination_smoothness_loss(alpha, form=form),
        }
        total = terms["spa"] + terms["exp"] + terms["col"] + terms["tv"]
        return total, terms

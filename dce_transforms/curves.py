"""The light-enhancement curve of Zero-DCE and its iterated, pixel-wise form.

The curve (Guo et al., CVPR 2020, Eq. 1) is ``LE(x) = x + α·x·(1 − x)``. For ``α ∈ [−1, 1]``
it maps [0, 1] onto [0, 1], fixes 0 and 1, and is monotonically increasing; iterating it
``n`` times with a different ``α`` map per iteration (Eq. 2) gives a high-order curve.
The authors' released code writes ``x + r·(x² − x)``, which is the same curve with ``α = −r``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .errors import ConfigError, ImageShapeError

__all__ = ["le_curve", "apply_curves", "apply_curves_", "LECurve", "ApplyCurves"]


def le_curve(x: Tensor, alpha: Tensor | float) -> Tensor:
    """One step of the light-enhancement curve, ``x + α·x·(1 − x)``.

    Args:
        x: values in [0, 1], any shape.
        alpha: curve parameter in [-1, 1], a float or a tensor broadcastable to ``x``.
            Positive values brighten, negative values darken, 0 is the identity.

    Returns:
        The curve applied element-wise, same shape as ``x`` (after broadcasting).

    Example:
        >>> le_curve(torch.tensor([0.0, 0.25, 1.0]), 1.0)
        tensor([0.0000, 0.4375, 1.0000])

    Reference:
        Guo et al., "Zero-Reference Deep Curve Estimation for Low-Light Image Enhancement", CVPR 2020, Eq. 1.
    """
    return x + alpha * x * (1 - x)


def _check_alpha(x: Tensor, alpha: Tensor, iterations: int | None) -> int:
    if iterations is not None and (isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1):
        raise ConfigError(f"iterations must be None or a positive integer (the authors use 8), got {iterations!r}.")
    if alpha.ndim != x.ndim:
        raise ImageShapeError(
            f"alpha must have as many dimensions as the image: image {tuple(x.shape)}, alpha {tuple(alpha.shape)}."
        )
    channels = x.shape[-3]
    if alpha.shape[-3] % channels != 0:
        raise ImageShapeError(
            f"alpha must have a multiple of {channels} channels (3 per iteration), got {alpha.shape[-3]}."
        )
    groups = alpha.shape[-3] // channels
    if groups == 1:
        return 8 if iterations is None else iterations
    if iterations is not None and iterations != groups:
        raise ImageShapeError(
            f"alpha holds {groups} iteration maps but iterations={iterations}; pass iterations=None "
            "or a 3-channel alpha to share one map across iterations."
        )
    return groups


def apply_curves(x: Tensor, alpha: Tensor, *, iterations: int | None = None) -> Tensor:
    """Apply the iterated light-enhancement curve with pixel-wise parameters.

    Args:
        x: image, ``(..., C, H, W)`` with values in [0, 1].
        alpha: curve maps, ``(..., C·n, H, W)`` with one map per iteration (Zero-DCE), or
            ``(..., C, H, W)`` shared by all iterations (Zero-DCE++). Spatial dimensions must
            match or broadcast.
        iterations: number of iterations when ``alpha`` is shared (default 8); must equal ``n``
            (or be None) when ``alpha`` holds ``n`` maps.

    Returns:
        The enhanced image, same shape as ``x``.

    Shape:
        - x: :math:`(B, 3, H, W)`
        - alpha: :math:`(B, 3n, H, W)` or :math:`(B, 3, H, W)`
        - output: :math:`(B, 3, H, W)`

    Example:
        >>> x = torch.full((1, 3, 2, 2), 0.2)
        >>> apply_curves(x, torch.zeros(1, 24, 2, 2)).equal(x)
        True
        >>> apply_curves(x, torch.ones(1, 3, 2, 2), iterations=2)[0, 0, 0, 0]  # 0.2 -> 0.36 -> 0.5904
        tensor(0.5904)

    Reference:
        Guo et al., CVPR 2020, Eq. 2 and 3; Li, Guo, Loy, TPAMI 2021 (shared map).
    """
    n = _check_alpha(x, alpha, iterations)
    shared = alpha.shape[-3] == x.shape[-3]
    c = x.shape[-3]
    for i in range(n):
        x = le_curve(x, alpha if shared else alpha[..., i * c : (i + 1) * c, :, :])
    return x


def apply_curves_(x: Tensor, alpha: Tensor, *, iterations: int | None = None) -> Tensor:
    """:func:`apply_curves` for inference: in place on ``x``, with one scratch buffer, no autograd.

    Each step is ``x += α·(x − x²)`` (``x − x²`` by one ``addcmul``): the same curve as
    :func:`le_curve`, equal to rounding (about 1e-7), about twice as fast on a CPU and without the
    ``3·n`` intermediate images. ``x`` is overwritten and returned: pass a copy you own.

    Example:
        >>> x = torch.full((1, 3, 2, 2), 0.2)
        >>> ref = apply_curves(x, torch.ones(1, 3, 2, 2), iterations=2)
        >>> bool((apply_curves_(x.clone(), torch.ones(1, 3, 2, 2), iterations=2) - ref).abs().max() < 1e-6)
        True
    """
    n = _check_alpha(x, alpha, iterations)
    c = x.shape[-3]
    shared = alpha.shape[-3] == c
    t = torch.empty_like(x)
    with torch.no_grad():
        for i in range(n):
            torch.addcmul(x, x, x, value=-1, out=t)
            t.mul_(alpha if shared else alpha[..., i * c : (i + 1) * c, :, :])
            x.add_(t)
    return x


class LECurve(nn.Module):
    """Module form of :func:`le_curve` with a fixed ``alpha``.

    Example:
        >>> LECurve(0.5)(torch.tensor([0.5]))
        tensor([0.6250])
    """

    def __init__(self, alpha: float) -> None:
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x: Tensor) -> Tensor:
        return le_curve(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class ApplyCurves(nn.Module):
    """Module form of :func:`apply_curves`; ``forward(x, alpha)``.

    Example:
        >>> ApplyCurves(iterations=8)(torch.zeros(1, 3, 1, 1), torch.ones(1, 3, 1, 1)).sum()
        tensor(0.)
    """

    def __init__(self, *, iterations: int | None = None) -> None:
        super().__init__()
        self.iterations = iterations

    def forward(self, x: Tensor, alpha: Tensor) -> Tensor:
        return apply_curves(x, alpha, iterations=self.iterations)

    def extra_repr(self) -> str:
        return f"iterations={self.iterations}"

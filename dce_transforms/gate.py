"""Exposure gate: leave well-lit images alone, lift dark ones, pull over-exposed ones down.

DCE-Net sees a 15×15 neighbourhood, so it cannot tell a shadow in a daylight photo from a night
scene, and its exposure loss pulls every patch toward 0.6: the published weights (ours and the
authors') brighten every image, well-lit ones included. :class:`ExposureGate` scales the curve
maps by factors computed from the whole image's own luminance, with no learned parameters:

* ``α = g↑(x)·α(x) − g↓(x)·α(1 − x)``, where ``α(·)`` is the network's curve map;
* ``g↑(x) = σ((ln t↑ − ln L(x)) / w↑)`` brightens only images whose log-average luminance
  ``L(x) = exp(mean(ln(Y + ε)))`` (Rec. 601 luma ``Y``) is below ``t↑``;
* ``g↓(x) = σ((ln t↓ − ln L(1 − x)) / w↓)`` darkens only images whose *negative* is dark.
  It reuses the same network: the curve is symmetric, ``1 − LE_α(1 − x) = LE_−α(x)``, so the
  brightening curve of the negative is a darkening curve of the image. That pass runs on a copy
  down-scaled by ``darken_scale`` (4: about 1/16 of the cost of the main pass).

For a well-lit image both factors are close to zero and the output is close to the input. The
gate is differentiable (sigmoids of a mean), so joint training sees it. The thresholds of the
shipped ``*-adaptive`` entries were chosen on SICE training frames (not the held-out scenes);
see ``docs/model_card/README.md``.

When both factors of every image in a CPU batch are below ``skip_below``, the corresponding
network pass is skipped (eager mode only; compiled, exported and CUDA runs always compute both,
so there is no data-dependent branch or host read-back there).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .convert import LUMA
from .errors import ConfigError

__all__ = ["GateConfig", "ExposureGate", "log_average_luminance"]



def log_average_luminance(x: Tensor, *, eps: float = 0.01) -> Tensor:
    """``exp(mean(ln(Y + eps)))`` per image of a ``(B, 3, H, W)`` batch, at least float32; shape ``(B,)``.

    Example:
        >>> float(log_average_luminance(torch.full((1, 3, 4, 4), 0.5))[0])  # doctest: +ELLIPSIS
        0.50999...
    """
    if x.dtype != torch.float64:
        x = x.float()
    y = LUMA[0] * x[:, 0] + LUMA[1] * x[:, 1] + LUMA[2] * x[:, 2]
    return torch.exp(torch.log(y.clamp(min=0) + eps).mean(dim=(-2, -1)))


@dataclass(frozen=True)
class GateConfig:
    """Thresholds of an :class:`ExposureGate` (log-average luminance; widths in natural-log units).

    Attributes:
        brighten_below: ``t↑``: images darker than this are brightened (half strength at ``t↑``).
        brighten_width: ``w↑``: softness of the brightening gate.
        darken: whether over-exposed images are pulled down (one more network pass when active).
        darken_below: ``t↓``: images whose negative is darker than this are darkened.
        darken_width: ``w↓``.
        darken_scale: the darkening pass estimates its curves on a copy down-scaled by this factor
            (1 = the network's own resolution), so that it costs about ``1/darken_scale²`` of the
            brightening pass; darkening curves of over-exposed images are smooth.
        eps: added to the luma before the logarithm.
        skip_below: CPU eager runs skip a network pass whose factor is below this for every image.
    """

    brighten_below: float = 0.28
    brighten_width: float = 0.05
    darken: bool = True
    darken_below: float = 0.18
    darken_width: float = 0.2
    darken_scale: int = 4
    eps: float = 0.01
    skip_below: float = 1e-4

    def __post_init__(self) -> None:
        for name in ("brighten_below", "brighten_width", "darken_below", "darken_width", "eps"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ConfigError(f"GateConfig.{name} must be a finite number > 0, got {v!r}.")
        if isinstance(self.darken_scale, bool) or not isinstance(self.darken_scale, int) or self.darken_scale < 1:
            raise ConfigError(f"GateConfig.darken_scale must be an integer >= 1, got {self.darken_scale!r}.")
        if not 0 <= self.skip_below < 1:
            raise ConfigError(f"GateConfig.skip_below must be in [0, 1), got {self.skip_below!r}.")

    def as_dict(self) -> dict[str, float | bool]:
        return asdict(self)


class ExposureGate(nn.Module):
    """Per-image factors ``(g↑, g↓)`` of the exposure gate; see the module docstring.

    No parameters or buffers: a model's state dict is the same with or without a gate.

    Example:
        >>> gate = ExposureGate()
        >>> up, down = gate(torch.cat([torch.full((1, 3, 8, 8), 0.05), torch.full((1, 3, 8, 8), 0.5)]))
        >>> [round(float(v), 3) for v in up]
        [1.0, 0.0]
    """

    def __init__(self, config: GateConfig | None = None, **overrides: float | bool) -> None:
        super().__init__()
        base = config if config is not None else GateConfig()
        fields: dict[str, Any] = {**base.as_dict(), **overrides}
        self.config = GateConfig(**fields) if overrides else base

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        c = self.config
        up = torch.sigmoid((math.log(c.brighten_below) - torch.log(log_average_luminance(x, eps=c.eps)))
                           / c.brighten_width)
        if not c.darken:
            return up, None
        inv = log_average_luminance(1 - x, eps=c.eps)
        down = torch.sigmoid((math.log(c.darken_below) - torch.log(inv)) / c.darken_width)
        return up, down

    def extra_repr(self) -> str:
        c = self.config
        text = f"brighten_below={c.brighten_below}, brighten_width={c.brighten_width}"
        if c.darken:
            text += f", darken_below={c.darken_below}, darken_width={c.darken_width}"
        return text + f", darken={c.darken}"

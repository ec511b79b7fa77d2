"""Plain PyTorch transcription of Zero-DCE and Zero-DCE++, the reference every fast path is measured against.

Nothing here is tuned: NCHW float32, eager mode, the curve applied as separate steps
``x = x + a·x·(1 − x)`` exactly as in the papers, no compilation, no channels-last, no fusion.
The networks take their weights from a :class:`dce_transforms.ZeroDCE` / :class:`dce_transforms.ZeroDCEPP`
instance (:func:`baseline_from`), so the baseline and the model under test run the *same*
(denormal-free) numbers: a denormal weight would slow the baseline's CPU convolutions down and
flatter every ratio.

References:
    Guo et al., "Zero-Reference Deep Curve Estimation for Low-Light Image Enhancement", CVPR 2020, Eq. 1-2, Fig. 2.
    Li, Guo, Loy, "Learning to Enhance Low-Light Image via Zero-Reference Deep Curve Estimation", TPAMI 2021.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dce_transforms.models import dce_net_layers  # the layer shapes only; the forward passes are transcribed here

__all__ = ["BaselineZeroDCE", "BaselineZeroDCEPP", "baseline_from", "AuthorsZeroDCE", "AuthorsZeroDCEPP",
           "authors_zero_dce"]


class BaselineZeroDCE(nn.Module):
    """DCE-Net: seven 3×3 convolutions (32 channels), skip concatenations 3-4, 2-5, 1-6, tanh, 8 curve steps."""

    def __init__(self, iterations: int = 8) -> None:
        super().__init__()
        self.iterations = iterations
        for name, layer in dce_net_layers(lambda cin, cout: nn.Conv2d(cin, cout, 3, 1, 1), 3 * iterations).items():
            self.add_module(name, layer)

    def curves(self, x: Tensor) -> Tensor:
        x1 = F.relu(self.conv1(x))
        x2 = F.relu(self.conv2(x1))
        x3 = F.relu(self.conv3(x2))
        x4 = F.relu(self.conv4(x3))
        x5 = F.relu(self.conv5(torch.cat([x3, x4], 1)))
        x6 = F.relu(self.conv6(torch.cat([x2, x5], 1)))
        return torch.tanh(self.conv7(torch.cat([x1, x6], 1)))

    def forward(self, x: Tensor) -> Tensor:
        alphas = torch.split(self.curves(x), 3, dim=1)
        for a in alphas:
            x = x + a * x * (1 - x)
        return x


class _DepthwiseSeparable(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, 1, 1, groups=cin)
        self.pointwise = nn.Conv2d(cin, cout, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise(self.depthwise(x))


class BaselineZeroDCEPP(BaselineZeroDCE):
    """Zero-DCE++: the same topology with depthwise-separable convolutions and one shared 3-channel α map.

    With ``scale_factor > 1`` the curve map is estimated on the image down-scaled by bilinear
    interpolation and up-sampled back with ``align_corners=True`` (``nn.UpsamplingBilinear2d``),
    as the authors do.
    """

    def __init__(self, scale_factor: float = 1.0, iterations: int = 8) -> None:
        nn.Module.__init__(self)
        self.iterations = iterations
        self.scale_factor = float(scale_factor)
        for name, layer in dce_net_layers(_DepthwiseSeparable, 3).items():
            self.add_module(name, layer)

    def forward(self, x: Tensor) -> Tensor:
        s = self.scale_factor
        if s == 1:
            a = self.curves(x)
        else:
            a = self.curves(F.interpolate(x, scale_factor=1 / s, mode="bilinear", align_corners=False))
            a = F.interpolate(a, size=x.shape[-2:], mode="bilinear", align_corners=True)
        for _ in range(self.iterations):
            x = x + a * x * (1 - x)
        return x


def baseline_from(model: nn.Module) -> nn.Module:
    """The baseline network holding a copy of ``model``'s weights (float32, same device, eval mode).

    Args:
        model: a :class:`dce_transforms.ZeroDCE` or :class:`dce_transforms.ZeroDCEPP`.

    Returns:
        :class:`BaselineZeroDCE` or :class:`BaselineZeroDCEPP` (same ``scale_factor``).
    """
    from dce_transforms import ZeroDCEPP

    if isinstance(model, ZeroDCEPP):
        base: nn.Module = BaselineZeroDCEPP(scale_factor=model.scale_factor, iterations=model.iterations)
    else:
        base = BaselineZeroDCE(iterations=model.iterations)
    state = {k: v.detach().to("cpu", torch.float32).clone() for k, v in model.state_dict().items()}
    base.load_state_dict(state)
    device = next(model.parameters()).device
    return base.to(device).eval()


# -- the authors' own model ------------------------------------------------------------------------


def _flush_denormals(t: Tensor) -> Tensor:
    """``t`` with its subnormal values set to zero (they would slow every CPU convolution down)."""
    if not t.is_floating_point():
        return t
    return torch.where(t.abs() < torch.finfo(t.dtype).tiny, torch.zeros_like(t), t)


class AuthorsZeroDCE(BaselineZeroDCE):
    """The authors' Zero-DCE as they wrote it: their layer names (``e_conv1..7``) and curve ``x + r·(x² − x)``.

    Loaded from their released checkpoint (``zero_dce_epoch99.pth``, CC BY-NC 4.0: comparison only)
    by :func:`authors_zero_dce`; our models load the same file through ``ZeroDCE.from_official``,
    which flips the sign of the last layer (``α = −r``) for our curve ``x + α·x·(1 − x)``.
    """

    def forward(self, x: Tensor) -> Tensor:
        for r in torch.split(self.curves(x), 3, dim=1):
            x = x + r * (torch.pow(x, 2) - x)
        return x


class AuthorsZeroDCEPP(BaselineZeroDCEPP):
    """The authors' Zero-DCE++: one shared map ``r``, ``x + r·(x² − x)`` eight times, ``nn.UpsamplingBilinear2d``."""

    def forward(self, x: Tensor) -> Tensor:
        s = self.scale_factor
        if s == 1:
            r = self.curves(x)
        else:
            r = self.curves(F.interpolate(x, scale_factor=1 / s, mode="bilinear"))
            r = F.interpolate(r, scale_factor=s, mode="bilinear", align_corners=True)
        for _ in range(self.iterations):
            x = x + r * (torch.pow(x, 2) - x)
        return x


def _authors_state(path) -> dict[str, Tensor]:
    state = torch.load(path, map_location="cpu", weights_only=True)
    out = {}
    for key, t in state.items():
        key = key.removeprefix("module.").replace("e_conv", "conv")
        key = key.replace("depth_conv", "depthwise").replace("point_conv", "pointwise")
        out[key] = _flush_denormals(t.float())
    return out


def authors_zero_dce(path, *, scale_factor: float | None = None) -> nn.Module:
    """The authors' model with their checkpoint at ``path``, denormal weights flushed to zero, eval mode.

    Args:
        path: ``zero_dce_epoch99.pth`` (Zero-DCE) or ``zero_dce_pp_epoch99.pth`` (Zero-DCE++).
        scale_factor: ``None`` for Zero-DCE; the down-scaling factor (1 or 12) for Zero-DCE++.
    """
    model: nn.Module = AuthorsZeroDCE() if scale_factor is None else AuthorsZeroDCEPP(scale_factor=scale_factor)
    model.load_state_dict(_authors_state(path))
    return model.eval()

"""DCE-Net (Zero-DCE) and its light sibling (Zero-DCE++), with their weight entries.

Both networks read an image in [0, 1] and predict pixel-wise curve parameters
``α ∈ [-1, 1]``; the light-enhancement curve ``x + α·x·(1 − x)`` is then applied
``iterations`` times (:func:`dce_transforms.curves.apply_curves`).

References:
    Guo, Li, Guo, Loy, Hou, Kwong, Cong. "Zero-Reference Deep Curve Estimation for Low-Light
    Image Enhancement", CVPR 2020.
    Li, Guo, Loy. "Learning to Enhance Low-Light Image via Zero-Reference Deep Curve
    Estimation", TPAMI 2021 (Zero-DCE++).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import _pipeline
from ._checks import check_image, is_tracing
from ._weights import WeightsEntry, load_state_dict
from .curves import apply_curves, apply_curves_, le_curve
from .errors import ConfigError, DeviceError, WeightsError
from .gate import ExposureGate, GateConfig

__all__ = ["ZeroDCE", "ZeroDCEPP", "WeightsArg", "GateArg", "OFFICIAL_SHA256", "bounded_size", "dce_net_layers"]

WeightsArg = str | os.PathLike | WeightsEntry | None
#: ``"auto"`` (the gate registered with the weights, if any), ``None``/``False`` (off), ``True`` (the
#: class's validated gate), a :class:`GateConfig`, a dict of its fields, or an :class:`ExposureGate`.
GateArg = str | bool | GateConfig | dict | ExposureGate | None

#: sha256 of the authors' released checkpoints (CC BY-NC 4.0, never shipped here), checked by ``from_official``.
OFFICIAL_SHA256 = {
    "zero_dce": "a4395acb874f320375d9704997cef874eaaaaa26a1777ceb29a92b70f74c3612",
    "zero_dce_pp": "ca8855b90df9a80fa4195a831f33d3476b1964f787eb70602797c773067f3b84",
}

_Model = TypeVar("_Model", bound="_CurveEstimator")

_PAPER_DCE = "Guo et al., Zero-Reference Deep Curve Estimation for Low-Light Image Enhancement, CVPR 2020"
_PAPER_DCEPP = "Li, Guo, Loy, Learning to Enhance Low-Light Image via Zero-Reference Deep Curve Estimation, TPAMI 2021"


def bounded_size(h: int, w: int, max_side: int | None) -> tuple[int, int]:
    """The size of the copy curves are estimated on: ``(h, w)`` scaled so the longer side is ``max_side``.

    The one rule of the package (``curve_max_side``, :func:`~dce_transforms.fast.optimize`, the
    training consistency term, the Ultralytics ``curve_side``): each side is rounded to the nearest
    integer, at least 1; an image no larger than ``max_side`` (or ``max_side=None``) keeps its size.

    Example:
        >>> bounded_size(720, 1280, 512), bounded_size(100, 50, 512), bounded_size(3, 1000, 64)
        ((288, 512), (100, 50), (1, 64))
    """
    side = max(h, w)
    if max_side is None or side <= max_side:
        return h, w
    ratio = max_side / side
    return max(1, round(h * ratio)), max(1, round(w * ratio))


def dce_net_layers(conv: Callable[[int, int], nn.Module], out_channels: int, width: int = 32) -> dict[str, nn.Module]:
    """DCE-Net's seven layers ``conv1`` ... ``conv7``, each built by ``conv(in_channels, out_channels)``.

    Inputs: 3 channels, then ``width``; the last three layers read a skip concatenation of two
    ``width``-channel maps (3-4, 2-5, 1-6); the last writes ``out_channels`` (``3·iterations`` for
    Zero-DCE, 3 for Zero-DCE++).

    Example:
        >>> [tuple(m.weight.shape) for m in dce_net_layers(lambda i, o: nn.Conv2d(i, o, 3), 24).values()][-2:]
        [(32, 64, 3, 3), (24, 64, 3, 3)]
    """
    c = width
    shapes = [(3, c), (c, c), (c, c), (c, c), (2 * c, c), (2 * c, c), (2 * c, out_channels)]
    return {f"conv{i}": conv(cin, cout) for i, (cin, cout) in enumerate(shapes, 1)}


class _SeparableConv(nn.Module):
    """Depthwise 3×3 followed by pointwise 1×1 convolution, both with bias (Zero-DCE++)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, padding=1, groups=cin)
        self.pointwise = nn.Conv2d(cin, cout, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise(self.depthwise(x))


class _CurveEstimator(nn.Module):
    """Shared machinery: input contract, bounded-resolution estimation, weights, curve application."""

    weights_registry: ClassVar[dict[str, WeightsEntry]] = {}
    default_weights: ClassVar[str | None] = None
    default_gate: ClassVar[GateConfig] = GateConfig()
    _official_name: ClassVar[str] = ""

    conv1: nn.Module
    conv2: nn.Module
    conv3: nn.Module
    conv4: nn.Module
    conv5: nn.Module
    conv6: nn.Module
    conv7: nn.Module

    def __init__(self, *, iterations: int, curve_max_side: int | None, validate: bool) -> None:
        super().__init__()
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
            raise ConfigError(f"iterations must be a positive integer (the authors use 8), got {iterations!r}.")
        if curve_max_side is not None and (
            isinstance(curve_max_side, bool) or not isinstance(curve_max_side, int) or curve_max_side < 8
        ):
            raise ConfigError(
                f"curve_max_side must be None (full resolution) or an integer >= 8, e.g. 512; got {curve_max_side!r}."
            )
        self.iterations = iterations
        self.curve_max_side = curve_max_side
        self.validate = validate
        self.weights_name: str | None = None
        self.exposure_gate: ExposureGate | None = None

    # -- network -----------------------------------------------------------------------------
    def _nhwc_input(self, x: Tensor) -> bool:
        """Whether :meth:`network` runs on a channels-last copy of ``x``: Zero-DCE's dense 3×3 convolutions on
        the CPU (oneDNN; about 1.4× faster at 1280×720, same float32 results to rounding), eager only.
        Not Zero-DCE++ (NHWC depthwise convolutions are slower on CPU), not CUDA, not while tracing."""
        return (
            x.device.type == "cpu"
            and x.ndim == 4
            and not isinstance(self.conv1, _SeparableConv)
            and x.is_contiguous()
            and not is_tracing()
        )

    def network(self, x: Tensor) -> Tensor:
        """DCE-Net alone: the α maps of ``x`` (any float ``(B, 3, H, W)``), at its resolution, no gate.

        ``(B, 3·iterations, H, W)`` for Zero-DCE, ``(B, 3, H, W)`` for Zero-DCE++, in [-1, 1].
        """
        nhwc = self._nhwc_input(x)
        if nhwc:
            x = x.contiguous(memory_format=torch.channels_last)
        x1 = F.relu(self.conv1(x))
        x2 = F.relu(self.conv2(x1))
        x3 = F.relu(self.conv3(x2))
        x4 = F.relu(self.conv4(x3))
        x5 = F.relu(self.conv5(torch.cat([x3, x4], 1)))
        x6 = F.relu(self.conv6(torch.cat([x2, x5], 1)))
        alpha = torch.tanh(self.conv7(torch.cat([x1, x6], 1)))
        return alpha.contiguous() if nhwc else alpha  # NCHW out, as the input came

    def _build(self, conv: Callable[[int, int], nn.Module], out_channels: int, weights: WeightsArg,
               gate: GateArg) -> None:
        """Create the layers (:func:`dce_net_layers`), initialise them, load ``weights``, set the gate."""
        for name, layer in dce_net_layers(conv, out_channels).items():
            self.add_module(name, layer)
        self._reset_parameters()
        self._resolve_gate(gate, self._load_weights(weights))

    def _reset_parameters(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def _last_conv(self) -> nn.Conv2d:
        last = self.conv7
        return last.pointwise if isinstance(last, _SeparableConv) else last  # type: ignore[return-value]

    def reset_to_identity(self) -> _CurveEstimator:
        """Zero the last layer so that ``α = 0`` everywhere and the model is the identity.

        Gradients still reach the last layer, so training moves away from the identity; use it to
        put an enhancer in front of a trained detector without disturbing it at step 0.
        """
        last = self._last_conv()
        with torch.no_grad():
            last.weight.zero_()
            if last.bias is not None:
                last.bias.zero_()
        return self

    # -- exposure gate -----------------------------------------------------------------------
    def set_exposure_gate(self, gate: GateArg) -> _CurveEstimator:
        """Switch the exposure gate (:mod:`dce_transforms.gate`) on, off or to other thresholds.

        ``True`` uses the class's validated thresholds, ``None``/``False`` the published behaviour.
        The state dict does not change (the gate has no parameters).
        """
        if gate is None or gate is False:
            self.exposure_gate = None
        elif gate is True:
            self.exposure_gate = ExposureGate(self.default_gate)
        elif isinstance(gate, ExposureGate):
            self.exposure_gate = gate
        elif isinstance(gate, GateConfig):
            self.exposure_gate = ExposureGate(gate)
        elif isinstance(gate, dict):
            self.exposure_gate = ExposureGate(GateConfig(**gate))
        else:
            raise ConfigError(
                f"exposure_gate must be 'auto', True, False/None, a GateConfig, a dict of its fields or an "
                f"ExposureGate; got {gate!r}."
            )
        return self

    def _resolve_gate(self, gate: GateArg, entry: WeightsEntry | None) -> None:
        if isinstance(gate, str):
            if gate != "auto":
                raise ConfigError(f"exposure_gate must be 'auto', True, False or None (or a GateConfig); got {gate!r}.")
            gate = entry.kwargs.get("exposure_gate") if entry is not None else None
        self.set_exposure_gate(gate)

    def _alpha_channels(self) -> int:
        return self._last_conv().out_channels

    def gated_curves(self, x: Tensor, net_in: Tensor, estimate: Callable[[Tensor], Tensor]) -> Tensor:
        """Curve maps ``estimate(net_in)`` with the exposure gate (if any) applied.

        Args:
            x: the full-resolution ``(B, 3, H, W)`` image the gate reads.
            net_in: the network's input (``x`` or a down-scaled copy, in the network's dtype/layout).
            estimate: maps an input to its α maps (e.g. the network).

        Returns:
            ``estimate(net_in)`` without a gate; otherwise ``g↑·α(net_in) − g↓·α(1 − net_in)``. A
            pass whose factor is negligible for every image is skipped on CPU in eager mode; if both
            are, the result is a ``(B, C, 1, 1)`` zero map (it up-samples to zeros).
        """
        gate = self.exposure_gate
        if gate is None:
            return estimate(net_in)
        up, down = gate(x)
        may_skip = x.device.type == "cpu" and not is_tracing() and gate.config.skip_below > 0
        thr = gate.config.skip_below
        alpha: Tensor | None = None
        if not may_skip or bool((up > thr).any()):
            a = estimate(net_in)
            alpha = a * up.to(a.dtype).view(-1, 1, 1, 1)
        if down is not None and (not may_skip or bool((down > thr).any())):
            inv = 1 - net_in
            h, w = inv.shape[-2:]
            k = gate.config.darken_scale
            if k > 1 and min(h, w) >= 8 * k:  # the darkening pass at 1/k resolution: ~1/k² of the cost
                small = F.avg_pool2d(inv, k)  # a box filter: exports to ONNX, unlike antialiased resizing
                a = F.interpolate(estimate(small), size=(h, w), mode="bilinear", align_corners=False)
            else:
                a = estimate(inv)
            neg = a * down.to(a.dtype).view(-1, 1, 1, 1)
            alpha = -neg if alpha is None else alpha - neg
        if alpha is None:
            alpha = net_in.new_zeros((net_in.shape[0], self._alpha_channels(), 1, 1))
        return alpha

    # -- curves ------------------------------------------------------------------------------
    # The pipeline, one public step each: curve_input (bounded resolution) -> predict_curves (the
    # network, Zero-DCE++'s scale_factor) -> gated_curves (exposure gate) -> apply_curves (up-sampling and
    # the curve steps). forward, optimize() and the training consistency term all go through them.
    def predict_curves(self, x: Tensor) -> Tensor:
        """α maps of the network input ``x``, at its resolution (no gate); Zero-DCE++ overrides it for ``scale_factor``."""
        return self.network(x)

    def curve_size(self, h: int, w: int, max_side: int | None = None) -> tuple[int, int]:
        """Size of the estimation copy of an ``h × w`` image (:func:`bounded_size`; ``max_side`` defaults to ``curve_max_side``)."""
        return bounded_size(h, w, self.curve_max_side if max_side is None else max_side)

    def curve_input(self, x: Tensor, max_side: int | None = None) -> Tensor:
        """``x`` down-scaled to :meth:`curve_size` (bilinear, antialiased), or ``x`` itself when it is not larger."""
        side = self.curve_max_side if max_side is None else max_side
        if side is None or max(x.shape[-2:]) <= side:  # no int() of the sizes: they may be symbolic (export)
            return x
        size = self.curve_size(int(x.shape[-2]), int(x.shape[-1]), side)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)

    def _bounded(self, x: Tensor) -> bool:
        side = self.curve_max_side
        return side is not None and max(x.shape[-2:]) > side

    def estimate_curves(self, x: Tensor, *, full_resolution: bool = True) -> Tensor:
        """Predict the (gated) α maps of a checked ``(B, 3, H, W)`` image.

        Args:
            x: the image.
            full_resolution: up-sample the maps to ``x``'s size (in ``x``'s dtype); ``False`` returns
                them at the estimation resolution (:meth:`curve_input`), for :meth:`apply_curves`.
        """
        p = next(self.parameters())
        net_in = x if torch.is_autocast_enabled(x.device.type) else x.to(p.dtype)  # the network's dtype
        alpha = self.gated_curves(x, self.curve_input(net_in), self.predict_curves)
        if not full_resolution:
            return alpha
        if alpha.shape[-2:] != x.shape[-2:]:
            alpha = F.interpolate(alpha, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return alpha.to(x.dtype)

    def apply_curves(self, x: Tensor, alpha: Tensor) -> Tensor:
        """Apply ``iterations`` curve steps with maps ``alpha`` (full resolution, or smaller: up-sampled).

        Smaller maps are up-sampled bilinearly one iteration's 3 channels at a time, so the extra
        memory at full resolution is one image-sized buffer instead of ``3·n`` channels. Without
        autograd (under ``torch.no_grad``/``inference_mode``, not tracing) the
        steps run in place on a copy of ``x`` (:func:`~dce_transforms.curves.apply_curves_`).
        """
        size = x.shape[-2:]
        inplace = not torch.is_grad_enabled() and not is_tracing()
        if alpha.shape[-2:] == size or alpha.shape[-3] == 3:
            if alpha.shape[-2:] != size:
                alpha = F.interpolate(alpha, size=size, mode="bilinear", align_corners=False)
            if inplace:
                return apply_curves_(x.clone(), alpha.to(x.dtype), iterations=self.iterations)
            return apply_curves(x, alpha.to(x.dtype), iterations=self.iterations)
        y = x.clone() if inplace else x
        for i in range(alpha.shape[-3] // 3):
            a = F.interpolate(alpha[:, 3 * i : 3 * i + 3], size=size, mode="bilinear", align_corners=False).to(x.dtype)
            y = apply_curves_(y, a, iterations=1) if inplace else le_curve(y, a)
        return y

    def forward(self, x: Any, *targets: Any, return_curves: bool = False) -> Any:
        """Enhance an image (the module's contract), or the images of a pipeline sample.

        Args:
            x: a ``(B, 3, H, W)`` or ``(3, H, W)`` floating-point RGB tensor in [0, 1] (the
                differentiable contract); or, as a torchvision v1/v2 pipeline step, a uint8 / uint16
                tensor, a ``tv_tensors.Image`` / ``Video``, a PIL image (same type and dtype back), or a
                dict, list or tuple sample, of which only the images change (boxes, masks, keypoints,
                labels and strings come back untouched; see :mod:`dce_transforms._pipeline`).
            *targets: further inputs, as ``v2.Compose`` passes ``(image, target)``: returned as a
                tuple ``(image, *targets)`` with only the images changed.
            return_curves: also return the α maps (float tensor input only).

        Returns:
            The enhanced image (same shape, dtype and device as ``x``), or ``(image, alpha)``
            with ``alpha`` of shape ``(B, 3·n, H, W)`` (Zero-DCE) or ``(B, 3, H, W)`` (Zero-DCE++),
            batch dimension dropped when ``x`` had none.

        Gradients: a call records an autograd graph only if its input requires grad, or if the
        module is in training mode, the input is a plain floating-point tensor and the call is not in a
        DataLoader worker; every other call (uint8, tv_tensors, PIL, eval mode, workers) runs under
        ``torch.no_grad``.
        """
        if is_tracing():
            return self._forward_tensor(x, *targets, return_curves=return_curves)
        if not targets and _pipeline.is_contract_tensor(x):
            with _pipeline.grad_mode(self, x):
                return self._forward_tensor(x, return_curves=return_curves)
        return _pipeline.pipeline_forward(self, (x, *targets), self._forward_tensor, return_curves=return_curves)

    def _forward_tensor(self, x: Tensor, *, return_curves: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """The contract: a checked float ``(B, 3, H, W)`` / ``(3, H, W)`` tensor, differentiable."""
        x4, unbatched = check_image(x, check_values=self.validate)
        p = next(self.parameters())
        if p.device != x4.device:
            raise DeviceError(
                f"the image is on {x4.device} but the model is on {p.device}: move one, e.g. `model.to(x.device)`."
            )
        if not return_curves and self._bounded(x4):
            y = self.apply_curves(x4, self.estimate_curves(x4, full_resolution=False))
            return y.squeeze(0) if unbatched else y
        alpha = self.estimate_curves(x4)
        y = self.apply_curves(x4, alpha)
        if unbatched:
            y, alpha = y.squeeze(0), alpha.squeeze(0)
        return (y, alpha) if return_curves else y

    # -- weights -----------------------------------------------------------------------------
    def _load_weights(self, weights: WeightsArg) -> WeightsEntry | None:
        """Load ``weights``; returns the registry entry when the weights came from one."""
        if weights is None:
            return None
        if isinstance(weights, str) and weights == "default":
            if self.default_weights is None:
                warnings.warn(
                    f"{type(self).__name__} has no shipped weights yet: the model is randomly initialised. "
                    "Pass weights=None to silence this, or weights=PATH to load a checkpoint.",
                    stacklevel=3,
                )
                return None
            weights = self.default_weights
        if isinstance(weights, str) and weights in self.weights_registry:
            weights = self.weights_registry[weights]
        entry: WeightsEntry | None = None
        if isinstance(weights, WeightsEntry):
            entry = weights
            state = load_state_dict(weights.path, sha256=weights.sha256)
            self.weights_name = weights.name
        elif isinstance(weights, (str, os.PathLike)):
            if not Path(weights).is_file():
                known = ", ".join(sorted(self.weights_registry)) or "none yet"
                raise WeightsError(
                    f"weights={str(weights)!r} is neither a registered name ({known}) nor an existing file."
                )
            state = load_state_dict(weights)
            self.weights_name = str(weights)
        else:
            raise WeightsError(
                f"weights must be 'default', None, a registered name, a path or a WeightsEntry; got {type(weights).__name__}."
            )
        if any(k.startswith("e_conv") for k in state):
            raise WeightsError(
                "this checkpoint is in the authors' format (keys 'e_conv*', curve sign flipped): load it with "
                f"{type(self).__name__}.from_official(path)."
            )
        self._load_checked(state)
        return entry

    def _load_checked(self, state: dict[str, Tensor]) -> None:
        own = self.state_dict()
        if set(state) != set(own) or any(state[k].shape != own[k].shape for k in own):
            raise WeightsError(
                f"checkpoint does not fit {type(self).__name__}(iterations={self.iterations}): expected keys "
                f"{sorted(own)[:3]}... with matching shapes; check that the checkpoint is for this model class."
            )
        self.load_state_dict(state)

    @classmethod
    def from_official(cls: type[_Model], path: str | os.PathLike, *, sha256: str | None = "auto", **kwargs: Any) -> _Model:
        """Load the authors' released checkpoint (``Epoch99.pth`` of Zero-DCE or Zero-DCE++).

        The authors' licence (CC BY-NC 4.0) forbids commercial use: this loader exists for
        comparison and research, and the package never ships or defaults to these weights.

        Args:
            path: the authors' ``.pth`` file.
            sha256: expected digest; ``"auto"`` checks the authors' release, ``None`` skips the check
                (for checkpoints retrained with the authors' code).
            **kwargs: passed to the constructor (e.g. ``curve_max_side``; Zero-DCE++: ``scale_factor``,
                the authors use 1 or 12). Zero-DCE's checkpoint has 8 iterations: do not pass ``iterations``.
        """
        digest = OFFICIAL_SHA256[cls._official_name] if sha256 == "auto" else sha256
        model = cls(weights=None, **kwargs)  # type: ignore[call-arg]  # the concrete classes take weights=
        if model._alpha_channels() not in (3, 24):
            raise WeightsError("the authors' Zero-DCE checkpoint has 8 iterations; do not pass iterations.")
        model._load_checked(cls._official_to_ours(load_state_dict(path, sha256=digest)))
        model.weights_name = f"official:{Path(path).name}"
        return model

    @classmethod
    def _official_to_ours(cls, state: dict[str, Tensor]) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        for key, t in state.items():
            key = key.replace("e_conv", "conv").replace("depth_conv", "depthwise").replace("point_conv", "pointwise")
            out[key] = t
        # The authors apply x + r(x^2 - x) = x - r x (1 - x): alpha = -r, and tanh is odd.
        last = "conv7.pointwise" if "conv7.pointwise.weight" in out else "conv7"
        out[f"{last}.weight"] = -out[f"{last}.weight"]
        out[f"{last}.bias"] = -out[f"{last}.bias"]
        return out

    def extra_repr(self) -> str:
        gate = "on" if self.exposure_gate is not None else "off"
        return (
            f"iterations={self.iterations}, curve_max_side={self.curve_max_side}, weights={self.weights_name!r}, "
            f"exposure_gate={gate}"
        )


class ZeroDCE(_CurveEstimator):
    """Zero-DCE: DCE-Net and 8 iterations of pixel-wise light-enhancement curves.

    Seven 3×3 convolutions of 32 channels with ReLU and symmetric skip concatenations
    (3–4, 2–5, 1–6), no down-sampling or normalisation, a tanh output of ``3·iterations``
    channels: 79,416 parameters for 8 iterations.

    Args:
        weights: ``"default"`` (the shipped weights), a registered name, a path to a
            ``.safetensors``/``.pth`` state dict, a :class:`WeightsEntry`, or ``None`` for random init.
        iterations: curve iterations; the network predicts one α map per iteration.
        curve_max_side: if set, curves are estimated on a copy whose longer side is at most this
            many pixels, up-sampled and applied at full resolution (bounded memory on large images).
        validate: check values (finite, in [0, 1]) on every call; costs one host read-back.
        exposure_gate: the parameter-free exposure gate (:mod:`dce_transforms.gate`) that leaves
            well-lit images alone and pulls over-exposed ones down. ``"auto"`` uses the gate registered
            with the weights (the default ``*-adaptive`` entries have one, the older entries, paths and
            ``from_official`` none); ``True`` the class's validated gate; ``None`` off.

    Shape:
        - Input: :math:`(B, 3, H, W)` or :math:`(3, H, W)`, float in [0, 1]
        - Output: same as input

    Example:
        >>> model = ZeroDCE(weights=None)
        >>> sum(p.numel() for p in model.parameters())
        79416
        >>> y, alpha = model(torch.rand(1, 3, 37, 53), return_curves=True)
        >>> tuple(y.shape), tuple(alpha.shape)
        ((1, 3, 37, 53), (1, 24, 37, 53))

    Reference:
        Guo et al., "Zero-Reference Deep Curve Estimation for Low-Light Image Enhancement", CVPR 2020.
    """

    weights_registry: ClassVar[dict[str, WeightsEntry]] = {}
    default_weights: ClassVar[str | None] = None
    _official_name: ClassVar[str] = "zero_dce"

    def __init__(
        self,
        *,
        weights: WeightsArg = "default",
        iterations: int = 8,
        curve_max_side: int | None = None,
        validate: bool = True,
        exposure_gate: GateArg = "auto",
    ) -> None:
        super().__init__(iterations=iterations, curve_max_side=curve_max_side, validate=validate)
        self._build(lambda cin, cout: nn.Conv2d(cin, cout, 3, padding=1), 3 * iterations, weights, exposure_gate)


class ZeroDCEPP(_CurveEstimator):
    """Zero-DCE++: depthwise-separable DCE-Net, one curve map shared by all iterations.

    Curves are estimated on the input down-scaled by ``scale_factor`` (bilinear) and the
    3-channel α map is up-sampled back (bilinear, corners aligned, as the authors do) before the
    curve is applied ``iterations`` times at full resolution. 10,561 parameters.

    Args:
        weights: as for :class:`ZeroDCE`.
        scale_factor: down-scaling factor for curve estimation (1 = full resolution; the
            authors use 12 for large images).
        iterations: curve iterations sharing the single α map.
        curve_max_side: alternatively bound the estimation resolution by the longer side.
        validate: check values on every call.
        exposure_gate: as for :class:`ZeroDCE`.

    Example:
        >>> model = ZeroDCEPP(weights=None, scale_factor=4)
        >>> sum(p.numel() for p in model.parameters())
        10561
        >>> model(torch.rand(3, 64, 96)).shape
        torch.Size([3, 64, 96])

    Reference:
        Li, Guo, Loy, "Learning to Enhance Low-Light Image via Zero-Reference Deep Curve Estimation", TPAMI 2021.
    """

    weights_registry: ClassVar[dict[str, WeightsEntry]] = {}
    default_weights: ClassVar[str | None] = None
    _official_name: ClassVar[str] = "zero_dce_pp"

    def __init__(
        self,
        *,
        weights: WeightsArg = "default",
        scale_factor: float = 1.0,
        iterations: int = 8,
        curve_max_side: int | None = None,
        validate: bool = True,
        exposure_gate: GateArg = "auto",
    ) -> None:
        super().__init__(iterations=iterations, curve_max_side=curve_max_side, validate=validate)
        if (
            isinstance(scale_factor, bool)
            or not isinstance(scale_factor, (int, float))
            or not math.isfinite(scale_factor)
            or scale_factor < 1
        ):
            raise ConfigError(
                f"scale_factor must be a finite number >= 1 (1 = full resolution, the authors use 12 for large "
                f"images), got {scale_factor!r}."
            )
        self.scale_factor = float(scale_factor)
        self._build(_SeparableConv, 3, weights, exposure_gate)

    def scaled_input(self, x: Tensor) -> Tensor:
        """``x`` down-scaled by ``scale_factor`` (bilinear, the authors' rule: each side ``floor(side / s)``)."""
        s = self.scale_factor
        if s == 1:
            return x
        h, w = x.shape[-2:]
        if h >= s and w >= s:
            return F.interpolate(x, scale_factor=1 / s, mode="bilinear", align_corners=False)
        return F.interpolate(x, size=(max(1, int(h / s)), max(1, int(w / s))), mode="bilinear", align_corners=False)

    def predict_curves(self, x: Tensor) -> Tensor:
        """α of ``x``: the network on :meth:`scaled_input`, up-sampled back with corners aligned (as the authors do)."""
        if self.scale_factor == 1:
            return self.network(x)
        return F.interpolate(self.network(self.scaled_input(x)), size=x.shape[-2:], mode="bilinear", align_corners=True)

    def extra_repr(self) -> str:
        return f"scale_factor={self.scale_factor}, " + super().extra_repr()


# -- shipped weights -------------------------------------------------------------------------------
_OUR_LICENSE = "Apache-2.0 (weights trained by the dce_transforms developers)"
_SICE_CREDIT = (
    "trained on 1,801 of the 2,002 SICE Part 1 multi-exposure images (Cai, Gu, Zhang, TIP 2018) as published with "
    "the Zero-DCE++ code; scenes 1802-2002 held out (docs/model_card/sice_holdout.txt)"
)

ZeroDCE.weights_registry = {
    "sice-v1": WeightsEntry(
        name="sice-v1",
        file="zero_dce_sice_v1-97a88f9c.safetensors",
        sha256="97a88f9ca2c971eeb3b8f667d726062b793b586b80f980f35aa5176b5f070adb",
        license=_OUR_LICENSE,
        paper=_PAPER_DCE,
        recipe=(
            "dce-train ../shared/data/train/sice --exclude-list docs/model_card/sice_holdout.txt --model zero-dce "
            "--crop 128 --lr 5e-4 --max-steps 2400 --save-every 200 --workers 1 --seed 0; stopped at step 1000 "
            "(batch 8, about 4.4 epochs, 76 min on 2 shared CPU cores); " + _SICE_CREDIT
        ),
        meta={"steps": 1000, "batch_size": 8, "crop": 128, "lr": 5e-4},
    )
}
_GATE_NOTE = (
    "; with the exposure gate of dce_transforms.gate (no parameters), thresholds chosen on 180 SICE training "
    "frames (docs/model_card/README.md, 'Do no harm')"
)
ZeroDCE.default_gate = GateConfig(brighten_below=0.28, brighten_width=0.05, darken_below=0.18, darken_width=0.2)


def _adaptive(base: WeightsEntry, name: str, gate: GateConfig, paper: str) -> WeightsEntry:
    """A registry entry for ``base``'s file with the exposure gate ``gate`` as a constructor argument."""
    return WeightsEntry(name=name, file=base.file, sha256=base.sha256, license=_OUR_LICENSE, paper=paper,
                        recipe=base.name + _GATE_NOTE, meta=dict(base.meta), kwargs={"exposure_gate": gate})


ZeroDCE.weights_registry["sice-v1-adaptive"] = _adaptive(
    ZeroDCE.weights_registry["sice-v1"], "sice-v1-adaptive", ZeroDCE.default_gate, _PAPER_DCE
)
ZeroDCE.default_weights = "sice-v1-adaptive"

ZeroDCEPP.weights_registry = {
    "sice-v1": WeightsEntry(
        name="sice-v1",
        file="zero_dce_pp_sice_v1-4e5d54c6.safetensors",
        sha256="4e5d54c6488b36d8f893ed278dc21b88032269985402d5c0139ec746bdc907f3",
        license=_OUR_LICENSE,
        paper=_PAPER_DCEPP,
        recipe=(
            "dce-train ../shared/data/train/sice --exclude-list docs/model_card/sice_holdout.txt --model zero-dce++ "
            "--crop 128 --lr 5e-4 --max-steps 2400 --save-every 200 --workers 1 --seed 0; stopped at step 1400 "
            "(batch 8, about 6.2 epochs, 83 min on 2 shared CPU cores); " + _SICE_CREDIT
        ),
        meta={"steps": 1400, "batch_size": 8, "crop": 128, "lr": 5e-4},
    ),
    "sice-v2": WeightsEntry(
        name="sice-v2",
        file="zero_dce_pp_sice_v2-37392f37.safetensors",
        sha256="37392f37cd9813d8d6bede3c9cefee4c689e0471218387ba619a523c981fbff3",
        license=_OUR_LICENSE,
        paper=_PAPER_DCEPP,
        recipe=(
            "sice-v1 continued with dce-train --resume in four stages (batch 8, --exclude-list "
            "docs/model_card/sice_holdout.txt): steps 1400-2500 --crop 128 --lr 5e-4 --tv-weight 1600; "
            "2500-3300 --crop 128 --lr 5e-4 --tv-weight 100; 3300-3750 --crop 256 --lr 2e-4 (TV 400) --seed 5; "
            "3750-3850 --crop 256 --lr 1e-4 (TV 400) --seed 11; step 3850 of about 17 epochs, "
            "about 2.4 h in all on 2 CPU cores (docs/model_card/README.md); " + _SICE_CREDIT
        ),
        meta={"steps": 3850, "batch_size": 8, "crop": 256, "lr": 1e-4},
    ),
}
ZeroDCEPP.default_gate = GateConfig(brighten_below=0.28, brighten_width=0.05, darken_below=0.15, darken_width=0.3)
ZeroDCEPP.weights_registry["sice-v2-adaptive"] = _adaptive(
    ZeroDCEPP.weights_registry["sice-v2"], "sice-v2-adaptive", ZeroDCEPP.default_gate, _PAPER_DCEPP
)
ZeroDCEPP.default_weights = "sice-v2-adaptive"

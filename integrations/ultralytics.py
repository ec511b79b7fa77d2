"""Ultralytics YOLO integration: a Zero-DCE / Zero-DCE++ enhancer in front of any YOLO task model.

The enhancer is a submodule of the task model (:class:`EnhancedDetectionModel`,
:class:`EnhancedSegmentationModel`, :class:`EnhancedPoseModel`, :class:`EnhancedOBBModel`,
:class:`EnhancedClassificationModel`: subclasses of Ultralytics' own model classes), so everything
that runs the model runs the enhancer first: ``predict``, ``val``, ``track``, ``export`` and
training. It sees exactly what the network would see: RGB images in [0, 1], letterboxed (padding
value 114/255) and augmented.

By default (:func:`enhanced_yolo`) the enhancer is Zero-DCE++ whose curves are estimated on a copy
at most :data:`DEFAULT_CURVE_SIDE` pixels on its longer side and applied at full resolution
(:class:`LowResCurves`): a small cost next to the detector's (see the README's YOLO section and
``benchmarks/yolo_cost.py``). ``curve_side=None`` estimates them at full resolution.

Joint fine-tuning (:func:`train_joint`, or plain ``YOLO(...).train(...)`` on an enhanced model) adds
``λ · ZeroReferenceLoss`` on the enhancer's output to the task's own loss, with the letterbox and
mosaic padding masked out, gives the enhancer its own optimizer parameter group (own learning rate,
same warm-up and schedule), lets either part be frozen, logs a ``dce_loss`` column, and writes the
enhancer's weights next to every checkpoint as a standalone safetensors file
(``weights/last_enhancer.safetensors``, ``weights/best_enhancer.safetensors``) that
``ZeroDCE(weights=path)`` / ``ZeroDCEPP(weights=path)`` loads.

Plain Ultralytics training keeps the enhancer: importing this module (which unpickling an enhanced
checkpoint does) makes ``Model.train`` pick the enhanced trainer of the model's task when the model
has an enhancer, so ``YOLO("enhanced.pt").train(data=...)``, ``yolo train model=enhanced.pt`` and
``resume=True`` train detector and enhancer together. A trainer class without the enhancer logic
passed as ``trainer=`` is refused with a message naming the one to use.

Checkpoints pickle the model object, as Ultralytics always does: ``YOLO("best.pt")`` reloads the
enhancer as long as this module is importable (``pip install dce-transforms[ultralytics]``).
With ``ULTRALYTICS_SAFE_LOAD=1`` (``weights_only`` loading) call :func:`allow_safe_load` first.

Multi-GPU: ``train_joint(..., device="0,1")`` uses Ultralytics' own DDP launcher, which pickles the
trainer class (by reference to this importable module) and the model object with cloudpickle and
re-launches a generated script with ``torch.distributed.run``; the joint settings travel inside the
model (``model.joint``), so every rank trains the same way. It needs ``cloudpickle`` installed on
the machine. Freezing the enhancer relies on DDP's ``find_unused_parameters=True`` (Ultralytics'
default unless ``compile=True``).

Ultralytics is AGPL-3.0 licensed; this module is the only part of ``dce_transforms`` that imports it.

Example:
    >>> from dce_transforms.integrations.ultralytics import enhanced_yolo  # doctest: +SKIP
    >>> model = enhanced_yolo("yolo11n-seg.pt")  # fast default: Zero-DCE++, curves at <= 64 px  # doctest: +SKIP
    >>> model.predict("street_at_night.jpg")  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import math
import os
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from ultralytics import YOLO
from ultralytics.engine.model import Model
from ultralytics.models.yolo.classify import ClassificationTrainer
from ultralytics.models.yolo.detect import DetectionTrainer
from ultralytics.models.yolo.obb import OBBTrainer
from ultralytics.models.yolo.pose import PoseTrainer
from ultralytics.models.yolo.segment import SegmentationTrainer
from ultralytics.nn.tasks import (
    ClassificationModel,
    DetectionModel,
    OBBModel,
    PoseModel,
    SegmentationModel,
    load_checkpoint,
)
from ultralytics.utils import LOGGER, RANK
from ultralytics.utils.torch_utils import unwrap_model

from dce_transforms._weights import save_state_dict
from dce_transforms.curves import apply_curves
from dce_transforms.errors import ConfigError
from dce_transforms.losses import zero_reference_loss
from dce_transforms.models import WeightsArg, ZeroDCE, ZeroDCEPP
from dce_transforms.registry import get_model
from dce_transforms.transforms import build_model

__all__ = [
    "DCE_LOSS_NAME",
    "DEFAULT_CURVE_SIDE",
    "DEFAULT_ENHANCER",
    "EnhancedClassificationModel",
    "EnhancedClassificationTrainer",
    "EnhancedDetectionModel",
    "EnhancedDetectionTrainer",
    "EnhancedOBBModel",
    "EnhancedOBBTrainer",
    "EnhancedPoseModel",
    "EnhancedPoseTrainer",
    "EnhancedSegmentationModel",
    "EnhancedSegmentationTrainer",
    "JointConfig",
    "LowResCurves",
    "allow_safe_load",
    "enhanced_yolo",
    "padding_mask",
    "save_enhancer",
    "train_joint",
]

#: Name of the logged loss item (``train/dce_loss`` and ``val/dce_loss`` in ``results.csv``).
DCE_LOSS_NAME = "dce_loss"

#: Enhancer that :func:`enhanced_yolo` builds by name unless told otherwise.
DEFAULT_ENHANCER = "zero-dce++"

#: Longer side (pixels) of the copy on which :func:`enhanced_yolo` estimates the curves by default
#: (:class:`LowResCurves`); None would estimate them at the network's full input resolution.
DEFAULT_CURVE_SIDE = 64

EnhancerArg = str | nn.Module


@dataclass
class JointConfig:
    """Joint fine-tuning settings, stored on the model so that checkpoints and DDP workers carry them.

    Attributes:
        dce_lambda: weight λ of the zero-reference loss relative to the per-image detection loss
            (0 allowed: the enhancer then learns from the detection loss alone).
        enhancer_lr: initial learning rate of the enhancer's parameter group; None uses
            ``enhancer_lr_scale`` × the detector's ``lr0``. Warm-up and the schedule apply to it
            exactly as to the detector's groups.
        enhancer_lr_scale: the enhancer's learning rate as a multiple of the detector's ``lr0`` when
            ``enhancer_lr`` is None. The default 0.1 is the recipe the detection benchmark's recipe
            study picked on its select split (``benchmarks/detection/``; 1.0 was the earlier default).
        freeze_enhancer: keep the enhancer's weights fixed (a cascade with a trained detector).
        freeze_detector: keep every detector layer fixed (BatchNorm statistics included).
        pad_value: letterbox/mosaic padding level in 0-255 (Ultralytics uses 114).
        loss_kwargs: options of :func:`dce_transforms.losses.zero_reference_loss` (weights, patch sizes...).
    """

    dce_lambda: float = 0.1
    enhancer_lr: float | None = None
    enhancer_lr_scale: float = 0.1
    freeze_enhancer: bool = False
    freeze_detector: bool = False
    pad_value: int = 114
    loss_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lam = self.dce_lambda
        if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not math.isfinite(lam) or lam < 0:
            raise ConfigError(f"dce_lambda must be a finite number >= 0 (0 disables the enhancement loss), got {lam!r}.")
        lr = self.enhancer_lr
        if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0):
            raise ConfigError(f"enhancer_lr must be None (use the detector's lr0) or a number > 0, e.g. 1e-4; got {lr!r}.")
        sc = self.enhancer_lr_scale
        if isinstance(sc, bool) or not isinstance(sc, (int, float)) or not math.isfinite(sc) or sc <= 0:
            raise ConfigError(f"enhancer_lr_scale must be a number > 0 (a multiple of lr0, e.g. 0.1); got {sc!r}.")
        if self.freeze_enhancer and self.freeze_detector:
            raise ConfigError("freeze_enhancer and freeze_detector are both set: nothing would train. Unset one.")
        if not (0 <= int(self.pad_value) <= 255):
            raise ConfigError(f"pad_value must be a 0-255 level (Ultralytics pads with 114), got {self.pad_value!r}.")
        self.dce_lambda = float(lam)


def padding_mask(img: Tensor, *, pad_value: int = 114, value_jitter: float = 0.4, tol: float = 1e-3) -> Tensor:
    """Validity mask of a letterboxed / mosaicked Ultralytics batch: 0 on the grey padding, 1 elsewhere.

    Padding is grey (R = G = B) and constant. Its level is ``pad_value`` before augmentation and
    ``pad_value · g`` after the HSV value gain ``g ∈ [1 - value_jitter, 1 + value_jitter]`` (grey
    stays grey under the hue and saturation gains). A pixel is padding when its 3×3 neighbourhood is
    grey, constant within ``tol`` and at such a level; the found regions are then grown by one pixel
    to cover their borders. Real pixels that happen to pass the test are only left out of the
    enhancement loss, which is harmless.

    Args:
        img: ``(B, 3, H, W)`` batch in [0, 1].
        pad_value: padding level in 0-255.
        value_jitter: the run's ``hsv_v`` (0 for validation batches, which are not augmented).
        tol: tolerance of the grey and constancy tests (resampling by multi-scale training).

    Returns:
        ``(B, 1, H, W)`` float mask, 1 = valid image content.

    Example:
        >>> x = torch.full((1, 3, 32, 32), 114 / 255)
        >>> x[..., 8:24, 8:24] = torch.rand(3, 16, 16)
        >>> m = padding_mask(x)
        >>> float(m[0, 0, 16, 16]), float(m[0, 0, 0, 0])
        (1.0, 0.0)
    """
    with torch.no_grad():
        x = img.detach().float()
        grey = ((x[:, 0] - x[:, 1]).abs() <= tol) & ((x[:, 1] - x[:, 2]).abs() <= tol)
        v = torch.where(grey, x[:, 1], torch.full_like(x[:, 1], -1.0)).unsqueeze(1)
        hi = F.max_pool2d(v, 3, stride=1, padding=1)
        lo = -F.max_pool2d(-v, 3, stride=1, padding=1)
        lo_level = (pad_value * (1 - value_jitter) - 1.5) / 255
        hi_level = (pad_value * (1 + value_jitter) + 1.5) / 255
        core = (hi - lo <= tol) & (lo >= lo_level) & (hi <= hi_level)
        pad = F.max_pool2d(core.float(), 3, stride=1, padding=1)
        return (1.0 - pad).to(img.dtype if img.is_floating_point() else torch.float32)


def _arg(args: Any, name: str, default: Any) -> Any:
    if isinstance(args, dict):
        return args.get(name, default)
    return getattr(args, name, default)


# -- the enhancer at a bounded resolution ----------------------------------------------------------------
class LowResCurves(nn.Module):
    """Estimate an enhancer's curves on a small copy of the image and apply them at full resolution.

    The copy's longer side is at most ``max_side`` pixels: box-averaged by an integer factor, then
    resized bilinearly to the exact size (both export to ONNX, unlike anti-aliased resizing). The
    wrapped model runs on that copy through its own ``forward(x, return_curves=True)``; its curve
    maps are up-sampled bilinearly and applied to the full image (in inference, in place: two
    image-sized buffers). Curve maps are smooth, so this costs little accuracy and keeps the
    network's cost independent of the input size; what remains is the curve steps at full resolution.

    Args:
        model: a :class:`~dce_transforms.ZeroDCE` or :class:`~dce_transforms.ZeroDCEPP` (built
            without ``curve_max_side``; this module does the bounding).
        max_side: longer side of the estimation copy, >= 8; inputs already this small run at their
            own size.

    Example:
        >>> enh = LowResCurves(ZeroDCEPP(weights=None, validate=False), max_side=32)
        >>> y, alpha = enh(torch.rand(1, 3, 96, 64), return_curves=True)
        >>> tuple(y.shape), tuple(alpha.shape)
        ((1, 3, 96, 64), (1, 3, 96, 64))
    """

    def __init__(self, model: nn.Module, max_side: int = DEFAULT_CURVE_SIDE) -> None:
        super().__init__()
        if isinstance(max_side, bool) or not isinstance(max_side, int) or max_side < 8:
            raise ConfigError(f"curve_side must be None (full resolution) or an integer >= 8, e.g. 64; got {max_side!r}.")
        if not isinstance(model, (ZeroDCE, ZeroDCEPP)):
            raise ConfigError(
                f"curve_side bounds the curves of a ZeroDCE/ZeroDCEPP enhancer, got {type(model).__name__}; "
                "pass curve_side=None for other modules."
            )
        if getattr(model, "curve_max_side", None) is not None:
            raise ConfigError("pass either curve_side (exportable) or the model's curve_max_side, not both.")
        self.model = model
        self.max_side = max_side

    @property
    def iterations(self) -> int:
        """Curve iterations of the wrapped model."""
        return int(self.model.iterations)

    def reset_to_identity(self) -> LowResCurves:
        """Make the wrapped model the identity (see ``ZeroDCE.reset_to_identity``)."""
        self.model.reset_to_identity()
        return self

    def small_copy(self, x: Tensor) -> Tensor:
        """The copy the curves are estimated on (``x`` itself when it is small enough)."""
        h, w = int(x.shape[-2]), int(x.shape[-1])
        side = max(h, w)
        if side <= self.max_side:
            return x
        k = side // self.max_side
        small = F.avg_pool2d(x, k, stride=k) if k > 1 else x
        size = self.model.curve_size(h, w, self.max_side)  # the package's one size rule
        if tuple(small.shape[-2:]) != size:
            small = F.interpolate(small, size=size, mode="bilinear", align_corners=False)
        return small

    def forward(self, x: Tensor, *, return_curves: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Enhance ``(B, 3, H, W)`` images; ``return_curves`` also returns the full-resolution α maps."""
        _, alpha = self.model(self.small_copy(x), return_curves=True)
        alpha = alpha.to(x.dtype)
        if not return_curves:  # the model's own curve step (in place, one map at a time, in inference)
            return self.model.apply_curves(x, alpha)
        alpha = F.interpolate(alpha, size=x.shape[-2:], mode="bilinear", align_corners=False)
        y = apply_curves(x, alpha, iterations=self.iterations)
        return (y, alpha) if return_curves else y

    def extra_repr(self) -> str:
        return f"max_side={self.max_side}"


def _inner_enhancer(module: nn.Module) -> nn.Module:
    return module.model if isinstance(module, LowResCurves) else module


def default_enhancer() -> nn.Module:
    """The enhancer :func:`enhanced_yolo` builds by default: shipped Zero-DCE++, curves at <= 64 px."""
    return LowResCurves(get_model("zero-dce++", weights="default", validate=False), DEFAULT_CURVE_SIDE)


# -- the models -----------------------------------------------------------------------------------------
class _EnhancerMixin:
    """Enhancer logic shared by every enhanced task model (put first in the bases)."""

    #: The task loss is multiplied by the batch size (detection-style criteria); classification's is a mean.
    _loss_scales_with_batch: bool = True

    def __init__(self, *args: Any, enhancer: nn.Module | None = None, **kwargs: Any) -> None:
        ch = kwargs.get("ch", args[1] if len(args) > 1 else 3)
        if ch != 3:
            raise ConfigError(f"the enhancer works on RGB images: ch must be 3, got {ch}.")
        super().__init__(*args, **kwargs)
        self.enhancer = enhancer if enhancer is not None else default_enhancer()
        self.joint = JointConfig()

    @classmethod
    def from_model(cls, model: nn.Module, enhancer: nn.Module) -> Any:
        """Turn a built Ultralytics task model into the enhanced one in place (weights, names and args kept).

        Raises:
            ConfigError: the model already has an enhancer, or is of a kind without an enhanced class.
        """
        if isinstance(model, _EnhancerMixin):
            raise ConfigError("the model already has an enhancer; replace it with `model.enhancer = new_module`.")
        target = _ENHANCED_CLASSES.get(type(model))
        if target is None:
            kinds = ", ".join(sorted(t.__name__ for t in _ENHANCED_CLASSES))
            raise ConfigError(
                f"{type(model).__name__} cannot take an enhancer: supported are {kinds} (YOLO detect, segment, pose, "
                "obb and classify models, e.g. 'yolo11n-seg.pt', 'yolov8n-pose.yaml')."
            )
        if cls is not _EnhancerMixin and target is not cls:
            raise ConfigError(f"{cls.__name__} takes a {cls.__mro__[2].__name__}, got {type(model).__name__}; "
                              f"use {target.__name__}.from_model or enhanced_yolo(...).")
        if not isinstance(enhancer, nn.Module):
            raise ConfigError(f"enhancer must be a torch.nn.Module, got {type(enhancer).__name__}.")
        p = next(model.parameters())
        model.__class__ = target
        model.enhancer = enhancer.to(device=p.device, dtype=p.dtype)
        model.joint = JointConfig()  # type: ignore[assignment]  # a plain attribute, not a submodule
        return model

    # -- forward ----------------------------------------------------------------------------------
    def enhance(self, x: Tensor, *, return_curves: bool = False) -> Any:
        """Run the enhancer (identity while the network is being built, before it exists)."""
        enhancer = self._modules.get("enhancer")  # type: ignore[attr-defined]
        if enhancer is None:
            return (x, None) if return_curves else x
        if not return_curves:
            return enhancer(x)
        try:
            return enhancer(x, return_curves=True)
        except TypeError as err:
            raise ConfigError(
                f"{type(enhancer).__name__} cannot return its curve maps (forward(x, return_curves=True)), which "
                "the zero-reference loss needs: use a ZeroDCE/ZeroDCEPP enhancer or train with dce_lambda=0."
            ) from err

    def _predict_once(self, x: Tensor, profile: bool = False, embed: Any = None) -> Any:
        """Enhance, then run the network's layers (every inference path goes through here)."""
        return super()._predict_once(self.enhance(x), profile, embed)  # type: ignore[misc]

    def _network_once(self, x: Tensor) -> Any:
        return super()._predict_once(x)  # type: ignore[misc]

    # -- training ---------------------------------------------------------------------------------
    def loss(self, batch: dict, preds: Any = None) -> tuple[Tensor, dict[str, Tensor]]:
        """The task's own loss plus ``λ · ZeroReferenceLoss`` of the enhancer, padding masked.

        Returns:
            ``(loss, items)``: ``loss`` is the criterion's loss (for detect, segment, pose and OBB a vector
            already multiplied by the batch size, as Ultralytics does) with one more element,
            ``λ · L_dce`` (times the batch size where the task loss is); ``items`` adds ``dce_loss``
            (``λ · L_dce``, comparable with the per-image ``box_loss``...).
        """
        if getattr(self, "criterion", None) is None:
            self.criterion = self.init_criterion()  # type: ignore[attr-defined]
        joint = getattr(self, "joint", None) or JointConfig()
        img = batch["img"]
        lam = joint.dce_lambda
        enhanced = alpha = None
        if preds is None:
            if lam > 0:
                enhanced, alpha = self.enhance(img, return_curves=True)
            else:
                enhanced = self.enhance(img)
            preds = self._network_once(enhanced)
        elif lam > 0:  # validation during training, or compile=True: the network already ran
            enhanced, alpha = self.enhance(img, return_curves=True)
        task_loss, items = self.criterion(preds, batch)
        items = dict(items) if isinstance(items, dict) else {"loss": items}
        ref = next(iter(items.values())) if items else task_loss.detach()
        scale = img.shape[0] if self._loss_scales_with_batch else 1
        if lam > 0 and alpha is not None:
            # The padding level moves with the run's HSV value gain (hsv_v); un-augmented batches pad with
            # exactly pad_value, which lies inside the accepted range too.
            jitter = float(_arg(getattr(self, "args", None), "hsv_v", 0.4) or 0.0)
            mask = padding_mask(img, pad_value=joint.pad_value, value_jitter=jitter)
            dce, _ = zero_reference_loss(cast(Tensor, enhanced), img, alpha, mask=mask, **joint.loss_kwargs)
            weighted = lam * dce
            extra = (weighted * scale).to(task_loss.dtype)
            items[DCE_LOSS_NAME] = weighted.detach().to(ref.dtype)
        else:
            extra = task_loss.new_zeros(())
            items[DCE_LOSS_NAME] = torch.zeros_like(ref)
        total = task_loss + extra if task_loss.ndim == 0 else torch.cat([task_loss.reshape(-1), extra.reshape(1)])
        return total, items


class EnhancedDetectionModel(_EnhancerMixin, DetectionModel):
    """A YOLO ``DetectionModel`` whose input first goes through a low-light enhancer.

    Every forward pass (prediction, validation, training, tracing for export) runs
    ``enhancer(x)`` and feeds the result to the detector. Training through :meth:`loss` also adds
    the weighted zero-reference loss of the enhancer (see :class:`JointConfig`).

    Args:
        cfg: model YAML path or dict, as for ``DetectionModel``.
        ch: input channels (must be 3: the enhancer works on RGB).
        nc: number of classes.
        verbose: print the model summary.
        enhancer: the enhancer module; None builds :func:`default_enhancer`.

    Attributes:
        enhancer: the enhancer submodule (its parameters are named ``enhancer.*``).
        joint: the :class:`JointConfig` used by :meth:`loss` and the enhanced trainers.
    """

    @classmethod
    def from_detection_model(cls, model: DetectionModel, enhancer: nn.Module) -> EnhancedDetectionModel:
        """Turn a built ``DetectionModel`` into an enhanced one in place (kept for compatibility: see ``from_model``)."""
        return cls.from_model(model, enhancer)


class EnhancedSegmentationModel(_EnhancerMixin, SegmentationModel):
    """``SegmentationModel`` with an enhancer in front (see :class:`EnhancedDetectionModel`)."""


class EnhancedPoseModel(_EnhancerMixin, PoseModel):
    """``PoseModel`` with an enhancer in front (see :class:`EnhancedDetectionModel`)."""


class EnhancedOBBModel(_EnhancerMixin, OBBModel):
    """``OBBModel`` (oriented boxes) with an enhancer in front (see :class:`EnhancedDetectionModel`)."""


class EnhancedClassificationModel(_EnhancerMixin, ClassificationModel):
    """``ClassificationModel`` with an enhancer in front (see :class:`EnhancedDetectionModel`).

    Classification batches are resized and cropped, not letterboxed: the padding mask finds nothing there.
    """

    _loss_scales_with_batch = False


#: Plain Ultralytics model class -> its enhanced subclass (exact types: YOLO-World, YOLOE... are not included).
_ENHANCED_CLASSES: dict[type, type] = {
    DetectionModel: EnhancedDetectionModel,
    SegmentationModel: EnhancedSegmentationModel,
    PoseModel: EnhancedPoseModel,
    OBBModel: EnhancedOBBModel,
    ClassificationModel: EnhancedClassificationModel,
}


# -- building -----------------------------------------------------------------------------------------
def _build_enhancer(
    enhancer: EnhancerArg, weights: WeightsArg, identity_init: bool, curve_side: int | None, **kwargs: Any
) -> nn.Module:
    if isinstance(enhancer, nn.Module):
        if weights not in (None, "default"):
            raise ConfigError("weights= applies to an enhancer built by name; load them into your module yourself.")
        module = enhancer
    elif isinstance(enhancer, str):
        kwargs.setdefault("validate", False)  # the network's inputs are well-formed; skip the host read-back
        module = build_model(enhancer, weights=weights, **kwargs)
        if curve_side is not None:
            module = LowResCurves(module, curve_side)
    else:
        raise ConfigError(f"enhancer must be 'zero-dce', 'zero-dce++' or an nn.Module, got {type(enhancer).__name__}.")
    if identity_init:
        reset = getattr(module, "reset_to_identity", None)
        if reset is None:
            raise ConfigError(f"{type(module).__name__} has no reset_to_identity(); identity_init needs ZeroDCE/ZeroDCEPP.")
        reset()
    return module


def enhanced_yolo(
    model: str | os.PathLike | YOLO,
    *,
    enhancer: EnhancerArg = DEFAULT_ENHANCER,
    weights: WeightsArg = "default",
    identity_init: bool = False,
    curve_side: int | None = DEFAULT_CURVE_SIDE,
    **enhancer_kwargs: Any,
) -> YOLO:
    """Attach a Zero-DCE / Zero-DCE++ enhancer in front of a YOLO detect, segment, pose, OBB or classify model.

    Args:
        model: a YAML (``"yolov8n-seg.yaml"``), a ``.pt`` checkpoint, or a ``YOLO`` object (modified in place
            and returned).
        enhancer: ``"zero-dce++"`` (default), ``"zero-dce"`` or a module taking and returning ``(B, 3, H, W)``
            images in [0, 1] (``forward(x, return_curves=True)`` is needed for the enhancement loss).
        weights: enhancer weights when built by name: ``"default"`` (shipped), None (random), a path.
        identity_init: zero the enhancer's last layer so that it starts as the identity: the
            network's outputs are then exactly unchanged until training moves it.
        curve_side: estimate the curves of a named enhancer on a copy at most this many pixels on its
            longer side (:class:`LowResCurves`; default 64, about the authors' ``scale_factor=12`` on
            large photos, and a small cost next to the detector's); None
            estimates them at the network's full input resolution (several times slower on a CPU).
        **enhancer_kwargs: constructor options of a named enhancer (``scale_factor``, ``iterations``...).

    Returns:
        The ``YOLO`` object whose ``.model`` is the enhanced task model.

    Raises:
        ConfigError: an unsupported model kind, already enhanced, or a bad enhancer.
    """
    yolo = model if isinstance(model, YOLO) else YOLO(os.fspath(model))
    if enhancer_kwargs.get("curve_max_side") is not None:
        curve_side = None  # the caller chose the model's own bounded path (not ONNX-exportable)
    module = _build_enhancer(enhancer, weights, identity_init, curve_side, **enhancer_kwargs)
    _EnhancerMixin.from_model(cast(nn.Module, yolo.model), module)
    yolo.predictor = None  # a cached predictor wraps the previous module
    return yolo


def save_enhancer(model: nn.Module | YOLO, path: str | os.PathLike) -> str:
    """Write the enhancer of an enhanced YOLO model as a standalone safetensors file; return its sha256.

    The file loads with ``ZeroDCE(weights=path)`` (or ``ZeroDCEPP(weights=path, scale_factor=...)``,
    the scale factor is recorded in the file's metadata, as is ``curve_side`` for a :class:`LowResCurves`).
    """
    det = model.model if isinstance(model, YOLO) else unwrap_model(model)
    enhancer = getattr(det, "enhancer", None)
    if enhancer is None:
        raise ConfigError("this model has no enhancer: build it with enhanced_yolo(...).")
    inner = _inner_enhancer(enhancer)
    meta = {"format": "dce_transforms", "class": type(inner).__name__}
    for key in ("iterations", "scale_factor", "curve_max_side"):
        if hasattr(inner, key):
            meta[key] = str(getattr(inner, key))
    if isinstance(enhancer, LowResCurves):
        meta["curve_side"] = str(enhancer.max_side)
    state = {k: v.float() for k, v in inner.state_dict().items()}
    return save_state_dict(state, path, metadata=meta)


# -- training -----------------------------------------------------------------------------------------
class _EnhancedTrainerMixin:
    """Enhancer logic shared by the enhanced trainers (put first in the bases).

    On top of Ultralytics' task trainer: the model is the enhanced task model (the enhancer and joint
    settings copied from the weights, or from the in-memory model ``Model.train`` was called on); the
    enhancer's parameters form their own optimizer group (``param_group="enhancer"``, learning rate
    ``joint.enhancer_lr``, no weight decay) that follows the same warm-up and schedule;
    ``freeze_detector`` freezes all network layers through Ultralytics' own ``freeze`` mechanism;
    ``freeze_enhancer`` freezes the enhancer; after every checkpoint the EMA enhancer is written to
    ``weights/{last,best}_enhancer.safetensors``.
    """

    #: In-memory model whose enhancer is used when the weights carry none (set by the ``Model.train`` hook).
    source_model: nn.Module | None = None

    def get_model(self, cfg: Any = None, weights: Any = None, verbose: bool = True) -> Any:
        """Build the task's model as Ultralytics does, then put the enhancer (and settings) of ``weights`` in front."""
        src = unwrap_model(weights) if isinstance(weights, nn.Module) else None
        if not isinstance(src, _EnhancerMixin) and isinstance(self.source_model, _EnhancerMixin):
            src = self.source_model
        if isinstance(src, _EnhancerMixin):
            enhancer = deepcopy(src.enhancer).float()
            joint = deepcopy(getattr(src, "joint", None) or JointConfig())
        else:
            enhancer, joint = default_enhancer(), JointConfig()
        model = super().get_model(cfg=cfg, weights=weights, verbose=verbose)  # type: ignore[misc]
        _EnhancerMixin.from_model(model, enhancer)
        model.joint = joint
        return model

    def _joint(self) -> JointConfig:
        return getattr(unwrap_model(self.model), "joint", None) or JointConfig()  # type: ignore[attr-defined]

    def setup_model(self):
        """Set up the model as Ultralytics does, then map ``freeze_detector`` onto Ultralytics' ``freeze``."""
        ckpt = super().setup_model()  # type: ignore[misc]
        model = unwrap_model(self.model)  # type: ignore[attr-defined]
        if not isinstance(model, _EnhancerMixin):
            raise ConfigError(
                f"{type(self).__name__} needs an enhanced model, got {type(model).__name__}; "
                "build it with enhanced_yolo(...) or train with train_joint(...)."
            )
        if self._joint().freeze_detector:
            self.args.freeze = list(range(len(model.model)))  # type: ignore[attr-defined]
        return ckpt

    def _setup_train(self) -> None:
        super()._setup_train()  # type: ignore[misc]
        if self._joint().freeze_enhancer:
            names: list[str] = list(getattr(self, "freeze_layer_names", []))  # set by Ultralytics' _setup_train
            self.freeze_layer_names = [*names, "enhancer."]
            for name, p in unwrap_model(self.model).named_parameters():  # type: ignore[attr-defined]
                if name.startswith("enhancer."):
                    p.requires_grad_(False)
            LOGGER.info("Freezing the enhancer ('enhancer.*')")

    def build_optimizer(self, model, name="auto", lr=0.001, momentum=0.9, decay=1e-5, iterations=1e5):
        """Ultralytics' optimizer with the enhancer's parameters moved to their own group."""
        optimizer = super().build_optimizer(  # type: ignore[misc]
            model, name=name, lr=lr, momentum=momentum, decay=decay, iterations=iterations
        )
        enhancer = getattr(unwrap_model(model), "enhancer", None)
        if enhancer is None:
            return optimizer
        params = list(enhancer.parameters())
        ids = {id(p) for p in params}
        for group in optimizer.param_groups:
            group["params"] = [p for p in group["params"] if id(p) not in ids]
        joint = self._joint()
        enhancer_lr = joint.enhancer_lr or joint.enhancer_lr_scale * self.args.lr0  # type: ignore[attr-defined]
        optimizer.add_param_group({"params": params, "lr": enhancer_lr, "weight_decay": 0.0, "param_group": "enhancer"})
        LOGGER.info(f"optimizer: enhancer parameter group of {len(params)} tensors, lr={enhancer_lr}, weight_decay=0.0")
        return optimizer

    def save_model(self) -> bool:
        """Save the Ultralytics checkpoints, then the EMA enhancer as standalone safetensors files."""
        saved = super().save_model()  # type: ignore[misc]
        if saved is not False:  # some Ultralytics versions return None after saving
            save_enhancer(self.ema.ema, self.wdir / "last_enhancer.safetensors")  # type: ignore[attr-defined]
            if self.best_fitness == self.fitness:  # type: ignore[attr-defined]
                save_enhancer(self.ema.ema, self.wdir / "best_enhancer.safetensors")  # type: ignore[attr-defined]
        return saved


class EnhancedDetectionTrainer(_EnhancedTrainerMixin, DetectionTrainer):
    """Ultralytics ``DetectionTrainer`` for an :class:`EnhancedDetectionModel` trained jointly.

    Picked automatically by ``YOLO(...).train(...)`` for an enhanced detection model, and used by
    :func:`train_joint`. Its settings are read from the model's ``joint`` (:class:`JointConfig`); a
    plain detection checkpoint gets :func:`default_enhancer` and default settings.
    """


class EnhancedSegmentationTrainer(_EnhancedTrainerMixin, SegmentationTrainer):
    """``SegmentationTrainer`` for an :class:`EnhancedSegmentationModel` (see :class:`EnhancedDetectionTrainer`)."""


class EnhancedPoseTrainer(_EnhancedTrainerMixin, PoseTrainer):
    """``PoseTrainer`` for an :class:`EnhancedPoseModel` (see :class:`EnhancedDetectionTrainer`)."""


class EnhancedOBBTrainer(_EnhancedTrainerMixin, OBBTrainer):
    """``OBBTrainer`` for an :class:`EnhancedOBBModel` (see :class:`EnhancedDetectionTrainer`)."""


class EnhancedClassificationTrainer(_EnhancedTrainerMixin, ClassificationTrainer):
    """``ClassificationTrainer`` for an :class:`EnhancedClassificationModel` (see :class:`EnhancedDetectionTrainer`)."""


#: Ultralytics task name -> enhanced trainer.
TRAINERS: dict[str, type] = {
    "detect": EnhancedDetectionTrainer,
    "segment": EnhancedSegmentationTrainer,
    "pose": EnhancedPoseTrainer,
    "obb": EnhancedOBBTrainer,
    "classify": EnhancedClassificationTrainer,
}


def _trainer_for(yolo: Model, trainer: Any) -> Any:
    """The enhanced trainer for ``yolo``'s task, as a factory that hands the in-memory model over."""
    task = getattr(yolo, "task", None)
    cls = TRAINERS.get(task)  # type: ignore[arg-type]
    if cls is None:
        raise ConfigError(f"no enhanced trainer for task {task!r}; supported: {', '.join(TRAINERS)}.")
    if trainer is not None:
        if not (isinstance(trainer, type) and issubclass(trainer, _EnhancedTrainerMixin)):
            name = getattr(trainer, "__name__", type(trainer).__name__)
            raise ConfigError(
                f"trainer={name} would train this enhanced model without its enhancer. Pass "
                f"trainer={cls.__name__} (dce_transforms.integrations.ultralytics), a subclass of it, or no "
                "trainer at all, or use train_joint(...)."
            )
        cls = trainer
    source = yolo.model

    def make(*args: Any, **kwargs: Any) -> Any:
        t = cls(*args, **kwargs)
        t.source_model = source
        return t

    make.__name__ = cls.__name__
    return make


def _install_train_hook() -> None:
    """Make ``Model.train`` pick the enhanced trainer for enhanced models (idempotent)."""
    original = Model.train
    if getattr(original, "_dce_transforms_hook", False):
        return

    @functools.wraps(original)
    def train(self: Model, trainer: Any = None, **kwargs: Any) -> Any:
        inner = getattr(self, "model", None)
        if isinstance(inner, nn.Module) and isinstance(unwrap_model(inner), _EnhancerMixin):
            if isinstance(kwargs.get("data"), (list, tuple)):
                raise ConfigError(
                    "training an enhanced model on a list of datasets is not supported (Ultralytics' MultiTrainer "
                    "would drop the enhancer); train on one dataset at a time, e.g. with train_joint(...)."
                )
            trainer = _trainer_for(self, trainer)
        return original(self, trainer=trainer, **kwargs)

    train._dce_transforms_hook = True  # type: ignore[attr-defined]
    Model.train = train  # type: ignore[method-assign]


_install_train_hook()


def train_joint(
    model: str | os.PathLike | YOLO,
    *,
    data: str | os.PathLike,
    dce_lambda: float = 0.1,
    enhancer_lr: float | None = None,
    enhancer_lr_scale: float = 0.1,
    freeze_enhancer: bool = False,
    freeze_detector: bool = False,
    loss_kwargs: dict[str, Any] | None = None,
    enhancer: EnhancerArg = DEFAULT_ENHANCER,
    enhancer_weights: WeightsArg = "default",
    identity_init: bool = False,
    curve_side: int | None = DEFAULT_CURVE_SIDE,
    **train_kwargs: Any,
) -> YOLO:
    """Fine-tune an enhancer and a YOLO task model (detect, segment, pose, OBB, classify) jointly.

    Loss = the task's own loss + ``dce_lambda`` · zero-reference loss of the enhancer's output (padding
    masked). AMP, EMA, warm-up, schedules, augmentation, checkpoints and logging are Ultralytics'
    own; pass any of its training options (``epochs``, ``imgsz``, ``batch``, ``device``, ``amp``...).
    ``YOLO(enhanced).train(...)`` trains the same way with the settings already on the model.

    Args:
        model: an enhanced ``YOLO`` (:func:`enhanced_yolo`), a plain ``YOLO``, a ``.pt`` or a YAML;
            a model without an enhancer gets one built from ``enhancer``, ``enhancer_weights``,
            ``identity_init`` and ``curve_side``.
        data: dataset YAML (or folder, for classification) in Ultralytics' format.
        dce_lambda: weight of the enhancement loss relative to the per-image task loss (>= 0).
        enhancer_lr: the enhancer's learning rate (None: ``enhancer_lr_scale`` × the detector's ``lr0``).
        enhancer_lr_scale: see :class:`JointConfig` (default 0.1, picked by the benchmark's recipe study).
        freeze_enhancer: keep the enhancer fixed (train the network behind it).
        freeze_detector: keep the network fixed (train the enhancer for it).
        loss_kwargs: options of :func:`dce_transforms.losses.zero_reference_loss`.
        enhancer, enhancer_weights, identity_init, curve_side: how to build a missing enhancer
            (see :func:`enhanced_yolo`).
        **train_kwargs: Ultralytics training options.

    Returns:
        The ``YOLO`` object, its ``.model`` reloaded from the best checkpoint, with ``.trainer``
        and ``.metrics`` set. ``yolo.trainer.best`` is the checkpoint path; the enhancer alone is in
        ``yolo.trainer.wdir / "best_enhancer.safetensors"``.
    """
    joint = JointConfig(
        dce_lambda=dce_lambda,
        enhancer_lr=enhancer_lr,
        enhancer_lr_scale=enhancer_lr_scale,
        freeze_enhancer=freeze_enhancer,
        freeze_detector=freeze_detector,
        loss_kwargs=dict(loss_kwargs or {}),
    )
    for key in ("trainer", "model", "task", "mode"):
        if key in train_kwargs:
            raise ConfigError(f"train_joint sets {key!r} itself; remove it from the training options.")
    yolo = model if isinstance(model, YOLO) else YOLO(os.fspath(model))
    if not isinstance(yolo.model, _EnhancerMixin):
        enhanced_yolo(yolo, enhancer=enhancer, weights=enhancer_weights, identity_init=identity_init,
                      curve_side=curve_side)
    net: Any = yolo.model  # Ultralytics types it loosely (str | Model | None); here it is the enhanced model
    net.joint = joint
    task = yolo.task
    if task not in TRAINERS:
        raise ConfigError(f"no enhanced trainer for task {task!r}; supported: {', '.join(TRAINERS)}.")
    args = {**yolo.overrides, "data": str(data), "task": task, **train_kwargs, "mode": "train"}
    args.setdefault("model", yolo.overrides.get("model") or net.yaml.get("yaml_file") or "yolov8n.yaml")
    trainer = TRAINERS[task](overrides=args, _callbacks=yolo.callbacks)
    trainer.source_model = net
    if not args.get("resume"):
        # Always hand the in-memory model over (Ultralytics' own train() drops it for YAML-built models).
        trainer.model = trainer.get_model(cfg=net.yaml, weights=net)
        yolo.model = trainer.model
    yolo.trainer = trainer
    trainer.train()
    if RANK in (-1, 0):
        ckpt = trainer.best if trainer.best.exists() else trainer.last
        if not ckpt.exists():
            raise FileNotFoundError(f"training finished but wrote no checkpoint ({trainer.best} or {trainer.last}).")
        loaded: Any
        loaded, yolo.ckpt = load_checkpoint(ckpt)
        yolo.model = loaded
        yolo.overrides = yolo._reset_ckpt_args(loaded.args)
        yolo.overrides["model"] = str(ckpt)
        yolo.ckpt_path = str(ckpt)  # type: ignore[assignment]  # Ultralytics initialises it to None
        yolo.predictor = None
        yolo.metrics = getattr(trainer.validator, "metrics", None)
    return yolo


def allow_safe_load() -> None:
    """Allow this package's classes in ``torch.load(weights_only=True)`` (``ULTRALYTICS_SAFE_LOAD=1``).

    Ultralytics' restricted loader accepts only its own classes; call this once per process before
    ``YOLO("enhanced.pt")`` when that mode is on.
    """
    from dce_transforms.models import _SeparableConv

    torch.serialization.add_safe_globals(
        [*_ENHANCED_CLASSES.values(), JointConfig, LowResCurves, ZeroDCE, ZeroDCEPP, _SeparableConv]
    )

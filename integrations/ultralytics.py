"""Ultralytics YOLO integration: a Zero-DCE / Zero-DCE++ enhancer in front of a YOLO detector.

The enhancer is a submodule of the detection model (:class:`EnhancedDetectionModel`, a subclass of
Ultralytics' ``DetectionModel``), so everything that runs the model runs the enhancer first:
``predict``, ``val``, ``track``, ``export`` and training. It sees exactly what the detector would
see: RGB images in [0, 1], letterboxed (padding value 114/255) and augmented.

Joint fine-tuning (:func:`train_joint`, :class:`EnhancedDetectionTrainer`) adds
``λ · ZeroReferenceLoss`` on the enhancer's output to the detection loss, with the letterbox and
mosaic padding masked out, gives the enhancer its own optimizer parameter group (own learning rate,
same warm-up and schedule), lets either part be frozen, logs a ``dce_loss`` column, and writes the
enhancer's weights next to every checkpoint as a standalone safetensors file
(``weights/last_enhancer.safetensors``, ``weights/best_enhancer.safetensors``) that
``ZeroDCE(weights=path)`` loads.

Checkpoints pickle the model object, as Ultralytics always does: ``YOLO("best.pt")`` reloads the
enhancer as long as this module is importable (``pip install dce-transforms[ultralytics]``).
With ``ULTRALYTICS_SAFE_LOAD=1`` (``weights_only`` loading) call :func:`allow_safe_load` first.

Multi-GPU: ``train_joint(..., device="0,1")`` uses Ultralytics' own DDP launcher, which pickles the
trainer class (by reference to this importable module) and the model object with cloudpickle and
re-launches a generated script with ``torch.distributed.run``; the joint settings travel inside the
model (:attr:`EnhancedDetectionModel.joint`), so every rank trains the same way. It needs
``cloudpickle`` installed on the machine. Freezing the enhancer relies on DDP's
``find_unused_parameters=True`` (Ultralytics' default unless ``compile=True``).

Ultralytics is AGPL-3.0 licensed; this module is the only part of ``dce_transforms`` that imports it.

Example:
    >>> from dce_transforms.integrations.ultralytics import enhanced_yolo  # doctest: +SKIP
    >>> model = enhanced_yolo("yolo11n.pt", enhancer="zero-dce++", identity_init=True)  # doctest: +SKIP
    >>> model.predict("street_at_night.jpg")  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from ultralytics import YOLO
from ultralytics.models.yolo.detect import DetectionTrainer
from ultralytics.nn.tasks import DetectionModel, load_checkpoint
from ultralytics.utils import LOGGER, RANK
from ultralytics.utils.torch_utils import unwrap_model

from dce_transforms._weights import save_state_dict
from dce_transforms.errors import ConfigError
from dce_transforms.losses import zero_reference_loss
from dce_transforms.models import WeightsArg, ZeroDCE, ZeroDCEPP
from dce_transforms.transforms import build_model

__all__ = [
    "DCE_LOSS_NAME",
    "EnhancedDetectionModel",
    "EnhancedDetectionTrainer",
    "JointConfig",
    "allow_safe_load",
    "enhanced_yolo",
    "padding_mask",
    "save_enhancer",
    "train_joint",
]

#: Name of the logged loss item (``train/dce_loss`` and ``val/dce_loss`` in ``results.csv``).
DCE_LOSS_NAME = "dce_loss"

EnhancerArg = Union[str, nn.Module]


@dataclass
class JointConfig:
    """Joint fine-tuning settings, stored on the model so that checkpoints and DDP workers carry them.

    Attributes:
        dce_lambda: weight λ of the zero-reference loss relative to the per-image detection loss
            (0 allowed: the enhancer then learns from the detection loss alone).
        enhancer_lr: initial learning rate of the enhancer's parameter group; None uses the
            detector's ``lr0`` (after ``optimizer=auto`` has picked it). Warm-up and the schedule
            apply to it exactly as to the detector's groups.
        freeze_enhancer: keep the enhancer's weights fixed (a cascade with a trained detector).
        freeze_detector: keep every detector layer fixed (BatchNorm statistics included).
        pad_value: letterbox/mosaic padding level in 0-255 (Ultralytics uses 114).
        loss_kwargs: options of :func:`dce_transforms.losses.zero_reference_loss` (weights, patch sizes...).
    """

    dce_lambda: float = 0.1
    enhancer_lr: float | None = None
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


class EnhancedDetectionModel(DetectionModel):
    """A YOLO ``DetectionModel`` whose input first goes through a low-light enhancer.

    Every forward pass (prediction, validation, training, tracing for export) runs
    ``enhancer(x)`` and feeds the result to the detector. Training through :meth:`loss` also adds
    the weighted zero-reference loss of the enhancer (see :class:`JointConfig`).

    Args:
        cfg: model YAML path or dict, as for ``DetectionModel``.
        ch: input channels (must be 3: the enhancer works on RGB).
        nc: number of classes.
        verbose: print the model summary.
        enhancer: the enhancer module; None builds ``ZeroDCE(weights="default")``.

    Attributes:
        enhancer: the enhancer submodule (its parameters are named ``enhancer.*``).
        joint: the :class:`JointConfig` used by :meth:`loss` and :class:`EnhancedDetectionTrainer`.
    """

    def __init__(
        self,
        cfg: str | dict = "yolov8n.yaml",
        ch: int = 3,
        nc: int | None = None,
        verbose: bool = True,
        *,
        enhancer: nn.Module | None = None,
    ) -> None:
        if ch != 3:
            raise ConfigError(f"the enhancer works on RGB images: ch must be 3, got {ch}.")
        super().__init__(cfg, ch=ch, nc=nc, verbose=verbose)
        self.enhancer = enhancer if enhancer is not None else ZeroDCE(weights="default", validate=False)
        self.joint = JointConfig()

    @classmethod
    def from_detection_model(cls, model: DetectionModel, enhancer: nn.Module) -> "EnhancedDetectionModel":
        """Turn a built ``DetectionModel`` into an enhanced one in place (weights, names and args kept).

        Raises:
            ConfigError: ``model`` is not a plain detection model (segmentation, pose, OBB... are not supported).
        """
        if type(model) is cls:
            raise ConfigError("the model already has an enhancer; replace it with `model.enhancer = new_module`.")
        if type(model) is not DetectionModel:
            raise ConfigError(
                f"only plain YOLO detection models can take an enhancer, got {type(model).__name__}; "
                "use a detection checkpoint or YAML (e.g. 'yolo11n.pt', 'yolov8n.yaml')."
            )
        if not isinstance(enhancer, nn.Module):
            raise ConfigError(f"enhancer must be a torch.nn.Module, got {type(enhancer).__name__}.")
        p = next(model.parameters())
        model.__class__ = cls
        model.enhancer = enhancer.to(device=p.device, dtype=p.dtype)
        model.joint = JointConfig()
        return model  # type: ignore[return-value]

    # -- forward ----------------------------------------------------------------------------------
    def enhance(self, x: Tensor, *, return_curves: bool = False) -> Any:
        """Run the enhancer (identity while the detector is being built, before it exists)."""
        enhancer = self._modules.get("enhancer")
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
        """Enhance, then run the detector's layers (every inference path goes through here)."""
        return super()._predict_once(self.enhance(x), profile, embed)

    # -- training ---------------------------------------------------------------------------------
    def loss(self, batch: dict, preds: Any = None) -> tuple[Tensor, dict[str, Tensor]]:
        """Detection loss plus ``λ · ZeroReferenceLoss`` of the enhancer, padding masked.

        Returns:
            ``(loss, items)``: ``loss`` is the criterion's loss vector (already multiplied by the batch
            size, as Ultralytics does) with one more element, ``λ · L_dce · batch``; ``items`` adds
            ``dce_loss`` (``λ · L_dce``, comparable with the per-image ``box_loss``...).
        """
        if getattr(self, "criterion", None) is None:
            self.criterion = self.init_criterion()
        joint = getattr(self, "joint", None) or JointConfig()
        img = batch["img"]
        lam = joint.dce_lambda
        enhanced = alpha = None
        if preds is None:
            if lam > 0:
                enhanced, alpha = self.enhance(img, return_curves=True)
            else:
                enhanced = self.enhance(img)
            preds = DetectionModel._predict_once(self, enhanced)
        elif lam > 0:  # validation during training, or compile=True: the detector already ran
            enhanced, alpha = self.enhance(img, return_curves=True)
        det_loss, items = self.criterion(preds, batch)
        items = dict(items)
        ref = next(iter(items.values())) if items else det_loss.detach()
        if lam > 0 and alpha is not None:
            # The padding level moves with the run's HSV value gain (hsv_v); un-augmented batches pad with
            # exactly pad_value, which lies inside the accepted range too.
            jitter = float(_arg(getattr(self, "args", None), "hsv_v", 0.4) or 0.0)
            mask = padding_mask(img, pad_value=joint.pad_value, value_jitter=jitter)
            dce, _ = zero_reference_loss(enhanced, img, alpha, mask=mask, **joint.loss_kwargs)
            weighted = lam * dce
            extra = (weighted * img.shape[0]).to(det_loss.dtype)
            items[DCE_LOSS_NAME] = weighted.detach().to(ref.dtype)
        else:
            extra = det_loss.new_zeros(())
            items[DCE_LOSS_NAME] = torch.zeros_like(ref)
        total = det_loss + extra if det_loss.ndim == 0 else torch.cat([det_loss.reshape(-1), extra.reshape(1)])
        return total, items


# -- building -----------------------------------------------------------------------------------------
def _build_enhancer(enhancer: EnhancerArg, weights: WeightsArg, identity_init: bool, **kwargs: Any) -> nn.Module:
    if isinstance(enhancer, nn.Module):
        if weights not in (None, "default"):
            raise ConfigError("weights= applies to an enhancer built by name; load them into your module yourself.")
        module = enhancer
    elif isinstance(enhancer, str):
        kwargs.setdefault("validate", False)  # the detector's inputs are well-formed; skip the host read-back
        module = build_model(enhancer, weights=weights, **kwargs)
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
    enhancer: EnhancerArg = "zero-dce",
    weights: WeightsArg = "default",
    identity_init: bool = False,
    **enhancer_kwargs: Any,
) -> YOLO:
    """Attach a Zero-DCE / Zero-DCE++ enhancer in front of a YOLO detector.

    Args:
        model: a detection YAML (``"yolov8n.yaml"``), a ``.pt`` checkpoint, or a ``YOLO`` object
            (modified in place and returned).
        enhancer: ``"zero-dce"``, ``"zero-dce++"`` or a module taking and returning ``(B, 3, H, W)``
            images in [0, 1] (``forward(x, return_curves=True)`` is needed for the enhancement loss).
        weights: enhancer weights when built by name: ``"default"`` (shipped), None (random), a path.
        identity_init: zero the enhancer's last layer so that it starts as the identity: the
            detector's outputs are then exactly unchanged until training moves it.
        **enhancer_kwargs: constructor options of a named enhancer (``scale_factor``, ``curve_max_side``...).

    Returns:
        The ``YOLO`` object whose ``.model`` is an :class:`EnhancedDetectionModel`.

    Raises:
        ConfigError: not a detection model, already enhanced, or a bad enhancer.
    """
    yolo = model if isinstance(model, YOLO) else YOLO(model)
    module = _build_enhancer(enhancer, weights, identity_init, **enhancer_kwargs)
    EnhancedDetectionModel.from_detection_model(yolo.model, module)
    yolo.predictor = None  # a cached predictor wraps the previous module
    return yolo


def save_enhancer(model: nn.Module | YOLO, path: str | os.PathLike) -> str:
    """Write the enhancer of an enhanced YOLO model as a standalone safetensors file; return its sha256.

    The file loads with ``ZeroDCE(weights=path)`` (or ``ZeroDCEPP(weights=path, scale_factor=...)``,
    the scale factor is recorded in the file's metadata).
    """
    det = model.model if isinstance(model, YOLO) else unwrap_model(model)
    enhancer = getattr(det, "enhancer", None)
    if enhancer is None:
        raise ConfigError("this model has no enhancer: build it with enhanced_yolo(...).")
    meta = {"format": "dce_transforms", "class": type(enhancer).__name__}
    for key in ("iterations", "scale_factor", "curve_max_side"):
        if hasattr(enhancer, key):
            meta[key] = str(getattr(enhancer, key))
    state = {k: v.float() for k, v in enhancer.state_dict().items()}
    return save_state_dict(state, path, metadata=meta)


# -- training -----------------------------------------------------------------------------------------
class EnhancedDetectionTrainer(DetectionTrainer):
    """Ultralytics ``DetectionTrainer`` for an :class:`EnhancedDetectionModel` trained jointly.

    Usable as ``YOLO(...).train(trainer=EnhancedDetectionTrainer, ...)`` for a model loaded from a
    ``.pt`` file, and by :func:`train_joint` for any model. Its settings are read from the model's
    :attr:`EnhancedDetectionModel.joint`; a plain detection checkpoint gets the default enhancer
    (``ZeroDCE(weights="default")``) and default settings.

    On top of Ultralytics' trainer: the enhancer's parameters form their own optimizer group
    (``param_group="enhancer"``, learning rate ``joint.enhancer_lr``, no weight decay) that follows
    the same warm-up and schedule; ``freeze_detector`` freezes all detector layers through
    Ultralytics' own ``freeze`` mechanism; ``freeze_enhancer`` freezes the enhancer; after every
    checkpoint the EMA enhancer is written to ``weights/{last,best}_enhancer.safetensors``.
    """

    def get_model(self, cfg: Any = None, weights: Any = None, verbose: bool = True) -> EnhancedDetectionModel:
        """Build an :class:`EnhancedDetectionModel`, copying the enhancer and settings of ``weights`` when it has them."""
        src = unwrap_model(weights) if isinstance(weights, nn.Module) else None
        if isinstance(src, EnhancedDetectionModel):
            enhancer = deepcopy(src.enhancer).float()
            joint = deepcopy(getattr(src, "joint", None) or JointConfig())
        else:
            enhancer = ZeroDCE(weights="default", validate=False)
            joint = JointConfig()
        model = EnhancedDetectionModel(
            cfg, nc=self.data["nc"], ch=self.data["channels"], verbose=verbose and RANK == -1,
            enhancer=enhancer,
        )
        model.joint = joint
        model = self.set_model_names_for_load(model)
        if weights:
            model.load(weights)
        return model

    def _joint(self) -> JointConfig:
        return getattr(unwrap_model(self.model), "joint", None) or JointConfig()

    def setup_model(self):
        """Set up the model as Ultralytics does, then map ``freeze_detector`` onto Ultralytics' ``freeze``."""
        ckpt = super().setup_model()
        model = unwrap_model(self.model)
        if not isinstance(model, EnhancedDetectionModel):
            raise ConfigError(
                f"EnhancedDetectionTrainer needs an EnhancedDetectionModel, got {type(model).__name__}; "
                "build it with enhanced_yolo(...) or train with train_joint(...)."
            )
        if self._joint().freeze_detector:
            self.args.freeze = list(range(len(model.model)))
        return ckpt

    def _setup_train(self) -> None:
        super()._setup_train()
        if self._joint().freeze_enhancer:
            self.freeze_layer_names = [*self.freeze_layer_names, "enhancer."]
            for name, p in unwrap_model(self.model).named_parameters():
                if name.startswith("enhancer."):
                    p.requires_grad_(False)
            LOGGER.info("Freezing the enhancer ('enhancer.*')")

    def build_optimizer(self, model, name="auto", lr=0.001, momentum=0.9, decay=1e-5, iterations=1e5):
        """Ultralytics' optimizer with the enhancer's parameters moved to their own group."""
        optimizer = super().build_optimizer(model, name=name, lr=lr, momentum=momentum, decay=decay, iterations=iterations)
        enhancer = getattr(unwrap_model(model), "enhancer", None)
        if enhancer is None:
            return optimizer
        params = list(enhancer.parameters())
        ids = {id(p) for p in params}
        for group in optimizer.param_groups:
            group["params"] = [p for p in group["params"] if id(p) not in ids]
        enhancer_lr = self._joint().enhancer_lr or self.args.lr0
        optimizer.add_param_group({"params": params, "lr": enhancer_lr, "weight_decay": 0.0, "param_group": "enhancer"})
        LOGGER.info(f"optimizer: enhancer parameter group of {len(params)} tensors, lr={enhancer_lr}, weight_decay=0.0")
        return optimizer

    def save_model(self) -> bool:
        """Save the Ultralytics checkpoints, then the EMA enhancer as standalone safetensors files."""
        saved = super().save_model()
        if saved:
            save_enhancer(self.ema.ema, self.wdir / "last_enhancer.safetensors")
            if self.best_fitness == self.fitness:
                save_enhancer(self.ema.ema, self.wdir / "best_enhancer.safetensors")
        return saved


def train_joint(
    model: str | os.PathLike | YOLO,
    *,
    data: str | os.PathLike,
    dce_lambda: float = 0.1,
    enhancer_lr: float | None = None,
    freeze_enhancer: bool = False,
    freeze_detector: bool = False,
    loss_kwargs: dict[str, Any] | None = None,
    enhancer: EnhancerArg = "zero-dce",
    enhancer_weights: WeightsArg = "default",
    identity_init: bool = False,
    **train_kwargs: Any,
) -> YOLO:
    """Fine-tune an enhancer and a YOLO detector jointly with the Ultralytics trainer.

    Loss = detection loss + ``dce_lambda`` · zero-reference loss of the enhancer's output (padding
    masked). AMP, EMA, warm-up, schedules, augmentation, checkpoints and logging are Ultralytics'
    own; pass any of its training options (``epochs``, ``imgsz``, ``batch``, ``device``, ``amp``...).

    Args:
        model: an enhanced ``YOLO`` (:func:`enhanced_yolo`), a plain ``YOLO``, a ``.pt`` or a YAML;
            a model without an enhancer gets one built from ``enhancer``, ``enhancer_weights``
            and ``identity_init``.
        data: dataset YAML in Ultralytics' format.
        dce_lambda: weight of the enhancement loss relative to the per-image detection loss (>= 0).
        enhancer_lr: the enhancer's learning rate (None: the detector's ``lr0``).
        freeze_enhancer: keep the enhancer fixed (train the detector behind it).
        freeze_detector: keep the detector fixed (train the enhancer for it).
        loss_kwargs: options of :func:`dce_transforms.losses.zero_reference_loss`.
        enhancer, enhancer_weights, identity_init: how to build a missing enhancer (see :func:`enhanced_yolo`).
        **train_kwargs: Ultralytics training options.

    Returns:
        The ``YOLO`` object, its ``.model`` reloaded from the best checkpoint, with ``.trainer``
        and ``.metrics`` set. ``yolo.trainer.best`` is the checkpoint path; the enhancer alone is in
        ``yolo.trainer.wdir / "best_enhancer.safetensors"``.
    """
    joint = JointConfig(
        dce_lambda=dce_lambda,
        enhancer_lr=enhancer_lr,
        freeze_enhancer=freeze_enhancer,
        freeze_detector=freeze_detector,
        loss_kwargs=dict(loss_kwargs or {}),
    )
    for key in ("trainer", "model", "task", "mode"):
        if key in train_kwargs:
            raise ConfigError(f"train_joint sets {key!r} itself; remove it from the training options.")
    yolo = model if isinstance(model, YOLO) else YOLO(model)
    if not isinstance(yolo.model, EnhancedDetectionModel):
        enhanced_yolo(yolo, enhancer=enhancer, weights=enhancer_weights, identity_init=identity_init)
    yolo.model.joint = joint
    args = {**yolo.overrides, "data": str(data), "task": "detect", **train_kwargs, "mode": "train"}
    args.setdefault("model", yolo.overrides.get("model") or "yolov8n.yaml")
    trainer = EnhancedDetectionTrainer(overrides=args, _callbacks=yolo.callbacks)
    if not args.get("resume"):
        # Always hand the in-memory model over (Ultralytics' own train() drops it for YAML-built models).
        trainer.model = trainer.get_model(cfg=yolo.model.yaml, weights=yolo.model)
        yolo.model = trainer.model
    yolo.trainer = trainer
    trainer.train()
    if RANK in (-1, 0):
        ckpt = trainer.best if trainer.best.exists() else trainer.last
        if not ckpt.exists():
            raise FileNotFoundError(f"training finished but wrote no checkpoint ({trainer.best} or {trainer.last}).")
        yolo.model, yolo.ckpt = load_checkpoint(ckpt)
        yolo.overrides = yolo._reset_ckpt_args(yolo.model.args)
        yolo.overrides["model"] = str(ckpt)
        yolo.ckpt_path = str(ckpt)
        yolo.predictor = None
        yolo.metrics = getattr(trainer.validator, "metrics", None)
    return yolo


def allow_safe_load() -> None:
    """Allow this package's classes in ``torch.load(weights_only=True)`` (``ULTRALYTICS_SAFE_LOAD=1``).

    Ultralytics' restricted loader accepts only its own classes; call this once per process before
    ``YOLO("enhanced.pt")`` when that mode is on.
    """
    from dce_transforms.models import _SeparableConv

    torch.serialization.add_safe_globals([EnhancedDetectionModel, JointConfig, ZeroDCE, ZeroDCEPP, _SeparableConv])


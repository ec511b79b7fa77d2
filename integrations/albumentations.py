"""albumentations adapters: enhancement and low-light simulation as image-only transforms.

Both are :class:`albumentations.ImageOnlyTransform`\\ s: in ``A.Compose(..., bbox_params=...)``
masks, boxes and keypoints pass through unchanged. Images are ``HWC`` uint8 or float32 in [0, 1]
(the albumentations conventions), ``HW`` or ``HW1`` grayscale (replicated to RGB, processed and
converted back to one channel), or ``HWC`` with an alpha channel (kept). ``bgr=True`` for BGR
images (OpenCV, Ultralytics).

Only constructor arguments are serialised (``to_dict``/``from_dict``, ``A.save``/``A.load``): the
model name, the weights name or path, the strength and the ranges, never tensors. The enhancer
is built lazily on the CPU, once per process, so the transforms are safe in DataLoader workers:
a worker builds its own model, limits itself to one torch thread, and never touches CUDA.

Example:
    >>> import numpy as np, albumentations as A
    >>> pipe = A.Compose([AlbumentationsRandomLowLight(p=1.0)],
    ...                  bbox_params=A.BboxParams(format="pascal_voc", label_fields=["labels"]), seed=0)
    >>> img = np.full((32, 32, 3), 200, dtype=np.uint8)
    >>> out = pipe(image=img, mask=np.ones((32, 32), np.uint8), bboxes=[[2, 3, 20, 30]], labels=[1])
    >>> out["image"].dtype, bool(out["image"].mean() < 100), np.asarray(out["bboxes"]).tolist()
    (dtype('uint8'), True, [[2.0, 3.0, 20.0, 30.0]])
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from albumentations import ImageOnlyTransform

from dce_transforms import transforms as _core
from dce_transforms.errors import ConfigError
from dce_transforms.simulate import darken, sample_params

__all__ = ["AlbumentationsEnhance", "AlbumentationsRandomLowLight"]


_FORKED = False


def _mark_forked() -> None:
    global _FORKED
    _FORKED = True


# A forked child (multiprocessing's fork Pool, not only DataLoader workers) inherits the parent's OpenMP
# thread pool in a state it cannot use: with more than one torch thread the first convolution hangs.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_mark_forked)


def _worker_setup() -> None:
    """In a DataLoader worker or any forked child: one torch thread, so it neither hangs nor oversubscribes."""
    if (_FORKED or torch.utils.data.get_worker_info() is not None) and torch.get_num_threads() != 1:
        torch.set_num_threads(1)


class AlbumentationsEnhance(_core.PipelineAdapter, ImageOnlyTransform):
    """Zero-DCE / Zero-DCE++ enhancement as an albumentations image-only transform (CPU).

    Args:
        model_name: ``"zero-dce"`` or ``"zero-dce++"``.
        weights: ``"default"``, a registered weights name, a checkpoint path, or None (random init).
        strength: blend between input (0) and enhanced output (1): a number, or a ``(low, high)``
            range drawn uniformly for each call.
        bgr: images are BGR.
        model_kwargs: options of the model (``curve_max_side``, ``scale_factor``, ``iterations``).
        p: probability of applying the transform.

    Example:
        >>> import numpy as np
        >>> t = AlbumentationsEnhance(weights=None, model_kwargs={"curve_max_side": 64})
        >>> t(image=np.zeros((8, 8), np.uint8))["image"].shape
        (8, 8)
    """

    framework = "albumentations"
    kind = "enhance"

    def __init__(
        self,
        model_name: str = "zero-dce",
        weights: str | os.PathLike | None = "default",
        strength: float | tuple[float, float] = 1.0,
        bgr: bool = False,
        model_kwargs: dict[str, Any] | None = None,
        p: float = 1.0,
    ) -> None:
        super().__init__(p=p)
        _core.build_model(model_name, weights=None, **(model_kwargs or {}))  # check name and options now
        if weights is not None and not isinstance(weights, (str, os.PathLike)):
            raise ConfigError(
                f"weights must be 'default', a registered name, a path or None (serialisable), got {type(weights).__name__}."
            )
        self.model_name = model_name
        self.weights = os.fspath(weights) if weights is not None else None
        self.strength = strength
        self._strength = _core._check_range(strength, name="strength", low=0.0, high=1.0)
        self.bgr = bool(bgr)
        self.model_kwargs = dict(model_kwargs or {})
        self._model: torch.nn.Module | None = None
        self._model_pid: int | None = None

    @property
    def model(self) -> torch.nn.Module:
        """The enhancer, built on first use in each process (CPU, eval mode)."""
        pid = os.getpid()
        if self._model is None or self._model_pid != pid:
            _worker_setup()
            self._model = _core.build_model(self.model_name, weights=self.weights, **self.model_kwargs)
            self._model_pid = pid
        return self._model

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_model"] = None  # rebuilt lazily where it is unpickled (spawned workers)
        state["_model_pid"] = None
        return state

    def get_params(self) -> dict[str, Any]:
        lo, hi = self._strength
        return {"strength": lo if lo == hi else self.py_random.uniform(lo, hi)}

    def apply(self, img: np.ndarray, strength: float = 1.0, **params: Any) -> np.ndarray:
        model = self.model
        with torch.no_grad():
            return _core.apply_to_image(img, lambda x: _core.enhance(x, model, strength=strength), bgr=self.bgr)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("model_name", "weights", "strength", "bgr", "model_kwargs")


_RANGE_DEFAULTS: dict[str, Any] = {
    "exposure": (0.05, 0.3),
    "gamma": (1.5, 3.0),
    "shot_noise": (0.0, 0.02),
    "read_noise": (0.0, 0.01),
    "color_shift": 0.1,
}


class AlbumentationsRandomLowLight(_core.PipelineAdapter, ImageOnlyTransform):
    """Random low-light simulation (:mod:`dce_transforms.simulate`) as an albumentations transform.

    Each call draws one seed from the transform's albumentations random state (so ``A.Compose(...,
    seed=...)`` makes it reproducible); the camera parameters and the noise come from a torch
    generator seeded with it.

    Args:
        exposure: ``(low, high)`` exposure factor range (drawn log-uniformly).
        gamma: ``(low, high)`` linearising exponent range.
        shot_noise: ``(low, high)`` shot-noise variance per unit signal.
        read_noise: ``(low, high)`` read-noise standard deviation.
        color_shift: largest relative per-channel gain change.
        bgr: images are BGR.
        p: probability of applying the transform.
    """

    framework = "albumentations"
    kind = "lowlight"

    def __init__(
        self,
        exposure: float | tuple[float, float] = _RANGE_DEFAULTS["exposure"],
        gamma: float | tuple[float, float] = _RANGE_DEFAULTS["gamma"],
        shot_noise: float | tuple[float, float] = _RANGE_DEFAULTS["shot_noise"],
        read_noise: float | tuple[float, float] = _RANGE_DEFAULTS["read_noise"],
        color_shift: float = _RANGE_DEFAULTS["color_shift"],
        bgr: bool = False,
        p: float = 1.0,
    ) -> None:
        super().__init__(p=p)
        self.exposure = exposure
        self.gamma = gamma
        self.shot_noise = shot_noise
        self.read_noise = read_noise
        self.color_shift = color_shift
        self.bgr = bool(bgr)
        sample_params(1, generator=torch.Generator(), **self._ranges())  # validate now

    def _ranges(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _RANGE_DEFAULTS}

    def get_params(self) -> dict[str, Any]:
        return {"noise_seed": int(self.random_generator.integers(0, 2**62))}

    def apply(self, img: np.ndarray, noise_seed: int = 0, **params: Any) -> np.ndarray:
        _worker_setup()
        ranges = self._ranges()

        def fn(x: torch.Tensor) -> torch.Tensor:
            gen = torch.Generator().manual_seed(noise_seed)
            lp = sample_params(1, generator=gen, **ranges)
            camera: dict[str, Any] = lp.as_kwargs()
            return darken(x, generator=gen, **camera)

        with torch.no_grad():
            return _core.apply_to_image(img, fn, bgr=self.bgr)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("exposure", "gamma", "shot_noise", "read_noise", "color_shift", "bgr")

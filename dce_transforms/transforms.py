"""Pipeline transforms: enhancement and low-light simulation for any image type.

:class:`Enhance`, :class:`RandomEnhance` and :class:`RandomLowLight` are ``nn.Module``\\ s that
accept what image pipelines carry and return the same type, shape and dtype:

- tensors ``(3, H, W)`` / ``(B, 3, H, W)`` (any leading dimensions), float in [0, 1] or uint8;
- PIL images in modes RGB, RGBA, L, LA, I;16 (16 bits kept), I (16-bit values, 0-65535), F (float in
  [0, 1]) and P (re-quantised to a palette of up to 256 colours, transparency kept); any other mode
  (1, CMYK, YCbCr...) raises :class:`~dce_transforms.errors.ImageDTypeError` instead of being changed;
- NumPy arrays ``HWC`` / ``HW`` / ``NHWC``, uint8, uint16 or float in [0, 1] (other dtypes raise).

One-channel images are replicated to RGB, processed, and converted back with the ITU-R 601 luma
weights; an alpha channel (gray + alpha, RGBA) is kept unchanged. ``bgr=True`` reads and writes tensors and
arrays in BGR order (OpenCV, Ultralytics). Float tensors stay differentiable.

Random transforms only draw parameters (:meth:`RandomEnhance.make_params`,
:meth:`RandomLowLight.make_params`), then call the deterministic functions :func:`enhance`
and :func:`dce_transforms.simulate.darken`.

The conversions (pixel types, layouts, channels, PIL modes and the rounding of integer outputs) are
those of :mod:`dce_transforms.convert`. This module imports neither torchvision nor PIL: a PIL image
is recognised only if PIL is already loaded. The framework-specific adapters live in
:mod:`dce_transforms.integrations`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from .convert import array_to_batch, batch_to_array, is_pil, pil_to_array, to_rgb, to_unit_float
from .errors import ConfigError, ImageDTypeError, ImageShapeError
from .models import WeightsArg
from .registry import model_class
from .simulate import darken, sample_params

__all__ = [
    "check_pipeline_image",
    "Enhance",
    "PipelineAdapter",
    "RandomEnhance",
    "RandomLowLight",
    "build_model",
    "enhance",
    "apply_to_image",
]

class PipelineAdapter:
    """Marker base of every pipeline adapter: what it plugs into and what it does.

    The shared contract tests (``tests/test_adapters.py``) find every subclass with a ``kind`` in
    :mod:`dce_transforms.transforms` and :mod:`dce_transforms.integrations` and run each through the
    harness of its ``framework``; a new adapter is checked as soon as it subclasses this.

    Attributes:
        framework: which pipeline the class plugs into (``"core"``, ``"torchvision"``, ``"kornia"``,
            ``"albumentations"``); the contract tests pick their harness from it.
        kind: ``"enhance"`` (takes a model: ``model=``/``model_name=``/``weights=``) or ``"lowlight"``
            (takes ``seed=`` and the ranges of :func:`dce_transforms.simulate.sample_params`).
    """

    framework: ClassVar[str] = "core"
    kind: ClassVar[str] = ""


def build_model(model_name: str = "zero-dce", *, weights: WeightsArg = "default", **model_kwargs: Any) -> nn.Module:
    """Build an enhancer by name.

    Args:
        model_name: ``"zero-dce"`` or ``"zero-dce++"`` (case, ``-`` and ``_`` are ignored; ``"zero-dce-pp"`` works).
        weights: as for :class:`dce_transforms.ZeroDCE`.
        **model_kwargs: further constructor options (``iterations``, ``curve_max_side``, ``scale_factor``...).

    Returns:
        The model, on the CPU, in eval mode.

    Raises:
        ConfigError: unknown model name.

    Example:
        >>> type(build_model("Zero-DCE++", weights=None, scale_factor=4)).__name__
        'ZeroDCEPP'
    """
    key = str(model_name).lower().replace("-", "").replace("_", "").replace(" ", "")
    try:  # the registry knows "zerodce" and "zerodcepp"; this spelling-tolerant name also drops "-", "_", " "
        cls = model_class("zerodcepp" if key == "zerodce++" else key)
    except ConfigError:
        raise ConfigError(f"unknown model_name {model_name!r}: use 'zero-dce' or 'zero-dce++'.") from None
    ctor: Callable[..., nn.Module] = cls  # the public classes take ``weights``
    return ctor(weights=weights, **model_kwargs).eval()


# -- image type handling ---------------------------------------------------------------------------------------


def _apply_tensor(img: Tensor, fn: Callable[[Tensor], Tensor], *, bgr: bool) -> Tensor:
    if img.ndim < 3:
        raise ImageShapeError(
            f"image tensors must be (C, H, W) or (B, C, H, W), got shape {tuple(img.shape)}. "
            "Add a channel dimension to a gray image with `x.unsqueeze(0)`."
        )
    shape = img.shape
    x, to_dtype = to_unit_float(img.reshape(-1, *shape[-3:]))
    rgb, to_channels = to_rgb(x, bgr=bgr)
    return to_dtype(to_channels(fn(rgb))).reshape(shape)


def _apply_array(img: np.ndarray, fn: Callable[[Tensor], Tensor], *, bgr: bool) -> np.ndarray:
    t = array_to_batch(img)
    return batch_to_array(_apply_tensor(t, fn, bgr=bgr), img)


def _apply_pil(img: Any, fn: Callable[[Tensor], Tensor]) -> Any:
    arr, back = pil_to_array(img)
    return back(_apply_array(arr, fn, bgr=False))


def check_pipeline_image(img: Any) -> None:
    """Refuse, with the library's errors, images no pipeline transform can process (before drawing parameters).

    Raises:
        ImageDTypeError: a tensor on the meta device (it holds no values).
        ImageShapeError: an image with no pixels (a zero-size dimension, or a 0x0 PIL image).
    """
    if isinstance(img, Tensor):
        if img.device.type == "meta":
            raise ImageDTypeError(
                f"the image is a meta tensor (shape {tuple(img.shape)}, no data): enhancement needs values; "
                "create it on a real device, e.g. `torch.empty(..., device='cpu')`."
            )
        if img.numel() == 0:
            raise ImageShapeError(
                f"the image is empty (shape {tuple(img.shape)}): every dimension must be at least 1."
            )
    elif isinstance(img, np.ndarray):
        if img.size == 0:
            raise ImageShapeError(f"the image array is empty (shape {img.shape}): every dimension must be at least 1.")
    elif is_pil(img) and (img.width == 0 or img.height == 0):
        raise ImageShapeError(f"the PIL image is empty (size {img.size}): width and height must be at least 1.")


def apply_to_image(img: Any, fn: Callable[[Tensor], Tensor], *, bgr: bool = False) -> Any:
    """Apply a float RGB batch function to any supported image, returning the same type and dtype.

    Args:
        img: a tensor ``(..., C, H, W)``, a PIL image, or an array ``(H, W)``, ``(H, W, C)``, ``(N, H, W, C)``;
            C in {1, 2, 3, 4}; float in [0, 1], uint8 or uint16; PIL modes as in the module docstring.
        fn: maps a float ``(B, 3, H, W)`` RGB batch in [0, 1] to one of the same shape.
        bgr: tensors and arrays hold BGR (ignored for PIL images, which are RGB).

    Returns:
        ``fn`` applied, in the type, shape and dtype of ``img`` (integer outputs rounded half up, as
        :func:`dce_transforms.convert.quantize` does).

    Raises:
        ImageDTypeError: an unsupported type, dtype or PIL mode, or a meta tensor.
        ImageShapeError: an unsupported shape or channel count, or an empty image.

    Example:
        >>> a = np.full((4, 5, 3), 100, dtype=np.uint8)
        >>> out = apply_to_image(a, lambda x: x * 2)
        >>> out.dtype, out.shape, int(out[0, 0, 0])
        (dtype('uint8'), (4, 5, 3), 200)
    """
    check_pipeline_image(img)
    if isinstance(img, Tensor):
        return _apply_tensor(img, fn, bgr=bgr)
    if isinstance(img, np.ndarray):
        return _apply_array(img, fn, bgr=bgr)
    if is_pil(img):
        return _apply_pil(img, fn)
    raise ImageDTypeError(
        f"unsupported image type {type(img).__name__}: pass a torch.Tensor (C, H, W), a PIL image "
        "or a NumPy array (H, W, C)."
    )


def _batch_of(img: Any) -> int:
    """Number of images :func:`apply_to_image` will pass to ``fn`` in one batch."""
    if isinstance(img, Tensor):
        return int(np.prod(img.shape[:-3])) if img.ndim >= 3 else 1
    if isinstance(img, np.ndarray) and img.ndim == 4:
        return int(img.shape[0])
    return 1


# -- the deterministic operation ---------------------------------------------------------------------------------


def _per_image(value: float | Tensor, x: Tensor) -> Tensor | float:
    if isinstance(value, Tensor):
        return value.to(device=x.device, dtype=x.dtype).reshape(-1, 1, 1, 1)
    return float(value)


def enhance(img: Tensor, model: nn.Module, *, strength: float | Tensor = 1.0) -> Tensor:
    """Enhance images with a model, blended with the input by ``strength``.

    ``out = img + strength · (model(img) − img)``: 1 is the model's output, 0 the input.

    Args:
        img: ``(B, 3, H, W)`` or ``(3, H, W)``, float RGB in [0, 1].
        model: an enhancer, e.g. :class:`dce_transforms.ZeroDCE`, on the image's device.
        strength: in [0, 1], a number or a ``(B,)`` tensor (one value per image).

    Returns:
        The enhanced images, same shape, dtype and device as ``img``; differentiable.

    Example:
        >>> from dce_transforms import ZeroDCE
        >>> model = ZeroDCE(weights=None).reset_to_identity()
        >>> x = torch.rand(2, 3, 8, 8)
        >>> torch.equal(enhance(x, model, strength=0.5), x)
        True
    """
    if isinstance(strength, (int, float)) and strength == 1:
        return model(img)
    y = model(img)
    s = _per_image(strength, img)
    return img + s * (y - img)


def _check_range(value: float | tuple[float, float], *, name: str, low: float, high: float) -> tuple[float, float]:
    lo, hi = (value, value) if isinstance(value, (int, float)) else tuple(value)
    lo, hi = float(lo), float(hi)
    if not (low <= lo <= hi <= high):
        raise ConfigError(f"{name} must be a number or a (low, high) tuple within [{low:g}, {high:g}], got {value!r}.")
    return lo, hi


def _check_p(p: float) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ConfigError(f"p (the probability of applying the transform) must be in [0, 1], got {p!r}.")
    return float(p)


class _Random:
    """A transform's random source: a seed, an explicit generator, or the global generator.

    A seeded source re-seeds itself once in each DataLoader worker from the seed and the worker's
    seed (which PyTorch derives from the main process's generator every epoch), so workers do not
    repeat each other and epochs do not repeat.
    """

    def __init__(self, seed: int | None, generator: torch.Generator | None) -> None:
        if seed is not None and generator is not None:
            raise ConfigError("pass either seed or generator, not both.")
        self.seed = seed
        self.explicit = generator
        self._gen = torch.Generator().manual_seed(int(seed)) if seed is not None else None
        self._worker_key: tuple[int, int] | None = None

    def get(self) -> torch.Generator | None:
        if self.explicit is not None:
            return self.explicit
        if self.seed is None:
            return None
        info = torch.utils.data.get_worker_info()
        if info is not None:
            key = (os.getpid(), int(info.seed))
            if key != self._worker_key:
                self._worker_key = key
                self._gen = torch.Generator().manual_seed((int(self.seed) * 1_000_003 + int(info.seed)) % 2**63)
        return self._gen

    def __getstate__(self) -> dict[str, Any]:
        # A torch.Generator sent to a spawn / forkserver worker through torch's shared-memory pickler kills
        # the worker: carry the generator states as bytes and rebuild the generators on arrival.
        state = self.__dict__.copy()
        for key in ("_gen", "explicit"):
            gen = state[key]
            if gen is not None:
                state[key] = (str(gen.device), bytes(gen.get_state().numpy().tobytes()))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key in ("_gen", "explicit"):
            if isinstance(state.get(key), tuple):
                device, raw = state[key]
                gen = torch.Generator(device=device)
                gen.set_state(torch.frombuffer(bytearray(raw), dtype=torch.uint8))
                state[key] = gen
        self.__dict__.update(state)


def _short_repr(module: Any) -> str:
    """``ZeroDCE(iterations=8, ...)`` instead of a module's full layer listing."""
    extra = module.extra_repr() if isinstance(module, nn.Module) else ""
    return f"{type(module).__name__}({extra})"


class Enhance(PipelineAdapter, nn.Module):
    """Low-light enhancement as a pipeline transform, for tensors, PIL images and arrays.

    Returns the input's type, shape and dtype (uint8 in, uint8 out; PIL in, PIL out). Works in
    ``torchvision.transforms.Compose`` and anywhere a callable is expected.

    Gradients: the model runs under ``torch.no_grad`` unless the input requires grad or the
    transform is in training mode (``.train()``), so a data pipeline records no autograd graph
    while a float tensor stays differentiable end to end. The transform starts in eval mode.

    Args:
        model: an enhancer module; None builds one from ``model_name`` and ``weights``.
        model_name: ``"zero-dce"`` or ``"zero-dce++"``, used when ``model`` is None.
        weights: weights for a built model (see :class:`dce_transforms.ZeroDCE`).
        device: where the model runs; inputs elsewhere are moved there and back.
        strength: blend between input (0) and enhanced output (1).
        bgr: tensors and arrays are BGR (OpenCV, Ultralytics).
        **model_kwargs: options of the built model (``curve_max_side``, ``scale_factor``...).

    Example:
        >>> from dce_transforms import ZeroDCE
        >>> model = ZeroDCE(weights=None)
        >>> t = Enhance(model)
        >>> img = np.random.default_rng(0).integers(0, 80, (16, 16, 3), dtype=np.uint8)
        >>> t(img).dtype, t(img).shape
        (dtype('uint8'), (16, 16, 3))
        >>> x = torch.rand(3, 16, 16, requires_grad=True)
        >>> t(x).requires_grad
        True
    """

    kind = "enhance"

    def __init__(
        self,
        model: nn.Module | None = None,
        *,
        model_name: str = "zero-dce",
        weights: WeightsArg = "default",
        device: str | torch.device | None = None,
        strength: float = 1.0,
        bgr: bool = False,
        **model_kwargs: Any,
    ) -> None:
        super().__init__()
        if model is None:
            model = build_model(model_name, weights=weights, **model_kwargs)
        elif model_kwargs:
            raise ConfigError(f"options {sorted(model_kwargs)} only apply when the transform builds its model.")
        if not callable(model):
            raise ConfigError(f"model must be an nn.Module (e.g. ZeroDCE()), got {type(model).__name__}.")
        self.model = model if device is None else model.to(device)
        self.model_name = model_name
        if isinstance(strength, bool) or not isinstance(strength, (int, float)):
            raise ConfigError(f"strength must be a number in [0, 1] (use RandomEnhance for a range), got {strength!r}.")
        self.strength = _check_range(strength, name="strength", low=0.0, high=1.0)[0]
        self.bgr = bool(bgr)
        self.training = False  # the wrapper only: a model passed in keeps its own mode

    def _model_device(self) -> torch.device | None:
        p = next(iter(self.model.parameters()), None)
        return None if p is None else p.device

    def _grad_context(self, img: Any) -> contextlib.AbstractContextManager:
        wants = self.training or (isinstance(img, Tensor) and img.requires_grad)
        return contextlib.nullcontext() if wants else torch.no_grad()

    def _run(self, x: Tensor, strength: float | Tensor) -> Tensor:
        dev = self._model_device()
        if dev is not None and dev != x.device:
            return enhance(x.to(dev), self.model, strength=strength).to(x.device)
        return enhance(x, self.model, strength=strength)

    def forward(self, img: Any) -> Any:
        """Enhance ``img`` (tensor, PIL image or array) and return the same type."""
        check_pipeline_image(img)
        with self._grad_context(img):
            return apply_to_image(img, lambda x: self._run(x, self.strength), bgr=self.bgr)

    def extra_repr(self) -> str:
        return f"model={_short_repr(self.model)}, strength={self.strength}, bgr={self.bgr}"

    def __repr__(self) -> str:  # one line: the wrapped network's layers are not the transform's settings
        return f"{type(self).__name__}({self.extra_repr()})"


class RandomEnhance(Enhance):
    """Enhance each image with probability ``p`` and a random strength (blend with the input).

    Parameters are drawn first (:meth:`make_params`), then :func:`enhance` applies them. Images
    not selected come back unchanged (bit-exact).

    Args:
        model: as for :class:`Enhance`.
        p: probability of enhancing each image.
        strength: ``(low, high)`` range within [0, 1] of the blend factor, drawn uniformly per image.
        seed: seed of the transform's own generator (reproducible, per-worker in DataLoaders).
        generator: an explicit generator instead of ``seed``; None with no seed uses the global one.
        bgr: tensors and arrays are BGR.
        **kwargs: ``model_name``, ``weights``, ``device`` and model options, as for :class:`Enhance`.

    Example:
        >>> from dce_transforms import ZeroDCE
        >>> t = RandomEnhance(ZeroDCE(weights=None), p=1.0, strength=(0.2, 0.8), seed=0)
        >>> params = t.make_params(3)
        >>> params["apply"].tolist(), bool(((params["strength"] >= 0.2) & (params["strength"] <= 0.8)).all())
        ([True, True, True], True)
    """

    kind = "enhance"

    def __init__(
        self,
        model: nn.Module | None = None,
        *,
        p: float = 0.5,
        strength: float | tuple[float, float] = (0.5, 1.0),
        seed: int | None = None,
        generator: torch.Generator | None = None,
        bgr: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(model, bgr=bgr, **kwargs)
        self.p = _check_p(p)
        self.strength_range = _check_range(strength, name="strength", low=0.0, high=1.0)
        self._random = _Random(seed, generator)

    def make_params(self, batch: int) -> dict[str, Tensor]:
        """Draw ``apply`` (bool, ``(batch,)``) and ``strength`` (``(batch,)``) on the CPU."""
        gen = self._random.get()
        apply = torch.rand(batch, generator=gen) < self.p
        lo, hi = self.strength_range
        strength = lo + (hi - lo) * torch.rand(batch, generator=gen)
        return {"apply": apply, "strength": strength}

    def apply_params(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        """Apply drawn parameters to a float RGB batch (deterministic)."""
        apply = params["apply"]
        if not bool(apply.any()):
            return x
        strength = torch.where(apply, params["strength"], torch.zeros_like(params["strength"]))
        return self._run(x, strength)

    def forward(self, img: Any) -> Any:
        """Randomly enhance ``img`` (tensor, PIL image or array) and return the same type."""
        check_pipeline_image(img)
        params = self.make_params(_batch_of(img))
        if not bool(params["apply"].any()):
            return img
        with self._grad_context(img):
            return apply_to_image(img, lambda x: self.apply_params(x, params), bgr=self.bgr)

    def extra_repr(self) -> str:
        return f"model={_short_repr(self.model)}, p={self.p}, strength={self.strength_range}, bgr={self.bgr}"


class RandomLowLight(PipelineAdapter, nn.Module):
    """Simulate low light with random camera parameters (:mod:`dce_transforms.simulate`).

    Parameters are drawn first (:meth:`make_params`), then :func:`dce_transforms.simulate.darken`
    applies them with noise from the same generator. Returns the input's type, shape and dtype.

    Args:
        p: probability of darkening each image.
        seed: seed of the transform's own generator (reproducible sequence; per-worker in DataLoaders).
        generator: an explicit generator instead of ``seed``; None with no seed uses the global one.
        bgr: tensors and arrays are BGR.
        **ranges: ``exposure``, ``gamma``, ``shot_noise``, ``read_noise`` as ``(low, high)`` and
            ``color_shift``, as for :func:`dce_transforms.simulate.sample_params`.

    Example:
        >>> t = RandomLowLight(seed=0, exposure=(0.1, 0.2))
        >>> x = torch.full((3, 8, 8), 0.8)
        >>> bool(t(x).mean() < 0.2)
        True
    """

    kind = "lowlight"

    def __init__(
        self,
        p: float = 1.0,
        *,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        bgr: bool = False,
        **ranges: Any,
    ) -> None:
        super().__init__()
        self.p = _check_p(p)
        sample_params(1, generator=torch.Generator(), **ranges)  # validate now, not in the first batch
        self.ranges = dict(ranges)
        self.bgr = bool(bgr)
        self._random = _Random(seed, generator)

    def make_params(self, batch: int) -> dict[str, Any]:
        """Draw ``apply`` (bool, ``(batch,)``) and the :class:`~dce_transforms.simulate.LowLightParams`."""
        gen = self._random.get()
        apply = torch.rand(batch, generator=gen) < self.p
        return {"apply": apply, "params": sample_params(batch, generator=gen, **self.ranges)}

    def apply_params(self, x: Tensor, params: dict[str, Any]) -> Tensor:
        """Darken a float RGB batch with drawn parameters; noise from the transform's generator."""
        apply = params["apply"]
        if not bool(apply.any()):
            return x
        y = darken(x, generator=self._random.get(), **params["params"].as_kwargs())
        if bool(apply.all()):
            return y
        return torch.where(apply.to(x.device).view(-1, 1, 1, 1), y, x)

    def forward(self, img: Any) -> Any:
        """Darken ``img`` (tensor, PIL image or array) and return the same type."""
        check_pipeline_image(img)
        params = self.make_params(_batch_of(img))
        if not bool(params["apply"].any()):
            return img
        return apply_to_image(img, lambda x: self.apply_params(x, params), bgr=self.bgr)

    def extra_repr(self) -> str:
        return f"p={self.p}, ranges={self.ranges}, bgr={self.bgr}"

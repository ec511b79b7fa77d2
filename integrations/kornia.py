"""kornia augmentation adapters: differentiable enhancement and low-light simulation on batches.

Both classes are intensity augmentations (:class:`kornia.augmentation.IntensityAugmentationBase2D`):
inside :class:`kornia.augmentation.AugmentationSequential` they change the ``"input"`` images
only and pass boxes, masks and keypoints through. Inputs are float ``(B, C, H, W)`` or
``(C, H, W)`` in [0, 1] with C in {1, 2, 3, 4} (gray is replicated to RGB and converted back, an
alpha channel is kept); other dtypes, ranks, meta and empty tensors raise the library's errors.
Gradients flow to the input and to the enhancer's parameters, except inside DataLoader workers,
where no graph is recorded for an input that does not require grad (a graph cannot cross processes).

Example:
    >>> import torch, kornia.augmentation as K
    >>> from dce_transforms import ZeroDCE
    >>> aug = K.AugmentationSequential(KorniaEnhance(ZeroDCE(weights=None)), data_keys=["input", "mask"])
    >>> img, mask = torch.rand(2, 3, 16, 16), torch.ones(2, 1, 16, 16)
    >>> out, out_mask = aug(img, mask)
    >>> out.shape, torch.equal(out_mask, mask)
    (torch.Size([2, 3, 16, 16]), True)
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from kornia.augmentation import IntensityAugmentationBase2D
from torch import Tensor, nn

from dce_transforms import transforms as _core
from dce_transforms._checks import is_tracing
from dce_transforms._pipeline import in_worker
from dce_transforms.convert import to_rgb
from dce_transforms.errors import ImageDTypeError, ImageShapeError
from dce_transforms.models import WeightsArg
from dce_transforms.simulate import darken, sample_params

__all__ = ["KorniaEnhance", "KorniaRandomLowLight"]


def _check_input(owner: object, input: Any) -> None:
    """The library's errors for what kornia would refuse with its own (or crash on)."""
    name = type(owner).__name__
    if not isinstance(input, Tensor):
        raise ImageDTypeError(f"{name} takes a torch.Tensor (B, C, H, W), got {type(input).__name__}.")
    if is_tracing():
        return
    _core.check_pipeline_image(input)
    if not input.is_floating_point():
        raise ImageDTypeError(
            f"{name} takes floating-point images in [0, 1], got dtype {input.dtype}. "
            "Convert uint8 images with `x.float() / 255`."
        )
    if input.ndim not in (2, 3, 4):
        raise ImageShapeError(
            f"{name} takes (B, C, H, W), (C, H, W) or (H, W) images, got shape {tuple(input.shape)}. "
            "For a batch of videos (B, T, C, H, W) use `x.flatten(0, 1)` and reshape the output back."
        )


class _Checked:
    """Mixin: the library's input checks before kornia's own reshaping."""

    def transform_tensor(self, input: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        _check_input(self, input)
        return super().transform_tensor(input, *args, **kwargs)  # type: ignore[misc]

    def validate_tensor(self, input: Tensor) -> None:
        _check_input(self, input)
        super().validate_tensor(input)  # type: ignore[misc]
        if input.shape[1] not in (1, 2, 3, 4):
            raise ImageShapeError(
                f"{type(self).__name__} needs 1, 2, 3 or 4 channels on dim 1, got shape {tuple(input.shape)}."
            )


class KorniaEnhance(_Checked, _core.PipelineAdapter, IntensityAugmentationBase2D):
    """Zero-DCE / Zero-DCE++ enhancement as a kornia intensity augmentation (differentiable).

    The enhancer is a submodule: ``.to(device)`` moves it, ``.parameters()`` lists it, and a loss
    on the output trains it through :class:`~kornia.augmentation.AugmentationSequential`.

    Args:
        model: an enhancer module; None builds one from ``model_name`` and ``weights``.
        model_name: ``"zero-dce"`` or ``"zero-dce++"``.
        weights: weights of a built model.
        strength: blend between input (0) and enhanced output (1).
        p: probability of enhancing each image (1 by default: every image).
        same_on_batch: one gate for the whole batch.
        keepdim: return ``(C, H, W)`` for a ``(C, H, W)`` input.
        **model_kwargs: options of the built model (``curve_max_side``...).
    """

    framework = "kornia"
    kind = "enhance"

    def __init__(
        self,
        model: nn.Module | None = None,
        *,
        model_name: str = "zero-dce",
        weights: WeightsArg = "default",
        strength: float = 1.0,
        p: float = 1.0,
        same_on_batch: bool = False,
        keepdim: bool = False,
        **model_kwargs: Any,
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, keepdim=keepdim)
        if model is None:
            model = _core.build_model(model_name, weights=weights, **model_kwargs)
        self.model = model
        self.strength = _core._check_range(strength, name="strength", low=0.0, high=1.0)[0]

    def apply_transform(
        self, input: Tensor, params: dict[str, Tensor], flags: dict[str, Any], transform: Tensor | None = None
    ) -> Tensor:
        rgb, back = to_rgb(input, bgr=False)
        no_graph = not is_tracing() and not input.requires_grad and in_worker()
        with torch.no_grad() if no_graph else contextlib.nullcontext():
            return back(_core.enhance(rgb, self.model, strength=self.strength))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={_core._short_repr(self.model)}, strength={self.strength}, p={self.p})"


class KorniaRandomLowLight(_Checked, _core.PipelineAdapter, IntensityAugmentationBase2D):
    """Random low-light simulation as a kornia intensity augmentation.

    The drawn camera parameters and a noise seed are kept in ``_params`` like other kornia
    augmentations, so ``aug(x, params=aug._params)`` reproduces the output exactly. With
    ``same_on_batch=True`` every image gets the same parameters and the same noise. It compiles
    with ``torch.compile(fullgraph=True)`` and exports (``torch.export``, ONNX): while traced, the
    parameters and the noise come from the global generator, as random ops in the graph.

    Args:
        p: probability of darkening each image.
        seed: seed of the augmentation's own parameter generator (None: the global generator).
        same_on_batch: one set of camera parameters for the whole batch.
        keepdim: return ``(C, H, W)`` for a ``(C, H, W)`` input.
        **ranges: ``exposure``, ``gamma``, ``shot_noise``, ``read_noise``, ``color_shift``, as for
            :func:`dce_transforms.simulate.sample_params`.
    """

    framework = "kornia"
    kind = "lowlight"

    def __init__(
        self,
        p: float = 1.0,
        *,
        seed: int | None = None,
        same_on_batch: bool = False,
        keepdim: bool = False,
        **ranges: Any,
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, keepdim=keepdim)
        sample_params(1, generator=torch.Generator(), **ranges)  # validate the ranges now
        self.ranges = dict(ranges)
        self._random = _core._Random(seed, None)

    def generate_parameters(self, batch_shape: tuple[int, ...]) -> dict[str, Tensor]:
        gen = None if is_tracing() else self._random.get()
        b = batch_shape[0]
        n = 1 if self.same_on_batch else b
        lp = sample_params(n, generator=gen, **self.ranges)
        out = {k: v.expand(b, *v.shape[1:]) for k, v in lp.as_kwargs().items() if v is not None}
        rand_kw: dict[str, Any] = {} if gen is None else {"generator": gen}  # no generator=None: ONNX exports that overload not
        out["noise_seed"] = torch.randint(0, 2**62, (1,), **rand_kw)
        return out

    def apply_transform(
        self, input: Tensor, params: dict[str, Tensor], flags: dict[str, Any], transform: Tensor | None = None
    ) -> Tensor:
        rgb, back = to_rgb(input, bgr=False)
        shape = (1, *rgb.shape[1:]) if self.same_on_batch else tuple(rgb.shape)
        if is_tracing():  # a torch.Generator cannot live in a graph: random ops on the global generator
            noise = torch.randn(shape, device=rgb.device, dtype=torch.float32)
        else:
            gen = torch.Generator(device=input.device).manual_seed(int(params["noise_seed"][0]))
            noise = torch.randn(shape, generator=gen, device=input.device, dtype=torch.float32)
        camera: dict[str, Any] = {k: params[k] for k in ("exposure", "gamma", "shot_noise", "read_noise", "color_shift")}
        return back(darken(rgb, noise=noise.expand(rgb.shape), **camera))

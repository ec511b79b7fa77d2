"""kornia augmentation adapters: differentiable enhancement and low-light simulation on batches.

Both classes are intensity augmentations (:class:`kornia.augmentation.IntensityAugmentationBase2D`):
inside :class:`kornia.augmentation.AugmentationSequential` they change the ``"input"`` images
only and pass boxes, masks and keypoints through. Inputs are float ``(B, C, H, W)`` or
``(C, H, W)`` in [0, 1] with C in {1, 3, 4} (gray is replicated to RGB and converted back, an
alpha channel is kept). Gradients flow to the input and to the enhancer's parameters.

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

from typing import Any

import torch
from kornia.augmentation import IntensityAugmentationBase2D
from torch import Tensor, nn

from dce_transforms import transforms as _core
from dce_transforms.errors import ImageShapeError
from dce_transforms.models import WeightsArg
from dce_transforms.simulate import darken, sample_params

__all__ = ["KorniaEnhance", "KorniaRandomLowLight"]


class KorniaEnhance(_core.PipelineAdapter, IntensityAugmentationBase2D):
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

    def validate_tensor(self, input: Tensor) -> None:
        super().validate_tensor(input)
        if input.shape[1] not in (1, 3, 4):
            raise ImageShapeError(
                f"KorniaEnhance needs 1, 3 or 4 channels on dim 1, got shape {tuple(input.shape)}."
            )

    def apply_transform(
        self, input: Tensor, params: dict[str, Tensor], flags: dict[str, Any], transform: Tensor | None = None
    ) -> Tensor:
        rgb, back = _core._to_rgb(input, bgr=False)
        return back(_core.enhance(rgb, self.model, strength=self.strength))


class KorniaRandomLowLight(_core.PipelineAdapter, IntensityAugmentationBase2D):
    """Random low-light simulation as a kornia intensity augmentation.

    The drawn camera parameters and a noise seed are kept in ``_params`` like other kornia
    augmentations, so ``aug(x, params=aug._params)`` reproduces the output exactly.

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
        gen = self._random.get()
        n = 1 if self.same_on_batch else batch_shape[0]
        lp = sample_params(n, generator=gen, **self.ranges)
        out = {k: v.expand(batch_shape[0], *v.shape[1:]) for k, v in lp.as_kwargs().items() if v is not None}
        out["noise_seed"] = torch.randint(0, 2**62, (1,), generator=gen)
        return out

    def apply_transform(
        self, input: Tensor, params: dict[str, Tensor], flags: dict[str, Any], transform: Tensor | None = None
    ) -> Tensor:
        rgb, back = _core._to_rgb(input, bgr=False)
        gen = torch.Generator(device=input.device).manual_seed(int(params["noise_seed"][0]))
        camera = {k: params[k] for k in ("exposure", "gamma", "shot_noise", "read_noise", "color_shift")}
        return back(darken(rgb, generator=gen, **camera))

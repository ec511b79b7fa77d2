"""torchvision ``transforms.v2`` adapters: enhancement and low-light simulation for detection samples.

The transforms change images only (``tv_tensors.Image``, ``tv_tensors.Video``, PIL images and
plain tensors treated as images by the v2 rules) and pass everything else through unchanged:
``BoundingBoxes``, ``Mask``, ``KeyPoints``, labels. One set of parameters is drawn per call
(as v2 colour transforms do) and applied to every image of the sample.

Example:
    >>> import torch
    >>> from torchvision import tv_tensors
    >>> from torchvision.transforms import v2
    >>> from dce_transforms import ZeroDCE
    >>> pipe = v2.Compose([TorchvisionEnhance(ZeroDCE(weights=None)), v2.ToDtype(torch.float32, scale=True)])
    >>> img = tv_tensors.Image(torch.randint(0, 60, (3, 32, 32), dtype=torch.uint8))
    >>> boxes = tv_tensors.BoundingBoxes([[1, 2, 10, 12]], format="XYXY", canvas_size=(32, 32))
    >>> out_img, out_boxes = pipe(img, boxes)
    >>> type(out_img).__name__, out_img.dtype, torch.equal(out_boxes, boxes)
    ('Image', torch.float32, True)
"""

from __future__ import annotations

from typing import Any

import PIL.Image
import torch
from torch import nn
from torchvision import tv_tensors
from torchvision.transforms.v2 import Transform
from torchvision.transforms.v2.functional import is_pure_tensor

from dce_transforms import transforms as _core

__all__ = ["TorchvisionEnhance", "TorchvisionRandomEnhance", "TorchvisionRandomLowLight"]

_IMAGE_TYPES = (tv_tensors.Image, tv_tensors.Video, PIL.Image.Image, is_pure_tensor)


def _unwrap(inpt: Any) -> Any:
    return inpt.as_subclass(torch.Tensor) if isinstance(inpt, tv_tensors.TVTensor) else inpt


def _rewrap(out: Any, like: Any) -> Any:
    return tv_tensors.wrap(out, like=like) if isinstance(like, tv_tensors.TVTensor) else out


class _Base(_core.PipelineAdapter, Transform):
    framework = "torchvision"
    _transformed_types = _IMAGE_TYPES


class TorchvisionEnhance(_Base):
    """Enhance images with Zero-DCE / Zero-DCE++ (v2 transform; boxes, masks and labels pass through).

    Takes the options of :class:`dce_transforms.transforms.Enhance` (the core transform it wraps, with
    the same defaults): the output keeps each image's type and dtype, and float tensors stay differentiable.

    Args:
        model: an enhancer module; None builds one from ``model_name`` and ``weights``.
        **kwargs: keyword options of :class:`dce_transforms.transforms.Enhance`: ``model_name``
            (``"zero-dce"`` or ``"zero-dce++"``), ``weights`` (of a built model), ``device`` (where the
            model runs), ``strength`` (blend between input (0) and enhanced output (1)) and the options
            of the built model (``curve_max_side``...).
    """

    kind = "enhance"

    def __init__(self, model: nn.Module | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.core = _core.Enhance(model, **kwargs)

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        return _rewrap(self.core(_unwrap(inpt)), inpt)


class TorchvisionRandomEnhance(_Base):
    """Enhance with probability ``p`` and a random strength, one draw per sample (v2 transform).

    Args:
        model: as for :class:`TorchvisionEnhance`.
        p: probability of enhancing the sample.
        strength: ``(low, high)`` range within [0, 1] of the blend factor.
        seed: seed of the transform's own generator (None: the global generator).
        **kwargs: ``model_name``, ``weights``, ``device`` and model options.
    """

    kind = "enhance"

    def __init__(
        self,
        model: nn.Module | None = None,
        *,
        p: float = 0.5,
        strength: float | tuple[float, float] = (0.5, 1.0),
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.core = _core.RandomEnhance(model, p=p, strength=strength, seed=seed, **kwargs)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        return self.core.make_params(1)

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not bool(params["apply"].any()):
            return inpt
        raw = _unwrap(inpt)
        with self.core._grad_context(raw):
            out = _core.apply_to_image(raw, lambda x: self.core.apply_params(x, params))
        return _rewrap(out, inpt)


class TorchvisionRandomLowLight(_Base):
    """Simulate low light with random camera parameters, one draw per sample (v2 transform).

    Args:
        p: probability of darkening the sample.
        seed: seed of the transform's own generator (None: the global generator).
        **ranges: ``exposure``, ``gamma``, ``shot_noise``, ``read_noise``, ``color_shift``, as for
            :func:`dce_transforms.simulate.sample_params`.
    """

    kind = "lowlight"

    def __init__(self, p: float = 1.0, *, seed: int | None = None, **ranges: Any) -> None:
        super().__init__()
        self.core = _core.RandomLowLight(p, seed=seed, **ranges)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        return self.core.make_params(1)

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not bool(params["apply"].any()):
            return inpt
        out = _core.apply_to_image(_unwrap(inpt), lambda x: self.core.apply_params(x, params))
        return _rewrap(out, inpt)

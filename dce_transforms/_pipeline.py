"""``ZeroDCE()`` / ``ZeroDCEPP()`` as a pipeline step: dispatch of what torchvision v1/v2 pipelines carry.

The models' own contract is a float ``(B, 3, H, W)`` / ``(3, H, W)`` tensor, differentiable. Called
with anything else they behave like a torchvision v2 colour transform:

- uint8 / uint16 tensors, ``tv_tensors.Image`` / ``tv_tensors.Video`` (any leading dimensions) and
  PIL images are enhanced and come back with the same type, dtype and shape
  (:func:`dce_transforms.transforms.apply_to_image` does the conversion);
- called with several inputs, or with one dict / list / tuple (as ``v2.Compose`` passes a
  detection sample), only the images change; ``BoundingBoxes``, ``Mask``, ``KeyPoints``, labels,
  strings and every other leaf come back as the very same objects. As in torchvision v2, a plain
  tensor counts as the image only when the sample holds no ``Image``, ``Video`` or PIL image, and
  then only the first one.

Gradient rule (:func:`records_graph`): a call records an autograd graph only if its input requires
grad, or if the module is in training mode, the input is a plain floating-point tensor and the call
is not in a DataLoader worker; every other call runs under ``torch.no_grad``.

Neither torchvision nor PIL is imported here: their types are recognised only once loaded.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from typing import Any, TypeGuard

import torch
from torch import Tensor, nn
from torch.utils import _pytree

from .convert import is_pil as _is_pil
from .errors import ConfigError

__all__ = ["is_contract_tensor", "pipeline_forward", "records_graph", "grad_mode"]


def _tv_tensors() -> Any:
    return sys.modules.get("torchvision.tv_tensors")


def _is_tv_tensor(x: object) -> bool:
    tv = _tv_tensors()
    return tv is not None and isinstance(x, tv.TVTensor)


def _is_tv_image(x: object) -> bool:
    tv = _tv_tensors()
    return tv is not None and isinstance(x, (tv.Image, tv.Video))


def _is_pure_tensor(x: object) -> TypeGuard[Tensor]:
    return isinstance(x, Tensor) and not _is_tv_tensor(x)


def is_contract_tensor(x: object) -> bool:
    """The module's own input: a plain tensor that is not uint8/uint16 (float, or refused by the checks)."""
    return _is_pure_tensor(x) and x.dtype not in (torch.uint8, torch.uint16)


def in_worker() -> bool:
    """True inside a DataLoader worker process."""
    return torch.utils.data.get_worker_info() is not None


def records_graph(module: nn.Module, x: object) -> bool:
    """Whether ``module(x)`` records an autograd graph (the rule of the module docstring)."""
    if isinstance(x, Tensor) and x.requires_grad:
        return True
    return bool(module.training) and _is_pure_tensor(x) and x.is_floating_point() and not in_worker()


def grad_mode(module: nn.Module, x: object) -> contextlib.AbstractContextManager:
    """``torch.no_grad()`` where :func:`records_graph` says no (a no-op while grad is already off)."""
    if not torch.is_grad_enabled() or records_graph(module, x):
        return contextlib.nullcontext()
    return torch.no_grad()


def _needs_transform(flat: list[Any]) -> list[bool]:
    """Which leaves are images, by torchvision v2's rule (the first plain tensor only without other images)."""
    pure_is_image = not any(_is_tv_image(x) or _is_pil(x) for x in flat)
    out = []
    for x in flat:
        if _is_tv_image(x) or _is_pil(x):
            out.append(True)
        elif _is_pure_tensor(x) and pure_is_image:
            pure_is_image = False
            out.append(True)
        else:
            out.append(False)
    return out


def _rewrap(out: Any, like: Any) -> Any:
    if _is_tv_tensor(like):
        return _tv_tensors().wrap(out, like=like)
    return out


def _transform_image(module: nn.Module, img: Any, fn: Callable[[Tensor], Tensor]) -> Any:
    from .transforms import apply_to_image, check_pipeline_image  # noqa: PLC0415 - transforms imports models

    check_pipeline_image(img)
    raw = img.as_subclass(Tensor) if _is_tv_tensor(img) else img
    with grad_mode(module, img):  # a tv_tensor / PIL image records nothing unless it requires grad
        out = apply_to_image(raw, fn)
    return _rewrap(out, img)


def pipeline_forward(module: nn.Module, inputs: tuple[Any, ...], fn: Callable[..., Any],
                     *, return_curves: bool = False) -> Any:
    """Run ``fn`` (the module on a float RGB batch) on the images of a pipeline sample; see the module docstring."""
    if not inputs:
        raise ConfigError(f"{type(module).__name__}() needs an image: call it as model(x) or model(image, target).")
    if return_curves:
        raise ConfigError(
            "return_curves=True needs one float (B, 3, H, W) or (3, H, W) tensor in [0, 1]; "
            "convert a uint8 / tv_tensors / PIL input with `x.float() / 255` first."
        )
    sample = inputs if len(inputs) > 1 else inputs[0]
    if not isinstance(sample, (dict, list, tuple)) and not _is_tv_tensor(sample) and not _is_pil(sample):
        if isinstance(sample, Tensor):
            return _transform_image(module, sample, fn)
        # a bare NumPy array, list of numbers, None...: the model's own input error says what to pass
        return fn(sample)
    flat, spec = _pytree.tree_flatten(sample)
    needs = _needs_transform(flat)
    if not any(needs):  # nothing to enhance (a list of numbers, a sample without images): the input error
        return fn(sample)
    outs = [_transform_image(module, x, fn) if need else x for x, need in zip(flat, needs)]
    return _pytree.tree_unflatten(outs, spec)

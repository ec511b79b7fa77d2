"""torchvision v2 conventions for ZeroDCE, ZeroDCEPP and every v2 adapter, checked the way torchvision checks its own.

Written here, after what torchvision's ``check_transform`` covers: the transform pickles (and the copy
behaves the same), the output has the input's type (and here also its dtype and shape), and a big
sample of every kind of leaf, as dict, list and tuple, comes back with the same structure, images of
the same type, and every other leaf as the very same object. Which leaves count as images is asked
of torchvision itself (``Transform()._needs_transform_list``), not of our dispatch code.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

pytest.importorskip("torchvision")
PIL_Image = pytest.importorskip("PIL.Image")

from torch.utils._pytree import tree_flatten  # noqa: E402
from torchvision import tv_tensors  # noqa: E402
from torchvision.transforms import v2  # noqa: E402

from dce_transforms import ZeroDCE, ZeroDCEPP  # noqa: E402
from dce_transforms.integrations import torchvision as TV  # noqa: E402
from dce_transforms.transforms import PipelineAdapter  # noqa: E402

H, W = 12, 16


def _bright_dce() -> ZeroDCE:
    torch.manual_seed(0)
    m = ZeroDCE(weights=None)
    with torch.no_grad():
        m.conv7.bias.fill_(0.6)
    return m.eval()


def _factories() -> dict[str, callable]:
    out = {
        "ZeroDCE": _bright_dce,
        "ZeroDCEPP": lambda: ZeroDCEPP(weights=None, scale_factor=2).eval(),
    }
    adapters = [c for c in vars(TV).values() if isinstance(c, type) and issubclass(c, PipelineAdapter) and c.kind]
    for cls in sorted(adapters, key=lambda c: c.__name__):
        if cls.framework != "torchvision":
            continue
        if cls.kind == "enhance":
            kwargs = {"p": 1.0, "seed": 0} if "Random" in cls.__name__ else {}
            out[cls.__name__] = lambda cls=cls, kwargs=kwargs: cls(_bright_dce(), **kwargs)
        else:
            out[cls.__name__] = lambda cls=cls: cls(p=1.0, seed=0)
    return out


FACTORIES = _factories()


def test_every_v2_adapter_is_checked():
    assert {"ZeroDCE", "ZeroDCEPP", "TorchvisionEnhance", "TorchvisionRandomEnhance",
            "TorchvisionRandomLowLight"} <= set(FACTORIES)


def _u8(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(10, 90, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def _f32(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)) * 0.35 + 0.05


INPUTS = {
    "tensor_float": lambda: _f32(3, H, W),
    "tensor_uint8": lambda: _u8(3, H, W),
    "image_uint8": lambda: tv_tensors.Image(_u8(3, H, W)),
    "image_float": lambda: tv_tensors.Image(_f32(3, H, W)),
    "image_batch_uint8": lambda: tv_tensors.Image(_u8(2, 3, H, W)),
    "video_uint8": lambda: tv_tensors.Video(_u8(2, 3, H, W)),
    "video_float": lambda: tv_tensors.Video(_f32(2, 3, H, W)),
    "pil": lambda: PIL_Image.fromarray(_u8(H, W, 3).numpy()),
}


def _sample(image) -> dict:
    """Every kind of leaf a v2 pipeline carries, next to the image under test."""
    return {
        "input": image,
        "pure_tensor": torch.rand(3, H, W),
        "boxes_xyxy": tv_tensors.BoundingBoxes([[1, 2, 8, 9]], format="XYXY", canvas_size=(H, W)),
        "boxes_cxcywh": tv_tensors.BoundingBoxes([[5, 5, 4, 4]], format="CXCYWH", canvas_size=(H, W)),
        "mask": tv_tensors.Mask(torch.ones(H, W, dtype=torch.uint8)),
        "keypoints": tv_tensors.KeyPoints([[2.0, 3.0]], canvas_size=(H, W)),
        "video": tv_tensors.Video(_u8(2, 3, H, W, seed=1)),
        "pil": PIL_Image.fromarray(_u8(H, W, 3, seed=2).numpy()),
        "labels": torch.tensor([1, 2]),
        "str": "str",
        "int": 0,
        "none": None,
        "array": np.zeros((2, 2)),
    }


def _same_image(out, inp) -> None:
    assert type(out) is type(inp)
    if isinstance(inp, torch.Tensor):
        assert out.dtype == inp.dtype and out.shape == inp.shape and out.device == inp.device
        assert not out.requires_grad, "a pipeline step must not return an autograd graph"
    else:
        assert out.mode == inp.mode and out.size == inp.size


def _check_v2(transform, image) -> None:
    """Our v2 check (the points of torchvision's check_transform, plus dtype/shape and identity of pass-through)."""
    copy = pickle.loads(pickle.dumps(transform))
    out = transform(image)
    _same_image(out, image)
    out_copy = copy(image)
    if isinstance(out, torch.Tensor):
        assert torch.equal(out.as_subclass(torch.Tensor), out_copy.as_subclass(torch.Tensor)), "pickled copy differs"
    else:
        assert np.array_equal(np.asarray(out), np.asarray(out_copy))

    sample = _sample(image)
    for container in (dict, list, tuple):
        inp = sample if container is dict else container(sample.values())
        flat_in, spec_in = tree_flatten(inp)
        expected = v2.Transform()._needs_transform_list(flat_in)
        out = transform(inp)
        flat_out, spec_out = tree_flatten(out)
        assert spec_out == spec_in, f"{container.__name__} sample changed structure"
        for o, i, is_image in zip(flat_out, flat_in, expected):
            if is_image:
                _same_image(o, i)
            else:
                assert o is i, f"{type(i).__name__} must pass through untouched"
        assert any(expected)

    # several positional inputs, as v2.Compose passes (image, target)
    target = {"boxes": sample["boxes_xyxy"], "labels": sample["labels"]}
    out_img, out_target = transform(image, target)
    _same_image(out_img, image)
    assert out_target["boxes"] is target["boxes"] and out_target["labels"] is target["labels"]


@pytest.mark.parametrize("kind", sorted(INPUTS))
@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_v2_check(name, kind):
    _check_v2(FACTORIES[name](), INPUTS[kind]())


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_images_change_in_the_expected_direction(name):
    t = FACTORIES[name]()
    img = tv_tensors.Image(_u8(3, H, W))
    out = t(img)
    if "LowLight" in name:
        assert out.float().mean() < img.float().mean()
    elif name != "ZeroDCEPP":  # random init Zero-DCE++ is close to the identity; the others brighten
        assert out.float().mean() > img.float().mean() + 1


def test_detection_sample_through_v2_compose_boxes_follow_the_flip():
    img = tv_tensors.Image(_u8(3, H, W))
    boxes = tv_tensors.BoundingBoxes([[1, 2, 5, 9]], format="XYXY", canvas_size=(H, W))
    target = {"boxes": boxes, "labels": torch.tensor([3]), "image_id": "000123.jpg"}
    pipe = v2.Compose([_bright_dce(), v2.RandomHorizontalFlip(p=1.0), v2.ToDtype(torch.float32, scale=True)])
    out_img, out_target = pipe(img, target)
    assert type(out_img) is tv_tensors.Image and out_img.dtype == torch.float32
    assert out_target["boxes"].tolist() == [[W - 5, 2, W - 1, 9]]
    assert out_target["labels"].tolist() == [3] and out_target["image_id"] == "000123.jpg"
    enhanced = _bright_dce()(img).flip(-1).float() / 255
    assert torch.allclose(out_img.as_subclass(torch.Tensor), enhanced.as_subclass(torch.Tensor), atol=1e-6)


def test_v1_compose_normalize_and_pil():
    from torchvision import transforms as T

    x = _f32(3, H, W)
    out = T.Compose([_bright_dce(), T.Normalize([0.5] * 3, [0.25] * 3)])(x)
    assert out.shape == x.shape and not out.requires_grad
    pil = PIL_Image.fromarray(_u8(H, W, 3).numpy())
    t = T.Compose([ZeroDCE(weights=None), T.ToTensor()])(pil)
    assert t.shape == (3, H, W) and t.dtype == torch.float32


def test_module_contract_unchanged_for_float_tensors():
    m = ZeroDCE(weights=None)  # training mode, as constructed
    x = _f32(2, 3, H, W).requires_grad_()
    y, alpha = m(x, return_curves=True)
    assert type(y) is torch.Tensor and y.shape == x.shape and alpha.shape == (2, 24, H, W)
    y.mean().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    with pytest.raises(ValueError, match="return_curves"):
        m(tv_tensors.Image(_u8(3, H, W)), return_curves=True)

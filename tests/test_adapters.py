"""One contract for every pipeline adapter, found by introspection.

Every class that subclasses :class:`dce_transforms.transforms.PipelineAdapter` (with a ``kind``) in
``dce_transforms.transforms`` or any module of ``dce_transforms.integrations`` runs through the
same checks, with the harness of its ``framework``: boxes and masks come back identical, the image
changes in the expected direction, type/dtype/shape are preserved, grayscale and BGR inputs work
where the framework has them, and the transform survives pickling and its framework's serialisation.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pickle
import pkgutil
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from dce_transforms import ZeroDCE, save_state_dict
from dce_transforms import transforms as core

# -- discovery -----------------------------------------------------------------------------------------------


def _adapter_modules() -> list[Any]:
    import dce_transforms.integrations as pkg

    mods = [core]
    for info in pkgutil.iter_modules(pkg.__path__):
        try:
            mods.append(importlib.import_module(f"{pkg.__name__}.{info.name}"))
        except ImportError:  # an optional framework that is not installed
            continue
    return mods


def _adapters() -> list[type]:
    found = {}
    for mod in _adapter_modules():
        for obj in vars(mod).values():
            if (
                inspect.isclass(obj)
                and issubclass(obj, core.PipelineAdapter)
                and obj.kind
                and obj.__module__ == mod.__name__
            ):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [found[k] for k in sorted(found)]


ADAPTER_CLASSES = _adapters()


def test_discovery_finds_every_framework():
    frameworks = {cls.framework for cls in ADAPTER_CLASSES}
    assert {"core", "torchvision", "kornia", "albumentations"} <= frameworks
    assert {cls.kind for cls in ADAPTER_CLASSES} == {"enhance", "lowlight"}
    names = {cls.__name__ for cls in ADAPTER_CLASSES}
    assert {"Enhance", "RandomEnhance", "RandomLowLight", "TorchvisionEnhance", "TorchvisionRandomEnhance",
            "TorchvisionRandomLowLight", "KorniaEnhance", "KorniaRandomLowLight",
            "AlbumentationsEnhance", "AlbumentationsRandomLowLight"} <= names


# -- a fixed enhancer that visibly brightens, and differently per channel ------------------------------------


@pytest.fixture(scope="module")
def weights_path(tmp_path_factory) -> str:
    torch.manual_seed(0)
    model = ZeroDCE(weights=None)
    with torch.no_grad():
        model.conv7.bias.copy_(torch.tensor([0.9, 0.4, -0.1]).repeat(8))
    path = tmp_path_factory.mktemp("weights") / "bright.safetensors"
    save_state_dict(model.state_dict(), path)
    return str(path)


def _make(cls: type, weights_path: str, **extra: Any) -> Any:
    params = inspect.signature(cls.__init__).parameters
    kw: dict[str, Any] = {}
    if cls.kind == "enhance":
        kw.update(model_name="zero-dce", weights=weights_path)
    if "p" in params:
        kw["p"] = 1.0
    if "seed" in params:
        kw["seed"] = 0
    kw.update(extra)
    return cls(**kw)


# -- inputs ----------------------------------------------------------------------------------------------------

H = W = 32


def _rgb_float(seed: int = 0) -> np.ndarray:
    """HWC float32 in [0.1, 0.5]: dark enough to brighten, bright enough to darken."""
    return np.random.default_rng(seed).uniform(0.1, 0.5, (H, W, 3)).astype(np.float32)


def _u8(a: np.ndarray) -> np.ndarray:
    return (a * 255).round().astype(np.uint8)


def _boxes_np() -> np.ndarray:
    return np.array([[2.0, 3.0, 20.0, 30.0], [5.0, 5.0, 9.0, 12.0]], dtype=np.float32)


def _mask_np() -> np.ndarray:
    m = np.zeros((H, W), np.uint8)
    m[4:20, 6:25] = 1
    return m


# Each harness case: name -> (make input image, run(adapter, image) -> (image, boxes_equal, masks_equal)).
# Images are in the framework's own type; "gray" and "bgr" mark the cases those checks use.


def _run_core(t: Any, img: Any) -> tuple[Any, bool, bool]:
    return t(img), True, True  # the core transforms see the image only; nothing else to disturb


def _run_torchvision(t: Any, img: Any) -> tuple[Any, bool, bool]:
    from torchvision import tv_tensors

    boxes = tv_tensors.BoundingBoxes(torch.from_numpy(_boxes_np()), format="XYXY", canvas_size=(H, W))
    mask = tv_tensors.Mask(torch.from_numpy(_mask_np()))
    labels = torch.tensor([1, 2])
    out = t({"image": img, "boxes": boxes, "masks": mask, "labels": labels})
    same_boxes = type(out["boxes"]) is type(boxes) and torch.equal(out["boxes"], boxes) and torch.equal(out["labels"], labels)
    same_mask = type(out["masks"]) is type(mask) and torch.equal(out["masks"], mask)
    return out["image"], same_boxes, same_mask


def _run_kornia(t: Any, img: Any) -> tuple[Any, bool, bool]:
    import kornia.augmentation as K

    seq = K.AugmentationSequential(t, data_keys=["input", "bbox_xyxy", "mask"])
    boxes = torch.from_numpy(_boxes_np())[None].expand(img.shape[0], -1, -1).clone()
    mask = torch.from_numpy(_mask_np()).float()[None, None].expand(img.shape[0], -1, -1, -1).clone()
    out, out_boxes, out_mask = seq(img, boxes, mask)
    return out, torch.equal(out_boxes, boxes), torch.equal(out_mask, mask)


def _run_albumentations(t: Any, img: Any, *, seed: int = 0) -> tuple[Any, bool, bool]:
    import albumentations as A

    pipe = A.Compose([t], bbox_params=A.BboxParams(format="pascal_voc", label_fields=["labels"]), seed=seed)
    boxes, mask = _boxes_np(), _mask_np()
    out = pipe(image=img, mask=mask, bboxes=boxes, labels=[1, 2])
    return out["image"], np.array_equal(np.asarray(out["bboxes"]), boxes) and list(out["labels"]) == [1, 2], (
        np.array_equal(out["mask"], mask)
    )


def _pil(a: np.ndarray, mode: str) -> Any:
    from PIL import Image

    return Image.fromarray(a, mode=mode)


def _tv_image(t: torch.Tensor) -> Any:
    from torchvision import tv_tensors

    return tv_tensors.Image(t)


CASES: dict[str, dict[str, tuple[Callable[[], Any], set[str]]]] = {
    "core": {
        "tensor_f32_chw": (lambda: torch.from_numpy(_rgb_float()).permute(2, 0, 1).contiguous(), {"bgr"}),
        "tensor_u8_bchw": (lambda: torch.from_numpy(_u8(_rgb_float())).permute(2, 0, 1)[None].repeat(2, 1, 1, 1), {"bgr"}),
        "tensor_f32_gray": (lambda: torch.from_numpy(_rgb_float()[..., :1]).permute(2, 0, 1).contiguous(), {"gray"}),
        "numpy_u8_hwc": (lambda: _u8(_rgb_float()), {"bgr"}),
        "numpy_f32_hwc": (lambda: _rgb_float(), {"bgr"}),
        "numpy_u8_gray_hw": (lambda: _u8(_rgb_float())[..., 0], {"gray"}),
        "pil_rgb": (lambda: _pil(_u8(_rgb_float()), "RGB"), set()),
        "pil_gray": (lambda: _pil(_u8(_rgb_float())[..., 0], "L"), {"gray"}),
    },
    "torchvision": {
        "tv_image_u8": (lambda: _tv_image(torch.from_numpy(_u8(_rgb_float())).permute(2, 0, 1)), set()),
        "tv_image_f32": (lambda: _tv_image(torch.from_numpy(_rgb_float()).permute(2, 0, 1)), set()),
        "tv_image_gray": (lambda: _tv_image(torch.from_numpy(_u8(_rgb_float())[..., :1]).permute(2, 0, 1)), {"gray"}),
        "pure_tensor_f32": (lambda: torch.from_numpy(_rgb_float()).permute(2, 0, 1).contiguous(), set()),
        "pil_rgb": (lambda: _pil(_u8(_rgb_float()), "RGB"), set()),
    },
    "kornia": {
        "batch_f32": (lambda: torch.from_numpy(np.stack([_rgb_float(0), _rgb_float(1)])).permute(0, 3, 1, 2).contiguous(), set()),
        "batch_gray": (lambda: torch.from_numpy(_rgb_float()[..., :1]).permute(2, 0, 1)[None].contiguous(), {"gray"}),
    },
    "albumentations": {
        "u8_hwc": (lambda: _u8(_rgb_float()), {"bgr"}),
        "f32_hwc": (lambda: _rgb_float(), {"bgr"}),
        "u8_gray_hw": (lambda: _u8(_rgb_float())[..., 0], {"gray"}),
        "u8_gray_hw1": (lambda: _u8(_rgb_float())[..., :1], {"gray"}),
    },
}

RUNNERS = {"core": _run_core, "torchvision": _run_torchvision, "kornia": _run_kornia, "albumentations": _run_albumentations}


def _mean(img: Any) -> float:
    if isinstance(img, torch.Tensor):
        x = img.as_subclass(torch.Tensor).detach().double()
        return float(x.mean() / (255 if img.dtype == torch.uint8 else 1))
    a = np.asarray(img, dtype=np.float64)
    return float(a.mean() / (255 if np.asarray(img).dtype == np.uint8 else 1))


def _same_kind(a: Any, b: Any) -> bool:
    """Same Python type, shape and dtype (PIL: same mode and size)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (torch.Tensor, np.ndarray)):
        return tuple(a.shape) == tuple(b.shape) and a.dtype == b.dtype
    return a.mode == b.mode and a.size == b.size


def _params() -> list[Any]:
    out = []
    for cls in ADAPTER_CLASSES:
        for case in CASES.get(cls.framework, {"<no harness>": None}):
            out.append(pytest.param(cls, case, id=f"{cls.framework}.{cls.__name__}-{case}"))
    return out


pytestmark = pytest.mark.filterwarnings("ignore:Got processor for bboxes:UserWarning")


@pytest.mark.parametrize("cls, case", _params())
def test_adapter_contract(cls, case, weights_path):
    if cls.framework not in RUNNERS:
        pytest.fail(f"{cls.__module__}.{cls.__name__}: no contract harness for framework {cls.framework!r}; add one.")
    make_img, tags = CASES[cls.framework][case]
    run = RUNNERS[cls.framework]
    img = make_img()
    before = pickle.loads(pickle.dumps(img)) if not isinstance(img, torch.Tensor) else img.clone()
    t = _make(cls, weights_path)
    out, boxes_same, mask_same = run(t, img)

    assert boxes_same, "boxes/labels changed"
    assert mask_same, "mask changed"
    assert _same_kind(out, img), f"type/shape/dtype not preserved: {type(out).__name__} vs {type(img).__name__}"
    if isinstance(img, torch.Tensor):
        assert torch.equal(img, before), "the input was modified in place"
    delta = _mean(out) - _mean(img)
    if cls.kind == "enhance":
        assert delta > 0.05, f"enhancement did not brighten the image (mean change {delta:.4f})"
    else:
        assert delta < -0.1, f"low-light simulation did not darken the image (mean change {delta:.4f})"

    if "bgr" in tags and "bgr" in inspect.signature(cls.__init__).parameters:
        t_bgr = _make(cls, weights_path, bgr=True)
        t_rgb = _make(cls, weights_path)
        flip = (lambda x: x.flip(-3)) if isinstance(img, torch.Tensor) else (lambda x: np.ascontiguousarray(x[..., ::-1]))
        out_rgb = run(t_rgb, img)[0]
        out_bgr = run(t_bgr, flip(img))[0]
        equal = torch.equal if isinstance(img, torch.Tensor) else np.array_equal
        assert equal(flip(out_bgr), out_rgb), "bgr=True must give the RGB result with channels reversed"
        assert not equal(out_bgr, out_rgb) or not equal(flip(img), img)

    # Serialisation: pickling (DataLoader workers with spawn) keeps behaviour.
    t2 = pickle.loads(pickle.dumps(_make(cls, weights_path)))
    assert _same_kind(run(t2, make_img())[0], img)


@pytest.mark.parametrize("cls", [c for c in ADAPTER_CLASSES if c.framework == "albumentations"], ids=lambda c: c.__name__)
def test_albumentations_to_dict_from_dict_round_trip(cls, weights_path):
    import albumentations as A

    t = _make(cls, weights_path)
    d = A.to_dict(t)
    d = json.loads(json.dumps(d))  # plain JSON: arguments only, no tensors or modules
    assert d["transform"]["weights"] == t.weights if cls.kind == "enhance" else "exposure" in d["transform"]
    t2 = A.from_dict(d)
    assert type(t2) is cls and A.to_dict(t2) == d
    img = _u8(_rgb_float())
    out1 = _run_albumentations(t, img, seed=3)[0]
    out2 = _run_albumentations(t2, img, seed=3)[0]
    assert np.array_equal(out1, out2)


def test_gradients_reach_enhancer_through_kornia_sequential():
    import kornia.augmentation as K

    from dce_transforms.integrations.kornia import KorniaEnhance, KorniaRandomLowLight

    torch.manual_seed(0)
    model = ZeroDCE(weights=None)
    seq = K.AugmentationSequential(
        KorniaRandomLowLight(seed=0),
        K.RandomHorizontalFlip(p=1.0),
        KorniaEnhance(model),
        data_keys=["input", "bbox_xyxy", "mask"],
    )
    x = torch.rand(2, 3, 16, 16, requires_grad=True)
    boxes = torch.tensor([[[1.0, 2.0, 8.0, 9.0]]]).repeat(2, 1, 1)
    mask = torch.ones(2, 1, 16, 16)
    out, out_boxes, out_mask = seq(x, boxes, mask)
    out.mean().backward()
    assert model.conv1.weight.grad is not None and model.conv1.weight.grad.abs().sum() > 0
    assert model.conv7.bias.grad is not None and model.conv7.bias.grad.abs().sum() > 0
    assert x.grad is not None and x.grad.abs().sum() > 0
    torch.testing.assert_close(out_boxes[..., [1, 3]], boxes[..., [1, 3]])  # the flip moves x only
    assert torch.equal(out_mask, mask)


class _AlbumentationsDataset(torch.utils.data.Dataset):
    def __init__(self, pipe: Any, images: list[np.ndarray]) -> None:
        self.pipe, self.images = pipe, images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict[str, Any]:
        out = self.pipe(image=self.images[i], mask=_mask_np(), bboxes=_boxes_np(), labels=[1, 2])
        return {
            "image": torch.from_numpy(out["image"]),
            "mask": torch.from_numpy(out["mask"]),
            "threads": torch.get_num_threads(),
        }


def test_albumentations_enhance_in_dataloader_workers(weights_path):
    import albumentations as A

    from dce_transforms.integrations.albumentations import AlbumentationsEnhance

    t = AlbumentationsEnhance(weights=weights_path)
    pipe = A.Compose([t], bbox_params=A.BboxParams(format="pascal_voc", label_fields=["labels"]))
    images = [_u8(_rgb_float(i)) for i in range(4)]
    loader = torch.utils.data.DataLoader(_AlbumentationsDataset(pipe, images), batch_size=2, num_workers=2)
    batches = list(loader)
    assert t._model is None, "the model must be built in the workers, not in the parent"
    got = torch.cat([b["image"] for b in batches])
    expected = torch.stack([torch.from_numpy(t.apply(im)) for im in images])
    assert torch.equal(got, expected)
    assert all(int(n) == 1 for b in batches for n in b["threads"])
    assert torch.equal(torch.cat([b["mask"] for b in batches]), torch.from_numpy(_mask_np())[None].repeat(4, 1, 1))


def test_integration_docstring_examples_run():
    import doctest

    for mod in _adapter_modules():
        if mod.__name__.startswith("dce_transforms.integrations.") and mod.__name__.rsplit(".", 1)[-1] in (
            "torchvision",
            "kornia",
            "albumentations",
        ):
            result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
            assert result.failed == 0, f"doctest failures in {mod.__name__}"
            assert result.attempted > 0


def test_albumentations_adapter_in_a_fork_pool_after_the_parent_used_torch(tmp_path):
    """A multiprocessing fork Pool (not a DataLoader) must not hang once the parent has run the model."""
    pytest.importorskip("albumentations")
    import subprocess
    import sys
    import textwrap

    script = tmp_path / "pool.py"
    script.write_text(textwrap.dedent("""
        import multiprocessing as mp
        import numpy as np
        import torch
        from dce_transforms.integrations.albumentations import AlbumentationsEnhance
        torch.set_num_threads(2)
        t = AlbumentationsEnhance(p=1.0)
        img = (np.random.default_rng(0).random((48, 64, 3)) * 60).astype(np.uint8)
        expected = float(t(image=img)["image"].mean())
        def work(_):
            return float(t(image=img)["image"].mean())
        if __name__ == "__main__":
            with mp.get_context("fork").Pool(2) as pool:
                out = pool.map(work, range(4))
            assert all(abs(v - expected) < 1e-6 for v in out), (out, expected)
            print("ok")
    """))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]

"""Every pipeline class inside a Dataset read by DataLoader workers (2 workers, fork and spawn).

One Dataset applies every class to tiny images, so each start method costs one loader start. The
outputs must come back with their type and dtype and without an autograd graph; seeded random
transforms must survive pickling to spawned workers, differ between workers and reproduce their
stream under a fixed DataLoader generator. And the rule's other half: the same module in a model in
training mode still gets gradients.
"""

from __future__ import annotations

import multiprocessing as mp

import numpy as np
import pytest
import torch
from torch import nn

from dce_transforms import ZeroDCE, ZeroDCEPP
from dce_transforms import transforms as core

tv = pytest.importorskip("torchvision")
from torchvision import transforms as T  # noqa: E402
from torchvision import tv_tensors  # noqa: E402

from dce_transforms.integrations import kornia as K  # noqa: E402
from dce_transforms.integrations import torchvision as TV  # noqa: E402

try:
    from dce_transforms.integrations import albumentations as AL
except ImportError:  # optional extra
    AL = None

H, W = 8, 10
METHODS = [m for m in ("fork", "spawn") if m in mp.get_all_start_methods()]


def _identity() -> ZeroDCE:
    return ZeroDCE(weights=None).reset_to_identity()


def _pipelines() -> dict:
    """name -> (transform, how it is called); enhancers are identity / seeded random init (no weights read)."""
    torch.manual_seed(0)
    p = {
        "ZeroDCE": (ZeroDCE(weights=None), "tensor"),  # training mode, as constructed
        "ZeroDCEPP": (ZeroDCEPP(weights=None), "tensor"),
        "ZeroDCE_v1_compose": (T.Compose([ZeroDCE(weights=None), T.Normalize([0.5] * 3, [0.25] * 3)]), "tensor"),
        "ZeroDCE_uint8_image": (ZeroDCE(weights=None), "tv_image"),
        "Enhance": (core.Enhance(_identity()), "tensor"),
        "RandomEnhance": (core.RandomEnhance(ZeroDCE(weights=None), p=1.0, seed=0), "tensor"),
        "RandomLowLight": (core.RandomLowLight(seed=0), "tensor"),
        "TorchvisionEnhance": (TV.TorchvisionEnhance(_identity()), "tv_image"),
        "TorchvisionRandomEnhance": (TV.TorchvisionRandomEnhance(ZeroDCE(weights=None), p=1.0, seed=0), "tv_image"),
        "TorchvisionRandomLowLight": (TV.TorchvisionRandomLowLight(seed=0), "tv_image"),
        "KorniaEnhance": (K.KorniaEnhance(ZeroDCE(weights=None), keepdim=True), "tensor"),
        "KorniaRandomLowLight": (K.KorniaRandomLowLight(seed=0, keepdim=True), "tensor"),
    }
    if AL is not None:
        p["AlbumentationsEnhance"] = (AL.AlbumentationsEnhance(weights=None), "album")
        p["AlbumentationsRandomLowLight"] = (AL.AlbumentationsRandomLowLight(), "album")
    return p


SEEDED = ["RandomEnhance", "RandomLowLight", "TorchvisionRandomEnhance", "TorchvisionRandomLowLight",
          "KorniaRandomLowLight"]


class Everything(torch.utils.data.Dataset):
    """Item i: every pipeline applied to the same tiny image; results as plain tensors."""

    def __init__(self) -> None:
        self.pipes = _pipelines()

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> dict:
        x = torch.full((3, H, W), 0.3) + 0.02 * i
        out = {}
        for name, (t, how) in self.pipes.items():
            if how == "tensor":
                y = t(x)
            elif how == "tv_image":
                y = t(tv_tensors.Image((x * 255).to(torch.uint8)))
                assert type(y) is tv_tensors.Image and y.dtype == torch.uint8
                y = y.as_subclass(torch.Tensor)
            else:
                a = (x.permute(1, 2, 0).numpy() * 255).astype(np.uint8)
                y = t(image=a)["image"]
                assert y.dtype == np.uint8
                y = torch.from_numpy(np.ascontiguousarray(y.transpose(2, 0, 1)))  # HWC -> CHW
            out[name] = y
        return out


def _expected_names() -> set:
    """Every adapter class (a :class:`~dce_transforms.transforms.PipelineAdapter` with a kind) of the loaded modules."""
    modules = [core, K, TV] + ([AL] if AL is not None else [])
    return {
        c.__name__
        for m in modules
        for c in vars(m).values()
        if isinstance(c, type) and issubclass(c, core.PipelineAdapter) and c.kind and c.__module__ == m.__name__
    }


def test_the_dataset_covers_every_pipeline_class():
    names = _expected_names()
    assert {"Enhance", "TorchvisionEnhance", "KorniaEnhance"} <= names  # the discovery finds classes
    assert names <= set(_pipelines())


@pytest.mark.parametrize("method", METHODS)
def test_every_pipeline_in_two_workers(method):
    def run(method):
        loader = torch.utils.data.DataLoader(Everything(), batch_size=1, num_workers=2,
                                             multiprocessing_context=method,
                                             generator=torch.Generator().manual_seed(0))
        return list(loader)

    batches = run(method)
    assert len(batches) == 4
    for b in batches:
        for name, y in b.items():
            assert not y.requires_grad, name
            assert y.shape[-2:] == (H, W), name
    for name in SEEDED:  # items 0 and 1 come from the two workers' first calls: no repeats
        assert not torch.equal(batches[0][name], batches[1][name]), name
    if method != "fork" and "fork" in METHODS:  # the same stream whatever the start method
        again = run("fork")
        for name in SEEDED:
            assert all(torch.equal(a[name], b[name]) for a, b in zip(batches, again)), f"{name} not reproduced"


def test_readme_headline_pipeline_in_two_workers():
    class Frames(torch.utils.data.Dataset):
        def __init__(self, t):
            self.t = t

        def __len__(self):
            return 4

        def __getitem__(self, i):
            return self.t(torch.rand(3, H, W) * 0.3)

    pipe = T.Compose([ZeroDCE(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])  # shipped weights
    for b in torch.utils.data.DataLoader(Frames(pipe), batch_size=2, num_workers=2):
        assert b.shape == (2, 3, H, W) and not b.requires_grad


def test_module_in_a_model_in_training_mode_still_trains():
    dce = ZeroDCE(weights=None)
    model = nn.Sequential(dce, nn.Conv2d(3, 1, 1)).train()
    x = torch.rand(2, 3, H, W) * 0.3  # a batch from a loader: does not require grad
    model(x).square().mean().backward()
    assert dce.conv1.weight.grad is not None and float(dce.conv1.weight.grad.abs().sum()) > 0
    # the same module as a pipeline step: eval mode, uint8 or tv_tensor inputs record nothing
    assert not dce.eval()(x).requires_grad
    dce.train()
    assert dce(x).requires_grad  # training mode, plain float tensor, main process: a graph, as before
    assert not dce((x[0] * 255).to(torch.uint8)).requires_grad
    assert not dce(tv_tensors.Image(x[0])).requires_grad
    assert dce(tv_tensors.Image(x[0]).requires_grad_()).requires_grad


class _Enhanced(torch.utils.data.Dataset):
    """Module level, so that spawned workers can unpickle it."""

    def __init__(self, fast, x):
        self.fast, self.x = fast, x

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return self.fast(self.x)


@pytest.mark.parametrize("backend", ["eager", "openvino", "inductor"])
@pytest.mark.parametrize("method", METHODS)
def test_optimized_enhancer_in_workers_after_use_in_the_parent(method, backend):
    # optimize()'s wrapper, already run here (its OpenVINO model built, its curves compiled), then read by
    # workers: fork inherits it (a compile there once hung on the parent's compile pool), spawn pickles it
    # without its runners and rebuilds them in the worker.
    if backend == "inductor" and method != "fork":
        pytest.skip("spawned workers compile from scratch, as the eager case already shows")
    from dce_transforms.fast import openvino_available, optimize

    if backend == "openvino" and not openvino_available():
        pytest.skip("the openvino extra is not installed")
    torch.manual_seed(0)
    fast = optimize(ZeroDCE(weights=None), backend=backend, precision="fp32")
    x = torch.rand(3, 64, 72) * 0.3
    ref = fast(x)
    loader = torch.utils.data.DataLoader(_Enhanced(fast, x), batch_size=2, num_workers=2,
                                         multiprocessing_context=method, timeout=180)
    for b in loader:
        assert torch.allclose(b, ref.expand_as(b), atol=1e-4, rtol=0)
    assert torch.equal(fast(x), ref)  # and the parent's copy still runs

"""KorniaRandomLowLight and KorniaEnhance: compile (fullgraph), torch.export, ONNX, same_on_batch, input errors."""

from __future__ import annotations

import warnings

import pytest
import torch

pytest.importorskip("kornia")

from dce_transforms import ZeroDCE
from dce_transforms.errors import DCEError, ImageDTypeError, ImageShapeError
from dce_transforms.integrations.kornia import KorniaEnhance, KorniaRandomLowLight


def _x(b: int = 2) -> torch.Tensor:
    return torch.rand(b, 3, 16, 20, generator=torch.Generator().manual_seed(0)) * 0.6 + 0.3


def _plausible(y: torch.Tensor, x: torch.Tensor) -> None:
    assert y.shape == x.shape and bool(torch.isfinite(y).all())
    assert float(y.min()) >= 0 and float(y.max()) <= 1 and float(y.mean()) < float(x.mean())


def test_same_on_batch_gives_identical_outputs():
    x = _x(1).expand(4, -1, -1, -1).contiguous()
    y = KorniaRandomLowLight(seed=0, same_on_batch=True, shot_noise=(0.01, 0.02), read_noise=(0.005, 0.01))(x)
    assert all(torch.equal(y[0], y[i]) for i in range(1, 4))
    z = KorniaRandomLowLight(seed=0, shot_noise=(0.01, 0.02), read_noise=(0.005, 0.01))(x)
    assert not torch.equal(z[0], z[1]), "without same_on_batch each image gets its own draw"


def test_params_reproduce_the_output_exactly():
    aug = KorniaRandomLowLight(seed=3)
    x = _x()
    y = aug(x)
    assert torch.equal(aug(x, params=aug._params), y)


@pytest.mark.slow
def test_compile_fullgraph():
    aug = KorniaRandomLowLight(seed=0).eval()
    x = _x()
    _plausible(torch.compile(aug, fullgraph=True, backend="eager")(x), x)


def test_torch_export():
    aug = KorniaRandomLowLight(seed=0).eval()
    x = _x()
    module = torch.export.export(aug, (x,)).module()
    _plausible(module(x), x)


def test_onnx_export(tmp_path):
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    aug = KorniaRandomLowLight(seed=0).eval()
    x = _x()
    path = tmp_path / "lowlight.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(aug, (x,), path, dynamo=True, input_names=["image"])
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    y = torch.from_numpy(session.run(None, {"image": x.numpy()})[0])
    _plausible(y, x)


def test_kornia_enhance_compiles_fullgraph():
    aug = KorniaEnhance(ZeroDCE(weights=None).reset_to_identity()).eval()
    x = _x()
    assert torch.allclose(torch.compile(aug, fullgraph=True, backend="eager")(x), x, atol=1e-6)


@pytest.mark.parametrize("cls", [KorniaEnhance, KorniaRandomLowLight])
@pytest.mark.parametrize(
    "bad, error",
    [
        (torch.zeros(1, 3, 8, 8, dtype=torch.uint8), ImageDTypeError),
        (torch.zeros(1, 3, 8, 8, dtype=torch.int64), ImageDTypeError),
        (torch.rand(2, 2, 3, 8, 8), ImageShapeError),
        (torch.rand(1, 3, 0, 8), ImageShapeError),
        (torch.empty(1, 3, 8, 8, device="meta"), ImageDTypeError),
        (torch.rand(1, 5, 8, 8), ImageShapeError),
    ],
    ids=["uint8", "int64", "5d", "empty", "meta", "5ch"],
)
def test_kornia_input_errors_are_library_errors(cls, bad, error):
    aug = cls(ZeroDCE(weights=None)) if cls is KorniaEnhance else cls(seed=0)
    with pytest.raises(error) as info:
        aug(bad)
    assert isinstance(info.value, DCEError) and isinstance(info.value, (TypeError, ValueError))

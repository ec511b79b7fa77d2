"""Golden outputs of the shipped weights, and loading them offline by default."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from dce_transforms import ZeroDCE, ZeroDCEPP

GOLDEN = Path(__file__).parent / "data" / "golden_shipped.npz"


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    with np.load(GOLDEN) as d:
        return {k: d[k] for k in d.files}


sys.path.insert(0, str(GOLDEN.parent))
from make_golden import CLASSES, cases, golden_inputs  # noqa: E402


@pytest.mark.parametrize(("key", "cname", "wname", "kwargs"), cases(), ids=[c[0] for c in cases()])
def test_golden_output(golden: dict[str, np.ndarray], key: str, cname: str, wname: str, kwargs: dict) -> None:
    model = CLASSES[cname](weights=wname, **kwargs).eval()
    for variant, x in golden_inputs(golden["input"]).items():
        with torch.no_grad():
            y = model(x)[0].numpy()
        np.testing.assert_allclose(y, golden[f"{key}:{variant}"], atol=1e-4, rtol=0, err_msg=f"{key}:{variant}")


def test_every_registered_entry_has_golden_outputs(golden: dict[str, np.ndarray]) -> None:
    for cname, cls in CLASSES.items():
        for wname in cls.weights_registry:
            assert f"{cname}:{wname}:dark" in golden, f"run python tests/data/make_golden.py for {cname}:{wname}"


@pytest.mark.parametrize("cls", [ZeroDCE, ZeroDCEPP])
def test_default_weights_load_offline_without_warning(cls) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = cls()
    assert model.weights_name == cls.default_weights
    entry = cls.weights_registry[cls.default_weights]
    assert entry.path.is_file() and entry.sha256.startswith(entry.path.stem.rsplit("-", 1)[1])
    assert entry.path.stat().st_size < 1_000_000


@pytest.mark.parametrize("cls", [ZeroDCE, ZeroDCEPP])
def test_default_weights_do_no_harm(cls) -> None:
    """Dark input is lifted, well-lit input kept (PSNR > 30 dB, gain < 1.05), over-exposed input pulled down."""
    model = cls().eval()
    g = torch.Generator().manual_seed(0)
    texture = torch.rand(1, 3, 64, 64, generator=g)
    dark = 0.02 + 0.18 * texture
    lit = 0.25 + 0.5 * texture
    over = 0.75 + 0.25 * texture
    with torch.no_grad():
        out_dark, out_lit, out_over = model(dark), model(lit), model(over)
    assert out_dark.mean() - dark.mean() > 0.1
    psnr = -10 * torch.log10(((out_lit - lit) ** 2).mean())
    assert psnr > 30 and out_lit.mean() / lit.mean() < 1.05
    assert out_over.mean() < over.mean() - 0.02


@pytest.mark.parametrize(("cls", "old"), [(ZeroDCE, "sice-v1"), (ZeroDCEPP, "sice-v2")])
def test_published_behaviour_without_gate_brightens_everything(cls, old) -> None:
    """The older entries keep the published behaviour: a well-lit image is brightened too."""
    model = cls(weights=old).eval()
    assert model.exposure_gate is None
    lit = 0.25 + 0.5 * torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert model(lit).mean() > 1.1 * lit.mean()

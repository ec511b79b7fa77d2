"""Golden outputs of the shipped weights, and loading them offline by default."""

from __future__ import annotations

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


@pytest.mark.parametrize(
    ("key", "build"),
    [
        ("zero_dce", lambda: ZeroDCE()),
        ("zero_dce_pp", lambda: ZeroDCEPP()),
        ("zero_dce_pp_scale4", lambda: ZeroDCEPP(scale_factor=4)),
    ],
)
def test_golden_output(golden: dict[str, np.ndarray], key: str, build) -> None:
    x = torch.from_numpy(golden["input"]).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        y = build()(x)[0].numpy()
    np.testing.assert_allclose(y, golden[key], atol=1e-4, rtol=0)


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
def test_shipped_weights_brighten_dark_input_and_keep_bright_input(cls) -> None:
    model = cls().eval()
    dark = torch.linspace(0.02, 0.2, 64 * 64 * 3).reshape(1, 3, 64, 64)
    bright = torch.full((1, 3, 64, 64), 0.8)
    with torch.no_grad():
        lift_dark = model(dark).mean() - dark.mean()
        lift_bright = model(bright).mean() - bright.mean()
    assert lift_dark > 0.1
    assert -0.05 < lift_bright < lift_dark  # bright input is not darkened, and lifted less than dark input

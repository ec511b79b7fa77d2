"""Shared fixtures: devices, dtypes, and the ../shared data folder (tests skip without it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("YOLO_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DCE_SHARED", ROOT.parent / "shared"))

try:  # no example database: the tests leave no .hypothesis/ folder in the tree
    import tempfile

    from hypothesis import settings as _hyp_settings
    from hypothesis.configuration import set_hypothesis_home_dir

    set_hypothesis_home_dir(str(Path(tempfile.gettempdir()) / "dce-transforms-hypothesis"))
    _hyp_settings.register_profile("dce", database=None)
    _hyp_settings.load_profile("dce")
except ImportError:  # pragma: no cover - hypothesis is a dev dependency
    pass

_DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def pytest_configure(config: pytest.Config) -> None:
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def shared() -> Path:
    """The ../shared folder; skips the test when it is absent."""
    if not (SHARED / "README.md").is_file():
        pytest.skip(f"../shared not found at {SHARED} (set DCE_SHARED to its path)")
    return SHARED


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def device(request: pytest.FixtureRequest) -> torch.device:
    """Every device: CPU always, CUDA when available (skipped cleanly otherwise)."""
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("CUDA is not available on this machine")
    return torch.device(request.param)


@pytest.fixture(params=[torch.float32, torch.float16, torch.bfloat16], ids=["f32", "f16", "bf16"])
def dtype(request: pytest.FixtureRequest) -> torch.dtype:
    return request.param


def brightening_model(cls=None) -> torch.nn.Module:
    """A model whose curves brighten: last layer zeroed, bias 0.5 (alpha = tanh(0.5) everywhere)."""
    from dce_transforms import ZeroDCE

    model = (cls or ZeroDCE)(weights=None).reset_to_identity()
    with torch.no_grad():
        model._last_conv().bias.fill_(0.5)
    return model


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> str:
    """A checkpoint of :func:`brightening_model` (Zero-DCE) for the command-line tools."""
    from dce_transforms import save_state_dict

    path = tmp_path_factory.mktemp("w") / "bright.safetensors"
    save_state_dict(brightening_model().state_dict(), path)
    return str(path)

"""Parity with the authors' implementation, denormal flushing, and the shipped-weights registry.

The authors' checkpoints live in ../shared (non-commercial licence): they are read in place, never copied.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dce_transforms import WeightsEntry, ZeroDCE, ZeroDCEPP
from dce_transforms._weights import WEIGHTS_DIR, sha256_of
from dce_transforms.models import OFFICIAL_SHA256

PARITY_TOL = 1e-5

CASES = {
    "zero_dce": lambda w: ZeroDCE.from_official(w / "zero_dce_epoch99.pth"),
    "zero_dce_pp_scale1": lambda w: ZeroDCEPP.from_official(w / "zero_dce_pp_epoch99.pth", scale_factor=1),
    "zero_dce_pp_scale12": lambda w: ZeroDCEPP.from_official(w / "zero_dce_pp_epoch99.pth", scale_factor=12),
}


def _denormals(t: torch.Tensor) -> int:
    if not t.is_floating_point():
        return 0
    return int(((t != 0) & (t.abs() < torch.finfo(t.dtype).tiny)).sum())


@pytest.fixture(scope="module")
def official(shared) -> Path:
    return shared / "weights" / "official"


@pytest.fixture(scope="module")
def reference(shared):
    with np.load(shared / "reference" / "official_reference.npz") as data:
        return {k: data[k] for k in data.files}


@pytest.mark.parametrize("crop", [0, 1, 2])
@pytest.mark.parametrize("case", list(CASES))
def test_reproduces_the_authors_outputs(official, reference, case, crop):
    model = CASES[case](official).eval()
    x = torch.from_numpy(reference[f"input_{crop}"]).permute(2, 0, 1)[None].float() / 255
    assert x.shape == (1, 3, 120, 240)
    with torch.no_grad():
        y = model(x)[0].numpy()
    expected = reference[f"{case}_{crop}"]
    assert y.shape == expected.shape
    err = float(np.abs(y - expected).max())
    assert err <= PARITY_TOL, f"{case} crop {crop}: max abs error {err:.3g}"
    # the enhancement is not trivially the identity (the test would not catch a no-op model)
    assert float(np.abs(expected - x[0].numpy()).max()) > 0.1


def test_official_weights_name(official):
    model = ZeroDCE.from_official(official / "zero_dce_epoch99.pth")
    assert model.weights_name == "official:zero_dce_epoch99.pth"


@pytest.mark.parametrize(
    "fname, loader",
    [("zero_dce_epoch99.pth", ZeroDCE.from_official), ("zero_dce_pp_epoch99.pth", ZeroDCEPP.from_official)],
)
def test_official_denormals_are_flushed(official, fname, loader):
    raw = torch.load(official / fname, map_location="cpu", weights_only=True)
    raw_count = sum(_denormals(t) for t in raw.values())
    if fname == "zero_dce_epoch99.pth":
        assert raw_count > 1000  # the authors' Zero-DCE checkpoint holds thousands (19,266)
    model = loader(official / fname)
    assert sum(_denormals(t) for t in model.state_dict().values()) == 0
    assert sum(_denormals(p) for p in model.parameters()) == 0


def test_official_sha256_table_matches_the_files(official):
    assert sha256_of(official / "zero_dce_epoch99.pth") == OFFICIAL_SHA256["zero_dce"]
    assert sha256_of(official / "zero_dce_pp_epoch99.pth") == OFFICIAL_SHA256["zero_dce_pp"]


# -- shipped weights ------------------------------------------------------------------------------

REGISTERED = [
    pytest.param(cls, entry, id=f"{cls.__name__}:{name}")
    for cls in (ZeroDCE, ZeroDCEPP)
    for name, entry in sorted(cls.weights_registry.items())
]


@pytest.mark.parametrize("cls, entry", REGISTERED)
def test_registered_weights(cls, entry: WeightsEntry):
    from safetensors.torch import load_file

    assert entry.path.is_file(), f"{entry.name}: {entry.path} is missing"
    assert entry.path.suffix == ".safetensors"
    assert entry.path.parent == WEIGHTS_DIR
    assert sha256_of(entry.path) == entry.sha256.lower()
    raw = load_file(str(entry.path))  # read without the loader's flushing
    assert sum(_denormals(t) for t in raw.values()) == 0
    for field in ("license", "paper", "recipe"):
        assert getattr(entry, field).strip(), f"{entry.name}: empty {field}"
    model = cls(weights=entry.name)
    assert model.weights_name == entry.name
    assert model(torch.full((1, 3, 16, 16), 0.1)).shape == (1, 3, 16, 16)


@pytest.mark.parametrize("cls", [ZeroDCE, ZeroDCEPP])
def test_registry_is_consistent(cls):
    for name, entry in cls.weights_registry.items():
        assert entry.name == name
    if cls.default_weights is not None:
        assert cls.default_weights in cls.weights_registry


def test_weights_dir_holds_only_registered_files():
    registered = {e.file for cls in (ZeroDCE, ZeroDCEPP) for e in cls.weights_registry.values()}
    on_disk = {p.name for p in WEIGHTS_DIR.glob("*.safetensors")}
    assert on_disk <= registered, f"unregistered checkpoints in {WEIGHTS_DIR}: {sorted(on_disk - registered)}"
    assert not list(WEIGHTS_DIR.glob("*.pth")) and not list(WEIGHTS_DIR.glob("*.pt"))

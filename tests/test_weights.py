"""Checkpoints as data: safetensors round trip, hashes, registry entries, .pth files, unsafe pickles."""

from __future__ import annotations

import warnings

import pytest
import torch
from safetensors.torch import load_file, save_file

import dce_transforms._weights as weights_mod
from dce_transforms import (
    ChecksumError,
    WeightsEntry,
    WeightsError,
    ZeroDCE,
    ZeroDCEPP,
    flush_denormals,
    load_state_dict,
    save_state_dict,
)
from dce_transforms._weights import sha256_of


class _Payload:
    """An arbitrary object: unpickling it would run code from the checkpoint's author."""

    def __reduce__(self):
        return (print, ("this must never run",))


@pytest.fixture(params=[ZeroDCE, ZeroDCEPP])
def cls(request):
    return request.param


def _trained_like(cls):
    """A model whose weights differ from any fresh initialisation (so a failed load is visible)."""
    torch.manual_seed(123)
    model = cls(weights=None)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


def _x():
    return torch.rand(1, 3, 16, 20, generator=torch.Generator().manual_seed(0)) * 0.4


def test_safetensors_round_trip(cls, tmp_path):
    model = _trained_like(cls)
    path = tmp_path / "m.safetensors"
    digest = save_state_dict(model.state_dict(), path, metadata={"note": "test"})
    assert digest == sha256_of(path) and len(digest) == 64
    loaded = cls(weights=path)
    assert loaded.weights_name == str(path)
    assert torch.equal(loaded(_x()), model(_x()))
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k
    assert not list(tmp_path.glob(".*tmp*"))  # the atomic write leaves no temporary file


def test_save_moves_to_cpu_and_makes_contiguous(tmp_path):
    state = {"a": torch.arange(6.0).reshape(2, 3).t(), "b": torch.ones(2, requires_grad=True)}
    save_state_dict(state, tmp_path / "s.safetensors")
    back = load_file(str(tmp_path / "s.safetensors"))
    assert torch.equal(back["a"], state["a"]) and back["a"].is_contiguous()
    assert torch.equal(back["b"], torch.ones(2))


def test_sha256_prefix(tmp_path):
    path = tmp_path / "m.safetensors"
    digest = save_state_dict(ZeroDCEPP(weights=None).state_dict(), path)
    for expected in (digest, digest[:8], digest[:16].upper()):
        assert set(load_state_dict(path, sha256=expected)) == set(ZeroDCEPP(weights=None).state_dict())
    wrong = digest[:7] + ("0" if digest[7] != "0" else "1")
    with pytest.raises(ChecksumError):
        load_state_dict(path, sha256=wrong)


def _entry(name, file, digest):
    return WeightsEntry(
        name=name, file=file, sha256=digest, license="Apache-2.0", paper="test", recipe="test", meta={"k": 1}
    )


def test_registered_entry_loads_by_name(cls, tmp_path, monkeypatch):
    model = _trained_like(cls)
    digest = save_state_dict(model.state_dict(), tmp_path / "test-v0.safetensors")
    monkeypatch.setattr(weights_mod, "WEIGHTS_DIR", tmp_path)  # keep the package's weights dir untouched
    entry = _entry("test-v0", "test-v0.safetensors", digest[:12])
    monkeypatch.setattr(cls, "weights_registry", {"test-v0": entry})
    assert entry.path == tmp_path / "test-v0.safetensors"
    for spec in ("test-v0", entry):
        loaded = cls(weights=spec)
        assert loaded.weights_name == "test-v0"
        assert torch.equal(loaded(_x()), model(_x()))
    # and as the default: no warning, the entry is loaded
    monkeypatch.setattr(cls, "default_weights", "test-v0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.equal(cls()(_x()), model(_x()))


def test_registered_entry_with_wrong_hash(cls, tmp_path, monkeypatch):
    digest = save_state_dict(cls(weights=None).state_dict(), tmp_path / "bad.safetensors")
    monkeypatch.setattr(weights_mod, "WEIGHTS_DIR", tmp_path)
    wrong = ("f" if digest[0] != "f" else "e") + digest[1:]
    monkeypatch.setattr(cls, "weights_registry", {"bad": _entry("bad", "bad.safetensors", wrong)})
    with pytest.raises(ChecksumError, match="corrupt"):
        cls(weights="bad")


def test_registry_is_per_class(monkeypatch, tmp_path):
    monkeypatch.setattr(ZeroDCE, "weights_registry", {"only-dce": _entry("only-dce", "x.safetensors", "0" * 64)})
    assert "only-dce" not in ZeroDCEPP.weights_registry
    with pytest.raises(WeightsError, match="neither a registered name"):
        ZeroDCEPP(weights="only-dce")


@pytest.mark.parametrize("wrap", [None, "state_dict", "model", "ema"])
def test_pth_state_dict_loads_with_weights_only(cls, tmp_path, wrap, monkeypatch):
    model = _trained_like(cls)
    state = model.state_dict()
    obj = state if wrap is None else {wrap: state, "epoch": 3, "lr": 1e-4}
    path = tmp_path / "m.pth"
    torch.save(obj, path)
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    loaded = cls(weights=path)
    assert calls == [True]
    assert torch.equal(loaded(_x()), model(_x()))


def test_pickle_with_arbitrary_object_is_rejected(tmp_path, capsys):
    state = ZeroDCE(weights=None).state_dict()
    path = tmp_path / "evil.pth"
    torch.save({**state, "payload": _Payload()}, path)
    with pytest.raises(WeightsError, match=r"weights_only=True"):
        ZeroDCE(weights=path)
    with pytest.raises(WeightsError):
        load_state_dict(path)
    assert "this must never run" not in capsys.readouterr().out


def test_flush_denormals():
    tiny = torch.finfo(torch.float32).tiny
    t = torch.tensor([1e-40, -1e-42, tiny, -tiny, 0.5, 0.0])
    out = flush_denormals({"w": t, "n": torch.tensor([1, 2]), "d": torch.tensor([1e-310, 1.0], dtype=torch.float64)})
    assert torch.equal(out["w"], torch.tensor([0.0, 0.0, tiny, -tiny, 0.5, 0.0]))
    assert torch.equal(out["n"], torch.tensor([1, 2]))
    assert torch.equal(out["d"], torch.tensor([0.0, 1.0], dtype=torch.float64))
    assert t[0] != 0  # the input is not modified in place


def test_load_state_dict_flushes_denormals(tmp_path):
    path = tmp_path / "d.safetensors"
    save_file({"w": torch.tensor([1e-40, 0.25])}, str(path))
    assert load_file(str(path))["w"][0] != 0  # denormal really stored
    assert torch.equal(load_state_dict(path)["w"], torch.tensor([0.0, 0.25]))

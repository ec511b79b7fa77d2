"""The exposure gate: its factors, the curve symmetry it relies on, skipping, gradients, export."""

from __future__ import annotations

import math

import pytest
import torch

from dce_transforms import ConfigError, ZeroDCE, ZeroDCEPP, apply_curves
from dce_transforms.gate import ExposureGate, GateConfig, log_average_luminance


def _texture(lo: float, hi: float, seed: int = 0, size: int = 32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return lo + (hi - lo) * torch.rand(1, 3, size, size, generator=g)


def test_log_average_luminance_matches_its_definition() -> None:
    x = _texture(0.0, 1.0)
    y = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    expected = math.exp(torch.log(y.double() + 0.01).mean().item())
    assert log_average_luminance(x)[0].item() == pytest.approx(expected, rel=1e-5)


def test_gate_factors_are_half_at_the_thresholds() -> None:
    cfg = GateConfig(brighten_below=0.3, darken_below=0.2, eps=1e-6)
    gate = ExposureGate(cfg)
    # A flat image whose luma is the threshold: the log-average equals it (up to eps).
    up, _ = gate(torch.full((1, 3, 4, 4), 0.3))
    _, down = gate(torch.full((1, 3, 4, 4), 0.8))
    assert up[0].item() == pytest.approx(0.5, abs=1e-3)
    assert down is not None and down[0].item() == pytest.approx(0.5, abs=1e-3)


def test_gate_orders_images_by_exposure() -> None:
    gate = ExposureGate()
    batch = torch.cat([_texture(0.0, 0.1), _texture(0.3, 0.7), _texture(0.85, 1.0)])
    up, down = gate(batch)
    assert down is not None
    assert up[0] > 0.99 and up[1] < 0.01 and up[2] < 1e-3
    assert down[0] < 0.01 and down[1] < 0.1 and down[2] > 0.9


def test_darken_false_returns_no_darkening_factor() -> None:
    assert ExposureGate(darken=False)(_texture(0, 1))[1] is None


@pytest.mark.parametrize("bad", [{"brighten_below": 0}, {"darken_width": -1}, {"eps": float("nan")},
                                 {"skip_below": 1.5}])
def test_bad_gate_config_is_a_config_error(bad) -> None:
    with pytest.raises(ConfigError):
        GateConfig(**bad)


def test_bad_exposure_gate_argument_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="exposure_gate"):
        ZeroDCE(weights=None, exposure_gate="sometimes")
    with pytest.raises(ConfigError, match="exposure_gate"):
        ZeroDCE(weights=None, exposure_gate=3)


def test_curve_symmetry_that_the_darkening_branch_uses() -> None:
    """1 − LE_α(1 − x) == LE_−α(x), for iterated per-pixel curves too."""
    x = _texture(0.0, 1.0)
    alpha = torch.rand(1, 24, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    left = 1 - apply_curves(1 - x, alpha)
    # LE_{-a} iterated: apply on x with negated maps in the same order.
    right = apply_curves(x, -alpha)
    torch.testing.assert_close(left, right, atol=1e-6, rtol=0)


@pytest.mark.parametrize("cls", [ZeroDCE, ZeroDCEPP])
def test_gate_is_parameter_free_and_state_dicts_match(cls) -> None:
    gated, plain = cls(exposure_gate=True, weights=None), cls(weights=None, exposure_gate=None)
    assert gated.state_dict().keys() == plain.state_dict().keys()
    assert sum(p.numel() for p in gated.parameters()) == sum(p.numel() for p in plain.parameters())


@pytest.mark.parametrize("cls", [ZeroDCE, ZeroDCEPP])
def test_gated_alpha_is_the_combination_of_the_two_passes(cls) -> None:
    model = cls(exposure_gate=GateConfig(skip_below=0.0, darken_scale=1)).eval()
    x = torch.cat([_texture(0.0, 0.3), _texture(0.4, 1.0)])
    up, down = model.exposure_gate(x)
    with torch.no_grad():
        raw = cls(weights=model.weights_name, exposure_gate=None).eval()
        expected = up.view(-1, 1, 1, 1) * raw.estimate_curves(x) - down.view(-1, 1, 1, 1) * raw.estimate_curves(1 - x)
        _, alpha = model(x, return_curves=True)
    torch.testing.assert_close(alpha, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("cls", [ZeroDCE, ZeroDCEPP])
def test_skipping_negligible_passes_changes_nothing_that_matters(cls) -> None:
    skip = cls().eval()
    full = cls(exposure_gate=GateConfig(**{**cls.default_gate.as_dict(), "skip_below": 0.0})).eval()
    for x in (_texture(0.0, 0.1), _texture(0.3, 0.7), _texture(0.8, 1.0)):
        with torch.no_grad():
            torch.testing.assert_close(skip(x), full(x), atol=1e-3, rtol=0)


def test_gradients_flow_through_the_gate_to_input_and_parameters() -> None:
    model = ZeroDCEPP(exposure_gate=GateConfig(skip_below=0.0))
    x = _texture(0.1, 0.5).requires_grad_(True)
    model(x).mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in model.parameters())


def test_gate_factors_gradcheck() -> None:
    gate = ExposureGate()
    x = _texture(0.1, 0.5, size=4).double().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: gate(t)[0], (x,))
    assert torch.autograd.gradcheck(lambda t: gate(t)[1], (x,))


@pytest.mark.parametrize("cls", [ZeroDCE, ZeroDCEPP])
def test_official_loader_and_old_entries_have_no_gate(cls) -> None:
    assert cls(weights="sice-v1").exposure_gate is None
    assert cls(weights=None).exposure_gate is None
    assert cls().exposure_gate is not None  # the default *-adaptive entry carries one
    assert "exposure_gate=on" in repr(cls())


def test_gated_model_exports_without_data_dependent_branches() -> None:
    model = ZeroDCEPP(scale_factor=4).eval()
    x = _texture(0.0, 0.2)
    ep = torch.export.export(model, (x,))
    with torch.no_grad():
        torch.testing.assert_close(ep.module()(x), model(x), atol=1e-5, rtol=0)


def test_fast_path_matches_gated_eager_model() -> None:
    from dce_transforms.fast import optimize

    model = ZeroDCEPP(scale_factor=2).eval()
    fast = optimize(model, compile=False, dtype=torch.float32)  # the gate, not the precision, under test
    for x in (_texture(0.0, 0.1), _texture(0.3, 0.7), _texture(0.8, 1.0)):
        with torch.no_grad():
            torch.testing.assert_close(fast(x), model(x), atol=1e-4, rtol=0)


def test_darkening_pass_runs_at_reduced_resolution() -> None:
    model = ZeroDCE(weights=None, exposure_gate=GateConfig(skip_below=0.0, darken_scale=4))
    seen: list[tuple[int, ...]] = []

    def estimate(t: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(t.shape[-2:]))
        return torch.zeros(t.shape[0], 24, *t.shape[-2:])

    x = _texture(0.5, 1.0, size=64)
    alpha = model.gated_curves(x, x, estimate)
    assert seen == [(64, 64), (16, 16)] and alpha.shape == (1, 24, 64, 64)
    seen.clear()
    small = _texture(0.5, 1.0, size=16)  # too small to down-scale by 4: full resolution
    model.gated_curves(small, small, estimate)
    assert seen == [(16, 16), (16, 16)]


def test_bad_darken_scale_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="darken_scale"):
        GateConfig(darken_scale=0)

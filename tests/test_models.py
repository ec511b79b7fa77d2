"""ZeroDCE and ZeroDCEPP: architecture, dtypes and devices, shapes, options, identity, gradients."""

from __future__ import annotations

import warnings

import pytest
import torch

from dce_transforms import ZeroDCE, ZeroDCEPP

# Maximum deviation from the float32 result, per dtype, for a randomly initialised model.
LOW_PRECISION_TOL = {torch.float32: 1e-5, torch.float16: 1e-2, torch.bfloat16: 6e-2}

MODELS = {
    "zerodce": lambda **kw: ZeroDCE(weights=None, **kw),
    "zerodcepp": lambda **kw: ZeroDCEPP(weights=None, **kw),
    "zerodcepp-s4": lambda **kw: ZeroDCEPP(weights=None, scale_factor=4, **kw),
}


@pytest.fixture(params=list(MODELS))
def make(request):
    return MODELS[request.param]


def _alpha_channels(model) -> int:
    return 3 * model.iterations if isinstance(model, ZeroDCE) else 3


def _twin(model, **kw):
    """A second instance of the same class holding the same weights."""
    other = type(model)(weights=None, **kw)
    other.load_state_dict(model.state_dict())
    return other


# -- architecture -------------------------------------------------------------------------------


@pytest.mark.parametrize("cls, count", [(ZeroDCE, 79_416), (ZeroDCEPP, 10_561)])
def test_parameter_count(cls, count):
    assert sum(p.numel() for p in cls(weights=None).parameters()) == count


@pytest.mark.parametrize("cls", [ZeroDCE, ZeroDCEPP])
def test_default_weights_load_silently(cls):
    assert cls.default_weights in cls.weights_registry, "both models ship default weights"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cls().weights_name == cls.default_weights


def test_a_model_without_shipped_weights_warns_and_stays_random(monkeypatch):
    monkeypatch.setattr(ZeroDCE, "default_weights", None)
    torch.manual_seed(0)
    with pytest.warns(UserWarning, match="weights=None"):
        model = ZeroDCE()
    torch.manual_seed(0)
    random_init = ZeroDCE(weights=None)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), random_init.state_dict().values()))


def test_weights_none_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ZeroDCE(weights=None)
        ZeroDCEPP(weights=None, scale_factor=12)


# -- forward: dtype, device, layout --------------------------------------------------------------


def test_forward_follows_input_dtype_and_device(make, device, dtype):
    model = make().to(device)
    x = torch.rand(2, 3, 20, 24, device=device)
    ref = model(x)
    y = model(x.to(dtype))
    assert y.dtype == dtype and y.device == x.device and y.shape == x.shape
    assert next(model.parameters()).dtype == torch.float32  # the model is not converted
    assert (y.float() - ref).abs().max().item() < LOW_PRECISION_TOL[dtype]


def test_forward_with_model_in_low_precision(make, device, dtype):
    model = make().to(device)
    x = torch.rand(1, 3, 20, 24, device=device)
    ref = model(x)
    low = _twin(model, **_kwargs(model)).to(device=device, dtype=dtype)
    y = low(x.to(dtype))
    assert y.dtype == dtype and y.device == x.device
    assert (y.float() - ref).abs().max().item() < LOW_PRECISION_TOL[dtype]
    # a float32 image through a low-precision model still comes back float32
    y32 = low(x)
    assert y32.dtype == torch.float32
    assert (y32 - ref).abs().max().item() < LOW_PRECISION_TOL[dtype]


def _kwargs(model) -> dict:
    return {"scale_factor": model.scale_factor} if isinstance(model, ZeroDCEPP) else {}


def test_forward_under_cpu_autocast(make):
    model = make()
    x = torch.rand(1, 3, 20, 24)
    ref = model(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = model(x)
    assert y.dtype == torch.float32
    assert (y - ref).abs().max().item() < LOW_PRECISION_TOL[torch.bfloat16]


def test_channels_last_input(make):
    model = make()
    x = torch.rand(2, 3, 20, 24)
    y = model(x.contiguous(memory_format=torch.channels_last))
    assert y.shape == x.shape
    assert torch.allclose(y, model(x), atol=1e-6)


@pytest.mark.parametrize("batch", [1, 4])
def test_batch_items_are_independent(make, batch):
    model = make()
    x = torch.rand(batch, 3, 16, 20)
    y = model(x)
    assert y.shape == x.shape
    for i in range(batch):
        assert torch.allclose(y[i : i + 1], model(x[i : i + 1]), atol=1e-6)


@torch.no_grad()
def test_odd_size(make):
    model = make()
    x = torch.rand(1, 3, 37, 53)
    y, alpha = model(x, return_curves=True)
    assert y.shape == (1, 3, 37, 53)
    assert alpha.shape == (1, _alpha_channels(model), 37, 53)
    assert float(y.min()) >= 0 and float(y.max()) <= 1


def test_unbatched_input(make):
    model = make()
    x = torch.rand(3, 17, 23)
    y, alpha = model(x, return_curves=True)
    assert y.shape == (3, 17, 23)
    assert alpha.shape == (_alpha_channels(model), 17, 23)
    yb, ab = model(x[None], return_curves=True)
    assert torch.equal(y, yb[0]) and torch.equal(alpha, ab[0])


@torch.no_grad()
def test_return_curves_are_the_curves_applied(make):
    model = make()
    x = torch.rand(2, 3, 16, 16)
    y, alpha = model(x, return_curves=True)
    assert torch.equal(y, model(x))
    assert float(alpha.abs().max()) <= 1  # tanh output
    y2 = x
    if isinstance(model, ZeroDCE):
        for i in range(model.iterations):
            y2 = y2 + alpha[:, 3 * i : 3 * i + 3] * y2 * (1 - y2)
    else:
        for _ in range(model.iterations):
            y2 = y2 + alpha * y2 * (1 - y2)
    assert torch.allclose(y, y2, atol=1e-6)


# -- options --------------------------------------------------------------------------------------


def test_iterations_keyword_zerodce():
    model = ZeroDCE(weights=None, iterations=4)
    _, alpha = model(torch.rand(1, 3, 8, 8), return_curves=True)
    assert alpha.shape[1] == 12
    assert model.conv7.out_channels == 12


def test_iterations_keyword_zerodcepp():
    model = ZeroDCEPP(weights=None, iterations=8)
    with torch.no_grad():
        model.conv7.pointwise.bias.fill_(0.5)  # alpha ~ tanh(0.5): far enough from 0 to tell 4 from 8 steps
    four = _twin(model, iterations=4)
    x = torch.rand(1, 3, 8, 8) * 0.3
    y8, a8 = model(x, return_curves=True)
    y4, a4 = four(x, return_curves=True)
    assert a4.shape == a8.shape == (1, 3, 8, 8)
    assert torch.equal(a4, a8)
    y = x
    for _ in range(4):
        y = y + a4 * y * (1 - y)
    assert torch.allclose(y4, y, atol=1e-6)
    assert not torch.allclose(y4, y8)


@pytest.mark.parametrize("scale", [1, 4, 12])
@pytest.mark.parametrize("size", [(48, 64), (37, 53), (5, 7), (8, 30)], ids=["48x64", "37x53", "5x7", "8x30"])
@torch.no_grad()
def test_zerodcepp_scale_factor(scale, size):
    model = ZeroDCEPP(weights=None, scale_factor=scale)
    x = torch.rand(1, 3, *size)
    y, alpha = model(x, return_curves=True)
    assert y.shape == x.shape and alpha.shape == (1, 3, *size)
    assert torch.isfinite(y).all() and float(y.min()) >= 0 and float(y.max()) <= 1


def test_zerodcepp_scale_factor_estimates_at_low_resolution():
    model = ZeroDCEPP(weights=None, scale_factor=4)
    seen = []
    model.conv1.register_forward_hook(lambda m, i, o: seen.append(tuple(i[0].shape[-2:])))
    model(torch.rand(1, 3, 48, 64))
    assert seen == [(12, 16)]


@pytest.mark.parametrize("cls", [ZeroDCE, ZeroDCEPP])
def test_curve_max_side_bounds_estimation_resolution(cls):
    model = cls(weights=None, curve_max_side=32)
    seen = []
    model.conv1.register_forward_hook(lambda m, i, o: seen.append(tuple(i[0].shape[-2:])))
    x = torch.rand(1, 3, 48, 96)
    y, alpha = model(x, return_curves=True)
    assert seen == [(16, 32)]
    assert y.shape == x.shape and alpha.shape[-2:] == (48, 96)


@pytest.mark.parametrize("cls", [ZeroDCE, ZeroDCEPP])
def test_curve_max_side_is_exact_when_image_is_smaller(cls):
    full = cls(weights=None)
    bounded = _twin(full, curve_max_side=64)
    x = torch.rand(1, 3, 37, 53)
    assert torch.equal(bounded(x), full(x))
    x_edge = torch.rand(1, 3, 40, 64)  # longer side equal to the bound: still full resolution
    assert torch.equal(bounded(x_edge), full(x_edge))


# -- identity and gradients -------------------------------------------------------------------------


def test_reset_to_identity(make):
    model = make()
    assert model.reset_to_identity() is model
    x = torch.rand(2, 3, 19, 23)
    y, alpha = model(x, return_curves=True)
    assert torch.equal(y, x)
    assert torch.equal(alpha, torch.zeros_like(alpha))


def test_identity_model_still_trains(make):
    model = make().reset_to_identity()
    x = torch.rand(1, 3, 16, 16) * 0.3
    model(x).mean().backward()
    last = model._last_conv()
    assert last.weight.grad is not None and float(last.weight.grad.abs().sum()) > 0


def test_gradients_reach_every_parameter(make):
    model = make()
    x = torch.rand(2, 3, 16, 16) * 0.5
    y = model(x)
    ((y - 0.6) ** 2).mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert float(p.grad.abs().sum()) > 0, name


def test_gradients_reach_the_input(make):
    model = make()
    x = (torch.rand(1, 3, 16, 16) * 0.5).requires_grad_()
    model(x).sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_repr_mentions_options():
    text = repr(ZeroDCEPP(weights=None, scale_factor=4, curve_max_side=256))
    assert "scale_factor=4.0" in text and "curve_max_side=256" in text

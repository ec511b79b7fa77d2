"""The light-enhancement curve: range, monotonicity, fixed points, iteration, gradients, shape errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dce_transforms import ApplyCurves, LECurve, apply_curves, le_curve
from dce_transforms.errors import ConfigError, DCEError, ImageShapeError

FLOAT_TOL = {torch.float32: 1e-6, torch.float64: 1e-12}

unit = st.floats(0.0, 1.0, allow_nan=False, allow_infinity=False)
signed_unit = st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False)
HYP = settings(max_examples=60, deadline=None)


def _arr(shape, elements):
    return arrays(np.float64, shape, elements=elements)


# -- single step --------------------------------------------------------------------------------


@HYP
@given(x=_arr((64,), unit), alpha=_arr((64,), signed_unit), dt=st.sampled_from([torch.float32, torch.float64]))
def test_le_curve_maps_unit_interval_into_itself(x, alpha, dt):
    y = le_curve(torch.from_numpy(x).to(dt), torch.from_numpy(alpha).to(dt))
    tol = FLOAT_TOL[dt]
    assert y.dtype == dt
    assert float(y.min()) >= -tol and float(y.max()) <= 1 + tol


@HYP
@given(
    x1=_arr((64,), unit),
    dx=_arr((64,), unit),
    alpha=_arr((64,), signed_unit),
    dt=st.sampled_from([torch.float32, torch.float64]),
)
def test_le_curve_is_monotonic_in_x(x1, dx, alpha, dt):
    x2 = np.minimum(x1 + dx, 1.0)  # x1 <= x2 element-wise
    a = torch.from_numpy(alpha).to(dt)
    y1 = le_curve(torch.from_numpy(x1).to(dt), a)
    y2 = le_curve(torch.from_numpy(x2).to(dt), a)
    assert bool((y1 <= y2 + FLOAT_TOL[dt]).all())


@HYP
@given(alpha=signed_unit)
def test_le_curve_fixes_zero_and_one(alpha):
    for dt in (torch.float32, torch.float64):
        ends = torch.tensor([0.0, 1.0], dtype=dt)
        assert torch.equal(le_curve(ends, alpha), ends)
        assert torch.equal(le_curve(ends, torch.full_like(ends, alpha)), ends)


@HYP
@given(x=_arr((32,), unit))
def test_le_curve_alpha_zero_is_identity(x):
    t = torch.from_numpy(x).float()
    assert torch.equal(le_curve(t, 0.0), t)
    assert torch.equal(le_curve(t, torch.zeros_like(t)), t)


def test_le_curve_known_values():
    x = torch.tensor([0.0, 0.25, 0.5, 1.0], dtype=torch.float64)
    assert torch.allclose(le_curve(x, 1.0), torch.tensor([0.0, 0.4375, 0.75, 1.0], dtype=torch.float64))
    assert torch.allclose(le_curve(x, -1.0), x * x)  # alpha = -1 gives x^2
    # the authors' form x + r (x^2 - x) is the same curve with alpha = -r
    r = 0.3
    assert torch.allclose(le_curve(x, -r), x + r * (x**2 - x))


def test_le_curve_broadcasts_and_keeps_dtype():
    x = torch.rand(2, 3, 4, 5, dtype=torch.float64)
    alpha = torch.rand(1, 3, 1, 1, dtype=torch.float64) * 2 - 1
    y = le_curve(x, alpha)
    assert y.shape == x.shape and y.dtype == torch.float64
    assert torch.allclose(y, x + alpha.expand_as(x) * x * (1 - x))


def test_le_curve_module():
    x = torch.rand(3, 4)
    assert torch.equal(LECurve(0.5)(x), le_curve(x, 0.5))
    assert "alpha=0.5" in repr(LECurve(0.5))


# -- iterated curves ----------------------------------------------------------------------------

image = _arr((1, 3, 3, 4), unit)


@HYP
@given(x=image, seed=st.integers(0, 2**31 - 1), shared=st.booleans(), n=st.integers(1, 8))
def test_apply_curves_stays_in_unit_interval(x, seed, shared, n):
    g = torch.Generator().manual_seed(seed)
    t = torch.from_numpy(x)
    alpha = torch.rand((1, 3 if shared else 3 * n, 3, 4), generator=g, dtype=torch.float64) * 2 - 1
    y = apply_curves(t, alpha, iterations=n if shared else None)
    assert float(y.min()) >= -1e-12 and float(y.max()) <= 1 + 1e-12
    y32 = apply_curves(t.float(), alpha.float(), iterations=n if shared else None)
    assert float(y32.min()) >= -1e-6 and float(y32.max()) <= 1 + 1e-6


@HYP
@given(x1=image, dx=image, seed=st.integers(0, 2**31 - 1), shared=st.booleans(), n=st.integers(1, 8))
def test_apply_curves_is_monotonic(x1, dx, seed, shared, n):
    g = torch.Generator().manual_seed(seed)
    alpha = torch.rand((1, 3 if shared else 3 * n, 3, 4), generator=g, dtype=torch.float64) * 2 - 1
    it = n if shared else None
    a, b = torch.from_numpy(x1), torch.from_numpy(np.minimum(x1 + dx, 1.0))
    assert bool((apply_curves(a, alpha, iterations=it) <= apply_curves(b, alpha, iterations=it) + 1e-12).all())


@HYP
@given(seed=st.integers(0, 2**31 - 1), shared=st.booleans(), n=st.integers(1, 8))
def test_apply_curves_fixes_zero_and_one(seed, shared, n):
    g = torch.Generator().manual_seed(seed)
    alpha = torch.rand((1, 3 if shared else 3 * n, 2, 2), generator=g) * 2 - 1
    it = n if shared else None
    for v in (0.0, 1.0):
        x = torch.full((1, 3, 2, 2), v)
        assert torch.equal(apply_curves(x, alpha, iterations=it), x)


@pytest.mark.parametrize("channels", [3, 24])
def test_apply_curves_alpha_zero_is_identity(channels):
    x = torch.rand(2, 3, 5, 6)
    assert torch.equal(apply_curves(x, torch.zeros(2, channels, 5, 6)), x)


def test_apply_curves_per_iteration_maps_match_explicit_loop():
    x = torch.rand(2, 3, 4, 5, dtype=torch.float64)
    alpha = torch.rand(2, 24, 4, 5, dtype=torch.float64) * 2 - 1
    y = x
    for i in range(8):
        y = le_curve(y, alpha[:, 3 * i : 3 * i + 3])
    assert torch.allclose(apply_curves(x, alpha), y, atol=0, rtol=1e-12)
    assert torch.allclose(apply_curves(x, alpha, iterations=8), y, atol=0, rtol=1e-12)


@pytest.mark.parametrize("n", [1, 4, 8])
def test_apply_curves_shared_map_matches_explicit_loop(n):
    x = torch.rand(1, 3, 4, 5, dtype=torch.float64)
    alpha = torch.rand(1, 3, 4, 5, dtype=torch.float64) * 2 - 1
    y = x
    for _ in range(n):
        y = le_curve(y, alpha)
    assert torch.allclose(apply_curves(x, alpha, iterations=n), y, atol=0, rtol=1e-12)
    assert torch.allclose(ApplyCurves(iterations=n)(x, alpha), y, atol=0, rtol=1e-12)


def test_apply_curves_shared_default_is_eight_iterations():
    x = torch.rand(1, 3, 4, 5)
    alpha = torch.rand(1, 3, 4, 5) * 2 - 1
    assert torch.equal(apply_curves(x, alpha), apply_curves(x, alpha, iterations=8))
    assert not torch.equal(apply_curves(x, alpha), apply_curves(x, alpha, iterations=4))


def test_apply_curves_unbatched_and_broadcast_alpha():
    x = torch.rand(3, 4, 5)
    alpha = torch.rand(3, 1, 1) * 2 - 1  # one value per channel, broadcast over space
    y = apply_curves(x, alpha, iterations=2)
    assert y.shape == x.shape
    assert torch.allclose(y, apply_curves(x, alpha.expand(3, 4, 5).contiguous(), iterations=2))


# -- shape errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 2, 4, 5, 25])
def test_apply_curves_rejects_bad_alpha_channel_count(channels):
    with pytest.raises(ImageShapeError, match="multiple of 3") as info:
        apply_curves(torch.rand(1, 3, 4, 4), torch.zeros(1, channels, 4, 4))
    assert isinstance(info.value, (DCEError, ValueError))


def test_apply_curves_rejects_alpha_with_other_rank():
    with pytest.raises(ImageShapeError, match="as many dimensions"):
        apply_curves(torch.rand(1, 3, 4, 4), torch.zeros(24, 4, 4))


def test_apply_curves_rejects_iteration_count_mismatch():
    with pytest.raises(ImageShapeError, match="iterations=None"):
        apply_curves(torch.rand(1, 3, 4, 4), torch.zeros(1, 24, 4, 4), iterations=4)


@pytest.mark.parametrize("bad", [0, -2, 2.5, True])
def test_apply_curves_rejects_bad_iterations(bad):
    with pytest.raises(ConfigError, match="positive integer") as info:
        apply_curves(torch.rand(1, 3, 4, 4), torch.zeros(1, 3, 4, 4), iterations=bad)
    assert isinstance(info.value, ValueError)


# -- gradients ----------------------------------------------------------------------------------


def test_le_curve_gradcheck():
    x = torch.rand(2, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    alpha = (torch.rand(2, 3, 4, 4, dtype=torch.float64) * 2 - 1).requires_grad_()
    assert torch.autograd.gradcheck(le_curve, (x, alpha))
    assert torch.autograd.gradgradcheck(le_curve, (x, alpha))


@pytest.mark.parametrize("channels", [3, 24])
def test_apply_curves_gradcheck(channels):
    x = torch.rand(1, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    alpha = (torch.rand(1, channels, 4, 4, dtype=torch.float64) * 2 - 1).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: apply_curves(a, b), (x, alpha))

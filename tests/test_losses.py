"""The four zero-reference losses: known values, masks, gradients, precision, and the combined objective."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from dce_transforms import ZeroDCEPP, ZeroReferenceLoss, zero_reference_loss
from dce_transforms.losses import (
    ColorConstancyLoss,
    ExposureControlLoss,
    IlluminationSmoothnessLoss,
    SpatialConsistencyLoss,
    color_constancy_loss,
    exposure_control_loss,
    illumination_smoothness_loss,
    spatial_consistency_loss,
)

FORMS = ["authors", "paper"]


def _rand(*shape, seed=0, dtype=torch.float32):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# -- known values ---------------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_exposure_of_well_exposed_image_is_zero(form):
    assert float(exposure_control_loss(torch.full((2, 3, 32, 32), 0.6), form=form)) == pytest.approx(0, abs=1e-6)


@pytest.mark.parametrize("form, expected", [("authors", 0.25), ("paper", 0.5)])
def test_exposure_of_dark_image(form, expected):
    loss = exposure_control_loss(torch.full((2, 3, 32, 48), 0.1), form=form)
    assert float(loss) == pytest.approx(expected, rel=1e-6)


def test_exposure_well_exposed_level_and_patch():
    x = torch.full((1, 3, 16, 16), 0.3)
    assert float(exposure_control_loss(x, well_exposed=0.3, patch_size=4)) == pytest.approx(0, abs=1e-12)
    # half the regions at 0.1, half at 0.6: mean of (0.5^2, 0)
    x = torch.full((1, 3, 16, 32), 0.6)
    x[..., :16] = 0.1
    assert float(exposure_control_loss(x)) == pytest.approx(0.125, rel=1e-6)
    assert float(exposure_control_loss(x, form="paper")) == pytest.approx(0.25, rel=1e-6)


@pytest.mark.parametrize("form", FORMS)
def test_spatial_consistency_of_identical_images_is_zero(form):
    x = _rand(2, 3, 16, 16)
    assert float(spatial_consistency_loss(x, x, form=form)) == 0.0


@pytest.mark.parametrize("form", FORMS)
def test_spatial_consistency_of_uniform_gain_on_constant_image(form):
    # brightening a constant image changes no neighbour difference ... except at the zero-padded border
    x = torch.full((1, 3, 16, 16), 0.2)
    loss = float(spatial_consistency_loss(x * 2, x, form=form))
    if form == "paper":
        assert loss == pytest.approx(0, abs=1e-12)
    else:
        assert loss > 0  # the authors compare border regions with zeros


@pytest.mark.parametrize("form", FORMS)
def test_spatial_consistency_is_positive_after_a_local_change(form):
    x = _rand(1, 3, 16, 16)
    y = x.clone()
    y[..., 4:8, 4:8] = 1.0  # one 4x4 region
    assert float(spatial_consistency_loss(y, x, form=form)) > 1e-4


def _spatial_reference(enhanced, original, patch=4):
    """The authors' spatial term written out independently: difference kernels, zero padding 1."""
    kernels = torch.zeros(4, 1, 3, 3, dtype=enhanced.dtype)
    kernels[:, 0, 1, 1] = 1
    kernels[0, 0, 1, 0] = -1  # left
    kernels[1, 0, 1, 2] = -1  # right
    kernels[2, 0, 0, 1] = -1  # up
    kernels[3, 0, 2, 1] = -1  # down
    e = F.avg_pool2d(enhanced.mean(1, keepdim=True), patch)
    o = F.avg_pool2d(original.mean(1, keepdim=True), patch)
    d_org = F.conv2d(o, kernels, padding=1)
    d_enh = F.conv2d(e, kernels, padding=1)
    return ((d_org - d_enh) ** 2).sum(1).mean()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("shape", [(2, 3, 16, 16), (1, 3, 20, 36), (3, 3, 19, 13)])
def test_spatial_authors_form_matches_independent_derivation(seed, shape):
    original = _rand(*shape, seed=seed, dtype=torch.float64) * 0.3
    enhanced = _rand(*shape, seed=seed + 100, dtype=torch.float64)
    ours = spatial_consistency_loss(enhanced, original)
    ref = _spatial_reference(enhanced, original)
    assert ours.dtype == torch.float64
    assert torch.allclose(ours, ref, rtol=1e-10, atol=0)


def _spatial_paper_reference(enhanced, original, patch=4):
    """Eq. 4 as printed: (|Y_i - Y_j| - |I_i - I_j|)^2 summed over the 4 neighbours, mean over regions."""
    e = F.avg_pool2d(enhanced.mean(1, keepdim=True), patch)[:, 0]
    o = F.avg_pool2d(original.mean(1, keepdim=True), patch)[:, 0]
    b, h, w = e.shape
    total = 0.0
    for n in range(b):
        for i in range(h):
            for j in range(w):
                for di, dj in ((0, 1), (0, -1), (1, 0), (-1, 0)):
                    k, m = i + di, j + dj
                    if 0 <= k < h and 0 <= m < w:
                        total += float((e[n, i, j] - e[n, k, m]).abs() - (o[n, i, j] - o[n, k, m]).abs()) ** 2
    return total / (b * h * w)


def test_spatial_paper_form_matches_equation():
    original = _rand(2, 3, 16, 20, seed=3, dtype=torch.float64) * 0.3
    enhanced = _rand(2, 3, 16, 20, seed=4, dtype=torch.float64)
    ours = float(spatial_consistency_loss(enhanced, original, form="paper"))
    assert ours == pytest.approx(_spatial_paper_reference(enhanced, original), rel=1e-10)


@pytest.mark.parametrize("form", FORMS)
def test_color_constancy_of_grey_image_is_zero(form):
    assert float(color_constancy_loss(torch.full((2, 3, 8, 8), 0.37), form=form)) == 0.0
    grey = _rand(2, 1, 8, 8).expand(-1, 3, -1, -1)
    assert float(color_constancy_loss(grey, form=form)) == pytest.approx(0, abs=1e-6)


@pytest.mark.parametrize("form, expected", [("authors", math.sqrt(2)), ("paper", 2.0)])
def test_color_constancy_of_red_image(form, expected):
    red = torch.zeros(2, 3, 8, 8)
    red[:, 0] = 1
    assert float(color_constancy_loss(red, form=form)) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("form", FORMS)
def test_tv_of_constant_alpha_is_zero(form):
    for channels in (3, 24):
        alpha = torch.full((2, channels, 8, 8), 0.4)
        assert float(illumination_smoothness_loss(alpha, form=form)) == 0.0


def test_tv_authors_known_value():
    alpha = torch.tensor([[[[0.0, 1.0], [0.0, 1.0]]]])  # one vertical edge: dx = 1 on both rows, dy = 0
    # 2 * (sum dy^2 / ((h-1) w) + sum dx^2 / (h (w-1))) / batch = 2 * (0 + 2/2) / 1
    assert float(illumination_smoothness_loss(alpha)) == pytest.approx(2.0)
    assert float(illumination_smoothness_loss(alpha.repeat(3, 1, 1, 1))) == pytest.approx(2.0)


def test_tv_authors_matches_formula_on_random_data():
    a = _rand(2, 24, 9, 7, dtype=torch.float64)
    b, _, h, w = a.shape
    dy = ((a[:, :, 1:] - a[:, :, :-1]) ** 2).sum() / ((h - 1) * w)
    dx = ((a[..., 1:] - a[..., :-1]) ** 2).sum() / (h * (w - 1))
    assert torch.allclose(illumination_smoothness_loss(a), 2 * (dx + dy) / b, rtol=1e-12)


def test_tv_is_positive_on_varying_alpha():
    for form in FORMS:
        assert float(illumination_smoothness_loss(_rand(1, 3, 8, 8), form=form)) > 0


# -- masks ------------------------------------------------------------------------------------------


def _pair(seed=0, h=32, w=48):
    original = _rand(2, 3, h, w, seed=seed) * 0.3
    enhanced = _rand(2, 3, h, w, seed=seed + 1)
    return enhanced, original


def _all_terms(enhanced, original, mask, form):
    return {
        "spa": spatial_consistency_loss(enhanced, original, mask=mask, form=form),
        "exp": exposure_control_loss(enhanced, mask=mask, form=form),
        "exp4": exposure_control_loss(enhanced, mask=mask, form=form, patch_size=4),
        "col": color_constancy_loss(enhanced, mask=mask, form=form),
    }


@pytest.mark.parametrize("form", FORMS)
def test_full_mask_equals_no_mask(form):
    enhanced, original = _pair()
    plain = _all_terms(enhanced, original, None, form)
    masked = _all_terms(enhanced, original, torch.ones(2, 1, 32, 48), form)
    for k in plain:
        assert torch.allclose(plain[k], masked[k], rtol=1e-5, atol=1e-7), k


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("band", ["bottom-aligned", "right-unaligned"])
def test_mask_ignores_what_is_under_the_padding_band(form, band):
    enhanced, original = _pair(seed=5)
    mask = torch.ones(2, 1, 32, 48)
    region = (slice(None), slice(None), slice(24, None), slice(None))  # rows 24..31: whole 4x4 regions
    if band == "right-unaligned":
        region = (slice(None), slice(None), slice(None), slice(38, None))  # cuts through 4x4 and 16x16 regions
    mask[region] = 0
    base = _all_terms(enhanced, original, mask, form)
    e2, o2 = enhanced.clone(), original.clone()
    e2[region] = _rand(2, 3, 32, 48, seed=9)[region]
    o2[region] = 1.0
    changed = _all_terms(e2, o2, mask, form)
    for k in base:
        assert torch.allclose(base[k], changed[k], rtol=1e-5, atol=1e-7), k
    # without the mask the same change does move every term: the invariance above is the mask's doing
    unmasked, unmasked2 = _all_terms(enhanced, original, None, form), _all_terms(e2, o2, None, form)
    for k in base:
        assert not torch.allclose(unmasked[k], unmasked2[k], rtol=1e-4, atol=1e-6), k


def test_zero_reference_loss_mask_ignores_band():
    enhanced, original = _pair(seed=7)
    alpha = _rand(2, 3, 32, 48, seed=8) * 0.1
    mask = torch.ones(2, 1, 32, 48)
    mask[..., :, 40:] = 0
    total, _ = zero_reference_loss(enhanced, original, alpha, mask=mask)
    e2, o2 = enhanced.clone(), original.clone()
    e2[..., 40:], o2[..., 40:] = 0.0, 0.5
    total2, _ = zero_reference_loss(e2, o2, alpha, mask=mask)
    assert torch.allclose(total, total2, rtol=1e-5)


def test_mask_is_per_image():
    enhanced, _ = _pair(seed=11)
    mask = torch.ones(2, 1, 32, 48)
    mask[1, :, 16:] = 0
    masked = exposure_control_loss(enhanced, mask=mask, patch_size=4)
    first = exposure_control_loss(enhanced[:1], patch_size=4)
    second = exposure_control_loss(enhanced[1:, :, :16], patch_size=4)
    # region-weighted mean over both images' valid regions
    n1, n2 = (32 // 4) * (48 // 4), (16 // 4) * (48 // 4)
    assert float(masked) == pytest.approx((float(first) * n1 + float(second) * n2) / (n1 + n2), rel=1e-5)


# -- gradients ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("masked", [False, True])
def test_gradcheck_image_losses(form, masked):
    enhanced = _rand(1, 3, 16, 16, seed=21, dtype=torch.float64).requires_grad_()
    original = (_rand(1, 3, 16, 16, seed=22, dtype=torch.float64) * 0.3).requires_grad_()
    mask = None
    if masked:
        mask = torch.ones(1, 1, 16, 16, dtype=torch.float64)
        mask[..., 13:] = 0
    checks = {
        "spa": lambda e, o: spatial_consistency_loss(e, o, mask=mask, form=form),
        "exp": lambda e, o: exposure_control_loss(e, patch_size=4, mask=mask, form=form),
        "exp16": lambda e, o: exposure_control_loss(e, mask=mask, form=form),
        "col": lambda e, o: color_constancy_loss(e, mask=mask, form=form),
    }
    for name, fn in checks.items():
        # fast_mode checks a random projection of the Jacobian: full Jacobians take minutes on 2 cores
        assert torch.autograd.gradcheck(fn, (enhanced, original), fast_mode=True), name


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("channels", [3, 24])
def test_gradcheck_tv(form, channels):
    alpha = (_rand(1, channels, 8, 8, seed=31, dtype=torch.float64) * 0.2 - 0.1).requires_grad_()
    assert torch.autograd.gradcheck(lambda a: illumination_smoothness_loss(a, form=form), (alpha,), fast_mode=True)


def test_gradcheck_zero_reference_loss():
    enhanced = _rand(1, 3, 16, 16, seed=41, dtype=torch.float64).requires_grad_()
    original = _rand(1, 3, 16, 16, seed=42, dtype=torch.float64) * 0.3
    alpha = (_rand(1, 3, 16, 16, seed=43, dtype=torch.float64) * 0.2 - 0.1).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda e, a: zero_reference_loss(e, original, a)[0], (enhanced, alpha), fast_mode=True
    )


# -- precision ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("input_dtype", [torch.float32, torch.bfloat16])
def test_losses_are_float32_under_cpu_autocast(input_dtype):
    enhanced, original = _pair(h=32, w=32)
    alpha = _rand(2, 24, 32, 32) * 0.1
    ref_total, _ = zero_reference_loss(enhanced, original, alpha)
    e, o, a = enhanced.to(input_dtype), original.to(input_dtype), alpha.to(input_dtype)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        total, terms = zero_reference_loss(e, o, a)
        singles = [
            spatial_consistency_loss(e, o),
            exposure_control_loss(e),
            color_constancy_loss(e),
            illumination_smoothness_loss(a),
        ]
    assert total.dtype == torch.float32
    assert all(t.dtype == torch.float32 for t in terms.values())
    assert all(t.dtype == torch.float32 for t in singles)
    tol = 1e-6 if input_dtype == torch.float32 else 5e-2
    assert torch.allclose(total, ref_total, rtol=tol)


def test_autocast_model_and_loss_backward():
    model = ZeroDCEPP(weights=None)
    x = _rand(1, 3, 32, 32) * 0.3
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y, alpha = model(x, return_curves=True)
        total, _ = ZeroReferenceLoss()(y, x, alpha)
    assert total.dtype == torch.float32
    total.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_float64_stays_float64():
    enhanced, original = _pair()
    total, terms = zero_reference_loss(enhanced.double(), original.double(), _rand(2, 3, 32, 48).double())
    assert total.dtype == torch.float64 and all(t.dtype == torch.float64 for t in terms.values())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_inputs_give_float32(dtype):
    enhanced, original = _pair()
    assert spatial_consistency_loss(enhanced.to(dtype), original.to(dtype)).dtype == torch.float32
    assert color_constancy_loss(enhanced.to(dtype)).dtype == torch.float32


# -- the combined objective ---------------------------------------------------------------------------


@pytest.mark.parametrize("channels, weight", [(3, 1600.0), (24, 200.0), (12, 200.0)])
def test_tv_weight_is_picked_from_alpha_channels(channels, weight):
    enhanced, original = _pair(h=16, w=16)
    alpha = _rand(2, channels, 16, 16, seed=3) * 0.2
    _, terms = zero_reference_loss(enhanced, original, alpha)
    assert torch.allclose(terms["tv"], weight * illumination_smoothness_loss(alpha), rtol=1e-6)
    _, terms = zero_reference_loss(enhanced, original, alpha, tv_weight=7.0)
    assert torch.allclose(terms["tv"], 7.0 * illumination_smoothness_loss(alpha), rtol=1e-6)


@pytest.mark.parametrize("form", FORMS)
def test_terms_sum_to_total_and_carry_their_weights(form):
    enhanced, original = _pair()
    alpha = _rand(2, 24, 32, 48, seed=4) * 0.2
    loss = ZeroReferenceLoss(spa_weight=2.0, exp_weight=3.0, col_weight=4.0, tv_weight=5.0, form=form)
    total, terms = loss(enhanced, original, alpha)
    assert sorted(terms) == ["col", "exp", "spa", "tv"]
    assert torch.allclose(total, sum(terms.values()), rtol=1e-6)
    expected = {
        "spa": 2.0 * spatial_consistency_loss(enhanced, original, form=form),
        "exp": 3.0 * exposure_control_loss(enhanced, form=form),
        "col": 4.0 * color_constancy_loss(enhanced, form=form),
        "tv": 5.0 * illumination_smoothness_loss(alpha, form=form),
    }
    for k, v in expected.items():
        assert torch.allclose(terms[k], v, rtol=1e-6), k


def test_default_weights_are_the_authors():
    enhanced, original = _pair()
    alpha = _rand(2, 24, 32, 48, seed=4) * 0.2
    _, terms = ZeroReferenceLoss()(enhanced, original, alpha)
    assert torch.allclose(terms["spa"], spatial_consistency_loss(enhanced, original), rtol=1e-6)
    assert torch.allclose(terms["exp"], 10 * exposure_control_loss(enhanced), rtol=1e-6)
    assert torch.allclose(terms["col"], 5 * color_constancy_loss(enhanced), rtol=1e-6)
    assert torch.allclose(terms["tv"], 200 * illumination_smoothness_loss(alpha), rtol=1e-6)


def test_module_forms_match_functions():
    enhanced, original = _pair()
    alpha = _rand(2, 3, 32, 48, seed=6)
    mask = torch.ones(2, 1, 32, 48)
    mask[..., 40:] = 0
    assert torch.equal(SpatialConsistencyLoss(patch_size=8)(enhanced, original, mask),
                       spatial_consistency_loss(enhanced, original, patch_size=8, mask=mask))
    assert torch.equal(ExposureControlLoss(well_exposed=0.5, form="paper")(enhanced, mask),
                       exposure_control_loss(enhanced, well_exposed=0.5, form="paper", mask=mask))
    assert torch.equal(ColorConstancyLoss()(enhanced, mask), color_constancy_loss(enhanced, mask=mask))
    assert torch.equal(
        IlluminationSmoothnessLoss(form="paper")(alpha), illumination_smoothness_loss(alpha, form="paper")
    )


def test_training_step_lowers_the_loss():
    """A few optimiser steps on one dark image reduce the objective (the losses drive enhancement)."""
    torch.manual_seed(0)
    model = ZeroDCEPP(weights=None)
    x = _rand(1, 3, 16, 16, seed=50) * 0.15
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = ZeroReferenceLoss()
    first = None
    for _ in range(8):
        y, alpha = model(x, return_curves=True)
        total, _ = loss_fn(y, x, alpha)
        first = float(total.detach()) if first is None else first
        opt.zero_grad()
        total.backward()
        opt.step()
    with torch.no_grad():
        y, alpha = model(x, return_curves=True)
        assert float(loss_fn(y, x, alpha)[0]) < first
        assert float(y.mean()) > float(x.mean())

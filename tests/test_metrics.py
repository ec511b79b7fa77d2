"""No-reference and paired figures of dce_transforms.metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dce_transforms import DCEError
from dce_transforms.metrics import (
    colorfulness,
    exposure_error,
    lightness_order_error,
    loss_terms,
    mean_exposure,
    psnr,
    score,
    ssim,
)


def test_psnr_identical_is_inf_and_known_value():
    x = torch.rand(2, 3, 16, 16) * 0.8
    assert torch.isinf(psnr(x, x)).all()
    # MSE 0.01 -> 20 dB
    assert psnr(x + 0.1, x) == pytest.approx(torch.full((2,), 20.0), abs=1e-3)


def test_psnr_is_per_image():
    x = torch.full((2, 3, 8, 8), 0.5)
    y = x.clone()
    y[1] += 0.1
    p = psnr(y, x)
    assert math.isinf(float(p[0])) and float(p[1]) == pytest.approx(20.0, abs=1e-3)


def test_ssim_identical_and_degraded():
    x = torch.rand(1, 3, 24, 24)
    assert float(ssim(x, x)[0]) == pytest.approx(1.0, abs=1e-5)
    assert float(ssim((x * 0.3), x)[0]) < 0.9


def test_colorfulness_grey_is_zero_and_known_value():
    assert colorfulness(torch.full((2, 3, 5, 5), 0.37)).abs().max() < 1e-4
    # half the pixels pure red, half black: rg in {255, 0}, yb in {127.5, 0}
    x = torch.zeros(3, 2, 2)
    x[0, 0, :] = 1.0
    rg = np.array([255, 255, 0, 0], float)
    yb = np.array([127.5, 127.5, 0, 0], float)
    expected = math.sqrt(rg.var() + yb.var()) + 0.3 * math.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    assert float(colorfulness(x)[0]) == pytest.approx(expected, rel=1e-5)


def test_loe_identity_zero_and_inversion():
    x = torch.rand(2, 3, 20, 30)
    assert lightness_order_error(x, x).eq(0).all()
    assert lightness_order_error(x.pow(0.5), x).eq(0).all()  # a global monotone curve keeps every order
    # 4x5 image with distinct lightness values (max over RGB); inverting it flips every ordered pair:
    # each pixel disagrees with the m - 1 others, so LOE = m - 1 = 19.
    v = torch.linspace(0.05, 0.95, 20).reshape(1, 1, 4, 5).expand(1, 3, 4, 5).contiguous()
    assert float(lightness_order_error(1 - v, v)[0]) == pytest.approx(19.0)


def test_loe_downsamples_large_images():
    x = torch.rand(1, 3, 300, 400)
    y = x.flip(-1)
    small = lightness_order_error(y, x, size=50)
    assert 0 < float(small[0]) <= 50 * 38  # at most m = 50 x 38 pixels after down-sampling


def test_exposure_on_constant_image():
    x = torch.full((3, 16, 16), 0.2)
    assert float(mean_exposure(x)[0]) == pytest.approx(0.2)
    assert float(exposure_error(x)[0]) == pytest.approx(0.4)
    assert float(exposure_error(x, target=0.5)[0]) == pytest.approx(0.3)


def test_loss_terms_weighted_and_unweighted():
    x = torch.rand(2, 3, 32, 32) * 0.3
    y = x.sqrt()
    alpha = torch.rand(2, 24, 32, 32)
    t = loss_terms(y, x, alpha)
    assert set(t) == {"spa", "exp", "col", "tv", "spa_w", "exp_w", "col_w", "tv_w", "loss"}
    assert all(v.shape == (2,) for v in t.values())
    assert torch.allclose(t["exp_w"], 10 * t["exp"]) and torch.allclose(t["col_w"], 5 * t["col"])
    assert torch.allclose(t["tv_w"], 200 * t["tv"]) and torch.allclose(t["spa_w"], t["spa"])
    assert torch.allclose(t["loss"], t["spa_w"] + t["exp_w"] + t["col_w"] + t["tv_w"], rtol=1e-5)
    assert (t["tv"] > 0).all()
    # a shared 3-channel map is weighted 1600, and no curves at all means no TV
    assert torch.allclose(loss_terms(y, x, alpha[:, :3])["tv_w"], 1600 * loss_terms(y, x, alpha[:, :3])["tv"])
    assert loss_terms(y, x)["tv"].eq(0).all()


def test_score_keys_and_errors():
    x = torch.rand(3, 16, 16)
    s = score(x.sqrt(), x, torch.zeros(24, 16, 16), reference=x)
    assert {"exposure", "exposure_error", "loe", "colorfulness", "psnr", "ssim", "loss"} <= set(s)
    assert all(isinstance(v, float) and math.isfinite(v) for v in s.values())
    assert "psnr" not in score(x, x)
    with pytest.raises(DCEError):
        score(torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16))
    with pytest.raises(ValueError):
        psnr(torch.rand(3, 8, 8), torch.rand(3, 8, 9))

"""The low-light simulator: determinism, physics sanity, shapes, ranges and errors."""

from __future__ import annotations

import pytest
import torch

from dce_transforms.errors import DCEError, ImageDTypeError, ImageShapeError, ImageValueError
from dce_transforms.simulate import LowLightParamError, LowLightParams, darken, sample_params, simulate_low_light


def _img(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def test_seed_reproduces_exactly_and_differs_across_seeds():
    x = _img(2, 3, 16, 16)
    a = simulate_low_light(x, seed=3)
    assert torch.equal(a, simulate_low_light(x, seed=3))
    assert not torch.equal(a, simulate_low_light(x, seed=4))
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(simulate_low_light(x, generator=g1), simulate_low_light(x, generator=g2))


def test_darken_is_deterministic_given_generator_and_applies_the_formula():
    x = _img(1, 3, 8, 8)
    y = darken(x, exposure=0.25, gamma=2.0, shot_noise=0.0, read_noise=0.0)
    torch.testing.assert_close(y, 0.25 * x**2)
    kw = dict(exposure=0.25, gamma=2.0, shot_noise=0.01, read_noise=0.01)
    y1 = darken(x, generator=torch.Generator().manual_seed(0), **kw)
    y2 = darken(x, generator=torch.Generator().manual_seed(0), **kw)
    assert torch.equal(y1, y2)
    assert not torch.equal(y1, darken(x, generator=torch.Generator().manual_seed(1), **kw))


def test_noise_variance_grows_with_signal():
    # Shot noise: variance = s * signal (+ read^2); compare a dark and a bright flat patch.
    x = torch.cat([torch.full((1, 3, 64, 64), 0.1), torch.full((1, 3, 64, 64), 0.9)])
    y = darken(x, exposure=0.5, gamma=1.0, shot_noise=0.01, read_noise=0.0, generator=torch.Generator().manual_seed(0))
    var_dark, var_bright = y[0].var().item(), y[1].var().item()
    assert var_dark == pytest.approx(0.01 * 0.05, rel=0.1)
    assert var_bright == pytest.approx(0.01 * 0.45, rel=0.1)


def test_read_noise_is_signal_independent():
    x = torch.full((1, 3, 64, 64), 0.8)
    y = darken(x, exposure=0.5, gamma=1.0, shot_noise=0.0, read_noise=0.02, generator=torch.Generator().manual_seed(0))
    assert y.std().item() == pytest.approx(0.02, rel=0.1)


def test_color_shift_scales_channels():
    x = torch.full((3, 4, 4), 0.5)
    y = darken(x, exposure=0.4, gamma=1.0, shot_noise=0.0, read_noise=0.0, color_shift=torch.tensor([0.1, 0.0, -0.1]))
    torch.testing.assert_close(y[:, 0, 0], torch.tensor([0.22, 0.2, 0.18]))


def test_output_is_darker_in_range_and_keeps_shape_dtype():
    for shape in [(3, 20, 24), (4, 3, 20, 24)]:
        x = _img(*shape).clamp(0.2, 1.0)
        y = simulate_low_light(x, seed=0)
        assert y.shape == x.shape and y.dtype == x.dtype
        assert y.min().item() >= 0.0 and y.max().item() <= 1.0
        assert y.mean().item() < 0.5 * x.mean().item()


def test_per_image_parameters_apply_to_their_image():
    x = torch.full((2, 3, 4, 4), 0.5)
    y = darken(x, exposure=torch.tensor([0.1, 0.4]), gamma=torch.tensor([1.0, 1.0]), shot_noise=0.0, read_noise=0.0)
    torch.testing.assert_close(y.mean(dim=(1, 2, 3)), torch.tensor([0.05, 0.2]))


def test_half_precision_follows_input_dtype():
    x = _img(1, 3, 8, 8).half()
    y = simulate_low_light(x, seed=1)
    assert y.dtype == torch.float16 and torch.isfinite(y).all()


def test_differentiable_even_at_zero_signal():
    x = _img(1, 3, 8, 8).clone()
    x[..., :2, :] = 0.0
    x.requires_grad_(True)
    y = darken(x, exposure=0.3, gamma=2.0, shot_noise=0.01, read_noise=0.0, generator=torch.Generator().manual_seed(0))
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_sample_params_respects_ranges_and_is_reproducible():
    p = sample_params(256, generator=torch.Generator().manual_seed(0), exposure=(0.1, 0.2), gamma=(2.0, 2.5),
                      shot_noise=(0.001, 0.002), read_noise=0.003, color_shift=0.05)
    assert isinstance(p, LowLightParams) and len(p) == 256
    assert p.exposure.min() >= 0.1 and p.exposure.max() <= 0.2
    assert p.gamma.min() >= 2.0 and p.gamma.max() <= 2.5
    assert p.shot_noise.min() >= 0.001 and p.shot_noise.max() <= 0.002
    assert torch.all(p.read_noise == 0.003)
    assert p.color_shift is not None and p.color_shift.abs().max() <= 0.05 and p.color_shift.std() > 0
    q = sample_params(256, generator=torch.Generator().manual_seed(0), exposure=(0.1, 0.2), gamma=(2.0, 2.5),
                      shot_noise=(0.001, 0.002), read_noise=0.003, color_shift=0.05)
    assert torch.equal(p.exposure, q.exposure) and torch.equal(p.color_shift, q.color_shift)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(exposure=0.0),
        dict(exposure=(0.3, 0.1)),
        dict(gamma=(-1.0, 2.0)),
        dict(shot_noise=(-0.1, 0.0)),
        dict(read_noise=float("nan")),
        dict(color_shift=1.5),
    ],
)
def test_sample_params_rejects_bad_ranges(kwargs):
    with pytest.raises(LowLightParamError) as info:
        sample_params(2, **kwargs)
    assert isinstance(info.value, (DCEError, ValueError))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(exposure=-0.1), "exposure"),
        (dict(gamma=torch.tensor([1.0, 2.0, 3.0])), "gamma"),
        (dict(shot_noise=-1.0), "shot_noise"),
        (dict(color_shift=torch.tensor([0.1, 0.2])), "color_shift"),
        (dict(color_shift=torch.tensor([-1.0, 0.0, 0.0])), "color_shift"),
    ],
)
def test_darken_rejects_bad_parameters(kwargs, match):
    base = dict(exposure=0.2, gamma=2.0, shot_noise=0.0, read_noise=0.0)
    base.update(kwargs)
    with pytest.raises(LowLightParamError, match=match):
        darken(torch.rand(2, 3, 4, 4), **base)


@pytest.mark.parametrize(
    "img, error",
    [
        (torch.zeros(3, 4, 4, dtype=torch.uint8), ImageDTypeError),
        (torch.rand(1, 4, 4), ImageShapeError),
        (torch.rand(3, 4, 4) * 255, ImageValueError),
        ([[0.0]], ImageDTypeError),
    ],
)
def test_bad_images_are_rejected_with_library_errors(img, error):
    with pytest.raises(error):
        simulate_low_light(img, seed=0)


def test_simulate_rejects_seed_and_generator_together_and_unknown_ranges():
    with pytest.raises(LowLightParamError):
        simulate_low_light(torch.rand(3, 4, 4), seed=1, generator=torch.Generator())
    with pytest.raises(LowLightParamError, match="unknown"):
        simulate_low_light(torch.rand(3, 4, 4), seed=1, exposur=(0.1, 0.2))

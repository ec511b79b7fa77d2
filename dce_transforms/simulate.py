"""Synthetic low-light images: a simple camera model applied to well-exposed images.

The model, applied per image of a batch with parameters ``(e, γ, s, r, c)``::

    linear = clamp(x, 0, 1) ** γ                      # undo the display encoding (approximately)
    signal = e · (1 + c) · linear                     # exposure and per-channel colour gain
    noisy  = signal + N(0, s · signal + r²)           # shot noise (Poisson-like) and read noise
    out    = clamp(noisy, 0, 1)

The output is not re-encoded with ``1/γ``: the gamma then darkens shadows more than highlights
and lowers contrast in the dark, as under-exposed camera images do. Shot noise follows the
heteroscedastic Gaussian approximation of Poisson noise (variance proportional to the signal,
``s`` being the variance per unit signal) and read noise is signal-independent with standard
deviation ``r``, as in Brooks et al., "Unprocessing Images for Learned Raw Denoising", CVPR 2019.

Random drawing and applying are separate: :func:`sample_params` only draws parameters,
:func:`darken` applies them deterministically (noise comes from the ``generator`` passed in, so
a seeded generator reproduces the output exactly), and :func:`simulate_low_light` does both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ._checks import check_image, is_tracing
from .errors import ConfigError

__all__ = [
    "LowLightParamError",
    "LowLightParams",
    "darken",
    "sample_params",
    "simulate_low_light",
]

ParamArg = float | Tensor
RangeArg = float | tuple[float, float]


class LowLightParamError(ConfigError):
    """A low-light simulation parameter or range is invalid (negative noise, non-positive exposure...)."""


@dataclass
class LowLightParams:
    """Parameters of :func:`darken` for a batch of ``B`` images (tensors on the CPU, float32).

    Attributes:
        exposure: ``(B,)`` multiplicative exposure, > 0 (below 1 darkens).
        gamma: ``(B,)`` exponent that linearises the display-encoded input, > 0.
        shot_noise: ``(B,)`` shot-noise variance per unit of signal, >= 0.
        read_noise: ``(B,)`` read-noise standard deviation, >= 0.
        color_shift: ``(B, 3)`` relative per-channel gains (gain = 1 + shift, shift > -1), or None.
    """

    exposure: Tensor
    gamma: Tensor
    shot_noise: Tensor
    read_noise: Tensor
    color_shift: Tensor | None = None

    def as_kwargs(self) -> dict[str, Tensor | None]:
        """The parameters as keyword arguments of :func:`darken`."""
        return {
            "exposure": self.exposure,
            "gamma": self.gamma,
            "shot_noise": self.shot_noise,
            "read_noise": self.read_noise,
            "color_shift": self.color_shift,
        }

    def __len__(self) -> int:
        return int(self.exposure.shape[0])


def _per_image(value: ParamArg, *, name: str, batch: int, ref: Tensor, low: float, strict: bool) -> Tensor:
    """A scalar or ``(B,)`` parameter as a ``(B, 1, 1, 1)`` tensor on ``ref``'s device, validated."""
    t = torch.as_tensor(value, dtype=torch.float32)
    if t.ndim == 0:
        t = t.expand(batch)
    if is_tracing():  # value checks read the tensor back: skipped while compiling / exporting, like check_image
        return t.expand(batch).to(device=ref.device, dtype=ref.dtype).view(batch, 1, 1, 1)
    if t.ndim != 1 or t.shape[0] not in (1, batch):
        raise LowLightParamError(
            f"{name} must be a number or a tensor of shape ({batch},) (one value per image), got shape {tuple(t.shape)}."
        )
    if not bool(torch.isfinite(t).all()):
        raise LowLightParamError(f"{name} must be finite, got {t.tolist()}.")
    bad = (t <= low) if strict else (t < low)
    if bool(bad.any()):
        rel = ">" if strict else ">="
        raise LowLightParamError(f"{name} must be {rel} {low:g}, got {t.tolist()}.")
    return t.expand(batch).to(device=ref.device, dtype=ref.dtype).view(batch, 1, 1, 1)


def darken(
    img: Tensor,
    *,
    exposure: ParamArg,
    gamma: ParamArg,
    shot_noise: ParamArg,
    read_noise: ParamArg,
    color_shift: Tensor | None = None,
    generator: torch.Generator | None = None,
    noise: Tensor | None = None,
) -> Tensor:
    """Turn well-exposed images into low-light ones with given camera parameters.

    Deterministic given ``generator``: the same parameters and a generator in the same state give
    the same output. Differentiable with respect to ``img``.

    Args:
        img: ``(B, 3, H, W)`` or ``(3, H, W)``, floating point, RGB in [0, 1].
        exposure: exposure factor, > 0, a number or a ``(B,)`` tensor (e.g. 0.1 = 10% of the light).
        gamma: linearising exponent, > 0, a number or ``(B,)`` tensor (about 2.2 for sRGB).
        shot_noise: shot-noise variance per unit signal, >= 0, a number or ``(B,)`` tensor.
        read_noise: read-noise standard deviation, >= 0, a number or ``(B,)`` tensor.
        color_shift: ``(B, 3)`` or ``(3,)`` relative channel gains (each > -1), or None for neutral.
        generator: source of the noise; its device may differ from the image's (noise is drawn
            on the generator's device and moved). None uses the global generator.
        noise: standard-normal noise to use instead of drawing it, broadcastable to ``(B, 3, H, W)``
            (e.g. ``(1, 3, H, W)`` for the same noise on every image); ``generator`` is then unused.

    Returns:
        The darkened image, same shape, dtype and device as ``img``, in [0, 1].

    Raises:
        ImageDTypeError, ImageShapeError, ImageValueError: ``img`` breaks the input contract.
        LowLightParamError: a parameter is out of range or has the wrong shape.

    Example:
        >>> x = torch.full((2, 3, 8, 8), 0.5)
        >>> g = torch.Generator().manual_seed(0)
        >>> y = darken(x, exposure=0.2, gamma=2.0, shot_noise=0.0, read_noise=0.0)
        >>> round(float(y.mean()), 4)  # 0.2 * 0.5 ** 2
        0.05
        >>> y1 = darken(x, exposure=0.2, gamma=2.0, shot_noise=0.01, read_noise=0.005,
        ...             generator=torch.Generator().manual_seed(1))
        >>> y2 = darken(x, exposure=0.2, gamma=2.0, shot_noise=0.01, read_noise=0.005,
        ...             generator=torch.Generator().manual_seed(1))
        >>> torch.equal(y1, y2), bool(y1.std() > 0)
        (True, True)

    Reference:
        Brooks et al., "Unprocessing Images for Learned Raw Denoising", CVPR 2019 (noise model).
    """
    x4, unbatched = check_image(img, name="img")
    b = x4.shape[0]
    e = _per_image(exposure, name="exposure", batch=b, ref=x4, low=0.0, strict=True)
    g = _per_image(gamma, name="gamma", batch=b, ref=x4, low=0.0, strict=True)
    s = _per_image(shot_noise, name="shot_noise", batch=b, ref=x4, low=0.0, strict=False)
    r = _per_image(read_noise, name="read_noise", batch=b, ref=x4, low=0.0, strict=False)

    signal = x4.clamp(0, 1).pow(g) * e
    if color_shift is not None:
        c = torch.as_tensor(color_shift, dtype=torch.float32)
        if c.ndim == 1:
            c = c.unsqueeze(0)
        if c.ndim != 2 or c.shape[1] != 3 or c.shape[0] not in (1, b):
            raise LowLightParamError(
                f"color_shift must have shape ({b}, 3) or (3,), one gain offset per RGB channel, "
                f"got {tuple(torch.as_tensor(color_shift).shape)}."
            )
        if not is_tracing() and (not bool(torch.isfinite(c).all()) or bool((c <= -1).any())):
            raise LowLightParamError(f"color_shift values must be finite and > -1 (gain = 1 + shift), got {c.tolist()}.")
        signal = signal * (1 + c.to(device=x4.device, dtype=x4.dtype)).expand(b, 3).view(b, 3, 1, 1)

    out = signal
    # Skip drawing entirely when no image of the batch has noise (keeps the generator state); while
    # tracing, the test would read the parameters back, so the noise is always drawn.
    if noise is not None or is_tracing() or bool(((s > 0) | (r > 0)).any()):
        var = s * signal.clamp_min(0) + r * r
        positive = var > 0
        # sqrt has an infinite derivative at 0: take it only where the variance is positive.
        std = torch.where(positive, torch.where(positive, var, torch.ones_like(var)).sqrt(), torch.zeros_like(var))
        if noise is None:
            gen_device = generator.device if generator is not None else x4.device
            noise = torch.randn(x4.shape, generator=generator, device=gen_device, dtype=torch.float32)
        elif noise.ndim == 3:
            noise = noise.unsqueeze(0)
        out = signal + std * noise.to(device=x4.device, dtype=x4.dtype)
    out = out.clamp(0, 1)
    return out.squeeze(0) if unbatched else out


def _range(value: RangeArg, *, name: str, low: float, strict: bool) -> tuple[float, float]:
    lo, hi = (float(value), float(value)) if isinstance(value, (int, float)) else (float(value[0]), float(value[1]))
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        raise LowLightParamError(f"{name} must be a number or a (low, high) tuple with low <= high, got {value!r}.")
    if (lo <= low) if strict else (lo < low):
        rel = ">" if strict else ">="
        raise LowLightParamError(f"{name} range must lie {rel} {low:g}, got {value!r}.")
    return lo, hi


def _rand(*shape: int, generator: torch.Generator | None) -> Tensor:
    """``torch.rand`` on the CPU (on the generator's device, then moved); no ``generator=None`` argument,
    which would select the ``aten.rand.generator`` overload that ONNX cannot export."""
    if generator is None:
        return torch.rand(*shape)
    return torch.rand(*shape, generator=generator, device=generator.device).cpu()


def _uniform(batch: int, lo: float, hi: float, generator: torch.Generator | None) -> Tensor:
    return lo + (hi - lo) * _rand(batch, generator=generator)


def sample_params(
    batch: int,
    *,
    generator: torch.Generator | None = None,
    exposure: RangeArg = (0.05, 0.3),
    gamma: RangeArg = (1.5, 3.0),
    shot_noise: RangeArg = (0.0, 0.02),
    read_noise: RangeArg = (0.0, 0.01),
    color_shift: float = 0.1,
) -> LowLightParams:
    """Draw random :func:`darken` parameters for ``batch`` images.

    Exposure is drawn log-uniformly (it is a scale: 0.05–0.1 is as likely as 0.1–0.2), the other
    parameters uniformly; each channel's colour shift uniformly in ``[-color_shift, color_shift]``.
    A single number instead of a ``(low, high)`` tuple fixes the parameter.

    Args:
        batch: number of images.
        generator: random source (None: the global generator).
        exposure: ``(low, high)``, > 0.
        gamma: ``(low, high)``, > 0.
        shot_noise: ``(low, high)``, >= 0 (variance per unit signal).
        read_noise: ``(low, high)``, >= 0 (standard deviation).
        color_shift: largest relative channel-gain change, in [0, 1).

    Returns:
        A :class:`LowLightParams` with CPU float32 tensors of length ``batch``.

    Example:
        >>> p = sample_params(4, generator=torch.Generator().manual_seed(0))
        >>> len(p), tuple(p.color_shift.shape)
        (4, (4, 3))
        >>> bool(((p.exposure >= 0.05) & (p.exposure <= 0.3)).all())
        True
    """
    if isinstance(batch, Tensor) and batch.ndim == 0 and not batch.is_floating_point() and not is_tracing():
        batch = int(batch)  # a traced shape (legacy ONNX export) arrives as a 0-d integer tensor
    if not is_tracing() and (not isinstance(batch, int) or isinstance(batch, bool) or batch < 1):
        raise LowLightParamError(f"batch must be a positive integer, got {batch!r}.")
    e_lo, e_hi = _range(exposure, name="exposure", low=0.0, strict=True)
    g_lo, g_hi = _range(gamma, name="gamma", low=0.0, strict=True)
    s_lo, s_hi = _range(shot_noise, name="shot_noise", low=0.0, strict=False)
    r_lo, r_hi = _range(read_noise, name="read_noise", low=0.0, strict=False)
    cs = float(color_shift)
    if not (0.0 <= cs < 1.0):
        raise LowLightParamError(f"color_shift must be in [0, 1) (largest relative gain change), got {color_shift!r}.")
    # Fixed draw order: the same generator state gives the same parameters.
    exp = torch.exp(_uniform(batch, math.log(e_lo), math.log(e_hi), generator))
    gam = _uniform(batch, g_lo, g_hi, generator)
    shot = _uniform(batch, s_lo, s_hi, generator)
    read = _uniform(batch, r_lo, r_hi, generator)
    u = _rand(batch, 3, generator=generator)
    shift = (2 * u - 1) * cs
    return LowLightParams(exposure=exp, gamma=gam, shot_noise=shot, read_noise=read, color_shift=shift)


def simulate_low_light(
    img: Tensor,
    *,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    **ranges: RangeArg,
) -> Tensor:
    """Darken images with randomly drawn camera parameters (:func:`sample_params` then :func:`darken`).

    Args:
        img: ``(B, 3, H, W)`` or ``(3, H, W)``, floating point, RGB in [0, 1]; each image of a
            batch gets its own parameters.
        seed: seed of a fresh CPU generator, for an exactly reproducible result.
        generator: random source instead of ``seed`` (None with no seed: the global generator).
        **ranges: ``exposure``, ``gamma``, ``shot_noise``, ``read_noise`` ranges and ``color_shift``,
            as for :func:`sample_params`.

    Returns:
        The low-light image, same shape, dtype and device as ``img``.

    Example:
        >>> x = torch.rand(3, 16, 16)
        >>> y = simulate_low_light(x, seed=7)
        >>> torch.equal(y, simulate_low_light(x, seed=7)), bool(y.mean() < x.mean())
        (True, True)
    """
    if seed is not None and generator is not None:
        raise LowLightParamError("pass either seed or generator, not both.")
    unknown = set(ranges) - {"exposure", "gamma", "shot_noise", "read_noise", "color_shift"}
    if unknown:
        raise LowLightParamError(
            f"unknown range(s) {sorted(unknown)}: use exposure, gamma, shot_noise, read_noise or color_shift."
        )
    x4, _ = check_image(img, name="img")
    if seed is not None:
        generator = torch.Generator().manual_seed(int(seed))
    params = sample_params(x4.shape[0], generator=generator, **ranges)  # type: ignore[arg-type]
    return darken(img, generator=generator, **params.as_kwargs())  # type: ignore[arg-type]

"""Render the bundled example image ``examples/data/dark_scene.png``.

A small synthetic scene of our own (sky gradient, sun, hills with grass texture, a house with lit
windows, a tree, a colour chart and a checkerboard), drawn with NumPy and OpenCV only, then
darkened with :func:`dce_transforms.simulate.simulate_low_light` under a fixed seed. No external
asset is used, so the image carries no third-party licence.

Usage:
    python examples/make_example_image.py [OUT.png] [--bright BRIGHT.png]

The output is deterministic for a given library version; the README quick start enhances it with
``dce-enhance examples/data/dark_scene.png -o outputs/``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch

from dce_transforms.io import image_to_tensor, tensor_to_image, write_image
from dce_transforms.simulate import simulate_low_light

WIDTH, HEIGHT = 480, 320
SEED = 2020
DEFAULT_OUT = Path(__file__).resolve().parent / "data" / "dark_scene.png"


def _value_noise(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    """Smooth noise in [0, 1]: random values on a coarse grid, bicubically up-sampled."""
    coarse = rng.random((h // cell + 2, w // cell + 2)).astype(np.float32)
    return np.clip(cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC), 0, 1)


def render_scene(width: int = WIDTH, height: int = HEIGHT, *, seed: int = SEED) -> np.ndarray:
    """The well-exposed scene as an RGB ``HWC`` uint8 array."""
    rng = np.random.default_rng(seed)
    h, w = height, width
    img = np.zeros((h, w, 3), np.float32)
    horizon = int(h * 0.55)

    # sky: blue at the top to warm orange at the horizon
    t = np.linspace(0, 1, horizon, dtype=np.float32)[:, None, None]
    top, low = np.array([0.25, 0.45, 0.85], np.float32), np.array([0.98, 0.75, 0.45], np.float32)
    img[:horizon] = top * (1 - t) + low * t
    # sun with a soft glow
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    sx, sy = w * 0.78, h * 0.22
    d = np.sqrt((xx - sx) ** 2 + (yy - sy) ** 2)
    glow = np.exp(-((d / (0.12 * w)) ** 2))[..., None]
    img = img * (1 - 0.6 * glow) + np.array([1.0, 0.95, 0.7], np.float32) * 0.6 * glow
    img[d < 0.045 * w] = (1.0, 0.97, 0.8)
    # clouds: value noise above a threshold, only in the sky
    clouds = _value_noise(rng, h, w, 24)
    cmask = np.clip((clouds - 0.6) * 3, 0, 1)[..., None] * (yy < horizon)[..., None]
    img = img * (1 - 0.7 * cmask) + 0.95 * 0.7 * cmask

    # hills: two sine-shaped bands with grass texture
    hills = ((horizon - 10, 18, 2.3, (0.35, 0.55, 0.30)), (horizon + 15, 12, 3.7, (0.25, 0.62, 0.22)))
    for base, amp, freq, colour in hills:
        ridge = base - amp * np.sin(np.linspace(0, freq * np.pi, w, dtype=np.float32) + base)
        mask = yy >= ridge[None, :]
        grass = 0.75 + 0.5 * _value_noise(rng, h, w, 4)
        img[mask] = (np.array(colour, np.float32)[None] * grass[mask][:, None])
    img = np.clip(img, 0, 1)
    canvas = (img * 255).astype(np.uint8)

    # house with a roof, a door and lit windows
    hx, hy, hw, hh = int(w * 0.12), int(h * 0.50), int(w * 0.26), int(h * 0.24)
    cv2.rectangle(canvas, (hx, hy), (hx + hw, hy + hh), (196, 160, 120), -1)
    for k in range(hy + 6, hy + hh, 8):  # brick rows
        cv2.line(canvas, (hx, k), (hx + hw, k), (170, 130, 95), 1)
    roof = np.array([[hx - 10, hy], [hx + hw // 2, hy - int(h * 0.14)], [hx + hw + 10, hy]], np.int32)
    cv2.fillPoly(canvas, [roof], (150, 40, 35))
    cv2.rectangle(canvas, (hx + hw // 2 - 10, hy + hh - 34), (hx + hw // 2 + 10, hy + hh), (90, 55, 30), -1)
    for wx in (hx + 14, hx + hw - 40):
        cv2.rectangle(canvas, (wx, hy + 16), (wx + 26, hy + 40), (255, 220, 110), -1)
        cv2.line(canvas, (wx + 13, hy + 16), (wx + 13, hy + 40), (80, 60, 40), 2)
        cv2.line(canvas, (wx, hy + 28), (wx + 26, hy + 28), (80, 60, 40), 2)
        cv2.rectangle(canvas, (wx, hy + 16), (wx + 26, hy + 40), (80, 60, 40), 2)
    # tree
    tx, ty = int(w * 0.50), int(h * 0.62)
    cv2.rectangle(canvas, (tx - 6, ty - 10), (tx + 6, ty + 40), (100, 70, 40), -1)
    for dx, dy, r in ((0, -40, 30), (-22, -22, 22), (22, -22, 22), (0, -12, 24)):
        shade = 110 + int(rng.integers(0, 40))
        cv2.circle(canvas, (tx + dx, ty + dy), r, (40, shade, 45), -1, cv2.LINE_AA)
    # colour chart: 2 x 6 patches
    chart = [(115, 82, 68), (194, 150, 130), (98, 122, 157), (87, 108, 67), (133, 128, 177), (103, 189, 170),
             (214, 126, 44), (80, 91, 166), (193, 90, 99), (94, 60, 108), (157, 188, 64), (224, 163, 46)]
    cx, cy, s = int(w * 0.60), int(h * 0.70), 20
    cv2.rectangle(canvas, (cx - 4, cy - 4), (cx + 6 * (s + 3) + 1, cy + 2 * (s + 3) + 1), (30, 30, 30), -1)
    for i, colour in enumerate(chart):
        r, c = divmod(i, 6)
        x0, y0 = cx + c * (s + 3), cy + r * (s + 3)
        cv2.rectangle(canvas, (x0, y0), (x0 + s - 1, y0 + s - 1), colour, -1)
    # checkerboard with a grey ramp underneath
    bx, by, sq = int(w * 0.06), int(h * 0.82), 8
    for r in range(5):
        for c in range(14):
            v = 235 if (r + c) % 2 == 0 else 25
            top_left, bottom_right = (bx + c * sq, by + r * sq), (bx + (c + 1) * sq - 1, by + (r + 1) * sq - 1)
            cv2.rectangle(canvas, top_left, bottom_right, (v, v, v), -1)
    ramp = np.linspace(0, 255, 14 * sq, dtype=np.float32).astype(np.uint8)
    canvas[by + 5 * sq + 2 : by + 5 * sq + 10, bx : bx + 14 * sq] = ramp[None, :, None]
    cv2.putText(canvas, "dce", (int(w * 0.84), int(h * 0.93)), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (245, 245, 245), 2,
                cv2.LINE_AA)
    # a little sensor-like grain so the scene is not perfectly flat
    grain = rng.normal(0, 2.0, canvas.shape).astype(np.float32)
    return np.clip(canvas.astype(np.float32) + grain, 0, 255).astype(np.uint8)


def darken_scene(rgb: np.ndarray, *, seed: int = SEED) -> np.ndarray:
    """The low-light version of ``rgb`` (RGB uint8), via :func:`simulate_low_light` with a fixed seed."""
    x = image_to_tensor(rgb)
    with torch.no_grad():
        y = simulate_low_light(
            x,
            seed=seed,
            exposure=(0.25, 0.3),
            gamma=(1.8, 2.0),
            shot_noise=(0.0005, 0.001),
            read_noise=(0.002, 0.003),
            color_shift=0.05,
        )
    return tensor_to_image(y, np.uint8)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", nargs="?", default=str(DEFAULT_OUT),
                        help="output PNG (default: examples/data/dark_scene.png)")
    parser.add_argument("--bright", default=None, help="also write the well-exposed scene here")
    args = parser.parse_args(argv)
    bright = render_scene()
    dark = darken_scene(bright)
    out = Path(args.out)
    write_image(out, dark)
    if args.bright:
        write_image(args.bright, bright)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KB, {dark.shape[1]}x{dark.shape[0]}, "
          f"mean {dark.mean() / 255:.3f} vs {bright.mean() / 255:.3f} before darkening)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Build the README's before/after figure from a few real low-light photos.

Each row shows one photo: the input, the enhanced image, the curve parameters α (mean over
iterations and channels, as a heat map) and the tone curves of three of its pixels (at the 10%,
50% and 90% brightness quantiles). The photos come from the DICM set in ``../shared``
(``data/lowlight/dicm``), which is read, never copied.

Usage:
    python examples/make_readme_figure.py [OUT.jpg] [--weights W] [--model zero-dce] [--images 01.jpg 22.jpg]

Defaults: ``docs/figures/before_after.jpg``, the shipped weights. The figure is kept under 400 KB
by lowering the JPEG quality if needed. Only our own weights are used: the authors' checkpoints
are non-commercial and nothing derived from them goes into the repository.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import cv2
import torch

from dce_transforms.io import image_to_tensor, read_image
from dce_transforms.models import ZeroDCE, ZeroDCEPP
from dce_transforms.viz import alpha_heatmap, curve_plot, image_grid, sample_curve_points, to_uint8

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "docs" / "figures" / "before_after.jpg"
DEFAULT_SHARED = Path(os.environ.get("DCE_SHARED", ROOT.parent / "shared"))
DEFAULT_IMAGES = ["06.jpg", "17.jpg", "26.jpg"]
MAX_BYTES = 400 * 1024


def build_figure(model: torch.nn.Module, files: list[Path], *, cell_height: int = 220) -> cv2.typing.MatLike:
    """The figure as an RGB uint8 array: one row per file."""
    rows = []
    for f in files:
        x = image_to_tensor(read_image(f))
        with torch.inference_mode():
            y, alpha = model(x, return_curves=True)
        heat = alpha_heatmap(alpha, per_iteration=False, cell_height=cell_height, vmin=-1, vmax=1)
        values, names = sample_curve_points(x, alpha)
        rows.append([to_uint8(x), to_uint8(y), heat, curve_plot(values, labels=names, size=200)])
    return image_grid(rows, labels=["input", "enhanced", "", ""], cell_height=cell_height, gap=6)


def write_jpeg(path: Path, rgb, *, max_bytes: int = MAX_BYTES) -> int:
    """Write ``rgb`` as JPEG under ``max_bytes`` (quality lowered step by step); returns the quality used."""
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    for quality in range(90, 40, -5):
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok and buf.size <= max_bytes:
            break
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    buf.tofile(str(tmp))
    os.replace(tmp, path)
    return quality


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", nargs="?", default=str(DEFAULT_OUT), help="output JPEG (default %(default)s)")
    parser.add_argument("--model", choices=["zero-dce", "zero-dce++"], default="zero-dce")
    parser.add_argument("--weights", default="default", help="our weights: shipped name or .safetensors path")
    parser.add_argument("--shared", default=str(DEFAULT_SHARED), help="the shared data folder (default %(default)s)")
    parser.add_argument("--images", nargs="+", default=DEFAULT_IMAGES,
                        help="files under SHARED/data/lowlight/dicm (or paths) (default %(default)s)")
    parser.add_argument("--cell-height", type=int, default=220)
    args = parser.parse_args(argv)

    cls = ZeroDCE if args.model == "zero-dce" else ZeroDCEPP
    if args.weights == "default" and cls.default_weights is None:
        print(f"{cls.__name__} has no shipped weights yet: pass --weights PATH (a figure from random weights "
              "would mislead).", file=sys.stderr)
        return 2
    model = cls(weights=args.weights, curve_max_side=1024).eval()
    folder = Path(args.shared) / "data" / "lowlight" / "dicm"
    files = [Path(i) if Path(i).is_file() else folder / i for i in args.images]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        print(f"missing input images: {missing}; is --shared right?", file=sys.stderr)
        return 2
    figure = build_figure(model, files, cell_height=args.cell_height)
    out = Path(args.out)
    quality = write_jpeg(out, figure)
    size_kb = out.stat().st_size / 1024
    print(f"wrote {out} ({size_kb:.0f} KB, {figure.shape[1]}x{figure.shape[0]}, JPEG quality {quality})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

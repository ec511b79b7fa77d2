"""Build the do-no-harm figure: dark, well-lit and over-exposed photos through old and new weights.

Columns: the input, then Zero-DCE ``sice-v1`` (published behaviour: every image brightened),
Zero-DCE ``sice-v1-adaptive`` (the default: exposure gate on), and the same pair for Zero-DCE++
(``sice-v2`` / ``sice-v2-adaptive``). Rows: a DICM low-light photo, a COCO8 daylight photo and an
over-exposed held-out SICE frame, all read from ``../shared`` (never copied).

Usage:
    python examples/make_do_no_harm_figure.py [OUT.jpg]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

from dce_transforms import get_model
from dce_transforms.io import image_to_tensor, read_image
from dce_transforms.viz import image_grid, to_uint8

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_readme_figure import write_jpeg

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "docs" / "figures" / "do_no_harm.jpg"
SHARED = Path(os.environ.get("DCE_SHARED", ROOT.parent / "shared"))
IMAGES = [
    ("dark", SHARED / "data" / "lowlight" / "dicm" / "06.jpg"),
    ("well-lit", SHARED / "data" / "detection" / "coco8" / "images" / "val" / "000000000036.jpg"),
    ("over-exposed", SHARED / "data" / "train" / "sice" / "1827.jpg"),
]
COLUMNS = [("zero-dce", "sice-v1"), ("zero-dce", "sice-v1-adaptive"), ("zero-dce++", "sice-v2"),
           ("zero-dce++", "sice-v2-adaptive")]


def _downscale(x: torch.Tensor, side: int = 384) -> torch.Tensor:
    scale = side / max(x.shape[-2:])
    if scale >= 1:
        return x
    size = [max(1, round(s * scale)) for s in x.shape[-2:]]
    return torch.nn.functional.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else DEFAULT_OUT
    missing = [str(p) for _, p in IMAGES if not p.is_file()]
    if missing:
        print(f"missing inputs (is ../shared there?): {', '.join(missing)}", file=sys.stderr)
        return 1
    models = [get_model(m, weights=w).eval() for m, w in COLUMNS]
    rows = []
    for _, path in IMAGES:
        x = _downscale(image_to_tensor(read_image(path))[None])
        row = [to_uint8(x)]
        with torch.inference_mode():
            row += [to_uint8(m(x)) for m in models]
        rows.append(row)
    labels = ["input"] + [f"{m} {w}" for m, w in COLUMNS]
    grid = image_grid(rows, labels=labels, cell_height=200, gap=6)
    quality = write_jpeg(out, grid)
    print(f"wrote {out} (JPEG quality {quality})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""Bounded-resolution curve estimation (``curve_max_side``) against full resolution, on real photos.

For each image and setting (full resolution, then each ``--max-side``), a fresh Python process
loads the image, builds the model, enhances once on the CPU and reports its peak resident memory
(``ru_maxrss``), the memory added by the forward pass (peak minus the high-water mark before it)
and the wall time; the parent then compares every bounded output with the full-resolution one
(PSNR, float outputs in [0, 1]) and writes a markdown table.

The "input vs full" column is the PSNR between the input and the full-resolution output: how much
the model changes the image at all. A bounded PSNR is only informative when the model does change
the image (a random-init model barely does), so re-run with the shipped weights::

    python benchmarks/bounded_resolution.py --weights default --out bounded.md
    python benchmarks/bounded_resolution.py --model zero-dce++ --max-side 256 512 --limit 2

``--weights official:PATH`` loads the authors' checkpoint (non-commercial licence) for comparison.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(os.environ.get("DCE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
DEFAULT_IMAGES = [
    SHARED / "data/lowlight/sice_real/512_1_.png",
    SHARED / "data/lowlight/sice_real/126_1_.png",
    SHARED / "data/lowlight/dicm/01.jpg",
    SHARED / "data/lowlight/dicm/22.jpg",
]


def _build(model_name: str, weights: str, max_side: int | None, seed: int):
    import torch

    from dce_transforms.registry import model_class
    from dce_transforms.transforms import build_model

    torch.manual_seed(seed)  # the same random init in every process
    if weights.startswith("official:"):
        cls = model_class("zero-dce++" if "++" in model_name or "pp" in model_name.lower() else "zero-dce")
        return cls.from_official(weights.split(":", 1)[1], curve_max_side=max_side).eval()
    return build_model(model_name, weights=None if weights == "none" else weights, curve_max_side=max_side)


def _child(args: argparse.Namespace) -> None:
    import numpy as np
    import torch

    from dce_transforms.io import image_to_tensor, read_image

    x = image_to_tensor(read_image(args.image))[None]
    model = _build(args.model, args.weights, args.max_side[0] or None, args.seed)
    with torch.no_grad():
        model(x[..., :64, :64])  # warm-up on a crop: allocator and kernels, not the big buffers
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    with torch.no_grad():
        y = model(x)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    np.save(args.save, y[0].numpy())
    np.save(args.save.replace(".npy", "_in.npy"), x[0].numpy())
    print(json.dumps({"peak_kib": peak, "before_kib": before, "seconds": seconds, "hw": list(x.shape[-2:])}))


def _psnr(a, b) -> float:
    import numpy as np

    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def _run_case(image: Path, max_side: int, args: argparse.Namespace, tmp: str) -> dict:
    save = os.path.join(tmp, f"{image.stem}_{max_side}.npy")
    cmd = [sys.executable, __file__, "--_child", "--image", str(image), "--max-side", str(max_side),
           "--model", args.model, "--weights", args.weights, "--seed", str(args.seed), "--save", save]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"case {image.name} max_side={max_side} failed:\n{res.stderr[-2000:]}")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out["save"] = save
    out["warnings"] = [ln for ln in res.stderr.splitlines() if "Warning" in ln]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="zero-dce", help="zero-dce or zero-dce++")
    p.add_argument("--weights", default="default", help="'default', a name, a path, 'none', or official:PATH")
    p.add_argument("--max-side", type=int, nargs="+", default=[512], help="bounded settings to compare")
    p.add_argument("--images", type=Path, nargs="+", default=DEFAULT_IMAGES)
    p.add_argument("--limit", type=int, default=None, help="use only the first N images")
    p.add_argument("--seed", type=int, default=0, help="torch seed for a random init")
    p.add_argument("--out", type=Path, default=None, help="write the markdown table here too")
    p.add_argument("--_child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--image", help=argparse.SUPPRESS)
    p.add_argument("--save", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._child:
        _child(args)
        return 0

    import numpy as np

    images = args.images[: args.limit] if args.limit else args.images
    rows = []
    notes: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="dce_bounded_") as tmp:
        for image in images:
            full = _run_case(image, 0, args, tmp)
            notes.update(full["warnings"])
            y_full = np.load(full["save"])
            x_in = np.load(full["save"].replace(".npy", "_in.npy"))
            h, w = full["hw"]
            rows.append((image.name, f"{w}x{h}", "full", full, math.inf, _psnr(x_in, y_full)))
            print(f"{image.name} {w}x{h} full: {full['peak_kib'] / 1024:.0f} MiB peak, {full['seconds']:.1f} s", flush=True)
            for side in args.max_side:
                case = _run_case(image, side, args, tmp)
                psnr = _psnr(np.load(case["save"]), y_full)
                rows.append((image.name, f"{w}x{h}", f"max_side={side}", case, psnr, math.nan))
                print(f"  max_side={side}: {case['peak_kib'] / 1024:.0f} MiB peak, {case['seconds']:.1f} s, "
                      f"PSNR vs full {psnr:.2f} dB", flush=True)
                os.unlink(case["save"])
            os.unlink(full["save"])

    import torch

    lines = [
        f"Model `{args.model}`, weights `{args.weights}` (seed {args.seed}), CPU: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads.",
        "",
        "| image | size | setting | peak RSS (MiB) | forward adds (MiB) | time (s) | PSNR vs full (dB) | input vs full (dB) |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, size, setting, r, psnr, change in rows:
        add = (r["peak_kib"] - r["before_kib"]) / 1024
        fmt = lambda v: "—" if math.isnan(v) else ("∞" if math.isinf(v) else f"{v:.2f}")  # noqa: E731
        lines.append(
            f"| {name} | {size} | {setting} | {r['peak_kib'] / 1024:.0f} | {add:.0f} | {r['seconds']:.2f} | "
            f"{fmt(psnr)} | {fmt(change)} |"
        )
    if notes:
        lines += ["", "Warnings from the runs: " + "; ".join(sorted(n.strip() for n in notes))]
    table = "\n".join(lines)
    print()
    print(table)
    if args.out:
        args.out.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

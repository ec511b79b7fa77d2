"""What an enhancer in front of YOLO costs: bare yolov8n against each enhancer option, one forward at 640 px.

    python benchmarks/yolo_cost.py                       # 2 threads, 9 rounds, writes benchmarks/results/yolo-cost-<date>.md
    python benchmarks/yolo_cost.py --rounds 5 --threads 1 --imgsz 480

Every option is timed once per round, rounds interleaved in one process, so that a machine whose
load changes affects them alike; the table gives each option's median and its ratio to the bare
detector's median. The input is a dark photo (``../shared/data/lowlight/dicm``, resized to the
input size) so that the shipped weights' exposure gate lets the enhancer work; without ``../shared``
a synthetic dark image is used. The detector is built from ``yolov8n.yaml`` (no download; the cost
does not depend on its weights); enhancers use their shipped weights (``weights="default"``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DCE_SHARED", ROOT.parent / "shared"))

#: name -> (enhanced_yolo options, description); None = the bare detector. "default" is enhanced_yolo's default.
OPTIONS: dict[str, tuple[dict | None, str]] = {
    "bare": (None, "yolov8n alone"),
    "default": ({}, "**the default**: Zero-DCE++, curves at <= `DEFAULT_CURVE_SIDE` px"),
    "pp-cs32": ({"enhancer": "zero-dce++", "curve_side": 32}, "Zero-DCE++, curves at <= 32 px"),
    "pp-cs64": ({"enhancer": "zero-dce++", "curve_side": 64}, "Zero-DCE++, curves at <= 64 px"),
    "pp-cs128": ({"enhancer": "zero-dce++", "curve_side": 128}, "Zero-DCE++, curves at <= 128 px"),
    "pp-cs256": ({"enhancer": "zero-dce++", "curve_side": 256}, "Zero-DCE++, curves at <= 256 px"),
    "dce-cs64": ({"enhancer": "zero-dce", "curve_side": 64}, "Zero-DCE, curves at <= 64 px"),
    "pp-scale4": ({"enhancer": "zero-dce++", "curve_side": None, "scale_factor": 4}, "Zero-DCE++, `scale_factor=4`"),
    "dce-full": ({"enhancer": "zero-dce", "curve_side": None}, "Zero-DCE, full resolution (`curve_side=None`)"),
    "pp-full": ({"enhancer": "zero-dce++", "curve_side": None}, "Zero-DCE++, full resolution, scale 1"),
}


def _cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown CPU"


def _image(imgsz: int):
    import cv2
    import numpy as np
    import torch

    files = sorted((SHARED / "data/lowlight/dicm").glob("*.jp*g"))
    if files:
        bgr = cv2.imread(str(files[0]))
        rgb = cv2.resize(bgr, (imgsz, imgsz), interpolation=cv2.INTER_AREA)[..., ::-1]
        source = f"{files[0].name} from ../shared/data/lowlight/dicm, resized to {imgsz}x{imgsz}"
    else:
        rng = np.random.default_rng(0)
        rgb = (rng.random((imgsz, imgsz, 3)) * 50).astype(np.uint8)
        source = f"synthetic dark noise {imgsz}x{imgsz} (../shared absent)"
    x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255
    return x, source


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--options", default=",".join(OPTIONS), help=f"comma-separated, from {','.join(OPTIONS)}")
    ap.add_argument("-o", "--output", type=Path, help="markdown file (default benchmarks/results/yolo-cost-<date>.md)")
    args = ap.parse_args(argv)

    import torch
    from ultralytics import YOLO

    from dce_transforms.integrations.ultralytics import DEFAULT_CURVE_SIDE, enhanced_yolo

    torch.set_num_threads(args.threads)
    names = [n.strip() for n in args.options.split(",") if n.strip()]
    unknown = [n for n in names if n not in OPTIONS]
    if unknown or "bare" not in names:
        ap.error(f"unknown options {unknown}" if unknown else "'bare' must be among --options (the reference)")
    x, source = _image(args.imgsz)
    models = {}
    for name in names:
        opts, _ = OPTIONS[name]
        yolo = YOLO("yolov8n.yaml", verbose=False) if opts is None else enhanced_yolo("yolov8n.yaml", **opts)
        models[name] = yolo.model.float().eval()
    times: dict[str, list[float]] = {n: [] for n in names}
    with torch.inference_mode():
        for r in range(args.warmup + args.rounds):
            for name, model in models.items():
                t0 = time.perf_counter()
                model(x)
                dt_s = time.perf_counter() - t0
                if r >= args.warmup:
                    times[name].append(dt_s)
            print(f"round {r + 1}/{args.warmup + args.rounds}", file=sys.stderr)
    med = {n: statistics.median(v) * 1000 for n, v in times.items()}
    bare = med["bare"]
    cmd = "python benchmarks/yolo_cost.py" + (" " + " ".join(argv) if argv else " " + " ".join(sys.argv[1:])).rstrip()
    lines = [
        f"# YOLO + enhancer forward cost, {args.imgsz}x{args.imgsz}, batch 1, CPU",
        "",
        (f"- CPU: {_cpu_name()}, {os.cpu_count()} logical cores, torch threads {args.threads}; "
         f"torch {torch.__version__}; date {dt.date.today().isoformat()}"),
        f"- Command: `{cmd.strip()}`",
        (f"- Input: {source}; {args.rounds} interleaved rounds after {args.warmup} warm-up rounds; "
         "median of each option, ratio to the bare detector's median (same rounds)."),
        "",
        "| option | what | median ms | × bare | extra over bare |",
        "|---|---|---:|---:|---:|",
    ]
    for name in names:
        ratio = med[name] / bare
        what = OPTIONS[name][1].replace("`DEFAULT_CURVE_SIDE`", str(DEFAULT_CURVE_SIDE))
        lines.append(f"| `{name}` | {what} | {med[name]:.0f} | {ratio:.2f} | {100 * (ratio - 1):+.0f} % |")
    text = "\n".join(lines) + "\n"
    out = args.output or ROOT / "benchmarks/results" / f"yolo-cost-{dt.date.today().isoformat()}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

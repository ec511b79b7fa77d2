"""Choose the exposure-gate thresholds of the shipped ``*-adaptive`` entries on a validation split.

Validation: 360 SICE *training* frames (seeded shuffle; the held-out scenes 1802-2002 are never read),
256-px thumbnails, split by mean brightness into well-exposed [0.40, 0.65], dark (< 0.25) and
over-exposed (> 0.70) groups of at most 60 frames. For each model (shipped weights without a gate;
the gate's factors computed by :class:`dce_transforms.gate.ExposureGate` itself, the darkening pass
on the negative at 1/4 resolution as the gate runs it):

1. brightening gate: over t↑ ∈ {0.12 ... 0.28}, w↑ ∈ {0.05 ... 0.3}, keep the settings whose mean
   well-exposed PSNR(output, input) ≥ 31 dB and brightness gain ≤ 1.04, and pick the one with the
   lowest exposure error |mean − 0.6| on the dark group;
2. darkening gate (with 1.'s choice): over t↓ ∈ {0.05 ... 0.2}, w↓ ∈ {0.1, 0.2, 0.3}, keep those with
   well-exposed PSNR ≥ 31 dB and gain in [0.96, 1.04], and pick the lowest exposure error on the
   over-exposed group.

    python docs/model_card/choose_gate.py

The reported figures (model card) come from the held-out frames, COCO8 and the real low-light sets.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from dce_transforms import ZeroDCE, ZeroDCEPP, apply_curves
from dce_transforms.gate import ExposureGate, GateConfig

SHARED = Path(os.environ.get("DCE_SHARED", Path(__file__).resolve().parents[3] / "shared"))
HERE = Path(__file__).resolve().parent


def load(path: Path, side: int = 256) -> torch.Tensor:
    im = Image.open(path).convert("RGB")
    im.thumbnail((side, side))
    return torch.from_numpy(np.asarray(im, dtype=np.float32) / 255).permute(2, 0, 1)


def groups() -> dict[str, torch.Tensor]:
    hold = {ln.strip() for ln in (HERE / "sice_holdout.txt").read_text().splitlines() if not ln.startswith("#")}
    files = sorted(p for p in (SHARED / "data" / "train" / "sice").iterdir() if p.name not in hold)
    random.Random(0).shuffle(files)
    xs = [load(f) for f in files[:360]]
    means = [float(x.mean()) for x in xs]
    rules = {"well": lambda m: 0.40 <= m <= 0.65, "dark": lambda m: m < 0.25, "over": lambda m: m > 0.70}
    return {k: torch.stack([x for x, m in zip(xs, means) if rule(m)][:60]) for k, rule in rules.items()}


def figures(x: torch.Tensor, a: torch.Tensor, ai: torch.Tensor, cfg: GateConfig | None) -> tuple[float, float, float]:
    """Mean PSNR(output, input), brightness gain and exposure error of the gated curves on a group."""
    if cfg is None:
        alpha = a
    else:
        up, down = ExposureGate(cfg)(x)
        alpha = up.view(-1, 1, 1, 1) * a
        if down is not None:
            alpha = alpha - down.view(-1, 1, 1, 1) * ai
    y = apply_curves(x, alpha)
    mse = ((y - x) ** 2).mean(dim=(1, 2, 3)).clamp(min=1e-10)
    psnr = (10 * torch.log10(1 / mse)).mean()
    gain = (y.mean(dim=(1, 2, 3)) / x.mean(dim=(1, 2, 3))).mean()
    err = (y.mean(dim=(1, 2, 3)) - 0.6).abs().mean()
    return float(psnr), float(gain), float(err)


def main() -> None:
    torch.set_num_threads(2)
    data = groups()
    print({k: len(v) for k, v in data.items()})
    for name, model in (("zero-dce", ZeroDCE(weights="sice-v1")), ("zero-dce++", ZeroDCEPP(weights="sice-v2"))):
        model.eval()
        curves = {}
        with torch.no_grad():
            for k, x in data.items():
                a = torch.cat([model(x[i : i + 10], return_curves=True)[1] for i in range(0, len(x), 10)])
                small = F.avg_pool2d(1 - x, 4)
                ai = torch.cat([model(small[i : i + 10], return_curves=True)[1] for i in range(0, len(x), 10)])
                curves[k] = (x, a, F.interpolate(ai, size=x.shape[-2:], mode="bilinear", align_corners=False))

        def run(cfg: GateConfig | None, curves=curves) -> dict[str, tuple[float, float, float]]:
            with torch.no_grad():
                return {k: figures(*v, cfg) for k, v in curves.items()}

        def show(o: dict[str, tuple[float, float, float]]) -> str:
            return "  ".join(f"{k}: PSNR {p:.1f} dB, gain {g:.3f}, exposure error {e:.3f}" for k, (p, g, e) in o.items())

        print(f"{name} without gate: {show(run(None))}")
        best = None
        for t in (0.12, 0.15, 0.18, 0.2, 0.22, 0.25, 0.28):
            for w in (0.05, 0.1, 0.15, 0.2, 0.3):
                o = run(GateConfig(brighten_below=t, brighten_width=w, darken=False))
                if o["well"][0] >= 31 and o["well"][1] <= 1.04 and (best is None or o["dark"][2] < best[0]["dark"][2]):
                    best = (o, t, w)
        assert best is not None
        _, t, w = best
        print(f"{name} brightening gate t={t} w={w}: {show(best[0])}")
        bestd = None
        for td in (0.05, 0.08, 0.1, 0.12, 0.15, 0.18, 0.2):
            for wd in (0.1, 0.2, 0.3):
                o = run(GateConfig(brighten_below=t, brighten_width=w, darken_below=td, darken_width=wd))
                ok = o["well"][0] >= 31 and 0.96 <= o["well"][1] <= 1.04
                if ok and (bestd is None or o["over"][2] < bestd[0]["over"][2]):
                    bestd = (o, td, wd)
        assert bestd is not None
        print(f"{name} darkening gate t={bestd[1]} w={bestd[2]}: {show(bestd[0])}")


if __name__ == "__main__":
    main()

"""Print the model card's do-no-harm summary table from the JSON files of ``run_eval.sh`` and
``run_eval_donoharm.sh`` (``docs/model_card/eval/``), so that no figure is copied by hand.

    python docs/model_card/summarize_donoharm.py
"""

from __future__ import annotations

import json
from pathlib import Path

EVAL = Path(__file__).resolve().parent / "eval"
MODELS = {"zero_dce": ("Zero-DCE", "sice-v1", "sice-v1-adaptive"), "zero_dce_pp": ("Zero-DCE++", "sice-v2", "sice-v2-adaptive")}


def summaries(name: str) -> dict[str, dict[str, float]]:
    path = EVAL / f"{name}.json"
    if not path.is_file():
        return {}
    return {m["name"]: m["summary"] for m in json.loads(path.read_text())["methods"]}


def pick(rows: dict[str, dict[str, float]], kind: str, tag: str, weights: str) -> dict[str, float] | None:
    """The row of our old/new weights or the authors' checkpoint in one table."""
    model = "zero-dce" if tag == "zero_dce" else "zero-dce++"
    if kind == "official":
        labels = [f"{model} (official)"]
    else:  # run_eval.sh labelled the then-default weights "(shipped)"
        labels = [f"{model} ({weights})"] + ([f"{model} (shipped)"] if kind == "old" else [])
    return next((rows[label] for label in labels if label in rows), None)


def fmt(v: float | None, spec: str) -> str:
    return "–" if v is None else format(v, spec)


def main() -> None:
    print("| model | weights | well-lit SICE PSNR dB / gain | COCO8 + bus PSNR dB / gain | over-exposed SICE "
          "exposure (input → output) | simulated pairs PSNR dB / SSIM | DICM exposure error | SICE real exposure error |")
    print("|---|---|---|---|---|---|---|---|")
    for tag, (label, old, new) in MODELS.items():
        well, coco, over = (summaries(f"{k}_{tag}") for k in ("well_sice", "well_coco8", "over_sice"))
        sim_old, dicm_old, real_old = (summaries(f"{k}_{tag}") for k in ("sim", "dicm", "sice_real"))
        sim_new, dicm_new, real_new = (summaries(f"{k}_adaptive_{tag}") for k in ("sim", "dicm", "sice_real"))
        over_in = over.get("input", {}).get("exposure")
        for kind, weights in (("old", old), ("new", new), ("official", "authors'")):
            w, c, o = (pick(t, kind, tag, weights) for t in (well, coco, over))
            s = pick(sim_new if kind == "new" else sim_old, kind, tag, weights)
            d = pick(dicm_new if kind == "new" else dicm_old, kind, tag, weights)
            r = pick(real_new if kind == "new" else real_old, kind, tag, weights)
            cells = [
                f"{fmt(w and w['psnr'], '.1f')} / {fmt(w and w['gain'], '.3f')}",
                f"{fmt(c and c['psnr'], '.1f')} / {fmt(c and c['gain'], '.3f')}",
                f"{fmt(over_in, '.3f')} → {fmt(o and o['exposure'], '.3f')}",
                f"{fmt(s and s['psnr'], '.2f')} / {fmt(s and s['ssim'], '.4f')}",
                fmt(d and d["exposure_error"], ".4f"),
                fmt(r and r["exposure_error"], ".4f"),
            ]
            name = f"`{weights}`" if kind != "official" else "authors'"
            print(f"| {label} | {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

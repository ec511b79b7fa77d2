"""Regenerate ``golden_shipped.npz`` after shipping new weights entries.

Keeps the stored input image and recomputes, for every registered weights entry of both classes,
the output on three versions of it: the stored dark crop, a well-lit and an over-exposed copy
(:func:`golden_inputs`), so that the golden test pins every entry and its exposure gate. Review
the change: a golden file is only as good as the weights.

    python tests/data/make_golden.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dce_transforms import ZeroDCE, ZeroDCEPP

GOLDEN = Path(__file__).with_name("golden_shipped.npz")
CLASSES = {"ZeroDCE": ZeroDCE, "ZeroDCEPP": ZeroDCEPP}


def golden_inputs(image: np.ndarray) -> dict[str, torch.Tensor]:
    """The dark crop (uint8 HWC) as a (1, 3, H, W) float batch, and a well-lit and an over-exposed copy."""
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    lit = x ** 0.35  # mean brightness about 0.5
    return {"dark": x, "lit": lit, "over": 1 - (1 - lit) ** 3}


def cases() -> list[tuple[str, str, str, dict]]:
    """(key, class name, weights name, extra constructor arguments) for every stored output."""
    out = []
    for cname, cls in CLASSES.items():
        for wname in sorted(cls.weights_registry):
            out.append((f"{cname}:{wname}", cname, wname, {}))
    out.append(("ZeroDCEPP:default:scale4", "ZeroDCEPP", "default", {"scale_factor": 4}))
    return out


def main() -> None:
    with np.load(GOLDEN) as d:
        image = d["input"]
    out: dict[str, np.ndarray] = {"input": image}
    inputs = golden_inputs(image)
    with torch.no_grad():
        for key, cname, wname, kwargs in cases():
            model = CLASSES[cname](weights=wname, **kwargs).eval()
            for variant, x in inputs.items():
                out[f"{key}:{variant}"] = model(x)[0].numpy()
    np.savez_compressed(GOLDEN, **out)
    print(f"wrote {GOLDEN} with {len(out) - 1} outputs")


if __name__ == "__main__":
    main()

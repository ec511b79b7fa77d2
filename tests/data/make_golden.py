"""Regenerate ``golden_shipped.npz`` after shipping new default weights.

Keeps the stored input image and recomputes the outputs of the default weights, so the golden
test then pins the new files. Review the change: a golden file is only as good as the weights.

    python tests/data/make_golden.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dce_transforms import ZeroDCE, ZeroDCEPP

GOLDEN = Path(__file__).with_name("golden_shipped.npz")


def main() -> None:
    with np.load(GOLDEN) as d:
        image = d["input"]
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    models = {"zero_dce": ZeroDCE(), "zero_dce_pp": ZeroDCEPP(), "zero_dce_pp_scale4": ZeroDCEPP(scale_factor=4)}
    out = {"input": image}
    with torch.no_grad():
        for key, model in models.items():
            out[key] = model.eval()(x)[0].numpy()
    np.savez_compressed(GOLDEN, **out)
    print(f"wrote {GOLDEN} with {', '.join(sorted(out))}")


if __name__ == "__main__":
    main()

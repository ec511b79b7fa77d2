"""Zero-DCE in a kornia GPU-style batch pipeline, differentiable end to end.

Usage:
    python examples/kornia_pipeline.py [COCO8_DIR] [OUT_DIR]

Defaults: ../shared/data/detection/coco8 and a new temporary folder. Loads the COCO8 training
images as one batch, runs ``AugmentationSequential(low light, flip, enhance)`` on images, boxes and
masks, then takes one optimisation step of the enhancer with the zero-reference loss to show that
gradients reach its parameters through the augmentation pipeline.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import kornia.augmentation as K
import torch
import torch.nn.functional as F
from torchvision.io import read_image
from torchvision.utils import save_image

from dce_transforms import ZeroReferenceLoss, get_model
from dce_transforms.integrations.kornia import KorniaEnhance, KorniaRandomLowLight

SHARED = Path(__file__).resolve().parents[2] / "shared"
SIZE = 256


def load_batch(coco8: Path) -> tuple[torch.Tensor, torch.Tensor]:
    images, boxes = [], []
    for path in sorted((coco8 / "images/train").glob("*.jpg")):
        img = read_image(str(path)).float()[None] / 255
        images.append(F.interpolate(img, size=(SIZE, SIZE), mode="bilinear", antialias=True, align_corners=False))
        first = (coco8 / "labels/train" / f"{path.stem}.txt").read_text().split("\n")[0].split()
        cx, cy, w, h = (float(v) * SIZE for v in first[1:5])
        boxes.append(torch.tensor([[[cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]]]))
    return torch.cat(images).clamp(0, 1), torch.cat(boxes)


def main(argv: list[str]) -> None:
    coco8 = Path(argv[0]) if len(argv) > 0 else SHARED / "data/detection/coco8"
    out = Path(argv[1]) if len(argv) > 1 else Path(tempfile.mkdtemp(prefix="dce_kornia_"))
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = get_model("zero-dce")  # the shipped default weights
    enhance = KorniaEnhance(model)
    pipe = K.AugmentationSequential(
        KorniaRandomLowLight(seed=0),
        K.RandomHorizontalFlip(p=0.5),
        enhance,
        data_keys=["input", "bbox_xyxy", "mask"],
    )
    x, boxes = load_batch(coco8)
    masks = (torch.rand(x.shape[0], 1, SIZE, SIZE) > 0.5).float()
    y, y_boxes, _y_masks = pipe(x, boxes, masks)
    print(f"batch {tuple(x.shape)}: mean {x.mean():.3f} -> {y.mean():.3f}; first box "
          f"{[round(v, 1) for v in boxes[0, 0].tolist()]} -> {[round(v, 1) for v in y_boxes[0, 0].tolist()]}")
    save_image(y, out / "kornia_batch.png", nrow=x.shape[0])

    # One training step of the enhancer through the augmentation pipeline.
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    dark = pipe[0](x)  # the low-light images alone
    enhanced, alpha = model(dark, return_curves=True)
    loss, parts = ZeroReferenceLoss()(enhanced, dark, alpha)
    loss.backward()
    grad = sum(float(p.grad.abs().sum()) for p in model.parameters())
    opt.step()
    print(f"zero-reference loss {loss.item():.4f} ({', '.join(f'{k} {v.item():.4f}' for k, v in parts.items())}); "
          f"sum |grad| over enhancer parameters {grad:.3g}")
    model.zero_grad()
    y2, _, _ = pipe(x, boxes, masks)
    y2.mean().backward()  # also through the whole AugmentationSequential
    print(f"gradient through AugmentationSequential reaches conv1: {model.conv1.weight.grad.abs().sum() > 0}")
    print(f"outputs written to {out}")


if __name__ == "__main__":
    main(sys.argv[1:])

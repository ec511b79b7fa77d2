"""Zero-DCE in torchvision pipelines: a classification-style v1 Compose and a v2 detection pipeline.

Usage:
    python examples/torchvision_pipeline.py [LOWLIGHT_DIR] [COCO8_DIR] [OUT_DIR]

Defaults: ../shared/data/lowlight/dicm, ../shared/data/detection/coco8, and a new temporary folder.
1. Enhances a few real low-light photos with ``Compose([Enhance(), ToTensor()])`` (PIL in, tensor out).
2. Runs a v2 detection pipeline on COCO8 (simulated low light, enhancement, flip) and shows that
   the boxes follow the geometric transform only.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch
from PIL import Image
from torchvision import transforms as T
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.utils import save_image

from dce_transforms.integrations.torchvision import TorchvisionEnhance, TorchvisionRandomLowLight
from dce_transforms.transforms import Enhance

SHARED = Path(__file__).resolve().parents[2] / "shared"


def yolo_boxes(label_file: Path, w: int, h: int) -> tuple[torch.Tensor, torch.Tensor]:
    rows = [list(map(float, ln.split())) for ln in label_file.read_text().splitlines() if ln.strip()]
    t = torch.tensor(rows).reshape(-1, 5)
    cx, cy, bw, bh = t[:, 1] * w, t[:, 2] * h, t[:, 3] * w, t[:, 4] * h
    return torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1), t[:, 0].long()


def main(argv: list[str]) -> None:
    lowlight = Path(argv[0]) if len(argv) > 0 else SHARED / "data/lowlight/dicm"
    coco8 = Path(argv[1]) if len(argv) > 1 else SHARED / "data/detection/coco8"
    out = Path(argv[2]) if len(argv) > 2 else Path(tempfile.mkdtemp(prefix="dce_torchvision_"))
    out.mkdir(parents=True, exist_ok=True)
    weights = "default"  # the shipped weights

    # 1. v1 Compose on PIL images.
    pipe = T.Compose([Enhance(weights=weights), T.ToTensor()])
    for path in sorted(lowlight.glob("*.jpg"))[:3]:
        img = Image.open(path).convert("RGB")
        x = pipe(img)
        save_image(x, out / f"enhanced_{path.stem}.png")
        print(f"{path.name}: mean {T.ToTensor()(img).mean():.3f} -> {x.mean():.3f}")

    # 2. v2 detection pipeline: images change, boxes follow the flip only, labels pass through.
    det = v2.Compose([
        TorchvisionRandomLowLight(seed=0),
        TorchvisionEnhance(weights=weights),
        v2.RandomHorizontalFlip(p=1.0),
        v2.ToDtype(torch.float32, scale=True),
    ])
    for path in sorted((coco8 / "images/train").glob("*.jpg"))[:2]:
        img = tv_tensors.Image(T.functional.pil_to_tensor(Image.open(path).convert("RGB")))
        h, w = img.shape[-2:]
        xyxy, labels = yolo_boxes(coco8 / "labels/train" / f"{path.stem}.txt", w, h)
        boxes = tv_tensors.BoundingBoxes(xyxy, format="XYXY", canvas_size=(h, w))
        sample = det({"image": img, "boxes": boxes, "labels": labels})
        save_image(sample["image"], out / f"detection_{path.stem}.png")
        print(f"{path.name}: {len(labels)} boxes; first box {[round(v, 1) for v in boxes[0].tolist()]} -> "
              f"{[round(v, 1) for v in sample['boxes'][0].tolist()]} "
              f"(flipped), labels unchanged: {torch.equal(sample['labels'], labels)}")
    print(f"outputs written to {out}")


if __name__ == "__main__":
    main(sys.argv[1:])

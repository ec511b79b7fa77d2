"""Zero-DCE in an albumentations detection pipeline (OpenCV BGR images, YOLO boxes, DataLoader workers).

Usage:
    python examples/albumentations_pipeline.py [COCO8_DIR] [OUT_DIR]

Defaults: ../shared/data/detection/coco8 and a new temporary folder. Builds
``A.Compose([low light, enhance, flip], bbox_params=yolo)`` on BGR images read with OpenCV
(``bgr=True``, as Ultralytics passes them), saves it to JSON and loads it back, then runs it in a
``DataLoader`` with two workers (each builds its own CPU model lazily).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import albumentations as A
import cv2
import numpy as np
import torch

from dce_transforms.integrations.albumentations import AlbumentationsEnhance, AlbumentationsRandomLowLight

SHARED = Path(__file__).resolve().parents[2] / "shared"


class Coco8(torch.utils.data.Dataset):
    def __init__(self, root: Path, pipe: A.Compose) -> None:
        self.images = sorted((root / "images/train").glob("*.jpg"))
        self.labels = root / "labels/train"
        self.pipe = pipe

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        img = cv2.imread(str(self.images[i]))  # BGR uint8
        rows = np.loadtxt(self.labels / f"{self.images[i].stem}.txt", ndmin=2)
        out = self.pipe(image=img, bboxes=rows[:, 1:5], class_labels=rows[:, 0].astype(int).tolist())
        return {"name": self.images[i].name, "image": out["image"], "bboxes": np.asarray(out["bboxes"]),
                "original_bboxes": rows[:, 1:5]}


def keep_numpy(sample: dict) -> dict:
    """DataLoader collate function that leaves the sample's NumPy arrays alone."""
    return sample


def main(argv: list[str]) -> None:
    coco8 = Path(argv[0]) if len(argv) > 0 else SHARED / "data/detection/coco8"
    out = Path(argv[1]) if len(argv) > 1 else Path(tempfile.mkdtemp(prefix="dce_albumentations_"))
    out.mkdir(parents=True, exist_ok=True)
    pipe = A.Compose(
        [
            AlbumentationsRandomLowLight(exposure=(0.1, 0.3), bgr=True, p=1.0),
            AlbumentationsEnhance(weights="default", strength=(0.7, 1.0), bgr=True),
            A.HorizontalFlip(p=0.5),
        ],
        bbox_params=A.BboxParams(format="yolo", label_fields=["class_labels"]),
        seed=0,
    )
    (out / "pipeline.json").write_text(json.dumps(A.to_dict(pipe), indent=1))
    pipe = A.from_dict(json.loads((out / "pipeline.json").read_text()))  # arguments only, no tensors
    print(f"pipeline saved to {out / 'pipeline.json'} and loaded back")

    loader = torch.utils.data.DataLoader(Coco8(coco8, pipe), batch_size=None, num_workers=2, collate_fn=keep_numpy)
    for item in loader:
        cv2.imwrite(str(out / item["name"].replace(".jpg", ".png")), item["image"])
        moved = not np.allclose(item["bboxes"], item["original_bboxes"], atol=1e-4)
        print(f"{item['name']}: image {tuple(item['image'].shape)} {item['image'].dtype}, mean "
              f"{item['image'].mean():.1f}; {len(item['bboxes'])} boxes ({'flipped' if moved else 'unchanged'})")
    print(f"outputs written to {out}")


if __name__ == "__main__":
    main(sys.argv[1:])

"""End to end: darken a YOLO dataset, fine-tune enhancer + detector jointly, reload, validate, export.

    python examples/yolo_finetune_joint.py                              # coco8 from ../shared, CPU, minutes
    python examples/yolo_finetune_joint.py --data my/data.yaml --model yolo11n.pt --epochs 30 --device 0

Steps:

1. ``dce-darken`` writes a low-light copy of the dataset (images darkened with
   ``dce_transforms.simulate``, labels copied, a new ``data.yaml``).
2. :func:`~dce_transforms.integrations.ultralytics.train_joint` fine-tunes a Zero-DCE++ enhancer
   and the YOLO detector together: detection loss + λ · zero-reference loss on the enhancer's
   output (letterbox/mosaic padding masked out), the enhancer in its own optimizer group.
3. ``YOLO(best.pt)`` reloads detector and enhancer; ``ZeroDCEPP(weights=best_enhancer.safetensors)``
   loads the enhancer alone; the model is validated on the dark val split and exported to ONNX.

The default (coco8, 4 + 4 images, ``yolov8n.yaml`` from scratch, 64 px) only shows the mechanics;
nothing is downloaded. With ``--model yolo11n.pt`` (downloaded once when online) and a real dataset
it is a genuine fine-tuning run. Outputs go to ``--project`` (default ``runs/dce_joint``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")

COCO8 = Path(__file__).resolve().parents[2] / "shared" / "data" / "detection" / "coco8"


def _coco8_yaml(workdir: Path) -> Path:
    """Copy coco8 (Ultralytics writes label caches beside the labels) and write its data YAML."""
    root = workdir / "coco8"
    for sub in ("images", "labels"):
        shutil.copytree(COCO8 / sub, root / sub, dirs_exist_ok=True)
    names = "".join(f"  {i}: class{i}\n" for i in range(80))
    (root / "data.yaml").write_text(f"path: {root}\ntrain: images/train\nval: images/val\nnames:\n{names}")
    return root / "data.yaml"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, help="normal-light YOLO data YAML (default: coco8 from ../shared)")
    ap.add_argument("--model", default="yolov8n.yaml", help="YOLO detection .pt or .yaml")
    ap.add_argument("--enhancer", default="zero-dce++", choices=["zero-dce", "zero-dce++"])
    ap.add_argument("--curve-side", type=int, default=128,
                    help="estimate the curves at most this many pixels on the longer side (0: full resolution)")
    ap.add_argument("--enhancer-weights", default="default", help="'default' (shipped), 'none' or a path")
    ap.add_argument("--identity-init", action="store_true", help="start the enhancer at the identity")
    ap.add_argument("--dce-lambda", type=float, default=0.1)
    ap.add_argument("--enhancer-lr", type=float, default=None)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--imgsz", type=int, default=64)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--project", type=Path, default=Path("runs/dce_joint"))
    args = ap.parse_args(argv)
    if args.enhancer_weights.lower() == "none":
        args.enhancer_weights = None

    from ultralytics import YOLO

    from dce_transforms import ZeroDCE, ZeroDCEPP
    from dce_transforms.cli import dce_darken as darken
    from dce_transforms.integrations.ultralytics import enhanced_yolo, train_joint

    work = Path(tempfile.mkdtemp(prefix="dce_joint_"))
    data = args.data or _coco8_yaml(work)
    dark_dir = work / "dark"
    status = darken.main([str(data), "-o", str(dark_dir), "--seed", str(args.seed), "--quiet"])
    if status != 0:
        print(f"dce-darken failed (status {status})", file=sys.stderr)
        return status
    dark = dark_dir / "data.yaml"
    print(f"low-light copy: {dark}")

    model = enhanced_yolo(args.model, enhancer=args.enhancer, weights=args.enhancer_weights,
                          identity_init=args.identity_init, curve_side=args.curve_side or None)
    cuda = args.device not in ("cpu", "mps")
    model = train_joint(
        model, data=dark, dce_lambda=args.dce_lambda, enhancer_lr=args.enhancer_lr,
        epochs=args.epochs, imgsz=args.imgsz, batch=args.batch, device=args.device, seed=args.seed,
        amp=cuda,  # the AMP check needs a download and CUDA; on the CPU AMP does nothing anyway
        plots=cuda, workers=0 if not cuda else 8, project=str(args.project.resolve()), name="joint", exist_ok=True,
    )
    wdir = model.trainer.wdir
    print(f"checkpoint: {model.trainer.best}; results: {model.trainer.csv}")

    reloaded = YOLO(model.trainer.best)  # detector + enhancer, as pickled by Ultralytics
    print(f"reloaded: {type(reloaded.model).__name__} with {type(reloaded.model.enhancer).__name__}")
    cls = ZeroDCEPP if args.enhancer == "zero-dce++" else ZeroDCE
    standalone = cls(weights=wdir / "best_enhancer.safetensors")
    print(f"standalone enhancer: {standalone.weights_name}")

    metrics = reloaded.val(data=str(dark), imgsz=args.imgsz, batch=args.batch, device=args.device, plots=False,
                           verbose=False, project=str(args.project.resolve()), name="val", exist_ok=True)
    print(f"dark val: mAP50-95 {metrics.box.map:.4f}, mAP50 {metrics.box.map50:.4f}")
    onnx_path = reloaded.export(format="onnx", imgsz=args.imgsz, simplify=False, dynamic=False)
    print(f"ONNX (enhancer inside the graph): {onnx_path}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

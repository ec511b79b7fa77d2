"""Detect objects in a folder of low-light images with a Zero-DCE enhancer in front of YOLO.

    python examples/yolo_predict_enhanced.py photos/ --model yolo11n.pt -o detections/
    python examples/yolo_predict_enhanced.py ../shared/data/lowlight/dicm --model runs/detect/joint/weights/best.pt

``--model`` is a YOLO detection checkpoint or YAML (Ultralytics downloads official ``*.pt`` names
on first use when online; pass a local file offline). A checkpoint trained with
``train_joint`` already holds its enhancer and is used as is; any other detector gets the enhancer
chosen with ``--enhancer`` / ``--enhancer-weights``. For each image the script writes the
annotated detections and, with ``--save-enhanced``, the enhanced image that the detector saw
(letterboxed and resized to ``--imgsz``). ``--compare`` also runs the detector without the
enhancer and prints both detection counts.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", type=Path, help="an image or a folder of images")
    ap.add_argument("--model", required=True, help="YOLO detection .pt or .yaml")
    ap.add_argument("-o", "--output", type=Path, default=Path("detections"))
    ap.add_argument("--enhancer", default="zero-dce++", choices=["zero-dce", "zero-dce++"])
    ap.add_argument("--enhancer-weights", default="default", help="'default' (shipped), 'none' (random) or a .safetensors path")
    ap.add_argument("--scale-factor", type=float, default=1.0, help="Zero-DCE++ estimation down-scaling")
    ap.add_argument("--curve-side", type=int, default=128,
                    help="estimate the curves at most this many pixels on the longer side (0: full resolution)")
    ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--conf", type=float, default=0.25)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--save-enhanced", action="store_true", help="also write the enhanced network input")
    ap.add_argument("--compare", action="store_true", help="also run the plain detector and print both counts")
    args = ap.parse_args(argv)
    if args.enhancer_weights.lower() == "none":
        args.enhancer_weights = None

    import cv2
    import torch
    from ultralytics import YOLO

    from dce_transforms.integrations.ultralytics import EnhancedDetectionModel, enhanced_yolo
    from dce_transforms.io import list_images

    plain = YOLO(args.model)
    if isinstance(plain.model, EnhancedDetectionModel):
        model, plain = plain, None
        if args.compare:
            print("note: --compare needs a plain detector; this checkpoint holds its own enhancer", file=sys.stderr)
    else:
        kwargs = {"scale_factor": args.scale_factor} if args.enhancer == "zero-dce++" else {}
        model = enhanced_yolo(YOLO(args.model), enhancer=args.enhancer, weights=args.enhancer_weights,
                              curve_side=args.curve_side or None, **kwargs)

    seen: list[torch.Tensor] = []
    if args.save_enhanced:  # keep what the detector saw: the enhancer's output
        model.model.enhancer.register_forward_hook(lambda m, inp, out: seen.append(out.detach().float().cpu()))

    args.output.mkdir(parents=True, exist_ok=True)
    files = list_images([args.source])
    common = {"imgsz": args.imgsz, "conf": args.conf, "device": args.device, "verbose": False}
    for path in files:
        seen.clear()
        result = model.predict(str(path), **common)[0]
        cv2.imwrite(str(args.output / f"{path.stem}_det.jpg"), result.plot())
        line = f"{path.name}: {len(result.boxes)} detections with the enhancer"
        if args.save_enhanced and seen:
            img = (seen[-1][0].clamp(0, 1).permute(1, 2, 0).numpy()[..., ::-1] * 255).round().astype("uint8")
            cv2.imwrite(str(args.output / f"{path.stem}_enhanced_input.jpg"), img)
        if args.compare and plain is not None:
            line += f", {len(plain.predict(str(path), **common)[0].boxes)} without"
        print(line)
    print(f"wrote {len(files)} annotated images to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

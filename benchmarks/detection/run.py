"""Low-light detection benchmark: does a Zero-DCE enhancer in front of YOLO help on dark images?

One command runs the whole protocol and writes a markdown table, a JSON file and a PNG plot to
``benchmarks/detection/results/``::

    python benchmarks/detection/run.py --preset cpu-small      # <= 25 min on 2 CPU cores
    python benchmarks/detection/run.py --preset gpu-full       # several thousand images, 640 px, CUDA
    python benchmarks/detection/run.py --preset smoke          # a few minutes: checks the pipeline only

Protocol (every step seeded, see ``--seed``):

1. Data. A synthetic detection set (``synth.py``: procedural objects of distinct shape, colour
   and texture composited on random crops of real photos, exact boxes), or your own normal-light
   YOLO dataset with ``--data data.yaml``.
2. Detector. ``yolov8n.yaml`` trained from scratch on the normal-light train split, or your
   detector with ``--weights best.pt`` (pre-training skipped).
3. Low light. Train and val splits darkened with ``dce-darken`` (``dce_transforms.simulate``,
   per-image seeds), or your real low-light dataset with ``--dark-data``.
4. Rows, all evaluated on the dark val split (mAP50-95 and mAP50, Ultralytics' validator):

   (a) the detector alone;
   (b) the enhancer, frozen, in front of the detector (a cascade, no fine-tuning);
   (c) the detector fine-tuned alone on the dark train split;
   (d) enhancer and detector fine-tuned jointly (detection loss + λ·zero-reference loss);
   (e) upper bound: the detector on the normal-light val split;
   (f) frozen enhancer, detector fine-tuned behind it (``--rows``; not in the smoke preset).

   (c), (d) and (f) get the same budget: epochs, image size, batch, optimizer, schedule, seed.
   They are evaluated from ``last.pt`` (no checkpoint picked on the evaluation split).

The enhancer is the shipped one (``weights="default"``) unless ``--enhancer-weights`` is given;
while no weights are shipped, it is randomly initialised (with a warning) and the table says so.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("YOLO_OFFLINE", "1")

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

PRESETS: dict[str, dict[str, Any]] = {
    "smoke": dict(n_train=48, n_val=24, size=128, imgsz=128, classes=3, pretrain_epochs=2, ft_epochs=1, batch=16,
                  enhancer="zero-dce++", scale_factor=2.0, device="cpu", workers=0, threads=1, rows="abcde"),
    "cpu-small": dict(n_train=400, n_val=120, size=160, imgsz=160, classes=4, pretrain_epochs=30, ft_epochs=6,
                      batch=16, enhancer="zero-dce++", scale_factor=2.0, device="cpu", workers=0, threads=1,
                      rows="abcdef"),
    "gpu-full": dict(n_train=5000, n_val=1000, size=640, imgsz=640, classes=6, pretrain_epochs=60, ft_epochs=15,
                     batch=32, enhancer="zero-dce", scale_factor=1.0, device="0", workers=8, threads=None,
                     rows="abcdef"),
}

ROWS = {
    "a": "detector alone",
    "b": "enhancer (frozen) + detector (cascade)",
    "c": "detector fine-tuned on dark data",
    "d": "enhancer + detector fine-tuned jointly",
    "e": "upper bound: detector on normal light",
    "f": "frozen enhancer + detector fine-tuned",
}


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", choices=sorted(PRESETS), default="cpu-small")
    p.add_argument("--data", type=Path, help="your normal-light YOLO data YAML (skips generation)")
    p.add_argument("--dark-data", type=Path, help="your low-light YOLO data YAML (skips darkening)")
    p.add_argument("--weights", type=Path, help="your trained detector .pt (skips pre-training)")
    p.add_argument("--enhancer", choices=["zero-dce", "zero-dce++"], help="enhancer (preset default)")
    p.add_argument("--enhancer-weights", type=Path, help="enhancer weights (default: the shipped ones)")
    p.add_argument("--scale-factor", type=float, help="Zero-DCE++ curve-estimation down-scaling (preset default)")
    p.add_argument("--dce-lambda", type=float, default=0.1, help="weight of the zero-reference loss in (d)")
    p.add_argument("--enhancer-lr", type=float, default=None, help="enhancer learning rate in (d) (default: lr0)")
    p.add_argument("--identity-init", action="store_true", help="start the enhancer of (d) at the identity")
    p.add_argument("--rows", help="rows to run, e.g. abcdef (preset default)")
    p.add_argument("--threads", type=int, help="torch CPU threads (cpu presets: 1, fastest on a busy machine)")
    p.add_argument("--pretrain-epochs", type=int)
    p.add_argument("--ft-epochs", type=int, help="fine-tuning epochs of (c), (d), (f)")
    p.add_argument("--n-train", type=int)
    p.add_argument("--n-val", type=int)
    p.add_argument("--imgsz", type=int)
    p.add_argument("--batch", type=int)
    p.add_argument("--device")
    p.add_argument("--workers", type=int)
    p.add_argument("--amp", action="store_true", help="mixed precision (CUDA only)")
    p.add_argument("--seed", type=int, default=0, help="seed of data generation, darkening and training")
    p.add_argument("--backgrounds", type=Path, default=REPO.parent / "shared/data/train/sice")
    p.add_argument("--workdir", type=Path, help="datasets and runs (default: $TMPDIR/dce-detection-bench/<tag>)")
    p.add_argument("--out", type=Path, default=HERE / "results", help="where the table, JSON and plot go")
    p.add_argument("--tag", help="result file name (default: the preset, or 'custom' with --data/--dark-data)")
    p.add_argument("--plot-only", action="store_true", help="redraw results/<tag>.png from results/<tag>.json")
    return p


def _metrics(model, data: Path, cfg: dict, name: str, workdir: Path) -> dict[str, float]:
    m = model.val(data=str(data), imgsz=cfg["imgsz"], batch=cfg["batch"], device=cfg["device"], workers=cfg["workers"],
                  plots=False, verbose=False, split="val", project=str(workdir / "val"), name=name, exist_ok=True)
    return {"map50_95": float(m.box.map), "map50": float(m.box.map50)}


def _train_common(cfg: dict, workdir: Path, name: str, epochs: int) -> dict[str, Any]:
    return dict(epochs=epochs, imgsz=cfg["imgsz"], batch=cfg["batch"], device=cfg["device"], workers=cfg["workers"],
                seed=cfg["seed"], deterministic=True, amp=cfg["amp"], plots=False, verbose=False, val=False,
                project=str(workdir / "runs"), name=name, exist_ok=True)


def _finetune_kwargs(cfg: dict, workdir: Path, name: str) -> dict[str, Any]:
    e = cfg["ft_epochs"]
    return {**_train_common(cfg, workdir, name, e), "warmup_epochs": min(1.0, max(e - 1, 0)),
            "close_mosaic": max(1, e // 3)}


def _enhancer_weights(args: argparse.Namespace):
    return str(args.enhancer_weights) if args.enhancer_weights else "default"


def _build_enhanced(pt: Path, args: argparse.Namespace, cfg: dict, *, identity_init: bool = False):
    from dce_transforms.integrations.ultralytics import enhanced_yolo
    from ultralytics import YOLO

    kwargs = {"scale_factor": cfg["scale_factor"]} if cfg["enhancer"] == "zero-dce++" else {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = enhanced_yolo(YOLO(str(pt)), enhancer=cfg["enhancer"], weights=_enhancer_weights(args),
                              identity_init=identity_init, **kwargs)
    random_init = any("randomly initialised" in str(w.message) for w in caught)
    return model, random_init, getattr(model.model.enhancer, "weights_name", None)


def _plot(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"({r['row']}) {r['setting']}" for r in rows]
    y = range(len(rows))
    fig, ax = plt.subplots(figsize=(8.5, 0.55 * len(rows) + 1.6))
    h = 0.38
    ax.barh([i - h / 2 for i in y], [r["map50_95"] for r in rows], height=h, label="mAP50-95", color="#3b6ea8")
    ax.barh([i + h / 2 for i in y], [r["map50"] for r in rows], height=h, label="mAP50", color="#e39b3b")
    for i, r in enumerate(rows):
        ax.text(r["map50_95"] + 0.005, i - h / 2, f"{r['map50_95']:.3f}", va="center", fontsize=8)
        ax.text(r["map50"] + 0.005, i + h / 2, f"{r['map50']:.3f}", va="center", fontsize=8)
    ax.set_yticks(list(y), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, min(1.0, max(r["map50"] for r in rows) * 1.2 + 0.05))
    ax.set_xlabel("dark val split (row e: normal-light val)")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.3 / len(rows)), ncol=2, fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    cfg = dict(PRESETS[args.preset])
    for key in ("n_train", "n_val", "imgsz", "batch", "device", "workers", "pretrain_epochs", "ft_epochs", "enhancer",
                "scale_factor", "rows", "threads"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    cfg["seed"], cfg["amp"] = args.seed, bool(args.amp)
    rows_wanted = [r for r in cfg["rows"] if r in ROWS]
    custom = args.data is not None or args.dark_data is not None
    tag = args.tag or ("custom" if custom else args.preset)
    if args.plot_only:
        saved = json.loads((args.out / f"{tag}.json").read_text())
        meta = saved["meta"]
        _plot(saved["rows"], args.out / f"{tag}.png", f"{tag}: {meta['enhancer']}, {meta['hardware']}")
        return 0
    workdir = (args.workdir or Path(os.environ.get("TMPDIR", "/tmp")) / "dce-detection-bench" / tag).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    if "e" in rows_wanted and args.data is None and args.dark_data is not None:
        rows_wanted.remove("e")  # no normal-light data to bound with

    import torch

    if cfg["threads"]:
        torch.set_num_threads(cfg["threads"])
    from dce_transforms import darken
    from dce_transforms.integrations.ultralytics import train_joint
    from ultralytics import YOLO

    t_start = time.time()
    timings: dict[str, float] = {}

    def stage(name: str, t0: float) -> None:
        timings[name] = round(time.time() - t0, 1)
        _log(f"{name}: {timings[name]:.0f} s")

    # 1. normal-light data
    t0 = time.time()
    if args.data is not None:
        normal_yaml = args.data.resolve()
    elif args.dark_data is None:
        import synth

        normal_yaml = workdir / "normal" / "data.yaml"
        if not normal_yaml.is_file():
            _log(f"generating {cfg['n_train']} + {cfg['n_val']} synthetic images at {cfg['size']} px")
            synth.generate(workdir / "normal", args.backgrounds, n_train=cfg["n_train"], n_val=cfg["n_val"],
                           size=cfg["size"], n_classes=cfg["classes"], seed=args.seed)
    else:
        normal_yaml = None
    stage("data", t0)

    # 2. low-light copy
    t0 = time.time()
    if args.dark_data is not None:
        dark_yaml = args.dark_data.resolve()
    else:
        dark_yaml = workdir / "dark" / "data.yaml"
        if not dark_yaml.is_file():
            rc = darken.main([str(normal_yaml), "-o", str(workdir / "dark"), "--seed", str(args.seed), "--quiet",
                              "--exist-ok"])
            if rc != 0:
                _log(f"dce-darken failed with status {rc}")
                return 1
    stage("darken", t0)

    # 3. detector
    t0 = time.time()
    if args.weights is not None:
        detector = args.weights.resolve()
    else:
        detector = workdir / "runs" / "pretrain" / "weights" / "last.pt"
        if not detector.is_file():
            _log(f"pre-training yolov8n.yaml from scratch for {cfg['pretrain_epochs']} epochs on normal light")
            torch.manual_seed(args.seed)
            YOLO("yolov8n.yaml").train(data=str(normal_yaml), **_train_common(cfg, workdir, "pretrain",
                                                                              cfg["pretrain_epochs"]))
    stage("pretrain", t0)

    results: list[dict[str, Any]] = []
    notes: list[str] = []

    def add(row: str, metrics: dict[str, float], t: float, **extra: Any) -> None:
        results.append({"row": row, "setting": ROWS[row], **metrics, "seconds": round(time.time() - t, 1), **extra})
        _log(f"({row}) {ROWS[row]}: mAP50-95 {metrics['map50_95']:.4f}  mAP50 {metrics['map50']:.4f}")

    random_enhancer = False
    weights_names: set = set()
    for row in rows_wanted:
        t = time.time()
        torch.manual_seed(args.seed)
        if row == "a":
            add("a", _metrics(YOLO(str(detector)), dark_yaml, cfg, "a", workdir), t)
        elif row == "e":
            add("e", _metrics(YOLO(str(detector)), normal_yaml, cfg, "e", workdir), t)
        elif row == "b":
            model, rnd, wname = _build_enhanced(detector, args, cfg)
            random_enhancer |= rnd
            weights_names.add(wname)
            add("b", _metrics(model, dark_yaml, cfg, "b", workdir), t)
        elif row == "c":
            model = YOLO(str(detector))
            model.train(data=str(dark_yaml), **_finetune_kwargs(cfg, workdir, "c"))
            last = workdir / "runs" / "c" / "weights" / "last.pt"
            add("c", _metrics(YOLO(str(last)), dark_yaml, cfg, "c", workdir), t, epochs=cfg["ft_epochs"])
        elif row in ("d", "f"):
            model, rnd, wname = _build_enhanced(detector, args, cfg, identity_init=args.identity_init and row == "d")
            random_enhancer |= rnd
            weights_names.add(wname)
            joint = dict(dce_lambda=args.dce_lambda, enhancer_lr=args.enhancer_lr) if row == "d" else dict(
                dce_lambda=0.0, freeze_enhancer=True)
            train_joint(model, data=dark_yaml, **joint, **_finetune_kwargs(cfg, workdir, row))
            last = workdir / "runs" / row / "weights" / "last.pt"
            add(row, _metrics(YOLO(str(last)), dark_yaml, cfg, row, workdir), t, epochs=cfg["ft_epochs"])
    timings["total"] = round(time.time() - t_start, 1)

    if random_enhancer:
        notes.append("The enhancer had NO trained weights (none shipped yet, no --enhancer-weights): rows (b), (d) "
                     "and (f) used a randomly initialised enhancer. Re-run when weights are shipped.")
    enhancer_desc = cfg["enhancer"] + (f" (scale_factor {cfg['scale_factor']:g})" if cfg["enhancer"] == "zero-dce++" else "")
    shown = ", ".join(sorted(str(n) for n in weights_names if n)) or _enhancer_weights(args)
    enhancer_desc += f", weights {'RANDOM INIT' if random_enhancer else shown}"
    device = cfg["device"]
    hw = torch.cuda.get_device_name(0) if device not in ("cpu",) and torch.cuda.is_available() else (
        f"CPU ({platform.processor() or platform.machine()}), {os.cpu_count()} cores, torch threads {torch.get_num_threads()}")
    meta = {
        "preset": args.preset, "tag": tag, "config": cfg, "seed": args.seed, "dce_lambda": args.dce_lambda,
        "enhancer_lr": args.enhancer_lr, "enhancer": enhancer_desc, "detector": str(detector),
        "data": str(normal_yaml), "dark_data": str(dark_yaml), "hardware": hw,
        "command": "python " + " ".join([str(Path(sys.argv[0]).resolve().relative_to(REPO))
                                         if Path(sys.argv[0]).resolve().is_relative_to(REPO) else sys.argv[0],
                                         *(argv if argv is not None else sys.argv[1:])]),
        "timings_s": timings, "torch": torch.__version__, "notes": notes,
    }
    import ultralytics

    meta["ultralytics"] = ultralytics.__version__
    (args.out / f"{tag}.json").write_text(json.dumps({"meta": meta, "rows": results}, indent=2))

    base = next((r for r in results if r["row"] == "a"), None)
    lines = [
        f"# Low-light detection benchmark: `{tag}`",
        "",
        f"Command: `{meta['command']}`  ",
        f"Hardware: {hw}; total {timings['total'] / 60:.1f} min; torch {torch.__version__}, "
        f"ultralytics {ultralytics.__version__}.  ",
        f"Data: {'synthetic, ' + str(cfg['n_train']) + ' train / ' + str(cfg['n_val']) + ' val images, ' + str(cfg['classes']) + ' classes, ' + str(cfg['size']) + ' px' if not custom else normal_yaml}; "
        f"low light: {'dce-darken (default ranges)' if args.dark_data is None else dark_yaml}.  ",
        f"Detector: {'yolov8n.yaml from scratch, ' + str(cfg['pretrain_epochs']) + ' epochs, normal light' if args.weights is None else detector}; "
        f"fine-tuning: {cfg['ft_epochs']} epochs, imgsz {cfg['imgsz']}, batch {cfg['batch']}, evaluated from last.pt.  ",
        f"Enhancer: {enhancer_desc}; λ = {args.dce_lambda:g}, enhancer lr = "
        f"{'lr0' if args.enhancer_lr is None else args.enhancer_lr}.  ",
        f"Seeds: data, darkening and training seed {args.seed}.",
        "",
        "| row | setting | mAP50-95 | mAP50 | Δ mAP50-95 vs (a) | time (s) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in results:
        delta = f"{r['map50_95'] - base['map50_95']:+.4f}" if base is not None and r is not base else ""
        lines.append(f"| ({r['row']}) | {r['setting']} | {r['map50_95']:.4f} | {r['map50']:.4f} | {delta} | {r['seconds']:.0f} |")
    lines += ["", "Rows (a)-(d) and (f) are measured on the dark val split, (e) on the normal-light val split. "
              "One run with one seed: the spread between seeds was not measured."]
    lines += [f"\n**Note.** {n}" for n in notes]
    (args.out / f"{tag}.md").write_text("\n".join(lines) + "\n")
    if results:
        _plot(results, args.out / f"{tag}.png", f"{tag}: {enhancer_desc}, {hw}")
    _log(f"wrote {args.out / (tag + '.md')} ({timings['total'] / 60:.1f} min)")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Low-light detection benchmark: does a Zero-DCE enhancer in front of YOLO help on dark images?

One command runs the whole protocol over one or more seeds and writes a markdown table, a JSON
file and a PNG plot to ``benchmarks/detection/results/``::

    python benchmarks/detection/run.py --preset cpu-seeds      # 3 seeds + recipe study, 2 CPU cores
    python benchmarks/detection/run.py --preset cpu-small      # one seed, 400 images
    python benchmarks/detection/run.py --preset gpu-full       # several thousand images, 640 px, CUDA
    python benchmarks/detection/run.py --preset smoke          # a few minutes: checks the pipeline only

Protocol (every step seeded by each of ``--seeds``):

1. Data. A synthetic detection set (``synth.py``: procedural objects of distinct shape, colour
   and texture composited on random crops of real photos, exact boxes) with train, val (reported)
   and select (recipe choice) splits from disjoint photos; or your own normal-light YOLO dataset
   with ``--data data.yaml`` (its ``test`` split, if any, is the select split).
2. Detector. ``yolov8n.yaml`` trained from scratch on the normal-light train split, or your
   detector with ``--weights best.pt`` (pre-training skipped).
3. Low light. All splits darkened with ``dce-darken`` (``dce_transforms.simulate``, per-image
   seeds), or your real low-light dataset with ``--dark-data``. A *mixed* split takes the first
   half of the normal-light val images and the dark copies of the second half (no photo twice).
4. Rows (mAP50-95 and mAP50, Ultralytics' validator), on the dark and the mixed val splits:

   (a) the detector alone;
   (b) the shipped enhancer, frozen, in front of the detector (a cascade, no fine-tuning);
   (c) the detector fine-tuned alone on the dark train split;
   (d) enhancer and detector fine-tuned jointly (detection loss + λ·zero-reference loss);
   (f) frozen shipped enhancer, detector fine-tuned behind it;

   and on the normal-light val split:

   (e) the detector alone (upper bound);
   (g) the shipped enhancer in front of the normal-light detector (does it hurt day images?).

   (c), (d) and (f) get the same budget: epochs, image size, batch, optimizer, schedule, seed.
   They are evaluated from ``last.pt`` (no checkpoint picked on any evaluation split).
5. Recipe study (``--study``): variants of (d), one factor changed at a time, trained for every
   seed and scored on the *select* split; the recipe with the best mean dark-select mAP50-95 is
   chosen there and reported on the val split (row d*).

Every trained or scored row is cached per seed in ``<workdir>/seed<k>/results.json``; a re-run
(or ``--aggregate-only``) reuses them, so seeds can run in parallel processes and be merged.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import os
import platform
import shutil
import statistics
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
    "smoke": dict(n_train=48, n_val=24, n_select=24, size=128, imgsz=128, classes=3, pretrain_epochs=2, ft_epochs=1,
                  batch=16, enhancer="zero-dce++", scale_factor=2.0, device="cpu", workers=0, threads=1,
                  rows="abcdefg", seeds=[0], study="lam0"),
    "cpu-small": dict(n_train=400, n_val=120, n_select=0, size=160, imgsz=160, classes=4, pretrain_epochs=30,
                      ft_epochs=6, batch=16, enhancer="zero-dce++", scale_factor=2.0, device="cpu", workers=0,
                      threads=1, rows="abcdefg", seeds=[0], study=""),
    "cpu-seeds": dict(n_train=240, n_val=80, n_select=80, size=160, imgsz=160, classes=4, pretrain_epochs=20,
                      ft_epochs=5, batch=16, enhancer="zero-dce++", scale_factor=2.0, device="cpu", workers=0,
                      threads=1, rows="abcdefg", seeds=[0, 1, 2],
                      study="lam0,lr0.1,freeze1,sice-v2,identity,scale4,scale1,lr10"),
    "gpu-full": dict(n_train=5000, n_val=1000, n_select=0, size=640, imgsz=640, classes=6, pretrain_epochs=60,
                     ft_epochs=15, batch=32, enhancer="zero-dce", scale_factor=1.0, device="0", workers=8, threads=None,
                     rows="abcdefg", seeds=[0], study=""),
}

ROWS = {
    "a": "detector alone",
    "b": "enhancer (frozen) + detector (cascade)",
    "c": "detector fine-tuned on dark data",
    "d": "enhancer + detector fine-tuned jointly",
    "e": "upper bound: detector on normal light",
    "f": "frozen enhancer + detector fine-tuned",
    "g": "enhancer + normal-light detector, on normal light",
}

#: One-factor-at-a-time changes of the (d) recipe that ``--study`` can train.
STUDY_VARIANTS: dict[str, dict[str, Any]] = {
    "lam0": {"dce_lambda": 0.0},
    "lam0.1": {"dce_lambda": 0.1},
    "lr0.1": {"lr_mult": 0.1},
    "lr10": {"lr_mult": 10.0},
    "freeze1": {"freeze_epochs": 1},
    "identity": {"identity": True},
    "scale1": {"scale_factor": 1.0},
    "scale4": {"scale_factor": 4.0},
    "sice-v2": {"weights": "sice-v2"},
}

#: Enhancer configurations that ``--enhancers`` compares in rows (b), (g) and (d), each built by
#: ``enhanced_yolo(detector, **config)``: "default" passes nothing, i.e. what a user gets.
ENHANCER_CONFIGS: dict[str, dict[str, Any]] = {
    "default": {},
    "dce-full": {"enhancer": "zero-dce", "curve_side": None},
    "dcepp-full": {"enhancer": "zero-dce++", "scale_factor": 1.0, "curve_side": None},
    "dce-64": {"enhancer": "zero-dce", "curve_side": 64},
}

SPLITS = {"dark": "dark val", "mixed": "mixed val", "normal": "normal-light val",
          "dark_sel": "dark select", "mixed_sel": "mixed select"}


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _train_joint_defaults() -> dict[str, Any]:
    """The library's own defaults, so that the benchmark's (d) follows them when they change."""
    from dce_transforms.integrations.ultralytics import train_joint

    sig = inspect.signature(train_joint).parameters
    return {"dce_lambda": sig["dce_lambda"].default, "enhancer_lr": sig["enhancer_lr"].default}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", choices=sorted(PRESETS), default="cpu-seeds")
    p.add_argument("--data", type=Path, help="your normal-light YOLO data YAML (skips generation)")
    p.add_argument("--dark-data", type=Path, help="your low-light YOLO data YAML (skips darkening)")
    p.add_argument("--weights", type=Path, help="your trained detector .pt (skips pre-training)")
    p.add_argument("--enhancer", choices=["zero-dce", "zero-dce++"], help="enhancer (preset default)")
    p.add_argument("--enhancer-weights", help="enhancer weights, a path or a shipped name (default: the shipped ones)")
    p.add_argument("--scale-factor", type=float, help="Zero-DCE++ curve-estimation down-scaling (preset default)")
    p.add_argument("--dce-lambda", type=float, default=None, help="λ of the zero-reference loss in (d) (train_joint's default)")
    p.add_argument("--enhancer-lr", type=float, default=None, help="absolute enhancer learning rate in (d)")
    p.add_argument("--enhancer-lr-mult", type=float, default=1.0,
                   help="enhancer learning rate in (d) as a multiple of the detector's (after optimizer=auto)")
    p.add_argument("--freeze-enhancer-epochs", type=int, default=0, help="(d): enhancer frozen for the first N epochs")
    p.add_argument("--identity-init", action="store_true", help="start the enhancer of (d) at the identity")
    p.add_argument("--rows", help="rows to run, e.g. abcdefg (preset default)")
    p.add_argument("--study", help=f"comma-separated (d) variants on the select split, from {','.join(STUDY_VARIANTS)} "
                                   "(preset default; '' for none)")
    p.add_argument("--enhancers", default="",
                   help="comma-separated enhancer configurations scored in rows (b), (g) and trained in (d) by train_joint "
                        f"with its defaults, from {','.join(ENHANCER_CONFIGS)} (default: none)")
    p.add_argument("--cache-tag", help="per-seed cache file results-<tag>.json (a second process per seed)")
    p.add_argument("--study-only", action="store_true",
                   help="train only the --study variants (e.g. in a second process per seed)")
    p.add_argument("--threads", type=int, help="torch CPU threads (cpu presets: 1, fastest on a busy machine)")
    p.add_argument("--pretrain-epochs", type=int)
    p.add_argument("--ft-epochs", type=int, help="fine-tuning epochs of (c), (d), (f)")
    p.add_argument("--n-train", type=int)
    p.add_argument("--n-val", type=int)
    p.add_argument("--n-select", type=int, help="images of the recipe-selection split (synthetic data)")
    p.add_argument("--imgsz", type=int)
    p.add_argument("--batch", type=int)
    p.add_argument("--device")
    p.add_argument("--workers", type=int)
    p.add_argument("--amp", action="store_true", help="mixed precision (CUDA only)")
    p.add_argument("--seed", type=int, default=None, help="one seed (same as --seeds N)")
    p.add_argument("--seeds", type=int, nargs="+", help="seeds of data generation, darkening and training (preset default)")
    p.add_argument("--aggregate-only", action="store_true",
                   help="train nothing: merge the cached per-seed results (entries missing for a seed are left out)")
    p.add_argument("--backgrounds", type=Path, default=REPO.parent / "shared/data/train/sice")
    p.add_argument("--workdir", type=Path, help="datasets and runs (default: $TMPDIR/dce-detection-bench/<tag>)")
    p.add_argument("--out", type=Path, default=HERE / "results", help="where the table, JSON and plot go")
    p.add_argument("--figure", type=Path, help="also save the plot here (e.g. docs/figures/detection_seeds.png)")
    p.add_argument("--tag", help="result file name (default: the preset, or 'custom' with --data/--dark-data)")
    p.add_argument("--plot-only", action="store_true", help="redraw results/<tag>.png from results/<tag>.json")
    return p


# -- recipes ----------------------------------------------------------------------------------------------
def _recipe_key(r: dict[str, Any]) -> str:
    lr = f"lr{r['lr_abs']:g}" if r["lr_abs"] is not None else f"lrx{r['lr_mult']:g}"
    return (f"lam{r['dce_lambda']:g}_{lr}_fz{r['freeze_epochs']}_{'identity' if r['identity'] else 'shipped'}"
            f"_s{r['scale_factor']:g}_{r['weights']}")


def _recipe_parts(r: dict[str, Any]) -> list[str]:
    return [f"λ={r['dce_lambda']:g}",
            f"enhancer lr={r['lr_abs']:g}" if r["lr_abs"] is not None else f"enhancer lr={r['lr_mult']:g}×lr0",
            f"enhancer frozen {r['freeze_epochs']} ep" if r["freeze_epochs"] else "enhancer trained from epoch 0",
            "identity init" if r["identity"] else "shipped init", f"scale {r['scale_factor']:g}",
            f"weights {r['weights']}"]


def _recipe_desc(r: dict[str, Any], base: dict[str, Any] | None = None) -> str:
    parts = _recipe_parts(r)
    if base is not None:  # only what differs from the base recipe
        parts = [p for p, q in zip(parts, _recipe_parts(base)) if p != q] or ["(base recipe)"]
    return "; ".join(parts)


# -- datasets ---------------------------------------------------------------------------------------------
def _split_files(data_yaml: Path, split: str) -> list[Path]:
    from ultralytics.data.utils import IMG_FORMATS, check_det_dataset

    d = check_det_dataset(str(data_yaml))
    entries = d.get(split)
    if not entries:
        return []
    files: list[Path] = []
    for e in entries if isinstance(entries, (list, tuple)) else [entries]:
        e = Path(e)
        if e.is_dir():
            files += sorted(p for p in e.rglob("*") if p.suffix.lower().lstrip(".") in IMG_FORMATS)
        elif e.suffix == ".txt":
            files += [Path(line.strip()) if Path(line.strip()).is_absolute() else (e.parent / line.strip())
                      for line in e.read_text().splitlines() if line.strip()]
    return files


def _names(data_yaml: Path) -> dict[int, str]:
    from ultralytics.data.utils import check_det_dataset

    names = check_det_dataset(str(data_yaml))["names"]
    return dict(enumerate(names)) if isinstance(names, list) else {int(k): v for k, v in names.items()}


def _make_mixed(normal_yaml: Path, dark_yaml: Path, out: Path) -> Path | None:
    """Half day, half night: normal-light val images [0, n/2) and the dark copies of [n/2, n)."""
    from ultralytics.data.utils import img2label_paths

    yaml = out / "data.yaml"
    if yaml.is_file():
        return yaml
    splits = {}
    for split, folder in (("val", "val"), ("test", "select")):
        normal, dark = _split_files(normal_yaml, split), _split_files(dark_yaml, split)
        n = min(len(normal), len(dark))
        if n < 2:
            continue
        half = n // 2
        chosen = [("n", p) for p in normal[:half]] + [("d", p) for p in dark[half:n]]
        (out / "images" / folder).mkdir(parents=True, exist_ok=True)
        (out / "labels" / folder).mkdir(parents=True, exist_ok=True)
        for kind, img in chosen:
            label = Path(img2label_paths([str(img)])[0])
            shutil.copy2(img, out / "images" / folder / f"{kind}_{img.name}")
            dst = out / "labels" / folder / f"{kind}_{img.stem}.txt"
            dst.write_text(label.read_text() if label.is_file() else "")
        splits[split] = f"images/{folder}"
    if "val" not in splits:
        return None
    names = "".join(f"  {i}: {n}\n" for i, n in sorted(_names(dark_yaml).items()))
    split_lines = "".join(f"{k}: {v}\n" for k, v in splits.items())
    yaml.write_text(f"path: {out.resolve()}\ntrain: {splits['val']}\n{split_lines}names:\n{names}")
    return yaml


# -- models -----------------------------------------------------------------------------------------------
def _metrics(model, data: Path, split: str, cfg: dict, name: str, workdir: Path) -> dict[str, float]:
    m = model.val(data=str(data), imgsz=cfg["imgsz"], batch=cfg["batch"], device=cfg["device"], workers=cfg["workers"],
                  plots=False, verbose=False, split=split, project=str(workdir / "val"), name=name, exist_ok=True)
    return {"map50_95": float(m.box.map), "map50": float(m.box.map50)}


def _train_common(cfg: dict, workdir: Path, name: str, epochs: int) -> dict[str, Any]:
    return dict(epochs=epochs, imgsz=cfg["imgsz"], batch=cfg["batch"], device=cfg["device"], workers=cfg["workers"],
                seed=cfg["seed"], deterministic=True, amp=cfg["amp"], plots=False, verbose=False, val=False,
                project=str(workdir / "runs"), name=name, exist_ok=True)


def _finetune_kwargs(cfg: dict, workdir: Path, name: str) -> dict[str, Any]:
    e = cfg["ft_epochs"]
    return {**_train_common(cfg, workdir, name, e), "warmup_epochs": min(1.0, max(e - 1, 0)),
            "close_mosaic": max(1, e // 3)}


def _build_enhanced(pt: Path, cfg: dict, *, weights: str, scale_factor: float, identity_init: bool = False,
                    config: dict[str, Any] | None = None):
    """The detector at ``pt`` behind an enhancer: the preset's, or ``enhanced_yolo(**config)``'s."""
    from ultralytics import YOLO

    from dce_transforms.integrations.ultralytics import enhanced_yolo

    if config is not None:
        kwargs = dict(config)
    else:
        kwargs = {"enhancer": cfg["enhancer"]}
        if cfg["enhancer"] == "zero-dce++":
            kwargs["scale_factor"] = scale_factor
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = enhanced_yolo(YOLO(str(pt)), weights=weights, identity_init=identity_init, **kwargs)
    random_init = any("randomly initialised" in str(w.message) for w in caught)
    inner = model.model.enhancer
    inner = getattr(inner, "model", inner)
    return model, random_init, getattr(inner, "weights_name", None)


def _recipe_callbacks(model, recipe: dict[str, Any]) -> None:
    """Enhancer lr as a multiple of the detector's, and an enhancer frozen for the first epochs."""
    mult, frozen = recipe["lr_mult"], recipe["freeze_epochs"]
    if recipe["lr_abs"] is None and mult != 1.0:
        def scale_lr(trainer) -> None:
            for i, g in enumerate(trainer.optimizer.param_groups):
                if g.get("param_group") == "enhancer":
                    g["initial_lr"] *= mult
                    g["lr"] *= mult
                    trainer.scheduler.base_lrs[i] *= mult
        model.add_callback("on_train_start", scale_lr)
    if frozen:
        def freeze(trainer) -> None:
            from ultralytics.utils.torch_utils import unwrap_model

            train = trainer.epoch >= frozen
            for name, p in unwrap_model(trainer.model).named_parameters():
                if name.startswith("enhancer."):
                    p.requires_grad_(train)
        model.add_callback("on_train_epoch_start", freeze)


# -- statistics -------------------------------------------------------------------------------------------
def _mean_std(values: list[float]) -> dict[str, Any]:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "n": len(values), "values": values}


def _fmt(s: dict[str, Any] | None, digits: int = 3) -> str:
    if not s:
        return "–"
    return f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}" if s["n"] > 1 else f"{s['mean']:.{digits}f}"


# -- plot -------------------------------------------------------------------------------------------------
def _plot(summary: dict[str, Any], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = summary["rows"]
    study = summary.get("study", [])
    ncols = 2 if study else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6.5 * ncols, 4.2), squeeze=False)
    ax = axes[0, 0]
    keys = list(rows)
    colours = {"dark": "#3b6ea8", "mixed": "#e39b3b", "normal": "#6aa84f"}
    w = 0.27
    for j, split in enumerate(("dark", "mixed", "normal")):
        xs, ys, es = [], [], []
        for i, k in enumerate(keys):
            s = rows[k]["splits"].get(split, {}).get("map50_95")
            if s:
                xs.append(i + (j - 1) * w)
                ys.append(s["mean"])
                es.append(s["std"])
        if xs:
            ax.bar(xs, ys, width=w, yerr=es, capsize=3, color=colours[split], label=SPLITS[split])
            for x, y, e in zip(xs, ys, es):
                ax.text(x, y + e + 0.01, f"{y:.2f}", ha="center", va="bottom", fontsize=6, rotation=90)
    ax.set_xticks(range(len(keys)), [f"({k})" if k != "d*" else "(d*)" for k in keys])
    ax.set_ylabel("mAP50-95 (mean ± std over seeds)")
    ax.set_ylim(0, min(1.0, max(r["splits"][sp]["map50_95"]["mean"] for r in rows.values()
                                for sp in r["splits"] if sp in colours) + 0.15))
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("rows, reported val split", fontsize=9)
    if study:
        ax = axes[0, 1]
        labels = [v["name"] for v in study]
        for j, split in enumerate(("dark_sel", "mixed_sel")):
            xs, ys, es = [], [], []
            for i, v in enumerate(study):
                s = v["splits"].get(split, {}).get("map50_95")
                if s:
                    xs.append(i + (j - 0.5) * 0.38)
                    ys.append(s["mean"])
                    es.append(s["std"])
            ax.bar(xs, ys, width=0.38, yerr=es, capsize=3, label=SPLITS[split],
                   color=("#3b6ea8", "#e39b3b")[j])
            for x, y, e in zip(xs, ys, es):
                ax.text(x, y + e + 0.005, f"{y:.3f}", ha="center", va="bottom", fontsize=6, rotation=90)
        lo = min(v["splits"]["dark_sel"]["map50_95"]["mean"] for v in study if "dark_sel" in v["splits"])
        hi = max(v["splits"]["mixed_sel"]["map50_95"]["mean"] for v in study if "mixed_sel" in v["splits"])
        ax.set_ylim(max(0.0, lo - 0.1), min(1.0, hi + 0.08))
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
        ax.set_title("(d) recipe study, select split (chosen: " + summary.get("chosen", "?") + ")", fontsize=9)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# -- one seed ---------------------------------------------------------------------------------------------
def _run_seed(seed: int, cfg: dict, args: argparse.Namespace, base_dir: Path, recipes: dict[str, dict],
              rows_wanted: list[str]) -> dict[str, Any]:
    import torch
    from ultralytics import YOLO

    from dce_transforms.cli import dce_darken as darken
    from dce_transforms.integrations.ultralytics import train_joint

    cfg = {**cfg, "seed": seed}
    workdir = base_dir / f"seed{seed}"
    workdir.mkdir(parents=True, exist_ok=True)
    # results.json, or results-<cache tag>.json for a second process on the same seed; all are read
    cache_file = workdir / (f"results-{args.cache_tag}.json" if args.cache_tag else "results.json")
    cache_cfg = {k: cfg[k] for k in ("n_train", "n_val", "n_select", "size", "imgsz", "classes", "pretrain_epochs",
                                     "ft_epochs", "batch", "enhancer", "seed")}
    cache: dict[str, Any] = {"config": cache_cfg, "entries": {}, "timings_s": {}}
    if cache_file.is_file():
        old = json.loads(cache_file.read_text())
        if old.get("config") == cache_cfg:
            cache = old
        else:
            _log(f"seed {seed}: cached results were made with another configuration; starting afresh")
    for other in sorted(workdir.glob("results*.json")):
        if other != cache_file:
            more = json.loads(other.read_text())
            if more.get("config") == cache_cfg:
                for k, v in more.get("entries", {}).items():
                    cache["entries"].setdefault(k, v)
                for k, v in more.get("timings_s", {}).items():
                    cache["timings_s"].setdefault(k, v)
                cache.setdefault("commands", []).extend(c for c in more.get("commands", [])
                                                         if c not in cache.get("commands", []))
    entries, timings = cache["entries"], cache["timings_s"]

    def save() -> None:
        tmp = cache_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(cache, indent=1))
        tmp.replace(cache_file)

    if args.aggregate_only:
        return cache
    cache.setdefault("commands", []).append(args.command_line)

    def stage(name: str, t0: float) -> None:
        timings[name] = round(timings.get(name, 0.0) + time.time() - t0, 1)

    # 1. normal-light data
    t0 = time.time()
    if args.data is not None:
        normal_yaml = args.data.resolve()
    elif args.dark_data is None:
        import synth

        normal_yaml = workdir / "normal" / "data.yaml"
        if not normal_yaml.is_file():
            _log(f"seed {seed}: generating {cfg['n_train']} + {cfg['n_val']} + {cfg['n_select']} images at {cfg['size']} px")
            synth.generate(workdir / "normal", args.backgrounds, n_train=cfg["n_train"], n_val=cfg["n_val"],
                           n_select=cfg["n_select"], size=cfg["size"], n_classes=cfg["classes"], seed=seed)
    else:
        normal_yaml = None
    stage("data", t0)
    # 2. low-light copy, mixed split
    t0 = time.time()
    if args.dark_data is not None:
        dark_yaml = args.dark_data.resolve()
    else:
        dark_yaml = workdir / "dark" / "data.yaml"
        if not dark_yaml.is_file():
            rc = darken.main([str(normal_yaml), "-o", str(workdir / "dark"), "--seed", str(seed), "--quiet",
                              "--exist-ok"])
            if rc != 0:
                raise SystemExit(f"dce-darken failed with status {rc}")
    mixed_yaml = _make_mixed(normal_yaml, dark_yaml, workdir / "mixed") if normal_yaml is not None else None
    stage("darken", t0)
    # 3. detector
    t0 = time.time()
    if args.weights is not None:
        detector = args.weights.resolve()
    else:
        detector = workdir / "runs" / "pretrain" / "weights" / "last.pt"
        # last.pt is rewritten every epoch: only a run that finished counts (an interrupted one is redone)
        done = workdir / "runs" / "pretrain" / "finished"
        if not (detector.is_file() and (done.is_file() or cache.get("pretrain_done"))):
            _log(f"seed {seed}: pre-training yolov8n.yaml from scratch for {cfg['pretrain_epochs']} epochs")
            torch.manual_seed(seed)
            YOLO("yolov8n.yaml").train(data=str(normal_yaml), **_train_common(cfg, workdir, "pretrain",
                                                                              cfg["pretrain_epochs"]))
            done.write_text("yes\n")
        cache["pretrain_done"] = True
    stage("pretrain", t0)
    cache["detector"], cache["data"], cache["dark_data"] = str(detector), str(normal_yaml), str(dark_yaml)
    save()

    has_select = bool(_split_files(dark_yaml, "test"))
    dark_splits = {"dark": (dark_yaml, "val")}
    if mixed_yaml is not None:
        dark_splits["mixed"] = (mixed_yaml, "val")
    if has_select:
        dark_splits["dark_sel"] = (dark_yaml, "test")
        if mixed_yaml is not None and _split_files(mixed_yaml, "test"):
            dark_splits["mixed_sel"] = (mixed_yaml, "test")
    normal_splits = {"normal": (normal_yaml, "val")} if normal_yaml is not None else {}

    def score(key: str, model, splits: dict[str, tuple[Path, str]], t: float, **extra: Any) -> None:
        res = {s: _metrics(model, y, sp, cfg, f"{key}-{s}", workdir) for s, (y, sp) in splits.items()}
        entries[key] = {"splits": res, "seconds": round(time.time() - t, 1), **extra}
        save()
        shown = "  ".join(f"{s} {m['map50_95']:.4f}" for s, m in res.items())
        _log(f"seed {seed} ({key}): mAP50-95 {shown}  [{entries[key]['seconds']:.0f} s]")

    default_w = args.enhancer_weights or "default"
    jobs: list[str] = []
    for row in rows_wanted:
        if args.study_only:
            jobs += [f"d:{k}" for k in recipes if k != "base"] if row == "d" else []
        elif row == "d":
            jobs += [f"d:{k}" for k in recipes]
        elif row == "b" and "sice-v2" in {r["weights"] for r in recipes.values()} and default_w != "sice-v2":
            jobs += ["b", "b:sice-v2"]
        elif row == "g" and "sice-v2" in {r["weights"] for r in recipes.values()} and default_w != "sice-v2":
            jobs += ["g", "g:sice-v2"]
        else:
            jobs.append(row)
    enhancer_jobs = [f"{row}@{name}" for name in args.enhancer_names for row in "bgd" if row in rows_wanted]
    # the reported rows first, the study's variants after them (in the order asked)
    main_d = f"d:{next(iter(recipes))}"
    jobs.sort(key=lambda j: (j.startswith("d:") and j != main_d, j.startswith("d:") and j != main_d and
                             list(recipes).index(j[2:])))
    for job in jobs + enhancer_jobs:
        key = job if not job.startswith("d:") else "d:" + _recipe_key(recipes[job[2:]])
        if key in entries:
            continue
        if job in ("e",) and not normal_splits:
            continue
        if job in ("g", "g:sice-v2") and not normal_splits:
            continue
        t = time.time()
        torch.manual_seed(seed)
        if job == "a":
            score("a", YOLO(str(detector)), dark_splits, t)
        elif job == "e":
            score("e", YOLO(str(detector)), normal_splits, t)
        elif job in ("b", "b:sice-v2", "g", "g:sice-v2"):
            w = "sice-v2" if job.endswith("sice-v2") else default_w
            model, rnd, wname = _build_enhanced(detector, cfg, weights=w, scale_factor=cfg["scale_factor"])
            score(job, model, dark_splits if job.startswith("b") else normal_splits, t, weights=wname, random_init=rnd)
        elif "@" in job:  # an enhancer configuration: cascade, day images, joint with train_joint's defaults
            row, name = job.split("@")
            r = recipes["base"]
            model, rnd, wname = _build_enhanced(detector, cfg, weights=r["weights"], scale_factor=r["scale_factor"],
                                                config=ENHANCER_CONFIGS[name])
            if row == "d":
                run_name = f"d-{name}"
                train_joint(model, data=dark_yaml, dce_lambda=r["dce_lambda"], enhancer_lr=r["lr_abs"],
                            **_finetune_kwargs(cfg, workdir, run_name))
                model = YOLO(str(workdir / "runs" / run_name / "weights" / "last.pt"))
            score(job, model, normal_splits if row == "g" else dark_splits, t, weights=wname, random_init=rnd,
                  config=ENHANCER_CONFIGS[name])
        elif job == "c":
            YOLO(str(detector)).train(data=str(dark_yaml), **_finetune_kwargs(cfg, workdir, "c"))
            score("c", YOLO(str(workdir / "runs" / "c" / "weights" / "last.pt")), dark_splits, t,
                  epochs=cfg["ft_epochs"])
        elif job == "f":
            model, rnd, wname = _build_enhanced(detector, cfg, weights=default_w, scale_factor=cfg["scale_factor"])
            train_joint(model, data=dark_yaml, dce_lambda=0.0, freeze_enhancer=True, **_finetune_kwargs(cfg, workdir, "f"))
            score("f", YOLO(str(workdir / "runs" / "f" / "weights" / "last.pt")), dark_splits, t,
                  epochs=cfg["ft_epochs"], weights=wname, random_init=rnd)
        else:  # a (d) recipe
            r = recipes[job[2:]]
            name = "d-" + _recipe_key(r)
            model, rnd, wname = _build_enhanced(detector, cfg, weights=r["weights"], scale_factor=r["scale_factor"],
                                                identity_init=r["identity"])
            _recipe_callbacks(model, r)
            # enhancer_lr_scale=1: the study's multiples are of lr0 itself (0.1 × lr0 is now the library default).
            train_joint(model, data=dark_yaml, dce_lambda=r["dce_lambda"], enhancer_lr=r["lr_abs"],
                        enhancer_lr_scale=1.0, **_finetune_kwargs(cfg, workdir, name))
            score(key, YOLO(str(workdir / "runs" / name / "weights" / "last.pt")), dark_splits, t,
                  epochs=cfg["ft_epochs"], weights=wname, random_init=rnd, recipe=r)
    timings["total_compute"] = round(sum(v["seconds"] for v in entries.values()) + timings.get("data", 0)
                                     + timings.get("darken", 0) + timings.get("pretrain", 0), 1)
    save()
    return cache


# -- main -------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    cfg = dict(PRESETS[args.preset])
    for key in ("n_train", "n_val", "n_select", "imgsz", "batch", "device", "workers", "pretrain_epochs", "ft_epochs",
                "enhancer", "scale_factor", "rows", "threads", "study"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    seeds = args.seeds if args.seeds else ([args.seed] if args.seed is not None else cfg["seeds"])
    cfg["amp"] = bool(args.amp)
    rows_wanted = [r for r in cfg["rows"] if r in ROWS]
    custom = args.data is not None or args.dark_data is not None
    tag = args.tag or ("custom" if custom else args.preset)
    if args.plot_only:
        saved = json.loads((args.out / f"{tag}.json").read_text())
        _plot(saved["summary"], args.out / f"{tag}.png", saved["meta"]["plot_title"])
        if args.figure:
            _plot(saved["summary"], args.figure, saved["meta"]["plot_title"])
        return 0
    base_dir = (args.workdir or Path(os.environ.get("TMPDIR", "/tmp")) / "dce-detection-bench" / tag).resolve()
    base_dir.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    if custom and args.data is None:
        rows_wanted = [r for r in rows_wanted if r not in "eg"]  # no normal-light data to bound with

    import torch

    if cfg["threads"]:
        torch.set_num_threads(cfg["threads"])
    import ultralytics

    lib = _train_joint_defaults()
    base = {"dce_lambda": lib["dce_lambda"] if args.dce_lambda is None else args.dce_lambda,
            "lr_abs": args.enhancer_lr if args.enhancer_lr is not None else lib["enhancer_lr"],
            "lr_mult": args.enhancer_lr_mult, "freeze_epochs": args.freeze_enhancer_epochs,
            "identity": bool(args.identity_init), "scale_factor": float(cfg["scale_factor"]),
            "weights": args.enhancer_weights or "default"}
    recipes: dict[str, dict[str, Any]] = {"base": base}
    study_names = [s for s in str(cfg["study"] or "").split(",") if s]
    for s in study_names:
        if s not in STUDY_VARIANTS:
            raise SystemExit(f"unknown --study variant {s!r}; choose from {', '.join(STUDY_VARIANTS)}")
        r = {**base, **STUDY_VARIANTS[s]}
        if s.startswith("lr"):
            r["lr_abs"] = None
        if _recipe_key(r) != _recipe_key(base):
            recipes[s] = r

    args.enhancer_names = [n for n in args.enhancers.split(",") if n]
    for n in args.enhancer_names:
        if n not in ENHANCER_CONFIGS:
            raise SystemExit(f"unknown --enhancers configuration {n!r}; choose from {', '.join(ENHANCER_CONFIGS)}")

    script = Path(sys.argv[0]).resolve()
    command = "python " + " ".join([str(script.relative_to(REPO)) if script.is_relative_to(REPO) else sys.argv[0],
                                    *(argv if argv is not None else sys.argv[1:])])
    args.command_line = command
    t_start = time.time()
    per_seed: dict[int, dict[str, Any]] = {}
    for seed in seeds:
        per_seed[seed] = _run_seed(seed, cfg, args, base_dir, recipes, rows_wanted)
    wall = round(time.time() - t_start, 1)

    # -- aggregate over seeds: only entries present for every seed
    def collect(key: str) -> dict[str, Any] | None:
        runs = [per_seed[s]["entries"].get(key) for s in seeds]
        if any(r is None for r in runs):
            return None
        splits: dict[str, Any] = {}
        for split in runs[0]["splits"]:
            splits[split] = {m: _mean_std([r["splits"][split][m] for r in runs]) for m in ("map50_95", "map50")}
        return {"splits": splits, "seconds": _mean_std([r["seconds"] for r in runs])}

    def paired_values(k1: str, k2: str, split: str) -> dict[str, Any] | None:
        try:
            return _mean_std([per_seed[s]["entries"][k1]["splits"][split]["map50_95"]
                              - per_seed[s]["entries"][k2]["splits"][split]["map50_95"] for s in seeds])
        except KeyError:
            return None

    base_key = "d:" + _recipe_key(base)
    row_keys = {"a": "a", "b": "b", "c": "c", "d": base_key, "e": "e", "f": "f", "g": "g"}
    summary: dict[str, Any] = {"rows": {}, "study": [], "paired": {}}
    for row in rows_wanted:
        agg = collect(row_keys[row])
        if agg is not None:
            summary["rows"][row] = {"setting": ROWS[row], **agg}
    study_rows = []
    for name, r in recipes.items():
        agg = collect("d:" + _recipe_key(r))
        if agg is not None and "dark_sel" in agg["splits"]:
            study_rows.append({"name": name, "recipe": r, "change": _recipe_desc(r, base if name != "base" else None),
                               **agg})
    for v in study_rows:  # paired (same seed) difference from the base recipe on the select split
        k = "d:" + _recipe_key(v["recipe"])
        with contextlib.suppress(KeyError):
            v["delta_dark_sel_vs_base"] = _mean_std(
                [per_seed[s]["entries"][k]["splits"]["dark_sel"]["map50_95"]
                 - per_seed[s]["entries"][base_key]["splits"]["dark_sel"]["map50_95"] for s in seeds])
    for extra in ("b:sice-v2", "g:sice-v2"):
        agg = collect(extra)
        if agg is not None:
            summary["rows"][extra[0] + "_old"] = {"setting": ROWS[extra[0]] + " (old sice-v2 weights, no gate)", **agg}
    enhancer_rows = []
    for name in args.enhancer_names:
        aggs = {row: collect(f"{row}@{name}") for row in "bgd"}
        if any(aggs.values()):
            first = args.enhancer_names[0]
            enhancer_rows.append({"name": name, "config": ENHANCER_CONFIGS[name], **aggs,
                                  "d_minus_c_dark": paired_values(f"d@{name}", "c", "dark"),
                                  "d_minus_first_dark": paired_values(f"d@{name}", f"d@{first}", "dark")
                                  if name != first else None})
    summary["enhancers"] = enhancer_rows
    chosen = None
    if len(study_rows) > 1:
        chosen = max(study_rows, key=lambda v: v["splits"]["dark_sel"]["map50_95"]["mean"])
        summary["chosen"] = chosen["name"]
        summary["chosen_recipe"] = chosen["recipe"]
        if chosen["name"] != "base":  # shown right after (d)
            star = {"setting": f"joint, recipe chosen on select: {chosen['change']}",
                    "splits": chosen["splits"], "seconds": chosen["seconds"]}
            ordered = {}
            for k, v in summary["rows"].items():
                ordered[k] = v
                if k == "d":
                    ordered["d*"] = star
            ordered.setdefault("d*", star)
            summary["rows"] = ordered
    summary["study"] = study_rows

    chosen_key = "d:" + _recipe_key(chosen["recipe"]) if chosen else base_key
    for label, k1, k2, split in (("d - c, dark", base_key, "c", "dark"), ("d - f, dark", base_key, "f", "dark"),
                                 ("d - c, mixed", base_key, "c", "mixed"), ("d - f, mixed", base_key, "f", "mixed"),
                                 ("d* - c, dark", chosen_key, "c", "dark"), ("d* - f, dark", chosen_key, "f", "dark"),
                                 ("d* - c, mixed", chosen_key, "c", "mixed"), ("d* - f, mixed", chosen_key, "f", "mixed"),
                                 ("f - c, dark", "f", "c", "dark"), ("g - e, normal", "g", "e", "normal"),
                                 ("g(sice-v2) - e, normal", "g:sice-v2", "e", "normal")):
        p = paired_values(k1, k2, split)
        if p is not None and not (label.startswith("d*") and chosen_key == base_key):
            summary["paired"][label] = p

    # -- metadata
    device = cfg["device"]
    cpu_model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, StopIteration):
        cpu_model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                         if line.startswith("model name"))
    hw = torch.cuda.get_device_name(0) if device not in ("cpu",) and torch.cuda.is_available() else (
        f"CPU ({cpu_model}), {os.cpu_count()} cores, torch threads {torch.get_num_threads()}")
    enhancer_desc = cfg["enhancer"] + (f" (scale_factor {cfg['scale_factor']:g})" if cfg["enhancer"] == "zero-dce++" else "")
    names = sorted({str(e.get("weights")) for s in seeds for k, e in per_seed[s]["entries"].items()
                    if k in ("b", "f") and e.get("weights")})
    random_enh = any(e.get("random_init") for s in seeds for e in per_seed[s]["entries"].values())
    enhancer_desc += f", weights {'RANDOM INIT' if random_enh else (', '.join(names) or base['weights'])}"
    notes = []
    if random_enh:
        notes.append("Some enhancer had NO trained weights: rows (b), (d), (f) used a randomly initialised one.")
    compute = {s: per_seed[s]["timings_s"].get("total_compute") for s in seeds}
    meta = {
        "preset": args.preset, "tag": tag, "config": cfg, "seeds": seeds, "base_recipe": base,
        "train_joint_defaults": lib, "enhancer": enhancer_desc, "hardware": hw, "command": command,
        "wall_s_this_invocation": wall, "compute_s_per_seed": compute,
        "commands_per_seed": {s: per_seed[s].get("commands", []) for s in seeds},
        "torch": torch.__version__, "ultralytics": ultralytics.__version__, "notes": notes,
        "selection": "recipe chosen by the best mean dark-select mAP50-95 over seeds; reported on the val split",
        "std": "sample standard deviation over seeds (n - 1)",
    }
    meta["plot_title"] = (f"{tag}: {enhancer_desc}; {len(seeds)} seeds, mean ± std; "
                          f"{cfg['n_train']} train imgs, {cfg['ft_epochs']} ft epochs")
    per_seed_out = {str(s): per_seed[s] for s in seeds}
    (args.out / f"{tag}.json").write_text(json.dumps({"meta": meta, "seeds": seeds, "summary": summary,
                                                      "per_seed": per_seed_out}, indent=1))

    # -- markdown
    total_compute = sum(v or 0 for v in compute.values())
    data_desc = (f"synthetic, {cfg['n_train']} train / {cfg['n_val']} val / {cfg['n_select']} select images, "
                 f"{cfg['classes']} classes, {cfg['size']} px") if not custom else str(args.data or args.dark_data)
    det_desc = (f"yolov8n.yaml from scratch, {cfg['pretrain_epochs']} epochs, normal light" if args.weights is None
                else str(args.weights))
    lines = [
        f"# Low-light detection benchmark: `{tag}`",
        "",
        f"Command: `{command}`  ",
        (f"Hardware: {hw}; wall time of the stages summed {total_compute / 60:.1f} min "
         "(not CPU time: parallel processes on a shared machine inflate it) "
         f"({', '.join(f'seed {s}: {(v or 0) / 60:.1f}' for s, v in compute.items())}); "
         f"torch {torch.__version__}, ultralytics {ultralytics.__version__}.  "),
        (f"Data: {data_desc}; low light: "
         f"{'dce-darken (default ranges)' if args.dark_data is None else args.dark_data}; "
         "mixed = first half of the normal-light val images + dark copies of the second half.  "),
        (f"Detector: {det_desc}; fine-tuning: {cfg['ft_epochs']} epochs, imgsz {cfg['imgsz']}, "
         f"batch {cfg['batch']}, evaluated from last.pt.  "),
        f"Enhancer: {enhancer_desc}; (d) recipe: {_recipe_desc(base)}.  ",
        f"Seeds (data, darkening, training): {', '.join(map(str, seeds))}; mean ± sample std over seeds.",
        "",
        "| row | setting | dark mAP50-95 | dark mAP50 | mixed mAP50-95 | mixed mAP50 | normal mAP50-95 |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for k, r in summary["rows"].items():
        cells = [_fmt(r["splits"].get(s, {}).get(m)) for s, m in
                 (("dark", "map50_95"), ("dark", "map50"), ("mixed", "map50_95"), ("mixed", "map50"),
                  ("normal", "map50_95"))]
        lines.append(f"| ({k}) | {r['setting']} | " + " | ".join(cells) + " |")
    if summary["paired"]:
        lines += ["", "Paired differences (same seed), mAP50-95:", "",
                  "| difference | mean ± std | per seed |", "|---|---:|---|"]
        for label, p in summary["paired"].items():
            lines.append(f"| {label} | {p['mean']:+.3f} ± {p['std']:.3f} | "
                         f"{', '.join(f'{v:+.3f}' for v in p['values'])} |")
    if study_rows:
        lines += ["", "Recipe study of (d): chosen on the **select** columns (dark-select mAP50-95); the val column is shown only "
                  "for reference and played no part in the choice:", "",
                  ("| variant | change from the base recipe | dark-select mAP50-95 | Δ vs base, paired | "
                   "mixed-select mAP50-95 | dark-val mAP50-95 | wall (s) |"), "|---|---|---:|---:|---:|---:|---:|"]
        for v in study_rows:
            sp = v["splits"]
            mark = " **(chosen)**" if chosen is not None and v["name"] == chosen["name"] else ""
            dv = v.get("delta_dark_sel_vs_base")
            delta = f"{dv['mean']:+.3f} ± {dv['std']:.3f}" if dv and v["name"] != "base" else ""
            lines.append(f"| {v['name']}{mark} | {v['change']} | {_fmt(sp['dark_sel']['map50_95'])} | {delta} | "
                         f"{_fmt(sp.get('mixed_sel', {}).get('map50_95'))} | {_fmt(sp['dark']['map50_95'])} | "
                         f"{v['seconds']['mean']:.0f} |")
    if enhancer_rows:
        lines += ["", "Enhancer configurations (`enhanced_yolo(detector, **config)`; (d): `train_joint` with its defaults), "
                  "mAP50-95:", "",
                  "| configuration | config | (b) cascade, dark | (b) cascade, mixed | (g) normal light | "
                  f"(d) joint, dark | (d) joint, mixed | (d) − (c), dark, paired | (d) − (d, {args.enhancer_names[0]}), "
                  "dark, paired |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for v in enhancer_rows:
            def cell(row: str, split: str, v: dict[str, Any] = v) -> str:
                return _fmt((v[row] or {}).get("splits", {}).get(split, {}).get("map50_95"))
            dc, df = v["d_minus_c_dark"], v["d_minus_first_dark"]
            delta = f"{dc['mean']:+.3f} ± {dc['std']:.3f}" if dc else "–"
            delta_first = f"{df['mean']:+.3f} ± {df['std']:.3f} ({', '.join(f'{x:+.3f}' for x in df['values'])})" if df else "–"
            lines.append(f"| {v['name']} | `{v['config'] or '{}'}` | {cell('b', 'dark')} | {cell('b', 'mixed')} | "
                         f"{cell('g', 'normal')} | {cell('d', 'dark')} | {cell('d', 'mixed')} | "
                         f"{delta} | {delta_first} |")
    lines += [f"\n**Note.** {n}" for n in notes]
    (args.out / f"{tag}.md").write_text("\n".join(lines) + "\n")
    if summary["rows"]:
        _plot(summary, args.out / f"{tag}.png", meta["plot_title"])
        if args.figure:
            args.figure.parent.mkdir(parents=True, exist_ok=True)
            _plot(summary, args.figure, meta["plot_title"])
    _log(f"wrote {args.out / (tag + '.md')} (this invocation {wall / 60:.1f} min)")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

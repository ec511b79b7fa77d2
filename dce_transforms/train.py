"""Zero-reference training of ZeroDCE / ZeroDCEPP on any folder of images: the library behind ``dce-train``.

:class:`TrainConfig` holds every option (the command line maps onto it one to one), :func:`check_config`
checks them all before any work, and :func:`train` runs the authors' recipe (Adam, lr 1e-4, weight decay
1e-4, batch 8, gradient clipping at 0.1, 256×256 inputs, the four zero-reference losses with the TV weight
rescaled to the training resolution, :func:`default_tv_weight`), single-process or under ``torchrun``.
The command line is :mod:`dce_transforms.cli.dce_train`.
"""

from __future__ import annotations

import csv
import math
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from ._weights import save_state_dict
from .cli._common import check_writable_dir, finite_range, resolve_train_device
from .errors import ConfigError, WeightsError
from .io import DEFAULT_MAX_PIXELS, ImageReadError, atomic_path, image_to_tensor, list_images, read_image
from .losses import AUTHORS_TV_WEIGHT, ZeroReferenceLoss
from .models import _CurveEstimator
from .registry import get_model, list_models

__all__ = ["TrainConfig", "TrainingInterrupted", "ImageFolderDataset", "build_model", "check_config", "default_tv_weight",
           "scale_consistency_loss", "train"]

#: Files of a finished or running training run; an --out holding one is not reused without --resume or --overwrite.
RUN_FILES = ("final.safetensors", "last.pt", "log.csv")

#: ``--model`` names (:func:`dce_transforms.list_models`).
MODELS = list_models()

# The authors' illumination-smoothness weight and the square input size it was tuned for.
#: The authors' TV weight (:data:`~dce_transforms.losses.AUTHORS_TV_WEIGHT`) and the crop it was used at.
AUTHORS_TV = {"zero-dce": (AUTHORS_TV_WEIGHT["zero-dce"], 256), "zero-dce++": (AUTHORS_TV_WEIGHT["zero-dce++"], 512)}


def default_tv_weight(model: str, crop: int) -> float:
    """The authors' TV weight, rescaled to the training resolution ``crop``.

    The TV term is a mean of squared differences between neighbouring pixels of the curve maps,
    so for the same scene it grows with the square of the resolution's inverse: at half the
    authors' input size it is four times larger. Scaling the weight by ``(crop / size)²`` keeps the
    authors' smoothness at any crop (Zero-DCE: 200 at 256, 50 at 128; Zero-DCE++: 1600 at 512,
    100 at 128).

    Example:
        >>> default_tv_weight("zero-dce", 256), default_tv_weight("zero-dce++", 128)
        (200.0, 100.0)
    """
    weight, size = AUTHORS_TV[model]
    return weight * (crop / size) ** 2


@dataclass
class TrainConfig:
    """Everything a training run needs; the command line maps onto it one to one."""

    data: list[str]
    out: str = "runs/dce"
    model: str = "zero-dce"
    epochs: int = 100
    max_steps: int | None = None
    batch_size: int = 8
    lr: float = 1e-4
    weight_decay: float = 1e-4
    grad_clip: float = 0.1
    crop: int = 256
    min_scale: float = 0.5
    workers: int = 2
    seed: int = 0
    save_every: int = 500
    log_every: int = 10
    resume: str | None = None
    exclude_list: str | None = None
    init_weights: str | None = None
    val: str | None = None
    val_max_side: int = 512
    device: str = "auto"
    amp: bool | None = None
    channels_last: bool = True
    compile: bool = False
    scale_factor: float = 1.0
    tv_weight: float | None = None
    loss_form: str = "authors"
    scale_consistency: float = 0.0
    consistency_scales: tuple[float, float] = (2.0, 8.0)
    progress: bool = True
    overwrite: bool = False
    max_pixels: int | None = None


class TrainingInterrupted(KeyboardInterrupt):
    """Training was stopped by Ctrl-C (SIGINT); ``checkpoint`` is the ``last.pt`` saved first (or ``None``)."""

    def __init__(self, step: int, checkpoint: Path | None) -> None:
        super().__init__(f"interrupted at step {step}")
        self.step = step
        self.checkpoint = checkpoint


def check_config(cfg: TrainConfig) -> None:
    """Check every option of ``cfg`` before any work; the message of each error gives the valid range.

    Raises:
        ConfigError: an option is out of range, a path is missing, or ``--out`` already holds a run.
    """
    if cfg.model not in MODELS:
        raise ConfigError(f"--model must be one of {sorted(MODELS)}, got {cfg.model!r}.")
    if not cfg.data:
        raise ConfigError("give at least one folder (or file) of training images.")
    for d in cfg.data:
        if not Path(d).exists():
            raise ConfigError(f"training data {str(d)!r} does not exist; give a folder (searched recursively) or image files.")
    finite_range("--epochs", cfg.epochs, lo=1, integer=True)
    finite_range("--max-steps", cfg.max_steps, lo=1, integer=True)
    finite_range("--batch-size", cfg.batch_size, lo=1, integer=True)
    finite_range("--lr", cfg.lr, lo=0, lo_open=True)
    finite_range("--weight-decay", cfg.weight_decay, lo=0)
    if not (cfg.grad_clip > 0):  # NaN fails too
        raise ConfigError(f"--grad-clip must be a number > 0 (inf: no clipping), got {cfg.grad_clip!r}.")
    finite_range("--crop", cfg.crop, lo=8, integer=True)
    finite_range("--min-scale", cfg.min_scale, lo=0, hi=1, lo_open=True)
    finite_range("--workers", cfg.workers, lo=0, integer=True)
    finite_range("--save-every", cfg.save_every, lo=0, integer=True)
    finite_range("--log-every", cfg.log_every, lo=1, integer=True)
    finite_range("--val-max-side", cfg.val_max_side, lo=16, integer=True)
    finite_range("--scale-factor", cfg.scale_factor, lo=1)
    finite_range("--tv-weight", cfg.tv_weight, lo=0)
    finite_range("--max-pixels", cfg.max_pixels, lo=1, integer=True)
    if cfg.loss_form not in ("authors", "paper"):
        raise ConfigError(f"--loss-form must be 'authors' or 'paper', got {cfg.loss_form!r}.")
    lo, hi = cfg.consistency_scales
    if not (cfg.scale_consistency >= 0 and math.isfinite(cfg.scale_consistency)) or not 1 <= lo <= hi < math.inf:
        raise ConfigError(
            f"--scale-consistency must be >= 0 and --consistency-scales MIN MAX must satisfy 1 <= MIN <= MAX; "
            f"got {cfg.scale_consistency} and {lo} {hi}."
        )
    resolve_train_device(cfg.device)
    if cfg.exclude_list and not Path(cfg.exclude_list).is_file():
        raise ConfigError(f"--exclude-list {str(cfg.exclude_list)!r} is not a file; give a text file of names, one a line.")
    if cfg.val and not Path(cfg.val).is_dir():
        raise ConfigError(f"--val {str(cfg.val)!r} is not a folder; give a folder of validation images.")
    if cfg.resume:
        r = Path(cfg.resume)
        if not r.is_file():
            raise ConfigError(f"--resume {str(r)!r} does not exist; give the last.pt of an earlier run (RUN/last.pt).")
        if r.suffix == ".safetensors":
            raise ConfigError(
                f"--resume {str(r)!r} is a weights file, not a training checkpoint: give RUN/last.pt to continue a run, "
                "or start a new run from these weights with --init-weights."
            )
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {str(out)!r} exists and is not a folder; give a folder path.")
    if out.is_dir() and not cfg.resume and not cfg.overwrite:
        held = [n for n in RUN_FILES if (out / n).exists()]
        if held:
            raise ConfigError(
                f"--out {str(out)!r} already holds a training run ({', '.join(held)}): continue it with --resume "
                f"{str(out / 'last.pt')!r}, replace it with --overwrite, or choose another --out."
            )


def _load_resume(path: str, model: nn.Module, optimizer: torch.optim.Optimizer, scaler) -> tuple[int, int]:
    """Load a ``last.pt`` into model, optimizer and scaler; returns ``(step, epoch)``.

    Raises:
        WeightsError: the file is truncated, not a dce-train checkpoint, or for another model.
    """
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated or foreign files: any reader failure
        raise WeightsError(
            f"--resume {path!r} cannot be read as a dce-train checkpoint ({type(err).__name__}); the file may be "
            "truncated. Use another checkpoint, or start again without --resume."
        ) from err
    if not isinstance(ckpt, dict) or not {"model", "optimizer", "step", "epoch"} <= set(ckpt):
        raise WeightsError(f"--resume {path!r} is not a last.pt written by dce-train (keys model, optimizer, step, epoch).")
    state = ckpt["model"]
    own = model.state_dict()
    if not isinstance(state, dict) or set(state) != set(own) or any(
        not isinstance(state[k], Tensor) or state[k].shape != own[k].shape for k in own
    ):
        made = (ckpt.get("config") or {}).get("model", "another model") if isinstance(ckpt.get("config"), dict) else "another model"
        raise WeightsError(
            f"--resume {path!r} was written for {made}, which does not fit --model {type(model).__name__}; pass the "
            "same --model (and --scale-factor) as the run that wrote it."
        )
    if any(t.is_floating_point() and not bool(torch.isfinite(t).all()) for t in state.values()):
        raise WeightsError(f"--resume {path!r} holds NaN or infinite weights (the run diverged); use an earlier checkpoint.")
    try:
        model.load_state_dict(state)
        optimizer.load_state_dict(ckpt["optimizer"])
        if "scaler" in ckpt:
            scaler.load_state_dict(ckpt["scaler"])
        return int(ckpt["step"]), int(ckpt["epoch"])
    except (RuntimeError, ValueError, KeyError, TypeError) as err:
        raise WeightsError(f"--resume {path!r}: the optimizer state does not fit this run ({err}).") from err


class _StopFlag:
    """SIGINT sets a flag checked between steps, so that a checkpoint is saved at a consistent point.

    A second Ctrl-C interrupts at once.
    """

    def __init__(self) -> None:
        self.requested = False
        self._old: Any = None

    def __enter__(self) -> _StopFlag:  # noqa: PYI034
        if threading.current_thread() is threading.main_thread():
            self._old = signal.getsignal(signal.SIGINT)

            def handler(signum, frame):
                if self.requested:
                    raise KeyboardInterrupt
                self.requested = True

            signal.signal(signal.SIGINT, handler)
        return self

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


class ImageFolderDataset(Dataset):
    """Images under one or more folders, as random crops resized to ``crop``, randomly flipped.

    Unreadable files are found when the dataset is built, reported on stderr and skipped.
    """

    def __init__(self, roots: Sequence[str], *, crop: int = 256, min_scale: float = 0.5, train: bool = True,
                 max_side: int | None = None, exclude: Sequence[str] = (), verbose: bool = True,
                 max_pixels: int | None = DEFAULT_MAX_PIXELS) -> None:
        try:
            files = list_images(roots)
        except FileNotFoundError as err:
            raise ConfigError(f"{err} Point dce-train at a folder of images.") from err
        self.max_pixels = max_pixels
        if exclude:
            drop = set(exclude)
            files = [f for f in files if f.name not in drop and str(f) not in drop]
        self.files: list[Path] = []
        self.bad: list[tuple[Path, str]] = []
        for f in files:
            try:
                read_image(f, max_pixels=max_pixels)
                self.files.append(f)
            except ImageReadError as err:
                self.bad.append((f, str(err)))
        if verbose:
            for f, why in self.bad:
                print(f"dce-train: skipping unreadable file {f}: {why}", file=sys.stderr)
        if not self.files:
            raise ConfigError(f"no readable images (jpg/png/bmp/tif) under {list(roots)}; point dce-train at a folder of images.")
        self.crop, self.min_scale, self.train, self.max_side = crop, min_scale, train, max_side

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> Tensor:
        x = image_to_tensor(read_image(self.files[i], max_pixels=self.max_pixels))
        if not self.train:
            if self.max_side and max(x.shape[-2:]) > self.max_side:
                r = self.max_side / max(x.shape[-2:])
                size = (max(16, round(x.shape[-2] * r)), max(16, round(x.shape[-1] * r)))
                x = F.interpolate(x[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]
            return x
        h, w = x.shape[-2:]
        side = min(h, w)
        s = int(side * random.uniform(self.min_scale, 1.0))
        top, left = random.randint(0, h - s), random.randint(0, w - s)
        x = x[:, top : top + s, left : left + s]
        x = F.interpolate(x[None], size=(self.crop, self.crop), mode="bilinear", antialias=True, align_corners=False)[0]
        if random.random() < 0.5:
            x = x.flip(-1)
        if random.random() < 0.5:
            x = x.flip(-2)
        return x.clamp_(0, 1)


def build_model(cfg: TrainConfig) -> _CurveEstimator:
    """A freshly initialised (or ``--init-weights``) model for ``cfg.model``."""
    if cfg.model not in MODELS:
        raise ConfigError(f"--model must be one of {sorted(MODELS)}, got {cfg.model!r}.")
    kwargs = {"scale_factor": cfg.scale_factor} if cfg.model == "zero-dce++" else {}
    return get_model(cfg.model, weights=cfg.init_weights, validate=False, **kwargs)


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _worker_init(worker_id: int) -> None:
    torch.set_num_threads(1)
    info = torch.utils.data.get_worker_info()
    seed = (info.seed if info is not None else worker_id) % (2**32)
    random.seed(seed)
    np.random.seed(seed)


def scale_consistency_loss(net: nn.Module, x: Tensor, y: Tensor, *, scale: float, iterations: int) -> Tensor:
    """Mean squared difference between bounded-resolution and full-resolution enhancement.

    The curve maps are estimated on ``x`` down-scaled by ``scale`` exactly as ``curve_max_side`` does
    at inference (the model's :meth:`~dce_transforms.ZeroDCE.curve_input`, longer side
    ``max(8, round(side / scale))``), then up-sampled and applied to ``x`` by the model's
    :meth:`~dce_transforms.ZeroDCE.apply_curves`; the result is compared with ``y``, the full-resolution
    output, which is the target (detached). Training with this term makes ``curve_max_side`` agree
    better with full-resolution enhancement. ``iterations`` must be the model's.
    """
    core = _unwrap(net)
    if not isinstance(core, _CurveEstimator):
        raise ConfigError(f"the scale-consistency term needs a ZeroDCE or ZeroDCEPP model, got {type(core).__name__}.")
    if iterations != core.iterations:
        raise ConfigError(f"iterations={iterations} but the model applies {core.iterations} curve steps.")
    x_small = core.curve_input(x, max(8, round(max(x.shape[-2:]) / scale)))
    _, alpha_small = net(x_small, return_curves=True)
    y_bounded = core.apply_curves(x.float(), alpha_small.float())
    return F.mse_loss(y_bounded, y.detach().float())


def _unwrap(model: nn.Module) -> nn.Module:
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)


@torch.no_grad()
def validate(model: nn.Module, loader: DataLoader, loss_fn: ZeroReferenceLoss, device: torch.device) -> dict[str, float]:
    """Mean loss terms and mean exposure over a validation folder (one image at a time)."""
    model.eval()
    sums: dict[str, float] = {}
    n = 0
    for x in loader:
        x = x.to(device)
        y, alpha = model(x, return_curves=True)
        total, terms = loss_fn(y, x, alpha)
        vals = {"loss": float(total), **{k: float(v) for k, v in terms.items()}, "exposure": float(y.mean())}
        for k, v in vals.items():
            sums[k] = sums.get(k, 0.0) + v
        n += 1
    model.train()
    return {k: v / max(n, 1) for k, v in sums.items()}


def train(cfg: TrainConfig) -> Path:
    """Run training and return the path of the final safetensors weights.

    Every option is checked first (:func:`check_config`). Ctrl-C (SIGINT) stops at the end of the
    current step, saves ``last.pt`` and raises :class:`TrainingInterrupted`; ``--resume`` continues from it.

    Raises:
        ConfigError: an option is out of range, a path is missing, or ``out`` already holds a run.
        WeightsError: ``resume`` or ``init_weights`` cannot be loaded.
        TrainingInterrupted: Ctrl-C.
    """
    check_config(cfg)
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    device = resolve_train_device(cfg.device)
    rank, world = 0, 1
    if distributed:
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend)
        rank, world = dist.get_rank(), dist.get_world_size()
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
    main_proc = rank == 0
    _seed_all(cfg.seed + rank)
    amp = (device.type == "cuda") if cfg.amp is None else cfg.amp
    out = Path(cfg.out)
    if main_proc:
        check_writable_dir(out, option="--out")

    exclude: list[str] = []
    if cfg.exclude_list:
        try:
            lines = Path(cfg.exclude_list).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"--exclude-list {cfg.exclude_list!r} cannot be read as UTF-8 text ({err}).") from err
        exclude = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
    max_pixels = DEFAULT_MAX_PIXELS if cfg.max_pixels is None else cfg.max_pixels
    dataset = ImageFolderDataset(cfg.data, crop=cfg.crop, min_scale=cfg.min_scale, exclude=exclude, verbose=main_proc,
                                 max_pixels=max_pixels)
    if main_proc:
        print(f"dce-train: {len(dataset)} training images ({len(exclude)} names excluded)", file=sys.stderr)
    sampler: DistributedSampler | None = (
        DistributedSampler(dataset, num_replicas=world, rank=rank, seed=cfg.seed) if distributed else None
    )
    loader = DataLoader(
        dataset, batch_size=cfg.batch_size, shuffle=sampler is None, sampler=sampler, num_workers=cfg.workers,
        drop_last=len(dataset) >= cfg.batch_size * world, worker_init_fn=_worker_init,
        persistent_workers=cfg.workers > 0, pin_memory=device.type == "cuda",
        generator=torch.Generator().manual_seed(cfg.seed + rank),
    )
    val_loader = None
    if cfg.val and main_proc:
        val_set = ImageFolderDataset([cfg.val], train=False, max_side=cfg.val_max_side, verbose=True,
                                     max_pixels=max_pixels)
        val_loader = DataLoader(val_set, batch_size=1, num_workers=0)

    model = build_model(cfg).to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=amp and device.type == "cuda")
    tv_weight = cfg.tv_weight if cfg.tv_weight is not None else default_tv_weight(cfg.model, cfg.crop)
    if main_proc:
        print(f"dce-train: TV weight {tv_weight:g}" + (" (the authors' weight rescaled to --crop)" if cfg.tv_weight is None else ""),
              file=sys.stderr)
    loss_fn = ZeroReferenceLoss(tv_weight=tv_weight, form=cfg.loss_form)  # type: ignore[arg-type]
    iterations = int(model.iterations)
    lo, hi = cfg.consistency_scales
    step, start_epoch = 0, 0
    if cfg.resume:
        step, start_epoch = _load_resume(cfg.resume, model, optimizer, scaler)
        for group in optimizer.param_groups:  # the command line's values win over the checkpoint's
            group["lr"], group["weight_decay"] = cfg.lr, cfg.weight_decay
        if main_proc:
            print(f"dce-train: resumed from {cfg.resume} at epoch {start_epoch}, step {step}", file=sys.stderr)
    net: nn.Module = model
    if distributed:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.compile:
        net = torch.compile(net)  # type: ignore[assignment]

    steps_per_epoch = len(loader)
    total_steps = cfg.epochs * steps_per_epoch
    if cfg.max_steps is not None:
        total_steps = min(total_steps, cfg.max_steps)
    log_path = out / "log.csv"
    fields = ["step", "epoch", "loss", "spa", "exp", "col", "tv", "lr", "images_per_s", "elapsed_s"]
    if cfg.scale_consistency > 0:
        fields.insert(7, "cons")
    writer = None
    tb = None
    if main_proc:
        new = not (cfg.resume and log_path.exists())
        log_file = open(log_path, "a" if not new else "w", newline="")  # noqa: SIM115 - closed in the finally below
        writer = csv.DictWriter(log_file, fieldnames=fields)
        if new:
            writer.writeheader()
        try:
            from torch.utils.tensorboard import SummaryWriter  # noqa: PLC0415

            tb = SummaryWriter(str(out / "tb"))
        except Exception:  # tensorboard is optional
            tb = None

    def save(tag: str, epoch: int) -> Path | None:
        if not main_proc:
            return None
        state = {
            "model": _unwrap(model).state_dict(),
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict(),
            "step": step,
            "epoch": epoch,
            "config": {k: (v if not isinstance(v, list) else list(v)) for k, v in vars(cfg).items()},
        }
        with atomic_path(out / f"{tag}.pt") as tmp:  # usual permissions; the temporary is removed on failure
            torch.save(state, tmp)
        return out / f"{tag}.pt"

    progress = None
    if main_proc and cfg.progress:
        from tqdm import tqdm  # noqa: PLC0415

        progress = tqdm(total=total_steps, initial=step, desc=f"dce-train {cfg.model}", dynamic_ncols=True)
    t0 = time.time()
    seen = 0
    model.train()
    epoch = start_epoch
    amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    done = step >= total_steps
    with _StopFlag() as stop:
        try:
            while not done:
                if stop.requested:
                    raise KeyboardInterrupt
                if sampler is not None:
                    sampler.set_epoch(epoch)
                for x in loader:
                    x = x.to(device, non_blocking=True)
                    if cfg.channels_last:
                        x = x.contiguous(memory_format=torch.channels_last)
                    with torch.autocast(device.type, dtype=amp_dtype, enabled=amp):
                        y, alpha = net(x, return_curves=True)
                    loss, terms = loss_fn(y.float(), x.float(), alpha.float())
                    if cfg.scale_consistency > 0:
                        scale = math.exp(random.uniform(math.log(lo), math.log(hi)))
                        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp):
                            cons = scale_consistency_loss(model, x, y, scale=scale, iterations=iterations)
                        terms = {**terms, "cons": cons}
                        loss = loss + cfg.scale_consistency * cons
                    optimizer.zero_grad(set_to_none=True)
                    scaler.scale(loss).backward()
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                    scaler.step(optimizer)
                    scaler.update()
                    step += 1
                    seen += x.shape[0] * world
                    if main_proc and (step % cfg.log_every == 0 or step == total_steps):
                        elapsed = time.time() - t0
                        row = {"step": step, "epoch": epoch, "loss": float(loss.detach()),
                               **{k: float(v.detach()) for k, v in terms.items()},
                               "lr": optimizer.param_groups[0]["lr"], "images_per_s": seen / max(elapsed, 1e-9),
                               "elapsed_s": elapsed}
                        assert writer is not None
                        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
                        log_file.flush()
                        if tb is not None:
                            for k in ("loss", "spa", "exp", "col", "tv"):
                                tb.add_scalar(f"train/{k}", row[k], step)
                        if progress is not None:
                            progress.set_postfix({k: f"{row[k]:.4g}" for k in ("loss", "spa", "exp", "col", "tv")})
                    if progress is not None:
                        progress.update(1)
                    if cfg.save_every and step % cfg.save_every == 0:
                        save("last", epoch)
                    if step >= total_steps:
                        done = True
                        break
                    if stop.requested:
                        raise KeyboardInterrupt
                epoch += 1
                if val_loader is not None and main_proc:
                    scores = validate(_unwrap(model), val_loader, loss_fn, device)
                    print(f"dce-train: epoch {epoch} validation " + " ".join(f"{k}={v:.4g}" for k, v in scores.items()),
                          file=sys.stderr)
                    with open(out / "val.csv", "a") as f:
                        f.write(f"{epoch},{step}," + ",".join(f"{k}={v:.6g}" for k, v in scores.items()) + "\n")
                    if tb is not None:
                        for k, v in scores.items():
                            tb.add_scalar(f"val/{k}", v, step)
        except BaseException as err:
            # Ctrl-C (or a DataLoader worker killed by the same SIGINT): save a checkpoint that --resume continues.
            if not (stop.requested or isinstance(err, KeyboardInterrupt)):
                raise
            if progress is not None:
                progress.close()
            ckpt = None
            try:
                ckpt = save("last", epoch)
            finally:
                if writer is not None:
                    log_file.close()
                if tb is not None:
                    tb.close()
                if distributed and dist.is_initialized():
                    dist.destroy_process_group()
            raise TrainingInterrupted(step, ckpt) from None
    if progress is not None:
        progress.close()
    save("last", epoch)
    final = out / "final.safetensors"
    if main_proc:
        sha = save_state_dict(_unwrap(model).state_dict(), final, metadata={"model": cfg.model, "steps": str(step)})
        with atomic_path(out / "final.sha256") as tmp:
            tmp.write_text(f"{sha}  final.safetensors\n")
        print(f"dce-train: wrote {final} (sha256 {sha}) after {step} steps, {time.time() - t0:.0f} s", file=sys.stderr)
        if writer is not None:
            log_file.close()
        if tb is not None:
            tb.close()
    if distributed:
        dist.barrier()
        dist.destroy_process_group()
    return final

"""``dce-train``: zero-reference training of ZeroDCE / ZeroDCEPP on any folder of images.

No paired data is needed: the four zero-reference losses drive the curve estimator.
The default recipe is the authors': Adam, lr 1e-4, weight decay 1e-4, batch 8, gradient
clipping at 0.1, 256×256 inputs, loss weights spa 1 / exp 10 / col 5 / TV 200 at 256 px (Zero-DCE++: 1600 at
512 px); the TV weight is rescaled to the training resolution (``default_tv_weight``).

Multi-GPU (or multi-process CPU) training runs through ``torchrun``::

    torchrun --nproc_per_node 2 -m dce_transforms.cli.dce_train DATA --out runs/ddp

Example:
    dce-train ../shared/data/train/sice --model zero-dce --epochs 100 --out runs/zero_dce

Every option is checked before any work (the message gives the valid range). An ``--out`` that
already holds a run is refused unless ``--resume`` or ``--overwrite`` is given. Ctrl-C stops after
the current step and saves ``OUT/last.pt``; ``--resume OUT/last.pt`` continues from there.

Exit status: 0 trained, 1 a write failed during training (e.g. disk full), 2 usage errors,
130 interrupted (checkpoint saved).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..errors import DCEError
from ..io import DEFAULT_MAX_PIXELS
from ..train import MODELS, TrainConfig, TrainingInterrupted, train
from ._common import EXIT_INTERRUPTED, HelpFormatter, describe_os_error, parse_args

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    d = TrainConfig(data=[])
    p = argparse.ArgumentParser(prog="dce-train", description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("data", nargs="+", help="folders (searched recursively) or files of training images")
    p.add_argument("--out", default=d.out, help="output folder for checkpoints and logs (default %(default)s)")
    p.add_argument("--model", choices=sorted(MODELS), default=d.model, help="model to train (default %(default)s)")
    p.add_argument("--epochs", type=int, default=d.epochs, help="passes over the training images (default %(default)s)")
    p.add_argument("--max-steps", type=int, default=None, metavar="N",
                   help="stop after N optimiser steps (default %(default)s: run every epoch)")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="images per step and process (default %(default)s)")
    p.add_argument("--lr", type=float, default=d.lr, help="Adam learning rate (default %(default)s)")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help="Adam weight decay (default %(default)s)")
    p.add_argument("--grad-clip", type=float, default=d.grad_clip,
                   help="clip the gradient norm to this value, inf: no clipping (default %(default)s)")
    p.add_argument("--crop", type=int, default=d.crop, help="training resolution, square, in px (default %(default)s)")
    p.add_argument("--min-scale", type=float, default=d.min_scale,
                   help="smallest random crop, as a fraction of the short side (default %(default)s)")
    p.add_argument("--workers", type=int, default=d.workers, help="DataLoader worker processes (default %(default)s)")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of initialisation, crops and order (default %(default)s)")
    p.add_argument("--save-every", type=int, default=d.save_every, metavar="N",
                   help="write last.pt every N steps, 0: only at the end (default %(default)s)")
    p.add_argument("--log-every", type=int, default=d.log_every, metavar="N",
                   help="write a log.csv row every N steps (default %(default)s)")
    p.add_argument("--resume", default=None, metavar="LAST.pt",
                   help="continue from a last.pt checkpoint; Ctrl-C saves one and the message names it "
                        "(default %(default)s: a new run)")
    p.add_argument("--exclude-list", default=None, metavar="FILE",
                   help="text file of file names (or paths) to leave out, one a line (default %(default)s)")
    p.add_argument("--init-weights", default=None, metavar="WEIGHTS",
                   help="start from these weights, a safetensors file or a registered name "
                        "(default %(default)s: random initialisation)")
    p.add_argument("--val", default=None, metavar="FOLDER",
                   help="validation folder scored after each epoch (default %(default)s: no validation)")
    p.add_argument("--device", default=d.device, help="auto, cpu, cuda or cuda:N (default %(default)s)")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                   help="mixed precision (default %(default)s: on with CUDA, off on the CPU)")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=d.channels_last,
                   help="channels-last memory format (default %(default)s)")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=d.compile,
                   help="torch.compile the model (default %(default)s)")
    p.add_argument("--scale-factor", type=float, default=d.scale_factor,
                   help="zero-dce++ curve estimation scale (default %(default)s)")
    p.add_argument("--tv-weight", type=float, default=None,
                   help="illumination-smoothness weight (default %(default)s: the authors' 200 at 256 px (zero-dce) "
                        "or 1600 at 512 px (zero-dce++), scaled by (crop / that size)^2, which keeps their "
                        "smoothness at any --crop)")
    p.add_argument("--loss-form", choices=["authors", "paper"], default=d.loss_form,
                   help="zero-reference loss as in the authors' code or as in the paper (default %(default)s)")
    p.add_argument("--scale-consistency", type=float, default=d.scale_consistency,
                   help="weight of the bounded-vs-full-resolution agreement term, 0: off; makes curve_max_side "
                        "outputs closer to full-resolution ones (default %(default)s)")
    p.add_argument("--consistency-scales", type=float, nargs=2, default=d.consistency_scales, metavar=("MIN", "MAX"),
                   help="down-scale factors drawn log-uniformly for that term (default %(default)s)")
    p.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no progress bar (default: a progress bar)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run already in --out (default: refuse, so that no earlier run is lost)")
    p.add_argument("--max-pixels", type=int, default=None, metavar="N",
                   help=f"skip images declaring more than N pixels (default {DEFAULT_MAX_PIXELS:,})")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``dce-train``; returns the exit status.

    0: trained; 1: training failed while writing (e.g. disk full); 2: bad usage (every option is
    checked before any work, the message gives the valid range); 130: interrupted by Ctrl-C, after
    saving ``last.pt`` so that ``--resume OUT/last.pt`` continues.
    """
    args = parse_args(_parser(), argv)
    if isinstance(args, int):
        return args
    cfg = TrainConfig(**{**vars(args), "consistency_scales": tuple(args.consistency_scales)})
    try:
        train(cfg)
    except TrainingInterrupted as stop:
        if stop.checkpoint is not None:
            print(f"\ndce-train: interrupted at step {stop.step}; saved {stop.checkpoint}. Continue with --resume "
                  f"{stop.checkpoint}", file=sys.stderr)
        else:
            print(f"\ndce-train: interrupted at step {stop.step}.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("\ndce-train: interrupted before training started; nothing was written.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except DCEError as err:
        print(f"dce-train: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"dce-train: error: {describe_os_error(err)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

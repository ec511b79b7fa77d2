"""``dce-eval``: score enhancers side by side on a folder of images.

Rows of the table are enhancers: ``input`` (the identity, a baseline), ours (the shipped weights,
or each ``--weights`` given), and the authors' released checkpoints when ``--official`` points
at them. Three modes:

* no reference (default): real low-light photos; no-reference figures only;
* ``--reference REF_DIR``: well-exposed ground truth, paired with each input by relative path
  (any image extension; then by unique file stem); adds PSNR and SSIM;
* ``--well-lit``: INPUT_DIR holds *well-exposed* images; each output is compared with its own
  input (PSNR, SSIM, brightness gain): the do-no-harm figure of an enhancer in front of a detector;
* ``--simulate``: INPUT_DIR holds *normal-light* images; each is darkened with
  :func:`dce_transforms.simulate.simulate_low_light` (seeded per file from ``--seed`` and its
  relative path, so a file gets the same darkening whatever ``--limit`` is), enhanced, and compared
  with the original (PSNR, SSIM).

Columns (means over images; see :mod:`dce_transforms.metrics`): mean exposure, its absolute error
from 0.6, the four zero-reference loss terms unweighted (spa, exp, col, tv), their weighted sum as
in training (loss), lightness-order error (LOE, lightness down-sampled to a 100 px longer side),
colourfulness (Hasler & Süsstrunk), and PSNR/SSIM when there is a reference.

Examples:
    dce-eval ../shared/data/lowlight/dicm --official zero-dce=../shared/weights/official/zero_dce_epoch99.pth
    dce-eval ../shared/data/train/sice --simulate --limit 50 --json sim.json
    dce-eval low/ --reference high/ --weights runs/a/best.safetensors --weights runs/b/best.safetensors

``--json`` and ``--markdown`` are checked before any scoring: a folder, an input or reference
file, a path inside INPUT_DIR or REF_DIR, or an unwritable location is refused (exit 2). They are
written atomically.

Exit status: 0 when every image was scored, 1 when some file could not be read or paired
(reported on stderr, the rest is still scored) or a result file could not be written, 2 for
usage errors, 130 when interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import DCEError, UsageError
from ..evaluate import Method, evaluate, format_table, parse_official
from ..io import DEFAULT_MAX_PIXELS, atomic_path
from ..registry import model_class
from ._common import (
    AUTO_CURVE_MAX_SIDE,
    HelpFormatter,
    build_model,
    check_output_file,
    describe_os_error,
    interruptible,
    parse_args,
    parse_curve_max_side,
    resolve_device,
)

__all__ = ["main"]

_PROG = "dce-eval"


def _model_method(name: str, model: nn.Module, device: torch.device, info: dict) -> Method:
    model = model.to(device).eval()

    def run(x: Tensor) -> tuple[Tensor, Tensor | None]:
        with torch.inference_mode():
            y, alpha = model(x.to(device)[None], return_curves=True)
        return y[0].float().cpu(), alpha[0].float().cpu()

    return Method(name, run, info)



def _identity(x: Tensor) -> tuple[Tensor, Tensor | None]:
    return x, None



def _jsonable(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v



def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=_PROG, description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("input_dir", metavar="INPUT_DIR", help="folder of images (searched recursively)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--reference", metavar="REF_DIR",
                      help="folder of well-exposed ground truth, paired by relative path")
    mode.add_argument("--simulate", action="store_true",
                      help="INPUT_DIR holds normal-light images: darken them (seeded) and score against the originals")
    mode.add_argument("--well-lit", action="store_true",
                      help="INPUT_DIR holds well-exposed images: score each output against its own input (PSNR, "
                           "SSIM, brightness gain); an enhancer that does no harm scores high PSNR and gain near 1")
    p.add_argument("--model", choices=["zero-dce", "zero-dce++"], default="zero-dce",
                   help="our model (default %(default)s)")
    p.add_argument("--weights", action="append", default=None, metavar="W",
                   help="our weights (shipped name or file); repeat to compare several (default: the shipped weights)")
    p.add_argument("--no-ours", action="store_true", help="leave our model out (compare only input and --official)")
    p.add_argument("--official", action="append", default=[], metavar="[MODEL=]PATH",
                   help="the authors' checkpoint (non-commercial licence; comparison only): zero-dce=PATH or "
                        "zero-dce++=PATH; repeatable")
    p.add_argument("--scale-factor", type=float, default=None, help="zero-dce++ curve estimation scale (default 1)")
    p.add_argument("--curve-max-side", type=parse_curve_max_side, default=AUTO_CURVE_MAX_SIDE, metavar="N",
                   help=f"as in dce-enhance: auto (= {AUTO_CURVE_MAX_SIDE}), none, or N")
    p.add_argument("--seed", type=int, default=0, help="seed of --simulate (default %(default)s)")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="score only the first N images (sorted by path)")
    p.add_argument("--max-side", type=int, default=None, metavar="N",
                   help="down-scale images (and references) so the longer side is at most N px before scoring")
    p.add_argument("--loe-size", type=int, default=100, help="longer side of the LOE lightness maps (default 100)")
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, metavar="N",
                   help="skip images declaring more than N pixels, before decoding them (default %(default)s)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--json", metavar="OUT.json", help="write settings, summaries and per-image figures as JSON")
    p.add_argument("--markdown", metavar="OUT.md", help="also write the markdown table to this file")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p



def _build_methods(args: argparse.Namespace, device: torch.device) -> list[Method]:
    methods = [Method("input", _identity, {"kind": "identity"})]
    if not args.no_ours:
        for w in args.weights or ["default"]:
            if w == "default":
                shipped = model_class(args.model).default_weights
                label = "shipped" if shipped else "random init: no shipped weights yet"
            else:
                label = Path(w).name if Path(w).suffix else w
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                model = build_model(args.model, weights=w, curve_max_side=args.curve_max_side,
                                    scale_factor=args.scale_factor if args.model == "zero-dce++" else None)
            for c in caught:
                print(f"{_PROG}: warning: {c.message}", file=sys.stderr)
            methods.append(_model_method(f"{args.model} ({label})", model, device,
                                         {"kind": "ours", "model": args.model, "weights": w}))
    for spec in args.official:
        name, path = parse_official(spec)
        cls: Any = model_class(name)  # ZeroDCE or ZeroDCEPP, both with from_official
        extra = {"scale_factor": args.scale_factor or 1.0} if name == "zero-dce++" else {}
        model = cls.from_official(path, curve_max_side=args.curve_max_side, validate=False, **extra)
        methods.append(_model_method(f"{name} (official)", model, device,
                                     {"kind": "official", "model": name, "weights": str(path)}))
    names = [m.name for m in methods]
    if len(set(names)) != len(names):
        raise UsageError(f"two enhancers have the same name ({names}); give each --weights a different file name.")
    return methods



def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse --json / --markdown paths that are folders, inputs, inside the data, or unwritable."""
    dirs = [Path(args.input_dir)] + ([Path(args.reference)] if args.reference else [])
    given = [Path(w) for w in (args.weights or []) if Path(w).is_file()]
    given += [Path(spec.partition("=")[2] or spec) for spec in args.official]
    seen: dict[Path, str] = {}
    for option in ("--json", "--markdown"):
        value = getattr(args, option[2:])
        if not value:
            continue
        path = check_output_file(value, option=option, inputs=given, input_dirs=[d for d in dirs if d.is_dir()])
        key = path.resolve()
        if key in seen:
            raise UsageError(f"{seen[key]} and {option} are the same file {value!r}; give two different paths.")
        seen[key] = option



def _write_text(path: str, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")



@interruptible(_PROG, "nothing was written")
def main(argv: Sequence[str] | None = None) -> int:
    """Run ``dce-eval``; returns the exit status (0 ok, 1 some files failed, 2 usage error, 130 Ctrl-C)."""
    args = parse_args(_parser(), argv)
    if isinstance(args, int):
        return args
    try:
        if args.limit is not None and args.limit < 1:
            raise UsageError(f"--limit must be at least 1, got {args.limit}.")
        if args.max_side is not None and args.max_side < 16:
            raise UsageError(f"--max-side must be at least 16, got {args.max_side}.")
        if args.loe_size < 2:
            raise UsageError(f"--loe-size must be at least 2, got {args.loe_size}.")
        if args.max_pixels < 1:
            raise UsageError(f"--max-pixels must be an integer >= 1, got {args.max_pixels}.")
        _check_outputs(args)
        device = resolve_device(args.device)
        methods = _build_methods(args, device)
        result = evaluate(args.input_dir, methods, reference=args.reference, simulate=args.simulate,
                          well_lit=args.well_lit, seed=args.seed,
                          limit=args.limit, max_side=args.max_side, loe_size=args.loe_size, progress=not args.quiet,
                          max_pixels=args.max_pixels)
    except DCEError as err:
        print(f"{_PROG}: error: {err}", file=sys.stderr)
        return 2
    mode = ("simulate" if args.simulate else "well-lit" if args.well_lit else "reference" if args.reference
            else "no-reference")
    table = format_table(result)
    print(table)
    write_failed = False
    if args.markdown:
        head = f"`dce-eval {args.input_dir}` ({mode}; seed {args.seed}; max side {args.max_side or 'full'})\n\n"
        try:
            _write_text(args.markdown, head + table + "\n")
        except OSError as err:
            print(f"{_PROG}: error: --markdown: {describe_os_error(err, args.markdown)}", file=sys.stderr)
            write_failed = True
    if args.json:
        doc = {
            "input_dir": str(args.input_dir),
            "mode": mode,
            "reference": args.reference,
            "seed": args.seed,
            "limit": args.limit,
            "max_side": args.max_side,
            "loe_size": args.loe_size,
            "curve_max_side": args.curve_max_side,
            "device": str(device),
            "note": "non-finite values (e.g. PSNR of identical images) are written as null",
            "methods": [
                {"name": m.name, **m.info, "summary": result.summary()[m.name], "per_image": result.per_image[m.name]}
                for m in result.methods
            ],
            "failed": [{"file": f, "reason": r} for f, r in result.failed],
        }
        try:
            _write_text(args.json, json.dumps(_jsonable(doc), indent=2, allow_nan=False) + "\n")
        except OSError as err:
            print(f"{_PROG}: error: --json: {describe_os_error(err, args.json)}", file=sys.stderr)
            write_failed = True
    if result.failed:
        print(f"{_PROG}: {len(result.failed)} file(s) could not be scored (see above).", file=sys.stderr)
        return 1
    return 1 if write_failed else 0


if __name__ == "__main__":
    sys.exit(main())

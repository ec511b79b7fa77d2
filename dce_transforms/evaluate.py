"""The scoring library behind ``dce-eval``: enhancers side by side on a folder of images.

:func:`evaluate` scores a list of :class:`Method` (a name and a function image → enhanced image and
curve maps) on every image of a folder, in one of four modes (no reference; ``reference``: paired
ground truth; ``well_lit``: each output against its own well-exposed input; ``simulate``: darkened
normal-light images against their originals), and :func:`format_table` prints the means as a
markdown table. The modes and columns are described in :mod:`dce_transforms.cli.dce_eval`, the
command line (``dce-eval --help``).
"""

from __future__ import annotations

import math
import sys
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch.nn.functional as F
from torch import Tensor

from . import metrics
from .errors import DCEError, UsageError
from .io import DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES, image_to_tensor, list_images, read_image

__all__ = ["Method", "EvalResult", "parse_official", "simulation_seed", "find_reference", "evaluate",
           "format_table"]

_PROG = "dce-eval"

#: Table columns: (key in the per-image scores, header).
COLUMNS = [
    ("exposure", "exposure"),
    ("exposure_error", "exposure err"),  # |mean - 0.6|; no pipes inside a markdown cell
    ("spa", "spa"),
    ("exp", "exp"),
    ("col", "col"),
    ("tv", "tv"),
    ("loss", "loss (weighted)"),
    ("loe", "LOE"),
    ("colorfulness", "colourfulness"),
    ("psnr", "PSNR dB"),
    ("ssim", "SSIM"),
    ("gain", "gain"),  # mean brightness of the output / of the input
]


@dataclass
class Method:
    """One row of the table: a name and a function image → (enhanced, curve maps or None)."""

    name: str
    run: Callable[[Tensor], tuple[Tensor, Tensor | None]]
    info: dict = field(default_factory=dict)


@dataclass
class EvalResult:
    """Per-image scores of every method, and the files that failed."""

    per_image: dict[str, dict[str, dict[str, float]]]  # method -> file -> metric -> value
    failed: list[tuple[str, str]]
    methods: list[Method]

    def summary(self) -> dict[str, dict[str, float]]:
        """Mean of each metric over the scored images, per method."""
        out: dict[str, dict[str, float]] = {}
        for m in self.methods:
            rows = list(self.per_image.get(m.name, {}).values())
            keys = [k for k, _ in COLUMNS if rows and k in rows[0]] + sorted(
                {k for r in rows for k in r} - {k for k, _ in COLUMNS}
            )
            out[m.name] = {k: sum(r[k] for r in rows) / len(rows) for k in keys} if rows else {}
        return out


def parse_official(spec: str) -> tuple[str, Path]:
    """``zero-dce=PATH``, ``zero-dce++=PATH`` or a bare ``PATH`` (model read from the checkpoint keys).

    Example:
        >>> parse_official("zero-dce++=w/pp.pth")
        ('zero-dce++', PosixPath('w/pp.pth'))
    """
    name, sep, path = spec.partition("=")
    if sep and name in ("zero-dce", "zero-dce++"):
        return name, Path(path)
    if sep and not Path(spec).exists():
        raise UsageError(f"--official expects zero-dce=PATH, zero-dce++=PATH or PATH, got {spec!r}.")
    p = Path(spec)
    if not p.is_file():
        raise UsageError(f"--official {spec!r}: no such file.")
    from ._weights import load_state_dict  # noqa: PLC0415

    keys = load_state_dict(p)
    return ("zero-dce++" if any("depth_conv" in k for k in keys) else "zero-dce"), p


def simulation_seed(seed: int, rel: str) -> int:
    """Seed of the simulated darkening of one file: depends on ``--seed`` and its relative path only.

    Example:
        >>> simulation_seed(0, "a/b.png") == simulation_seed(0, "a/b.png") != simulation_seed(1, "a/b.png")
        True
    """
    return (int(seed) * 1_000_003 + zlib.crc32(rel.replace("\\", "/").encode())) % (2**63)


def find_reference(ref_dir: Path, rel: Path, _index: dict[str, list[Path]] | None = None) -> Path | None:
    """The ground-truth file for ``rel``: same relative path, else same relative stem with any image
    extension, else the only file under ``ref_dir`` with that stem."""
    exact = ref_dir / rel
    if exact.is_file():
        return exact
    for ext in sorted(IMAGE_SUFFIXES):
        for cand in (ref_dir / rel.with_suffix(ext), ref_dir / rel.with_suffix(ext.upper())):
            if cand.is_file():
                return cand
    if _index is not None:
        hits = _index.get(rel.stem, [])
        if len(hits) == 1:
            return hits[0]
    return None


def _downscale(x: Tensor, max_side: int | None) -> Tensor:
    h, w = x.shape[-2:]
    if not max_side or max(h, w) <= max_side:
        return x
    r = max_side / max(h, w)
    size = (max(16, round(h * r)), max(16, round(w * r)))
    return F.interpolate(x[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0].clamp(0, 1)


def evaluate(
    input_dir: str | Path,
    methods: Sequence[Method],
    *,
    reference: str | Path | None = None,
    simulate: bool = False,
    well_lit: bool = False,
    seed: int = 0,
    limit: int | None = None,
    max_side: int | None = None,
    loe_size: int = 100,
    progress: bool = True,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> EvalResult:
    """Score every method on every image of ``input_dir`` (the modes: :mod:`dce_transforms.cli.dce_eval`)."""
    if sum([reference is not None, simulate, well_lit]) > 1:
        raise UsageError("--reference, --simulate and --well-lit exclude each other: choose one mode.")
    root = Path(input_dir)
    if not root.is_dir():
        raise UsageError(f"INPUT_DIR {str(root)!r} is not a folder.")
    files = list_images([root])
    if limit is not None:
        files = files[: max(0, limit)]
    if not files:
        raise UsageError(f"no images found under {str(root)!r} ({', '.join(sorted(IMAGE_SUFFIXES))}).")
    ref_root = Path(reference) if reference is not None else None
    index: dict[str, list[Path]] = {}
    if ref_root is not None:
        if not ref_root.is_dir():
            raise UsageError(f"--reference {str(ref_root)!r} is not a folder.")
        for f in list_images([ref_root]):
            index.setdefault(f.stem, []).append(f)
    if simulate:
        from .simulate import simulate_low_light  # noqa: PLC0415

    per_image: dict[str, dict[str, dict[str, float]]] = {m.name: {} for m in methods}
    failed: list[tuple[str, str]] = []
    from tqdm.auto import tqdm  # noqa: PLC0415

    for f in tqdm(files, desc=_PROG, unit="img", disable=not progress, file=sys.stderr, dynamic_ncols=True):
        rel = f.relative_to(root)
        key = rel.as_posix()
        try:
            x = image_to_tensor(read_image(f, max_pixels=max_pixels))
            ref: Tensor | None = None
            if ref_root is not None:
                rf = find_reference(ref_root, rel, index)
                if rf is None:
                    raise DCEError(
                        f"no reference image for {key} under {str(ref_root)!r} (same relative path or stem)."
                    )
                ref = image_to_tensor(read_image(rf, max_pixels=max_pixels))
                if ref.shape != x.shape:
                    raise DCEError(
                        f"reference {str(rf)!r} is {tuple(ref.shape[1:])} but the input is {tuple(x.shape[1:])}; "
                        "pairs must have the same size."
                    )
                ref = _downscale(ref, max_side)
            x = _downscale(x, max_side)
            if simulate:
                ref = x
                x = simulate_low_light(x, seed=simulation_seed(seed, key))
            if well_lit:  # do no harm: a well-exposed image should come back as it went in
                ref = x
            scores = {}
            for m in methods:
                y, alpha = m.run(x)
                scores[m.name] = metrics.score(y, x, alpha, reference=ref, loe_size=loe_size)
                scores[m.name]["gain"] = float(y.mean() / x.mean().clamp(min=1e-6))
        except KeyboardInterrupt:
            raise
        except Exception as err:  # noqa: BLE001 - one bad file must not stop the evaluation
            reason = str(err) if isinstance(err, DCEError) else f"{type(err).__name__}: {err}"
            failed.append((key, reason))
            tqdm.write(f"{_PROG}: skipped {f}: {reason}", file=sys.stderr)
            continue
        for name, s in scores.items():
            per_image[name][key] = s
    return EvalResult(per_image=per_image, failed=failed, methods=list(methods))


def _fmt(v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:.1f}"
    if abs(v) >= 1:
        return f"{v:.3f}"
    return f"{v:.4f}" if abs(v) >= 1e-3 else f"{v:.2e}"


def format_table(result: EvalResult) -> str:
    """The summary as a GitHub markdown table (one row per method)."""
    summary = result.summary()
    present = [(k, h) for k, h in COLUMNS if any(k in s for s in summary.values())]
    n = {m.name: len(result.per_image.get(m.name, {})) for m in result.methods}
    lines = ["| method | images | " + " | ".join(h for _, h in present) + " |",
             "|---|---:|" + "---:|" * len(present)]
    for m in result.methods:
        s = summary.get(m.name, {})
        lines.append(f"| {m.name} | {n[m.name]} | " + " | ".join(_fmt(s[k]) if k in s else "n/a" for k, _ in present)
                     + " |")
    return "\n".join(lines)

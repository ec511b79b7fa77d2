"""Helpers shared by the command-line tools: parsing without exiting, usage errors, Ctrl-C, output checks, devices.

Exit statuses of every tool: 0 all done, 1 some items failed, 2 bad usage, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import errno
import functools
import math
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError, DCEError, UsageError

if TYPE_CHECKING:
    import torch

__all__ = [
    "EXIT_INTERRUPTED",
    "AUTO_CURVE_MAX_SIDE",
    "OutputError",
    "plain_text",
    "HelpFormatter",
    "parse_args",
    "usage_error",
    "interruptible",
    "describe_os_error",
    "is_disk_full",
    "is_within",
    "check_writable_dir",
    "check_output_file",
    "finite_range",
    "parse_curve_max_side",
    "build_model",
    "resolve_device",
    "resolve_train_device",
]

#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130

#: ``--curve-max-side auto``: curves are estimated at full resolution up to this longer side,
#: and on a copy down-scaled to it above (then applied at full resolution).
AUTO_CURVE_MAX_SIDE = 1024


class OutputError(DCEError, ValueError):
    """An output location cannot be written (read-only, below a file, disk full); the message says which."""


_REST_ROLE = re.compile(r":[a-z]+:`~?([^`<]+?)(?:\s*<[^>]*>)?`")
_REST_LITERAL = re.compile(r"``(.+?)``")


def plain_text(text: str) -> str:
    """reST text as plain text for ``--help``: literals and roles (``:func:``...) lose their markup, ``::`` → ``:``.

    Example:
        >>> plain_text("see :func:`~dce_transforms.simulate.darken` and ``--resume OUT/last.pt``::")
        'see dce_transforms.simulate.darken and --resume OUT/last.pt:'
    """
    text = _REST_ROLE.sub(r"\1", text)
    text = _REST_LITERAL.sub(r"\1", text)
    return re.sub(r"::$", ":", text, flags=re.M)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The tools' ``--help`` layout: the description as written (its line breaks kept), no reST markup anywhere."""

    def _format_text(self, text: str) -> str:
        return super()._format_text(plain_text(text))

    def _expand_help(self, action: argparse.Action) -> str:
        return plain_text(super()._expand_help(action))


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace | int:
    """``parser.parse_args(argv)``, or the exit status argparse asked for (0 after --help, 2 on a usage error).

    The tools' ``main()`` return their status instead of exiting, so that they can be called from Python.
    """
    try:
        return parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def usage_error(prog: str, message: str) -> int:
    """Print ``PROG: error: MESSAGE`` on stderr and return the usage-error status, 2."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 2


def interruptible(prog: str, note: str = "") -> Callable[[Callable[..., int]], Callable[..., int]]:
    """Decorate a tool's ``main``: Ctrl-C prints one line (``PROG: interrupted...``) and returns 130.

    ``note`` is appended to the line (e.g. what a re-run does). A tool that saves state on Ctrl-C
    (``dce-train``) catches the interrupt itself and prints its own line.
    """

    def deco(fn: Callable[..., int]) -> Callable[..., int]:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs) -> int:
            try:
                return fn(*args, **kwargs)
            except KeyboardInterrupt:
                print(f"\n{prog}: interrupted{'; ' + note if note else ''}.", file=sys.stderr)
                return EXIT_INTERRUPTED

        return wrapper

    return deco


def describe_os_error(err: OSError, path: str | os.PathLike[str] | None = None) -> str:
    """A one-line reason for a write failure, naming a full disk or a read-only location plainly."""
    where = f" {str(path)!r}" if path is not None else (f" {err.filename!r}" if err.filename else "")
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left on the disk holding{where}: the disk (or quota) is full; free some space and re-run."
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write{where}: permission denied or read-only file system; choose a writable output location."
    if err.errno in (errno.ENOTDIR, errno.EEXIST):
        return f"cannot write{where}: a part of the path is a file, not a folder; choose another output path."
    return f"cannot write{where}: {err.strerror or err}"


def is_disk_full(err: BaseException) -> bool:
    """True for ``OSError(ENOSPC)`` / ``OSError(EDQUOT)``, also when wrapped as the cause of another error."""
    while err is not None:
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        err = err.__cause__  # type: ignore[assignment]
    return False


def is_within(path: Path, folder: Path) -> bool:
    """True if ``path`` is ``folder`` or lies inside it (paths compared as given, not resolved)."""
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def check_writable_dir(folder: str | os.PathLike[str], *, option: str = "-o") -> Path:
    """Create ``folder`` (and parents) if needed and check that a file can be written in it, before any work.

    Raises:
        OutputError: the path is a file, lies below a file, or the location is read-only or full.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{option} {str(folder)!r} exists and is not a folder; give a folder path.")
    for parent in folder.parents:
        if parent.exists() and not parent.is_dir():
            raise OutputError(f"{option} {str(folder)!r} lies below {str(parent)!r}, which is a file; give a folder path.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".dce-write-check.", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as err:
        raise OutputError(f"{option}: {describe_os_error(err, folder)}") from err
    return folder


def check_output_file(path: str | os.PathLike[str], *, option: str, inputs: Iterable[Path] = (),
                      input_dirs: Iterable[Path] = ()) -> Path:
    """Check an output file before any work: not a folder, not an input, not inside the data, writable.

    Raises:
        OutputError: the path is a folder, an input file, lies inside an input folder, or cannot be written.
    """
    path = Path(path)
    res = path.resolve()
    if path.is_dir():
        raise OutputError(f"{option} {str(path)!r} is a folder; give a file path, e.g. {str(path / 'results')!r}.")
    for f in inputs:
        try:
            same = f.resolve() == res or (path.exists() and os.path.samefile(f, path))
        except OSError:
            same = False
        if same:
            raise OutputError(f"refusing to write {option} {str(path)!r}: it is an input file; choose another path.")
    for d in input_dirs:
        try:
            res.relative_to(d.resolve())
        except ValueError:
            continue
        raise OutputError(
            f"refusing to write {option} {str(path)!r} inside the data being read ({str(d)!r}); choose a path outside it."
        )
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise OutputError(f"{option} {str(path)!r} lies below {str(parent)!r}, which is a file; give another path.")
    check_writable_dir(path.parent, option=option)
    return path


def finite_range(name: str, value: float | None, *, lo: float | None = None, hi: float | None = None,
                 lo_open: bool = False, hi_open: bool = False, integer: bool = False, allow_inf: bool = False) -> None:
    """Raise :class:`~dce_transforms.errors.ConfigError` unless ``lo <= value <= hi`` (open ends when asked).

    The message states the valid range, e.g. ``--lr must be a number > 0, got -1``.
    """
    if value is None:
        return
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo:g}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {hi:g}")
    kind = "an integer" if integer else "a number"
    wanted = f"{kind} {' and '.join(parts)}" if parts else f"a finite {kind[2:]}"
    bad = isinstance(value, float) and (math.isnan(value) or (math.isinf(value) and not allow_inf))
    if not bad and lo is not None:
        bad = value <= lo if lo_open else value < lo
    if not bad and hi is not None:
        bad = value >= hi if hi_open else value > hi
    if bad:
        raise ConfigError(f"{name} must be {wanted}, got {value!r}.")


def build_model(name: str, *, weights: str | None = "default", scale_factor: float | None = None,
                curve_max_side: int | None = AUTO_CURVE_MAX_SIDE) -> torch.nn.Module:
    """The enhancer for ``--model`` (``zero-dce`` or ``zero-dce++``), in eval mode, without value checks.

    Raises:
        UsageError: unknown model, or ``scale_factor`` given for Zero-DCE.
        DCEError: the weights cannot be loaded (:class:`~dce_transforms.errors.WeightsError`).
    """
    from ..registry import get_model, list_models  # torch is imported only by the tools that build models

    models = list_models()
    if name not in models:
        raise UsageError(f"--model must be one of {sorted(models)}, got {name!r}.")
    kwargs: dict = {"curve_max_side": curve_max_side, "validate": False}
    if scale_factor is not None:
        if name != "zero-dce++":
            raise UsageError("--scale-factor applies to --model zero-dce++ only.")
        kwargs["scale_factor"] = scale_factor
    return get_model(name, weights=weights, **kwargs).eval()


def parse_curve_max_side(text: str) -> int | None:
    """``--curve-max-side``: ``auto`` → :data:`AUTO_CURVE_MAX_SIDE`, ``none``/``full``/``0`` → ``None``, else N >= 8.

    Example:
        >>> parse_curve_max_side("auto"), parse_curve_max_side("none"), parse_curve_max_side("640")
        (1024, None, 640)

    Raises:
        argparse.ArgumentTypeError: anything else (argparse turns it into a usage error).
    """
    t = str(text).strip().lower()
    if t == "auto":
        return AUTO_CURVE_MAX_SIDE
    if t in ("none", "full", "0"):
        return None
    try:
        value = int(t)
    except ValueError:
        value = -1
    if value < 8:
        raise argparse.ArgumentTypeError(f"expected auto, none (full resolution) or an integer >= 8, got {text!r}")
    return value


def resolve_device(name: str, *, half: bool = False) -> torch.device:
    """``--device`` of ``dce-enhance`` and ``dce-eval``: ``auto`` → CUDA when available, else CPU; checks that
    ``--half`` is used on CUDA only.

    Raises:
        UsageError: CUDA requested but unavailable, or half precision requested on the CPU.
    """
    import torch  # noqa: PLC0415 - dce-darken uses this module without torch at start-up

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise UsageError(f"--device must be auto, cpu, cuda or cuda:N, got {name!r}.") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was given but CUDA is not available here; use --device cpu (or auto).")
    if half and device.type != "cuda":
        raise UsageError(
            "--half needs a CUDA device: float16 on the CPU is slow and loses precision. Drop --half, or run with "
            "--device cuda on a machine with a GPU."
        )
    return device


def resolve_train_device(name: str) -> torch.device:
    """``--device`` of ``dce-train`` (stricter than :func:`resolve_device`): ``auto``, ``cpu``, or an existing
    ``cuda``/``cuda:N``.

    Raises:
        ConfigError: not a device name, not cpu/cuda, CUDA unavailable, or no CUDA device of that index.
    """
    import torch  # noqa: PLC0415

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError) as err:
        raise ConfigError(f"--device must be auto, cpu, cuda or cuda:N, got {name!r}.") from err
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("--device cuda was given but CUDA is not available here; use --device cpu (or auto).")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here.")
    elif device.type != "cpu":
        raise ConfigError(f"--device must be auto, cpu, cuda or cuda:N, got {name!r}.")
    return device

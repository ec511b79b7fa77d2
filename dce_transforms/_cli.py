"""Helpers shared by the command-line tools: parsing without exiting, usage errors, Ctrl-C, output checks.

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

from .errors import DCEError

#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130


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
    from .errors import ConfigError

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

"""Atomic file writing, shared by every writer of the package (images, videos, weights, checkpoints, reports).

:mod:`dce_transforms.io` re-exports :class:`atomic_path` under the same name.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

__all__ = ["atomic_path", "glob_escape", "usual_mode"]


def usual_mode() -> int:
    """The permission bits of a newly created file: ``0o666 & ~umask`` (the umask is read, not changed)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: the process exists but belongs to someone else
        return True
    return True


def glob_escape(text: str) -> str:
    """``text`` with the glob metacharacters ``*?[`` escaped."""
    return re.sub(r"([*?\[])", r"[\1]", text)


class atomic_path:
    """Context manager giving a temporary path beside ``target``, moved onto it only on success.

    The temporary file is named ``.STEM.tmp-PID-XXXX.SUFFIX``; leftovers of killed runs (their
    process no longer exists) are removed the next time the same target is written. The final
    file gets the usual permissions (``0o666 & ~umask``), whatever mode the writer gave the
    temporary file; on any error (in the block or while moving) the temporary file is removed.

    Example:
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as name:
        ...     d = pathlib.Path(name)
        ...     with atomic_path(d / "a.txt") as tmp:
        ...         _ = tmp.write_text("hi")
        ...     (d / "a.txt").read_text()
        'hi'
    """

    def __init__(self, target: str | os.PathLike[str]) -> None:
        self.target = Path(target)

    def _clean_stale(self) -> None:
        pattern = re.compile(rf"^\.{re.escape(self.target.stem)}\.tmp-(\d+)-[^/]*{re.escape(self.target.suffix)}$")
        try:
            candidates = list(self.target.parent.glob(f".{glob_escape(self.target.stem)}.tmp-*"))
        except OSError:
            return
        for f in candidates:
            m = pattern.match(f.name)
            if m and not _pid_alive(int(m.group(1))):
                with contextlib.suppress(OSError):
                    f.unlink()

    def __enter__(self) -> Path:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self._clean_stale()
        fd, name = tempfile.mkstemp(prefix=f".{self.target.stem}.tmp-{os.getpid()}-", suffix=self.target.suffix,
                                    dir=self.target.parent)
        os.close(fd)
        # mkstemp creates the file private (0600); give it the usual permissions at once (a writer that
        # reopens the path keeps them), and again before the move (for a writer that re-created it).
        self._mode = usual_mode()
        os.chmod(name, self._mode)
        self.tmp = Path(name)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                os.chmod(self.tmp, self._mode)
                os.replace(self.tmp, self.target)
        finally:
            if self.tmp.exists():
                self.tmp.unlink()

"""The one atomic-write helper (``dce_transforms._files.atomic_path``, re-exported by ``dce_transforms.io``)."""

from __future__ import annotations

import os
import sys

import pytest

from dce_transforms import _files, io
from dce_transforms._files import atomic_path


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


def test_io_reexports_the_same_helper():
    assert io.atomic_path is atomic_path


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_final_file_gets_usual_permissions_whatever_the_writer_did(tmp_path):
    target = tmp_path / "sub" / "w.bin"
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"x")
        os.chmod(tmp, 0o600)  # a writer that makes its file private (as mkstemp or a library may)
    assert target.read_bytes() == b"x"
    assert target.stat().st_mode & 0o777 == _files.usual_mode()
    assert _leftovers(target.parent) == []


def test_error_in_block_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="boom"), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_failed_move_removes_the_temporary(tmp_path, monkeypatch):
    target = tmp_path / "a.txt"

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_files.os, "replace", refuse)
    with pytest.raises(OSError, match="No space"), atomic_path(target) as tmp:
        tmp.write_text("new")
    assert not target.exists()
    assert _leftovers(tmp_path) == []


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path):
    target = tmp_path / "a.txt"
    stale = tmp_path / ".a.tmp-999999999-xyz.txt"  # no process has this id
    stale.write_text("left by a killed run")
    with atomic_path(target) as tmp:
        tmp.write_text("ok")
    assert not stale.exists() and target.read_text() == "ok"

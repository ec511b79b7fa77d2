"""End-to-end tests of dce-train: loss falls, resume, bad files, DDP with 2 CPU processes (gloo)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dce_transforms import ZeroDCE, ZeroDCEPP
from dce_transforms.io import write_image
from dce_transforms.train import main


def _dark_folder(root: Path, n: int = 6, size: int = 48) -> Path:
    rng = np.random.default_rng(0)
    (root / "sub").mkdir(parents=True)
    for i in range(n):
        level = 0.05 + 0.03 * i
        img = np.clip(level + 0.05 * rng.standard_normal((size, size, 3)), 0, 1)
        folder = root / "sub" if i % 2 else root
        write_image(folder / f"img{i}.png", (img * 255).astype(np.uint8))
    return root


def _log(out: Path) -> list[dict[str, str]]:
    with open(out / "log.csv") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("model", ["zero-dce", "zero-dce++"])
def test_loss_falls_and_weights_load(tmp_path: Path, model: str) -> None:
    data = _dark_folder(tmp_path / "data")
    out = tmp_path / "run"
    rc = main([str(data), "--out", str(out), "--model", model, "--crop", "32", "--batch-size", "4",
               "--max-steps", "40", "--lr", "3e-3", "--log-every", "1", "--workers", "0", "--no-progress"])
    assert rc == 0
    rows = _log(out)
    assert len(rows) == 40
    first = np.mean([float(r["loss"]) for r in rows[:5]])
    last = np.mean([float(r["loss"]) for r in rows[-5:]])
    assert last < 0.8 * first, (first, last)
    cls = ZeroDCE if model == "zero-dce" else ZeroDCEPP
    trained = cls(weights=out / "final.safetensors")
    x = torch.full((1, 3, 32, 32), 0.1)
    assert trained(x).mean() > x.mean()  # it learned to brighten dark input


def test_resume_continues_from_checkpoint(tmp_path: Path) -> None:
    data = _dark_folder(tmp_path / "data")
    out = tmp_path / "run"
    common = [str(data), "--out", str(out), "--crop", "32", "--batch-size", "2", "--workers", "0", "--no-progress",
              "--log-every", "1", "--save-every", "5", "--epochs", "100"]
    assert main(common + ["--max-steps", "5"]) == 0
    ckpt = torch.load(out / "last.pt", weights_only=True)
    assert ckpt["step"] == 5
    assert main(common + ["--max-steps", "8", "--resume", str(out / "last.pt")]) == 0
    steps = [int(r["step"]) for r in _log(out)]
    assert steps == list(range(1, 9))
    assert torch.load(out / "last.pt", weights_only=True)["step"] == 8


def test_unreadable_file_is_reported_and_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _dark_folder(tmp_path / "data", n=3)
    (data / "broken.jpg").write_bytes(b"not a jpeg")
    rc = main([str(data), "--out", str(tmp_path / "run"), "--crop", "32", "--batch-size", "2", "--max-steps", "2",
               "--workers", "0", "--no-progress"])
    assert rc == 0
    assert "broken.jpg" in capsys.readouterr().err


def test_empty_folder_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty"), "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    assert "no readable images" in capsys.readouterr().err


def test_ddp_two_cpu_processes(tmp_path: Path) -> None:
    data = _dark_folder(tmp_path / "data", n=8)
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
           "-m", "dce_transforms.train", str(data), "--out", str(out), "--crop", "32", "--batch-size", "2",
           "--max-steps", "4", "--workers", "0", "--no-progress", "--device", "cpu", "--log-every", "1"]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = _log(out)
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    # each step saw 2 processes x 2 images
    assert ZeroDCE(weights=out / "final.safetensors") is not None

"""End-to-end tests of dce-train: loss falls, resume, bad files, DDP with 2 CPU processes (gloo)."""

from __future__ import annotations

import csv
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dce_transforms import ZeroDCE, ZeroDCEPP, load_state_dict
from dce_transforms.cli.dce_train import main
from dce_transforms.errors import ConfigError
from dce_transforms.io import write_image
from dce_transforms.train import TrainConfig, scale_consistency_loss, train


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
    assert main([*common, "--max-steps", "5"]) == 0
    ckpt = torch.load(out / "last.pt", weights_only=True)
    assert ckpt["step"] == 5
    assert main([*common, "--max-steps", "8", "--resume", str(out / "last.pt")]) == 0
    steps = [int(r["step"]) for r in _log(out)]
    assert steps == list(range(1, 9))
    assert torch.load(out / "last.pt", weights_only=True)["step"] == 8
    assert {float(r["lr"]) for r in _log(out)} == {1e-4}
    # a new --lr on resume applies from the next step (the optimizer state is kept)
    assert main([*common, "--max-steps", "10", "--lr", "3e-5", "--resume", str(out / "last.pt")]) == 0
    assert [float(r["lr"]) for r in _log(out)][-2:] == [3e-5, 3e-5]


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


def test_bad_training_input_raises_a_value_error_from_the_library(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="point dce-train at a folder") as info:
        train(TrainConfig(data=[str(tmp_path / "empty")], out=str(tmp_path / "run"), progress=False))
    assert isinstance(info.value, ValueError)


def test_ddp_two_cpu_processes(tmp_path: Path) -> None:
    data = _dark_folder(tmp_path / "data", n=8)
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
           "-m", "dce_transforms.cli.dce_train", str(data), "--out", str(out), "--crop", "32", "--batch-size", "2",
           "--max-steps", "4", "--workers", "0", "--no-progress", "--device", "cpu", "--log-every", "1"]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = _log(out)
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    # rank 0 wrote the weights after the 4th step: the final file, last.pt and its hash agree
    final = out / "final.safetensors"
    assert (out / "final.sha256").read_text().split()[0] == hashlib.sha256(final.read_bytes()).hexdigest()
    loaded = ZeroDCE(weights=final).state_dict()
    last = load_state_dict(out / "last.pt")
    assert torch.load(out / "last.pt", weights_only=True)["step"] == 4
    assert loaded.keys() == last.keys()
    assert all(torch.equal(loaded[k], last[k]) for k in loaded)
    assert all(np.isfinite(float(r["loss"])) and float(r["loss"]) > 0 for r in rows)


@pytest.mark.parametrize("cls", [ZeroDCE, ZeroDCEPP])
def test_scale_consistency_loss_matches_the_bounded_inference_path(cls: type) -> None:
    torch.manual_seed(0)
    net = cls(weights=None)
    with torch.no_grad():  # larger random weights: spatially varying, clearly non-zero curve maps
        for p in net.parameters():
            p.mul_(3)
    x = torch.nn.functional.avg_pool2d(torch.rand(2, 3, 64, 48), 5, 1, 2) * torch.linspace(0.05, 0.6, 48)
    y = net(x)
    # scale 1 is the full-resolution path itself
    assert scale_consistency_loss(net, x, y, scale=1.0, iterations=net.iterations) < 1e-12
    # scale 4 is what curve_max_side=16 computes at inference
    bounded = cls(weights=None, curve_max_side=16)
    bounded.load_state_dict(net.state_dict())
    expected = torch.nn.functional.mse_loss(bounded(x), y)
    got = scale_consistency_loss(net, x, y, scale=4.0, iterations=net.iterations)
    assert expected > 1e-9
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-9)


def test_scale_consistency_term_is_logged_and_added_to_the_loss(tmp_path: Path) -> None:
    data = _dark_folder(tmp_path / "data", size=64)
    common = [str(data), "--crop", "64", "--batch-size", "4", "--max-steps", "6", "--log-every", "1",
              "--workers", "0", "--no-progress"]
    assert main([*common, "--out", str(tmp_path / "plain")]) == 0
    assert main([*common, "--out", str(tmp_path / "cons"), "--scale-consistency", "50",
                 "--consistency-scales", "3", "5"]) == 0
    assert "cons" not in _log(tmp_path / "plain")[0]
    rows = _log(tmp_path / "cons")
    assert len(rows) == 6
    for r in rows:
        zero_ref = sum(float(r[k]) for k in ("spa", "exp", "col", "tv"))
        assert float(r["loss"]) == pytest.approx(zero_ref + 50 * float(r["cons"]), rel=1e-4, abs=1e-6)
    assert max(float(r["cons"]) for r in rows) > 0


def test_bad_consistency_options_are_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _dark_folder(tmp_path / "data", n=2)
    rc = main([str(data), "--out", str(tmp_path / "run"), "--max-steps", "1", "--workers", "0", "--no-progress",
               "--scale-consistency", "1", "--consistency-scales", "4", "2"])
    assert rc == 2
    assert "1 <= MIN <= MAX" in capsys.readouterr().err


@pytest.mark.parametrize("model", ["zero-dce", "zero-dce++"])
def test_default_tv_weight_keeps_the_smoothness_penalty_across_crops(model: str) -> None:
    from dce_transforms.losses import illumination_smoothness_loss
    from dce_transforms.train import default_tv_weight

    def smooth_map(n: int) -> torch.Tensor:  # the same smooth curve map sampled at n x n
        t = torch.linspace(0, 1, n)
        m = torch.sin(3 * t)[:, None] * torch.cos(2 * t)[None, :]
        return m.expand(1, 3, n, n)

    penalties = [default_tv_weight(model, n) * float(illumination_smoothness_loss(smooth_map(n))) for n in (128, 256, 512)]
    assert penalties == pytest.approx([penalties[0]] * 3, rel=0.02)
    # the authors' own setting is unchanged
    assert default_tv_weight(model, 256 if model == "zero-dce" else 512) == (200.0 if model == "zero-dce" else 1600.0)

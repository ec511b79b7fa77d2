"""dce-enhance: files, folders, videos, formats, bit depth, safety of inputs, exit codes."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import brightening_model

from dce_transforms import ZeroDCEPP, save_state_dict
from dce_transforms.cli.dce_enhance import AUTO_CURVE_MAX_SIDE, UsageError, main, plan_jobs

# The `weights` fixture (a brightening Zero-DCE checkpoint) comes from conftest.py.


@pytest.fixture(scope="module")
def weights_pp(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("wpp") / "bright_pp.safetensors"
    save_state_dict(brightening_model(ZeroDCEPP).state_dict(), path)
    return str(path)


def _smooth(h: int, w: int, seed: int, scale: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.random((4, 4, 3)).astype(np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR) * scale


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.fixture
def tree(tmp_path) -> Path:
    """Dark inputs: uint8 PNG, JPEG, 16-bit PNG, grayscale PNG, one in a sub-folder, and a corrupt file."""
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    cv2.imwrite(str(root / "a.png"), (_smooth(32, 40, 0) * 255).astype(np.uint8))
    cv2.imwrite(str(root / "b.jpg"), (_smooth(36, 44, 1) * 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 95])
    cv2.imwrite(str(root / "deep.png"), (_smooth(30, 34, 2) * 65535).astype(np.uint16))
    cv2.imwrite(str(root / "gray.png"), (_smooth(28, 30, 3)[..., 0] * 255).astype(np.uint8))
    cv2.imwrite(str(root / "sub" / "c.png"), (_smooth(24, 26, 4) * 255).astype(np.uint8))
    (root / "bad.png").write_bytes(b"this is not a PNG file")
    return root


GOOD = ["a.png", "b.jpg", "deep.png", "gray.png", "sub/c.png"]


def test_folder_outputs_formats_and_failures(tree, tmp_path, weights, capsys):
    before = _digest(tree)
    out = tmp_path / "out"
    rc = main([str(tree), "-o", str(out), "--weights", weights, "-q"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "bad.png" in err and "could not read" in err
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == sorted(GOOD)
    assert _digest(tree) == before  # inputs untouched
    assert not list(out.rglob(".*"))  # no temporary files left
    # format and bit depth
    assert (out / "b.jpg").read_bytes()[:3] == b"\xff\xd8\xff"
    deep = cv2.imread(str(out / "deep.png"), cv2.IMREAD_UNCHANGED)
    assert deep.dtype == np.uint16 and deep.shape == (30, 34, 3)
    gray = cv2.imread(str(out / "gray.png"), cv2.IMREAD_UNCHANGED)
    assert gray.ndim == 2 and gray.shape == (28, 30)
    a_in = cv2.imread(str(tree / "a.png"), cv2.IMREAD_UNCHANGED)
    a_out = cv2.imread(str(out / "a.png"), cv2.IMREAD_UNCHANGED)
    assert a_out.shape == a_in.shape and a_out.dtype == np.uint8
    assert a_out.astype(float).mean() > a_in.astype(float).mean() + 20  # the curves brightened it
    assert deep.astype(float).mean() > cv2.imread(str(tree / "deep.png"), cv2.IMREAD_UNCHANGED).astype(float).mean()


def test_all_good_exit_zero_and_single_file(tree, tmp_path, weights):
    (tree / "bad.png").unlink()
    assert main([str(tree / "a.png"), str(tree / "sub"), "-o", str(tmp_path / "o"), "--weights", weights, "-q"]) == 0
    assert (tmp_path / "o" / "a.png").is_file() and (tmp_path / "o" / "c.png").is_file()


def test_refuses_to_write_onto_inputs(tree, weights, capsys):
    before = _digest(tree)
    assert main([str(tree), "-o", str(tree), "--weights", weights, "-q"]) == 2
    assert "refusing" in capsys.readouterr().err
    assert main([str(tree / "a.png"), "-o", str(tree), "--weights", weights, "-q", "--overwrite"]) == 2
    assert main([str(tree / "sub"), "-o", str(tree / "sub"), "--weights", weights, "-q", "--overwrite"]) == 2
    assert _digest(tree) == before


def test_refuses_compare_picture_onto_input(tmp_path, weights):
    root = tmp_path / "in"
    root.mkdir()
    img = (_smooth(20, 20, 5) * 255).astype(np.uint8)
    cv2.imwrite(str(root / "x.png"), img)
    cv2.imwrite(str(root / "x_dce_compare.jpg"), img)
    with pytest.raises(UsageError):
        plan_jobs([root / "x.png", root / "x_dce_compare.jpg"], root, suffix="_dce", compare=True)


def test_same_folder_with_suffix_and_rerun(tree, weights, capsys):
    (tree / "bad.png").unlink()
    assert main([str(tree), "-o", str(tree), "--suffix", "_dce", "--weights", weights, "-q"]) == 0
    assert (tree / "a_dce.png").is_file() and (tree / "sub" / "c_dce.png").is_file()
    # a second run neither treats earlier outputs as inputs nor redoes them
    assert main([str(tree), "-o", str(tree), "--suffix", "_dce", "--weights", weights]) == 0
    assert not list(tree.rglob("*_dce_dce*"))
    assert "5 skipped" in capsys.readouterr().err


def test_skip_existing_unless_overwrite(tree, tmp_path, weights, capsys):
    (tree / "bad.png").unlink()
    out = tmp_path / "out"
    assert main([str(tree / "a.png"), "-o", str(out), "--weights", weights, "-q"]) == 0
    (out / "a.png").write_bytes(b"stale")
    assert main([str(tree / "a.png"), "-o", str(out), "--weights", weights]) == 0
    assert (out / "a.png").read_bytes() == b"stale"
    assert "skipped" in capsys.readouterr().err
    assert main([str(tree / "a.png"), "-o", str(out), "--weights", weights, "--overwrite", "-q"]) == 0
    assert cv2.imread(str(out / "a.png")) is not None


def test_compare_picture(tree, tmp_path, weights):
    out = tmp_path / "out"
    assert main([str(tree / "a.png"), str(tree / "deep.png"), "-o", str(out), "--weights", weights, "--compare",
                 "-q"]) == 0
    cmp_img = cv2.imread(str(out / "a_compare.jpg"))
    assert cmp_img is not None and cmp_img.shape[0] == 32 and cmp_img.shape[1] >= 80
    assert (out / "deep_compare.jpg").is_file()


def test_video_frame_count(tmp_path, weights):
    src = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(src), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    assert writer.isOpened()
    for i in range(6):
        writer.write(np.full((48, 64, 3), 20 + 5 * i, np.uint8))
    writer.release()
    out = tmp_path / "out"
    assert main([str(src), "-o", str(out), "--weights", weights, "--batch-size", "4", "--compare", "-q"]) == 0
    cap = cv2.VideoCapture(str(out / "clip.mp4"))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    assert len(frames) == 6 and frames[0].shape == (48, 64, 3)
    assert frames[0].mean() > 25  # brightened
    assert (out / "clip_compare.jpg").is_file()
    assert not list(out.glob(".*"))


def test_corrupt_video_reported(tmp_path, weights, capsys):
    src = tmp_path / "broken.mp4"
    src.write_bytes(b"\x00" * 100)
    assert main([str(src), "-o", str(tmp_path / "out"), "--weights", weights, "-q"]) == 1
    assert "broken.mp4" in capsys.readouterr().err
    out = tmp_path / "out"
    assert not (out.exists() and any(out.iterdir()))  # no partial video left behind


def test_zero_dce_pp_with_scale_factor(tree, tmp_path, weights_pp):
    out = tmp_path / "out"
    rc = main([str(tree / "a.png"), "-o", str(out), "--model", "zero-dce++", "--weights", weights_pp,
               "--scale-factor", "2", "--curve-max-side", "none", "-q"])
    assert rc == 0 and (out / "a.png").is_file()


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--half", "--device", "cpu"], "CUDA"),
        (["--weights", "no/such/file.safetensors"], "neither a registered name"),
        (["--scale-factor", "2"], "zero-dce++ only"),
        (["--curve-max-side", "3"], "integer >= 8"),
        (["--batch-size", "0"], "at least 1"),
    ],
)
def test_usage_errors(tree, tmp_path, weights, capsys, extra, needle):
    args = [str(tree / "a.png"), "-o", str(tmp_path / "out"), "--weights", weights, "-q", *extra]
    assert main(args) == 2
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_missing_input_is_usage_error(tmp_path, weights, capsys):
    assert main([str(tmp_path / "nope.png"), "-o", str(tmp_path / "out"), "--weights", weights]) == 2
    assert "neither a file nor a folder" in capsys.readouterr().err


def test_curve_max_side_parsing():
    from dce_transforms.cli._common import parse_curve_max_side

    assert parse_curve_max_side("auto") == AUTO_CURVE_MAX_SIDE
    assert parse_curve_max_side("none") is None and parse_curve_max_side("640") == 640


def test_python_dash_m_help():
    res = subprocess.run([sys.executable, "-m", "dce_transforms.cli.dce_enhance", "--help"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0
    assert "audio" in res.stdout and "--curve-max-side" in res.stdout


@pytest.mark.cuda
def test_cuda_half(tree, tmp_path, weights):
    if not torch.cuda.is_available():
        pytest.skip("CUDA is not available on this machine")
    out = tmp_path / "out"
    assert main([str(tree / "a.png"), "-o", str(out), "--weights", weights, "--device", "cuda", "--half", "-q"]) == 0
    a_in = cv2.imread(str(tree / "a.png")).astype(float)
    assert cv2.imread(str(out / "a.png")).astype(float).mean() > a_in.mean() + 20


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_outputs_get_usual_permissions(tree, tmp_path, weights):
    out = tmp_path / "out"
    assert main([str(tree / "a.png"), "-o", str(out), "--weights", weights, "--compare", "-q"]) == 0
    umask = os.umask(0)
    os.umask(umask)
    for name in ("a.png", "a_compare.jpg"):
        assert (out / name).stat().st_mode & 0o777 == 0o666 & ~umask


# -- --precision and the throughput line (issue 15) ---------------------------------------------------


def test_precision_auto_by_default_and_reported(tree, tmp_path, weights, capsys, monkeypatch):
    from dce_transforms import fast

    monkeypatch.setattr(fast, "cpu_bf16_flags", lambda: ("amx_bf16",))  # as on a CPU with AMX
    out = tmp_path / "auto"
    args = [str(tree / "a.png"), str(tree / "b.jpg"), "-o", str(out), "--weights", weights, "--device", "cpu"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "precision bf16 (auto: CPU with native bf16 (amx_bf16))" in err
    assert "images/s" in err and "frames/s" not in err  # no video in this run
    monkeypatch.setattr(fast, "cpu_bf16_flags", lambda: ())  # a CPU without native bf16
    assert main([str(tree / "a.png"), "-o", str(tmp_path / "plain"), "--weights", weights, "--device", "cpu"]) == 0
    assert "precision fp32 (auto: CPU without native bf16)" in capsys.readouterr().err
    exact = tmp_path / "fp32"
    assert main([str(tree / "a.png"), "-o", str(exact), "--weights", weights, "--precision", "fp32", "-q"]) == 0
    a32, a16 = (cv2.imread(str(d / "a.png")).astype(float) for d in (exact, out))
    assert a32.mean() > cv2.imread(str(tree / "a.png")).astype(float).mean() + 20  # really enhanced
    assert np.abs(a32 - a16).max() <= 2  # bf16 network, curves in float32: within rounding of 8-bit output


def test_precision_bad_combinations_are_usage_errors(tree, tmp_path, weights, capsys):
    base = [str(tree / "a.png"), "-o", str(tmp_path / "out"), "--weights", weights]
    assert main([*base, "--half", "--precision", "bf16"]) == 2
    assert "--half means --precision fp16" in capsys.readouterr().err
    assert main([*base, "--precision", "int8"]) == 2
    assert "invalid choice" in capsys.readouterr().err

"""The command-line tools under faults: nothing lost, every bad input a clear error (issue 16).

Exit statuses: 0 all done, 1 some items failed, 2 bad usage, 130 interrupted.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import dce_transforms.io as dio
from dce_transforms import ZeroDCE, ZeroDCEPP, metrics, save_state_dict
from dce_transforms.cli import dce_darken as darken
from dce_transforms.cli import dce_enhance as enh
from dce_transforms.cli import dce_eval as ev
from dce_transforms.cli import dce_train as tr
from dce_transforms.errors import ChecksumError, DCEError, WeightsError
from dce_transforms.io import ImageTooLargeError, load_image, read_image, write_image

ROOT = Path(__file__).resolve().parents[1]


# The `weights` fixture (a brightening Zero-DCE checkpoint) comes from conftest.py.


def _img(h: int, w: int, seed: int = 0, scale: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (cv2.resize(rng.random((4, 4, 3)).astype(np.float32), (w, h)) * scale * 255).astype(np.uint8)


def _digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A tiny PNG whose header declares width x height RGB pixels (the data is a few zero bytes)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))


def _dark_folder(root: Path, n: int = 4, size: int = 40) -> Path:
    root.mkdir(parents=True)
    for i in range(n):
        write_image(root / f"img{i}.png", _img(size, size, i, 0.2))
    return root


def _train_args(data: Path, out: Path, *extra: str) -> list[str]:
    return [str(data), "--out", str(out), "--crop", "32", "--batch-size", "2", "--workers", "0", "--no-progress",
            "--log-every", "1", *extra]


# -- 1. data loss ------------------------------------------------------------------------------------
def test_eval_refuses_json_or_markdown_onto_inputs_before_scoring(tmp_path, weights, capsys):
    src = tmp_path / "imgs"
    src.mkdir()
    write_image(src / "a.png", _img(24, 24))
    write_image(src / "b.png", _img(24, 24, 1))
    before = _digest(src)
    for option, target in (("--json", src / "a.png"), ("--markdown", src / "b.png"), ("--json", src / "new.json"),
                           ("--json", Path(weights))):
        assert ev.main([str(src), "--weights", weights, option, str(target), "-q"]) == 2
        err = capsys.readouterr()
        assert "refusing to write" in err.err and err.out == ""  # refused before any scoring (no table)
    assert _digest(src) == before
    assert not (src / "new.json").exists()
    # a folder as --json is found before the scoring too, with the library's message
    (tmp_path / "somedir").mkdir()
    assert ev.main([str(src), "--weights", weights, "--json", str(tmp_path / "somedir"), "-q"]) == 2
    err = capsys.readouterr()
    assert "is a folder" in err.err and err.out == ""
    # the same file for both outputs
    both = str(tmp_path / "r.txt")
    assert ev.main([str(src), "--weights", weights, "--json", both, "--markdown", both, "-q"]) == 2


def test_eval_writes_results_atomically(tmp_path, weights, monkeypatch):
    src = tmp_path / "imgs"
    src.mkdir()
    write_image(src / "a.png", _img(24, 24))
    out = tmp_path / "res.json"
    out.write_text("earlier results\n")

    def boom(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(json, "dumps", lambda *a, **k: "x" * 10)  # content irrelevant here
    monkeypatch.setattr(ev, "atomic_path", _failing_atomic_path(boom))
    assert ev.main([str(src), "--weights", weights, "--json", str(out), "-q"]) == 1
    assert out.read_text() == "earlier results\n"  # not truncated
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def _failing_atomic_path(fail):
    class Failing(dio.atomic_path):
        def __exit__(self, exc_type, exc, tb):
            if exc_type is None:
                self.tmp.unlink()
                fail()
            return super().__exit__(exc_type, exc, tb)

    return Failing


def test_train_refuses_to_replace_an_earlier_run(tmp_path, capsys):
    data = _dark_folder(tmp_path / "data")
    out = tmp_path / "run"
    assert tr.main(_train_args(data, out, "--max-steps", "2")) == 0
    before = _digest(out)
    assert tr.main(_train_args(data, out, "--max-steps", "3")) == 2
    err = capsys.readouterr().err
    assert "already holds a training run" in err and "--resume" in err and "--overwrite" in err
    assert _digest(out) == before
    assert tr.main(_train_args(data, out, "--max-steps", "3", "--overwrite")) == 0
    assert torch.load(out / "last.pt", weights_only=True)["step"] == 3


def _log_steps(out: Path) -> list[int]:
    with open(out / "log.csv") as f:
        return [int(r["step"]) for r in csv.DictReader(f)]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_train_ctrl_c_saves_a_checkpoint_that_resume_continues(tmp_path):
    """Kill-and-resume: SIGINT with the default --save-every 500 saves last.pt; --resume continues the log."""
    data = _dark_folder(tmp_path / "data")
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "dce_transforms.cli.dce_train", *_train_args(data, out, "--max-steps", "100000",
                                                                      "--device", "cpu")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            if (out / "log.csv").is_file() and len(_log_steps(out)) >= 3:
                break
            if proc.poll() is not None:
                pytest.fail(f"training ended early: {proc.communicate()[1][-2000:]}")
            time.sleep(0.05)
        else:
            pytest.fail("training did not start within 120 s")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    lines = [ln for ln in err.splitlines() if "interrupted" in ln]
    assert len(lines) == 1 and "--resume" in lines[0]
    step = torch.load(out / "last.pt", weights_only=True)["step"]
    assert step >= 3 and _log_steps(out) == list(range(1, step + 1))
    assert not (out / "final.safetensors").exists()
    assert tr.main(_train_args(data, out, "--max-steps", str(step + 2), "--resume", str(out / "last.pt"))) == 0
    assert _log_steps(out) == list(range(1, step + 3))
    assert torch.load(out / "last.pt", weights_only=True)["step"] == step + 2


def _ctrl_c_on_call(real, n: int):
    """``real``, except that its ``n``-th call raises KeyboardInterrupt (a Ctrl-C at that moment)."""
    calls = {"n": 0}

    def wrapped(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    return wrapped


def test_train_interrupt_in_process_returns_130_with_checkpoint(tmp_path, monkeypatch, capsys):
    data = _dark_folder(tmp_path / "data")
    out = tmp_path / "run"
    real = tr.clip_grad_norm_ if hasattr(tr, "clip_grad_norm_") else torch.nn.utils.clip_grad_norm_
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", _ctrl_c_on_call(real, 4))
    assert tr.main(_train_args(data, out, "--max-steps", "50")) == 130
    err = capsys.readouterr().err
    assert "interrupted at step 3" in err and "Traceback" not in err
    assert torch.load(out / "last.pt", weights_only=True)["step"] == 3


# -- 2. memory: pixel limit ----------------------------------------------------------------------------
def test_enhance_refuses_a_huge_declared_image_and_finishes_the_rest(tmp_path, weights, capsys):
    src = tmp_path / "in"
    src.mkdir()
    _png_header_only(src / "bomb.png", 20000, 20000)  # 400 Mpx declared in about 100 bytes
    write_image(src / "ok.png", _img(24, 24))
    out = tmp_path / "out"
    assert enh.main([str(src), "-o", str(out), "--weights", weights]) == 1
    err = capsys.readouterr().err
    assert "bomb.png" in err and "20000x20000" in err and "--max-pixels" in err
    assert "1 written" in err and "1 failed" in err
    assert (out / "ok.png").is_file() and not (out / "bomb.png").exists()
    # the limit is an option
    assert enh.main([str(src / "ok.png"), "-o", str(tmp_path / "o2"), "--weights", weights, "--max-pixels", "100",
                     "-q"]) == 1
    assert "--max-pixels" in capsys.readouterr().err
    assert enh.main([str(src / "ok.png"), "-o", str(tmp_path / "o3"), "--weights", weights, "--max-pixels", "0"]) == 2


def test_read_image_pixel_limit_and_opencv_limit_are_library_errors(tmp_path):
    _png_header_only(tmp_path / "big.png", 40000, 40000)
    with pytest.raises(ImageTooLargeError, match="max_pixels"):
        read_image(tmp_path / "big.png")
    with pytest.raises(dio.ImageReadError, match="2\\*\\*30") as info:  # OpenCV's own limit, not its raw assertion
        read_image(tmp_path / "big.png", max_pixels=None)
    assert isinstance(info.value, ValueError) and isinstance(info.value, DCEError)


# -- 3. silent wrong output ----------------------------------------------------------------------------
def test_enhance_reports_a_video_cut_short(tmp_path, weights, capsys):
    src = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(src), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    assert writer.isOpened()
    rng = np.random.default_rng(0)
    for _ in range(30):
        writer.write((rng.random((48, 64, 3)) * 255).astype(np.uint8))
    writer.release()
    full = src.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(full[: len(full) // 2])
    out = tmp_path / "out"
    assert enh.main([str(src), "-o", str(out), "--weights", weights, "-q"]) == 0  # the whole file is fine
    assert enh.main([str(cut), "-o", str(out), "--weights", weights, "-q"]) == 1
    err = capsys.readouterr().err
    assert "cut.avi" in err and "of its 30 declared frames" in err
    assert not (out / "cut.avi").exists() and not list(out.glob(".*"))


def test_enhance_applies_exif_orientation_and_copies_exif(tmp_path, weights):
    from PIL import Image

    arr = _img(30, 50)  # landscape pixels, EXIF says "rotate 90 degrees clockwise to view"
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "TestCam"
    src = tmp_path / "portrait.jpg"
    Image.fromarray(arr).save(src, exif=exif.tobytes(), quality=95)
    assert read_image(src).shape == (50, 30, 3)  # upright, as viewers show it
    out = tmp_path / "out"
    assert enh.main([str(src), "-o", str(out), "--weights", weights, "-q"]) == 0
    with Image.open(out / "portrait.jpg") as im:
        assert im.size == (30, 50)  # width 30, height 50: portrait
        tags = im.getexif()
    assert tags.get(0x010F) == "TestCam" and tags.get(0x0112, 1) == 1


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientations_match_pillow(tmp_path, orientation):
    from PIL import Image, ImageOps

    arr = np.random.default_rng(orientation).integers(0, 256, (6, 10, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(arr).save(tmp_path / "o.png", exif=exif.tobytes())
    with Image.open(tmp_path / "o.png") as im:
        want = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    np.testing.assert_array_equal(read_image(tmp_path / "o.png"), want)


def test_enhance_keeps_alpha_and_float_depth(tmp_path, weights):
    rng = np.random.default_rng(0)
    bgra = np.dstack([_img(20, 24), rng.integers(0, 256, (20, 24), dtype=np.uint8)])
    cv2.imwrite(str(tmp_path / "rgba.png"), bgra)
    ftif = (rng.random((20, 24, 3)) * 0.3).astype(np.float32)
    cv2.imwrite(str(tmp_path / "float.tif"), ftif)
    out = tmp_path / "out"
    assert enh.main([str(tmp_path / "rgba.png"), str(tmp_path / "float.tif"), "-o", str(out), "--weights", weights,
                     "-q"]) == 0
    got = cv2.imread(str(out / "rgba.png"), cv2.IMREAD_UNCHANGED)
    assert got.shape == (20, 24, 4)
    np.testing.assert_array_equal(got[..., 3], bgra[..., 3])  # alpha copied unchanged
    assert got[..., :3].mean() > bgra[..., :3].mean() + 10  # colour enhanced
    gf = cv2.imread(str(out / "float.tif"), cv2.IMREAD_UNCHANGED)
    assert gf.dtype == np.float32 and gf.shape == (20, 24, 3) and gf.mean() > ftif.mean()
    assert load_image(tmp_path / "rgba.png").alpha is not None


@pytest.mark.parametrize("cls", [ZeroDCE, ZeroDCEPP])
def test_non_finite_checkpoint_is_refused(tmp_path, cls):
    state = cls(weights=None).state_dict()
    key = next(iter(state))
    state[key] = state[key].clone().fill_(float("nan"))
    path = tmp_path / "nan.safetensors"
    save_state_dict(state, path)
    with pytest.raises(WeightsError, match="NaN or infinite"):
        cls(weights=path)
    torch.save({k: v.clone().fill_(float("inf")) if k == key else v for k, v in state.items()}, tmp_path / "inf.pth")
    with pytest.raises(WeightsError, match="NaN or infinite"):
        cls(weights=tmp_path / "inf.pth")


# -- 4. library errors instead of tracebacks -----------------------------------------------------------
@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--lr", "-1"], "--lr must be a number > 0"),
        (["--lr", "nan"], "--lr must be"),
        (["--batch-size", "0"], "--batch-size must be an integer >= 1"),
        (["--crop", "0"], "--crop must be an integer >= 8"),
        (["--min-scale", "2"], "--min-scale must be a number > 0 and <= 1"),
        (["--log-every", "0"], "--log-every must be an integer >= 1"),
        (["--workers", "-1"], "--workers must be an integer >= 0"),
        (["--epochs", "0"], "--epochs must be an integer >= 1"),
        (["--max-steps", "-5"], "--max-steps must be an integer >= 1"),
        (["--grad-clip", "-1"], "--grad-clip must be a number > 0"),
        (["--weight-decay", "-0.1"], "--weight-decay must be a number >= 0"),
        (["--save-every", "-1"], "--save-every must be an integer >= 0"),
        (["--tv-weight", "inf"], "--tv-weight must be"),
        (["--device", "tpu"], "--device must be auto, cpu, cuda"),
        (["--exclude-list", "no/such/list.txt"], "--exclude-list"),
        (["--val", "no/such/folder"], "--val"),
        (["--resume", "no/such/last.pt"], "does not exist"),
        (["--epochs", "x"], "invalid int value"),
    ],
)
def test_train_bad_options_are_usage_errors_before_any_work(tmp_path, capsys, extra, needle):
    data = _dark_folder(tmp_path / "data", n=2)
    out = tmp_path / "run"
    assert tr.main(_train_args(data, out, "--max-steps", "1", *extra)) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert not out.exists()  # nothing written, not even the folder


def test_train_cuda_without_gpu_is_a_usage_error(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    data = _dark_folder(tmp_path / "data", n=2)
    assert tr.main(_train_args(data, tmp_path / "run", "--device", "cuda")) == 2
    assert "CUDA is not available" in capsys.readouterr().err


def test_train_bad_paths_are_usage_errors(tmp_path, capsys):
    data = _dark_folder(tmp_path / "data", n=2)
    assert tr.main(_train_args(tmp_path / "missing", tmp_path / "r1")) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "afile").write_text("x")
    assert tr.main(_train_args(data, tmp_path / "afile")) == 2
    assert "not a folder" in capsys.readouterr().err
    assert tr.main(_train_args(data, tmp_path / "afile" / "below")) == 2
    assert "is a file" in capsys.readouterr().err


def test_train_bad_resume_files_are_usage_errors(tmp_path, capsys):
    data = _dark_folder(tmp_path / "data", n=2)
    good = tmp_path / "good"
    assert tr.main(_train_args(data, good, "--max-steps", "1")) == 0
    capsys.readouterr()
    truncated = tmp_path / "trunc.pt"
    truncated.write_bytes((good / "last.pt").read_bytes()[:200])
    cases = [
        (truncated, [], "truncated"),
        (good / "final.safetensors", [], "--init-weights"),
        (good / "last.pt", ["--model", "zero-dce++"], "does not fit"),
    ]
    for i, (path, extra, needle) in enumerate(cases):
        assert tr.main(_train_args(data, tmp_path / f"r{i}", "--resume", str(path), *extra)) == 2, needle
        err = capsys.readouterr().err
        assert needle in err and "Traceback" not in err


def test_eval_and_enhance_ctrl_c_is_one_line_and_130(tmp_path, weights, monkeypatch, capsys):
    src = tmp_path / "imgs"
    src.mkdir()
    write_image(src / "a.png", _img(24, 24))

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(enh, "enhance_image_file", interrupt)
    assert enh.main([str(src), "-o", str(tmp_path / "out"), "--weights", weights, "-q"]) == 130
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and "interrupted" in err
    monkeypatch.setattr(metrics, "score", interrupt)  # looked up by dce_transforms.evaluate
    assert ev.main([str(src), "--weights", weights, "-q"]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err


# -- dce-darken ------------------------------------------------------------------------------------------
@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    for split, names in {"train": ["a.png", "b.png", "c.png"], "val": ["d.png"]}.items():
        for i, name in enumerate(names):
            write_image(root / "images" / split / name, _img(16, 20, i, 1.0))
            label = root / "labels" / split / Path(name).with_suffix(".txt")
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text(f"{i % 2} 0.5 0.5 0.25 0.25\n")
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/val\nnames:\n  0: cat\n  1: dog\n")
    return root


def test_darken_binary_yaml_is_a_usage_error(tmp_path, capsys):
    bad = tmp_path / "data.yaml"
    bad.write_bytes(b"\xff\xfe\x00\x81binary\x00")
    assert darken.main([str(bad), "-o", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "not a text file" in err and "Traceback" not in err


def test_darken_warns_about_malformed_label_lines(dataset, tmp_path, capsys):
    (dataset / "labels" / "train" / "b.txt").write_text("0 0.5 0.5 0.2\ncat 0.1 0.1 0.1 0.1\n1 0.5 0.5 0.2 0.2\n")
    out = tmp_path / "dark"
    assert darken.main([str(dataset / "data.yaml"), "-o", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "b.txt" in err and "line 1" in err and "line 2" in err
    assert "1 label files with malformed lines" in err
    # still copied byte for byte
    assert (out / "labels" / "train" / "b.txt").read_bytes() == (dataset / "labels" / "train" / "b.txt").read_bytes()


def test_darken_interrupted_run_continues_on_rerun(dataset, tmp_path, monkeypatch, capsys):
    clean = tmp_path / "clean"
    assert darken.main([str(dataset / "data.yaml"), "-o", str(clean), "--quiet"]) == 0
    out = tmp_path / "dark"
    real = dio.write_image
    monkeypatch.setattr(dio, "write_image", _ctrl_c_on_call(real, 3))
    assert darken.main([str(dataset / "data.yaml"), "-o", str(out), "--quiet"]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err
    assert (out / darken.PARTIAL_FILE).is_file()
    monkeypatch.setattr(dio, "write_image", real)
    # the same command continues (no --exist-ok needed) and gives the same result as an uninterrupted run
    assert darken.main([str(dataset / "data.yaml"), "-o", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    done = int(err.split("continuing an interrupted run: ")[1].split(" of 4")[0])
    assert 2 <= done < 4  # the images written before Ctrl-C are kept and not redone
    assert not (out / darken.PARTIAL_FILE).exists()
    a, b = _digest(clean), _digest(out)
    assert {k: v for k, v in a.items() if k != "data.yaml"} == {k: v for k, v in b.items() if k != "data.yaml"}
    # other settings do not silently mix into an interrupted run
    (out / darken.PARTIAL_FILE).write_text(json.dumps({"seed": 99}))
    assert darken.main([str(dataset / "data.yaml"), "-o", str(out), "--quiet"]) == 2
    assert "other settings" in capsys.readouterr().err


# -- 5. unwritable outputs found before any work ---------------------------------------------------------
def test_enhance_output_below_a_file_or_read_only_is_refused_before_work(tmp_path, weights, monkeypatch, capsys):
    src = tmp_path / "a.png"
    write_image(src, _img(24, 24))
    calls = {"n": 0}
    monkeypatch.setattr(enh, "enhance_image_file", lambda *a, **k: calls.__setitem__("n", calls["n"] + 1))
    (tmp_path / "file").write_text("x")
    assert enh.main([str(src), "-o", str(tmp_path / "file" / "out"), "--weights", weights, "-q"]) == 2
    assert "is a file" in capsys.readouterr().err
    if os.geteuid() != 0:  # root ignores permission bits
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        try:
            assert enh.main([str(src), "-o", str(ro), "--weights", weights, "-q"]) == 2
            assert "permission denied or read-only" in capsys.readouterr().err
        finally:
            ro.chmod(0o700)
    assert calls["n"] == 0  # nothing was enhanced


def test_enhance_disk_full_is_named_and_stops_cleanly(tmp_path, weights, monkeypatch, capsys):
    """Disk full, simulated: the writer's open() raises ENOSPC."""
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        write_image(src / f"{i}.png", _img(24, 24, i))
    real_open = open

    def full_disk(file, mode="r", *args, **kwargs):
        if "w" in mode and Path(file).name.startswith("."):
            raise OSError(errno.ENOSPC, "No space left on device", str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(dio, "open", full_disk, raising=False)
    out = tmp_path / "out"
    assert enh.main([str(src), "-o", str(out), "--weights", weights, "-q"]) == 1
    err = capsys.readouterr().err
    assert "disk" in err and "full" in err and "stopping" in err
    assert err.count("failed") == 1  # stopped at the first full-disk error, not one message per file
    assert not list(out.iterdir())  # no partial or temporary file


def test_darken_and_eval_unwritable_outputs_before_work(dataset, tmp_path, weights, capsys):
    (tmp_path / "file").write_text("x")
    assert darken.main([str(dataset / "data.yaml"), "-o", str(tmp_path / "file" / "o"), "--quiet"]) == 2
    assert "is a file" in capsys.readouterr().err
    imgs = dataset / "images" / "train"
    assert ev.main([str(imgs), "--weights", weights, "--json", str(tmp_path / "file" / "r.json"), "-q"]) == 2
    err = capsys.readouterr()
    assert "is a file" in err.err and err.out == ""


# -- 6. smaller items ------------------------------------------------------------------------------------
def _dead_pid() -> int:
    pid = 999_999
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except OSError:
            pass
        pid -= 1


def test_stale_temp_file_of_a_killed_run_is_removed(tmp_path, weights):
    src = tmp_path / "a.png"
    write_image(src, _img(24, 24))
    out = tmp_path / "out"
    out.mkdir()
    stale = out / f".a.tmp-{_dead_pid()}-abcd1234.png"
    stale.write_bytes(b"half a file")
    alive = out / f".a.tmp-{os.getppid()}-abcd1234.png"  # a live process's temp file is left alone
    alive.write_bytes(b"in progress")
    assert enh.main([str(src), "-o", str(out), "--weights", weights, "-q"]) == 0
    assert not stale.exists() and alive.exists()


def test_new_suffix_does_not_re_enhance_earlier_outputs(tmp_path, weights):
    src = tmp_path / "in"
    src.mkdir()
    write_image(src / "a.png", _img(24, 24))
    assert enh.main([str(src), "-o", str(src), "--suffix", "_v1", "--weights", weights, "-q"]) == 0
    assert enh.main([str(src), "-o", str(src), "--suffix", "_v2", "--weights", weights, "-q"]) == 0
    names = sorted(p.name for p in src.iterdir() if not p.name.startswith("."))
    assert names == ["a.png", "a_v1.png", "a_v2.png"]


def test_from_official_with_the_other_models_file_names_it(shared):
    folder = shared / "weights" / "official"
    dce, pp = folder / "zero_dce_epoch99.pth", folder / "zero_dce_pp_epoch99.pth"
    if not (dce.is_file() and pp.is_file()):
        pytest.skip("the authors' checkpoints are not in ../shared/weights/official")
    with pytest.raises(ChecksumError, match=r"ZeroDCEPP\.from_official") as info:
        ZeroDCE.from_official(pp)
    assert "reinstall" not in str(info.value).lower()
    with pytest.raises(ChecksumError, match=r"ZeroDCE\.from_official"):
        ZeroDCEPP.from_official(dce)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_trained_weights_get_usual_permissions(tmp_path):
    data = _dark_folder(tmp_path / "data", n=2)
    out = tmp_path / "run"
    assert tr.main(_train_args(data, out, "--max-steps", "1")) == 0
    umask = os.umask(0)
    os.umask(umask)
    for name in ("final.safetensors", "last.pt", "final.sha256"):
        assert (out / name).stat().st_mode & 0o777 == 0o666 & ~umask, name

"""dce-eval: simulated pairs, reference pairs, official checkpoints, JSON and markdown output."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from dce_transforms import ZeroDCE, save_state_dict
from dce_transforms.cli.dce_eval import main
from dce_transforms.evaluate import find_reference, parse_official, simulation_seed


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> str:
    model = ZeroDCE(weights=None).reset_to_identity()
    with torch.no_grad():
        model._last_conv().bias.fill_(0.5)  # brightening curves everywhere
    path = tmp_path_factory.mktemp("w") / "bright.safetensors"
    save_state_dict(model.state_dict(), path)
    return str(path)


def _img(seed: int, h: int = 40, w: int = 48, scale: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.random((5, 5, 3)).astype(np.float32)
    return (cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR) * scale * 255).astype(np.uint8)


def _finite_numbers(summary: dict) -> bool:
    return bool(summary) and all(isinstance(v, float) and math.isfinite(v) for v in summary.values())


def test_simulate_json_and_table(tmp_path, weights, capsys):
    src = tmp_path / "normal"
    (src / "sub").mkdir(parents=True)
    cv2.imwrite(str(src / "a.png"), _img(0))
    cv2.imwrite(str(src / "sub" / "b.jpg"), _img(1))
    out = tmp_path / "res.json"
    md = tmp_path / "res.md"
    rc = main([str(src), "--simulate", "--seed", "3", "--weights", weights, "--json", str(out), "--markdown", str(md),
               "-q"])
    assert rc == 0
    table = capsys.readouterr().out
    assert "| input | 2 |" in table and "PSNR dB" in table and "bright.safetensors" in table
    assert md.read_text().count("|") > 20
    doc = json.loads(out.read_text())
    assert doc["mode"] == "simulate" and not doc["failed"]
    names = [m["name"] for m in doc["methods"]]
    assert names[0] == "input" and len(names) == 2
    for m in doc["methods"]:
        assert _finite_numbers(m["summary"]) and {"psnr", "ssim", "loe", "colorfulness"} <= set(m["summary"])
        assert set(m["per_image"]) == {"a.png", "sub/b.jpg"}
    ours, ident = doc["methods"][1]["summary"], doc["methods"][0]["summary"]
    assert ours["exposure"] > ident["exposure"]  # brightening model vs the darkened input


def test_simulation_is_seeded_per_file(tmp_path, weights):
    src = tmp_path / "normal"
    src.mkdir()
    for i in range(3):
        cv2.imwrite(str(src / f"{i}.png"), _img(i))
    runs = []
    for extra in (["--limit", "1"], [], ["--seed", "1"]):
        out = tmp_path / f"r{len(runs)}.json"
        assert main([str(src), "--simulate", "--weights", weights, "--json", str(out), "-q", *extra]) == 0
        runs.append(json.loads(out.read_text())["methods"][0]["per_image"])
    assert len(runs[0]) == 1 and len(runs[1]) == 3
    assert runs[0]["0.png"] == runs[1]["0.png"]  # same darkening whatever --limit is
    assert runs[2]["0.png"]["psnr"] != runs[1]["0.png"]["psnr"]  # another seed, another darkening
    assert simulation_seed(0, "a/b.png") != simulation_seed(0, "a/c.png")


def test_reference_pairs_and_failures(tmp_path, weights, capsys):
    low, ref = tmp_path / "low", tmp_path / "high"
    low.mkdir()
    ref.mkdir()
    for i in range(2):
        cv2.imwrite(str(low / f"{i}.jpg"), _img(i, scale=0.2))
        cv2.imwrite(str(ref / f"{i}.png"), _img(i))  # paired by stem, other extension
    cv2.imwrite(str(low / "lonely.png"), _img(5, scale=0.2))  # no reference
    (low / "broken.png").write_bytes(b"garbage")
    out = tmp_path / "res.json"
    rc = main([str(low), "--reference", str(ref), "--weights", weights, "--json", str(out), "-q"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "lonely.png" in err and "broken.png" in err
    doc = json.loads(out.read_text())
    assert {f["file"] for f in doc["failed"]} == {"lonely.png", "broken.png"}
    for m in doc["methods"]:
        assert set(m["per_image"]) == {"0.jpg", "1.jpg"} and _finite_numbers(m["summary"])
    ident, ours = (m["summary"] for m in doc["methods"])
    assert ours["psnr"] > ident["psnr"]  # brightening moves the dark input towards its reference


def test_find_reference_by_path_and_stem(tmp_path):
    (tmp_path / "r" / "d").mkdir(parents=True)
    (tmp_path / "r" / "d" / "x.png").write_bytes(b"")
    (tmp_path / "r" / "y.tif").write_bytes(b"")
    assert find_reference(tmp_path / "r", Path("d/x.jpg")) == tmp_path / "r" / "d" / "x.png"
    assert find_reference(tmp_path / "r", Path("z.png")) is None
    index = {"y": [tmp_path / "r" / "y.tif"]}
    assert find_reference(tmp_path / "r", Path("other/y.jpg"), index) == tmp_path / "r" / "y.tif"


def test_usage_errors(tmp_path, weights, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([str(empty), "--weights", weights, "-q"]) == 2
    assert "no images" in capsys.readouterr().err
    assert main([str(tmp_path / "missing"), "--weights", weights, "-q"]) == 2
    assert main([str(empty), "--reference", str(empty), "--simulate"]) == 2  # argparse: mutually exclusive
    assert main([str(empty), "--official", "zero-dce=/no/such.pth", "--weights", weights]) == 2


def test_official_checkpoints_side_by_side(shared, tmp_path, weights, capsys):
    src = tmp_path / "dark"
    src.mkdir()
    img = cv2.imread(str(shared / "data" / "lowlight" / "dicm" / "01.jpg"))
    cv2.imwrite(str(src / "01.png"), cv2.resize(img, (48, 64), interpolation=cv2.INTER_AREA))
    official = shared / "weights" / "official"
    assert parse_official(str(official / "zero_dce_pp_epoch99.pth"))[0] == "zero-dce++"
    out = tmp_path / "res.json"
    rc = main([str(src), "--weights", weights, "--official", f"zero-dce={official / 'zero_dce_epoch99.pth'}",
               "--official", str(official / "zero_dce_pp_epoch99.pth"), "--json", str(out), "-q"])
    assert rc == 0
    doc = json.loads(out.read_text())
    names = [m["name"] for m in doc["methods"]]
    assert names == ["input", "zero-dce (bright.safetensors)", "zero-dce (official)", "zero-dce++ (official)"]
    assert "psnr" not in doc["methods"][0]["summary"]  # no reference, no paired figures
    for m in doc["methods"][2:]:
        assert m["summary"]["exposure"] > doc["methods"][0]["summary"]["exposure"]
        assert _finite_numbers(m["summary"])

"""dce-darken: low-light copies of YOLO-format datasets."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest

from dce_transforms.cli import dce_darken as darken
from dce_transforms.io import read_image, write_image


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """A 5-image YOLO dataset (PNG and JPEG, train/val) with labels and a data YAML using a relative path."""
    root = tmp_path / "src"
    rng = np.random.default_rng(0)
    for split, names in {"train": ["a.png", "b.jpg", "sub/c.png"], "val": ["d.png", "e.jpg"]}.items():
        for i, name in enumerate(names):
            img = rng.integers(90, 256, size=(24, 32, 3), dtype=np.uint8)
            write_image(root / "images" / split / name, img)
            label = root / "labels" / split / Path(name).with_suffix(".txt")
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text(f"{i % 2} 0.5 0.5 0.25 0.25\n1 0.1 0.2 0.05 0.1\n")
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/val\nnames:\n  0: cat\n  1: 'traffic light'\n")
    return root


def _run(*args: str | Path) -> int:
    return darken.main([str(a) for a in args] + ["--quiet"])


def test_copy_labels_darker_source_untouched(dataset: Path, tmp_path: Path) -> None:
    before = _tree_digest(dataset)
    out = tmp_path / "dark"
    assert _run(dataset / "data.yaml", "-o", out, "--seed", "3") == 0
    assert _tree_digest(dataset) == before
    for src in (dataset / "images").rglob("*.*"):
        rel = src.relative_to(dataset)
        dst = out / rel
        assert dst.is_file(), rel
        a, b = read_image(src).astype(float), read_image(dst).astype(float)
        assert a.shape == b.shape
        assert b.mean() < 0.7 * a.mean()
        lab = Path(str(rel).replace("images", "labels", 1)).with_suffix(".txt")
        assert (out / lab).read_bytes() == (dataset / lab).read_bytes()
    data = darken.read_yaml(out / "data.yaml")
    assert Path(data["path"]) == out.resolve()
    assert data["train"] == "images/train" and data["val"] == "images/val"
    assert data["names"] == {0: "cat", 1: "traffic light"}


def test_reproducible_and_order_independent(dataset: Path, tmp_path: Path) -> None:
    assert _run(dataset / "data.yaml", "-o", tmp_path / "r1", "--seed", "5") == 0
    assert _run(dataset / "data.yaml", "-o", tmp_path / "r2", "--seed", "5", "--workers", "2") == 0
    assert _run(dataset / "data.yaml", "-o", tmp_path / "r3", "--seed", "6") == 0
    d1, d2, d3 = (_tree_digest(tmp_path / r / "images") for r in ("r1", "r2", "r3"))
    assert d1 == d2
    assert all(d1[k] != d3[k] for k in d1)
    # A dataset with only the val split gives the val images byte for byte: seeds depend on the path only.
    (dataset / "val_only.yaml").write_text("path: .\nval: images/val\ntrain: images/val\nnames: [cat, dog]\n")
    assert _run(dataset / "val_only.yaml", "-o", tmp_path / "r4", "--seed", "5") == 0
    d4 = _tree_digest(tmp_path / "r4" / "images")
    assert d4 and all(d4[k] == d1[k] for k in d4)


def test_bad_image_reported_rest_finished(dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (dataset / "images" / "val" / "broken.jpg").write_bytes(b"not an image")
    out = tmp_path / "dark"
    assert _run(dataset / "data.yaml", "-o", out) == 1
    err = capsys.readouterr().err
    assert "broken.jpg" in err and "failed" in err
    assert len(list((out / "images").rglob("*.*"))) == 5
    assert (out / "data.yaml").is_file()
    assert not list(out.rglob(".*"))  # no temporary files left behind


def test_refuses_source_and_non_empty_output(dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    before = _tree_digest(dataset)
    assert _run(dataset / "data.yaml", "-o", dataset / "dark") == 2
    assert _run(dataset / "data.yaml", "-o", dataset) == 2
    assert _run(dataset / "data.yaml", "-o", dataset.parent) == 2  # output containing the source
    assert "overlaps the source" in capsys.readouterr().err
    assert _tree_digest(dataset) == before
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert _run(dataset / "data.yaml", "-o", out) == 2
    assert _run(dataset / "data.yaml", "-o", out, "--exist-ok") == 0
    assert (out / "keep.txt").read_text() == "x"


def test_usage_errors(dataset: Path, tmp_path: Path) -> None:
    assert _run(tmp_path / "missing.yaml", "-o", tmp_path / "o1") == 2
    assert _run(dataset / "data.yaml", "-o", tmp_path / "o2", "--exposure", "0.5", "0.1") == 2
    assert _run(dataset / "data.yaml", "-o", tmp_path / "o3", "--shot-noise", "-1", "0") == 2
    assert not (tmp_path / "o2").exists() and not (tmp_path / "o3").exists()


def test_dataset_folder_without_yaml(dataset: Path, tmp_path: Path) -> None:
    (dataset / "data.yaml").unlink()
    out = tmp_path / "dark"
    assert _run(dataset, "-o", out) == 0
    data = darken.read_yaml(out / "data.yaml")
    assert data["train"] == "images/train" and data["val"] == "images/val"
    assert data["names"] == {0: "0", 1: "1"}  # inferred from the largest class id in the labels


def test_dataset_folder_with_yaml_and_txt_list(dataset: Path, tmp_path: Path) -> None:
    (dataset / "val.txt").write_text("./images/val/d.png\n./images/val/e.jpg\n")
    (dataset / "data.yaml").write_text("path: .\ntrain: images/train\nval: val.txt\nnames: [cat, dog]\n")
    out = tmp_path / "dark"
    assert _run(dataset, "-o", out) == 0
    assert (out / "val.txt").read_text().split() == ["./images/val/d.png", "./images/val/e.jpg"]
    assert (out / "images/val/d.png").is_file() and (out / "labels/val/e.txt").is_file()


def test_yaml_fallback_without_pyyaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml -> ImportError
    p = tmp_path / "d.yaml"
    p.write_text(
        "# comment\npath: ../data  # root\ntrain: [images/a, 'images/b']\nval: images/val\n"
        "nc: 2\nnames:\n  - person\n  - \"traffic light\"\n"
    )
    d = darken.read_yaml(p)
    assert d == {"path": "../data", "train": ["images/a", "images/b"], "val": "images/val", "nc": 2,
                 "names": ["person", "traffic light"]}
    (tmp_path / "bad.yaml").write_text("path: x\n  weird line\n")
    with pytest.raises(darken.UsageError, match="pyyaml"):
        darken.read_yaml(tmp_path / "bad.yaml")


def test_label_path_and_seed() -> None:
    assert darken.label_path(Path("/d/images/train/x.jpg")) == Path("/d/labels/train/x.txt")
    assert darken.label_path(Path("/images/d/images/v/y.png")) == Path("/images/d/labels/v/y.txt")
    assert darken.image_seed(1, "a.jpg") != darken.image_seed(1, "b.jpg")

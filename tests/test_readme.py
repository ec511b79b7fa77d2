"""Every Python code block of README.md runs as written (each in a fresh interpreter, as a user would paste it).

Blocks that use files the README assumes the user has (``images/``, ``dark.yaml``) run in a scratch
folder where those are made from ``../shared/data/detection/coco8`` (skipped when absent).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SHARED

README = ROOT / "README.md"


def _blocks() -> list[tuple[str, str]]:
    text = README.read_text(encoding="utf-8")
    out = []
    for m in re.finditer(r"^```python\n(.*?)^```", text, flags=re.S | re.M):
        line = text[: m.start()].count("\n") + 1
        heading = re.findall(r"^## (.+)$", text[: m.start()], flags=re.M)[-1]
        out.append((f"{heading} (line {line})", m.group(1)))
    return out


BLOCKS = _blocks()


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 3 and any("In pipelines" in name for name, _ in BLOCKS)


def _needs_data(code: str) -> bool:
    return "images/" in code or (".yaml\"" in code and "data=" in code)


def _prepare_data(tmp: Path) -> None:
    coco8 = SHARED / "data" / "detection" / "coco8"
    if not coco8.is_dir():
        pytest.skip(f"README block needs a small dataset: {coco8} not found")
    (tmp / "images").mkdir()
    for img in sorted((coco8 / "images" / "val").glob("*.jpg"))[:2]:
        shutil.copy(img, tmp / "images" / img.name)
    (tmp / "dark.yaml").write_text(
        f"path: {coco8}\ntrain: images/train\nval: images/val\nnames:\n"
        + "".join(f"  {i}: c{i}\n" for i in range(80))
    )


@pytest.mark.parametrize(
    "name, code",
    [pytest.param(n, c, marks=[pytest.mark.slow] if _needs_data(c) else [], id=n) for n, c in BLOCKS],
)
def test_readme_block_runs_as_written(name, code, tmp_path):
    if "ultralytics" in code:
        pytest.importorskip("ultralytics")
    if _needs_data(code):
        _prepare_data(tmp_path)
    script = tmp_path / "block.py"
    script.write_text(code, encoding="utf-8")
    env = {**os.environ, "YOLO_OFFLINE": "1", "OMP_NUM_THREADS": "2", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=1800)
    assert proc.returncode == 0, f"README block {name} failed:\n{proc.stderr[-4000:]}"

"""Importing the package never drags in the heavy optional frameworks (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import dce_transforms

HEAVY = ("ultralytics", "albumentations", "cv2")
CORE = ["dce_transforms", "dce_transforms.curves", "dce_transforms.losses", "dce_transforms.models",
        "dce_transforms.errors", "dce_transforms.io", "dce_transforms._weights", "dce_transforms._checks"]

_PROBE = """
import importlib, json, sys
heavy = {heavy!r}
report = {{}}
for name in {modules!r}:
    try:
        importlib.import_module(name)
    except Exception as err:  # report, do not hide, a module that fails to import
        report[name] = "import failed: " + type(err).__name__ + ": " + str(err)
        continue
    pulled = [h for h in heavy if h in sys.modules]
    if pulled:
        report[name] = pulled
        break
print(json.dumps(report))
"""


def _probe(modules: list[str]) -> dict:
    code = _PROBE.format(heavy=HEAVY, modules=modules)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _package_modules() -> list[str]:
    """Every submodule of the package except the integrations (which exist to import frameworks)."""
    return sorted(
        info.name
        for info in pkgutil.walk_packages(dce_transforms.__path__, prefix="dce_transforms.")
        if not info.name.startswith("dce_transforms.integrations")
    )


def test_core_import_is_light():
    assert _probe(CORE) == {}


def test_every_package_module_import_is_light():
    modules = _package_modules()
    assert "dce_transforms.models" in modules and "dce_transforms.losses" in modules
    assert _probe(modules) == {}


def test_the_probe_detects_a_heavy_import():
    # the check above could not fail if the probe never saw a heavy module: show that it does
    assert _probe(["json", "cv2"]) == {"cv2": ["cv2"]}

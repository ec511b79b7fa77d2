"""``--help`` of the command-line tools: every option explained with its default, no reST markup."""

from __future__ import annotations

import argparse
import importlib
import re

import pytest

from dce_transforms.cli._common import plain_text

TOOLS = ["dce_darken", "dce_enhance", "dce_eval", "dce_train"]
_MARKUP = re.compile(r"``|:(?:func|class|mod|meth|attr|data|exc):`")


def _parser(tool: str) -> argparse.ArgumentParser:
    return importlib.import_module(f"dce_transforms.cli.{tool}")._parser()


@pytest.mark.parametrize("tool", TOOLS)
def test_help_prints_no_rest_markup(tool):
    text = _parser(tool).format_help()
    assert not _MARKUP.search(text), _MARKUP.search(text)


@pytest.mark.parametrize("tool", ["dce_darken", "dce_train"])
def test_every_option_has_help_that_states_its_default(tool):
    parser = _parser(tool)
    options = [a for a in parser._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]
    assert len(options) >= 10
    missing = [a.option_strings[-1] for a in options if not a.help]
    assert not missing, f"{tool}: no help text for {missing}"
    no_default = [a.option_strings[-1] for a in options if "default" not in a.help and not a.required]
    assert not no_default, f"{tool}: help does not state the default of {no_default}"
    text = parser.format_help()
    assert "%(default)" not in text
    assert {"dce_train": "--crop CROP", "dce_darken": "--seed SEED"}[tool] in text
    assert {"dce_train": "(default 256)", "dce_darken": "(default 0)"}[tool] in text


def test_plain_text_strips_roles_and_literals_only():
    assert plain_text("use :func:`~dce_transforms.simulate.darken` or ``--seed 3``.") == (
        "use dce_transforms.simulate.darken or --seed 3."
    )
    assert plain_text("runs through ``torchrun``::\n\n    torchrun ...") == "runs through torchrun:\n\n    torchrun ..."
    assert plain_text("a plain (x: y) text, 1 / 2") == "a plain (x: y) text, 1 / 2"


def test_console_scripts_point_at_the_cli_modules():
    """pyproject's four console scripts (names unchanged) run ``dce_transforms.cli.<module>:main``."""
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")

    scripts = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]["scripts"]
    assert set(scripts) == {"dce-enhance", "dce-train", "dce-eval", "dce-darken"}
    for name, target in scripts.items():
        module, _, attr = target.partition(":")
        assert module == "dce_transforms.cli." + name.replace("-", "_"), target
        assert attr == "main" and callable(getattr(importlib.import_module(module), attr)), target

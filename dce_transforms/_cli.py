"""Helpers shared by the command-line tools: parsing without exiting, and usage errors."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace | int:
    """``parser.parse_args(argv)``, or the exit status argparse asked for (0 after --help, 2 on a usage error).

    The tools' ``main()`` return their status instead of exiting, so that they can be called from Python.
    """
    try:
        return parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def usage_error(prog: str, message: str) -> int:
    """Print ``PROG: error: MESSAGE`` on stderr and return the usage-error status, 2."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 2

"""The command-line tools, one module each (installed as console scripts):

* ``dce-enhance`` — :mod:`dce_transforms.cli.dce_enhance`: enhance images, folders and videos;
* ``dce-train`` — :mod:`dce_transforms.cli.dce_train`: zero-reference training (library: :mod:`dce_transforms.train`);
* ``dce-eval`` — :mod:`dce_transforms.cli.dce_eval`: score enhancers side by side (library:
  :mod:`dce_transforms.evaluate`);
* ``dce-darken`` — :mod:`dce_transforms.cli.dce_darken`: a low-light copy of a YOLO dataset.

Each module has ``main(argv=None) -> int`` (the exit status: 0 done, 1 some items failed, 2 bad
usage, 130 interrupted) and runs with ``python -m dce_transforms.cli.MODULE``. Their shared parsing,
device and usage-error code lives in ``dce_transforms.cli._common``. Importing this package imports
none of the tools; ``dce_transforms.cli.dce_enhance`` (etc.) are loaded when first used.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["dce_enhance", "dce_train", "dce_eval", "dce_darken"]

#: Console-script name → module that implements it.
TOOLS = {"dce-enhance": "dce_enhance", "dce-train": "dce_train", "dce-eval": "dce_eval", "dce-darken": "dce_darken"}


def __getattr__(name: str) -> ModuleType:
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

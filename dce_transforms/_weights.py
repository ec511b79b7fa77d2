"""Checkpoints as data: registry entries, hashed loading, denormal flushing."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ._files import atomic_path
from .errors import ChecksumError, WeightsError

__all__ = ["WeightsEntry", "load_state_dict", "save_state_dict", "flush_denormals", "sha256_of", "WEIGHTS_DIR"]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


@dataclass(frozen=True)
class WeightsEntry:
    """One shipped checkpoint: where it lies, its hash, and where it came from.

    Attributes:
        name: registry name, e.g. ``"sice-v1"``.
        file: file name inside ``dce_transforms/weights/`` (safetensors).
        sha256: hex digest checked on every load.
        license: licence of the weights.
        paper: the method's reference.
        recipe: how the weights were trained (command, data, schedule, hardware).
        meta: further facts (final losses, evaluation figures).
        kwargs: constructor arguments that come with these weights (e.g. an exposure gate), applied
            unless the caller passes them explicitly.
    """

    name: str
    file: str
    sha256: str
    license: str
    paper: str
    recipe: str
    meta: Mapping[str, Any] = field(default_factory=dict)
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return WEIGHTS_DIR / self.file


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def flush_denormals(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Replace subnormal floating-point values by zero.

    Subnormal weights make CPU convolutions many times slower and change no output that
    matters (the authors' Zero-DCE checkpoint holds thousands of them).
    """
    out: dict[str, Tensor] = {}
    for key, t in state.items():
        if t.is_floating_point():
            tiny = torch.finfo(t.dtype).tiny
            t = torch.where(t.abs() < tiny, torch.zeros_like(t), t)
        out[key] = t
    return out


_OFFICIAL_NAMES = {"zero_dce": ("Zero-DCE", "ZeroDCE", "zero-dce"), "zero_dce_pp": ("Zero-DCE++", "ZeroDCEPP", "zero-dce++")}


def _known_official(digest: str) -> tuple[str, str, str, str] | None:
    """``(key, model name, class name, CLI name)`` of the authors' release with this full sha256, if any."""
    from .models import OFFICIAL_SHA256  # models imports this module: import on use

    for key, known in OFFICIAL_SHA256.items():
        if known == digest and key in _OFFICIAL_NAMES:
            return (key, *_OFFICIAL_NAMES[key])
    return None


def _known_official_prefix(prefix: str) -> tuple[str, str, str, str] | None:
    from .models import OFFICIAL_SHA256

    for key, known in OFFICIAL_SHA256.items():
        if known.startswith(prefix) and key in _OFFICIAL_NAMES:
            return (key, *_OFFICIAL_NAMES[key])
    return None


def load_state_dict(path: str | os.PathLike[str], *, sha256: str | None = None) -> dict[str, Tensor]:
    """Load a checkpoint safely onto the CPU, check its hash, flush denormals.

    ``.safetensors`` files are read with safetensors; anything else with
    ``torch.load(weights_only=True)``. A checkpoint that wraps its weights under
    ``"state_dict"``, ``"model"`` or ``"ema"`` (as ``dce-train`` writes) is unwrapped.

    Args:
        path: checkpoint file.
        sha256: expected hex digest (or a prefix of at least 8 characters); checked when given.

    Raises:
        WeightsError: the file is missing, cannot be read as a checkpoint, or holds NaN or infinite values.
        ChecksumError: the digest does not match.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"checkpoint {str(path)!r} does not exist; pass the path of a .safetensors or .pth file.")
    if sha256 is not None:
        expected = sha256.lower()
        if len(expected) < 8:
            raise ChecksumError(
                f"sha256 prefix {sha256!r} is too short to identify a checkpoint: give at least 8 hex characters."
            )
        actual = sha256_of(path)
        if not actual.startswith(expected):
            other = _known_official(actual)
            if other is not None and not _known_official_prefix(expected) == other:
                raise ChecksumError(
                    f"checkpoint {str(path)!r} is the authors' {other[1]} checkpoint, not the one expected here: "
                    f"load it with {other[2]}.from_official(path) (dce-eval: --official {other[3]}=PATH)."
                )
            raise ChecksumError(
                f"checkpoint {str(path)!r} has sha256 {actual}, expected {expected}: the file is corrupt or "
                "not the one registered. Reinstall the package or pass the right file."
            )
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # any reader failure is a bad checkpoint for the user
        raise WeightsError(
            f"could not read checkpoint {str(path)!r} ({type(err).__name__}: {err}). Only safetensors files and "
            "plain state dicts loadable with torch.load(weights_only=True) are accepted."
        ) from err
    if isinstance(state, Mapping):
        for key in ("ema", "state_dict", "model"):
            inner = state.get(key)
            if isinstance(inner, Mapping) and inner and all(isinstance(v, Tensor) for v in inner.values()):
                state = inner
                break
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise WeightsError(f"checkpoint {str(path)!r} is not a state dict of tensors.")
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise WeightsError(
            f"checkpoint {str(path)!r} holds NaN or infinite values in {len(bad)} tensor(s) ({', '.join(sorted(bad)[:3])}"
            f"{'...' if len(bad) > 3 else ''}): the training that wrote it diverged. Use an earlier checkpoint, or "
            "retrain with a lower learning rate."
        )
    return flush_denormals(dict(state))


def save_state_dict(state: Mapping[str, Tensor], path: str | os.PathLike[str], *, metadata: dict[str, str] | None = None) -> str:
    """Write a state dict as safetensors atomically and return its sha256."""
    from safetensors.torch import save_file

    path = Path(path)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    with atomic_path(path) as tmp:  # the usual permissions (0666 & ~umask), whatever mode the writer chose
        save_file(tensors, str(tmp), metadata=metadata)
    return sha256_of(path)

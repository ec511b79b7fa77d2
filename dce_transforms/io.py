"""Image and file helpers shared by the command-line tools: listing, reading, atomic writing.

OpenCV is imported when first needed, so importing :mod:`dce_transforms` stays light.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch
from torch import Tensor

from .errors import DCEError

__all__ = [
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "ImageReadError",
    "list_images",
    "read_image",
    "write_image",
    "image_to_tensor",
    "tensor_to_image",
    "atomic_path",
]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"})


class ImageReadError(DCEError, ValueError):
    """A file could not be decoded as an image."""


def _cv2():
    import cv2  # noqa: PLC0415 - optional at import time of the package

    return cv2


def list_images(roots: Iterable[str | os.PathLike[str]], *, suffixes: frozenset[str] = IMAGE_SUFFIXES) -> list[Path]:
    """All image files under the given files or folders (recursive, sorted, no duplicates)."""
    found: dict[Path, None] = {}
    for root in roots:
        p = Path(root)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and f.suffix.lower() in suffixes and not f.name.startswith("."):
                    found.setdefault(f, None)
        elif p.is_file():
            found.setdefault(p, None)
        else:
            raise FileNotFoundError(f"{str(p)!r} is neither a file nor a folder.")
    return list(found)


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image as an RGB ``HWC`` array, keeping its bit depth (uint8 or uint16).

    Grayscale images come back with 3 identical channels; an alpha channel is dropped.

    Raises:
        ImageReadError: the file is missing or is not a decodable image.
    """
    cv2 = _cv2()
    data = np.fromfile(str(path), dtype=np.uint8) if Path(path).is_file() else None
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data is not None and data.size else None
    if img is None:
        raise ImageReadError(f"could not read {str(path)!r} as an image (missing, empty or corrupt file).")
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    else:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if img.dtype not in (np.uint8, np.uint16):
        img = np.clip(img.astype(np.float32), 0, 1)
        img = (img * 255 + 0.5).astype(np.uint8)
    return img


def image_to_tensor(img: np.ndarray) -> Tensor:
    """RGB ``HWC`` uint8/uint16/float array to a float32 ``(3, H, W)`` tensor in [0, 1]."""
    scale = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(img.dtype, 1.0)
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float().div_(scale).clamp_(0, 1)


def tensor_to_image(t: Tensor, dtype: np.dtype | type = np.uint8) -> np.ndarray:
    """``(3, H, W)`` tensor in [0, 1] to an RGB ``HWC`` array of ``dtype`` (uint8 or uint16), rounded."""
    scale = 65535.0 if np.dtype(dtype) == np.uint16 else 255.0
    arr = t.detach().float().clamp(0, 1).mul(scale).add_(0.5).floor_().permute(1, 2, 0).cpu().numpy()
    return arr.astype(dtype)


class atomic_path:
    """Context manager giving a temporary path beside ``target``, moved onto it only on success.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> with atomic_path(d / "a.txt") as tmp:
        ...     _ = tmp.write_text("hi")
        >>> (d / "a.txt").read_text()
        'hi'
    """

    def __init__(self, target: str | os.PathLike[str]) -> None:
        self.target = Path(target)

    def __enter__(self) -> Path:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{self.target.stem}.", suffix=self.target.suffix, dir=self.target.parent)
        os.close(fd)
        # mkstemp creates the file private (0600); give the final file the usual permissions (0666 & ~umask).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(name, 0o666 & ~umask)
        self.tmp = Path(name)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            os.replace(self.tmp, self.target)
        elif self.tmp.exists():
            self.tmp.unlink()


def write_image(path: str | os.PathLike[str], img: np.ndarray, *, quality: int = 95) -> None:
    """Write an RGB ``HWC`` uint8/uint16 array atomically; the format follows the suffix.

    Raises:
        DCEError: the encoder failed (e.g. uint16 to JPEG, or an unknown suffix).
    """
    cv2 = _cv2()
    path = Path(path)
    bgr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    params: list[int] = []
    if path.suffix.lower() in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    ok, buf = cv2.imencode(path.suffix, bgr, params)
    if not ok:
        raise DCEError(f"could not encode {path.name!r} as {path.suffix}.")
    with atomic_path(path) as tmp:
        buf.tofile(str(tmp))


def iter_chunks(items: list, size: int) -> Iterator[list]:
    """Consecutive chunks of ``size`` items."""
    for i in range(0, len(items), size):
        yield items[i : i + size]

"""Image and file helpers shared by the command-line tools: listing, reading, atomic writing.

OpenCV (and Pillow, for image headers and EXIF) are imported when first needed, so importing
:mod:`dce_transforms` stays light. :func:`image_to_tensor` and :func:`tensor_to_image` live in
:mod:`dce_transforms.convert` (with the library's one rounding rule) and are importable from here too.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._files import atomic_path
from ._files import glob_escape as glob_escape  # re-exported: importable from here as before
from .convert import image_to_tensor, quantize_array, tensor_to_image
from .errors import DCEError

__all__ = [
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "DEFAULT_MAX_PIXELS",
    "ImageReadError",
    "ImageTooLargeError",
    "ImageFile",
    "list_images",
    "image_size",
    "load_image",
    "read_image",
    "write_image",
    "image_to_tensor",
    "tensor_to_image",
    "atomic_path",
]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"})

#: Images declaring more pixels than this are refused before they are decoded (``--max-pixels``
#: raises it): decoding and enhancing take memory in proportion to the pixel count, and a small
#: file can declare a huge image.
DEFAULT_MAX_PIXELS = 50_000_000

_EXIF_ORIENTATION = 0x0112
_PIL_LOCK = threading.Lock()


class ImageReadError(DCEError, ValueError):
    """A file could not be decoded as an image."""


class ImageTooLargeError(ImageReadError):
    """An image declares more pixels than the allowed maximum (``max_pixels`` / ``--max-pixels``)."""


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


def _header(path: str | os.PathLike[str]) -> tuple[int, int, int, bytes | None] | None:
    """``(width, height, EXIF orientation, EXIF bytes)`` from the file's header, without decoding pixels.

    ``None`` when Pillow is missing or cannot identify the file (OpenCV then decides).
    """
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with torchvision
        return None
    with _PIL_LOCK:  # Pillow's own bomb check is a module global; ours replaces it here
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            with Image.open(path) as im:
                width, height = im.size
                orientation, exif = 1, None
                try:
                    tags = im.getexif()
                    orientation = int(tags.get(_EXIF_ORIENTATION, 1) or 1)
                    if len(tags) and (im.format or "").upper() == "JPEG":
                        if _EXIF_ORIENTATION in tags:
                            tags[_EXIF_ORIENTATION] = 1  # the pixels are written upright
                        exif = tags.tobytes()
                except Exception:  # noqa: BLE001 - a broken EXIF block is ignored, as viewers do
                    orientation, exif = 1, None
        except Exception:  # noqa: BLE001 - not identifiable by Pillow: let OpenCV try
            return None
        finally:
            Image.MAX_IMAGE_PIXELS = saved
    return int(width), int(height), orientation if 1 <= orientation <= 8 else 1, exif


def image_size(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """``(width, height)`` declared by an image file's header (as stored, before EXIF rotation), or ``None``."""
    head = _header(path)
    return None if head is None else (head[0], head[1])


def _orient(img: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (2-8) so that the array is upright, as viewers show it."""
    if orientation == 2:
        img = img[:, ::-1]
    elif orientation == 3:
        img = img[::-1, ::-1]
    elif orientation == 4:
        img = img[::-1]
    elif orientation == 5:
        img = img.swapaxes(0, 1)
    elif orientation == 6:
        img = np.rot90(img, -1)
    elif orientation == 7:
        img = np.rot90(img, -1)[::-1]
    elif orientation == 8:
        img = np.rot90(img, 1)
    return np.ascontiguousarray(img)


@dataclass
class ImageFile:
    """A decoded image: RGB ``HWC`` pixels, the alpha channel if any, and EXIF to copy into a JPEG output.

    Attributes:
        rgb: uint8, uint16 or float32 (in [0, 1]) array, upright (EXIF orientation applied).
        alpha: ``HW`` array of the same dtype, or ``None``.
        exif: the EXIF block (``b"Exif\\0\\0..."``, orientation reset to 1) of a JPEG input, or ``None``.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None = None
    exif: bytes | None = None


def load_image(path: str | os.PathLike[str], *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> ImageFile:
    """Read an image keeping what :func:`read_image` drops: alpha channel and EXIF (see :class:`ImageFile`).

    Grayscale images come back with 3 identical channels; 8- and 16-bit integers are kept, float
    images (e.g. 32-bit TIFF) come back as float32 clipped to [0, 1]; other depths become uint8.
    The EXIF orientation of the file is applied, so portrait photos come back upright.

    Args:
        path: image file.
        max_pixels: refuse images whose header declares more pixels (``None``: no limit of ours;
            OpenCV's own limit of 2**30 pixels still applies).

    Raises:
        ImageTooLargeError: the image declares more than ``max_pixels`` pixels (nothing is decoded).
        ImageReadError: the file is missing or is not a decodable image.
    """
    cv2 = _cv2()
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"could not read {str(path)!r} as an image (missing, empty or corrupt file).")
    head = _header(path)
    orientation, exif = (head[2], head[3]) if head is not None else (1, None)
    if head is not None and max_pixels is not None and head[0] * head[1] > max_pixels:
        raise ImageTooLargeError(
            f"{str(path)!r} declares {head[0]}x{head[1]} = {head[0] * head[1]:,} pixels, more than the limit of "
            f"{max_pixels:,} (decoding it could exhaust memory); raise the limit with --max-pixels N "
            "(max_pixels= in Python) if the image is genuine."
        )
    data = np.fromfile(str(path), dtype=np.uint8)
    try:
        img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    except cv2.error as err:
        raise ImageReadError(
            f"could not decode {str(path)!r}: OpenCV refused it ({str(err).strip().splitlines()[-1]}); images above "
            "2**30 pixels cannot be read."
        ) from err
    if img is None:
        raise ImageReadError(f"could not read {str(path)!r} as an image (missing, empty or corrupt file).")
    alpha = None
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    elif img.shape[2] == 4:
        alpha = np.ascontiguousarray(img[..., 3])
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    elif img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    else:
        img = cv2.cvtColor(np.ascontiguousarray(img[..., :1]), cv2.COLOR_GRAY2RGB)
    if img.dtype not in (np.uint8, np.uint16):
        if np.issubdtype(img.dtype, np.floating):
            img = np.clip(np.nan_to_num(img.astype(np.float32)), 0, 1)
            alpha = None if alpha is None else np.clip(np.nan_to_num(alpha.astype(np.float32)), 0, 1)
        else:
            img = quantize_array(img.astype(np.float32))
            alpha = None
    if orientation != 1:
        img = _orient(img, orientation)
        alpha = None if alpha is None else _orient(alpha, orientation)
    return ImageFile(rgb=img, alpha=alpha, exif=exif)


def read_image(path: str | os.PathLike[str], *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image as an upright RGB ``HWC`` array, keeping its bit depth (uint8, uint16, or float32).

    Grayscale images come back with 3 identical channels; an alpha channel is dropped (use
    :func:`load_image` to keep it); EXIF orientation is applied.

    Raises:
        ImageTooLargeError: the header declares more than ``max_pixels`` pixels.
        ImageReadError: the file is missing or is not a decodable image.
    """
    return load_image(path, max_pixels=max_pixels).rgb


def _insert_exif(jpeg: bytes, exif: bytes) -> bytes:
    """Put an EXIF APP1 segment into a JPEG stream, after SOI and a JFIF APP0 segment if present."""
    if len(exif) + 2 > 0xFFFF or jpeg[:2] != b"\xff\xd8":
        return jpeg
    pos = 2
    if jpeg[2:4] == b"\xff\xe0":
        pos = 4 + int.from_bytes(jpeg[4:6], "big")
    segment = b"\xff\xe1" + (len(exif) + 2).to_bytes(2, "big") + exif
    return jpeg[:pos] + segment + jpeg[pos:]


def write_image(path: str | os.PathLike[str], img: np.ndarray, *, quality: int = 95, alpha: np.ndarray | None = None,
                exif: bytes | None = None) -> None:
    """Write an RGB ``HWC`` uint8/uint16/float32 array atomically; the format follows the suffix.

    Args:
        path: output file; ``.jpg``/``.png``/``.tif``/``.webp``/``.bmp``.
        img: the pixels.
        quality: JPEG quality.
        alpha: an ``HW`` alpha channel of the same dtype, written where the format has one (PNG, TIFF, WebP).
        exif: an EXIF block to copy into a JPEG output.

    Raises:
        DCEError: the encoder failed (e.g. uint16 to JPEG, or an unknown suffix).
        OSError: the file cannot be written (read-only location, disk full...).
    """
    cv2 = _cv2()
    path = Path(path)
    ext = path.suffix.lower()
    if alpha is not None and ext in (".png", ".tif", ".tiff", ".webp"):
        bgr = cv2.cvtColor(img, cv2.COLOR_RGB2BGRA)
        bgr[..., 3] = alpha.astype(img.dtype)
    elif img.ndim == 3 and img.shape[2] == 1:
        bgr = img[..., 0]
    elif img.ndim == 2:
        bgr = img
    else:
        bgr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    params: list[int] = []
    if ext in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    if bgr.dtype.kind == "f" and ext not in (".tif", ".tiff"):
        bgr = quantize_array(bgr)  # only TIFF stores float pixels
    try:
        ok, buf = cv2.imencode(path.suffix, bgr, params)
    except cv2.error:
        ok, buf = False, None
    if not ok:
        raise DCEError(f"could not encode {path.name!r} as {path.suffix}.")
    data = buf.tobytes()
    if exif and ext in (".jpg", ".jpeg"):
        data = _insert_exif(data, exif)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)


def iter_chunks(items: list, size: int) -> Iterator[list]:
    """Consecutive chunks of ``size`` items."""
    for i in range(0, len(items), size):
        yield items[i : i + size]

"""``dce-darken``: make a low-light copy of a YOLO-format detection dataset.

Examples:
    dce-darken datasets/coco8/data.yaml -o datasets/coco8-dark/
    dce-darken datasets/mydata/ -o mydata-dark/ --seed 3 --exposure 0.03 0.15 --gamma 2 3

Every image of every split (``train``, ``val``, ``test``; folders, lists of folders or ``.txt``
image lists) is darkened with :func:`dce_transforms.simulate.simulate_low_light` and written at
the same relative path under the output folder, in the same format and bit depth; its label file
(``images/`` → ``labels/``, ``.txt``) is copied unchanged, since darkening moves no object. A new
``data.yaml`` pointing to the copy (absolute ``path``, same splits and class names) is written last.

Reproducible: each image's random parameters and noise come from a seed derived from ``--seed``
and the image's path relative to the dataset root, so the result depends neither on the order of
processing nor on which other images are present.

Input: a data YAML, or a dataset folder holding one data YAML, or a folder with
``images/<split>/`` and ``labels/<split>/`` (class names are then read from nowhere: they become
``"0"``, ``"1"``... up to the largest class id found in the labels).

Safety: the source is only read; the tool refuses an output folder inside the dataset (or
containing it), an unwritable one, and a non-empty output folder unless ``--exist-ok`` is given.
Files are written atomically. A file that cannot be read or written is reported on stderr and the
others are still processed. Label lines that are not ``class x y w h`` (or a class and polygon
points) with normalised coordinates are reported as warnings (the file is still copied unchanged).

Interrupted runs (Ctrl-C, a killed process): the output folder keeps a hidden
``.dce-darken-partial.json`` with the settings; running the same command again continues,
skipping the images already written (their content depends only on the seed and the path).

Exit status: 0 when every image was darkened, 1 when at least one failed, 2 for usage errors,
130 when interrupted.

The data YAML is read with PyYAML when it is installed (``pip install pyyaml``; Ultralytics
installs it), and otherwise with a small reader for the flat subset that dataset files use.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DCEError, UsageError
from ._common import (
    EXIT_INTERRUPTED,
    HelpFormatter,
    check_writable_dir,
    describe_os_error,
    is_within,
    parse_args,
    usage_error,
)

__all__ = ["DatasetSpec", "UsageError", "image_seed", "label_path", "load_data_yaml", "main", "plan", "read_yaml"]

_PROG = "dce-darken"
_SPLITS = ("train", "val", "test", "minival")
_YAML_NAMES = ("data.yaml", "dataset.yaml", "data.yml", "dataset.yml")
#: Settings of a run in progress, in the output folder; removed when the run completes.
PARTIAL_FILE = ".dce-darken-partial.json"


# -- YAML ---------------------------------------------------------------------------------------------
def _scalar(text: str) -> Any:
    text = text.strip()
    if not text or text in ("~", "null", "None"):
        return None
    if text[0] in "\"'":
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text.strip("\"'")
    if text[0] == "[" and text[-1] == "]":
        inner = text[1:-1].strip()
        return [_scalar(t) for t in _split_flow(inner)] if inner else []
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _split_flow(text: str) -> list[str]:
    out, cur, quote = [], "", ""
    for ch in text:
        if quote:
            cur += ch
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote, cur = ch, cur + ch
        elif ch == ",":
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [t for t in (s.strip() for s in out) if t]


def _strip_comment(line: str) -> str:
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def _parse_simple_yaml(text: str) -> dict[str, Any]:
    """Parse the flat YAML subset of dataset files: ``key: scalar``, ``key: [a, b]``, and one level
    of block mapping (``  0: person``) or block list (``  - person``) under a key."""
    data: dict[str, Any] = {}
    key: str | None = None
    for raw in text.splitlines():
        line = _strip_comment(raw)
        if not line.strip() or line.strip() == "---":
            continue
        indented = line[0].isspace()
        body = line.strip()
        if not indented:
            if ":" not in body:
                raise UsageError(f"cannot read YAML line {raw!r}; install PyYAML (`pip install pyyaml`).")
            key, _, rest = body.partition(":")
            key = key.strip().strip("\"'")
            data[key] = _scalar(rest) if rest.strip() else None
            continue
        if key is None:
            raise UsageError(f"cannot read YAML line {raw!r}; install PyYAML (`pip install pyyaml`).")
        if body.startswith("- "):
            if data[key] is None:
                data[key] = []
            if not isinstance(data[key], list):
                raise UsageError(f"cannot read YAML line {raw!r}; install PyYAML (`pip install pyyaml`).")
            data[key].append(_scalar(body[2:]))
        elif ":" in body:
            if data[key] is None:
                data[key] = {}
            if not isinstance(data[key], dict):
                raise UsageError(f"cannot read YAML line {raw!r}; install PyYAML (`pip install pyyaml`).")
            k, _, v = body.partition(":")
            data[key][_scalar(k)] = _scalar(v)
        else:
            raise UsageError(f"cannot read YAML line {raw!r}; install PyYAML (`pip install pyyaml`).")
    return data


def read_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a dataset YAML as a dict (PyYAML when installed, else the flat subset reader).

    Example:
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     p = pathlib.Path(folder) / "d.yaml"
        ...     _ = p.write_text("path: /data  # root\\ntrain: images/train\\nnames:\\n  0: person\\n  1: 'traffic light'\\n")
        ...     d = read_yaml(p)
        >>> d["train"], d["names"]
        ('images/train', {0: 'person', 1: 'traffic light'})

    Raises:
        UsageError: the file cannot be read, is not UTF-8 text, or is not a dataset YAML.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise UsageError(f"{str(path)!r} is not a text file (not UTF-8 at byte {err.start}); pass the dataset's data YAML.") from err
    except OSError as err:
        raise UsageError(f"cannot read {str(path)!r}: {err.strerror or err}.") from err
    try:
        import yaml  # noqa: PLC0415 - optional, not a core dependency
    except ImportError:
        data = _parse_simple_yaml(text)
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise UsageError(f"{str(path)!r} is not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise UsageError(f"{str(path)!r} is not a dataset YAML (expected keys such as path, train, val, names).")
    return data


def _names(data: dict[str, Any]) -> dict[int, str]:
    names = data.get("names")
    if isinstance(names, list):
        return {i: str(n) for i, n in enumerate(names)}
    if isinstance(names, dict):
        return {int(k): str(v) for k, v in names.items()}
    if isinstance(data.get("nc"), int):
        return {i: str(i) for i in range(data["nc"])}
    raise UsageError("the dataset YAML has no 'names' (a list or an id: name mapping); add one.")


# -- dataset layout -----------------------------------------------------------------------------------
@dataclass
class DatasetSpec:
    """A dataset to copy: its root, splits (name → list of entries: folders or ``.txt`` lists), class names."""

    root: Path
    splits: dict[str, list[Path]]
    names: dict[int, str] | None
    extra: dict[str, Any]
    yaml_file: Path | None = None


def load_data_yaml(path: str | os.PathLike[str]) -> DatasetSpec:
    """Describe the dataset of a data YAML (relative ``path`` is taken from the YAML's folder)."""
    yaml_file = Path(path).resolve()
    data = read_yaml(yaml_file)
    root_value = data.get("path")
    root = Path(str(root_value)).expanduser() if root_value else yaml_file.parent
    if not root.is_absolute():
        root = yaml_file.parent / root
    root = root.resolve()
    if not root.is_dir():
        raise UsageError(f"dataset root {str(root)!r} (key 'path' of {yaml_file.name}) is not a folder.")
    splits: dict[str, list[Path]] = {}
    for split in _SPLITS:
        value = data.get(split)
        if not value:
            continue
        entries = value if isinstance(value, list) else [value]
        paths = []
        for entry in entries:
            p = Path(str(entry)).expanduser()
            paths.append((p if p.is_absolute() else root / p).resolve())
        splits[split] = paths
    if "train" not in splits and "val" not in splits:
        raise UsageError(f"{yaml_file.name} names no 'train' or 'val' split; add them (folders or .txt lists).")
    extra = {k: v for k, v in data.items() if k not in {"path", "names", "nc", "download", *_SPLITS}}
    return DatasetSpec(root=root, splits=splits, names=_names(data), extra=extra, yaml_file=yaml_file)


def _load_dir(folder: Path) -> DatasetSpec:
    yamls = [folder / n for n in _YAML_NAMES if (folder / n).is_file()]
    if not yamls:
        yamls = sorted(p for p in folder.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))
    if len(yamls) == 1:
        return load_data_yaml(yamls[0])
    if len(yamls) > 1:
        raise UsageError(f"{str(folder)!r} holds several YAML files ({', '.join(p.name for p in yamls)}); pass one.")
    images = folder / "images"
    if not images.is_dir():
        raise UsageError(
            f"{str(folder)!r} has no data YAML and no images/ folder: pass the dataset's YAML, or lay it out as "
            "images/<split>/ and labels/<split>/."
        )
    subdirs = [d for d in sorted(images.iterdir()) if d.is_dir()]
    splits = {d.name: [d.resolve()] for d in subdirs} if subdirs else {"train": [images.resolve()], "val": [images.resolve()]}
    return DatasetSpec(root=folder.resolve(), splits=splits, names=None, extra={})


def label_path(image: Path) -> Path:
    """Ultralytics' label file of an image: the last ``images`` folder becomes ``labels``, suffix ``.txt``."""
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def image_seed(seed: int, relpath: str) -> int:
    """Seed of one image: a hash of the run seed and the image's POSIX path relative to the dataset root.

    Example:
        >>> image_seed(0, "images/val/a.jpg") == image_seed(0, "images/val/a.jpg") != image_seed(1, "images/val/a.jpg")
        True
    """
    digest = hashlib.sha256(f"{int(seed)}:{relpath}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


@dataclass
class _Item:
    src: Path
    rel: Path


def _split_images(entry: Path, root: Path) -> tuple[list[Path], bool]:
    from ..io import IMAGE_SUFFIXES, list_images  # noqa: PLC0415

    if entry.is_dir():
        return list_images([entry]), False
    if entry.is_file() and entry.suffix == ".txt":
        files = []
        try:
            listing = entry.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise UsageError(f"image list {str(entry)!r} is not UTF-8 text; give one image path a line.") from err
        for line in listing.splitlines():
            line = line.strip()
            if not line:
                continue
            p = Path(line)
            if not p.is_absolute():
                p = (entry.parent / p) if line.startswith("./") or not (root / p).exists() else root / p
            if p.suffix.lower() in IMAGE_SUFFIXES:
                files.append(p.resolve())
        return files, True
    raise UsageError(f"split entry {str(entry)!r} is neither a folder nor a .txt image list.")


def plan(spec: DatasetSpec, out: Path) -> tuple[dict[str, list[Any]], list[_Item]]:
    """Map every split entry and image to its place under ``out``; refuse outputs overlapping the source."""
    out = out.resolve()
    sources = {spec.root}
    split_out: dict[str, list[Any]] = {}
    items: dict[Path, _Item] = {}
    for split, entries in spec.splits.items():
        new_entries: list[Path | tuple[Path, list[Path]]] = []
        for entry in entries:
            if not is_within(entry, spec.root):
                raise UsageError(
                    f"split {split!r} entry {str(entry)!r} lies outside the dataset root {str(spec.root)!r}; "
                    "set 'path' in the YAML to a folder that holds every split."
                )
            sources.add(entry if entry.is_dir() else entry.parent)
            files, is_list = _split_images(entry, spec.root)
            rel_entry = entry.relative_to(spec.root)
            if is_list:
                listed = []
                for f in files:
                    if not is_within(f, spec.root):
                        raise UsageError(f"image {str(f)!r} listed in {entry.name} lies outside the dataset root.")
                    listed.append(f.relative_to(spec.root))
                new_entries.append((rel_entry, listed))
            else:
                new_entries.append(rel_entry)
            for f in files:
                rel = f.relative_to(spec.root) if is_within(f, spec.root) else None
                if rel is None:
                    raise UsageError(f"image {str(f)!r} lies outside the dataset root {str(spec.root)!r}.")
                items.setdefault(f, _Item(src=f, rel=rel))
        split_out[split] = new_entries
    for src in sources:
        if is_within(out, src) or is_within(src, out):
            raise UsageError(
                f"the output folder {str(out)!r} overlaps the source {str(src)!r}: choose a folder outside the dataset."
            )
    return split_out, sorted(items.values(), key=lambda it: it.rel.as_posix())


def _max_class(label_files: list[Path]) -> int:
    top = -1
    for f in label_files:
        try:
            for line in f.read_text(encoding="utf-8").splitlines():
                tok = line.split()
                if tok:
                    top = max(top, int(float(tok[0])))
        except (OSError, ValueError):
            continue
    return top


def check_label_text(text: str) -> list[str]:
    """Problems of a YOLO label file, one message per bad line (empty list: fine).

    A line is ``class x y w h`` or ``class x1 y1 x2 y2 x3 y3 ...`` (a polygon), the class a
    non-negative integer and the coordinates finite numbers in [0, 1].

    Example:
        >>> check_label_text("0 0.5 0.5 0.2 0.2\\n")
        []
        >>> check_label_text("cat 0.5 0.5 0.2 0.2\\n1 0.5 0.5\\n")
        ["line 1: class 'cat' is not a non-negative integer", 'line 2: 2 coordinates; expected 4 (x y w h) or an even number >= 6 (polygon)']
    """
    problems = []
    for n, line in enumerate(text.splitlines(), 1):
        tok = line.split()
        if not tok:
            continue
        cls, coords = tok[0], tok[1:]
        if not cls.isdigit():
            problems.append(f"line {n}: class {cls!r} is not a non-negative integer")
            continue
        if not (len(coords) == 4 or (len(coords) >= 6 and len(coords) % 2 == 0)):
            problems.append(f"line {n}: {len(coords)} coordinates; expected 4 (x y w h) or an even number >= 6 (polygon)")
            continue
        try:
            values = [float(t) for t in coords]
        except ValueError:
            problems.append(f"line {n}: a coordinate is not a number")
            continue
        if not all(0.0 <= v <= 1.0 for v in values):  # NaN fails too
            problems.append(f"line {n}: coordinates must be normalised numbers in [0, 1]")
    return problems


def _yaml_value(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False)


def _write_yaml(path: Path, out_root: Path, split_out: dict[str, list[Any]], names: dict[int, str], extra: dict) -> None:
    from ..io import atomic_path  # noqa: PLC0415

    lines = [
        "# Low-light copy written by dce-darken (dce_transforms.simulate).",
        f"path: {_yaml_value(str(out_root))}",
    ]
    for split, entries in split_out.items():
        values = []
        for entry in entries:
            if isinstance(entry, tuple):  # a .txt image list, rewritten under the output
                rel_txt, listed = entry
                with atomic_path(out_root / rel_txt) as tmp:
                    tmp.write_text("".join(f"./{p.as_posix()}\n" for p in listed), encoding="utf-8")
                values.append(rel_txt.as_posix())
            else:
                values.append(entry.as_posix())
        lines.append(f"{split}: {_yaml_value(values[0] if len(values) == 1 else values)}")
    for key, value in extra.items():
        try:
            lines.append(f"{key}: {_yaml_value(value)}")
        except TypeError:
            continue
    lines.append("names:")
    lines += [f"  {k}: {_yaml_value(v)}" for k, v in sorted(names.items())]
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")


# -- command line -------------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    from ..io import DEFAULT_MAX_PIXELS  # noqa: PLC0415

    p = argparse.ArgumentParser(
        prog=_PROG,
        description="Write a low-light copy of a YOLO-format dataset (images darkened, labels copied, new data YAML).",
        formatter_class=HelpFormatter,
    )
    p.add_argument("source", help="data YAML, or a dataset folder (with a data YAML or images/<split>/ labels/<split>/)")
    p.add_argument("-o", "--output", required=True, help="output folder, outside the dataset (required)")
    p.add_argument("--seed", type=int, default=0,
                   help="run seed; each image's seed derives from it and its path (default %(default)s)")
    p.add_argument("--exposure", type=float, nargs=2, metavar=("LOW", "HIGH"), default=(0.05, 0.3),
                   help="range of the multiplicative exposure, > 0; below 1 darkens (default %(default)s)")
    p.add_argument("--gamma", type=float, nargs=2, metavar=("LOW", "HIGH"), default=(1.5, 3.0),
                   help="range of the exponent that linearises the display-encoded input, > 0 (default %(default)s)")
    p.add_argument("--shot-noise", type=float, nargs=2, metavar=("LOW", "HIGH"), default=(0.0, 0.02),
                   help="range of the shot-noise variance per unit of signal, >= 0 (default %(default)s)")
    p.add_argument("--read-noise", type=float, nargs=2, metavar=("LOW", "HIGH"), default=(0.0, 0.01),
                   help="range of the read-noise standard deviation, >= 0 (default %(default)s)")
    p.add_argument("--color-shift", type=float, default=0.1,
                   help="largest relative per-channel gain change (default %(default)s)")
    p.add_argument("--jpeg-quality", type=int, default=95, help="quality of JPEG outputs, 0-100 (default %(default)s)")
    p.add_argument("--yaml-name", default="data.yaml",
                   help="name of the new data YAML in the output folder (default %(default)s)")
    p.add_argument("--workers", type=int, default=1, help="images processed in parallel, threads (default %(default)s)")
    p.add_argument("--exist-ok", action="store_true",
                   help="allow a non-empty output folder, whose files are replaced (default: refuse)")
    p.add_argument("--max-pixels", type=int, default=None, metavar="N",
                   help=f"skip images declaring more than N pixels, before decoding them (default {DEFAULT_MAX_PIXELS:,})")
    p.add_argument("--quiet", action="store_true", help="no progress bar (default: a progress bar)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``dce-darken``; returns the exit status (0 ok, 1 some images failed, 2 usage error, 130 Ctrl-C)."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print(f"\n{_PROG}: interrupted; the images written so far are kept: run the same command again to continue.",
              file=sys.stderr)
        return EXIT_INTERRUPTED


def _main(argv: Sequence[str] | None) -> int:
    args = parse_args(_parser(), argv)
    if isinstance(args, int):
        return args

    def fail(msg: str) -> int:
        return usage_error(_PROG, msg)

    ranges = {
        "exposure": tuple(args.exposure),
        "gamma": tuple(args.gamma),
        "shot_noise": tuple(args.shot_noise),
        "read_noise": tuple(args.read_noise),
        "color_shift": args.color_shift,
    }
    if not 0 <= args.jpeg_quality <= 100:
        return fail(f"--jpeg-quality must be in 0..100, got {args.jpeg_quality}.")
    if args.workers < 1:
        return fail(f"--workers must be at least 1, got {args.workers}.")
    if args.max_pixels is not None and args.max_pixels < 1:
        return fail(f"--max-pixels must be an integer >= 1, got {args.max_pixels}.")
    if any(sep in args.yaml_name for sep in ("/", "\\")) or not args.yaml_name.endswith((".yaml", ".yml")):
        return fail(f"--yaml-name must be a file name ending in .yaml, got {args.yaml_name!r}.")
    try:
        from ..simulate import sample_params  # noqa: PLC0415

        sample_params(1, **ranges)  # validate the ranges before touching any file
        source = Path(args.source)
        if source.is_dir():
            spec = _load_dir(source)
        elif source.is_file():
            spec = load_data_yaml(source)
        else:
            raise UsageError(f"{str(source)!r} does not exist; pass a data YAML or a dataset folder.")
        out = Path(args.output).resolve()
        if out.exists() and not out.is_dir():
            raise UsageError(f"-o {str(out)!r} exists and is not a folder.")
        split_out, items = plan(spec, out)
        settings = {"source": str(spec.root), "seed": args.seed, "jpeg_quality": args.jpeg_quality,
                    **{k: list(v) if isinstance(v, tuple) else v for k, v in ranges.items()}}
        partial = out / PARTIAL_FILE
        resuming = False
        if partial.is_file():
            try:
                resuming = json.loads(partial.read_text(encoding="utf-8")) == settings
            except (OSError, ValueError):
                resuming = False
            if not resuming and not args.exist_ok:
                raise UsageError(
                    f"-o {str(out)!r} holds an interrupted dce-darken run with other settings: run it again with the "
                    "same options to continue it, or pass --exist-ok to replace it."
                )
        if out.is_dir() and any(out.iterdir()) and not args.exist_ok and not resuming:
            raise UsageError(f"-o {str(out)!r} is not empty; pass --exist-ok to write into it anyway.")
        check_writable_dir(out)
    except DCEError as err:
        return fail(str(err))
    except OSError as err:
        return fail(f"cannot read the dataset: {err}")
    if not items:
        return fail(f"no images found in the splits of {str(spec.root)!r}.")
    from ..io import atomic_path  # noqa: PLC0415

    try:
        with atomic_path(partial) as tmp:
            tmp.write_text(json.dumps(settings, indent=1) + "\n", encoding="utf-8")
    except OSError as err:
        return fail(f"-o: {describe_os_error(err, out)}")
    done_before = {it.rel for it in items if resuming and (out / it.rel).is_file()}
    if done_before:
        print(f"{_PROG}: continuing an interrupted run: {len(done_before)} of {len(items)} images already written",
              file=sys.stderr)

    import torch  # noqa: PLC0415
    from tqdm.auto import tqdm  # noqa: PLC0415

    from ..io import image_to_tensor, read_image, tensor_to_image, write_image  # noqa: PLC0415
    from ..simulate import simulate_low_light  # noqa: PLC0415

    def process(item: _Item) -> str | None:
        if item.rel in done_before:
            return None
        try:
            arr = read_image(item.src) if args.max_pixels is None else read_image(item.src, max_pixels=args.max_pixels)
            x = image_to_tensor(arr)
            y = simulate_low_light(x, seed=image_seed(args.seed, item.rel.as_posix()), **ranges)
            write_image(out / item.rel, tensor_to_image(y, arr.dtype), quality=args.jpeg_quality)
            return None
        except OSError as err:
            return describe_os_error(err, out / item.rel)
        except (DCEError, ValueError, RuntimeError) as err:
            return f"{type(err).__name__}: {err}"

    failed: list[tuple[Path, str]] = []
    # One intra-op thread per image: the tensors are small, and a shared or busy machine otherwise
    # spends far more time synchronising threads than computing (measured: 300 ms -> 2 ms per image).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    pool = ThreadPoolExecutor(max_workers=args.workers)
    try:
        results = pool.map(process, items)
        for item, problem in tqdm(zip(items, results), total=len(items), desc=_PROG, disable=args.quiet, unit="img"):
            if problem is not None:
                failed.append((item.src, problem))
                print(f"{_PROG}: failed: {item.src}: {problem}", file=sys.stderr)
    except KeyboardInterrupt:
        pool.shutdown(wait=True, cancel_futures=True)  # images in progress finish (atomically); the rest are dropped
        raise
    finally:
        pool.shutdown(wait=True)
        torch.set_num_threads(threads)

    # Labels: every label file of the listed images, copied byte for byte (atomically); bad lines are warned about.
    label_files = []
    warned = 0
    for item in items:
        src_label = label_path(item.src)
        if not src_label.is_file():
            continue
        label_files.append(src_label)
        dst_label = label_path(out / item.rel)
        try:
            problems = check_label_text(src_label.read_bytes().decode("utf-8"))
        except UnicodeDecodeError:
            problems = ["not UTF-8 text"]
        except OSError:
            problems = []
        if problems:
            warned += 1
            more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
            print(f"{_PROG}: warning: {src_label}: " + "; ".join(problems[:3]) + more + "; copied unchanged",
                  file=sys.stderr)
        try:
            with atomic_path(dst_label) as tmp:
                shutil.copyfile(src_label, tmp)
        except OSError as err:
            failed.append((src_label, f"{type(err).__name__}: {err}"))
            print(f"{_PROG}: failed: {src_label}: {err}", file=sys.stderr)

    names = spec.names
    if names is None:
        top = _max_class(label_files)
        names = {i: str(i) for i in range(max(top + 1, 1))}
    yaml_path = out / args.yaml_name
    try:
        _write_yaml(yaml_path, out, split_out, names, spec.extra)
    except OSError as err:
        print(f"{_PROG}: failed: {yaml_path}: {describe_os_error(err, yaml_path)}", file=sys.stderr)
        return 1
    with contextlib.suppress(OSError):
        partial.unlink()
    done = len(items) - sum(1 for f, _ in failed if f.suffix != ".txt")
    print(
        f"{_PROG}: {done}/{len(items)} images darkened, {len(label_files)} label files copied, "
        f"dataset YAML {yaml_path}" + (f"; {warned} label files with malformed lines (see warnings)" if warned else "")
        + (f"; {len(failed)} failed" if failed else ""),
        file=sys.stderr,
    )
    return 1 if failed else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

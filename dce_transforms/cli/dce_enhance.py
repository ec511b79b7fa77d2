"""``dce-enhance``: enhance low-light images, folders of images, and videos.

Examples:
    dce-enhance examples/data/dark_scene.png -o outputs/
    dce-enhance photos/ -o enhanced/ --compare              # folders are searched recursively
    dce-enhance clip.mp4 -o enhanced/ --device cuda --half  # video, frames in batches

Outputs keep the input's relative layout under the output folder, its format and its bit depth
(16-bit PNG/TIFF in, 16-bit out; JPEG in, JPEG out at --jpeg-quality). Images whose three channels
are equal (grayscale files) are written as grayscale; an alpha channel is dropped. Videos are
re-encoded with the mp4v codec at the input frame rate (WebM input is written as .mp4) and their
audio track is dropped. Every file is written atomically, so an interrupted run leaves no partial
outputs; existing outputs are skipped unless --overwrite is given, so a run can be resumed.
The tool never writes onto an input: it refuses to start when an output would replace one.

Memory: by default (--curve-max-side auto) curves are estimated at full resolution up to a
1024 px longer side and on a 1024 px copy above it, then applied at full resolution; a
3840x2160 image then needs about 2 GB of RAM with Zero-DCE on the CPU (about 12 GB with
--curve-max-side none).

Alpha channels (PNG, TIFF, WebP) are copied unchanged; float TIFFs stay float (clipped to
[0, 1]); JPEG EXIF orientation is applied (outputs are upright) and the EXIF block is copied into
JPEG outputs. Images declaring more than --max-pixels pixels are refused before decoding (a small
file can declare a huge image); videos that end before their declared frame count are reported as
failed (no output is written). The output folder is checked for writing before any work; a full
disk stops the run with a message saying so.

Exit status: 0 when every file went through (or was skipped because its output exists),
1 when at least one file failed (each failure is reported on stderr with its reason; the
other files are still processed), 2 for usage errors (bad options, missing inputs, an output
that would replace an input or cannot be written, weights that cannot be loaded), 130 when
interrupted (Ctrl-C; finished outputs are kept, a re-run does the rest).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import DCEError, UsageError
from ..fast import PRECISIONS, optimize
from ..io import (
    DEFAULT_MAX_PIXELS,
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    ImageReadError,
    _cv2,
    atomic_path,
    image_to_tensor,
    list_images,
    load_image,
    tensor_to_image,
    write_image,
)
from ..registry import list_models, model_class
from ._common import (
    AUTO_CURVE_MAX_SIDE,
    HelpFormatter,
    build_model,
    check_writable_dir,
    describe_os_error,
    interruptible,
    is_disk_full,
    is_within,
    parse_args,
    parse_curve_max_side,
    resolve_device,
    usage_error,
)

__all__ = [
    "AUTO_CURVE_MAX_SIDE",
    "MODELS",
    "UsageError",
    "Job",
    "build_model",
    "plan_jobs",
    "resolve_device",
    "enhance_tensor",
    "enhance_image_file",
    "enhance_video_file",
    "main",
]

#: The registry's models by ``--model`` name (:func:`dce_transforms.list_models`).
MODELS: dict[str, type[nn.Module]] = {name: model_class(name) for name in list_models()}

#: Containers that accept the mp4v codec; other video inputs are written as .mp4.
_VIDEO_OUT_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".m4v"})
_PROG = "dce-enhance"
#: Hidden file in the output folder listing what earlier runs wrote there (one relative path a line),
#: so that a later run into the same folder (e.g. with another --suffix) does not take them as inputs.
OUTPUTS_LIST = ".dce-enhance-outputs"


@dataclass(frozen=True)
class Job:
    """One input file and where its outputs go."""

    src: Path
    dst: Path
    kind: str  # "image" or "video"
    compare: Path | None = None


# -- planning ---------------------------------------------------------------------------------
def _output_suffix(src: Path, kind: str) -> str:
    ext = src.suffix
    if kind == "video":
        return ext if ext.lower() in _VIDEO_OUT_SUFFIXES else ".mp4"
    return ext if ext.lower() in IMAGE_SUFFIXES else ".png"


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def plan_jobs(inputs: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str], *, suffix: str = "",
              compare: bool = False) -> list[Job]:
    """Map every input file to its output path(s), refusing anything that would touch an input.

    Files given directly go to ``out_dir/NAME``; files found in a folder (recursively) keep their
    path relative to that folder. Outputs are named ``STEM{suffix}{ext}``, and the comparison
    image ``STEM{suffix}_compare.jpg``. When ``out_dir`` lies inside an input folder, files under
    ``out_dir`` are not taken as inputs (they are earlier outputs); when it is the input folder
    itself, files whose stem ends with ``suffix`` (or ``{suffix}_compare``) are left out.

    Raises:
        UsageError: an input is missing, nothing was found, two inputs would share an output,
            or an output path is an input path.
    """
    out = Path(out_dir)
    out_res = out.resolve()
    all_suffixes = IMAGE_SUFFIXES | VIDEO_SUFFIXES
    earlier = _earlier_outputs(out)
    pairs: list[tuple[Path, Path]] = []  # (file, relative output location)
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            root = p.resolve()
            for f in list_images([p], suffixes=all_suffixes):
                fr = f.resolve()
                if is_within(fr, out_res):
                    if out_res != root:
                        continue  # earlier outputs in a sub-folder of the input folder
                    if suffix and (f.stem.endswith(suffix) or f.stem.endswith(f"{suffix}_compare")):
                        continue
                    if fr in earlier:
                        continue  # written by an earlier run into this folder (any --suffix)
                pairs.append((f, f.relative_to(p)))
        elif p.is_file():
            pairs.append((p, Path(p.name)))
        else:
            raise UsageError(f"input {str(p)!r} is neither a file nor a folder; check the path.")
    if not pairs:
        raise UsageError(
            f"no images or videos found in {[str(i) for i in inputs]} (looked for {', '.join(sorted(all_suffixes))})."
        )
    input_set = {f.resolve() for f, _ in pairs}
    jobs: list[Job] = []
    taken: dict[Path, Path] = {}
    for f, rel in pairs:
        kind = "video" if f.suffix.lower() in VIDEO_SUFFIXES else "image"
        stem = rel.stem + suffix
        dst = out / rel.parent / (stem + _output_suffix(f, kind))
        cmp_path = out / rel.parent / f"{stem}_compare.jpg" if compare else None
        for target in (dst, cmp_path):
            if target is None:
                continue
            key = target.resolve()
            if key in input_set or _same_file(target, f):
                hint = "pass --suffix (e.g. --suffix _dce)" if out_res in {x.parent for x in input_set} else ""
                raise UsageError(
                    f"refusing to write {str(target)!r}: it is an input file. Choose an output folder that is not "
                    f"the input folder{', or ' + hint if hint else ''}."
                )
            if key in taken:
                raise UsageError(
                    f"{str(taken[key])!r} and {str(f)!r} would both be written to {str(target)!r}; enhance them in "
                    "separate runs or into different output folders."
                )
            taken[key] = f
        jobs.append(Job(src=f, dst=dst, kind=kind, compare=cmp_path))
    return jobs


def _earlier_outputs(out: Path) -> set[Path]:
    try:
        lines = (out / OUTPUTS_LIST).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return set()
    return {(out / ln).resolve() for ln in lines if ln.strip()}


def _record_outputs(out: Path, paths: Sequence[Path | None]) -> None:
    lines = "".join(f"{p.relative_to(out).as_posix()}\n" for p in paths if p is not None)
    try:
        with open(out / OUTPUTS_LIST, "a", encoding="utf-8") as f:
            f.write(lines)
    except (OSError, ValueError):
        pass  # only a convenience for later runs


# -- model ------------------------------------------------------------------------------------
def enhance_tensor(model: nn.Module, x: Tensor, *, device: torch.device, half: bool = False) -> Tensor:
    """Enhance a ``(B, 3, H, W)`` float CPU batch on ``device``; returns float32 on the CPU."""
    with torch.inference_mode():
        xd = x.to(device, non_blocking=True)
        if half:
            xd = xd.half()
        return model(xd).float().cpu()


# -- files ------------------------------------------------------------------------------------
def _is_gray(arr: np.ndarray) -> bool:
    return bool(np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 1], arr[..., 2]))


def _write_gray(path: Path, gray: np.ndarray, *, quality: int) -> None:
    cv2 = _cv2()
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if path.suffix.lower() in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(path.suffix, gray, params)
    if not ok:
        raise DCEError(f"could not encode {path.name!r} as {path.suffix}.")
    with atomic_path(path) as tmp:
        buf.tofile(str(tmp))


def _preview(arr: np.ndarray) -> np.ndarray:
    from ..viz import to_uint8  # noqa: PLC0415

    return to_uint8(arr)


def _write_compare(path: Path, before: np.ndarray, after: np.ndarray) -> None:
    from ..viz import compare_grid  # noqa: PLC0415

    height = min(before.shape[0], 1080)
    write_image(path, compare_grid(_preview(before), _preview(after), cell_height=height), quality=90)


def enhance_image_file(model: nn.Module, job: Job, *, device: torch.device, half: bool = False,
                       quality: int = 95, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> None:
    """Read, enhance and write one image (and its comparison picture when ``job.compare`` is set).

    The alpha channel is copied unchanged, the bit depth (8, 16 bit, float) is kept, the EXIF
    orientation is applied and a JPEG's EXIF block is copied.

    Raises:
        ImageTooLargeError: the image declares more than ``max_pixels`` pixels.
        ImageReadError: the file cannot be decoded.
        DCEError: the output cannot be encoded.
        OSError: the output cannot be written.
    """
    img = load_image(job.src, max_pixels=max_pixels)
    arr = img.rgb
    y = enhance_tensor(model, image_to_tensor(arr)[None], device=device, half=half)[0]
    out = tensor_to_image(y, arr.dtype)
    if img.alpha is not None or img.exif is not None:
        write_image(job.dst, out, quality=quality, alpha=img.alpha, exif=img.exif)
    elif _is_gray(arr):
        gray = tensor_to_image(y.mean(0, keepdim=True).expand(3, -1, -1), arr.dtype)[..., 0]
        _write_gray(job.dst, gray, quality=quality)
        out = np.repeat(gray[..., None], 3, axis=2)
    else:
        write_image(job.dst, out, quality=quality)
    if job.compare is not None:
        _write_compare(job.compare, arr, out)


def enhance_video_file(model: nn.Module, job: Job, *, device: torch.device, half: bool = False,
                       batch_size: int = 8, progress: Callable | None = None) -> int:
    """Enhance every frame of a video in batches and write it with the mp4v codec (no audio).

    Args:
        model: the enhancer.
        job: input and output paths (``job.compare`` gets the first frame before/after).
        device: where the model runs.
        half: float16 on CUDA.
        batch_size: frames enhanced at once.
        progress: optional callable taking the number of frames just written.

    Returns:
        The number of frames written.

    Raises:
        ImageReadError: the video cannot be opened or holds no decodable frame.
        DCEError: the writer cannot be opened.
    """
    cv2 = _cv2()
    cap = cv2.VideoCapture(str(job.src))
    if not cap.isOpened():
        cap.release()
        raise ImageReadError(f"could not open {str(job.src)!r} as a video (missing, corrupt or unsupported codec).")
    fps = cap.get(cv2.CAP_PROP_FPS)
    if not fps or not np.isfinite(fps) or fps <= 0:
        fps = 25.0
    declared = cap.get(cv2.CAP_PROP_FRAME_COUNT)
    declared = int(declared) if declared and np.isfinite(declared) and declared > 0 else 0
    written = 0
    writer = None
    try:
        with atomic_path(job.dst) as tmp:
            while True:
                frames: list[np.ndarray] = []
                while len(frames) < batch_size:
                    ok, frame = cap.read()
                    if not ok:
                        break
                    frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
                if not frames:
                    break
                if writer is None:
                    h, w = frames[0].shape[:2]
                    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (w, h))
                    if not writer.isOpened():
                        raise DCEError(f"could not open a video writer for {str(job.dst)!r} (mp4v codec, {w}x{h}).")
                if any(f.shape != frames[0].shape for f in frames):
                    raise ImageReadError(f"{str(job.src)!r}: the frame size changes inside the video.")
                batch = torch.stack([image_to_tensor(f) for f in frames])
                out = enhance_tensor(model, batch, device=device, half=half)
                for i in range(out.shape[0]):
                    rgb = tensor_to_image(out[i], np.uint8)
                    if written == 0 and job.compare is not None:
                        _write_compare(job.compare, frames[0], rgb)
                    writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
                    written += 1
                if progress is not None:
                    progress(len(frames))
            if writer is not None:
                writer.release()
                writer = None
            if written == 0:
                raise ImageReadError(f"{str(job.src)!r} holds no decodable video frame.")
            if declared and written < declared:
                raise ImageReadError(
                    f"{str(job.src)!r} ends after {written} of its {declared} declared frames (the file is cut short "
                    "or damaged); no output was written. Repair or re-export the video."
                )
    finally:
        if writer is not None:
            writer.release()
        cap.release()
    return written


# -- command line -----------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=_PROG, description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="image files, video files or folders (searched recursively)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder (created if missing)")
    p.add_argument("--model", choices=sorted(MODELS), default="zero-dce", help="enhancer (default %(default)s)")
    p.add_argument("--weights", default="default",
                   help="shipped weights name, or a .safetensors/.pth state dict (default: the shipped weights)")
    p.add_argument("--scale-factor", type=float, default=None,
                   help="zero-dce++ only: estimate curves on the input down-scaled by this factor (default 1)")
    p.add_argument("--curve-max-side", type=parse_curve_max_side, default=AUTO_CURVE_MAX_SIDE, metavar="N",
                   help=f"estimate curves on a copy whose longer side is at most N px and apply them at full "
                        f"resolution "
                        f"(bounded memory and time); 'none' always uses full resolution; 'auto' (default) = "
                        f"{AUTO_CURVE_MAX_SIDE}")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda or cuda:N")
    p.add_argument("--half", action="store_true", help="float16 inference (CUDA only; the same as --precision fp16)")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="network precision: auto (default) picks the fastest within 50 dB PSNR of float32 for the "
                        "device (bf16 on CPUs with AMX / AVX-512 BF16, fp16 on CUDA, else fp32); fp32, bf16, fp16 "
                        "force one")
    p.add_argument("--compare", action="store_true",
                   help="also write a before/after picture NAME_compare.jpg next to each output (first frame for "
                        "videos)")
    p.add_argument("--suffix", default="", help="appended to output file stems, e.g. _dce (default: none)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing outputs (default: skip files whose output exists; inputs are never replaced)")
    p.add_argument("--batch-size", type=int, default=8, help="video frames enhanced at once (default %(default)s)")
    p.add_argument("--jpeg-quality", type=int, default=95, help="quality of JPEG outputs (default %(default)s)")
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, metavar="N",
                   help="refuse images declaring more than N pixels, before decoding them (default %(default)s; "
                        "memory grows with the pixel count)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar or summary (failures are still reported)")
    p.epilog = "Videos: audio is dropped; frames are re-encoded with mp4v."
    return p


@interruptible(_PROG, "finished outputs are kept; run the same command again to do the rest")
def main(argv: Sequence[str] | None = None) -> int:
    """Run ``dce-enhance``; returns the exit status (0 ok, 1 some files failed, 2 usage error, 130 Ctrl-C)."""
    args = parse_args(_parser(), argv)
    if isinstance(args, int):
        return args

    def fail(msg: str) -> int:
        return usage_error(_PROG, msg)

    if args.batch_size < 1:
        return fail(f"--batch-size must be at least 1, got {args.batch_size}.")
    if args.half and args.precision not in ("auto", "fp16"):
        return fail(f"--half means --precision fp16; drop one of --half and --precision {args.precision}.")
    if not 0 <= args.jpeg_quality <= 100:
        return fail(f"--jpeg-quality must be in 0..100, got {args.jpeg_quality}.")
    if args.max_pixels < 1:
        return fail(f"--max-pixels must be an integer >= 1, got {args.max_pixels}.")
    if any(sep in args.suffix for sep in ("/", "\\")):
        return fail(f"--suffix must not contain a path separator, got {args.suffix!r}.")
    try:
        device = resolve_device(args.device, half=args.half)
        out_dir = Path(args.output)
        if out_dir.exists() and not out_dir.is_dir():
            raise UsageError(f"-o {str(out_dir)!r} exists and is not a folder; give a folder path.")
        jobs = plan_jobs(args.inputs, out_dir, suffix=args.suffix, compare=args.compare)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = build_model(args.model, weights=args.weights, scale_factor=args.scale_factor,
                                curve_max_side=args.curve_max_side).to(device)
        for w in caught:
            print(f"{_PROG}: warning: {w.message}", file=sys.stderr)
        # The fast path (optimize): channels-last, inference mode, the chosen precision; eager, since
        # compiling once per image size would cost more than it saves. Inputs stay float32.
        model = optimize(model, compile=False, fuse_curves=False, precision="fp16" if args.half else args.precision)
        args.half = False
        check_writable_dir(out_dir)  # a read-only or impossible output is found before any work
    except DCEError as err:
        return fail(str(err))

    from tqdm.auto import tqdm  # noqa: PLC0415

    # Outputs written into an input folder are listed, so that later runs (any --suffix) leave them out.
    in_place = any(Path(i).is_dir() and Path(i).resolve() == out_dir.resolve() for i in args.inputs)
    todo = [j for j in jobs if args.overwrite or not (j.dst.exists() and (j.compare is None or j.compare.exists()))]
    skipped = len(jobs) - len(todo)
    failed: list[tuple[Path, str]] = []
    frames = images = 0
    t_start = time.perf_counter()
    bar = tqdm(todo, desc=_PROG, unit="file", disable=args.quiet, file=sys.stderr, dynamic_ncols=True)
    for job in bar:
        try:
            if job.kind == "video":
                total = _frame_count(job.src)
                with tqdm(total=total, desc=job.src.name, unit="frame", leave=False, disable=args.quiet,
                          file=sys.stderr, dynamic_ncols=True) as fbar:
                    frames += enhance_video_file(model, job, device=device, half=args.half,
                                                 batch_size=args.batch_size, progress=fbar.update)
            else:
                enhance_image_file(model, job, device=device, half=args.half, quality=args.jpeg_quality,
                                   max_pixels=args.max_pixels)
                images += 1
            if in_place:
                _record_outputs(out_dir, [job.dst, job.compare])
        except KeyboardInterrupt:
            bar.close()
            raise
        except Exception as err:  # noqa: BLE001 - report any per-file failure and go on with the rest
            if isinstance(err, DCEError):
                reason = str(err)
            elif isinstance(err, OSError):
                reason = describe_os_error(err, job.dst)
            else:
                reason = f"{type(err).__name__}: {err}"
            failed.append((job.src, reason))
            tqdm.write(f"{_PROG}: failed {job.src}: {reason}", file=sys.stderr)
            if is_disk_full(err):
                tqdm.write(f"{_PROG}: stopping: the output disk is full; free some space and run the same command "
                           "again to do the remaining files.", file=sys.stderr)
                break
    bar.close()
    elapsed = time.perf_counter() - t_start
    if not args.quiet:
        parts = [f"{len(todo) - len(failed)} written to {out_dir}"]
        if images and elapsed > 0:
            parts.append(f"{images / elapsed:.2f} images/s")
        if frames:
            parts.append(f"{frames} video frames")
            if elapsed > 0:
                parts.append(f"{frames / elapsed:.2f} frames/s")
        parts.append(f"precision {model.precision}")
        if skipped:
            parts.append(f"{skipped} skipped (output exists; --overwrite to redo)")
        if failed:
            parts.append(f"{len(failed)} failed")
        print(f"{_PROG}: " + ", ".join(parts), file=sys.stderr)
    return 1 if failed else 0


def _frame_count(path: Path) -> int | None:
    cv2 = _cv2()
    cap = cv2.VideoCapture(str(path))
    try:
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
    finally:
        cap.release()
    return n if n > 0 else None


if __name__ == "__main__":
    sys.exit(main())

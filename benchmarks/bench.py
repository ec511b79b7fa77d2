"""Benchmark the fast paths of dce_transforms side by side with the plain PyTorch baseline.

One command::

    python benchmarks/bench.py --preset cpu-small     # < 10 min on a 2-core CPU
    python benchmarks/bench.py --preset full          # GPU: every size, batch, dtype

Every case runs the baseline (``benchmarks/baseline.py``: NCHW float32 eager, the same
denormal-free weights) and the fast variants in the same process, interleaved round-robin
(the order rotates every repeat), and reports medians, the speed-up ratio and the largest
absolute difference from the baseline's output. Compilation is timed separately (the first
call of each compiled variant) and never enters the medians.

Peak memory: on CUDA ``torch.cuda.max_memory_allocated`` above the memory already allocated;
on CPU the process's resident-set high-water mark (``VmHWM`` in ``/proc/self/status``, reset
through ``/proc/self/clear_refs`` before each measured call) above the resident set before it.
Both are measured in one extra call per variant after the timed repeats.

The table (hardware, torch version, date, load average) is printed and written to
``benchmarks/results/<device>-<date>.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime as _dt
import gc
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from baseline import authors_zero_dce, baseline_from  # noqa: E402

from dce_transforms import ZeroDCE, ZeroDCEPP, ZeroReferenceLoss  # noqa: E402
from dce_transforms.fast import _openvino_request, cpu_bf16_flags, export_onnx, openvino_available, optimize  # noqa: E402

SHARED = Path(os.environ.get("DCE_SHARED", HERE.parent.parent / "shared"))

# ------------------------------------------------------------------------------------------------
# presets


@dataclass
class Case:
    """One inference case: a model configuration at one size and batch, with its fast variants."""

    model: str  # "ZeroDCE" | "ZeroDCEPP"
    scale: float  # ZeroDCEPP scale_factor (1 for ZeroDCE)
    size: tuple[int, int]  # (H, W)
    batch: int
    variants: dict[str, dict]  # name -> optimize() kwargs (dtype added per run)
    repeats: int = 3


def _presets(name: str, device: str) -> tuple[list[Case], list[str], list[torch.dtype], int]:
    """(inference cases, training models, dtypes, training steps) of a preset."""
    vga, hd, uhd = (480, 640), (1080, 1920), (2160, 3840)
    if name == "cpu-small":
        full_res = {
            "channels_last+inference": dict(compile=False, fuse_curves=False),
            "compiled (fused, frozen)": dict(compile=True),
        }
        dce_vga = {"channels_last+inference": full_res["channels_last+inference"],
                   "compiled (fused, frozen)": full_res["compiled (fused, frozen)"],
                   "compiled, curve_max_side=256": dict(compile=True, curve_max_side=256)}
        dce_hd = {"compiled (fused, frozen)": full_res["compiled (fused, frozen)"],
                  "compiled, curve_max_side=256": dict(compile=True, curve_max_side=256),
                  "compiled, curve_max_side=192": dict(compile=True, curve_max_side=192)}
        # ZeroDCEPP: its depthwise network gains little from Inductor on CPU and compiles slowly
        # (tens of seconds per shape), so the small preset compiles it once, at 1080p scale 12.
        fused = {"NCHW + fused curves": dict(compile=False, channels_last=False)}
        pp_hd = {**fused, "compiled (fused, frozen)": dict(compile=True)}
        pp_hd1 = {**fused, **{f"NCHW + fused, curve_max_side={s}": dict(compile=False, channels_last=False,
                                                                         curve_max_side=s) for s in (256, 512)}}
        cases = [
            Case("ZeroDCE", 1, vga, 1, dce_vga, repeats=5),
            Case("ZeroDCE", 1, hd, 1, dce_hd, repeats=3),
            Case("ZeroDCEPP", 1, vga, 1, fused, repeats=5),
            Case("ZeroDCEPP", 12, vga, 1, fused, repeats=7),
            Case("ZeroDCEPP", 1, hd, 1, pp_hd1, repeats=3),
            Case("ZeroDCEPP", 12, hd, 1, pp_hd, repeats=9),
            Case("ZeroDCEPP", 12, hd, 8, fused, repeats=3),
        ]
        return cases, ["ZeroDCE", "ZeroDCEPP"], [torch.float32], 3
    if name == "full":
        cases = []
        graphs = device == "cuda"
        for size in (vga, hd, uhd):
            for batch in (1, 8):
                reps = 10 if device == "cuda" else 3
                variants = {
                    "channels_last+inference": dict(compile=False, fuse_curves=False),
                    "fused curves only": dict(compile=False, channels_last=False),
                    "compiled (fused, frozen)": dict(compile=True),
                    "compiled, curve_max_side=256": dict(compile=True, curve_max_side=256),
                }
                if graphs:
                    variants["compiled + CUDA graphs"] = dict(compile=True, cuda_graphs=True)
                    variants["eager + fused + CUDA graphs"] = dict(compile=False, cuda_graphs=True)
                cases.append(Case("ZeroDCE", 1, size, batch, variants, repeats=reps))
                for scale in (1, 12):
                    pp = {"NCHW + fused curves": dict(compile=False, channels_last=False),
                          "compiled (fused, frozen)": dict(compile=True)}
                    if graphs:
                        pp["compiled + CUDA graphs"] = dict(compile=True, cuda_graphs=True)
                    cases.append(Case("ZeroDCEPP", scale, size, batch, pp, repeats=reps))
        dtypes = [torch.float32, torch.float16, torch.bfloat16] if device == "cuda" else [torch.float32]
        return cases, ["ZeroDCE", "ZeroDCEPP"], dtypes, 20 if device == "cuda" else 3
    if name == "smoke":  # seconds: checks that the script runs end to end
        eager = {"channels_last+inference": dict(compile=False, fuse_curves=False),
                 "curve_max_side=32": dict(compile=False, fuse_curves=False, curve_max_side=32)}
        cases = [Case("ZeroDCE", 1, (64, 96), 1, eager, 2), Case("ZeroDCEPP", 4, (64, 96), 2, eager, 2)]
        return cases, ["ZeroDCEPP"], [torch.float32], 1
    raise SystemExit(f"unknown preset {name!r}: use cpu-small, full or smoke")


# ------------------------------------------------------------------------------------------------
# measurement helpers


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _timed(fn: Callable[[], object], device: str) -> float:
    _sync(device)
    t0 = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - t0


def _status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return -1


def _peak_mib(fn: Callable[[], object], device: str) -> float:
    """Peak memory of one call above what was in use before it, MiB (see module docstring)."""
    gc.collect()
    if device == "cuda":
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        fn()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - before) / 2**20
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS (Linux)
    except OSError:
        return float("nan")
    before = _status_kib("VmRSS")
    fn()
    return (_status_kib("VmHWM") - before) / 1024


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = F.mse_loss(a.float(), b.float()).item()
    return float("inf") if mse == 0 else 10 * math.log10(1 / mse)


def _cpu_name() -> str:
    """The model name, with CPU family and model numbers (virtual machines often show only "AMD EPYC")."""
    try:
        info = {}
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
        if "model name" in info:
            return f"{info['model name']} (family {info.get('cpu family', '?')}, model {info.get('model', '?')})"
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _photo(size: tuple[int, int], batch: int) -> torch.Tensor:
    """A real low-light photo resized to ``size`` (batch: flipped/shifted copies), or a synthetic one."""
    src = SHARED / "data" / "lowlight" / "dicm" / "01.jpg"
    if src.is_file():
        from dce_transforms.io import image_to_tensor, read_image

        img = image_to_tensor(read_image(src))[None].float()
    else:
        g = torch.Generator().manual_seed(0)
        yy, xx = torch.meshgrid(torch.linspace(0, 1, 256), torch.linspace(0, 1, 256), indexing="ij")
        img = (0.05 + 0.2 * xx * yy).expand(1, 3, -1, -1) + 0.02 * torch.rand(1, 3, 256, 256, generator=g)
    img = F.interpolate(img, size=size, mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)
    frames = [img.roll(shifts=7 * i, dims=-1) if i % 2 == 0 else img.flip(-1).roll(7 * i, -1) for i in range(batch)]
    return torch.cat(frames).contiguous()


def _build(name: str, scale: float, device: str, weights_note: list[str]) -> torch.nn.Module:
    """Shipped default weights when they exist, else a seeded random init (same numbers every run)."""
    cls = ZeroDCE if name == "ZeroDCE" else ZeroDCEPP
    kw = {} if cls is ZeroDCE else {"scale_factor": scale}
    if cls.default_weights is not None:
        model = cls(weights="default", **kw)
        note = f"{name}: shipped weights {cls.default_weights!r}"
    else:
        torch.manual_seed(0)
        model = cls(weights=None, **kw)
        note = f"{name}: no shipped weights yet, random init (torch.manual_seed(0), normal std 0.02; no denormals)"
    if note not in weights_note:
        weights_note.append(note)
    return model.to(device).eval()


# ------------------------------------------------------------------------------------------------
# inference


@dataclass
class Row:
    model: str
    size: str
    batch: int
    dtype: str
    variant: str
    base_ms: float
    fast_ms: float
    compile_s: float
    max_diff: float
    psnr: float
    base_mib: float
    fast_mib: float
    load: float
    extra: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.base_ms / self.fast_ms


def run_case(case: Case, device: str, dtype: torch.dtype, weights_note: list[str], log: Callable[[str], None]) -> list[Row]:
    model = _build(case.model, case.scale, device, weights_note)
    base = baseline_from(model)
    x = _photo(case.size, case.batch).to(device)
    load0 = _load()
    fns: dict[str, Callable[[], torch.Tensor]] = {}

    def base_fn() -> torch.Tensor:
        with torch.no_grad():
            return base(x)

    fns["baseline"] = base_fn
    compile_s: dict[str, float] = {}
    outputs: dict[str, torch.Tensor] = {"baseline": base_fn()}
    for vname, kw in case.variants.items():
        kw = dict(kw)
        if dtype != torch.float32:
            kw["dtype"] = dtype
        fast = optimize(model, **kw)
        fns[vname] = (lambda f: lambda: f(x))(fast)
        t = time.perf_counter()
        outputs[vname] = fns[vname]()  # first call: compilation (and CUDA graph capture)
        _sync(device)
        compile_s[vname] = time.perf_counter() - t
        fns[vname]()  # second call: Inductor may still specialise; keep it out of the medians
    times: dict[str, list[float]] = {k: [] for k in fns}
    names = list(fns)
    for r in range(case.repeats):
        order = names[r % len(names):] + names[: r % len(names)]  # rotate so no variant always runs first
        for k in order:
            times[k].append(_timed(fns[k], device))
    mem = {k: _peak_mib(fns[k], device) for k in names}
    load = max(load0, _load())
    base_ms = statistics.median(times["baseline"]) * 1e3
    rows = []
    ref = outputs["baseline"]
    label = case.model + ("" if case.model == "ZeroDCE" else f" (scale {case.scale:g})")
    for k in names[1:]:
        rows.append(Row(label, f"{case.size[1]}x{case.size[0]}", case.batch, str(dtype).replace("torch.", ""), k,
                        base_ms, statistics.median(times[k]) * 1e3, compile_s[k],
                        (outputs[k].float() - ref.float()).abs().max().item(), _psnr(outputs[k], ref),
                        mem["baseline"], mem[k], load))
        log(f"  {label} {rows[-1].size} b{case.batch} {rows[-1].dtype} {k}: base {base_ms:.1f} ms, fast "
            f"{rows[-1].fast_ms:.1f} ms, x{rows[-1].ratio:.2f}, diff {rows[-1].max_diff:.2e}, compile {compile_s[k]:.1f} s")
    return rows


# ------------------------------------------------------------------------------------------------
# training


def run_training(name: str, device: str, steps: int, weights_note: list[str], compiled: bool,
                 log: Callable[[str], None]) -> list[Row]:
    """Steps per second at 256×256, batch 8: forward + ZeroReferenceLoss + backward + Adam step."""
    x = _photo((256, 256), 8).to(device)
    loss_fn = ZeroReferenceLoss(tv_weight=200.0 if name == "ZeroDCE" else 1600.0)
    model0 = _build(name, 1, device, weights_note)

    base = baseline_from(model0).train()
    opt_b = torch.optim.Adam(base.parameters(), lr=1e-4)

    def base_step() -> None:
        if name == "ZeroDCE":
            alpha = base.curves(x)
            y = x
            for a in torch.split(alpha, 3, dim=1):
                y = y + a * y * (1 - y)
        else:
            alpha = base.curves(x)
            y = x
            for _ in range(8):
                y = y + alpha * y * (1 - y)
        loss, _ = loss_fn(y, x, alpha)
        opt_b.zero_grad(set_to_none=True)
        loss.backward()
        opt_b.step()

    variants: dict[str, Callable[[], None]] = {"baseline": base_step}
    for vname, cl, comp in (("channels_last", True, False), ("channels_last + compiled", True, True)):
        if comp and not compiled:
            continue
        m = type(model0)(weights=None, validate=False).to(device)
        m.load_state_dict(model0.state_dict())
        m.train()
        xin = x
        if cl:
            m = m.to(memory_format=torch.channels_last)
            xin = x.contiguous(memory_format=torch.channels_last)
        fwd = torch.compile(m) if comp else m
        opt = torch.optim.Adam(m.parameters(), lr=1e-4)

        def step(fwd=fwd, opt=opt, xin=xin) -> None:
            y, alpha = fwd(xin, return_curves=True)
            loss, _ = loss_fn(y, xin, alpha)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        variants[vname] = step
    compile_s = {}
    for k, fn in variants.items():
        t = time.perf_counter()
        fn()
        _sync(device)
        compile_s[k] = time.perf_counter() - t
    load0 = _load()
    times: dict[str, list[float]] = {k: [] for k in variants}
    names = list(variants)
    for r in range(steps):
        for k in names[r % len(names):] + names[: r % len(names)]:
            times[k].append(_timed(variants[k], device))
    mem = {k: _peak_mib(variants[k], device) for k in names}
    load = max(load0, _load())
    base_s = statistics.median(times["baseline"])
    rows = []
    for k in names[1:]:
        fast_s = statistics.median(times[k])
        rows.append(Row(f"{name} train", "256x256", 8, "float32", k, base_s * 1e3, fast_s * 1e3,
                        compile_s[k] if "compiled" in k else 0.0, float("nan"), float("nan"), mem["baseline"], mem[k], load))
        log(f"  train {name} {k}: base {1 / base_s:.3f} it/s, fast {1 / fast_s:.3f} it/s, x{base_s / fast_s:.2f}")
    return rows


# ------------------------------------------------------------------------------------------------
# quality of bounded-resolution curves on real photos


def run_quality(device: str, sides: list[int], n_images: int, log: Callable[[str], None]) -> tuple[list[str], str]:
    """PSNR of bounded-resolution curves against the full-resolution output, on real photos at 1080p.

    Random weights make the model almost the identity, which would flatter this figure, so it
    uses the shipped weights, or else the authors' checkpoints from ../shared (comparison only).
    """
    from dce_transforms.io import image_to_tensor, read_image

    lines: list[str] = []
    # (class, model, label): our shipped weights, and the authors' checkpoints beside them when
    # ../shared has them, so the agreement of our weights reads against the reference model's.
    weights = []
    for cls, official in ((ZeroDCE, "zero_dce_epoch99.pth"), (ZeroDCEPP, "zero_dce_pp_epoch99.pth")):
        if cls.default_weights is not None:
            weights.append((cls, cls(weights="default"), f"shipped {cls.default_weights!r}"))
        if (SHARED / "weights" / "official" / official).is_file():
            weights.append((cls, cls.from_official(SHARED / "weights" / "official" / official),
                            f"authors' {official} (comparison only)"))
    if not weights:
        return ["(skipped: no trained weights available)"], ""
    groups = []
    real = SHARED / "data" / "lowlight"
    big = sorted((real / "sice_real").glob("*.png"))
    native = []
    for p in big:
        arr = read_image(p)
        if arr.shape[0] >= 1080 and arr.shape[1] >= 1920:
            native.append((p, arr))
        if len(native) >= n_images:
            break
    groups.append(("sice_real, native >= 1920x1080, resized + centre-cropped to 1920x1080", native))
    dicm = [(p, read_image(p)) for p in sorted((real / "dicm").glob("*.jpg"))[: max(1, n_images // 2)]]
    groups.append(("dicm, ~640x480 up-scaled to 1920x1080 (harder: the net is not scale invariant)", dicm))

    def to_1080p(arr):
        t = image_to_tensor(arr)[None].float()
        h, w = t.shape[-2:]
        s = max(1080 / h, 1920 / w)
        t = F.interpolate(t, size=(max(1080, round(h * s)), max(1920, round(w * s))), mode="bilinear",
                          align_corners=False, antialias=True).clamp(0, 1)
        top, left = (t.shape[-2] - 1080) // 2, (t.shape[-1] - 1920) // 2
        return t[..., top : top + 1080, left : left + 1920].contiguous().to(device)

    header = "| weights | images | variant | PSNR min (dB) | PSNR mean (dB) |\n|---|---|---|---|---|"
    for cls, model, wname in weights:
        model = model.to(device).eval()
        full = optimize(model, compile=False, fuse_curves=False)
        variants = {f"curve_max_side={s}": optimize(model, compile=False, fuse_curves=False, curve_max_side=s)
                    for s in sides}
        if cls is ZeroDCEPP:
            m12 = ZeroDCEPP(weights=None, scale_factor=12)
            m12.load_state_dict(model.state_dict())
            variants["scale_factor=12"] = optimize(m12.to(device), compile=False, fuse_curves=False)
        for gname, items in groups:
            if not items:
                continue
            scores: dict[str, list[float]] = {k: [] for k in variants}
            for _, arr in items:
                x = to_1080p(arr)
                ref = full(x)
                for k, f in variants.items():
                    scores[k].append(_psnr(f(x), ref))
            for k, v in scores.items():
                lines.append(f"| {cls.__name__}: {wname} | {gname} ({len(v)}) | {k} | {min(v):.2f} | {statistics.mean(v):.2f} |")
                log(f"  quality {cls.__name__} {gname[:9]} {k}: min {min(v):.2f} dB, mean {statistics.mean(v):.2f} dB")
    return lines, header


# ------------------------------------------------------------------------------------------------
# cpu-720p: every path against the authors' own model, ONNX Runtime and OpenVINO beside PyTorch

_FLAGS_OF_NOTE = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8")


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                return " ".join(f for f in _FLAGS_OF_NOTE if f in have) or "none of " + " ".join(_FLAGS_OF_NOTE)
    except OSError:
        pass
    return "unknown"


def _onnxruntime_fn(path: Path, threads: int) -> Callable[[torch.Tensor], torch.Tensor]:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return lambda x: torch.from_numpy(sess.run(None, {name: x.numpy()})[0])


def _openvino_fn(path: Path, threads: int, precision: str) -> Callable[[torch.Tensor], torch.Tensor]:
    req = _openvino_request(path, precision, threads)  # the library's: one OpenVINO Core per process

    def run(x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(req.infer({0: x.numpy()}, share_outputs=False)[0])

    return run


@dataclass
class PairRow:
    group: str
    path: str
    ref_ms: float
    ms: float
    ratio: float  # median of per-pair ratios reference / path
    psnr: float
    max_diff: float
    setup_s: float
    note: str = ""


def _pairs(ref: Callable[[], object], fn: Callable[[], object], pairs: int) -> tuple[float, float, float]:
    """(median reference ms, median path ms, median per-pair ratio), the two alternating, order flipped each pair."""
    rt, ft, ratios = [], [], []
    for i in range(pairs):
        if i % 2 == 0:
            a = _timed(ref, "cpu")
            b = _timed(fn, "cpu")
        else:
            b = _timed(fn, "cpu")
            a = _timed(ref, "cpu")
        rt.append(a)
        ft.append(b)
        ratios.append(a / b)
    return statistics.median(rt) * 1e3, statistics.median(ft) * 1e3, statistics.median(ratios)


def run_cpu_720p(args: argparse.Namespace, log: Callable[[str], None]) -> tuple[list[PairRow], list[str]]:
    """Zero-DCE at 1280x720, Zero-DCE++ (scale 12) at 1920x1080: every path timed in pairs with the authors' model."""
    import tempfile

    torch.set_flush_denormal(True)
    threads = torch.get_num_threads()
    pairs = args.pairs
    notes: list[str] = []
    rows: list[PairRow] = []
    official = SHARED / "weights" / "official"
    tmp = Path(tempfile.mkdtemp(prefix="dce-bench-"))

    def add(group: str, name: str, ref_fn, ref_out, fn, setup_s: float, note: str = "") -> None:
        t = time.perf_counter()
        out = fn()
        setup_s += time.perf_counter() - t  # the first call (compilation, if any) counts as setup
        fn()  # second call: out of the timings as well
        r_ms, f_ms, ratio = _pairs(ref_fn, fn, pairs)
        rows.append(PairRow(group, name, r_ms, f_ms, ratio, _psnr(out, ref_out),
                            (out.float() - ref_out.float()).abs().max().item(), setup_s, note))
        log(f"  {group} | {name}: {f_ms:.1f} ms, x{ratio:.2f} the authors' model ({r_ms:.1f} ms), "
            f"{rows[-1].psnr:.1f} dB, setup {setup_s:.1f} s")

    def timed_setup(make):
        t = time.perf_counter()
        obj = make()
        return obj, time.perf_counter() - t

    # -- Zero-DCE, 1280x720 ---------------------------------------------------------------------
    hd, fhd = ((90, 160), (144, 240)) if args.tiny else ((720, 1280), (1080, 1920))
    def reference(name: str, size: tuple[int, int], scale: float) -> tuple[torch.nn.Module, torch.nn.Module, str]:
        """(the authors' model, ours with the same weights, table group) — the shipped weights without
        their gate, against benchmarks/baseline.py, when ../shared lacks the authors' checkpoint."""
        pp = name == "ZeroDCEPP"
        label = f"Zero-DCE{'++ scale 12,' if pp else ''} {size[1]}x{size[0]}"
        ck = official / ("zero_dce_pp_epoch99.pth" if pp else "zero_dce_epoch99.pth")
        if ck.is_file():
            kw = {"scale_factor": scale} if pp else {}
            mine = (ZeroDCEPP if pp else ZeroDCE).from_official(ck, **kw).eval()
            notes.append(f"{name} reference: the authors' code ({'AuthorsZeroDCEPP' if pp else 'AuthorsZeroDCE'}) and "
                         f"{ck.name}, denormal weights flushed (benchmarks/baseline.py), comparison only")
            return authors_zero_dce(ck, **kw), mine, f"{label}, authors' checkpoint"
        mine = _build(name, scale, "cpu", notes).set_exposure_gate(None)
        notes.append(f"{name} reference: benchmarks/baseline.py with the shipped weights (no authors' checkpoint)")
        return baseline_from(mine), mine, f"{label}, shipped weights without gate (authors' checkpoint absent)"

    x = _photo(hd, 1)
    authors, ours, group = reference("ZeroDCE", hd, 1)

    def ref_fn():
        with torch.no_grad():
            return authors(x)

    ref_out = ref_fn()
    nchw = copy.deepcopy(ours)
    nchw._nhwc_input = lambda t: False  # the eager path before channels-last input

    def eager(m):
        def run():
            with torch.inference_mode():
                return m(x)
        return run

    add(group, "the authors' model (itself, second copy)", ref_fn, ref_out, ref_fn, 0.0)
    add(group, "`ZeroDCE` eager, float32, NCHW (before)", ref_fn, ref_out, eager(nchw), 0.0)
    add(group, "`ZeroDCE` eager, float32 (default: channels-last input)", ref_fn, ref_out, eager(ours), 0.0)
    fast, st = timed_setup(lambda: optimize(ours, compile=False, fuse_curves=False))
    add(group, f"`optimize(compile=False)` (dce-enhance), {fast.precision}", ref_fn, ref_out, lambda: fast(x), st)
    fast32 = optimize(ours, precision="fp32", backend="inductor")
    add(group, "`optimize(precision=\"fp32\", backend=\"inductor\")` compiled", ref_fn, ref_out, lambda: fast32(x), 0.0)
    fast_auto = optimize(ours)
    add(group, f"`optimize()` defaults: backend {fast_auto.backend}, {fast_auto.precision}", ref_fn, ref_out,
        lambda: fast_auto(x), 0.0)
    fast_ind = None
    other = "inductor" if fast_auto.backend == "openvino" else "openvino" if openvino_available() else None
    if other is not None:  # the backend auto did not pick, side by side
        fast_ind, st = timed_setup(lambda: optimize(ours, backend=other))
        add(group, f"`optimize(backend=\"{other}\")`: {fast_ind.precision}", ref_fn, ref_out, lambda: fast_ind(x), st)
    if not args.no_deploy:
        try:
            onnx_path, st = timed_setup(lambda: Path(export_onnx(ours, tmp / "zero_dce.onnx")))
        except Exception as err:  # noqa: BLE001 - a missing exporter is a note, not a failure
            notes.append(f"ONNX export failed: {type(err).__name__}: {err}")
            onnx_path = None
        if onnx_path is not None:
            try:
                ort_fn, st2 = timed_setup(lambda: _onnxruntime_fn(onnx_path, threads))
                add(group, "ONNX Runtime, float32 (CPU EP)", ref_fn, ref_out, lambda: ort_fn(x), st + st2,
                    "setup = export + session")
            except ImportError:
                notes.append("onnxruntime not installed (pip install 'dce-transforms[onnx]')")
            try:
                for prec in ("f32", "bf16"):
                    ov_fn, st2 = timed_setup(lambda p=prec: _openvino_fn(onnx_path, threads, p))
                    add(group, f"OpenVINO {prec} (CPU, from the ONNX)", ref_fn, ref_out, lambda f=ov_fn: f(x), st2,
                        "setup = compile_model")
            except ImportError:
                notes.append("openvino not installed (pip install 'dce-transforms[openvino]')")
    # the shipped default model, exposure gate on: agreement against its own eager float32 output
    shipped = ZeroDCE().eval()
    if shipped.exposure_gate is not None:
        g2 = f"Zero-DCE {hd[1]}x{hd[0]}, shipped `ZeroDCE()` ({shipped.weights_name}, gate on)"
        s_out = eager(shipped)()
        s_fast = optimize(shipped)
        add(g2, "`ZeroDCE()` eager, float32", ref_fn, s_out, eager(shipped), 0.0, "agreement: itself")
        add(g2, f"`optimize(ZeroDCE())` defaults: backend {s_fast.backend}, {s_fast.precision}", ref_fn, s_out, lambda: s_fast(x), 0.0,
            "agreement vs `ZeroDCE()` eager")
    nchw = fast = fast32 = fast_ind = fast_auto = None  # free the copies before the next group
    gc.collect()

    # -- Zero-DCE++, scale 12, 1920x1080 ------------------------------------------------------------
    x = _photo(fhd, 1)
    authors, ours, group = reference("ZeroDCEPP", fhd, 12)
    ref_out = ref_fn()
    add(group, "`ZeroDCEPP` eager, float32", ref_fn, ref_out, eager(ours), 0.0)
    pp_auto = optimize(ours)
    add(group, f"`optimize()` defaults: backend {pp_auto.backend}, {pp_auto.precision}", ref_fn, ref_out,
        lambda: pp_auto(x), 0.0)
    pp_bf16 = optimize(ours, precision="bf16")
    add(group, "`optimize(precision=\"bf16\")`", ref_fn, ref_out, lambda: pp_bf16(x), 0.0)
    if openvino_available():
        pp_ov = optimize(ours, backend="openvino")
        add(group, f"`optimize(backend=\"openvino\")`: {pp_ov.precision}", ref_fn, ref_out, lambda: pp_ov(x), 0.0)
    # the shipped default Zero-DCE++, exposure gate on (its darkening pass is a second, resampled network pass)
    shipped_pp = ZeroDCEPP(scale_factor=12).eval()
    if shipped_pp.exposure_gate is not None:
        g3 = f"Zero-DCE++ scale 12, {fhd[1]}x{fhd[0]}, shipped `ZeroDCEPP(scale_factor=12)` ({shipped_pp.weights_name}, gate on)"
        sp_out = eager(shipped_pp)()
        sp_fast, st = timed_setup(lambda: optimize(shipped_pp))
        add(g3, "`ZeroDCEPP(scale_factor=12)` eager, float32", ref_fn, sp_out, eager(shipped_pp), 0.0, "agreement: itself")
        add(g3, f"`optimize(...)` defaults: backend {sp_fast.backend}, {sp_fast.precision}", ref_fn, sp_out,
            lambda: sp_fast(x), st, "agreement vs its eager output")
    return rows, notes


def render_pairs(rows: list[PairRow], notes: list[str], meta: dict[str, str]) -> str:
    out = [f"# dce_transforms benchmark: {meta['device']} ({meta['date']})", ""]
    for k, v in meta.items():
        out.append(f"- **{k}**: {v}")
    group = None
    for r in rows:
        if r.group != group:
            group = r.group
            out += ["", f"## {group}", "",
                    "| path | median ms | authors' model ms (same pairs) | × the authors' model "
                    "| PSNR vs reference (dB) "
                    "| max abs diff | setup + first call s | note |", "|---|---:|---:|---:|---:|---:|---:|---|"]
        psnr = "exact (inf)" if math.isinf(r.psnr) else f"{r.psnr:.1f}"
        out.append(f"| {r.path} | {r.ms:.1f} | {r.ref_ms:.1f} | {r.ratio:.2f} | {psnr} | {r.max_diff:.1e} | "
                   f"{r.setup_s:.1f} | {r.note} |")
    out += ["", "Notes:", "",
            "- Each path is timed in pairs with the reference (the authors' model) in one process, the order "
            "flipped every pair, after two untimed calls (the first compiles); × = median of the per-pair ratios.",
            "- PSNR/max abs diff: against the reference's output on the same photo (dicm/01.jpg resized), or, "
            "for the shipped gated model, against its own eager float32 output.",
            *[f"- {n}" for n in notes], ""]
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------
# report


def _fmt_mib(v: float) -> str:
    return "n/a" if math.isnan(v) else f"{max(v, 0.0):.0f}"


def render(rows: list[Row], train_rows: list[Row], quality: tuple[list[str], str], meta: dict[str, str]) -> str:
    out = [f"# dce_transforms benchmark: {meta['device']} ({meta['date']})", ""]
    for k, v in meta.items():
        out.append(f"- **{k}**: {v}")
    out += ["", "## Inference (median ms per call; ratio = baseline / fast, > 1 is faster)", "",
            "| model | size | batch | dtype | variant | baseline ms | fast ms | ratio | fast fps (images/s) | "
            "max abs diff | PSNR vs baseline (dB) | peak MiB base / fast | compile s | load |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        fps = r.batch / (r.fast_ms / 1e3)
        psnr = "inf" if math.isinf(r.psnr) else f"{r.psnr:.1f}"
        out.append(f"| {r.model} | {r.size} | {r.batch} | {r.dtype} | {r.variant} | {r.base_ms:.1f} | {r.fast_ms:.1f} | "
                   f"{r.ratio:.2f}x | {fps:.2f} | {r.max_diff:.1e} | {psnr} | {_fmt_mib(r.base_mib)} / "
                   f"{_fmt_mib(r.fast_mib)} | {r.compile_s:.1f} | {r.load:.1f} |")
    if train_rows:
        out += ["", "## Training step (256x256, batch 8: forward + ZeroReferenceLoss + backward + Adam)", "",
                "| model | variant | baseline steps/s | fast steps/s | ratio | peak MiB base / fast | compile s | load |",
                "|---|---|---|---|---|---|---|---|"]
        for r in train_rows:
            out.append(f"| {r.model} | {r.variant} | {1e3 / r.base_ms:.3f} | {1e3 / r.fast_ms:.3f} | {r.ratio:.2f}x | "
                       f"{_fmt_mib(r.base_mib)} / {_fmt_mib(r.fast_mib)} | {r.compile_s:.1f} | {r.load:.1f} |")
    lines, header = quality
    if lines:
        out += ["", "## Bounded-resolution curves: PSNR against the full-resolution output, 1920x1080 photos", ""]
        if header:
            out.append(header)
        out += lines
    out += ["", "Notes:", "",
            "- baseline = `benchmarks/baseline.py` (NCHW float32 eager, 8 separate curve steps), same weights.",
            "- baseline and fast variants run interleaved in one process, order rotated each repeat; medians.",
            "- compile s = the first call (compilation, graph capture); excluded from the medians.",
            "- peak MiB: CUDA max_memory_allocated above the allocated memory before the call; CPU: VmHWM after "
            "resetting it through /proc/self/clear_refs, above VmRSS before the call.",
            "- load = highest 1-minute load average seen during the case (the machine may be shared).", ""]
    return "\n".join(out)


def _software() -> str:
    parts = [f"torch {torch.__version__}", f"Python {platform.python_version()}", platform.system()]
    for mod in ("onnxruntime", "openvino"):
        with contextlib.suppress(ImportError):
            parts.append(f"{mod} {__import__(mod).__version__}")
    return ", ".join(parts)


def _publish(text: str, path: Path) -> int:
    """Write the results table to ``path``, print it, and return the exit status 0."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(text)
    print(f"written to {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="cpu-small", choices=["cpu-small", "cpu-720p", "full", "smoke"])
    ap.add_argument("--pairs", type=int, default=5, help="cpu-720p: timed pairs per path (default %(default)s)")
    ap.add_argument("--no-deploy", action="store_true", help="cpu-720p: skip the ONNX Runtime / OpenVINO rows")
    ap.add_argument("--tiny", action="store_true", help="cpu-720p at 1/8 of the sizes: checks the script end to end")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--no-train", action="store_true")
    ap.add_argument("--no-quality", action="store_true")
    ap.add_argument("--quality-images", type=int, default=2)
    ap.add_argument("--only", default=None, help="run only inference cases whose model name contains this")
    args = ap.parse_args(argv)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available")
    if args.threads:
        torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    log = lambda s: print(s, flush=True)  # noqa: E731
    if args.preset == "cpu-720p":
        if device != "cpu":
            raise SystemExit("--preset cpu-720p is a CPU preset: add --device cpu")
        pair_rows, notes = run_cpu_720p(args, log)
        meta = {
            "device": "cpu",
            "date": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "command": "python benchmarks/bench.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "processor": f"{_cpu_name()}, {os.cpu_count()} logical cores, torch threads {torch.get_num_threads()}",
            "processor flags": f"{_cpu_flags()} (native bf16 for optimize(): {'/'.join(cpu_bf16_flags()) or 'none'})",
            "software": _software(),
            "load": f"1-minute load average {_load():.1f} at the end (the machine may be shared)",
        }
        meta["wall time"] = f"{time.perf_counter() - t_start:.0f} s"
        return _publish(render_pairs(pair_rows, notes, meta), args.out / f"cpu-720p-{_dt.date.today().isoformat()}.md")
    cases, train_models, dtypes, steps = _presets(args.preset, device)
    if args.only:
        cases = [c for c in cases if args.only in c.model]
    weights_note: list[str] = []
    rows: list[Row] = []
    for dtype in dtypes:
        for case in cases:
            rows += run_case(case, device, dtype, weights_note, log)
    train_rows: list[Row] = []
    if not args.no_train:
        for name in train_models:
            train_rows += run_training(name, device, steps, weights_note, args.preset == "full", log)
    quality: tuple[list[str], str] = ([], "")
    if not args.no_quality and (SHARED / "data" / "lowlight").is_dir():
        sides = [192] if args.preset == "smoke" else [192, 256, 512]
        quality = run_quality(device, sides, 1 if args.preset == "smoke" else args.quality_images, log)
    hw = f"{_cpu_name()}, {os.cpu_count()} logical cores, torch threads {torch.get_num_threads()}"
    if device == "cuda":
        hw = f"{torch.cuda.get_device_name()} ({hw})"
    meta = {
        "device": device,
        "date": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "command": "python benchmarks/bench.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "hardware": hw,
        "software": f"torch {torch.__version__}, Python {platform.python_version()}, {platform.system()}",
        "weights": "; ".join(weights_note),
        "cases": f"preset {args.preset}: sizes/batches as listed; dtypes {[str(d).replace('torch.', '') for d in dtypes]}",
    }
    meta["wall time"] = f"{time.perf_counter() - t_start:.0f} s"
    return _publish(render(rows, train_rows, quality, meta), args.out / f"{device}-{_dt.date.today().isoformat()}.md")


if __name__ == "__main__":
    raise SystemExit(main())

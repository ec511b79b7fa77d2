"""Switchable fast inference paths for :class:`~dce_transforms.ZeroDCE` and :class:`~dce_transforms.ZeroDCEPP`.

:func:`optimize` wraps a model in a :class:`FastEnhancer` with the same call contract
(``(B, 3, H, W)`` or ``(3, H, W)`` float image in [0, 1] in, enhanced image out). Each
optimisation is a switch, so that its effect and its agreement with the plain model can be
measured on its own (``benchmarks/bench.py`` does, side by side with ``benchmarks/baseline.py``):

=====================  ==========================================================================
switch                 what it does
=====================  ==========================================================================
``compile``            ``torch.compile`` (Inductor) of the whole enhancement; with ``inference``
                       the weights are frozen into the graph (prepacked oneDNN convolutions with
                       fused ReLU on CPU). The first call per input shape compiles (tens of seconds).
``fuse_curves``        the curve-map up-sampling and all curve iterations in one pass
                       (:func:`fused_curves`), so the full-resolution ``α`` is never stored.
``channels_last``      NHWC memory format for the network's weights and input (default: on, except
                       ZeroDCEPP on CPU, where depthwise convolutions are slower in NHWC).
``inference``          ``torch.inference_mode``, a private frozen copy of the model.
``precision``          the network's precision: ``"auto"`` (default) picks the fastest that stays
                       within 50 dB PSNR of float32 for the device found (:func:`choose_precision`:
                       bfloat16 on CPUs with native bf16, float16 on CUDA, float32 elsewhere);
                       ``"fp32"``, ``"bf16"``, ``"fp16"`` force one. Curves stay in the input's precision.
``dtype``              the same as a ``torch.dtype`` (overrides ``precision``).
``cuda_graphs``        replay a captured CUDA graph per input shape (CUDA only, ignored on CPU).
``backend``            ``"auto"``: OpenVINO for Zero-DCE on the CPU where it is installed, Inductor
                       otherwise; or ``"openvino"``, ``"inductor"``, ``"eager"``.
``curve_max_side``     estimate curves on a copy whose longer side is at most this many pixels.
=====================  ==========================================================================

Bounded-resolution estimation (``curve_max_side``, or ZeroDCEPP's ``scale_factor``) changes the
output, within the PSNR reported by the benchmark; every other switch only changes rounding.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import io
import logging
import os
import sys
import threading
import types
import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext, redirect_stdout
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._checks import check_image, check_values_once, is_tracing
from .curves import _check_alpha, le_curve
from .errors import ConfigError, ConfigTypeError, DeviceError
from .models import ZeroDCEPP, _CurveEstimator

__all__ = ["FastEnhancer", "optimize", "upsample_and_apply_curves", "fused_curves", "choose_precision",
           "PRECISIONS", "cpu_bf16_flags", "export_onnx", "openvino_available"]

_log = logging.getLogger(__name__)


def _compile_in_this_thread_after_fork() -> None:
    """In a forked child (a DataLoader worker), make Inductor compile in the calling thread.

    Inductor's compile worker pool is inherited from the parent without its threads: a compile in the
    child (a new shape, or the worker's own thread count) waited on it forever (measured: a fork
    worker's first call hung with a cold Inductor cache). Only where Inductor was already loaded.
    """
    config = sys.modules.get("torch._inductor.config")
    if config is not None:
        config.compile_threads = 1  # type: ignore[attr-defined]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_compile_in_this_thread_after_fork)

#: Values of ``precision=`` (``optimize``, ``dce-enhance --precision``).
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
_NAMES = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16", torch.float64: "fp64"}


@functools.lru_cache(maxsize=1)
def cpu_bf16_flags() -> tuple[str, ...]:
    """The native-bfloat16 instruction sets of this CPU found in ``/proc/cpuinfo`` (``amx_bf16``, ``avx512_bf16``).

    Empty when there are none, when oneDNN (``torch.backends.mkldnn``) is unavailable or cannot
    run bfloat16, or off Linux. AVX-512 CPUs without these flags emulate bfloat16 (slower than float32).
    """
    if not torch.backends.mkldnn.is_available():
        return ()
    try:
        if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
            return ()
    except (AttributeError, RuntimeError):  # pragma: no cover - builds without the query
        pass
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return tuple(f for f in ("amx_bf16", "avx512_bf16") if f in flags)
    except OSError:
        pass
    return ()


def choose_precision(model: nn.Module) -> tuple[torch.dtype | None, str]:
    """The precision ``precision="auto"`` runs ``model``'s network in, and why: ``(dtype or None, reason)``.

    Chosen among the precisions whose output stays within 50 dB PSNR of float32 (measured by
    ``benchmarks/bench.py`` and ``tests/test_fast.py``): bfloat16 keeps 8 bits of mantissa, which
    is enough for DCE-Net's curve maps (about 70 dB on photos).

    - CUDA: float16 (tensor cores; 3 more mantissa bits than bfloat16 at the same speed).
    - CPU with native bfloat16 (AMX or AVX-512 BF16, :func:`cpu_bf16_flags`): bfloat16 for
      Zero-DCE (compiled: 440 against 1,009 ms at 1280x720, 74.6 dB) and Zero-DCE++ (16.2 against
      19.5 ms at scale 12, 1920x1080, 66.3 dB), both measured by ``benchmarks/bench.py --preset cpu-720p``.
    - Elsewhere, or a model already in another precision: ``None`` (the model's own dtype).
    """
    p = next(model.parameters())
    if p.dtype != torch.float32:
        return None, f"the model is already {_NAMES.get(p.dtype, str(p.dtype))}"
    if p.is_cuda:
        return torch.float16, "CUDA"
    if p.device.type != "cpu":
        return None, f"no faster precision known for {p.device.type}"
    flags = cpu_bf16_flags()
    if not flags:
        return None, "CPU without native bf16"
    return torch.bfloat16, f"CPU with native bf16 ({'/'.join(flags)})"


def _resolve_precision(model: nn.Module, precision: str, dtype: torch.dtype | None, inference: bool) -> tuple[
        torch.dtype | None, str]:
    """``(dtype, description)`` from ``precision=`` and ``dtype=``."""
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}; got {precision!r}.")
    if dtype is not None:
        if precision != "auto" and _DTYPES[precision] != dtype:
            raise ConfigError(
                f"precision={precision!r} contradicts dtype={dtype}: pass one of them (dtype overrides precision)."
            )
        return dtype, f"{_NAMES.get(dtype, str(dtype))} (dtype=)"
    if precision == "auto":
        if not inference:
            return None, "model's (auto: inference=False)"
        chosen, why = choose_precision(model)
        name = _NAMES.get(chosen, "") if chosen is not None else _NAMES.get(next(model.parameters()).dtype, "model's")
        return chosen, f"{name} (auto: {why})"
    chosen = _DTYPES[precision]
    return (None if chosen == torch.float32 and next(model.parameters()).dtype == torch.float32 else chosen), precision


def _source_index(out_size: int, in_size: int, align_corners: bool, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    """Lower/upper source index and upper weight of 1-D bilinear resampling (PyTorch's convention)."""
    dst = torch.arange(out_size, device=device, dtype=torch.float32)
    if align_corners:
        src = dst * ((in_size - 1) / (out_size - 1) if out_size > 1 else 0.0)
    else:
        src = ((dst + 0.5) * (in_size / out_size) - 0.5).clamp(min=0)
    i0 = src.floor().clamp(max=in_size - 1)
    w1 = src - i0
    i0 = i0.long()
    i1 = (i0 + 1).clamp(max=in_size - 1)
    return i0, i1, w1


def _layout(x: Tensor) -> torch.memory_format:
    if x.ndim == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    return torch.contiguous_format


def _resize_width_eager(alpha: Tensor, width: int, align_corners: bool) -> Tensor:
    return F.interpolate(alpha, size=(alpha.shape[-2], width), mode="bilinear", align_corners=align_corners)


# Under torch.compile the small width-resized map must stay a buffer of its own: Inductor would
# otherwise inline its per-column gathers into the full-resolution kernel, which then cannot be
# vectorised (measured 10-20x slower on CPU). A graph break around ATen's kernel keeps it apart.
_resize_width_outside = torch.compiler.disable(_resize_width_eager)


def _resize_width(alpha: Tensor, width: int, align_corners: bool) -> Tensor:
    compiler = torch.compiler
    if compiler.is_compiling() and not (getattr(compiler, "is_exporting", None) and compiler.is_exporting()):
        return _resize_width_outside(alpha, width, align_corners)
    return _resize_width_eager(alpha, width, align_corners)


def upsample_and_apply_curves(
    x: Tensor, alpha: Tensor, *, iterations: int | None = None, align_corners: bool = False
) -> Tensor:
    """Up-sample curve maps bilinearly to the image size and apply the iterated curve.

    Equal (to rounding) to ``apply_curves(x, F.interpolate(alpha, size=x.shape[-2:], mode="bilinear",
    align_corners=align_corners), iterations=iterations)``, written separably so that a compiler can
    fuse it into one pass: the small map is first resized along the width, then each output row
    blends two of its rows inside the same element-wise expression as the curve steps.

    Args:
        x: image ``(B, 3, H, W)`` or ``(3, H, W)`` in [0, 1].
        alpha: curve maps ``(B, 3·n, h, w)`` or ``(B, 3, h, w)`` (no batch dimension when ``x`` has
            none) at any resolution, in [-1, 1].
        iterations: as for :func:`~dce_transforms.curves.apply_curves`.
        align_corners: the bilinear convention of the up-sampling.

    Returns:
        The enhanced image, shape and dtype of ``x``.

    Example:
        >>> from dce_transforms import apply_curves
        >>> x = torch.rand(1, 3, 20, 30)
        >>> alpha = torch.rand(1, 24, 5, 8) * 2 - 1
        >>> ref = apply_curves(x, F.interpolate(alpha, size=(20, 30), mode="bilinear"))
        >>> bool((upsample_and_apply_curves(x, alpha) - ref).abs().max() < 1e-5)
        True
    """
    n = _check_alpha(x, alpha, iterations)
    if x.ndim == 3 and alpha.shape[-2:] != x.shape[-2:]:  # bilinear resampling works on batches
        return upsample_and_apply_curves(x[None], alpha[None], iterations=n, align_corners=align_corners)[0]
    # Same memory layout as x (a channels-last α would turn every vector load into a gather).
    alpha = alpha.to(x.dtype).contiguous(memory_format=_layout(x))
    h, w = alpha.shape[-2:]
    big_h, big_w = x.shape[-2:]
    if torch.compiler.is_compiling() and alpha.shape[-3] == x.shape[-3] and n > 1 and (h, w) != (big_h, big_w):
        # One map shared by every step makes Inductor's code generation blow up (minutes, measured);
        # one copy per step of the small map, made before the graph break of the width resize,
        # compiles in seconds and costs little.
        alpha = alpha.repeat(*([1] * (alpha.ndim - 3)), n, 1, 1)
    if (h, w) != (big_h, big_w):
        if w != big_w:
            alpha = _resize_width(alpha, big_w, align_corners)
        if h != big_h:
            i0, i1, w1 = _source_index(big_h, h, align_corners, x.device)
            w1 = w1.to(x.dtype)[:, None]
            top = alpha.index_select(-2, i0)
            alpha = top + w1 * (alpha.index_select(-2, i1) - top)
    c = x.shape[-3]
    shared = alpha.shape[-3] == c
    for i in range(n):
        x = le_curve(x, alpha if shared else alpha[..., i * c : (i + 1) * c, :, :])
    return x


_COMPILED: dict[Any, Callable[..., Tensor]] = {}


def fused_curves(x: Tensor, alpha: Tensor, *, iterations: int | None = None, align_corners: bool = False) -> Tensor:
    """:func:`upsample_and_apply_curves` compiled into one fused kernel (``torch.compile``, Inductor).

    Reads ``x`` and the (small) curve maps once and writes the result once, instead of one
    full-resolution pass per curve step plus a full-resolution ``α``. The first call per shape
    compiles (seconds); inside an already compiled region it is simply inlined.

    Args:
        x: image ``(B, 3, H, W)`` in [0, 1].
        alpha: curve maps ``(B, 3·n, h, w)`` or ``(B, 3, h, w)``.
        iterations: as for :func:`~dce_transforms.curves.apply_curves`.
        align_corners: bilinear convention when ``alpha`` is smaller than ``x``.

    Returns:
        The enhanced image, shape and dtype of ``x``.
    """
    if is_tracing():
        return upsample_and_apply_curves(x, alpha, iterations=iterations, align_corners=align_corners)
    fn = _COMPILED.get("curves")
    if fn is None:
        fn = _COMPILED["curves"] = torch.compile(upsample_and_apply_curves, dynamic=False)
    return fn(x, alpha, iterations=iterations, align_corners=align_corners)


def _own_copy(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The function with a private copy of its code object, hence its own Dynamo cache."""
    return types.FunctionType(fn.__code__.replace(), fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)


def _compile_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = []
    try:
        from torch._dynamo.exc import BackendCompilerFailed

        errors.append(BackendCompilerFailed)
    except ImportError:  # pragma: no cover - old torch
        pass
    try:
        from torch._inductor.exc import CppCompileError, InductorError

        errors += [CppCompileError, InductorError]
    except ImportError:  # pragma: no cover - old torch
        pass
    return tuple(errors)


BACKENDS = ("auto", "inductor", "openvino", "eager")

#: The example the OpenVINO model is exported from (dynamic batch, height and width afterwards), and the
#: smallest side it serves: smaller inputs would take other branches than the traced ones (the gate's
#: darkening pass runs at full size below 32 px, Zero-DCE++ below ``scale_factor`` px), so they run in torch.
_OV_EXAMPLE = (1, 3, 64, 96)
_OV_MIN_SIDE = 64


def openvino_available() -> bool:
    """Whether OpenVINO and the ONNX exporter it is fed by (the ``openvino`` extra) can be imported."""
    return all(importlib.util.find_spec(name) is not None for name in ("openvino", "onnxscript"))


class _Positional(nn.Module):
    """``forward(x)`` only: tracers cannot pass the model's keyword-only arguments."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


@functools.lru_cache(maxsize=1)
def _openvino_core() -> Any:
    """One OpenVINO ``Core`` for the process, never destroyed.

    Destroying the last ``Core`` after compiling a model, in a process with a Python ``SIGCHLD``
    handler (DataLoader workers install one), made the next child process exit crash the parent
    with a segmentation fault (reproduced with ``subprocess.run``; kept alive, it did not crash).
    """
    import openvino as ov

    return ov.Core()


def export_onnx(model: nn.Module, path: str | os.PathLike[str]) -> str:
    """Export a ZeroDCE / ZeroDCEPP as a standalone ONNX enhancer: image in, enhanced image out.

    ``torch.onnx.export(dynamo=True)`` with dynamic batch (up to 1024), height and width (64 to
    16384 px; smaller images take branches that are not in the graph). The ``onnx`` extra.

    Returns:
        ``path``, as a string.

    Raises:
        ConfigTypeError: ``model`` is not a ZeroDCE / ZeroDCEPP.
    """
    if not isinstance(model, _CurveEstimator):
        raise ConfigTypeError(f"export_onnx() takes a ZeroDCE or ZeroDCEPP model, got {type(model).__name__}.")
    example = torch.rand(2, *_OV_EXAMPLE[1:], generator=torch.Generator().manual_seed(0)) * 0.3
    dims = {0: torch.export.Dim("batch", max=1024), 2: torch.export.Dim("height", min=_OV_MIN_SIDE, max=16384),
            3: torch.export.Dim("width", min=_OV_MIN_SIDE, max=16384)}
    with warnings.catch_warnings(), redirect_stdout(io.StringIO()), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # exporter chatter
        torch.onnx.export(_Positional(model).eval(), (example,), os.fspath(path), dynamo=True,
                          dynamic_shapes=(dims,), input_names=["image"], output_names=["enhanced"])
    return os.fspath(path)


def _openvino_request(path: str | os.PathLike[str], hint: str, threads: int) -> Any:
    """An OpenVINO infer request for the ONNX model at ``path`` on the CPU (``hint``: ``"f32"`` or ``"bf16"``)."""
    core = _openvino_core()
    config = {"INFERENCE_PRECISION_HINT": hint, "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
    return core.compile_model(core.read_model(os.fspath(path)), "CPU", config).create_infer_request()


class _OpenVINOEnhancer:
    """The model exported to ONNX (dynamic batch, height and width) and compiled by OpenVINO, on the first call."""

    def __init__(self, model: nn.Module, hint: str) -> None:
        self.model, self.hint = model, hint
        self._request: Any = None
        self._lock = threading.Lock()

    def _build(self) -> Any:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="dce-openvino-") as tmp:
            path = export_onnx(self.model, f"{tmp}/enhancer.onnx")
            return _openvino_request(path, self.hint, torch.get_num_threads())

    def __call__(self, x: Tensor) -> Tensor:
        with self._lock:  # one infer request, used by one caller at a time
            if self._request is None:
                self._request = self._build()
            out = self._request.infer({0: x.detach().to(torch.float32).contiguous().numpy()}, share_outputs=False)
        return torch.from_numpy(out[0]).to(x.dtype)


def _resolve_backend(backend: str, model: nn.Module, *, compile: bool, inference: bool, dtype: torch.dtype | None,
                     curve_max_side: int | None, cuda_graphs: bool) -> tuple[str, str]:
    """The backend to run (``"auto"`` resolved) and why."""
    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}.")
    p = next(model.parameters())
    openvino_serves = (inference and p.device.type == "cpu" and p.dtype == torch.float32 and curve_max_side is None
                       and not cuda_graphs and dtype in (None, torch.float32, torch.bfloat16))
    if backend == "openvino":
        if not openvino_serves:
            raise ConfigError("backend='openvino' runs float32 models on the CPU in inference, with fp32 or bf16 "
                              "precision, no curve_max_side and no cuda_graphs; use backend='inductor' otherwise.")
        if not openvino_available():
            raise ConfigError("backend='openvino' needs OpenVINO: pip install 'dce-transforms[openvino]'.")
        return "openvino", "asked"
    if backend == "inductor" and not compile:
        raise ConfigError("backend='inductor' compiles the model: drop compile=False (or ask for backend='eager').")
    if backend != "auto":
        return backend, "asked"
    if not compile:
        return "eager", "compile=False"
    if openvino_serves and not isinstance(model, ZeroDCEPP) and openvino_available():
        # Zero-DCE at 1280x720, bf16: 6.55-11.2x the authors' model against Inductor's 4.43-5.88x (bench.py, four
        # runs, AMD EPYC Zen 5), 6.67x against 4.25x (Intel Xeon); Zero-DCE++ runs faster in Inductor.
        return "openvino", "auto: Zero-DCE on the CPU, OpenVINO installed"
    return "inductor", "auto"


class FastEnhancer(nn.Module):
    """An inference wrapper around ZeroDCE / ZeroDCEPP with switchable optimisations; see :func:`optimize`.

    Shape:
        - Input: :math:`(B, 3, H, W)` or :math:`(3, H, W)`, float in [0, 1]
        - Output: same as input
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        compile: bool = True,
        channels_last: bool | None = None,
        precision: str = "auto",
        dtype: torch.dtype | None = None,
        cuda_graphs: bool = False,
        fuse_curves: bool = True,
        curve_max_side: int | None = None,
        inference: bool = True,
        dynamic: bool | None = False,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        if not isinstance(model, _CurveEstimator):
            raise ConfigTypeError(f"optimize() takes a ZeroDCE or ZeroDCEPP model, got {type(model).__name__}.")
        if dtype is not None and dtype not in (torch.float32, torch.float16, torch.bfloat16, torch.float64):
            raise ConfigTypeError(f"dtype must be None or a floating dtype (float16, bfloat16, float32), got {dtype!r}.")
        if dtype is not None and not inference:
            raise ConfigError("dtype needs inference=True; for training in half precision use torch.autocast.")
        if precision in ("bf16", "fp16") and not inference:
            raise ConfigError(f"precision={precision!r} needs inference=True; for training use torch.autocast.")
        dtype, self.precision = _resolve_precision(model, precision, dtype, inference)
        if curve_max_side is not None and (not isinstance(curve_max_side, int) or curve_max_side < 8):
            raise ConfigError(f"curve_max_side must be None or an integer >= 8, got {curve_max_side!r}.")
        bounded = model.curve_max_side if curve_max_side is None else curve_max_side
        if backend == "eager" and compile:
            compile = False
        self.backend, why_backend = _resolve_backend(backend, model, compile=compile, inference=inference, dtype=dtype,
                                                     curve_max_side=bounded, cuda_graphs=cuda_graphs)
        self._ov_hint = "bf16" if dtype == torch.bfloat16 else "f32"
        if self.backend == "openvino":  # OpenVINO takes the float32 model and runs it in its own precision
            dtype, channels_last, compile, fuse_curves = None, False, False, False  # small inputs: plain torch
        if channels_last is None:  # NHWC depthwise convolutions are ~2x slower on CPU (oneDNN, measured)
            channels_last = not isinstance(model, ZeroDCEPP) or next(model.parameters()).is_cuda
        if inference:
            model = copy.deepcopy(model).eval().requires_grad_(False)
            if dtype is not None:
                model = model.to(dtype)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        self.compiled = compile
        self.channels_last = channels_last
        self.dtype = dtype
        self.cuda_graphs = cuda_graphs
        self.fuse_curves = fuse_curves
        self.curve_max_side = bounded
        self.inference = inference
        self.dynamic = dynamic
        _log.info("optimize(%s): backend %s (%s), precision %s, channels_last=%s, fuse_curves=%s",
                  type(model).__name__, self.backend, why_backend, self.precision, channels_last, fuse_curves)
        self._make_runners()

    #: What :meth:`_make_runners` builds: compiled code, captured graphs, an OpenVINO model. Never pickled
    #: (none of it can be): a copy, or a DataLoader worker started with "spawn", builds its own on first use.
    _RUNNERS = ("_openvino", "_graphs", "_compiled", "_curves")

    def _make_runners(self) -> None:
        self._openvino = _OpenVINOEnhancer(self.model, self._ov_hint) if self.backend == "openvino" else None
        self._graphs: dict[tuple[Any, ...], tuple[Any, Tensor, Tensor]] = {}
        self._compiled: Callable[[Tensor], Tensor] | None = None
        self._curves: Callable[..., Tensor] = upsample_and_apply_curves
        if self.fuse_curves and not self.compiled:
            self._curves = torch.compile(_own_copy(upsample_and_apply_curves), dynamic=self.dynamic)
        if self.compiled:
            options: dict[str, Any] = {}
            if self.cuda_graphs:
                options["triton.cudagraphs"] = True
            # A private copy of the method's code: Dynamo keys its cache on the code object, so every
            # wrapper gets its own cache (no cross-talk, no automatic-dynamic recompiles between them).
            own = types.MethodType(_own_copy(FastEnhancer._enhance), self)
            self._compiled = torch.compile(own, dynamic=self.dynamic, options=options or None)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for name in self._RUNNERS:
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._make_runners()

    # -- pipeline ------------------------------------------------------------------------------
    def _layout(self, x: Tensor) -> Tensor:
        """The network's input layout: converted only where the network reads it (after down-scaling)."""
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def _in_precision(self, fn: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
        """``fn`` reading its input in the network's precision and layout.

        Everything before the network (down-scaling, the exposure gate's negative and its own
        down-scaling) stays in the caller's precision: more exact, and antialiased resampling has no
        bfloat16 kernel on CPU.
        """
        dtype = self.dtype

        def run(t: Tensor) -> Tensor:
            return fn(self._layout(t if dtype is None else t.to(dtype)))

        return run

    def _curve_maps(self, x: Tensor) -> tuple[Tensor, bool]:
        """The α maps at estimation resolution and the bilinear convention to up-sample them with."""
        m = self.model
        side = self.curve_max_side
        if side is not None and max(x.shape[-2:]) > side:
            low = m.curve_input(x, side)
            return m.gated_curves(x, low, self._in_precision(m.predict_curves)), False
        if isinstance(m, ZeroDCEPP) and m.scale_factor != 1:
            gate = m.exposure_gate
            if gate is not None and gate.config.darken and getattr(gate.config, "darken_scale", 1) > 1:
                # The gate's darkening pass resamples the network's input itself: give it the full image
                # and the model's own estimator, as the eager model does (α comes back at full size).
                alpha = m.gated_curves(x, x, self._in_precision(m.predict_curves))
                # Compiled, Inductor would fuse both passes' nested up-sampling into every curve step
                # (measured 1.1 s instead of 17 ms at 1080p): stored at full size here, read by the curves.
                torch._dynamo.graph_break()
                return alpha, False
            return m.gated_curves(x, m.scaled_input(x), self._in_precision(m.network)), True
        return m.gated_curves(x, x, self._in_precision(m.network)), False

    def _enhance(self, x: Tensor) -> Tensor:
        alpha, align = self._curve_maps(x)
        it = self.model.iterations
        if self.fuse_curves:
            # a tracer (TorchScript, ONNX) cannot run the separately compiled curve function: it gets the same math
            curves = upsample_and_apply_curves if torch.jit.is_tracing() else self._curves
            return curves(x, alpha, iterations=it, align_corners=align)
        if alpha.shape[-2:] != x.shape[-2:]:
            alpha = F.interpolate(alpha, size=x.shape[-2:], mode="bilinear", align_corners=align)
        return upsample_and_apply_curves(x, alpha.to(x.dtype), iterations=it)

    def _compile_config(self) -> AbstractContextManager[Any]:
        """Inductor's settings while the compiled function runs (and compiles, at a new shape).

        With ``inference`` the weights are frozen into the graph: constant-folded, pre-packed for
        oneDNN on CPU, and each convolution fused with its ReLU (or sum) into one call. Passing
        ``options={"freezing": True}`` to ``torch.compile`` does not do this (measured: the graph kept
        plain ``aten::mkldnn_convolution`` calls); the global setting, patched here, does.
        """
        if not self.inference:
            return nullcontext()
        import torch._inductor.config as inductor_config

        return inductor_config.patch(freezing=True)

    def _run(self, x: Tensor) -> Tensor:
        if self._openvino is not None and min(x.shape[-2:]) >= _OV_MIN_SIDE and not is_tracing():
            try:
                return self._openvino(x)
            except Exception as exc:  # noqa: BLE001 - a conversion or runtime failure: fall back once, loudly
                warnings.warn(f"OpenVINO failed, running in torch instead: {type(exc).__name__}: {exc}",
                              RuntimeWarning, stacklevel=3)
                self._openvino = None
        if self._compiled is not None:
            try:
                with self._compile_config():
                    return self._compiled(x)
            except _compile_errors() as exc:  # no C++ compiler, unsupported op...: fall back once, loudly
                warnings.warn(f"torch.compile failed, running eagerly instead: {exc}", RuntimeWarning, stacklevel=3)
                self._compiled = None
        if self.cuda_graphs and x.is_cuda and not is_tracing():
            return self._replay(x)
        return self._enhance(x)

    def _replay(self, x: Tensor) -> Tensor:
        """Capture one CUDA graph per (shape, dtype, device) and replay it."""
        key = (tuple(x.shape), x.dtype, x.device)
        entry = self._graphs.get(key)
        if entry is None:
            static_in = x.clone()
            stream = torch.cuda.Stream(device=x.device)
            stream.wait_stream(torch.cuda.current_stream(x.device))
            with torch.cuda.stream(stream):
                for _ in range(2):  # warm-up: compiles fused kernels, allocates workspaces
                    self._enhance(static_in)
            torch.cuda.current_stream(x.device).wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                static_out = self._enhance(static_in)
            entry = self._graphs[key] = (graph, static_in, static_out)
        graph, static_in, static_out = entry
        static_in.copy_(x)
        graph.replay()
        return static_out.clone()

    def forward(self, x: Tensor) -> Tensor:
        """Enhance an image.

        Args:
            x: ``(B, 3, H, W)`` or ``(3, H, W)``, floating point, RGB in [0, 1].

        Returns:
            The enhanced image, same shape, dtype and device as ``x``.
        """
        x4, unbatched = check_image(x, check_values=False)
        if self.model.validate and not is_tracing():
            check_values_once(x4)
        p = next(self.model.parameters())
        if p.device != x4.device:
            raise DeviceError(
                f"the image is on {x4.device} but the model is on {p.device}: move one, e.g. `model.to(x.device)`."
            )
        with torch.inference_mode() if self.inference else nullcontext():
            y = self._run(x4)
        return y.squeeze(0) if unbatched else y

    def extra_repr(self) -> str:
        return (
            f"backend={self.backend}, precision={self.precision}, compile={self.compiled}, "
            f"channels_last={self.channels_last}, "
            f"dtype={self.dtype}, "
            f"cuda_graphs={self.cuda_graphs}, fuse_curves={self.fuse_curves}, "
            f"curve_max_side={self.curve_max_side}, inference={self.inference}"
        )


def optimize(model: nn.Module, **options: Any) -> FastEnhancer:
    """Wrap a ZeroDCE / ZeroDCEPP model for fast inference, every optimisation a switch.

    Args:
        model: a :class:`~dce_transforms.ZeroDCE` or :class:`~dce_transforms.ZeroDCEPP`, on its target device.
        **options: the keyword arguments of :class:`FastEnhancer`, all optional:

        compile: ``torch.compile`` the whole enhancement (Inductor; needs a C++ compiler on CPU,
            Triton on CUDA). The first call per input shape compiles (tens of seconds on a small
            CPU); if compilation fails the wrapper warns and runs eagerly. With ``inference`` the
            weights are frozen into the compiled graph: later changes to ``model`` are not seen.
        channels_last: convert weights and input to the NHWC memory format. ``None`` (default):
            yes, except for ZeroDCEPP on CPU, whose depthwise convolutions run about 2x slower in NHWC.
        precision: the network's precision. ``"auto"`` (default): the fastest that keeps the output
            within 50 dB PSNR of float32 on the device found (:func:`choose_precision`: bfloat16 on
            CPUs with AMX / AVX-512 BF16, float16 on CUDA, float32 elsewhere); the choice is in the
            wrapper's ``repr`` and ``precision`` attribute and logged (``logging``, INFO, logger
            ``dce_transforms.fast``). ``"fp32"``, ``"bf16"``, ``"fp16"`` force one. The curves are always applied in the input's precision.
        dtype: the same as a ``torch.dtype``; given, it overrides ``precision="auto"``.
        cuda_graphs: capture and replay CUDA graphs per input shape (fixed shapes; CUDA only,
            ignored on CPU). With ``compile`` this is Inductor's ``triton.cudagraphs``.
        fuse_curves: up-sample α and apply all curve steps in one fused pass (:func:`fused_curves`).
        curve_max_side: estimate curves on a copy whose longer side is at most this many pixels
            (``None``: the model's own setting). Changes the output; see the benchmark's PSNR.
        inference: run under ``torch.inference_mode`` on a private frozen copy of the model. With
            ``False`` the wrapper shares ``model`` (gradients flow; ``channels_last`` converts it in place).
        backend: ``"auto"`` (default), ``"openvino"``, ``"inductor"`` (``torch.compile``) or
            ``"eager"`` (the same as ``compile=False``). ``"openvino"`` (the ``openvino`` extra) runs a
            float32 model on the CPU in inference, without ``curve_max_side``: exported to ONNX
            (dynamic batch, height and width) and compiled by OpenVINO on the first call (a few
            seconds), in ``precision``'s fp32 or bf16; inputs under 64 px on a side run in torch.
            ``"auto"`` picks OpenVINO where it can run and is installed, for Zero-DCE only (at
            1280x720 in bf16: 6.55-11.2x the authors' model against Inductor's 4.43-5.88x in four runs
            on an AMD EPYC Zen 5, 6.67x against 4.25x on an Intel Xeon; Zero-DCE++ is about 4x faster
            in Inductor), Inductor otherwise, and eager with ``compile=False``. The choice is the
            wrapper's ``backend`` attribute and is logged.
        dynamic: passed to ``torch.compile``. ``False`` (default) compiles one specialised graph per
            input shape (Dynamo recompiles up to its cache limit, 8 by default, then runs eagerly);
            ``None`` lets Dynamo switch to dynamic shapes after the second shape.

    Returns:
        A :class:`FastEnhancer`: call it like the model (without ``return_curves``).

    Example:
        >>> from dce_transforms import ZeroDCE
        >>> model = ZeroDCE(weights=None)
        >>> fast = optimize(model, compile=False, fuse_curves=False, precision="fp32")
        >>> x = torch.rand(1, 3, 32, 48)
        >>> bool((fast(x) - model(x)).abs().max() < 1e-5)
        True
    """
    return FastEnhancer(model, **options)

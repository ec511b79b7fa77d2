"""Every fast path of dce_transforms.fast agrees with the plain baseline (benchmarks/baseline.py).

Tolerances: exact-math paths (channels-last, inference mode, fused curves, compiled) within
1e-5 of the baseline in float32; half precision within 2e-2; bounded-resolution curves are a
different estimate, held to PSNR >= 30 dB against the full-resolution output on a smooth image
and must equal the model's own ``curve_max_side`` path within 1e-5. Not timed.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from dce_transforms import (
    ConfigError,
    ConfigTypeError,
    ImageShapeError,
    ImageValueError,
    ZeroDCE,
    ZeroDCEPP,
    apply_curves,
)
from dce_transforms import fast as fast_mod
from dce_transforms.fast import FastEnhancer, choose_precision, fused_curves, optimize, upsample_and_apply_curves

_spec = importlib.util.spec_from_file_location(
    "dce_bench_baseline", Path(__file__).resolve().parents[1] / "benchmarks" / "baseline.py"
)
baseline = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(baseline)

EXACT = 1e-5


def _model(kind: str, **kw) -> torch.nn.Module:
    torch.manual_seed(0)
    model = ZeroDCE(weights=None, **kw) if kind == "dce" else ZeroDCEPP(weights=None, **kw)
    last = model.conv7 if kind == "dce" else model.conv7.pointwise
    with torch.no_grad():  # make the curves far from the identity, so that differences would show
        last.weight.mul_(20)
        last.bias.uniform_(-0.8, 0.8)
    return model.eval()


def _smooth_image(b: int = 2, h: int = 40, w: int = 56, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return F.interpolate(torch.rand(b, 3, h // 8, w // 8, generator=g), size=(h, w), mode="bicubic").clamp(0, 1) * 0.4


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return 10 * math.log10(1 / F.mse_loss(a, b).item())


@pytest.mark.parametrize("kind,kw", [("dce", {}), ("pp", {}), ("pp", {"scale_factor": 4})])
def test_baseline_matches_model(kind, kw):
    model = _model(kind, **kw)
    x = _smooth_image()
    with torch.no_grad():
        ref = baseline.baseline_from(model)(x)
        assert (ref - x).abs().max() > 0.05  # the test model really enhances
        assert torch.allclose(model(x), ref, atol=EXACT, rtol=0)


@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("channels", [3, 24])
def test_upsample_and_apply_curves_matches_interpolate(align, channels):
    x = torch.rand(2, 3, 23, 37)
    alpha = torch.rand(2, channels, 5, 9) * 2 - 1
    ref = apply_curves(x, F.interpolate(alpha, size=(23, 37), mode="bilinear", align_corners=align))
    out = upsample_and_apply_curves(x, alpha, align_corners=align)
    assert torch.allclose(out, ref, atol=EXACT, rtol=0)
    same = torch.rand(2, channels, 23, 37) * 2 - 1  # full resolution: no resampling at all
    assert torch.equal(upsample_and_apply_curves(x, same), apply_curves(x, same))


def test_upsample_and_apply_curves_unbatched():
    x, alpha = torch.rand(3, 10, 12), torch.rand(24, 3, 4) * 2 - 1
    ref = apply_curves(x[None], F.interpolate(alpha[None], size=(10, 12), mode="bilinear"))[0]
    out = upsample_and_apply_curves(x, alpha)
    assert out.shape == x.shape and torch.allclose(out, ref, atol=EXACT, rtol=0)


def test_upsample_and_apply_curves_rejects_bad_alpha():
    with pytest.raises(ImageShapeError):
        upsample_and_apply_curves(torch.rand(1, 3, 8, 8), torch.rand(1, 5, 4, 4))


@pytest.mark.parametrize("kind,kw", [("dce", {}), ("pp", {"scale_factor": 4})])
@pytest.mark.parametrize("opts", [
    dict(compile=False, fuse_curves=False, channels_last=False, inference=False),
    dict(compile=False, fuse_curves=False, channels_last=True, precision="fp32"),
    dict(compile=False, fuse_curves=False, channels_last=False, inference=True, precision="fp32"),
], ids=["plain", "channels_last", "inference_mode"])
def test_eager_paths_match_baseline(kind, kw, opts):
    model = _model(kind, **kw)
    x = _smooth_image()
    fast = optimize(model, **opts)
    with torch.no_grad():
        ref = baseline.baseline_from(model)(x)
    y = fast(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert torch.allclose(y, ref, atol=EXACT, rtol=0)
    assert fast(x[0]).shape == x[0].shape  # unbatched input keeps its shape


def test_inference_false_shares_model_and_backpropagates():
    model = _model("dce")
    fast = optimize(model, compile=False, fuse_curves=False, channels_last=False, inference=False)
    assert fast.model is model
    fast(_smooth_image()).mean().backward()
    assert model.conv1.weight.grad is not None


def test_inference_copy_is_frozen():
    model = _model("dce")
    fast = optimize(model, compile=False, fuse_curves=False)
    assert fast.model is not model and not any(p.requires_grad for p in fast.model.parameters())
    assert fast(_smooth_image()).requires_grad is False


@pytest.mark.parametrize("side", [16, 24])
def test_bounded_resolution_matches_model_and_stays_close(side):
    model = _model("dce")
    x = _smooth_image(h=48, w=64)
    fast = optimize(model, compile=False, fuse_curves=False, curve_max_side=side, precision="fp32")
    bounded_model = ZeroDCE(weights=None, curve_max_side=side)
    bounded_model.load_state_dict(model.state_dict())
    with torch.no_grad():
        ref_full = baseline.baseline_from(model)(x)
        ref_bounded = bounded_model(x)
    y = fast(x)
    assert torch.allclose(y, ref_bounded, atol=EXACT, rtol=0)
    assert _psnr(y, ref_full) >= 30.0  # stated tolerance of bounded-resolution curves (smooth input)
    assert not torch.allclose(y, ref_full, atol=EXACT, rtol=0)  # it is really a different estimate


def test_curve_max_side_larger_than_image_is_exact():
    model = _model("dce")
    x = _smooth_image()
    with torch.no_grad():
        ref = baseline.baseline_from(model)(x)
    fast = optimize(model, compile=False, fuse_curves=False, curve_max_side=512, precision="fp32")
    assert torch.allclose(fast(x), ref, atol=EXACT)


def test_value_checks_single_pass():
    fast = optimize(_model("dce"), compile=False, fuse_curves=False)
    x = _smooth_image(b=1)
    for bad, match in ((x * 255, "divide it by 255"), (x - 0.5, "Clamp"), (x.clone().index_fill_(3, torch.tensor([2]), float("nan")), "NaN"),
                       (x.clone().index_fill_(3, torch.tensor([2]), float("inf")), "NaN or infinite")):
        with pytest.raises(ImageValueError, match=match):
            fast(bad)
    with pytest.raises(TypeError):
        fast(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))


def test_bad_arguments():
    with pytest.raises(TypeError):
        optimize(torch.nn.Conv2d(3, 3, 1))
    with pytest.raises(ValueError):
        optimize(_model("dce"), curve_max_side=4)
    with pytest.raises(ValueError):
        optimize(_model("dce"), dtype=torch.float16, inference=False)
    assert isinstance(optimize(_model("pp"), compile=False), FastEnhancer)


@pytest.mark.slow
def test_fused_curves_compiled_matches_baseline():
    x = torch.rand(1, 3, 12, 20)
    alpha = torch.rand(1, 24, 4, 5) * 2 - 1
    ref = apply_curves(x, F.interpolate(alpha, size=(12, 20), mode="bilinear"))
    assert torch.allclose(fused_curves(x, alpha), ref, atol=EXACT, rtol=0)


@pytest.mark.slow
@pytest.mark.parametrize("kind,kw,side", [("dce", {}, None), ("pp", {"scale_factor": 4}, None), ("dce", {}, 16)])
def test_compiled_matches_baseline(kind, kw, side):
    model = _model(kind, **kw)
    x = _smooth_image(b=1, h=32, w=40)
    reference = model
    if side is not None:
        reference = ZeroDCE(weights=None, curve_max_side=side)
        reference.load_state_dict(model.state_dict())
    with torch.no_grad():
        ref = reference(x) if side is not None else baseline.baseline_from(model)(x)
    y = optimize(model, compile=True, curve_max_side=side, precision="fp32", backend="inductor")(x)
    assert torch.allclose(y, ref, atol=EXACT, rtol=0)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_cuda_half_precision_and_graphs(dtype):
    if not torch.cuda.is_available():
        pytest.skip("CUDA is not available on this machine")
    model = _model("dce").cuda()
    x = _smooth_image(b=2, h=32, w=48).cuda()
    with torch.no_grad():
        ref = baseline.baseline_from(model)(x)
    half = optimize(model, compile=False, dtype=dtype)(x)
    assert half.dtype == torch.float32 and (half - ref).abs().max() < 2e-2
    graphs = optimize(model, compile=False, cuda_graphs=True, precision="fp32")
    assert torch.allclose(graphs(x), ref, atol=EXACT) and torch.allclose(graphs(x.flip(-1)), baseline.baseline_from(model)(x.flip(-1)), atol=EXACT)


# -- precision="auto" (issue 15) -------------------------------------------------------------------


class _FakeParam:
    """Stands in for a parameter on a device this machine may lack (choose_precision reads only these)."""

    def __init__(self, device: str, dtype: torch.dtype = torch.float32) -> None:
        self.device, self.dtype, self.is_cuda = torch.device(device), dtype, device.startswith("cuda")


class _FakeModel:
    def __init__(self, device: str, dtype: torch.dtype = torch.float32) -> None:
        self._p = _FakeParam(device, dtype)

    def parameters(self):
        return iter([self._p])


@pytest.mark.parametrize("flags,kind,expected", [
    (("amx_bf16", "avx512_bf16"), "dce", torch.bfloat16),
    (("avx512_bf16",), "dce", torch.bfloat16),
    (("amx_bf16",), "pp", torch.bfloat16),  # 16.2 against 19.5 ms at scale 12, 1080p (bench.py)
    ((), "dce", None),  # AVX2 / emulated bf16: float32
    ((), "pp", None),
])
def test_auto_precision_on_cpu(monkeypatch, flags, kind, expected):
    monkeypatch.setattr(fast_mod, "cpu_bf16_flags", lambda: flags)
    model = _model(kind)
    dtype, why = choose_precision(model)
    assert dtype == expected, why
    fast = optimize(model, compile=False, fuse_curves=False)
    assert fast.dtype == expected
    assert fast.precision.startswith("bf16 (auto" if expected is torch.bfloat16 else "fp32 (auto")
    if expected is torch.bfloat16:
        assert (next(fast.model.parameters()).dtype == torch.bfloat16 and "amx_bf16" in why) or "avx512_bf16" in why


def test_auto_precision_on_cuda_and_other_dtypes(monkeypatch):
    monkeypatch.setattr(fast_mod, "cpu_bf16_flags", lambda: ("amx_bf16",))
    assert choose_precision(_FakeModel("cuda:0"))[0] == torch.float16
    assert choose_precision(_FakeModel("cpu", torch.float64)) == (None, "the model is already fp64")
    assert choose_precision(_FakeModel("mps"))[0] is None


def test_cpu_bf16_flags_reads_cpuinfo():
    flags = fast_mod.cpu_bf16_flags()
    assert set(flags) <= {"amx_bf16", "avx512_bf16"}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        pytest.skip("no /proc/cpuinfo")
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    if torch.backends.mkldnn.is_available():
        assert ("amx_bf16" in flags) == ("amx_bf16" in line.split())


def test_precision_overrides(monkeypatch):
    monkeypatch.setattr(fast_mod, "cpu_bf16_flags", lambda: ("amx_bf16",))
    model = _model("dce")
    assert optimize(model, compile=False, precision="fp32").dtype is None
    assert optimize(model, compile=False, precision="bf16").dtype == torch.bfloat16
    assert optimize(model, compile=False, dtype=torch.float32).dtype == torch.float32  # dtype= overrides auto
    assert optimize(model, compile=False, precision="fp16", dtype=torch.float16).dtype == torch.float16
    assert optimize(model, compile=False, inference=False).dtype is None  # auto never changes a shared model
    with pytest.raises(ConfigError, match="contradicts"):
        optimize(model, compile=False, precision="fp16", dtype=torch.bfloat16)
    with pytest.raises(ValueError, match="precision must be one of"):
        optimize(model, compile=False, precision="half")
    with pytest.raises(ConfigError, match="inference=True"):
        optimize(model, compile=False, precision="bf16", inference=False)


def test_choice_is_in_repr_and_log(monkeypatch, caplog):
    monkeypatch.setattr(fast_mod, "cpu_bf16_flags", lambda: ("amx_bf16",))
    with caplog.at_level("INFO", logger="dce_transforms.fast"):
        fast = optimize(_model("dce"), compile=False)
    assert "precision=bf16 (auto: CPU with native bf16 (amx_bf16))" in repr(fast)
    assert any("precision bf16 (auto" in r.getMessage() for r in caplog.records)
    monkeypatch.setattr(fast_mod, "cpu_bf16_flags", lambda: ())
    assert "precision=fp32 (auto: CPU without native bf16)" in repr(optimize(_model("dce"), compile=False))


@pytest.mark.parametrize("kind", ["dce", "pp"])
def test_bf16_agrees_within_50db(kind):
    # The auto choice is held to >= 50 dB PSNR of float32; measured at 1280x720 by benchmarks/bench.py.
    model = _model(kind)
    x = _smooth_image(b=1, h=48, w=64)
    ref = optimize(model, compile=False, fuse_curves=False, precision="fp32")(x)
    y = optimize(model, compile=False, fuse_curves=False, precision="bf16")(x)
    assert y.dtype == torch.float32 and (ref - x).abs().max() > 0.05
    assert 50.0 <= _psnr(y, ref) < 200  # close, but really computed in bf16


def test_eager_zerodce_runs_channels_last_on_cpu_and_returns_nchw():
    model, pp = _model("dce"), _model("pp")
    x = _smooth_image()
    assert model._nhwc_input(x) and not pp._nhwc_input(x)
    with torch.no_grad():
        alpha = model.network(x)
        ref = baseline.baseline_from(model).curves(x)
    assert alpha.is_contiguous() and torch.allclose(alpha, ref, atol=EXACT, rtol=0)
    y = model(x)
    assert y.is_contiguous() and torch.allclose(y, baseline.baseline_from(model)(x), atol=EXACT, rtol=0)


@pytest.mark.parametrize("cls", [ZeroDCE, ZeroDCEPP])
def test_fast_enhancer_of_gated_default_model_matches_eager(cls):
    model = cls().eval()  # shipped *-adaptive weights: exposure gate on
    if model.exposure_gate is None:
        pytest.skip("the default weights carry no exposure gate")
    g = torch.Generator().manual_seed(3)
    base = F.interpolate(torch.rand(1, 3, 6, 8, generator=g), size=(40, 56), mode="bicubic").clamp(0, 1)
    exact = optimize(model, compile=False, fuse_curves=False, precision="fp32")
    half = optimize(model, compile=False, fuse_curves=False, precision="bf16")
    for lo, hi in ((0.0, 0.15), (0.3, 0.7), (0.85, 1.0)):  # dark (brightened), well lit, over-exposed (darkened)
        x = lo + (hi - lo) * base
        with torch.no_grad():
            ref = model(x)
        assert torch.allclose(exact(x), ref, atol=EXACT, rtol=0), (lo, hi)
        assert _psnr(half(x), ref) >= 50.0, (lo, hi)


@pytest.mark.slow
def test_compiled_gated_zerodcepp_matches_eager():
    # Zero-DCE++ with the gate's darkening pass: α is stored at full size between two compiled graphs
    model = ZeroDCEPP(scale_factor=4).eval()
    if model.exposure_gate is None or not model.exposure_gate.config.darken:
        pytest.skip("the default weights carry no darkening gate")
    g = torch.Generator().manual_seed(4)
    base = F.interpolate(torch.rand(1, 3, 6, 8, generator=g), size=(96, 128), mode="bicubic").clamp(0, 1)
    fast = optimize(model, precision="fp32")
    assert fast.backend == "inductor"
    for x in (0.1 * base, 0.85 + 0.15 * base):  # brightened; darkened (both passes run)
        with torch.no_grad():
            ref = model(x)
        assert torch.allclose(fast(x), ref, atol=EXACT, rtol=0)


@pytest.mark.slow
def test_compiled_bf16_agrees_within_50db():
    model = _model("dce")
    x = _smooth_image(b=1, h=32, w=40)
    ref = optimize(model, compile=False, fuse_curves=False, precision="fp32")(x)
    y = optimize(model, precision="bf16", backend="inductor")(x)  # Inductor's path on CPUs with native bf16
    assert y.dtype == torch.float32 and 50.0 <= _psnr(y, ref) < 200


# -- the OpenVINO backend (the ``openvino`` extra) -------------------------------------------------------
def test_auto_backend_choice(monkeypatch):
    monkeypatch.setattr(fast_mod, "openvino_available", lambda: True)
    dce, pp = _model("dce"), _model("pp")
    assert optimize(dce).backend == "openvino"  # Zero-DCE on the CPU: OpenVINO where installed (faster, measured)
    assert optimize(dce, precision="fp32").backend == "openvino"
    assert optimize(pp).backend == "inductor"  # Zero-DCE++: Inductor is faster
    assert optimize(dce, curve_max_side=16).backend == "inductor"  # what OpenVINO does not run: Inductor
    assert optimize(dce, precision="fp16").backend == "inductor"
    assert optimize(dce, inference=False).backend == "inductor"
    assert optimize(dce, compile=False).backend == "eager"
    assert optimize(pp, backend="eager").backend == "eager"
    assert optimize(dce, backend="inductor").backend == "inductor"
    assert "backend=openvino" in repr(optimize(dce))
    monkeypatch.setattr(fast_mod, "openvino_available", lambda: False)
    assert optimize(dce).backend == "inductor"
    with pytest.raises(ConfigError, match="pip install 'dce-transforms\\[openvino\\]'"):
        optimize(dce, backend="openvino")
    with pytest.raises(ConfigError, match="drop compile=False"):
        optimize(dce, backend="inductor", compile=False)
    with pytest.raises(ConfigError, match="backend must be one of"):
        optimize(dce, backend="tensorrt")
    with pytest.raises(ConfigError, match="no curve_max_side"):
        optimize(dce, backend="openvino", curve_max_side=16)


def test_export_onnx_rejects_other_modules(tmp_path):
    with pytest.raises(ConfigTypeError, match="takes a ZeroDCE or ZeroDCEPP"):
        fast_mod.export_onnx(torch.nn.Conv2d(3, 3, 1), tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


@pytest.mark.parametrize("cls", [ZeroDCE, ZeroDCEPP])
def test_openvino_backend_agrees_with_eager(cls):
    pytest.importorskip("openvino")
    pytest.importorskip("onnxscript")
    _openvino_agreement(cls)


_CHILD_EXIT_AFTER_OPENVINO = """
import signal, subprocess, sys
sys.path.insert(0, "tests")
import test_fast as t
signal.signal(signal.SIGCHLD, lambda *args: None)  # as DataLoader workers leave it
for cls in (t.ZeroDCE, t.ZeroDCEPP):
    t._openvino_agreement(cls)  # four OpenVINO enhancers built, used and gone
for _ in range(3):
    subprocess.run([sys.executable, "-c", "pass"], check=True)
print("survived")
"""


def test_openvino_enhancers_gone_then_a_child_exits():
    # Regression: destroying the last OpenVINO Core after compiling, with a Python SIGCHLD handler
    # installed, made the next child's exit crash this process (SIGSEGV). In a fresh interpreter, so
    # that a crash fails this test rather than the whole run.
    pytest.importorskip("openvino")
    pytest.importorskip("onnxscript")
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _CHILD_EXIT_AFTER_OPENVINO], capture_output=True, text=True,
                         timeout=600, cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0 and "survived" in out.stdout, (out.returncode, out.stderr[-3000:])


@pytest.mark.parametrize("backend", ["eager", "inductor", "openvino"])
def test_fast_enhancer_pickles_and_copies_after_use(backend):
    # DataLoader workers started with "spawn" (and copy.deepcopy) pickle the wrapper: compiled code and
    # OpenVINO models are left out and rebuilt on first use.
    import copy
    import pickle

    if backend == "openvino":
        pytest.importorskip("openvino")
        pytest.importorskip("onnxscript")
    fast = optimize(_model("dce"), backend=backend, precision="fp32")
    x = _smooth_image(b=1, h=64, w=72)
    y = fast(x)
    for other in (pickle.loads(pickle.dumps(fast)), copy.deepcopy(fast)):
        assert other.backend == backend and repr(other) == repr(fast)
        assert torch.allclose(other(x), y, atol=1e-4, rtol=0)


def _openvino_agreement(cls):
    model = cls().eval()  # shipped weights, exposure gate on: both gate passes are in the converted graph
    g = torch.Generator().manual_seed(5)
    base = F.interpolate(torch.rand(2, 3, 6, 8, generator=g), size=(72, 100), mode="bicubic").clamp(0, 1)
    fast32 = optimize(model, backend="openvino", precision="fp32")
    fast16 = optimize(model, backend="openvino", precision="bf16")
    assert fast32.backend == fast16.backend == "openvino"
    for x in (0.15 * base, 0.3 + 0.4 * base, 0.85 + 0.15 * base[:1, :, :64, :80].contiguous()):
        with torch.no_grad():
            ref = model(x)
        y = fast32(x)
        assert y.shape == x.shape and y.dtype == x.dtype
        assert _psnr(y, ref) >= 80.0  # float32 in OpenVINO: rounding only
        assert 50.0 <= _psnr(fast16(x), ref) < 200  # bf16: close, but really computed in bf16
    small = 0.2 * base[:1, :, :40, :50].contiguous()  # below the converted example's size: runs in torch
    with torch.no_grad():
        assert torch.allclose(fast32(small), model(small), atol=EXACT, rtol=0)
    assert fast32(small[0]).shape == small[0].shape  # unbatched in, unbatched out

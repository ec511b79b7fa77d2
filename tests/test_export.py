"""Export paths, each compared with eager: torch.compile, torch.export, ONNX (run with onnxruntime).

Findings with torch 2.14 / onnxruntime on CPU (all with ``validate=True``: the value checks are skipped
while tracing, see ``dce_transforms._checks.is_tracing``, so no model needs ``validate=False``):

- ``torch.compile(fullgraph=True)`` works with the default (inductor) and ``aot_eager`` backends; inductor
  takes 30-70 s per model to compile on a loaded 2-core machine, so those cases are marked slow.
- ``torch.export.export`` works, with static shapes and with dynamic batch/height/width.
- ``torch.onnx.export(..., dynamo=True)`` works (static and dynamic shapes) and matches eager to ~1e-7.
- ``torch.onnx.export(..., dynamo=False)`` (TorchScript exporter) fails on the models themselves: it passes
  the default of the keyword-only ``return_curves`` positionally (``forward() takes 2 positional arguments
  but 3 were given``). Through a wrapper whose ``forward(x)`` calls the model it works.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from torch import nn

from dce_transforms import ZeroDCE, ZeroDCEPP
from dce_transforms.fast import optimize

MODELS = {
    "zerodce": lambda: ZeroDCE(weights=None),
    "zerodcepp-s1": lambda: ZeroDCEPP(weights=None, scale_factor=1),
    "zerodcepp-s4": lambda: ZeroDCEPP(weights=None, scale_factor=4),
    # optimize()'s wrapper, eager parts only (compile=False): the fused curve path under every exporter
    "fast-zerodce": lambda: optimize(ZeroDCE(weights=None), compile=False, precision="fp32"),
}
SHAPE = (1, 3, 32, 48)
ONNX_TOL = 1e-4


class _Positional(nn.Module):
    """``forward(x)`` only: for exporters that cannot handle keyword-only arguments."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def _perturbed(name: str) -> nn.Module:
    torch.manual_seed(0)
    model = MODELS[name]().eval()
    with torch.no_grad():  # move away from the near-identity init so errors would show
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


class ExportBase:
    """Every export path for every model, compared with the eager output."""

    @pytest.fixture(params=list(MODELS))
    def model(self, request) -> nn.Module:
        return _perturbed(request.param)

    @staticmethod
    def inputs(shape=SHAPE, seed=0) -> torch.Tensor:
        return torch.rand(*shape, generator=torch.Generator().manual_seed(seed)) * 0.4

    @staticmethod
    def eager(model, x) -> torch.Tensor:
        with torch.no_grad():
            return model(x)


class TestExport(ExportBase):
    @pytest.mark.parametrize("backend", ["aot_eager", pytest.param("inductor", marks=pytest.mark.slow)])
    def test_compile_fullgraph(self, model, backend):
        torch._dynamo.reset()
        try:
            compiled = torch.compile(model, fullgraph=True, backend=backend)
            x = self.inputs()
            with torch.no_grad():
                y = compiled(x)
                y2 = compiled(self.inputs(seed=1))  # a second call reuses the graph
            assert torch.allclose(y, self.eager(model, x), atol=1e-5, rtol=0)
            assert torch.allclose(y2, self.eager(model, self.inputs(seed=1)), atol=1e-5, rtol=0)
        finally:
            torch._dynamo.reset()

    def test_torch_export(self, model):
        x = self.inputs()
        ep = torch.export.export(model, (x,))
        module = ep.module()
        assert torch.allclose(module(x), self.eager(model, x), atol=1e-6, rtol=0)
        other = self.inputs(seed=2)  # same shape, other values: nothing was baked in
        assert torch.allclose(module(other), self.eager(model, other), atol=1e-6, rtol=0)

    def test_torch_export_dynamic_shapes(self, model):
        # batch 2 in the example: torch.export specialises sizes 0 and 1
        x = self.inputs((2, 3, 32, 48))
        dims = {0: torch.export.Dim("batch", max=64), 2: torch.export.Dim("height", min=16, max=4096),
                3: torch.export.Dim("width", min=16, max=4096)}
        module = torch.export.export(model, (x,), dynamic_shapes=(dims,)).module()
        for shape in [(3, 3, 40, 56), (1, 3, 17, 33)]:
            other = self.inputs(shape, seed=3)
            assert torch.allclose(module(other), self.eager(model, other), atol=1e-6, rtol=0), shape

    @staticmethod
    def _onnx_run(path, x):
        ort = pytest.importorskip("onnxruntime")
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return torch.from_numpy(session.run(None, {session.get_inputs()[0].name: x.numpy()})[0])

    def test_onnx_dynamo(self, model, tmp_path):
        pytest.importorskip("onnxscript")
        x = self.inputs()
        path = tmp_path / "model.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (x,), path, dynamo=True, input_names=["image"], output_names=["enhanced"])
        assert (self._onnx_run(path, x) - self.eager(model, x)).abs().max().item() < ONNX_TOL

    def test_onnx_dynamo_dynamic_shapes(self, model, tmp_path):
        pytest.importorskip("onnxscript")
        x = self.inputs((2, 3, 32, 48))
        dims = {0: torch.export.Dim("batch", max=64), 2: torch.export.Dim("height", min=16, max=4096),
                3: torch.export.Dim("width", min=16, max=4096)}
        path = tmp_path / "model.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (x,), path, dynamo=True, dynamic_shapes=(dims,), input_names=["image"])
        other = self.inputs((3, 3, 40, 56), seed=4)
        assert (self._onnx_run(path, other) - self.eager(model, other)).abs().max().item() < ONNX_TOL

    def test_onnx_torchscript_exporter_through_wrapper(self, model, tmp_path):
        # The TorchScript exporter cannot call a forward with keyword-only arguments (see module docstring).
        x = self.inputs()
        path = tmp_path / "model.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(_Positional(model), (x,), path, dynamo=False, input_names=["image"])
        assert (self._onnx_run(path, x) - self.eager(model, x)).abs().max().item() < ONNX_TOL


def _export_dynamic(model: nn.Module, path) -> None:
    dims = {0: torch.export.Dim("batch", max=64), 2: torch.export.Dim("height", min=16, max=4096),
            3: torch.export.Dim("width", min=16, max=4096)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (ExportBase.inputs((2, 3, 32, 48)),), path, dynamo=True, dynamic_shapes=(dims,),
                          input_names=["image"])


def _openvino_run(path, x, precision: str = "f32") -> torch.Tensor:
    pytest.importorskip("openvino")
    from dce_transforms.fast import _openvino_request  # one OpenVINO Core per process (see its docstring)

    request = _openvino_request(path, precision, torch.get_num_threads())
    return torch.from_numpy(request.infer({0: x.numpy()}, share_outputs=False)[0])


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = torch.nn.functional.mse_loss(a, b).item()
    return float("inf") if mse == 0 else 10 * math.log10(1 / mse)


class TestOpenVINO(ExportBase):
    """The dynamic-shape ONNX export runs with OpenVINO on CPU (the ``openvino`` extra), as in benchmarks/bench.py."""

    def test_openvino_dynamic_shapes_match_eager(self, model, tmp_path):
        pytest.importorskip("onnxscript")
        pytest.importorskip("openvino")
        path = tmp_path / "model.onnx"
        _export_dynamic(model, path)
        for shape in [(1, 3, 40, 56), (3, 3, 17, 33)]:
            x = self.inputs(shape, seed=5)
            assert (_openvino_run(path, x) - self.eager(model, x)).abs().max().item() < ONNX_TOL, shape

    def test_openvino_bf16_agrees_within_50db(self, tmp_path):
        pytest.importorskip("onnxscript")
        pytest.importorskip("openvino")
        model = _perturbed("zerodce")
        path = tmp_path / "model.onnx"
        _export_dynamic(model, path)
        x = self.inputs((1, 3, 48, 64), seed=6)
        ref = self.eager(model, x)
        assert (ref - x).abs().max() > 0.01  # the model really changes the image
        assert _psnr(_openvino_run(path, x, "bf16"), ref) >= 50.0


def test_gated_default_model_exports_to_onnx(tmp_path):
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    model = ZeroDCE().eval()  # shipped weights with the exposure gate: both passes are in the graph
    if model.exposure_gate is None:
        pytest.skip("the default weights carry no exposure gate")
    path = tmp_path / "gated.onnx"
    _export_dynamic(model, path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for lo, hi in ((0.0, 0.15), (0.85, 1.0)):  # brightened and darkened
        x = lo + (hi - lo) * ExportBase.inputs((1, 3, 40, 56), seed=7) / 0.4
        y = torch.from_numpy(session.run(None, {"image": x.numpy()})[0])
        assert (y - ExportBase.eager(model, x)).abs().max().item() < ONNX_TOL, (lo, hi)

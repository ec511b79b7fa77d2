"""Ultralytics YOLO integration: enhanced prediction, joint fine-tuning, checkpoints, ONNX export.

Small image sizes (64-128) and single epochs on a copy of coco8 keep each test in seconds on a CPU.
Nothing downloads: models are built from YAML, plots (fonts) and AMP checks (weights) are off.
"""

from __future__ import annotations

import copy
import csv
import os
import shutil
from pathlib import Path

import pytest
import torch

os.environ.setdefault("YOLO_OFFLINE", "1")
pytest.importorskip("ultralytics")

from ultralytics import YOLO
from ultralytics.utils import ASSETS

from dce_transforms import ConfigError, ZeroDCE, ZeroDCEPP
from dce_transforms.integrations.ultralytics import (
    DCE_LOSS_NAME,
    EnhancedDetectionModel,
    JointConfig,
    allow_safe_load,
    enhanced_yolo,
    padding_mask,
    save_enhancer,
    train_joint,
)

TRAIN = dict(epochs=1, imgsz=64, batch=4, workers=0, device="cpu", amp=False, plots=False, verbose=False,
             exist_ok=True, seed=0, deterministic=False)


def _raw(out):
    return out[0] if isinstance(out, (tuple, list)) else out


@pytest.fixture(scope="module")
def coco8(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of coco8 (Ultralytics writes label caches beside the labels) and its data YAML."""
    root = tmp_path_factory.mktemp("coco8")
    for sub in ("images", "labels"):
        shutil.copytree(shared / "data/detection/coco8" / sub, root / sub)
    names = "".join(f"  {i}: c{i}\n" for i in range(80))
    (root / "data.yaml").write_text(f"path: {root}\ntrain: images/train\nval: images/val\nnames:\n{names}")
    return root / "data.yaml"


def _state(model: torch.nn.Module, prefix: str) -> dict[str, torch.Tensor]:
    return {k: v.detach().float().clone() for k, v in model.state_dict().items()
            if k.startswith(prefix) and v.is_floating_point()}


def _changed(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> list[str]:
    return [k for k in a if not torch.equal(a[k], b[k])]


# -- prediction -----------------------------------------------------------------------------------------
def test_identity_start_leaves_detector_exactly_unchanged() -> None:
    torch.manual_seed(0)
    plain = YOLO("yolov8n.yaml")
    reference = copy.deepcopy(plain)
    model = enhanced_yolo(plain, enhancer="zero-dce", curve_side=None, weights=None, identity_init=True)
    assert isinstance(model.model, EnhancedDetectionModel) and isinstance(model.model.enhancer, ZeroDCE)
    x = torch.rand(2, 3, 64, 96)
    model.model.eval(), reference.model.eval()
    with torch.no_grad():
        assert torch.equal(_raw(model.model(x)), _raw(reference.model(x)))
    r1 = model.predict(ASSETS / "bus.jpg", imgsz=128, conf=1e-4, verbose=False)[0]
    r2 = reference.predict(ASSETS / "bus.jpg", imgsz=128, conf=1e-4, verbose=False)[0]
    assert len(r1.boxes) > 0
    assert torch.equal(r1.boxes.data, r2.boxes.data)
    # The enhancer really is in the path: moving it away from the identity changes the detections.
    with torch.no_grad():
        model.model.enhancer.conv7.bias.fill_(0.5)
        assert not torch.equal(_raw(model.model(x)), _raw(reference.model(x)))


def test_enhanced_predict_bus_zero_dce_pp() -> None:
    model = enhanced_yolo("yolov8n.yaml", enhancer="zero-dce++", weights=None, scale_factor=4, curve_side=None)
    assert isinstance(model.model.enhancer, ZeroDCEPP) and model.model.enhancer.scale_factor == 4
    seen = []
    model.model.enhancer.register_forward_hook(lambda m, inp, out: seen.append((inp[0].shape, float(inp[0].max()))))
    results = model.predict(ASSETS / "bus.jpg", imgsz=96, verbose=False)
    assert len(results) == 1 and results[0].orig_shape == (1080, 810)
    shape, peak = seen[0]
    assert shape[1] == 3 and shape[-2] % 32 == 0 and shape[-1] % 32 == 0  # letterboxed network input
    assert peak <= 1.0  # [0, 1] input


def test_build_errors() -> None:
    model = enhanced_yolo("yolov8n.yaml", weights=None)
    with pytest.raises(ConfigError, match="already has an enhancer"):
        enhanced_yolo(model, weights=None)
    with pytest.raises(ConfigError, match="zero-dce"):
        enhanced_yolo("yolov8n.yaml", enhancer="retinex", weights=None)
    with pytest.raises(ConfigError, match="reset_to_identity"):
        enhanced_yolo("yolov8n.yaml", enhancer=torch.nn.Identity(), identity_init=True)
    for bad in (dict(dce_lambda=-1), dict(dce_lambda=float("nan")), dict(enhancer_lr=0), dict(enhancer_lr_scale=0),
                dict(enhancer_lr_scale=float("inf")), dict(freeze_enhancer=True, freeze_detector=True)):
        with pytest.raises(ConfigError):
            JointConfig(**bad)


def test_padding_mask_letterbox_and_hsv_shifted_grey() -> None:
    x = torch.full((2, 3, 64, 64), 114 / 255)
    x[1] = 80 / 255  # grey padding after an HSV value gain of 0.7
    x[:, :, 16:48, 8:56] = torch.rand(2, 3, 32, 48) * 0.3
    m = padding_mask(x, value_jitter=0.4)
    assert m.shape == (2, 1, 64, 64)
    assert m[:, :, 20:44, 12:52].eq(1).all()
    assert m[:, :, :12].eq(0).all() and m[:, :, 52:].eq(0).all()
    assert padding_mask(x, value_jitter=0.0)[1, :, :12].eq(1).all()  # 80 is not padding without HSV jitter


def test_padding_is_masked_out_of_the_enhancement_loss() -> None:
    model = enhanced_yolo("yolov8n.yaml", weights=None).model
    model.joint = JointConfig(dce_lambda=1.0)
    from types import SimpleNamespace

    from ultralytics.cfg import get_cfg

    model.args = SimpleNamespace(**vars(get_cfg()))
    img = torch.full((1, 3, 64, 64), 114 / 255)
    img[..., :32, :] = 0.6  # well-exposed, grey-world content: the exposure and colour terms are ~0 there
    img[..., :32, :] += torch.linspace(0, 0.01, 64)  # not constant, so not mistaken for padding
    batch = {"img": img, "batch_idx": torch.zeros(0), "cls": torch.zeros(0, 1), "bboxes": torch.zeros(0, 4)}
    model.enhancer.reset_to_identity()
    _, items = model.loss(batch)
    masked = float(items[DCE_LOSS_NAME])
    model.joint = JointConfig(dce_lambda=1.0, pad_value=0)  # padding no longer recognised
    _, items = model.loss(batch)
    assert masked < 0.05 < float(items[DCE_LOSS_NAME])


# -- joint fine-tuning -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def joint_run(coco8: Path, tmp_path_factory: pytest.TempPathFactory):
    torch.manual_seed(0)
    model = enhanced_yolo("yolov8n.yaml", enhancer="zero-dce", curve_side=None, weights=None)  # full resolution
    before = {"enh": _state(model.model, "enhancer."), "det": _state(model.model, "model.")}
    project = tmp_path_factory.mktemp("runs")
    model = train_joint(model, data=coco8, dce_lambda=0.5, enhancer_lr=1e-3, project=str(project), name="joint",
                        **TRAIN)
    return model, before


def test_joint_epoch_changes_both_parts_and_logs_dce(joint_run) -> None:
    model, before = joint_run
    trainer = model.trainer
    ema = trainer.ema.ema
    assert _changed(before["enh"], _state(ema, "enhancer."))
    assert _changed(before["det"], _state(ema, "model."))
    with open(trainer.csv, newline="") as f:
        rows = list(csv.DictReader(f))
    cols = [c.strip() for c in rows[0]]
    assert f"train/{DCE_LOSS_NAME}" in cols and f"val/{DCE_LOSS_NAME}" in cols
    row = {k.strip(): float(v) for k, v in rows[-1].items()}
    assert row[f"train/{DCE_LOSS_NAME}"] > 0 and row[f"val/{DCE_LOSS_NAME}"] > 0
    groups = {g.get("param_group"): g for g in trainer.optimizer.param_groups}
    assert groups["enhancer"]["initial_lr"] == pytest.approx(1e-3)
    assert {id(p) for p in groups["enhancer"]["params"]} == {id(p) for p in trainer.model.enhancer.parameters()}


def test_checkpoint_reloads_with_enhancer_and_standalone_weights(joint_run, tmp_path: Path) -> None:
    model, _ = joint_run
    wdir = model.trainer.wdir
    reloaded = YOLO(wdir / "best.pt")
    assert isinstance(reloaded.model, EnhancedDetectionModel) and isinstance(reloaded.model.enhancer, ZeroDCE)
    standalone = ZeroDCE(weights=wdir / "best_enhancer.safetensors")
    for k, v in standalone.state_dict().items():  # the .pt holds the same EMA weights in half precision
        torch.testing.assert_close(reloaded.model.enhancer.state_dict()[k].float(), v.half().float())
    results = reloaded.predict(ASSETS / "bus.jpg", imgsz=64, verbose=False)
    assert results[0].boxes is not None
    # save_enhancer works on any enhanced model too
    save_enhancer(reloaded, tmp_path / "e.safetensors")
    assert ZeroDCE(weights=tmp_path / "e.safetensors").weights_name


def test_onnx_export_matches_pytorch(joint_run) -> None:
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    model, _ = joint_run
    best = model.trainer.best
    path = YOLO(best).export(format="onnx", imgsz=64, simplify=False, dynamic=False, opset=17, verbose=False)
    torch_model = YOLO(best).model.float().eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        expected = _raw(torch_model(x))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = torch.from_numpy(sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0])
    torch.testing.assert_close(got, expected, atol=1e-3, rtol=1e-3)
    # The enhancer is inside the graph: its last layer (24 curve maps from 64 channels) is an initializer.
    dims = [list(t.dims) for t in onnx.load(str(path)).graph.initializer]
    assert [24, 64, 3, 3] in dims


def test_lambda_zero_and_frozen_enhancer(coco8: Path, tmp_path: Path) -> None:
    torch.manual_seed(1)
    model = enhanced_yolo("yolov8n.yaml", enhancer="zero-dce", curve_side=None, weights=None)
    enh0, det0 = _state(model.model, "enhancer."), _state(model.model, "model.")
    model = train_joint(model, data=coco8, dce_lambda=0.0, freeze_enhancer=True, project=str(tmp_path), name="fe",
                        **TRAIN)
    ema = model.trainer.ema.ema
    assert not _changed(enh0, _state(ema, "enhancer."))
    assert _changed(det0, _state(ema, "model."))
    with open(model.trainer.csv, newline="") as f:
        row = list(csv.DictReader(f))[-1]
    assert float(row[f"train/{DCE_LOSS_NAME}"]) == 0.0
    standalone = ZeroDCE(weights=model.trainer.wdir / "last_enhancer.safetensors")
    assert not _changed({k.removeprefix("enhancer."): v for k, v in enh0.items()}, _state(standalone, ""))


def test_frozen_detector(coco8: Path, tmp_path: Path) -> None:
    torch.manual_seed(2)
    model = enhanced_yolo("yolov8n.yaml", weights=None)
    enh0, det0 = _state(model.model, "enhancer."), _state(model.model, "model.")
    model = train_joint(model, data=coco8, dce_lambda=1.0, freeze_detector=True, enhancer_lr=1e-3,
                        project=str(tmp_path), name="fd", **TRAIN)
    ema = model.trainer.ema.ema
    assert not _changed(det0, _state(ema, "model."))  # weights and BatchNorm statistics
    assert _changed(enh0, _state(ema, "enhancer."))


def test_safe_load_mode(joint_run) -> None:
    from ultralytics.nn.tasks import torch_safe_load

    model, _ = joint_run
    allow_safe_load()
    ckpt, _ = torch_safe_load(str(model.trainer.best), safe_only=True)
    assert isinstance(ckpt["ema"] or ckpt["model"], EnhancedDetectionModel)



def test_enhancer_learning_rate_defaults_to_a_tenth_of_lr0(coco8: Path, tmp_path: Path) -> None:
    """The recipe the detection benchmark picked on its select split: enhancer lr = 0.1 × lr0."""
    assert JointConfig().enhancer_lr_scale == 0.1
    torch.manual_seed(0)
    model = enhanced_yolo("yolov8n.yaml")
    model = train_joint(model, data=coco8, project=str(tmp_path), name="lr", **TRAIN)
    trainer = model.trainer
    groups = {g.get("param_group"): g for g in trainer.optimizer.param_groups}
    assert groups["enhancer"]["initial_lr"] == pytest.approx(0.1 * trainer.args.lr0)

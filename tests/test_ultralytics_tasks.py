"""Ultralytics integration for every task (segment, pose, OBB, classify) and every training path.

Each task: build with the enhancer, predict, train one epoch jointly, reload the checkpoint, validate
and export to ONNX with outputs matching PyTorch. Then the plain Ultralytics paths: ``YOLO(ckpt).train()``,
``yolo train model=ckpt`` (a fresh process, as a user runs it) and ``resume=True`` keep the enhancer.

Tiny sets are synthesised from coco8's boxes (polygons, two keypoints, axis-aligned oriented boxes);
images are 64 px, one epoch each, nothing downloads.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

os.environ.setdefault("YOLO_OFFLINE", "1")
pytest.importorskip("ultralytics")

from ultralytics import YOLO
from ultralytics.models.yolo.detect import DetectionTrainer
from ultralytics.nn.tasks import DetectionModel
from ultralytics.utils import ASSETS

from dce_transforms import ConfigError, ZeroDCEPP
from dce_transforms.integrations.ultralytics import (
    DCE_LOSS_NAME,
    DEFAULT_CURVE_SIDE,
    EnhancedClassificationModel,
    EnhancedDetectionModel,
    EnhancedDetectionTrainer,
    EnhancedOBBModel,
    EnhancedPoseModel,
    EnhancedSegmentationModel,
    EnhancedSegmentationTrainer,
    LowResCurves,
    enhanced_yolo,
    train_joint,
)

TRAIN = {"epochs": 1, "imgsz": 64, "batch": 4, "workers": 0, "device": "cpu", "amp": False, "plots": False,
         "verbose": False, "exist_ok": True, "seed": 0, "deterministic": False}
CLASSES = {"segment": EnhancedSegmentationModel, "pose": EnhancedPoseModel, "obb": EnhancedOBBModel}
NAMES = "".join(f"  {i}: c{i}\n" for i in range(80))


def _last_row(results_csv: Path) -> dict[str, float]:
    """The last epoch's row of an Ultralytics ``results.csv``, keys stripped."""
    rows = list(csv.DictReader(Path(results_csv).read_text().splitlines()))
    return {k.strip(): float(v) for k, v in rows[-1].items()}


def _boxes(label_file: Path) -> list[tuple[int, float, float, float, float]]:
    rows = []
    for line in label_file.read_text().splitlines():
        c, cx, cy, w, h = line.split()[:5]
        rows.append((int(c), float(cx), float(cy), float(w), float(h)))
    return rows


def _task_line(task: str, c: int, cx: float, cy: float, w: float, h: float) -> str:
    x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
    if task == "pose":  # two keypoints: middle of the left and right edges (swap under a horizontal flip)
        return f"{c} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f} {x1:.6f} {cy:.6f} 2 {x2:.6f} {cy:.6f} 2"
    if task == "segment":  # a diamond inside the box
        pts = (cx, y1, x2, cy, cx, y2, x1, cy)
    else:  # obb: the box corners
        pts = (x1, y1, x2, y1, x2, y2, x1, y2)
    return f"{c} " + " ".join(f"{p:.6f}" for p in pts)


@pytest.fixture(scope="module")
def task_data(shared: Path, tmp_path_factory: pytest.TempPathFactory):
    """``task -> data.yaml`` of coco8 images with labels made from its boxes."""
    src = shared / "data/detection/coco8"
    out = {}
    for task in ("detect", "segment", "pose", "obb"):
        root = tmp_path_factory.mktemp(f"coco8-{task}")
        shutil.copytree(src / "images", root / "images")
        if task == "detect":
            shutil.copytree(src / "labels", root / "labels")
        else:
            for f in (src / "labels").rglob("*.txt"):
                dst = root / "labels" / f.relative_to(src / "labels")
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.write_text("".join(_task_line(task, *b) + "\n" for b in _boxes(f)))
        extra = "kpt_shape: [2, 3]\nflip_idx: [1, 0]\n" if task == "pose" else ""
        (root / "data.yaml").write_text(f"path: {root}\ntrain: images/train\nval: images/val\n{extra}names:\n{NAMES}")
        out[task] = root / "data.yaml"
    return out


def _tensors(out) -> list[torch.Tensor]:
    """Every tensor in a (nested) model output, in order."""
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _tensors(o)]
    return []


def _check_onnx_matches(ckpt: Path, imgsz: int) -> None:
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    path = YOLO(ckpt).export(format="onnx", imgsz=imgsz, simplify=False, dynamic=False, opset=17, verbose=False)
    model = YOLO(ckpt).model.float().eval()
    torch.manual_seed(0)
    x = torch.rand(1, 3, imgsz, imgsz) * 0.3  # dark: the exposure gate lets the enhancer act
    with torch.no_grad():
        expected = _tensors(model(x))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = [torch.from_numpy(g) for g in sess.run(None, {sess.get_inputs()[0].name: x.numpy()})]
    assert got
    for g in got:  # every ONNX output equals the PyTorch output of the same shape
        same = [e for e in expected if tuple(e.shape) == tuple(g.shape)]
        assert same, f"no PyTorch output of shape {tuple(g.shape)}"
        torch.testing.assert_close(g, same[0], atol=1e-3, rtol=1e-3)
    # The enhancer is inside the graph: its last pointwise layer is an initializer.
    last = list(model.enhancer.model.conv7.pointwise.weight.shape)
    assert last in [list(t.dims) for t in onnx.load(str(path)).graph.initializer]


# -- segment, pose, OBB ------------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=["segment", "pose", "obb"])
def task_run(request, task_data, tmp_path_factory: pytest.TempPathFactory):
    task = request.param
    torch.manual_seed(0)
    suffix = {"segment": "seg", "pose": "pose", "obb": "obb"}[task]
    model = enhanced_yolo(f"yolov8n-{suffix}.yaml")
    assert type(model.model) is CLASSES[task] and model.task == task
    enh0 = {k: v.clone() for k, v in model.model.enhancer.state_dict().items()}
    project = tmp_path_factory.mktemp(f"runs-{task}")
    model = train_joint(model, data=task_data[task], dce_lambda=0.5, enhancer_lr=1e-3, project=str(project),
                        name=task, **TRAIN)
    return task, model, enh0


@pytest.mark.slow
def test_task_trains_jointly_reloads_predicts_and_validates(task_run, task_data) -> None:
    task, model, enh0 = task_run
    trainer = model.trainer
    assert type(trainer).__name__ == f"Enhanced{type(trainer).__mro__[2].__name__}"
    ema_enh = trainer.ema.ema.enhancer.state_dict()
    assert any(not torch.equal(enh0[k], ema_enh[k].float()) for k in enh0), "the enhancer did not train"
    row = _last_row(trainer.csv)
    assert row[f"train/{DCE_LOSS_NAME}"] > 0 and row[f"val/{DCE_LOSS_NAME}"] > 0
    reloaded = YOLO(trainer.best)
    assert type(reloaded.model) is CLASSES[task]
    assert isinstance(reloaded.model.enhancer, LowResCurves) and isinstance(reloaded.model.enhancer.model, ZeroDCEPP)
    assert (trainer.wdir / "best_enhancer.safetensors").is_file()
    result = reloaded.predict(ASSETS / "bus.jpg", imgsz=64, conf=1e-4, verbose=False)[0]
    part = {"segment": result.masks, "pose": result.keypoints, "obb": result.obb}[task]
    assert part is not None and len(part) > 0
    calls = []
    reloaded.model.enhancer.register_forward_hook(lambda m, inp, out: calls.append(tuple(inp[0].shape)))
    metrics = reloaded.val(data=str(task_data[task]), imgsz=64, batch=4, device="cpu", plots=False, verbose=False,
                           project=str(trainer.save_dir.parent), name="val", exist_ok=True)
    assert "metrics/mAP50-95(B)" in metrics.keys and 0.0 <= metrics.box.map <= 1.0
    assert calls and calls[0][1] == 3  # validation ran through the enhancer


@pytest.mark.slow
def test_task_onnx_export_matches_pytorch(task_run) -> None:
    _, model, _ = task_run
    _check_onnx_matches(model.trainer.best, 64)


# -- classification (build, predict, export) ---------------------------------------------------------------
def test_classify_model_takes_the_enhancer(tmp_path: Path) -> None:
    model = enhanced_yolo("yolov8n-cls.yaml", weights=None)
    assert type(model.model) is EnhancedClassificationModel and model.task == "classify"
    seen = []
    hook = model.model.enhancer.register_forward_hook(lambda m, inp, out: seen.append(tuple(inp[0].shape)))
    result = model.predict(ASSETS / "bus.jpg", imgsz=64, verbose=False)[0]
    hook.remove()
    assert result.probs is not None and seen and seen[0][1:] == (3, 64, 64)
    ckpt = tmp_path / "cls.pt"
    model.save(ckpt)
    assert type(YOLO(ckpt).model) is EnhancedClassificationModel
    _check_onnx_matches(ckpt, 96)  # 96 px > the default curve side: the resized copy is in the graph


def test_classify_trains_jointly_and_plain_train_keeps_it(shared: Path, tmp_path: Path) -> None:
    root = tmp_path / "cls"
    for i, f in enumerate(sorted((shared / "data/detection/coco8/images").rglob("*.jpg"))):
        for split in ("train", "val"):  # two classes, every image in both splits
            (root / split / f"c{i % 2}").mkdir(parents=True, exist_ok=True)
            shutil.copy(f, root / split / f"c{i % 2}" / f.name)
    opts = {**TRAIN, "imgsz": 32}
    model = train_joint(enhanced_yolo("yolov8n-cls.yaml"), data=root, dce_lambda=0.5, project=str(tmp_path),
                        name="joint", **opts)
    assert type(model.model) is EnhancedClassificationModel
    row = _last_row(model.trainer.csv)
    assert row[f"train/{DCE_LOSS_NAME}"] > 0
    yolo = YOLO(model.trainer.last)
    yolo.train(data=str(root), project=str(tmp_path), name="plain", **opts)
    assert type(yolo.trainer).__name__ == "EnhancedClassificationTrainer"
    assert type(yolo.model) is EnhancedClassificationModel and isinstance(yolo.model.enhancer, LowResCurves)


# -- the fast default ---------------------------------------------------------------------------------------
def test_default_is_zero_dce_pp_with_bounded_curves() -> None:
    model = enhanced_yolo("yolov8n.yaml")
    enh = model.model.enhancer
    assert isinstance(enh, LowResCurves) and enh.max_side == DEFAULT_CURVE_SIDE
    assert isinstance(enh.model, ZeroDCEPP) and enh.model.weights_name  # the shipped weights
    x = torch.rand(2, 3, 320, 256) * 0.3
    small = enh.small_copy(x)
    side = DEFAULT_CURVE_SIDE
    assert tuple(small.shape[-2:]) == (side, round(256 * side / 320))
    y, alpha = enh(x, return_curves=True)
    assert y.shape == x.shape and alpha.shape == (2, 3, 320, 256)
    # Equal to estimating the curves on the small copy and applying their up-sampled maps.
    _, a_small = enh.model(small, return_curves=True)
    up = torch.nn.functional.interpolate(a_small, size=x.shape[-2:], mode="bilinear", align_corners=False)
    from dce_transforms import apply_curves

    torch.testing.assert_close(y, apply_curves(x, up, iterations=enh.iterations), atol=1e-5, rtol=1e-5)
    full = enhanced_yolo("yolov8n.yaml", curve_side=None).model.enhancer
    assert isinstance(full, ZeroDCEPP)
    with pytest.raises(ConfigError, match="curve_side"):
        enhanced_yolo("yolov8n.yaml", curve_side=4)


class _CustomDetectionModel(DetectionModel):
    pass


def test_unsupported_model_kind_is_refused() -> None:
    yolo = YOLO("yolov8n.yaml")
    yolo.model.__class__ = _CustomDetectionModel  # a subclass (as YOLO-World, YOLOE, RT-DETR are) is not guessed at
    with pytest.raises(ConfigError, match="cannot take an enhancer"):
        enhanced_yolo(yolo, weights=None)


def test_track_runs_through_the_enhancer() -> None:
    pytest.importorskip("lap", reason="the ultralytics extra installs lap, which model.track() needs")
    model = enhanced_yolo("yolov8n.yaml", weights=None)
    calls = []
    model.model.enhancer.register_forward_hook(lambda m, inp, out: calls.append(1))
    results = model.track(ASSETS / "bus.jpg", imgsz=64, conf=1e-4, verbose=False)
    assert len(results) == 1 and len(calls) == 1


# -- plain Ultralytics training paths -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def detect_ckpt(task_data, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An enhanced detection checkpoint from train_joint (dce_lambda=0.3, curve side 48)."""
    torch.manual_seed(3)
    model = enhanced_yolo("yolov8n.yaml", curve_side=48)
    model = train_joint(model, data=task_data["detect"], dce_lambda=0.3, enhancer_lr=1e-3,
                        project=str(tmp_path_factory.mktemp("runs-det")), name="joint", **TRAIN)
    return Path(model.trainer.best)


@pytest.mark.slow
def test_plain_train_keeps_the_enhancer(detect_ckpt: Path, task_data, tmp_path: Path) -> None:
    yolo = YOLO(detect_ckpt)
    enh0 = {k: v.clone().float() for k, v in yolo.model.enhancer.state_dict().items()}
    yolo.train(data=str(task_data["detect"]), project=str(tmp_path), name="plain", **TRAIN)
    assert isinstance(yolo.trainer, EnhancedDetectionTrainer)
    assert type(yolo.model) is EnhancedDetectionModel
    assert isinstance(yolo.model.enhancer, LowResCurves) and yolo.model.enhancer.max_side == 48
    assert yolo.model.joint.dce_lambda == pytest.approx(0.3)  # the settings travelled with the checkpoint
    after = yolo.model.enhancer.state_dict()
    assert any(not torch.equal(enh0[k], after[k].float()) for k in enh0), "the enhancer did not train"
    assert _last_row(yolo.trainer.csv)[f"train/{DCE_LOSS_NAME}"] > 0
    assert (yolo.trainer.wdir / "last_enhancer.safetensors").is_file()


def test_bounded_curves_export_to_onnx(detect_ckpt: Path) -> None:
    _check_onnx_matches(detect_ckpt, 96)  # curve side 48: the 2x2 box filter is in the graph


def test_plain_train_refuses_a_trainer_without_the_enhancer(detect_ckpt: Path, task_data) -> None:
    with pytest.raises(ConfigError, match="EnhancedDetectionTrainer"):
        YOLO(detect_ckpt).train(trainer=DetectionTrainer, data=str(task_data["detect"]), **TRAIN)


@pytest.mark.slow
def test_cli_train_in_a_fresh_process_keeps_the_enhancer(detect_ckpt: Path, task_data, tmp_path: Path) -> None:
    yolo_cli = Path(sys.executable).with_name("yolo")
    if not yolo_cli.is_file():
        pytest.skip(f"the `yolo` command is not installed beside {sys.executable}")
    args = [str(yolo_cli), "train", f"model={detect_ckpt}", f"data={task_data['detect']}", f"project={tmp_path}",
            "name=cli", *(f"{k}={v}" for k, v in TRAIN.items())]
    env = {**os.environ, "YOLO_OFFLINE": "1", "OMP_NUM_THREADS": "2"}
    proc = subprocess.run(args, check=False, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    reloaded = YOLO(tmp_path / "cli" / "weights" / "last.pt")
    assert type(reloaded.model) is EnhancedDetectionModel and reloaded.model.enhancer.max_side == 48
    assert (tmp_path / "cli" / "weights" / "last_enhancer.safetensors").is_file()
    assert _last_row(tmp_path / "cli" / "results.csv")[f"train/{DCE_LOSS_NAME}"] > 0


class _Interrupt(RuntimeError):
    pass


@pytest.mark.slow
def test_resume_through_plain_train_keeps_the_enhancer(task_data, tmp_path: Path) -> None:
    torch.manual_seed(4)
    model = enhanced_yolo("yolov8n-seg.yaml", curve_side=48)

    def stop(trainer) -> None:  # interrupt after the first epoch's checkpoint, as a crash would
        raise _Interrupt

    model.add_callback("on_model_save", stop)
    with pytest.raises(_Interrupt):
        train_joint(model, data=task_data["segment"], dce_lambda=0.2, project=str(tmp_path), name="r",
                    **{**TRAIN, "epochs": 2})
    last = tmp_path / "r" / "weights" / "last.pt"
    yolo = YOLO(last)
    assert type(yolo.model) is EnhancedSegmentationModel
    yolo.train(resume=True)
    assert isinstance(yolo.trainer, EnhancedSegmentationTrainer)
    assert yolo.trainer.start_epoch == 1 and yolo.trainer.epoch == 1
    groups = [g.get("param_group") for g in yolo.trainer.optimizer.param_groups]
    assert "enhancer" in groups
    assert type(yolo.model) is EnhancedSegmentationModel and yolo.model.enhancer.max_side == 48
    assert yolo.model.joint.dce_lambda == pytest.approx(0.2)

"""Every bad input raises a library error that is also a built-in one, with a message saying how to fix it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dce_transforms import ZeroDCE, ZeroDCEPP, errors, load_state_dict, save_state_dict
from dce_transforms.losses import (
    ColorConstancyLoss,
    ExposureControlLoss,
    IlluminationSmoothnessLoss,
    SpatialConsistencyLoss,
    ZeroReferenceLoss,
    color_constancy_loss,
    exposure_control_loss,
    illumination_smoothness_loss,
    spatial_consistency_loss,
)


def _raises(cls, builtin, fix):
    """Expect ``cls`` (a errors.DCEError), also a ``builtin`` error, with ``fix`` (a regex) in the message."""
    assert issubclass(cls, errors.DCEError) and issubclass(cls, builtin)
    return pytest.raises(cls, match=fix)


@pytest.fixture(scope="module")
def model():
    return ZeroDCEPP(weights=None)


def _check_family(excinfo, builtin):
    assert isinstance(excinfo.value, errors.DCEError) and isinstance(excinfo.value, builtin)


# -- images ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.bool])  # uint8/uint16 are pipeline inputs
def test_integer_tensor(model, dtype):
    with _raises(errors.ImageDTypeError, TypeError, r"x\.float\(\) / 255") as info:
        model(torch.zeros(1, 3, 8, 8, dtype=dtype))
    _check_family(info, TypeError)
    assert str(dtype) in str(info.value)


def test_numpy_array(model):
    with _raises(errors.ImageDTypeError, TypeError, r"torch\.from_numpy\(a\)\.permute\(2, 0, 1\)") as info:
        model(np.zeros((8, 8, 3), dtype=np.uint8))
    assert "ndarray" in str(info.value)


def test_python_list(model):
    with _raises(errors.ImageDTypeError, TypeError, "must be a torch.Tensor"):
        model([[0.0]])


@pytest.mark.parametrize(
    "channels, fix",
    [(1, r"x\.expand\(-1, 3, -1, -1\)"), (4, r"x\[:, :3\]"), (5, r"x\.permute\(0, 3, 1, 2\)")],
)
def test_wrong_channel_count(model, channels, fix):
    with _raises(errors.ImageShapeError, ValueError, fix) as info:
        model(torch.rand(1, channels, 8, 8))
    assert "3 (RGB) channels" in str(info.value)


def test_channels_last_hwc_array_as_tensor(model):
    with _raises(errors.ImageShapeError, ValueError, r"permute"):
        model(torch.rand(1, 8, 8, 3))


@pytest.mark.parametrize("shape", [(8, 8), (1, 1, 3, 8, 8), (8,)])
def test_wrong_rank(model, shape):
    with _raises(errors.ImageShapeError, ValueError, r"\(B, 3, H, W\) or \(3, H, W\)") as info:
        model(torch.rand(*shape))
    assert "permute" in str(info.value)


@pytest.mark.parametrize("shape", [(0, 3, 8, 8), (1, 3, 0, 8), (1, 3, 8, 0), (3, 0, 0)])
def test_empty_tensor(model, shape):
    with _raises(errors.ImageShapeError, ValueError, "must be at least 1"):
        model(torch.rand(*shape))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_values(model, bad):
    x = torch.rand(1, 3, 8, 8)
    x[0, 1, 2, 3] = bad
    with _raises(errors.ImageValueError, ValueError, r"torch\.nan_to_num\(x\)\.clamp\(0, 1\)"):
        model(x)


def test_values_in_0_255_range(model):
    with _raises(errors.ImageValueError, ValueError, "divide it by 255") as info:
        model(torch.rand(1, 3, 8, 8) * 255)
    assert "[0, 1]" in str(info.value)


def test_values_slightly_out_of_range(model):
    x = torch.rand(1, 3, 8, 8)
    x[0, 0, 0, 0] = -0.5
    with _raises(errors.ImageValueError, ValueError, r"x\.clamp\(0, 1\)"):
        model(x)


def test_half_precision_overshoot_is_tolerated(model):
    x = torch.rand(1, 3, 8, 8)
    x[0, 0, 0, 0] = 1.0005  # within the documented slack for resampling / half-precision round-off
    assert model(x).shape == x.shape


def test_validate_false_skips_value_checks():
    # the structural checks stay; only the host read-back of values is skipped
    model = ZeroDCE(weights=None, validate=False)
    assert model(torch.full((1, 3, 8, 8), 2.0)).shape == (1, 3, 8, 8)
    with pytest.raises(errors.ImageDTypeError):
        model(torch.zeros(1, 3, 8, 8, dtype=torch.int32))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device to put image and model apart")
def test_image_and_model_on_different_devices(model):
    with _raises(errors.ImageShapeError, ValueError, r"model\.to\(x\.device\)") as info:
        model(torch.rand(1, 3, 8, 8, device="cuda"))
    assert type(info.value) is errors.DeviceError


@pytest.mark.parametrize("cls", [ZeroDCE, ZeroDCEPP])
def test_device_mismatch_is_a_device_error_that_old_callers_still_catch(cls):
    """A model on the ``meta`` device and a CPU image: no GPU needed to put the two apart."""
    meta_model = cls(weights=None).to("meta")
    with _raises(errors.DeviceError, ValueError, r"image is on cpu but the model is on meta.*model\.to\(x\.device\)"):
        meta_model(torch.rand(1, 3, 8, 8))
    assert issubclass(errors.DeviceError, errors.ImageShapeError), "except errors.ImageShapeError clauses written before must still catch it"


def test_the_command_line_tools_share_one_usage_error():
    from dce_transforms import evaluate
    from dce_transforms.cli import dce_darken, dce_enhance, dce_eval

    assert dce_enhance.UsageError is dce_darken.UsageError is dce_eval.UsageError is evaluate.UsageError is errors.UsageError
    assert issubclass(errors.UsageError, errors.DCEError) and issubclass(errors.UsageError, ValueError)


# -- options --------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [ZeroDCE, ZeroDCEPP])
@pytest.mark.parametrize("bad", [0, -1, 2.5, "8", True, None])
def test_bad_iterations(cls, bad):
    with _raises(errors.ConfigError, ValueError, "positive integer"):
        cls(weights=None, iterations=bad)


@pytest.mark.parametrize("bad", [0, 0.5, -4, float("nan"), float("inf"), "4", None, True])
def test_bad_scale_factor(bad):
    with _raises(errors.ConfigError, ValueError, r"number >= 1 \(1 = full resolution"):
        ZeroDCEPP(weights=None, scale_factor=bad)


@pytest.mark.parametrize("cls", [ZeroDCE, ZeroDCEPP])
@pytest.mark.parametrize("bad", [0, 4, -512, 512.0, "512", True])
def test_bad_curve_max_side(cls, bad):
    with _raises(errors.ConfigError, ValueError, "None .* or an integer >= 8"):
        cls(weights=None, curve_max_side=bad)


# -- weights --------------------------------------------------------------------------------------


def test_missing_weights_path(tmp_path):
    with _raises(errors.WeightsError, ValueError, "neither a registered name .* nor an existing file"):
        ZeroDCE(weights=str(tmp_path / "nope.safetensors"))
    with _raises(errors.WeightsError, ValueError, "does not exist"):
        load_state_dict(tmp_path / "nope.safetensors")


def test_unknown_weights_name():
    with _raises(errors.WeightsError, ValueError, "registered name"):
        ZeroDCEPP(weights="no-such-weights")


@pytest.mark.parametrize("bad", [123, 1.5, ["a"]])
def test_weights_of_wrong_type(bad):
    with _raises(errors.WeightsError, ValueError, "'default', None, a registered name, a path or a WeightsEntry"):
        ZeroDCE(weights=bad)


@pytest.mark.parametrize("cls, fname", [(ZeroDCE, "zero_dce_epoch99.pth"), (ZeroDCEPP, "zero_dce_pp_epoch99.pth")])
def test_official_checkpoint_passed_as_weights(shared, cls, fname):
    with _raises(errors.WeightsError, ValueError, rf"{cls.__name__}\.from_official\(path\)"):
        cls(weights=shared / "weights" / "official" / fname)


def test_official_checkpoint_for_the_other_model(shared):
    path = shared / "weights" / "official" / "zero_dce_epoch99.pth"
    with _raises(errors.ChecksumError, ValueError, r"authors' Zero-DCE checkpoint.*ZeroDCE\.from_official"):
        ZeroDCEPP.from_official(path)
    with _raises(errors.WeightsError, ValueError, "does not fit ZeroDCEPP"):
        ZeroDCEPP.from_official(path, sha256=None)


def test_from_official_with_other_iterations(shared):
    with _raises(errors.WeightsError, ValueError, "do not pass iterations"):
        ZeroDCE.from_official(shared / "weights" / "official" / "zero_dce_epoch99.pth", iterations=4)


def test_checkpoint_of_the_other_class(tmp_path):
    path = tmp_path / "dce.safetensors"
    save_state_dict(ZeroDCE(weights=None).state_dict(), path)
    with _raises(errors.WeightsError, ValueError, "checkpoint is for this model class") as info:
        ZeroDCEPP(weights=path)
    assert "does not fit ZeroDCEPP" in str(info.value)


def test_checkpoint_with_other_iterations(tmp_path):
    path = tmp_path / "dce.safetensors"
    save_state_dict(ZeroDCE(weights=None).state_dict(), path)
    with _raises(errors.WeightsError, ValueError, r"does not fit ZeroDCE\(iterations=4\)"):
        ZeroDCE(weights=path, iterations=4)


def test_bad_sha256(tmp_path):
    path = tmp_path / "w.safetensors"
    digest = save_state_dict(ZeroDCEPP(weights=None).state_dict(), path)
    wrong = ("0" if digest[0] != "0" else "1") + digest[1:]
    with _raises(errors.ChecksumError, ValueError, "corrupt or not the one registered") as info:
        load_state_dict(path, sha256=wrong)
    assert isinstance(info.value, errors.WeightsError) and digest in str(info.value)


def test_sha256_prefix_too_short(tmp_path):
    path = tmp_path / "w.safetensors"
    digest = save_state_dict(ZeroDCEPP(weights=None).state_dict(), path)
    with _raises(errors.ChecksumError, ValueError, "at least 8 hex characters"):
        load_state_dict(path, sha256=digest[:4])  # right but too short to mean anything


def test_official_loader_checks_sha256(tmp_path):
    path = tmp_path / "fake.pth"
    torch.save(ZeroDCE(weights=None).state_dict(), path)
    with _raises(errors.ChecksumError, ValueError, "expected a4395acb"):
        ZeroDCE.from_official(path)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04garbage"])
@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_unreadable_checkpoint(tmp_path, content, suffix):
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(content)
    with _raises(errors.WeightsError, ValueError, r"torch\.load\(weights_only=True\)"):
        ZeroDCE(weights=path)


def test_checkpoint_that_is_not_a_state_dict(tmp_path):
    path = tmp_path / "list.pth"
    torch.save([torch.zeros(3)], path)
    with _raises(errors.WeightsError, ValueError, "not a state dict of tensors"):
        ZeroDCE(weights=path)


# -- losses ---------------------------------------------------------------------------------------

LOSS_CALLS = {
    "spatial": lambda x, **kw: spatial_consistency_loss(x, x, **kw),
    "exposure": lambda x, **kw: exposure_control_loss(x, **kw),
    "color": lambda x, **kw: color_constancy_loss(x, **kw),
    "tv": lambda x, **kw: illumination_smoothness_loss(x, **kw),
    "zero_reference": lambda x, **kw: ZeroReferenceLoss(**kw)(x, x, torch.zeros(1, 3, *x.shape[-2:])),
}


@pytest.mark.parametrize("name", list(LOSS_CALLS))
@pytest.mark.parametrize("form", ["author", "Paper", "", "l2"])
def test_loss_form_typo(name, form):
    with _raises(errors.ConfigError, ValueError, "'authors' .* or 'paper'"):
        LOSS_CALLS[name](torch.rand(1, 3, 16, 16), form=form)


@pytest.mark.parametrize("module", [SpatialConsistencyLoss, ExposureControlLoss, ColorConstancyLoss,
                                    IlluminationSmoothnessLoss, ZeroReferenceLoss])
def test_loss_module_form_typo(module):
    with _raises(errors.ConfigError, ValueError, "'authors' .* or 'paper'"):
        module(form="author")


@pytest.mark.parametrize(
    "call, size",
    [
        (lambda x: spatial_consistency_loss(x, x), (3, 3)),
        (lambda x: exposure_control_loss(x), (15, 40)),
        (lambda x: exposure_control_loss(x, patch_size=8), (40, 7)),
        (lambda x: illumination_smoothness_loss(x), (1, 5)),
        (lambda x: ZeroReferenceLoss()(x, x, torch.zeros_like(x)), (12, 12)),
    ],
    ids=["spatial", "exposure", "exposure-8", "tv", "zero_reference"],
)
def test_loss_on_image_smaller_than_patch(call, size):
    with _raises(errors.ImageShapeError, ValueError, "Use a larger crop or a smaller patch_size"):
        call(torch.rand(1, 3, *size))


@pytest.mark.parametrize("mask_shape", [(1, 3, 16, 16), (1, 1, 8, 8), (1, 16, 16)])
def test_loss_mask_of_wrong_shape(mask_shape):
    x = torch.rand(1, 3, 16, 16)
    with _raises(errors.ImageShapeError, ValueError, r"mask must have shape \(B, 1, H, W\)"):
        exposure_control_loss(x, mask=torch.ones(mask_shape))


def test_loss_on_unbatched_image():
    with _raises(errors.ImageShapeError, ValueError, r"expects \(B, C, H, W\).*`x\[None\]`"):
        exposure_control_loss(torch.rand(3, 16, 16))

"""One rounding rule for every float → integer conversion, and the conversions kept under their old names."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dce_transforms import convert, io, viz
from dce_transforms.errors import ImageDTypeError, ImageShapeError
from dce_transforms.transforms import apply_to_image


def _tie(scale: float) -> tuple[float, int]:
    """A float32 value whose product with ``scale`` is exactly ``k + 0.5`` with ``k`` even (where the rules differ)."""
    for k in range(0, int(scale) - 1, 2):
        v = np.float32((k + 0.5) / scale)
        if float(v * np.float32(scale)) == k + 0.5:
            return float(v), k
    raise AssertionError("no exact tie found")  # pragma: no cover


@pytest.mark.parametrize("dtype, scale", [(torch.uint8, 255.0), (torch.uint16, 65535.0)])
def test_exact_ties_round_up_everywhere(dtype, scale):
    v, k = _tie(scale)
    np_dtype = np.uint8 if dtype == torch.uint8 else np.uint16
    x = torch.full((3, 2, 2), v)
    assert torch.round(x * scale)[0, 0, 0] == k, "the value must be a tie that round-half-even sends down"
    assert int(convert.quantize(x, dtype)[0, 0, 0]) == k + 1
    assert int(convert.quantize_array(x.numpy(), np_dtype)[0, 0, 0]) == k + 1
    assert int(io.tensor_to_image(x, np_dtype)[0, 0, 0]) == k + 1
    _, back = convert.to_unit_float(torch.zeros(3, 2, 2, dtype=dtype))
    assert int(back(x)[0, 0, 0]) == k + 1
    # the pipeline transforms take the same rule (they rounded ties to even before)
    out = apply_to_image(np.zeros((2, 2, 3), np_dtype), lambda t: torch.full_like(t, v))
    assert out.dtype == np_dtype and set(out.ravel().tolist()) == {k + 1}
    if dtype == torch.uint8:
        assert int(viz.to_uint8(x)[0, 0, 0]) == k + 1


def test_quantize_clamps_and_refuses_other_dtypes():
    assert convert.quantize(torch.tensor([-0.5, 0.0, 1.0, 7.0])).tolist() == [0, 0, 255, 255]
    assert convert.quantize(torch.tensor([1.0]), torch.uint16).tolist() == [65535]
    with pytest.raises(ImageDTypeError):
        convert.quantize(torch.tensor([0.5]), torch.int32)


def test_integer_round_trips_are_exact():
    u8 = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, 2)
    assert np.array_equal(io.tensor_to_image(io.image_to_tensor(u8), np.uint8), u8)
    u16 = np.arange(0, 65536, 7, dtype=np.uint16)[:9360].reshape(60, 52, 3)
    assert np.array_equal(io.tensor_to_image(io.image_to_tensor(u16), np.uint16), u16)
    t = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16).expand(2, 3, 16, 16)
    x, back = convert.to_unit_float(t)
    assert x.dtype == torch.float32 and float(x.max()) == 1.0 and torch.equal(back(x), t)


def test_uint16_to_uint8_halves_up():
    # 65535 / 257 = 255: level v maps to round(v / 257); no value is an exact tie
    levels = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    got = viz.to_uint8(levels)[..., 0].astype(int)
    assert np.array_equal(got, np.floor(levels / 257 + 0.5).astype(int))


def test_array_layouts_round_trip():
    for shape in [(5, 6), (5, 6, 3), (2, 5, 6, 4)]:
        a = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
        b = convert.array_to_batch(a)
        assert b.ndim == 4 and b.shape[-2:] == (5, 6)
        assert np.array_equal(convert.batch_to_array(b, a), a)
    with pytest.raises(ImageShapeError):
        convert.array_to_batch(np.zeros((1, 2, 3, 4, 5), np.uint8))


def test_old_names_are_the_convert_functions():
    assert io.image_to_tensor is convert.image_to_tensor
    assert io.tensor_to_image is convert.tensor_to_image
    assert viz.to_uint8 is convert.to_uint8
    assert viz._cv2 is io._cv2
    with pytest.raises(ValueError):  # ImageShapeError is a ValueError, as the bare error was
        viz.to_uint8(torch.rand(2, 3, 4, 4))

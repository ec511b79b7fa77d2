"""Pictures: grids, heat maps and curve plots (NumPy + OpenCV only)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dce_transforms.viz import alpha_heatmap, compare_grid, curve_plot, image_grid, sample_curve_points, to_uint8


def test_to_uint8_conversions():
    assert to_uint8(np.full((2, 3), 65535, np.uint16)).tolist() == [[[255] * 3] * 3] * 2
    assert to_uint8(np.full((1, 1, 3), 0.5, np.float32)).tolist() == [[[128] * 3]]
    assert to_uint8(torch.ones(1, 3, 2, 2)).shape == (2, 2, 3)
    assert to_uint8(np.zeros((2, 2, 4), np.uint8)).shape == (2, 2, 3)  # alpha dropped
    with pytest.raises(ValueError):
        to_uint8(torch.rand(2, 3, 4, 4))


def test_compare_grid_layout_and_labels():
    before = np.zeros((40, 60, 3), np.uint8)
    after = np.full((80, 120, 3), 200, np.uint8)  # different size: scaled to the common height
    g = compare_grid(before, after, gap=4, labels=None)
    assert g.shape == (40, 124, 3) and g.dtype == np.uint8
    assert (g[:, :60] == 0).all() and (g[:, 64:] == 200).all() and (g[:, 60:64] == 255).all()
    labelled = compare_grid(before, after, gap=4)
    assert not np.array_equal(labelled, g)  # captions drawn
    two = compare_grid([before, before], [after, after], gap=4)
    assert two.shape == (84, 124, 3)
    with pytest.raises(ValueError):
        compare_grid([before], [after, after])


def test_image_grid_columns_line_up():
    wide, tall = np.zeros((20, 40, 3), np.uint8), np.zeros((40, 20, 3), np.uint8)
    g = image_grid([[wide, wide], [tall, wide]], cell_height=20, gap=2)
    assert g.shape == (42, 82, 3)
    # the tall cell is 10 px wide at height 20, centred in its 40 px column
    assert (g[22:, 15:25] == 0).all() and (g[22:, :15] == 255).all() and (g[22:, 25:40] == 255).all()


def test_alpha_heatmap_tiles_and_colours():
    a = torch.zeros(24, 16, 20)
    assert alpha_heatmap(a, columns=4, colorbar=False).shape == (2 * 16 + 2, 4 * 20 + 3 * 2, 3)
    assert alpha_heatmap(a, per_iteration=False, colorbar=False).shape == (16, 20, 3)
    assert alpha_heatmap(torch.zeros(1, 3, 16, 20), colorbar=False).shape == (16, 20, 3)
    low = alpha_heatmap(torch.full((3, 16, 20), -1.0), colorbar=False)
    high = alpha_heatmap(torch.full((3, 16, 20), 1.0), colorbar=False)
    assert not np.array_equal(low[-1, -1], high[-1, -1])  # a corner away from the caption
    assert alpha_heatmap(a).shape[1] > 4 * 20 + 3 * 2  # colour bar appended
    with pytest.raises(ValueError):
        alpha_heatmap(torch.zeros(4, 8, 8))


def _curve_offset(img: np.ndarray, size: int) -> float:
    """Mean (output - input) of the first curve's pixels (palette colour 0, reddish) inside the plot area."""
    x0, y0 = 34, 10 + size
    area = img[10 : y0, x0 : x0 + size + 1].astype(int)
    red = (area[..., 0] > 180) & (area[..., 1] < 90) & (area[..., 2] < 130)
    ys, xs = np.nonzero(red)
    assert len(xs) > 50
    return float(np.mean((size - ys) / size - xs / size))


@pytest.mark.parametrize("alpha, sign", [(0.0, 0), (1.0, 1), (-1.0, -1)])
def test_curve_plot_draws_the_curve(alpha, sign):
    img = curve_plot(np.full((1, 24), alpha, np.float32), size=200)
    offset = _curve_offset(img, 200)
    if sign == 0:
        assert abs(offset) < 0.03
    else:
        assert offset * sign > 0.15


def test_curve_plot_shared_map_and_channels():
    shared = curve_plot(np.full((2, 3), 0.5), iterations=4, size=128, channels=True)
    assert shared.dtype == np.uint8 and shared.shape[1] == 128 + 44
    with pytest.raises(ValueError):
        curve_plot(np.zeros((2, 5)))


def test_sample_curve_points_follows_brightness():
    img = torch.linspace(0, 1, 100).reshape(1, 10, 10).expand(3, 10, 10)
    alpha = torch.linspace(0, 1, 100).reshape(1, 10, 10).expand(24, 10, 10)  # alpha = the pixel's brightness
    values, names = sample_curve_points(img, alpha, quantiles=(0.0, 0.5, 1.0))
    assert values.shape == (3, 24)
    assert values[:, 0].tolist() == pytest.approx([0.0, img.flatten()[50].item(), 1.0], abs=0.02)
    assert names[0].startswith("q0 ")

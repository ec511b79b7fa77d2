"""Pictures for people: before/after grids, curve-map heat maps and per-pixel curve plots.

Everything is drawn with NumPy and OpenCV (built-in Hershey fonts), so no plotting library
and no font file is needed. Every function returns an RGB ``HWC`` uint8 array that
:func:`dce_transforms.io.write_image` can write.

Images may be given as NumPy ``HWC`` arrays (uint8, uint16, or float in [0, 1]; grayscale
``HW`` too) or as tensors ``(3, H, W)`` / ``(1, 3, H, W)`` float in [0, 1]; :func:`to_uint8`
(from :mod:`dce_transforms.convert`, importable from here) converts them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from .convert import to_uint8
from .errors import ConfigError, ImageShapeError
from .io import _cv2

__all__ = ["to_uint8", "image_grid", "compare_grid", "alpha_heatmap", "curve_plot", "sample_curve_points"]

#: Colours (RGB) of successive curves in :func:`curve_plot`.
_PALETTE = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240),
            (240, 50, 230), (128, 128, 0)]


def _resize_to_height(img: np.ndarray, height: int) -> np.ndarray:
    h, w = img.shape[:2]
    if h == height:
        return img
    cv2 = _cv2()
    width = max(1, round(w * height / h))
    interp = cv2.INTER_AREA if height < h else cv2.INTER_LINEAR
    return cv2.resize(img, (width, height), interpolation=interp)


def _put_label(img: np.ndarray, text: str) -> None:
    """Write ``text`` in the top-left corner, white on a dark box, scaled to the image."""
    cv2 = _cv2()
    h, w = img.shape[:2]
    scale = max(0.35, min(1.0, h / 400))
    thick = 1 if scale < 0.7 else 2
    font = cv2.FONT_HERSHEY_SIMPLEX
    (tw, th), base = cv2.getTextSize(text, font, scale, thick)
    pad = max(2, round(4 * scale))
    x1, y1 = min(w, tw + 2 * pad), min(h, th + base + 2 * pad)
    img[:y1, :x1] = (img[:y1, :x1].astype(np.uint16) * 2 // 5).astype(np.uint8)
    cv2.putText(img, text, (pad, pad + th), font, scale, (255, 255, 255), thick, cv2.LINE_AA)


def image_grid(
    rows: Sequence[Sequence[np.ndarray | Tensor]],
    *,
    labels: Sequence[str] | None = None,
    cell_height: int | None = None,
    gap: int = 4,
    background: int = 255,
) -> np.ndarray:
    """Lay images out in rows; every image is scaled to a common height, aspect kept.

    Columns line up: a cell narrower than the widest cell of its column is centred in it.

    Args:
        rows: a sequence of rows, each a sequence of images (see :func:`to_uint8`).
        labels: one caption per column, written into the top-left corner of every cell of that column
            (``None`` for no captions; an empty string skips a column).
        cell_height: height of every cell in pixels (default: the smallest image height).
        gap: space between cells in pixels.
        background: grey level of the gaps.

    Returns:
        The grid as an ``(H, W, 3)`` uint8 array.

    Example:
        >>> a = np.zeros((40, 60, 3), np.uint8)
        >>> image_grid([[a, a], [a, a]], gap=2).shape
        (82, 122, 3)
    """
    if not rows or not all(len(r) for r in rows):
        raise ConfigError("image_grid needs at least one row, and every row at least one image.")
    cells = [[to_uint8(im) for im in row] for row in rows]
    height = int(cell_height) if cell_height else min(im.shape[0] for row in cells for im in row)
    if height < 1:
        raise ConfigError(f"cell_height must be positive, got {cell_height}.")
    scaled_rows = [[_resize_to_height(im, height).copy() for im in row] for row in cells]
    ncol = max(len(row) for row in scaled_rows)
    col_w = [max((row[c].shape[1] for row in scaled_rows if c < len(row)), default=0) for c in range(ncol)]
    lines = []
    for scaled in scaled_rows:
        if labels:
            for im, text in zip(scaled, labels):
                if text:
                    _put_label(im, text)
        parts: list[np.ndarray] = []
        for i, im in enumerate(scaled):
            if i:
                parts.append(np.full((height, gap, 3), background, np.uint8))
            pad = col_w[i] - im.shape[1]  # columns line up: narrower cells are centred in their column
            if pad:
                left = np.full((height, pad // 2, 3), background, np.uint8)
                right = np.full((height, pad - pad // 2, 3), background, np.uint8)
                im = np.concatenate([left, im, right], axis=1)
            parts.append(im)
        lines.append(np.concatenate(parts, axis=1))
    width = max(line.shape[1] for line in lines)
    out: list[np.ndarray] = []
    for i, line in enumerate(lines):
        if i:
            out.append(np.full((gap, width, 3), background, np.uint8))
        if line.shape[1] < width:
            line = np.concatenate([line, np.full((height, width - line.shape[1], 3), background, np.uint8)], axis=1)
        out.append(line)
    return np.concatenate(out, axis=0)


def compare_grid(
    before: np.ndarray | Tensor | Sequence[np.ndarray | Tensor],
    after: np.ndarray | Tensor | Sequence[np.ndarray | Tensor],
    *,
    labels: Sequence[str] | None = ("input", "enhanced"),
    cell_height: int | None = None,
    gap: int = 4,
) -> np.ndarray:
    """Side-by-side before/after picture: one row per image pair.

    Args:
        before: an image, or a sequence of images (one per row).
        after: the enhanced image(s), same count as ``before``.
        labels: captions of the two columns (``None`` for none).
        cell_height: height of each cell (default: the smallest input height).
        gap: space between cells in pixels.

    Returns:
        ``(H, W, 3)`` uint8 array.

    Example:
        >>> x = torch.rand(3, 32, 48)
        >>> compare_grid(x, x.sqrt(), gap=2).shape
        (32, 98, 3)
    """
    def as_list(v):
        if isinstance(v, (np.ndarray, Tensor)):
            return [v]
        return list(v)

    b, a = as_list(before), as_list(after)
    if len(b) != len(a):
        raise ConfigError(f"compare_grid needs as many 'after' images as 'before' images, got {len(b)} and {len(a)}.")
    return image_grid(list(zip(b, a)), labels=labels, cell_height=cell_height, gap=gap)


def _colorbar(height: int, width: int, vmin: float, vmax: float, colormap: int) -> np.ndarray:
    cv2 = _cv2()
    ramp = np.linspace(255, 0, height, dtype=np.float32).astype(np.uint8)[:, None].repeat(12, axis=1)
    bar = cv2.cvtColor(cv2.applyColorMap(ramp, colormap), cv2.COLOR_BGR2RGB)
    panel = np.full((height, width, 3), 255, np.uint8)
    panel[:, :12] = bar
    scale = 0.35
    for frac, val in ((0.0, vmax), (0.5, (vmin + vmax) / 2), (1.0, vmin)):
        y = round(frac * (height - 1))
        y_text = min(max(y + 4, 10), height - 2)
        cv2.putText(panel, f"{val:g}", (14, y_text), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return panel


def alpha_heatmap(
    alpha: np.ndarray | Tensor,
    *,
    per_iteration: bool = True,
    columns: int = 4,
    vmin: float = -1.0,
    vmax: float = 1.0,
    colormap: int | None = None,
    cell_height: int | None = None,
    colorbar: bool = True,
) -> np.ndarray:
    """Curve-parameter maps as colour heat maps.

    The RGB maps of each iteration are averaged, so Zero-DCE's 24-channel α gives 8 tiles
    ("it 1" … "it 8") and Zero-DCE++'s shared 3-channel α gives one. With
    ``per_iteration=False`` all maps are averaged into a single tile ("mean α").

    Args:
        alpha: ``(3·n, H, W)`` or ``(1, 3·n, H, W)`` tensor or array of curve parameters.
        per_iteration: one tile per iteration (True) or one averaged tile.
        columns: tiles per row.
        vmin, vmax: values mapped to the two ends of the colour map (α lies in [-1, 1]).
        colormap: an OpenCV colour map id (default ``cv2.COLORMAP_TURBO``).
        cell_height: height of each tile (default: the map's height, at most 256).
        colorbar: append a colour bar with the value scale.

    Returns:
        ``(H, W, 3)`` uint8 array.

    Example:
        >>> alpha_heatmap(torch.zeros(24, 20, 30), columns=4, colorbar=False).shape
        (42, 126, 3)
    """
    cv2 = _cv2()
    a = alpha.detach().float().cpu().numpy() if isinstance(alpha, Tensor) else np.asarray(alpha, np.float32)
    if a.ndim == 4:
        if a.shape[0] != 1:
            raise ImageShapeError(f"expected the curve maps of one image, got shape {a.shape}; index the batch first.")
        a = a[0]
    if a.ndim != 3 or a.shape[0] % 3:
        raise ImageShapeError(f"alpha must have shape (3·n, H, W), got {a.shape}.")
    n = a.shape[0] // 3
    maps = a.reshape(n, 3, *a.shape[1:]).mean(1)
    if per_iteration and n > 1:
        names = [f"it {i + 1}" for i in range(n)]
    else:
        maps, names = maps.mean(0, keepdims=True), ["mean alpha" if n > 1 else "alpha"]
    cmap = cv2.COLORMAP_TURBO if colormap is None else colormap
    span = max(vmax - vmin, 1e-12)
    tiles = []
    for m in maps:
        level = np.clip((m - vmin) / span * 255 + 0.5, 0, 255).astype(np.uint8)
        tiles.append(cv2.cvtColor(cv2.applyColorMap(level, cmap), cv2.COLOR_BGR2RGB))
    height = int(cell_height) if cell_height else min(tiles[0].shape[0], 256)
    cols = max(1, min(int(columns), len(tiles)))
    rows = [tiles[i : i + cols] for i in range(0, len(tiles), cols)]
    grid = image_grid(rows, cell_height=height, gap=2)
    # captions per tile, drawn after layout so every row is labelled in order
    tile_w = _resize_to_height(tiles[0], height).shape[1]
    for k, name in enumerate(names):
        r, c = divmod(k, cols)
        y0, x0 = r * (height + 2), c * (tile_w + 2)
        cell = grid[y0 : y0 + height, x0 : x0 + tile_w]
        _put_label(cell, name)
    if colorbar:
        bar = _colorbar(grid.shape[0], 44, vmin, vmax, cmap)
        grid = np.concatenate([grid, np.full((grid.shape[0], 2, 3), 255, np.uint8), bar], axis=1)
    return grid


def _curve_values(alpha_k: np.ndarray, x: np.ndarray, iterations: int | None) -> np.ndarray:
    """Apply the iterated curve with per-iteration parameters ``alpha_k`` (one channel) to ``x``."""
    steps = alpha_k if iterations is None else np.repeat(alpha_k[:1], iterations)
    y = x.copy()
    for a in steps:
        y = y + a * y * (1 - y)
    return y


def curve_plot(
    alpha_values: np.ndarray | Tensor | Sequence[Sequence[float]],
    iterations: int | None = None,
    *,
    size: int = 256,
    labels: Sequence[str] | None = None,
    channels: bool = False,
) -> np.ndarray:
    """Plot the tone curves (input intensity → output intensity) of a few pixels.

    Args:
        alpha_values: ``(P, 3·n)`` curve parameters of ``P`` sample pixels in the channel layout of
            the α maps (iteration-major: R, G, B of iteration 1, then iteration 2, …), or
            ``(P, 3)`` for a shared map (Zero-DCE++); a single pixel may be given as ``(3·n,)``.
        iterations: how often a shared ``(P, 3)`` map is applied (default 8); ignored otherwise.
        size: side of the square plot area in pixels.
        labels: one legend entry per pixel (default ``"pixel 1"``, …).
        channels: draw the R, G and B curves of every pixel (dashed G/B); default draws the curve of
            the RGB-mean parameters.

    Returns:
        ``(H, W, 3)`` uint8 array: axes, the identity diagonal in grey, one coloured polyline per pixel.

    Example:
        >>> curve_plot(np.zeros((2, 24))).shape
        (324, 300, 3)
    """
    cv2 = _cv2()
    if isinstance(alpha_values, Tensor):
        a = alpha_values.detach().float().cpu().numpy()
    else:
        a = np.asarray(alpha_values, np.float32)
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2 or a.shape[1] % 3:
        raise ImageShapeError(f"alpha_values must have shape (P, 3·n), got {a.shape}.")
    n = a.shape[1] // 3
    its = (8 if iterations is None else int(iterations)) if n == 1 else None
    per_ch = a.reshape(a.shape[0], n, 3)
    margin_l, margin_b, margin_t, margin_r = 34, 30, 10, 10
    legend_h = 14 * a.shape[0]
    hgt, wid = size + margin_t + margin_b + legend_h, size + margin_l + margin_r
    canvas = np.full((hgt, wid, 3), 255, np.uint8)
    x0, y0 = margin_l, margin_t + size  # origin in pixels

    def to_px(xv: np.ndarray, yv: np.ndarray) -> np.ndarray:
        pts = np.stack([x0 + xv * size, y0 - yv * size], axis=1)
        return np.round(pts).astype(np.int32).reshape(-1, 1, 2)

    font = cv2.FONT_HERSHEY_SIMPLEX
    for t in np.linspace(0, 1, 5):
        px, py = round(x0 + t * size), round(y0 - t * size)
        cv2.line(canvas, (px, margin_t), (px, y0), (235, 235, 235), 1)
        cv2.line(canvas, (x0, py), (x0 + size, py), (235, 235, 235), 1)
        cv2.putText(canvas, f"{t:g}", (px - 8, y0 + 14), font, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(canvas, f"{t:g}", (2, py + 4), font, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.rectangle(canvas, (x0, margin_t), (x0 + size, y0), (0, 0, 0), 1)
    cv2.putText(canvas, "input", (x0 + size // 2 - 16, y0 + 26), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    xs = np.linspace(0, 1, 129, dtype=np.float32)
    cv2.polylines(canvas, [to_px(xs, xs)], False, (160, 160, 160), 1, cv2.LINE_AA)
    for p in range(a.shape[0]):
        colour = _PALETTE[p % len(_PALETTE)]
        series = [per_ch[p, :, c] for c in range(3)] if channels else [per_ch[p].mean(1)]
        for c, alpha_k in enumerate(series):
            ys = np.clip(_curve_values(alpha_k, xs, its), 0, 1)
            pts = to_px(xs, ys)
            if c == 0:
                cv2.polylines(canvas, [pts], False, colour, 2, cv2.LINE_AA)
            else:  # dashed: every other segment
                for k in range(0, len(pts) - 1, 4 * c):
                    cv2.line(canvas, tuple(pts[k, 0]), tuple(pts[min(k + 2, len(pts) - 1), 0]), colour, 1, cv2.LINE_AA)
        name = labels[p] if labels is not None and p < len(labels) else f"pixel {p + 1}"
        ly = y0 + margin_b + 10 + 14 * p
        cv2.line(canvas, (x0, ly - 4), (x0 + 18, ly - 4), colour, 2)
        cv2.putText(canvas, name, (x0 + 24, ly), font, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


def sample_curve_points(
    image: Tensor, alpha: Tensor, *, quantiles: Sequence[float] = (0.1, 0.5, 0.9)
) -> tuple[np.ndarray, list[str]]:
    """Pick pixels at given brightness quantiles of ``image`` and return their α values and labels.

    Args:
        image: ``(3, H, W)`` input image in [0, 1].
        alpha: ``(3·n, H, W)`` curve maps of that image (same ``H, W``).
        quantiles: brightness quantiles (of the RGB mean) of the pixels to pick.

    Returns:
        ``(values, labels)``: ``(P, 3·n)`` array for :func:`curve_plot` and a label per pixel
        (``"q0.1 (in 0.04)"``: quantile and the pixel's input brightness).

    Example:
        >>> vals, names = sample_curve_points(torch.rand(3, 8, 8), torch.zeros(24, 8, 8))
        >>> vals.shape, len(names)
        ((3, 24), 3)
    """
    if image.ndim != 3 or alpha.ndim != 3 or image.shape[-2:] != alpha.shape[-2:]:
        raise ImageShapeError(
            f"expected image (3, H, W) and alpha (3·n, H, W) of the same size, got {tuple(image.shape)} and "
            f"{tuple(alpha.shape)}."
        )
    lum = image.detach().float().mean(0).flatten().cpu()
    order = torch.argsort(lum)
    flat = alpha.detach().float().flatten(1).cpu()
    values, names = [], []
    for q in quantiles:
        idx = order[min(len(order) - 1, max(0, round(q * (len(order) - 1))))]
        values.append(flat[:, idx].numpy())
        names.append(f"q{q:g} (in {float(lum[idx]):.2f})")
    return np.stack(values), names

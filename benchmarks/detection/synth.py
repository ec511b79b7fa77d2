"""Synthetic detection dataset: procedural objects composited on crops of real photos, exact boxes.

Each class is a shape with its own colour or texture (sizes, aspect, rotation, brightness and hue
jittered per instance), drawn as a hard mask onto a random crop of a real, well-exposed background
photo. Boxes are the tight bounds of the visible mask pixels after compositing, so they are exact;
instances that end up less than half visible (occluded by a later one) are dropped from the labels
and their pixels stay in the image (a realistic distractor).

Written in YOLO format: ``images/{train,val}/*.jpg``, ``labels/{train,val}/*.txt`` and ``data.yaml``.
Everything derives from one seed: the same seed, sizes and backgrounds give the same files.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

__all__ = ["CLASSES", "generate"]


# -- object renderers: (rng, h, w) -> (mask uint8 {0,1}, texture HxWx3 uint8 BGR) ----------------------
def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    px = np.uint8([[[int(h) % 180, int(np.clip(s, 0, 255)), int(np.clip(v, 0, 255))]]])
    b, g, r = cv2.cvtColor(px, cv2.COLOR_HSV2BGR)[0, 0]
    return int(b), int(g), int(r)


def _solid(rng: np.random.Generator, h: int, w: int, hue: float) -> np.ndarray:
    color = _hsv(hue + rng.uniform(-6, 6), rng.uniform(180, 255), rng.uniform(170, 255))
    tex = np.empty((h, w, 3), np.uint8)
    tex[:] = color
    noise = rng.normal(0, 6, (h, w, 1))
    return np.clip(tex + noise, 0, 255).astype(np.uint8)


def _disc(rng, h, w):
    mask = np.zeros((h, w), np.uint8)
    cv2.ellipse(mask, (w // 2, h // 2), (max(1, w // 2 - 1), max(1, h // 2 - 1)), 0, 0, 360, 1, -1)
    return mask, _solid(rng, h, w, hue=0)  # red


def _triangle(rng, h, w):
    mask = np.zeros((h, w), np.uint8)
    apex = int(rng.uniform(0.2, 0.8) * w)
    cv2.fillPoly(mask, [np.array([[apex, 0], [w - 1, h - 1], [0, h - 1]], np.int32)], 1)
    return mask, _solid(rng, h, w, hue=60)  # green


def _striped_box(rng, h, w):
    mask = np.ones((h, w), np.uint8)
    period = max(2, int(min(h, w) * rng.uniform(0.15, 0.3)))
    angle = rng.uniform(0, math.pi)
    yy, xx = np.mgrid[0:h, 0:w]
    phase = (xx * math.cos(angle) + yy * math.sin(angle)) // (period / 2)
    a, b = _hsv(115 + rng.uniform(-5, 5), 230, 230), _hsv(28 + rng.uniform(-4, 4), 230, 250)  # blue / yellow
    tex = np.where((phase % 2 == 0)[..., None], np.uint8(a), np.uint8(b)).astype(np.uint8)
    return mask, tex


def _checker(rng, h, w):
    mask = np.ones((h, w), np.uint8)
    cell = max(2, int(min(h, w) * rng.uniform(0.12, 0.25)))
    yy, xx = np.mgrid[0:h, 0:w]
    on = ((yy // cell + xx // cell) % 2 == 0)[..., None]
    lo, hi = rng.uniform(0, 40), rng.uniform(215, 255)
    tex = np.where(on, np.uint8([hi, hi, hi]), np.uint8([lo, lo, lo])).astype(np.uint8)
    return mask, tex


def _ring(rng, h, w):
    mask = np.zeros((h, w), np.uint8)
    thick = max(1, int(min(h, w) * rng.uniform(0.12, 0.2)))
    cv2.ellipse(mask, (w // 2, h // 2), (max(1, w // 2 - 1 - thick // 2), max(1, h // 2 - 1 - thick // 2)),
                0, 0, 360, 1, thick)
    return mask, _solid(rng, h, w, hue=15)  # orange


def _cross(rng, h, w):
    mask = np.zeros((h, w), np.uint8)
    t = rng.uniform(0.25, 0.4)
    mask[int(h * (0.5 - t / 2)) : int(h * (0.5 + t / 2)) + 1, :] = 1
    mask[:, int(w * (0.5 - t / 2)) : int(w * (0.5 + t / 2)) + 1] = 1
    return mask, _solid(rng, h, w, hue=150)  # magenta


@dataclass(frozen=True)
class ObjectClass:
    name: str
    render: Callable[[np.random.Generator, int, int], tuple[np.ndarray, np.ndarray]]
    aspect: tuple[float, float]  # (low, high) width / height


CLASSES = [
    ObjectClass("red_disc", _disc, (0.8, 1.25)),
    ObjectClass("green_triangle", _triangle, (0.8, 1.4)),
    ObjectClass("striped_box", _striped_box, (0.5, 2.0)),
    ObjectClass("checker_patch", _checker, (0.7, 1.4)),
    ObjectClass("orange_ring", _ring, (0.8, 1.25)),
    ObjectClass("magenta_cross", _cross, (0.8, 1.25)),
]


def _background(rng: np.random.Generator, files: list[Path], size: int, min_brightness: float) -> np.ndarray:
    for _ in range(20):
        img = cv2.imread(str(files[rng.integers(len(files))]), cv2.IMREAD_COLOR)
        if img is None or img.mean() / 255 < min_brightness:
            continue  # keep well-exposed scenes: the benchmark darkens them itself
        h, w = img.shape[:2]
        side = int(rng.uniform(0.35, 1.0) * min(h, w))
        y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        crop = img[y : y + side, x : x + side]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    raise RuntimeError("no readable, well-exposed background among 20 draws; check the background folder.")


def _rotate(mask: np.ndarray, tex: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    h, w = mask.shape
    side = math.ceil(math.hypot(h, w))
    big_m = np.zeros((side, side), np.uint8)
    big_t = np.zeros((side, side, 3), np.uint8)
    oy, ox = (side - h) // 2, (side - w) // 2
    big_m[oy : oy + h, ox : ox + w], big_t[oy : oy + h, ox : ox + w] = mask, tex
    rot = cv2.getRotationMatrix2D((side / 2, side / 2), angle, 1.0)
    m = cv2.warpAffine(big_m, rot, (side, side), flags=cv2.INTER_NEAREST)
    t = cv2.warpAffine(big_t, rot, (side, side), flags=cv2.INTER_LINEAR)
    ys, xs = np.nonzero(m)
    if len(ys) == 0:
        return mask, tex
    return m[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1], t[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _compose(rng: np.random.Generator, bg: np.ndarray, n_classes: int, max_objects: int,
             size_range: tuple[float, float]) -> tuple[np.ndarray, list[tuple[int, float, float, float, float]]]:
    img = bg.copy()
    s = img.shape[0]
    owner = np.full((s, s), -1, np.int32)  # which instance owns each pixel (later instances occlude)
    placed: list[tuple[int, int]] = []  # (class, full pixel count)
    for _ in range(int(rng.integers(1, max_objects + 1))):
        cls = int(rng.integers(n_classes))
        spec = CLASSES[cls]
        side = rng.uniform(*size_range) * s
        aspect = rng.uniform(*spec.aspect)
        h = max(6, int(side / math.sqrt(aspect)))
        w = max(6, int(side * math.sqrt(aspect)))
        mask, tex = spec.render(rng, h, w)
        if spec.name not in ("red_disc", "orange_ring"):
            mask, tex = _rotate(mask, tex, rng.uniform(-30, 30))
        gain = rng.uniform(0.75, 1.1)  # per-instance brightness
        tex = np.clip(tex.astype(np.float32) * gain, 0, 255).astype(np.uint8)
        h, w = mask.shape
        if h >= s or w >= s:
            continue
        y, x = int(rng.integers(0, s - h)), int(rng.integers(0, s - w))
        region = mask.astype(bool)
        img[y : y + h, x : x + w][region] = tex[region]
        owner[y : y + h, x : x + w][region] = len(placed)
        placed.append((cls, int(region.sum())))
    labels = []
    for idx, (cls, full) in enumerate(placed):
        ys, xs = np.nonzero(owner == idx)
        if len(ys) < 0.5 * full or len(ys) < 12:
            continue  # mostly hidden: unlabeled distractor
        x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
        labels.append((cls, (x0 + x1) / 2 / s, (y0 + y1) / 2 / s, (x1 - x0) / s, (y1 - y0) / s))
    return img, labels


def generate(
    out: Path,
    backgrounds: Path,
    *,
    n_train: int,
    n_val: int,
    n_select: int = 0,
    size: int,
    n_classes: int = 4,
    max_objects: int = 4,
    size_range: tuple[float, float] = (0.12, 0.35),
    seed: int = 0,
    min_brightness: float = 0.3,
) -> Path:
    """Write the dataset and return its data YAML. Train, val and select use disjoint background photos.

    ``n_select > 0`` adds a third split, ``images/select`` (the YAML's ``test`` key), drawn from its own
    fifth of the photos: the benchmark chooses recipes on it and reports on ``val``. With
    ``n_select=0`` the files are exactly those of earlier versions (same seed, same images).
    """
    if not 1 <= n_classes <= len(CLASSES):
        raise ValueError(f"n_classes must be in 1..{len(CLASSES)}, got {n_classes}.")
    files = sorted(p for p in Path(backgrounds).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if len(files) < 10:
        raise FileNotFoundError(f"need at least 10 background photos under {backgrounds}, found {len(files)}.")
    order = np.random.default_rng(seed).permutation(len(files))
    cut = max(1, len(files) // 5)
    if n_select > 0:
        pools = {"val": [files[i] for i in order[:cut]], "select": [files[i] for i in order[cut : 2 * cut]],
                 "train": [files[i] for i in order[2 * cut :]]}
    else:
        pools = {"val": [files[i] for i in order[:cut]], "train": [files[i] for i in order[cut:]]}
    streams = {"train": 0, "val": 1, "select": 2}
    for split, n in (("train", n_train), ("val", n_val), ("select", n_select)):
        if n <= 0 and split == "select":
            continue
        rng = np.random.default_rng([seed, streams[split]])
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            bg = _background(rng, pools[split], size, min_brightness)
            img, labels = _compose(rng, bg, n_classes, max_objects, size_range)
            cv2.imwrite(str(out / "images" / split / f"{i:05d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
            (out / "labels" / split / f"{i:05d}.txt").write_text(
                "".join(f"{c} {x:.6f} {y:.6f} {w:.6f} {h:.6f}\n" for c, x, y, w, h in labels)
            )
    yaml = out / "data.yaml"
    names = "".join(f"  {i}: {CLASSES[i].name}\n" for i in range(n_classes))
    test = "test: images/select\n" if n_select > 0 else ""
    yaml.write_text(f"path: {out.resolve()}\ntrain: images/train\nval: images/val\n{test}names:\n{names}")
    return yaml


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="Generate the synthetic detection dataset alone.")
    ap.add_argument("out", type=Path)
    ap.add_argument("--backgrounds", type=Path, default=Path(__file__).resolve().parents[3] / "shared/data/train/sice")
    ap.add_argument("--n-train", type=int, default=300)
    ap.add_argument("--n-val", type=int, default=100)
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--n-select", type=int, default=0, help="images of the recipe-selection split (0: none)")
    ap.add_argument("--classes", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    print(generate(a.out, a.backgrounds, n_train=a.n_train, n_val=a.n_val, n_select=a.n_select, size=a.size, n_classes=a.classes, seed=a.seed))

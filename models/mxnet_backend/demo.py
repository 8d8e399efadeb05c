"""The demo image dataset, made offline: grey 28×28 images of four filled shapes (circle, square,
triangle, cross) at random positions, sizes and brightness over a noisy background. numpy only,
deterministic for a seed."""

from __future__ import annotations

import numpy as np

from models.mxnet_backend.images import ImageDataset

DEMO_IMAGE_DATASET = "demo_shapes_28"
DEMO_CLASSES = ("circle", "square", "triangle", "cross")
DEMO_SIZE = 28


def _mask(shape: str, cx: float, cy: float, r: float, size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    dx, dy = np.abs(xx - cx), np.abs(yy - cy)
    if shape == "circle":
        return dx**2 + dy**2 <= r**2
    if shape == "square":
        return (dx <= 0.8 * r) & (dy <= 0.8 * r)
    if shape == "triangle":
        rows = yy - (cy - r)
        return (rows >= 0) & (yy <= cy + r) & (dx <= rows / 2)
    if shape == "cross":
        return ((dx <= 1.5) & (dy <= r)) | ((dy <= 1.5) & (dx <= r))
    raise ValueError(f"unknown shape {shape!r}")


def _draw(shape: str, rng: np.random.Generator, size: int) -> np.ndarray:
    r = rng.uniform(5.0, 8.5)
    cx, cy = rng.uniform(r, size - 1 - r, size=2)
    image = rng.uniform(0, 50, size=(size, size))
    image[_mask(shape, cx, cy, r, size)] = rng.uniform(150, 255)
    return image.astype(np.uint8)[:, :, None]


def make_demo_images(per_class: int = 150, seed: int = 0, size: int = DEMO_SIZE) -> ImageDataset:
    """``per_class`` images of each of DEMO_CLASSES, shuffled; N×size×size×1 uint8.

    Raises ValueError when ``per_class`` < 1 or ``size`` < 20.
    """
    if per_class < 1 or size < 20:
        raise ValueError("per_class must be ≥ 1 and size ≥ 20")
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(DEMO_CLASSES), dtype=np.int64), per_class)
    rng.shuffle(labels)
    images = np.stack([_draw(DEMO_CLASSES[k], rng, size) for k in labels])
    return ImageDataset(images, labels, DEMO_CLASSES)

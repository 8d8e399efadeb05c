"""The demo detection dataset, made offline: 64×64 colour images holding 0 to 3 filled shapes
(circle, square, triangle) of random colour, size and place over a noisy background, with their
exact boxes (each box is its shape's pixel extent). Shapes never overlap; about one image in ten
is empty. numpy only (the API's process registers it), deterministic for a seed."""

from __future__ import annotations

import numpy as np

from models.mxnet_backend.demo import _mask
from models.mxnet_backend.detection_data import DetectionDataset, check_detection_dataset

DEMO_DETECTION_DATASET = "demo_detection_shapes_64"
DEMO_DETECTION_CLASSES = ("circle", "square", "triangle")
DEMO_DETECTION_SIZE = 64
MAX_SHAPES = 3


def _extent(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Pixel edges (xmin, ymin, xmax, ymax) of the mask's set pixels."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _overlaps(box, taken) -> bool:
    return any(box[0] < t[2] + 1 and t[0] < box[2] + 1 and box[1] < t[3] + 1 and t[1] < box[3] + 1 for t in taken)


def _draw_image(rng: np.random.Generator, size: int) -> tuple[np.ndarray, list[list[float]]]:
    image = rng.uniform(0, 60, size=(size, size, 3))
    boxes, taken = [], []
    wanted = 0 if rng.random() < 0.1 else int(rng.integers(1, MAX_SHAPES + 1))
    for _ in range(wanted * 20):  # rejection sampling: a shape that would overlap is redrawn
        if len(boxes) == wanted:
            break
        cls = int(rng.integers(len(DEMO_DETECTION_CLASSES)))
        r = rng.uniform(5.0, 14.0)
        cx, cy = rng.uniform(r, size - 1 - r, size=2)
        mask = _mask(DEMO_DETECTION_CLASSES[cls], cx, cy, r, size)
        box = _extent(mask)
        if _overlaps(box, taken):
            continue
        taken.append(box)
        image[mask] = rng.uniform(120, 255, size=3)
        boxes.append([cls, *(v / size for v in box), 0.0])
    return image.astype(np.uint8), boxes


def make_demo_detection(n_images: int = 300, seed: int = 0, size: int = DEMO_DETECTION_SIZE) -> DetectionDataset:
    """``n_images`` images (N×size×size×3 uint8) and their boxes (see the module doc).

    Raises ValueError when ``n_images`` < 1 or ``size`` < 32.
    """
    if n_images < 1 or size < 32:
        raise ValueError("n_images must be ≥ 1 and size ≥ 32")
    rng = np.random.default_rng(seed)
    images, rows = [], []
    for index in range(n_images):
        image, boxes = _draw_image(rng, size)
        images.append(image)
        rows += [[index, *b] for b in boxes]
    ds = DetectionDataset(
        images=np.stack(images), objects=np.asarray(rows, dtype=np.float32).reshape(-1, 7),
        class_names=DEMO_DETECTION_CLASSES, image_ids=tuple(f"demo {i}" for i in range(n_images)),
        original_sizes=np.full((n_images, 2), size, dtype=np.int64))
    check_detection_dataset(ds)
    return ds

"""Fixed detection data for checking mAP against the libraries that define it."""

from __future__ import annotations

import numpy as np

from models.detection_map import ImageDetections, ImageTruth

N_CLASSES = 3
SIZE = 100.0


def _box(rng, n):
    xy = rng.uniform(0, 70, (n, 2))
    wh = rng.uniform(8, 30, (n, 2))
    return np.concatenate([xy, np.minimum(xy + wh, SIZE)], axis=1)


def cases(seed: int = 7, n_images: int = 40, with_difficult: bool = False):
    """(truths, detections): jittered true boxes with scores, some wrong classes, some spurious
    boxes, some images with no box, distinct scores."""
    rng = np.random.default_rng(seed)
    truths, dets = [], []
    for i in range(n_images):
        k = 0 if i % 9 == 0 else int(rng.integers(1, 5))
        boxes, labels = _box(rng, k), rng.integers(0, N_CLASSES, k)
        difficult = (rng.random(k) < 0.15) if with_difficult else np.zeros(k, bool)
        jittered = boxes + rng.normal(0, 3, boxes.shape)
        found = np.concatenate([np.minimum(jittered[:, :2], jittered[:, 2:]),
                                np.maximum(jittered[:, :2], jittered[:, 2:])], axis=1)
        keep = rng.random(k) < 0.8
        wrong = np.where(rng.random(k) < 0.1, (labels + 1) % N_CLASSES, labels)
        extra = int(rng.integers(0, 3))
        det_boxes = np.concatenate([found[keep], _box(rng, extra)])
        det_labels = np.concatenate([wrong[keep], rng.integers(0, N_CLASSES, extra)])
        truths.append(ImageTruth(boxes, labels, difficult))
        dets.append(ImageDetections(det_boxes, det_labels, rng.random(det_labels.size)))
    return truths, dets

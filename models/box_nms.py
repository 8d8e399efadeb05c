"""Non-maximum suppression as MXNet's ``contrib.box_nms`` does it, in numpy, for a detector served
through ONNX (mx2onnx turns ``box_nms`` into ONNX ``NonMaxSuppression``, which suppresses across
classes and reads ``topk`` per class: not what GluonCV's SSD asks for).

The rules, MXNet 1.9's with GluonCV's SSD settings (``id_index=0, score_index=1,
coord_start=2``, corners, ``force_suppress=False``): rows whose score is above ``valid_thresh``
are candidates; the ``topk`` highest (a stable sort: ties keep the rows' order) are visited best
first, and each kept row suppresses every later row of its class whose IoU with it is above
``overlap_thresh`` (IoU of corner boxes, an inverted box's area 0, in float32); the kept rows
come out best first, then the first ``post_nms``. numpy only: the serving role and the MXNet
worker's export verification both use it (``tests/mxnet/test_detector_export.py`` holds it to
MXNet's operator).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class NmsSettings:
    """GluonCV's SSD defaults (``SSD.set_nms``, its ``box_nms`` call)."""

    overlap_thresh: float = 0.45
    topk: int = 400
    valid_thresh: float = 0.01  # a literal in GluonCV's ssd.py (its class decoder's and box_nms's)
    post_nms: int = 100

    def public(self) -> dict:
        return {"overlap_thresh": self.overlap_thresh, "topk": self.topk, "valid_thresh": self.valid_thresh,
                "post_nms": self.post_nms, "force_suppress": False}


def box_nms(candidates: np.ndarray, settings: NmsSettings = NmsSettings()) -> np.ndarray:
    """The kept rows of one image's (M, 6) float32 ``[class id, score, xmin, ymin, xmax, ymax]``
    candidates, best first (at most ``post_nms``)."""
    rows = np.asarray(candidates, dtype=np.float32)
    rows = rows[rows[:, 1] > np.float32(settings.valid_thresh)]
    order = np.argsort(-rows[:, 1], kind="stable")
    if settings.topk >= 0:
        order = order[:settings.topk]
    rows = rows[order]
    suppresses = _overlaps(rows[:, 2:6]) > np.float32(settings.overlap_thresh)
    suppresses &= rows[:, None, 0].astype(np.int64) == rows[None, :, 0].astype(np.int64)
    keep = np.ones(len(rows), dtype=bool)
    for i in range(len(rows)):
        if keep[i]:
            keep[i + 1:] &= ~suppresses[i, i + 1:]
    kept = rows[keep]
    return kept if settings.post_nms < 0 else kept[:settings.post_nms]


def _overlaps(boxes: np.ndarray) -> np.ndarray:
    """(K, K) float32 IoU of corner boxes (NaN where both areas are 0: never above a threshold)."""
    x1, y1, x2, y2 = (boxes[:, k] for k in range(4))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # a diverged net's huge boxes
        w, h = x2 - x1, y2 - y1
        areas = np.where((w < 0) | (h < 0), np.float32(0), w * h)
        iw = np.minimum(x2[:, None], x2[None, :]) - np.maximum(x1[:, None], x1[None, :])
        ih = np.minimum(y2[:, None], y2[None, :]) - np.maximum(y1[:, None], y1[None, :])
        inter = np.maximum(iw, np.float32(0)) * np.maximum(ih, np.float32(0))
        return inter / (areas[:, None] + areas[None, :] - inter)


@dataclass(frozen=True)
class Detections:
    """One image's detections: (d, 4) float32 corners in its pixels, (d,) class ids, (d,) scores."""

    boxes: np.ndarray
    classes: np.ndarray
    scores: np.ndarray


def in_image_pixels(kept: np.ndarray, input_hw: tuple[int, int], image_hw: tuple[int, int]) -> Detections:
    """``box_nms``'s rows (corners in the detector's input pixels) as corners in the pixels of
    the image that was resized to that input, clipped to it (as the engine's ``detect`` does; a
    diverged net's NaN corner becomes 0, its infinite one the image's edge)."""
    (h_in, w_in), (h, w) = input_hw, image_hw
    scale = np.array([w_in, h_in, w_in, h_in], np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        corners = np.clip(np.nan_to_num(kept[:, 2:6] / scale), 0, 1) * np.array([w, h, w, h], np.float32)
    return Detections(corners.astype(np.float32), kept[:, 0].astype(np.int64), kept[:, 1].astype(np.float32))
